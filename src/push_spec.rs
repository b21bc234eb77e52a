//! Push targets as the operator writes them: `--push NAME=URL` on the command line, and (once
//! the config file exists) `[[push]]` tables with `stream`, `url`, and optional `ca_file`
//! and `sni`. NAME is a local stream's public name (or `APP/NAME` for another app), never
//! its publish key.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::key_spec::check_name;
use crate::upstream_url::UpstreamUrl;

/// One push: which local stream goes to which upstream, and how its TLS is checked.
#[derive(Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// The local stream: its public name, or `APP/NAME`.
    pub stream: String,
    /// The upstream.
    pub url: UpstreamUrl,
    /// PEM CA certificates trusted for this upstream, besides the system's and `--push-ca-file`.
    pub ca_file: Option<PathBuf>,
    /// The name sent as SNI and checked in the certificate, instead of the URL's host.
    pub sni: Option<String>,
}

impl PushTarget {
    /// The hub name of the pushed stream: `APP/NAME`, with `default_app` when none is given.
    pub fn hub_name(&self, default_app: &str) -> String {
        if self.stream.contains('/') {
            self.stream.clone()
        } else {
            format!("{default_app}/{}", self.stream)
        }
    }

    /// The stream's public name, without its app.
    pub fn stream_name(&self) -> &str {
        self.stream.rsplit('/').next().unwrap_or(&self.stream)
    }
}

impl fmt::Debug for PushTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushTarget")
            .field("stream", &self.stream)
            .field("url", &self.url)
            .field("ca_file", &self.ca_file)
            .field("sni", &self.sni)
            .finish()
    }
}

/// Checks a push's local stream: `NAME` or `APP/NAME`, each a valid name.
pub fn check_stream(stream: &str) -> Result<(), String> {
    match stream.split_once('/') {
        Some((app, name)) => {
            check_name(app).map_err(|e| format!("push stream app: {e}"))?;
            check_name(name).map_err(|e| format!("push stream: {e}"))
        }
        None => check_name(stream).map_err(|e| format!("push stream: {e}")),
    }
}

impl FromStr for PushTarget {
    type Err = String;

    /// `NAME=URL`, as `--push` takes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (stream, url) = s
            .split_once('=')
            .ok_or("--push takes NAME=URL (NAME: the local stream's name)")?;
        check_stream(stream)?;
        let url = UpstreamUrl::parse(url).map_err(|e| format!("--push {stream}: {e}"))?;
        Ok(PushTarget {
            stream: stream.to_string(),
            url,
            ca_file: None,
            sni: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_equals_url_names_the_local_stream_and_its_hub_name() {
        let push: PushTarget = "cam1=rtmps://a.rtmps.youtube.com/live2/secret-key"
            .parse()
            .unwrap();
        assert_eq!(push.stream, "cam1");
        assert_eq!(push.hub_name("live"), "live/cam1");
        assert_eq!(push.stream_name(), "cam1");
        let other: PushTarget = "studio/cam1=rtmp://h/app/k".parse().unwrap();
        assert_eq!(other.hub_name("live"), "studio/cam1");
        assert_eq!(other.stream_name(), "cam1");
        assert!(!format!("{push:?}").contains("secret-key"));
    }

    #[test]
    fn bad_pushes_are_refused_without_quoting_the_key() {
        for bad in [
            "rtmps://h/app/secret-key",
            "=rtmps://h/app/secret-key",
            "c m=rtmps://h/app/secret-key",
            "a/b/c=rtmps://h/app/secret-key",
            "cam=rtmps://h/secret-key",
        ] {
            let err = bad.parse::<PushTarget>().expect_err(bad);
            assert!(!err.contains("secret-key"), "{err}");
        }
    }
}
