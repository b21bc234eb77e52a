//! Why an attempt to push to an upstream ended, typed, with the line operators read.
//!
//! Text that comes from the upstream (a status code and description) is kept short, shown
//! quoted, and has the stream key cut out: some servers echo the stream name back.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use super::ack_watch::AckOverdue;
use crate::rtmp::client_session::{ClientStep, Status};
use rustls::CertificateError;

/// Longest piece of upstream text kept for a log line.
pub const MAX_UPSTREAM_TEXT: usize = 160;

/// How far an attempt got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Looking the host up.
    Resolve,
    /// TCP connect.
    TcpConnect,
    /// TLS handshake.
    TlsHandshake,
    /// RTMP handshake.
    RtmpHandshake,
    /// `connect`.
    Connect,
    /// `createStream`.
    CreateStream,
    /// `publish`, until NetStream.Publish.Start.
    Publish,
    /// Sending the stream.
    Live,
}

impl Stage {
    /// The stage as a log line names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Resolve => "name lookup",
            Stage::TcpConnect => "tcp connect",
            Stage::TlsHandshake => "tls handshake",
            Stage::RtmpHandshake => "rtmp handshake",
            Stage::Connect => "connect",
            Stage::CreateStream => "createStream",
            Stage::Publish => "publish",
            Stage::Live => "live",
        }
    }
}

/// Why one attempt ended.
#[derive(Debug)]
pub enum PushFailure {
    /// The host name could not be looked up.
    Resolve(io::Error),
    /// The host name has no address.
    NoAddress,
    /// TCP connect failed (refused, unreachable) at every address.
    Connect {
        /// The last address tried.
        addr: SocketAddr,
        /// Its error.
        error: io::Error,
    },
    /// TLS failed; the upstream's certificate, or the handshake.
    Tls(rustls::Error),
    /// The upstream broke the RTMP protocol.
    Protocol(crate::rtmp::Error),
    /// The upstream refused a step (`_error`, or an `onStatus` error).
    Refused {
        /// The step.
        step: ClientStep,
        /// Its status code, cleaned (see module doc).
        code: String,
        /// Its description, cleaned.
        description: String,
    },
    /// A stage took longer than the limit.
    Timeout {
        /// The stage under way.
        stage: Stage,
        /// The limit.
        limit: Duration,
    },
    /// The upstream took no data for longer than the limit.
    Stalled {
        /// The limit.
        limit: Duration,
    },
    /// The upstream stopped acknowledging what it was sent.
    NoAcknowledgement {
        /// How far behind it was.
        overdue: AckOverdue,
    },
    /// The upstream closed the connection (TCP FIN or TLS close_notify).
    Closed {
        /// The stage under way.
        stage: Stage,
    },
    /// The connection broke (reset, or TLS ended without close_notify).
    Gone {
        /// The stage under way.
        stage: Stage,
        /// The error.
        error: io::Error,
    },
    /// Another socket error.
    Io {
        /// What was being done.
        op: &'static str,
        /// The error.
        error: io::Error,
    },
}

impl PushFailure {
    /// A refusal built from the upstream's `status`, with `key` cut out of its text.
    pub fn refused(step: ClientStep, status: &Status<'_>, key: &str) -> PushFailure {
        PushFailure::Refused {
            step,
            code: upstream_text(status.code, key),
            description: upstream_text(status.description, key),
        }
    }

    /// Whether the upstream said no (a wrong key or app), rather than the network failing.
    pub fn is_refusal(&self) -> bool {
        matches!(self, PushFailure::Refused { .. })
    }
}

