//! Whether an upstream still acknowledges what a push sends.
//!
//! A push announces a window; a server that honours it acknowledges each window of bytes
//! received. Some servers never acknowledge a publisher, so the watch arms only with the
//! first acknowledgement: from then on, an upstream that has been sent two windows more than
//! it last acknowledged, and has not acknowledged for `timeout`, is taken as gone (alive at
//! TCP, not reading). Sequence numbers wrap at 2^32 like every RTMP counter. Time comes in as
//! a value.

use std::time::{Duration, Instant};

/// The acknowledgement state of one upstream connection.
#[derive(Debug, Clone)]
pub struct AckWatch {
    window: u64,
    timeout: Duration,
    /// Our byte count and the time when the last acknowledgement came, once one has.
    last: Option<(u64, Instant)>,
}

/// An upstream that stopped acknowledging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckOverdue {
    /// Bytes sent since the last acknowledgement.
    pub unacknowledged: u64,
    /// Time since the last acknowledgement.
    pub silent: Duration,
}

impl AckWatch {
    /// A watch for an upstream asked to acknowledge every `window` bytes.
    pub fn new(window: u32, timeout: Duration) -> Self {
        AckWatch {
            window: u64::from(window),
            timeout,
            last: None,
        }
    }

    /// Whether an acknowledgement has come (the watch judges only then).
    pub fn armed(&self) -> bool {
        self.last.is_some()
    }

    /// Records an acknowledgement arriving at `now`, when `sent` bytes had been sent.
    pub fn acknowledged(&mut self, sent: u64, now: Instant) {
        self.last = Some((sent, now));
    }

    /// Whether the upstream is overdue at `now`, having been sent `sent` bytes in all.
    pub fn overdue(&self, sent: u64, now: Instant) -> Option<AckOverdue> {
        let (acked_at_bytes, at) = self.last?;
        let unacknowledged = sent.saturating_sub(acked_at_bytes);
        let silent = now.saturating_duration_since(at);
        (unacknowledged > 2 * self.window && silent > self.timeout).then_some(AckOverdue {
            unacknowledged,
            silent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upstream_that_never_acknowledges_is_not_judged() {
        let watch = AckWatch::new(1000, Duration::from_secs(10));
        let later = Instant::now() + Duration::from_secs(3600);
        assert_eq!(watch.overdue(u64::MAX / 2, later), None);
    }

    #[test]
    fn overdue_needs_both_two_windows_unacknowledged_and_the_timeout() {
        let start = Instant::now();
        let mut watch = AckWatch::new(1000, Duration::from_secs(10));
        watch.acknowledged(5000, start);
        let late = start + Duration::from_secs(11);
        assert_eq!(watch.overdue(7000, late), None, "exactly two windows");
        assert_eq!(
            watch.overdue(7001, late),
            Some(AckOverdue {
                unacknowledged: 2001,
                silent: Duration::from_secs(11)
            })
        );
        assert_eq!(
            watch.overdue(1_000_000, start + Duration::from_secs(10)),
            None
        );
        watch.acknowledged(7001, late);
        assert_eq!(watch.overdue(7001, late + Duration::from_secs(60)), None);
    }
}
