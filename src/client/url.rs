//! `rtmp://` and `rtmps://` URLs: host, port, app and stream name.

/// A parsed RTMP(S) URL: `rtmps://host[:port]/app/name[?query]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtmpUrl {
    /// `rtmps` (true) or `rtmp`.
    pub tls: bool,
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (default 443 for rtmps, 1935 for rtmp).
    pub port: u16,
    /// Application (`live`).
    pub app: String,
    /// Stream name, with any `?query`.
    pub name: String,
}

impl RtmpUrl {
    /// Parses a URL.
    pub fn parse(url: &str) -> Result<RtmpUrl, String> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("rtmps://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("rtmp://") {
            (false, rest)
        } else {
            return Err(format!("{url}: not an rtmp:// or rtmps:// URL"));
        };
        let (authority, path) = rest
            .split_once('/')
            .ok_or_else(|| format!("{url}: no app"))?;
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url}: bad [host]"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("{url}: bad port"))?,
            None if tls => 443,
            None => 1935,
        };
        let (app, name) = path
            .split_once('/')
            .ok_or_else(|| format!("{url}: no stream name"))?;
        if host.is_empty() || app.is_empty() || name.is_empty() {
            return Err(format!("{url}: host, app and stream name are all needed"));
        }
        Ok(RtmpUrl {
            tls,
            host: host.to_string(),
            port,
            app: app.to_string(),
            name: name.to_string(),
        })
    }

    /// The `tcUrl` sent in `connect`: scheme, host, port and app.
    pub fn tc_url(&self) -> String {
        let scheme = if self.tls { "rtmps" } else { "rtmp" };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{scheme}://{host}:{}/{}", self.port, self.app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scheme_host_port_app_and_name() {
        let url = RtmpUrl::parse("rtmps://127.0.0.1:1936/live/abc?key=1").unwrap();
        assert!(url.tls);
        assert_eq!((url.host.as_str(), url.port), ("127.0.0.1", 1936));
        assert_eq!((url.app.as_str(), url.name.as_str()), ("live", "abc?key=1"));
        assert_eq!(url.tc_url(), "rtmps://127.0.0.1:1936/live");
    }

    #[test]
    fn default_ports_and_ipv6_hosts() {
        assert_eq!(RtmpUrl::parse("rtmp://h/a/b").unwrap().port, 1935);
        assert_eq!(RtmpUrl::parse("rtmps://h/a/b").unwrap().port, 443);
        let v6 = RtmpUrl::parse("rtmps://[::1]:9/a/b").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 9));
        assert_eq!(v6.tc_url(), "rtmps://[::1]:9/a");
    }

    #[test]
    fn rejects_urls_missing_parts() {
        for bad in [
            "http://h/a/b",
            "rtmp://h",
            "rtmp://h/a",
            "rtmp://h/a/",
            "rtmp://:1/a/b",
            "rtmp://h:x/a/b",
        ] {
            assert!(RtmpUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
