//! A copy of who publishes a stream and since when, kept for operators (metrics, the status
//! page) under its own small lock, so that readers never take the stream's lock, which the
//! data path holds for every frame.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

/// The live publisher of a stream as operators see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivePublisher {
    /// Its address.
    pub address: SocketAddr,
    /// Wall-clock time it started publishing.
    pub since: SystemTime,
    /// Monotonic time it started publishing (for uptime).
    pub started: Instant,
}

impl LivePublisher {
    /// A publisher from `address` that started at `started` (monotonic).
    pub fn started_at(address: SocketAddr, started: Instant) -> Self {
        let ago = Instant::now().saturating_duration_since(started);
        LivePublisher {
            address,
            since: SystemTime::now() - ago,
            started,
        }
    }
}
