//! What a new subscriber starts with: the latest metadata, the sequence headers and the
//! current GOP of a stream, so it can decode from its first frame.

use std::collections::VecDeque;

use crate::server::frame::{Frame, FrameKind};

/// The instant-start cache of one stream, bounded by the GOP byte limit.
#[derive(Default)]
pub(super) struct StartCache {
    metadata: Option<Frame>,
    video_header: Option<Frame>,
    audio_header: Option<Frame>,
    gop: VecDeque<Frame>,
    gop_bytes: usize,
    gop_overflowed: bool,
}

impl StartCache {
    /// Takes `frame` into the cache; returns the GOP size that did not fit, once per GOP,
    /// when `frame` makes the current GOP longer than `gop_limit` bytes.
    pub(super) fn take(&mut self, frame: &Frame, gop_limit: usize) -> Option<usize> {
        match frame.kind {
            FrameKind::Metadata => self.metadata = Some(frame.clone()),
            FrameKind::Video if frame.sequence_header => self.video_header = Some(frame.clone()),
            FrameKind::Audio if frame.sequence_header => self.audio_header = Some(frame.clone()),
            _ => {
                if frame.keyframe {
                    self.gop.clear();
                    self.gop_bytes = 0;
                    self.gop_overflowed = false;
                }
                if self.gop_overflowed || (self.gop.is_empty() && !frame.keyframe) {
                    return None;
                }
                let seen = self.gop_bytes + frame.len();
                if seen > gop_limit {
                    // Too long a GOP to keep whole: keep none, and let new players wait for
                    // the next keyframe rather than start on a broken one.
                    self.gop.clear();
                    self.gop_bytes = 0;
                    self.gop_overflowed = true;
                    return Some(seen);
                }
                self.gop_bytes = seen;
                self.gop.push_back(frame.clone());
            }
        }
        None
    }

    /// Forgets everything (the publisher left or a new one came).
    pub(super) fn clear(&mut self) {
        *self = StartCache::default();
    }

    /// Whether a GOP starting on a keyframe is cached.
    pub(super) fn has_gop(&self) -> bool {
        !self.gop.is_empty()
    }

    /// The frames a new subscriber gets first: metadata, sequence headers, the current GOP.
    pub(super) fn snapshot(&self) -> VecDeque<Frame> {
        let mut backlog = VecDeque::with_capacity(3 + self.gop.len());
        backlog.extend(self.metadata.iter().cloned());
        backlog.extend(self.video_header.iter().cloned());
        backlog.extend(self.audio_header.iter().cloned());
        backlog.extend(self.gop.iter().cloned());
        backlog
    }
}
