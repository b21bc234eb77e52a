//! A publisher's handle on a stream. Dropping it ends the publishing, so a session that
//! ends in any way (even a panic) gives its stream back.

use std::sync::Arc;
use std::time::Instant;

use super::Registry;
use super::publisher::{PublisherInfo, Takeover};
use super::stream::Stream;
use crate::server::frame::Frame;

/// One publisher's hold on a stream.
pub struct Publication {
    registry: Arc<Registry>,
    stream: Arc<Stream>,
    id: u64,
    takeover: Arc<Takeover>,
}

impl Publication {
    pub(super) fn new(
        registry: Arc<Registry>,
        stream: Arc<Stream>,
        id: u64,
        takeover: Arc<Takeover>,
    ) -> Self {
        Publication {
            registry,
            stream,
            id,
            takeover,
        }
    }

    /// The publisher that took this stream over, if one did: this one should close.
    pub fn taken_over_by(&self) -> Option<PublisherInfo> {
        self.takeover.by()
    }

    /// The stream published.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// Hands one frame to the stream's cache and subscribers (see `Stream::push`).
    pub fn push(&self, frame: Frame, now: Instant) -> Option<usize> {
        self.stream.push(self.id, frame, now)
    }
}

impl Drop for Publication {
    fn drop(&mut self) {
        self.registry
            .unpublish(&self.stream, self.id, Instant::now());
    }
}
