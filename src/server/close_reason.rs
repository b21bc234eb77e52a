//! Why a connection ended: one typed reason per way a session can end, with the limit and
//! the value seen where a limit was hit, the log level it deserves, and a name for metrics.

use std::fmt;
use std::io;
use std::time::Duration;

use log::Level;

use super::hub::{Eviction, PublisherInfo};
use crate::rtmp;

/// The step of setting up a connection that was under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The TLS handshake.
    TlsHandshake,
    /// The RTMP handshake (C0-C2 / S0-S2).
    RtmpHandshake,
    /// Waiting for `connect`.
    Connect,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::TlsHandshake => "tls handshake",
            Stage::RtmpHandshake => "rtmp handshake",
            Stage::Connect => "connect",
        })
    }
}

/// Why a connection was closed.
#[derive(Debug)]
pub enum CloseReason {
    /// The peer broke the protocol or one of its limits.
    Protocol(rtmp::Error),
    /// A reply or notice to the peer could not be queued (the reply limit).
    Reply(rtmp::Error),
    /// TLS failed.
    Tls(rustls::Error),
    /// A plain RTMP client spoke on the RTMPS port.
    PlainOnTlsPort,
    /// Setting up took longer than the handshake limit.
    HandshakeTimeout {
        /// What was not done.
        stage: Stage,
        /// The limit.
        limit: Duration,
    },
    /// A publisher (or a connection that never published or played) sent nothing for too long.
    IdleTimeout {
        /// The limit.
        limit: Duration,
    },
    /// A player stayed behind for longer than its limit.
    SlowPlayer(Eviction),
    /// A player waited longer than its limit for a stream that was not live.
    PlayWaitTimeout {
        /// The limit.
        limit: Duration,
    },
    /// Another publisher with a key for the stream took it over.
    TakenOver {
        /// The new publisher.
        by: PublisherInfo,
    },
    /// The peer closed the connection cleanly.
    PeerClosed {
        /// The setup step under way, if any.
        during: Option<Stage>,
    },
    /// The peer vanished (reset, or TCP closed without a TLS close_notify).
    PeerGone {
        /// The setup step under way, if any.
        during: Option<Stage>,
        /// What the socket said.
        error: io::Error,
    },
    /// Reading, writing or polling failed for another reason.
    Io {
        /// "read", "write" or "poll".
        op: &'static str,
        /// The error.
        error: io::Error,
    },
    /// The publish request was refused (the reason was sent to the peer).
    PublishRefused(&'static str),
    /// The play request was refused (the reason was sent to the peer).
    PlayRefused(&'static str),
    /// The stream went away under a player.
    StreamRemoved,
    /// The server is shutting down.
    ServerStopping,
}

impl CloseReason {
    /// Names of the kinds of reason, in `index` order, for metrics labels.
    pub const KINDS: [&'static str; 16] = [
        "protocol_error",
        "reply_failed",
        "tls_error",
        "plain_rtmp_on_tls_port",
        "handshake_timeout",
        "idle_timeout",
        "slow_player",
        "peer_closed",
        "peer_gone",
        "io_error",
        "publish_refused",
        "play_refused",
        "stream_removed",
        "server_stopping",
        "play_wait_timeout",
        "taken_over",
    ];

    /// The position of this reason's kind in `KINDS`.
    pub fn index(&self) -> usize {
        match self {
            CloseReason::Protocol(_) => 0,
            CloseReason::Reply(_) => 1,
            CloseReason::Tls(_) => 2,
            CloseReason::PlainOnTlsPort => 3,
            CloseReason::HandshakeTimeout { .. } => 4,
            CloseReason::IdleTimeout { .. } => 5,
            CloseReason::SlowPlayer(_) => 6,
            CloseReason::PeerClosed { .. } => 7,
            CloseReason::PeerGone { .. } => 8,
            CloseReason::Io { .. } => 9,
            CloseReason::PublishRefused(_) => 10,
            CloseReason::PlayRefused(_) => 11,
            CloseReason::StreamRemoved => 12,
            CloseReason::ServerStopping => 13,
            CloseReason::PlayWaitTimeout { .. } => 14,
            CloseReason::TakenOver { .. } => 15,
        }
    }

    /// This reason's kind, as in `KINDS`.
    pub fn kind(&self) -> &'static str {
        Self::KINDS.get(self.index()).copied().unwrap_or("other")
    }

    /// How loudly to log it: a warning for what the operator may have to look at (broken or
    /// hostile peers, failing I/O), info for the ordinary ends of sessions.
    pub fn level(&self) -> Level {
        match self {
            CloseReason::Protocol(_)
            | CloseReason::Reply(_)
            | CloseReason::Tls(_)
            | CloseReason::PlainOnTlsPort
            | CloseReason::HandshakeTimeout { .. }
            | CloseReason::Io { .. } => Level::Warn,
            CloseReason::IdleTimeout { .. }
            | CloseReason::SlowPlayer(_)
            | CloseReason::PeerClosed { .. }
            | CloseReason::PeerGone { .. }
            | CloseReason::PublishRefused(_)
            | CloseReason::PlayRefused(_)
            | CloseReason::StreamRemoved
            | CloseReason::ServerStopping
            | CloseReason::PlayWaitTimeout { .. }
            | CloseReason::TakenOver { .. } => Level::Info,
        }
    }

    /// Whether it ended a connection during its TLS handshake (for the failure counter).
    pub fn failed_tls_handshake(&self) -> bool {
        match self {
            CloseReason::Tls(_) | CloseReason::PlainOnTlsPort => true,
            CloseReason::HandshakeTimeout { stage, .. } => *stage == Stage::TlsHandshake,
            _ => false,
        }
    }
}

/// " during the <stage>" while a connection was being set up, else nothing.
struct During(Option<Stage>);

impl fmt::Display for During {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(stage) => write!(f, " during the {stage}"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Protocol(e) => write!(f, "protocol error: {e}"),
            CloseReason::Reply(e) => write!(f, "reply failed: {e}"),
            CloseReason::Tls(e) => write!(f, "tls error: {e}"),
            CloseReason::PlainOnTlsPort => f.write_str(
                "plain rtmp on the rtmps port (first byte 0x03): use rtmps:// or the plain listener",
            ),
            CloseReason::HandshakeTimeout { stage, limit } => write!(
                f,
                "handshake timeout: {stage} not done after {}s",
                limit.as_secs()
            ),
            CloseReason::IdleTimeout { limit } => write!(
                f,
                "idle timeout: nothing received for {}s",
                limit.as_secs()
            ),
            CloseReason::SlowPlayer(eviction) => {
                let queue = format!(
                    "queue limits {} messages, {} bytes; {} frames dropped",
                    eviction.limits.len, eviction.limits.bytes, eviction.dropped
                );
                if eviction.behind.is_zero() {
                    write!(f, "slow player: queue full when a stream notice came ({queue})")
                } else {
                    write!(
                        f,
                        "slow player: behind for {}ms, over the limit {}ms ({queue})",
                        eviction.behind.as_millis(),
                        eviction.limits.slow_after.as_millis()
                    )
                }
            }
            CloseReason::PeerClosed { during } => {
                write!(f, "peer closed the connection{}", During(*during))
            }
            CloseReason::PeerGone { during, error } => {
                // Not the io::Error's own text: rustls's carries a documentation URL.
                let how = match error.kind() {
                    io::ErrorKind::UnexpectedEof => "closed without a tls close_notify",
                    io::ErrorKind::ConnectionReset => "connection reset",
                    io::ErrorKind::BrokenPipe => "closed while being written to",
                    _ => "connection lost",
                };
                write!(f, "peer went away{}: {how}", During(*during))
            }
            CloseReason::Io { op, error } => write!(f, "{op} failed: {error}"),
            CloseReason::PublishRefused(why) => write!(f, "publish refused: {why}"),
            CloseReason::PlayRefused(why) => write!(f, "play refused: {why}"),
            CloseReason::StreamRemoved => f.write_str("stream removed"),
            CloseReason::ServerStopping => f.write_str("server stopping"),
            CloseReason::PlayWaitTimeout { limit } => write!(
                f,
                "play wait timeout: the stream was not live within {}s",
                limit.as_secs()
            ),
            CloseReason::TakenOver { by } => {
                write!(f, "taken over by publisher {} {}", by.id, by.peer)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::session_error::SessionError;
    use crate::server::hub::QueueLimits;

    #[test]
    fn every_kind_has_a_distinct_name_and_index() {
        let reasons = [
            CloseReason::Protocol(SessionError::AlreadyConnected.into()),
            CloseReason::Reply(SessionError::AlreadyConnected.into()),
            CloseReason::Tls(rustls::Error::DecryptError),
            CloseReason::PlainOnTlsPort,
            CloseReason::HandshakeTimeout {
                stage: Stage::Connect,
                limit: Duration::from_secs(1),
            },
            CloseReason::IdleTimeout {
                limit: Duration::from_secs(1),
            },
            CloseReason::SlowPlayer(Eviction {
                behind: Duration::ZERO,
                dropped: 0,
                limits: QueueLimits {
                    len: 1,
                    bytes: 1,
                    slow_after: Duration::from_secs(1),
                },
            }),
            CloseReason::PeerClosed { during: None },
            CloseReason::PeerGone {
                during: None,
                error: io::ErrorKind::ConnectionReset.into(),
            },
            CloseReason::Io {
                op: "read",
                error: io::ErrorKind::Other.into(),
            },
            CloseReason::PublishRefused("x"),
            CloseReason::PlayRefused("x"),
            CloseReason::StreamRemoved,
            CloseReason::ServerStopping,
            CloseReason::PlayWaitTimeout {
                limit: Duration::from_secs(1),
            },
            CloseReason::TakenOver {
                by: PublisherInfo {
                    id: 1,
                    peer: std::net::SocketAddr::from(([127, 0, 0, 1], 9)),
                },
            },
        ];
        for (i, reason) in reasons.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason}");
        }
        assert_eq!(reasons.len(), CloseReason::KINDS.len());
    }

