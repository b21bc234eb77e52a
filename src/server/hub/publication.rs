//! A publisher's handle on a stream. Dropping it ends the publishing, so a session that
//! ends in any way (even a panic) gives its stream back.

use std::sync::Arc;
use std::time::Instant;

use super::Registry;
use super::stream::Stream;
use crate::server::frame::Frame;

/// One publisher's hold on a stream.
pub struct Publication {
    registry: Arc<Registry>,
    stream: Arc<Stream>,
    id: u64,
}

impl Publication {
    pub(super) fn new(registry: Arc<Registry>, stream: Arc<Stream>, id: u64) -> Self {
        Publication {
            registry,
            stream,
            id,
        }
    }

    /// The stream published.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// Hands one frame to the stream's cache and subscribers (see `Stream::push`).
    pub fn push(&self, frame: Frame, now: Instant) -> Option<usize> {
        self.stream.push(frame, now)
    }
}

impl Drop for Publication {
    fn drop(&mut self) {
        self.registry
            .unpublish(&self.stream, self.id, Instant::now());
    }
}
