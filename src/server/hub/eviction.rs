//! The record of a subscriber the hub cut off for staying behind.

use std::time::Duration;

use super::limits::QueueLimits;

/// Why and how far behind a subscriber was when the hub cut it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Eviction {
    /// How long it had been behind (zero: its queue was full when a stream notice came).
    pub behind: Duration,
    /// Frames it had missed.
    pub dropped: u64,
    /// The queue limits it ran with.
    pub limits: QueueLimits,
}
