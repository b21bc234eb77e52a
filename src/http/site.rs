//! What the status page tells about this box beyond its streams: the certificate to trust,
//! and the address and key hint to give a camera. Built once at start; holds no key.

use std::net::SocketAddr;

use super::certificate::CertificateInfo;

/// A stream a camera may publish, with a hint of its key (`key_spec::mask`), never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyHint {
    /// The stream's public name.
    pub stream: String,
    /// The key's first characters and length.
    pub hint: String,
}

/// The box as the status page describes it.
#[derive(Debug, Clone)]
pub struct Site {
    /// The RTMPS listener.
    pub rtmps: SocketAddr,
    /// The plain RTMP listener, if enabled.
    pub rtmp: Option<SocketAddr>,
    /// The application cameras publish to (`live`).
    pub app: String,
    /// The streams and hints of the keys that publish them.
    pub key_hints: Vec<KeyHint>,
    /// Whether players need a play key.
    pub play_key_required: bool,
    /// Where the full publish key can be read on the box.
    pub key_source: String,
    /// The server certificate, if it could be read.
    pub certificate: Option<CertificateInfo>,
}

impl Site {
    /// The host to put in a camera's URL: the name the browser used to reach this page
    /// (without its port) when it is a plain host name or address, else the listener's
    /// address, else a placeholder.
    pub fn camera_host(&self, request_host: Option<&str>) -> String {
        let from_request = request_host.and_then(|host| {
            let host = match host.rsplit_once(':') {
                // `[::1]:8080` or `name:8080`; a bare IPv6 address has no brackets and no port.
                Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                    if name.contains(':') && !name.starts_with('[') {
                        host
                    } else {
                        name
                    }
                }
                _ => host,
            };
            let plain = !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
            plain.then(|| host.to_string())
        });
        from_request.unwrap_or_else(|| {
            let ip = self.rtmps.ip();
            if ip.is_unspecified() {
                "<this-box>".to_string()
            } else if ip.is_ipv6() {
                format!("[{ip}]")
            } else {
                ip.to_string()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(listen: &str) -> Site {
        Site {
            rtmps: listen.parse().unwrap(),
            rtmp: None,
            app: "live".into(),
            key_hints: Vec::new(),
            play_key_required: false,
            key_source: String::new(),
            certificate: None,
        }
    }

    #[test]
    fn the_camera_host_is_the_one_the_browser_used() {
        let s = site("0.0.0.0:1936");
        assert_eq!(s.camera_host(Some("studio.local:8080")), "studio.local");
        assert_eq!(s.camera_host(Some("192.168.1.20")), "192.168.1.20");
        assert_eq!(s.camera_host(Some("[fe80::1]:8080")), "[fe80::1]");
        assert_eq!(s.camera_host(Some("<script>")), "<this-box>");
        assert_eq!(s.camera_host(None), "<this-box>");
        assert_eq!(site("10.1.2.3:1936").camera_host(None), "10.1.2.3");
    }
}
