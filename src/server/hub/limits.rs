//! The hub's bounds: per stream, and per subscriber queue.

use std::time::Duration;

/// Bounds of every stream in a hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubLimits {
    /// GOP bytes cached per stream for instant start.
    pub gop_cache_bytes: usize,
    /// Players per stream.
    pub max_players: usize,
}

/// Bounds of one subscriber's queue, and how long it may stay behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Messages queued.
    pub len: usize,
    /// Payload bytes queued.
    pub bytes: usize,
    /// How long the subscriber may stay behind (dropping frames) before it is cut off.
    pub slow_after: Duration,
}
