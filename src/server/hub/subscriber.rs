//! The hub's side of one subscriber: its queue's sending end and the slow-subscriber policy.
//!
//! The policy is the same for players, pushes and recorders: a frame that does not fit the
//! queue (by count or bytes) is dropped, video is then skipped up to the next keyframe so the
//! subscriber resumes on a decodable picture, and a subscriber that stays behind longer than
//! its limit is cut off.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Sender, TrySendError};

use super::delivery::Delivery;
use super::queue_state::QueueState;
use crate::server::frame::{Frame, FrameKind};

/// What kind of subscriber this is, for limits and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberKind {
    /// A player connection.
    Player,
    /// A push to an upstream server.
    Push,
    /// A recorder writing to disk.
    Recorder,
}

/// One subscriber as the stream sees it.
pub(super) struct Subscriber {
    pub(super) id: u64,
    pub(super) kind: SubscriberKind,
    tx: Sender<Delivery>,
    state: Arc<QueueState>,
    /// Video is skipped until the next keyframe.
    pub(super) needs_keyframe: bool,
    behind_since: Option<Instant>,
    dropped: u64,
}

/// What `offer` did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Offered {
    /// Queued.
    Sent,
    /// Dropped (queue full, or video waiting for a keyframe); the subscriber stays.
    Dropped,
    /// Cut off for staying behind too long: remove it.
    Evicted,
    /// Its receiving end is gone: remove it.
    Closed,
}

impl Subscriber {
    pub(super) fn new(
        id: u64,
        kind: SubscriberKind,
        tx: Sender<Delivery>,
        state: Arc<QueueState>,
        needs_keyframe: bool,
    ) -> Self {
        Subscriber {
            id,
            kind,
            tx,
            state,
            needs_keyframe,
            behind_since: None,
            dropped: 0,
        }
    }

    /// Offers `frame` at time `now`.
    pub(super) fn offer(&mut self, frame: &Frame, now: Instant) -> Offered {
        let is_video = frame.kind == FrameKind::Video;
        if is_video && self.needs_keyframe && !frame.keyframe && !frame.sequence_header {
            self.dropped += 1;
            self.state.dropped_one(frame.timestamp);
            return self.still_in_time(now);
        }
        let limits = self.state.limits();
        if self.state.queued_bytes() + frame.len() > limits.bytes {
            return self.fell_behind(frame, now);
        }
        self.state.add(frame.len());
        match self.tx.try_send(Delivery::Frame(frame.clone())) {
            Ok(()) => {
                if is_video && frame.keyframe {
                    self.needs_keyframe = false;
                    self.behind_since = None;
                }
                self.state.doorbell.ring();
                Offered::Sent
            }
            Err(TrySendError::Full(_)) => {
                self.state.take(frame.len());
                self.fell_behind(frame, now)
            }
            Err(TrySendError::Disconnected(_)) => Offered::Closed,
        }
    }

    /// Queues a stream notice; a subscriber too far behind to take one is cut off, since it
    /// would never catch up.
    pub(super) fn notify(&mut self, delivery: Delivery, now: Instant) -> Offered {
        match self.tx.try_send(delivery) {
            Ok(()) => {
                self.state.doorbell.ring();
                Offered::Sent
            }
            Err(TrySendError::Full(_)) => {
                let behind = self
                    .behind_since
                    .map(|since| now.saturating_duration_since(since))
                    .unwrap_or_default();
                self.state.evict(behind, self.dropped);
                Offered::Evicted
            }
            Err(TrySendError::Disconnected(_)) => Offered::Closed,
        }
    }

    fn fell_behind(&mut self, frame: &Frame, now: Instant) -> Offered {
        self.dropped += 1;
        self.state.dropped_one(frame.timestamp);
        if frame.kind == FrameKind::Video {
            self.needs_keyframe = true;
        }
        self.behind_since.get_or_insert(now);
        self.still_in_time(now)
    }

    fn still_in_time(&mut self, now: Instant) -> Offered {
        match self.behind_since {
            Some(since) if now.duration_since(since) > self.state.limits().slow_after => {
                self.state.evict(now.duration_since(since), self.dropped);
                Offered::Evicted
            }
            _ => Offered::Dropped,
        }
    }
}
