//! Who publishes a stream and since when, for operators (metrics, the status page).

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

/// The publisher of a stream as the hub saw it arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublisherInfo {
    /// Its address, when the caller gave one.
    pub address: Option<SocketAddr>,
    /// Wall-clock time it started publishing.
    pub since: SystemTime,
    /// Monotonic time it started publishing (for uptime).
    pub started: Instant,
}

impl PublisherInfo {
    /// A publisher from `address` starting now.
    pub fn starting_now(address: Option<SocketAddr>) -> Self {
        PublisherInfo {
            address,
            since: SystemTime::now(),
            started: Instant::now(),
        }
    }
}
