//! Upstream URLs for pushes: `rtmps://host[:port]/app/key` (or `rtmp://` where the operator
//! writes it), split into what `connect` and `publish` need, and shown redacted.
//!
//! Everything after the last `/` is the upstream's stream key (with any `?query`, as
//! Facebook's older keys carry), a secret like a local publish key: it is never quoted in an
//! error, a log line or debug output. `redacted()` is the form operators see. The
//! application is everything between the host and the last `/`, so the URL splits the way
//! OBS's "Server" and "Stream Key" fields join: multi-level apps
//! (`rtmp://host/app/instance/key`) and YouTube's backup ingest
//! (`rtmps://b.rtmps.youtube.com:443/live2?backup=1/key`) keep their app whole.

use std::fmt;
use std::net::IpAddr;

use crate::rtmp::client_session::{MAX_APP_LEN, MAX_STREAM_NAME_LEN};

/// Port of `rtmps://` when none is written (YouTube and Facebook use it).
pub const RTMPS_DEFAULT_PORT: u16 = 443;
/// Port of `rtmp://` when none is written.
pub const RTMP_DEFAULT_PORT: u16 = 1935;
/// Longest host name accepted (DNS's limit).
pub const MAX_HOST_LEN: usize = 253;

/// A parsed upstream URL.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    /// `rtmps` (true) or `rtmp`.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// The port to connect to.
    pub port: u16,
    /// Whether the port was written in the URL (then `tcUrl` carries it too).
    pub port_written: bool,
    /// The application: the path between the host and the last `/`.
    pub app: String,
    /// The stream key: the last path segment, with any `?query`. Never logged.
    pub key: String,
}

impl UpstreamUrl {
    /// Parses `url`; errors say what is wrong without quoting the key.
    pub fn parse(url: &str) -> Result<UpstreamUrl, String> {
        let (tls, rest) = if let Some(rest) = strip_scheme(url, "rtmps://") {
            (true, rest)
        } else if let Some(rest) = strip_scheme(url, "rtmp://") {
            (false, rest)
        } else {
            return Err("push URLs start with rtmps:// (or rtmp://)".into());
        };
        if let Some(bad) = url.chars().find(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "push URL has a space or control character ({:?}); escape it as %XX",
                bad.escape_default().to_string()
            ));
        }
        let (authority, path) = rest
            .split_once('/')
            .ok_or("push URL has no /app/key after the host")?;
        if authority.contains('@') {
            return Err("push URL has user:password@; rtmpsd does not send those".into());
        }
        let (host, port) = split_host_port(authority)?;
        let (port, port_written) = match port {
            Some(p) => (p, true),
            None if tls => (RTMPS_DEFAULT_PORT, false),
            None => (RTMP_DEFAULT_PORT, false),
        };
        // The key is everything after the last `/`, as OBS appends its Stream Key to its
        // Server (YouTube's backup ingest is `.../live2?backup=1` + `/KEY`).
        let (app, key) = match path.rfind('/') {
            Some(slash) => (
                path.get(..slash).unwrap_or_default(),
                path.get(slash + 1..).unwrap_or_default(),
            ),
            None => return Err("push URL needs /app/key: the path has one part".into()),
        };
        if app.is_empty() || app.split('/').any(str::is_empty) {
            return Err("push URL has an empty application (//)".into());
        }
        if key.is_empty() || key.starts_with('?') {
            return Err("push URL ends without a stream key".into());
        }
        if app.len() > MAX_APP_LEN {
            return Err(format!(
                "push URL application of {} bytes is over {MAX_APP_LEN}",
                app.len()
            ));
        }
        if key.len() > MAX_STREAM_NAME_LEN {
            return Err(format!(
                "push URL stream key of {} bytes is over {MAX_STREAM_NAME_LEN}",
                key.len()
            ));
        }
        Ok(UpstreamUrl {
            tls,
            host: host.to_string(),
            port,
            port_written,
            app: app.to_string(),
            key: key.to_string(),
        })
    }

    /// The host as written in a URL (IPv6 in brackets), with the port if it was written.
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port_written {
            format!("{host}:{}", self.port)
        } else {
            host
        }
    }

    fn scheme(&self) -> &'static str {
        if self.tls { "rtmps" } else { "rtmp" }
    }

    /// `connect`'s `tcUrl`: scheme, host, port as written, and app; no key.
    pub fn tc_url(&self) -> String {
        format!("{}://{}/{}", self.scheme(), self.authority(), self.app)
    }

    /// The URL as operators see it, in logs and on the status page: the key redacted.
    pub fn redacted(&self) -> String {
        format!("{}/(key redacted)", self.tc_url())
    }

    /// The host as an IP address, when it is one (then TLS sends no SNI).
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

impl fmt::Debug for UpstreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key, even in debug output.
        write!(f, "UpstreamUrl({})", self.redacted())
    }
}