    #[test]
    fn lines_name_the_limit_and_the_value_seen() {
        let timeout = CloseReason::HandshakeTimeout {
            stage: Stage::TlsHandshake,
            limit: Duration::from_secs(2),
        };
        assert_eq!(
            timeout.to_string(),
            "handshake timeout: tls handshake not done after 2s"
        );
        assert_eq!(timeout.level(), Level::Warn);
        assert!(timeout.failed_tls_handshake());
        let slow = CloseReason::SlowPlayer(Eviction {
            behind: Duration::from_millis(10_250),
            dropped: 77,
            limits: QueueLimits {
                len: 128,
                bytes: 8 << 20,
                slow_after: Duration::from_secs(10),
            },
        });
        assert_eq!(
            slow.to_string(),
            "slow player: behind for 10250ms, over the limit 10000ms \
             (queue limits 128 messages, 8388608 bytes; 77 frames dropped)"
        );
        assert_eq!(slow.level(), Level::Info);
        let gone = CloseReason::PeerClosed {
            during: Some(Stage::RtmpHandshake),
        };
        assert_eq!(
            gone.to_string(),
            "peer closed the connection during the rtmp handshake"
        );
    }

    #[test]
    fn a_vanished_peer_is_one_plain_sentence() {
        let gone = CloseReason::PeerGone {
            during: None,
            error: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed connection without sending TLS close_notify: https://docs.rs/x",
            ),
        };
        assert_eq!(
            gone.to_string(),
            "peer went away: closed without a tls close_notify"
        );
        assert_eq!(gone.level(), Level::Info);
        let broken = CloseReason::PeerGone {
            during: None,
            error: io::Error::from(io::ErrorKind::BrokenPipe),
        };
        assert_eq!(
            broken.to_string(),
            "peer went away: closed while being written to"
        );
    }

    #[test]
    fn plain_rtmp_on_the_tls_port_is_a_warning_that_says_what_to_do() {
        let reason = CloseReason::PlainOnTlsPort;
        assert_eq!(reason.level(), Level::Warn);
        assert!(reason.to_string().contains("use rtmps://"));
    }
}
