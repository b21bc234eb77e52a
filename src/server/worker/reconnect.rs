//! Closing a connection for a reason its client can recover from: ask it to reconnect first.
//!
//! Enhanced RTMP v2's `NetConnection.Connect.ReconnectRequest`: before rtmpsd drops a client
//! that will be welcome again (the server stops or restarts, the operator reloads, the same
//! key takes the stream over), it asks the client to reconnect, if the client declared
//! `capsEx` Reconnect in `connect`. The client streams on to its next keyframe, connects
//! again (to the restarted server, or to `tcUrl` when one is given) and leaves this
//! connection. Meanwhile this connection is served as before; it ends with the original
//! reason when the client leaves or after [`RECONNECT_WAIT`], whichever comes first. A
//! client that did not declare the capability is closed at once, as before.
//!
//! How the worker uses it: `Worker::close_recoverable(reason, tc_url)` instead of
//! `Worker::close(reason)`, from its own thread. Graceful shutdown does so for every
//! connection (`turn`, when the shared stopping flag is up). Another recoverable reason
//! follows the same two steps: make the worker notice it in `turn` (a flag it polls, as for
//! stopping, rung through its doorbell), then call `close_recoverable` with the reason:
//! - a takeover by the same publish key: `turn` notices it (`ctx.taken_over_by()`) and calls
//!   `close_recoverable(CloseReason::TakenOver { by }, None)`. A replaced publisher that is
//!   still alive (two encoders on one key) reconnects and takes the stream back, as it would
//!   after a plain close; the request only makes it quicker and cleaner;
//! - a reload (issue 12) whose new settings still admit the client: `close_recoverable` with
//!   the reload reason, and `tc_url` if the operator moved the service elsewhere.
//!
//! A reason the client cannot recover from (a refused key, a protocol error) must keep
//! using `close`: asking it to reconnect would only make it fail again.

use std::time::{Duration, Instant};

use crate::server::close_reason::CloseReason;

/// Longest a client that was asked to reconnect may stay: it first streams on to its next
/// keyframe (OBS and FFmpeg default to one every 2 s), then connects anew.
pub const RECONNECT_WAIT: Duration = Duration::from_secs(5);

/// A reconnect request sent, and the close it stands for.
#[derive(Debug)]
pub(super) struct PendingReconnect {
    /// Why the connection is closing.
    pub(super) reason: CloseReason,
    /// When the request was queued.
    pub(super) asked: Instant,
    /// When the connection closes anyway.
    pub(super) deadline: Instant,
}

impl PendingReconnect {
    /// A request sent at `now` for `reason`.
    pub(super) fn new(reason: CloseReason, now: Instant) -> Self {
        PendingReconnect {
            reason,
            asked: now,
            deadline: now + RECONNECT_WAIT,
        }
    }

    /// The reason to close with when the connection ends with `seen` while the request is
    /// pending: the client leaving is what was asked for, so the original reason stands; any
    /// other end (an error on the way out) is reported as it is.
    pub(super) fn settle(self, seen: CloseReason) -> (CloseReason, bool) {
        match seen {
            CloseReason::PeerClosed { .. } | CloseReason::PeerGone { .. } => (self.reason, true),
            other => (other, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_that_leaves_closes_with_the_original_reason() {
        let now = Instant::now();
        let pending = PendingReconnect::new(CloseReason::ServerStopping, now);
        assert_eq!(pending.deadline, now + RECONNECT_WAIT);
        let (reason, left) = pending.settle(CloseReason::PeerClosed { during: None });
        assert!(matches!(reason, CloseReason::ServerStopping) && left);
    }

    #[test]
    fn another_end_on_the_way_out_is_reported_as_it_is() {
        let pending = PendingReconnect::new(CloseReason::ServerStopping, Instant::now());
        let (reason, left) = pending.settle(CloseReason::IdleTimeout {
            limit: Duration::from_secs(30),
        });
        assert!(matches!(reason, CloseReason::IdleTimeout { .. }) && !left);
    }
}
