//! The part of a subscriber's queue that the hub and the subscriber both see.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::eviction::Eviction;
use super::limits::QueueLimits;
use super::wake::Doorbell;
use crate::rtmp::Timestamp;

/// Bytes queued, the eviction record, and the doorbell of one subscriber.
pub(super) struct QueueState {
    /// Payload bytes in the queue: added by the hub when it sends, taken off when received.
    queued_bytes: AtomicUsize,
    evicted: AtomicBool,
    behind_ms: AtomicU64,
    dropped: AtomicU64,
    /// Frames not queued for this subscriber so far (full queue, or video skipped to the
    /// next keyframe), counted as they happen.
    frames_dropped: AtomicU64,
    /// The timestamp of the last frame dropped, plus one (0: none yet).
    last_dropped: AtomicU64,
    limits: QueueLimits,
    /// Wakes the subscriber.
    pub(super) doorbell: Arc<Doorbell>,
}

impl QueueState {
    pub(super) fn new(limits: QueueLimits, doorbell: Arc<Doorbell>) -> Self {
        QueueState {
            queued_bytes: AtomicUsize::new(0),
            evicted: AtomicBool::new(false),
            behind_ms: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            frames_dropped: AtomicU64::new(0),
            last_dropped: AtomicU64::new(0),
            limits,
            doorbell,
        }
    }

    pub(super) fn limits(&self) -> QueueLimits {
        self.limits
    }

    pub(super) fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::SeqCst)
    }

    pub(super) fn add(&self, bytes: usize) {
        self.queued_bytes.fetch_add(bytes, Ordering::SeqCst);
    }

    pub(super) fn take(&self, bytes: usize) {
        self.queued_bytes.fetch_sub(bytes, Ordering::SeqCst);
    }

    /// Counts one frame, of timestamp `ts`, not queued for this subscriber.
    pub(super) fn dropped_one(&self, ts: Timestamp) {
        self.last_dropped
            .store(u64::from(ts.0) + 1, Ordering::Relaxed);
        self.frames_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Frames not queued for this subscriber so far.
    pub(super) fn frames_dropped(&self) -> u64 {
        self.frames_dropped.load(Ordering::Relaxed)
    }

    /// The timestamp of the last frame not queued for this subscriber, if any was.
    pub(super) fn last_dropped(&self) -> Option<Timestamp> {
        match self.last_dropped.load(Ordering::Relaxed) {
            0 => None,
            n => Some(Timestamp((n - 1) as u32)),
        }
    }

    /// The eviction, once the hub has made one.
    pub(super) fn eviction(&self) -> Option<Eviction> {
        if !self.evicted.load(Ordering::SeqCst) {
            return None;
        }
        Some(Eviction {
            behind: Duration::from_millis(self.behind_ms.load(Ordering::SeqCst)),
            dropped: self.dropped.load(Ordering::SeqCst),
            limits: self.limits,
        })
    }

    /// Records the eviction (the details first, so whoever sees the flag sees them too) and
    /// wakes the subscriber so it notices.
    pub(super) fn evict(&self, behind: Duration, dropped: u64) {
        let behind_ms = u64::try_from(behind.as_millis()).unwrap_or(u64::MAX);
        self.behind_ms.store(behind_ms, Ordering::SeqCst);
        self.dropped.store(dropped, Ordering::SeqCst);
        self.evicted.store(true, Ordering::SeqCst);
        self.doorbell.force();
    }
}
