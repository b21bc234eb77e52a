//! Counters of one stream that metrics can read without taking the stream's lock.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Counters of one stream, updated by the hub as frames pass.
#[derive(Default)]
pub struct StreamStats {
    frames_in: AtomicU64,
    video_frames_in: AtomicU64,
    bytes_in: AtomicU64,
    frames_dropped: AtomicU64,
    evictions: AtomicU64,
    players: AtomicUsize,
    subscribers: AtomicUsize,
    live: AtomicUsize,
}

/// A copy of a stream's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCounts {
    /// Frames the publishers pushed.
    pub frames_in: u64,
    /// Coded video frames among them (not sequence headers): the frame rate's numerator.
    pub video_frames_in: u64,
    /// Payload bytes the publishers pushed.
    pub bytes_in: u64,
    /// Frames not queued for a subscriber (full queue, or video waiting for a keyframe).
    pub frames_dropped: u64,
    /// Subscribers cut off for staying behind.
    pub evictions: u64,
    /// Players now.
    pub players: usize,
    /// Subscribers of every kind now.
    pub subscribers: usize,
    /// Whether a publisher is live now.
    pub live: bool,
}

impl StreamStats {
    /// Reads the counters.
    pub fn counts(&self) -> StreamCounts {
        StreamCounts {
            frames_in: self.frames_in.load(Ordering::Relaxed),
            video_frames_in: self.video_frames_in.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            frames_dropped: self.frames_dropped.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            players: self.players.load(Ordering::Relaxed),
            subscribers: self.subscribers.load(Ordering::Relaxed),
            live: self.live.load(Ordering::Relaxed) > 0,
        }
    }

    pub(super) fn pushed(&self, bytes: usize, video_frame: bool) {
        self.frames_in.fetch_add(1, Ordering::Relaxed);
        if video_frame {
            self.video_frames_in.fetch_add(1, Ordering::Relaxed);
        }
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn dropped(&self, frames: u64) {
        self.frames_dropped.fetch_add(frames, Ordering::Relaxed);
    }

    pub(super) fn evicted(&self) {
        self.evictions.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn set_members(&self, players: usize, subscribers: usize) {
        self.players.store(players, Ordering::Relaxed);
        self.subscribers.store(subscribers, Ordering::Relaxed);
    }

    pub(super) fn set_live(&self, live: bool) {
        self.live.store(usize::from(live), Ordering::Relaxed);
    }
}
