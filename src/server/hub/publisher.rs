//! Who publishes a stream, and how a publisher learns that another took its stream over.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use super::wake::Doorbell;

/// A publishing session as the hub knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublisherInfo {
    /// The session id.
    pub id: u64,
    /// Its peer address.
    pub peer: SocketAddr,
}

/// Set once, when another publisher takes the stream over; the old publisher's worker reads
/// it and closes.
pub struct Takeover {
    by: OnceLock<PublisherInfo>,
    doorbell: Arc<Doorbell>,
}

impl Takeover {
    pub(super) fn new(doorbell: Arc<Doorbell>) -> Arc<Self> {
        Arc::new(Takeover {
            by: OnceLock::new(),
            doorbell,
        })
    }

    /// The publisher that took over, if one did.
    pub fn by(&self) -> Option<PublisherInfo> {
        self.by.get().copied()
    }

    /// Records the new publisher and wakes the old one.
    pub(super) fn happened(&self, by: PublisherInfo) {
        let _ = self.by.set(by);
        self.doorbell.force();
    }
}

/// The hub's record of a stream's current publisher.
pub(super) struct PublisherSlot {
    pub(super) info: PublisherInfo,
    pub(super) takeover: Arc<Takeover>,
}
