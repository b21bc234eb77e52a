//! Why the hub refused a publisher or a subscriber.

use super::publisher::PublisherInfo;

/// Why publishing was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishError {
    /// Someone already publishes on the stream, and takeover is off.
    AlreadyLive {
        /// The publisher.
        by: PublisherInfo,
    },
}

/// Why subscribing was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    /// The stream has as many players as allowed.
    TooManyPlayers {
        /// The limit.
        limit: usize,
    },
}