impl fmt::Display for PushFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushFailure::Resolve(error) => write!(f, "host name lookup failed: {error}"),
            PushFailure::NoAddress => write!(f, "host name has no address"),
            PushFailure::Connect { addr, error } => {
                write!(f, "tcp connect to {addr} failed: {error}")
            }
            PushFailure::Tls(rustls::Error::InvalidCertificate(
                why @ (CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. }),
            )) => write!(
                f,
                "tls: the upstream's certificate is not for the URL's host ({}); set the \
                 push's sni to a name it carries, or use that name in the URL",
                variant_name(why)
            ),
            PushFailure::Tls(rustls::Error::InvalidCertificate(why)) => write!(
                f,
                "tls: the upstream's certificate is not trusted ({}); trust its CA with \
                 --push-ca-file or the push's ca_file",
                variant_name(why)
            ),
            PushFailure::Tls(error) => write!(f, "tls: {error}"),
            PushFailure::Protocol(error) => write!(f, "protocol error: {error}"),
            PushFailure::Refused {
                step,
                code,
                description,
            } => write!(
                f,
                "upstream refused {}: {code:?} ({description:?})",
                step.as_str()
            ),
            PushFailure::Timeout { stage, limit } => write!(
                f,
                "{} did not finish within {}s (--push-timeout-secs)",
                stage.as_str(),
                limit.as_secs()
            ),
            PushFailure::Stalled { limit } => write!(
                f,
                "upstream took no data for {}s (--push-timeout-secs)",
                limit.as_secs()
            ),
            PushFailure::NoAcknowledgement { overdue } => write!(
                f,
                "upstream acknowledged nothing for {:.1}s while {} bytes were sent",
                overdue.silent.as_secs_f32(),
                overdue.unacknowledged
            ),
            PushFailure::Closed { stage } => {
                write!(
                    f,
                    "upstream closed the connection during {}",
                    stage.as_str()
                )
            }
            PushFailure::Gone { stage, error } => {
                write!(f, "connection lost during {}: {error}", stage.as_str())
            }
            PushFailure::Io { op, error } => write!(f, "{op} failed: {error}"),
        }
    }
}

/// The name of an enum variant from its debug form, without its fields (some carry raw
/// algorithm ids that say nothing to an operator).
fn variant_name(value: &impl fmt::Debug) -> String {
    let debug = format!("{value:?}");
    debug
        .split([' ', '(', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `text` from the upstream, made safe for a log line: `key` cut out, control characters
/// dropped, at most `MAX_UPSTREAM_TEXT` characters.
pub fn upstream_text(text: &str, key: &str) -> String {
    let cut = if key.is_empty() {
        text.to_string()
    } else {
        text.replace(key, "(key)")
    };
    let mut clean: String = cut
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_UPSTREAM_TEXT)
        .collect();
    if cut.chars().filter(|c| !c.is_control()).count() > MAX_UPSTREAM_TEXT {
        clean.push('…');
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_text_loses_the_key_control_characters_and_length() {
        assert_eq!(
            upstream_text("stream live/abc123 already\npublishing", "abc123"),
            "stream live/(key) alreadypublishing"
        );
        let long = upstream_text(&"x".repeat(500), "k");
        assert_eq!(long.chars().count(), MAX_UPSTREAM_TEXT + 1);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn lines_name_the_step_the_stage_and_the_limit() {
        let status = Status {
            level: "error",
            code: "NetStream.Publish.BadName",
            description: "bad key secret-1",
        };
        let refused = PushFailure::refused(ClientStep::Publish, &status, "secret-1");
        assert!(refused.is_refusal());
        assert_eq!(
            refused.to_string(),
            "upstream refused publish: \"NetStream.Publish.BadName\" (\"bad key (key)\")"
        );
        let timeout = PushFailure::Timeout {
            stage: Stage::TlsHandshake,
            limit: Duration::from_secs(10),
        };
        assert_eq!(
            timeout.to_string(),
            "tls handshake did not finish within 10s (--push-timeout-secs)"
        );
        assert!(!timeout.is_refusal());
        let untrusted = PushFailure::Tls(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert!(
            untrusted
                .to_string()
                .contains("certificate is not trusted (UnknownIssuer)")
        );
    }
}