/// `url` without `scheme`, which is matched ignoring case.
fn strip_scheme<'a>(url: &'a str, scheme: &str) -> Option<&'a str> {
    let head = url.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| url.get(scheme.len()..))
        .flatten()
}

/// `host[:port]` or `[v6][:port]`.
fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or("push URL has an unclosed [ in its host")?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("push URL has no IPv6 address inside [ ]".into());
        }
        match after {
            "" => (host, None),
            _ => (
                host,
                Some(after.strip_prefix(':').ok_or("push URL has junk after ]")?),
            ),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("push URL has no host".into());
    }
    if host.len() > MAX_HOST_LEN {
        return Err(format!("push URL host is over {MAX_HOST_LEN} bytes"));
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err("push URL port must be a number in 1..=65535".into()),
        },
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "abcd-efgh-ijkl-mnop";

    #[test]
    fn youtube_and_facebook_urls_split_into_app_and_key() {
        let yt =
            UpstreamUrl::parse(&format!("rtmps://a.rtmps.youtube.com:443/live2/{SECRET}")).unwrap();
        assert!(yt.tls);
        assert_eq!((yt.host.as_str(), yt.port), ("a.rtmps.youtube.com", 443));
        assert_eq!((yt.app.as_str(), yt.key.as_str()), ("live2", SECRET));
        assert_eq!(yt.tc_url(), "rtmps://a.rtmps.youtube.com:443/live2");
        let fb = UpstreamUrl::parse(&format!(
            "rtmps://live-api-s.facebook.com/rtmp/FB-1-0-{SECRET}?s_bl=1&a=xy"
        ))
        .unwrap();
        assert_eq!((fb.port, fb.port_written), (443, false));
        assert_eq!(fb.app, "rtmp");
        assert_eq!(fb.key, format!("FB-1-0-{SECRET}?s_bl=1&a=xy"));
        assert_eq!(fb.tc_url(), "rtmps://live-api-s.facebook.com/rtmp");
        let backup = UpstreamUrl::parse(&format!(
            "rtmps://b.rtmps.youtube.com:443/live2?backup=1/{SECRET}"
        ))
        .unwrap();
        assert_eq!(
            (backup.app.as_str(), backup.key.as_str()),
            ("live2?backup=1", SECRET)
        );
        assert_eq!(
            backup.tc_url(),
            "rtmps://b.rtmps.youtube.com:443/live2?backup=1"
        );
    }

    #[test]
    fn the_key_is_the_last_segment_and_plain_rtmp_defaults_to_1935() {
        let url = UpstreamUrl::parse("rtmp://origin.example/app/instance/key1").unwrap();
        assert!(!url.tls);
        assert_eq!(url.port, 1935);
        assert_eq!(
            (url.app.as_str(), url.key.as_str()),
            ("app/instance", "key1")
        );
        let v6 = UpstreamUrl::parse("RTMPS://[::1]:1936/live/k").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1936));
        assert_eq!(v6.tc_url(), "rtmps://[::1]:1936/live");
        assert!(v6.ip().is_some());
        assert!(UpstreamUrl::parse("rtmps://h/a/k").unwrap().ip().is_none());
    }

    #[test]
    fn redacted_forms_and_debug_output_never_show_the_key() {
        let url = UpstreamUrl::parse(&format!("rtmps://h.example/live2/{SECRET}?x=1")).unwrap();
        assert_eq!(url.redacted(), "rtmps://h.example/live2/(key redacted)");
        assert!(!format!("{url:?}").contains(SECRET));
        assert!(!format!("{url:?}").contains("x=1"));
    }

    #[test]
    fn bad_urls_are_refused_without_quoting_the_key() {
        for bad in [
            format!("http://h/a/{SECRET}"),
            format!("rtmps://h/{SECRET}"),
            format!("rtmps://h//{SECRET}"),
            "rtmps://h/app/".to_string(),
            "rtmps://h/app/?q=1".to_string(),
            format!("rtmps:///a/{SECRET}"),
            format!("rtmps://h:0/a/{SECRET}"),
            format!("rtmps://h:x/a/{SECRET}"),
            format!("rtmps://h:70000/a/{SECRET}"),
            format!("rtmps://user:pw@h/a/{SECRET}"),
            format!("rtmps://[::1/a/{SECRET}"),
            format!("rtmps://[nope]/a/{SECRET}"),
            format!("rtmps://h/a/{SECRET} x"),
            format!("rtmps://h/a/{}", "k".repeat(MAX_STREAM_NAME_LEN + 1)),
        ] {
            let err = UpstreamUrl::parse(&bad).expect_err(&bad);
            assert!(!err.contains(SECRET), "{err}");
        }
        let at_limit = format!("rtmps://h/a/{}", "k".repeat(MAX_STREAM_NAME_LEN));
        assert!(UpstreamUrl::parse(&at_limit).is_ok());
    }
}
