//! A subscriber's handle on a stream: the backlog it starts with, then its bounded queue.
//!
//! Players, pushes and recorders all take frames this way. The hub keeps the byte count of
//! the queue; the subscriber only calls `try_next` (or `wait`, from a thread that may block).
//! Dropping the handle leaves the stream.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};

use super::Registry;
use super::delivery::Delivery;
use super::eviction::Eviction;
use super::queue_state::QueueState;
use super::stream::Stream;
use super::subscriber::SubscriberKind;
use super::wake::Doorbell;
use crate::server::frame::Frame;

/// Why a subscription ended from the hub's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Cut off for staying behind.
    Evicted(Eviction),
    /// The stream went away under it (never while the subscription holds it; kept for safety).
    Removed,
}

/// One subscriber's place in a stream.
pub struct Subscription {
    registry: Arc<Registry>,
    stream: Arc<Stream>,
    id: u64,
    kind: SubscriberKind,
    backlog: VecDeque<Frame>,
    rx: Receiver<Delivery>,
    state: Arc<QueueState>,
    live_at_join: bool,
}

impl Subscription {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        registry: Arc<Registry>,
        stream: Arc<Stream>,
        id: u64,
        kind: SubscriberKind,
        backlog: VecDeque<Frame>,
        rx: Receiver<Delivery>,
        state: Arc<QueueState>,
        live_at_join: bool,
    ) -> Self {
        Subscription {
            registry,
            stream,
            id,
            kind,
            backlog,
            rx,
            state,
            live_at_join,
        }
    }

    /// The stream subscribed to.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// What kind of subscriber this is.
    pub fn kind(&self) -> SubscriberKind {
        self.kind
    }

    /// Frames of the instant-start backlog not yet taken.
    pub fn backlog_len(&self) -> usize {
        self.backlog.len()
    }

    /// Whether a publisher was live when this subscription was made.
    pub fn live_at_join(&self) -> bool {
        self.live_at_join
    }

    /// The doorbell the hub rings when the queue gets something while this subscriber sleeps.
    pub fn doorbell(&self) -> &Doorbell {
        &self.state.doorbell
    }

    /// Whether the backlog and queue are both empty right now.
    pub fn is_empty(&self) -> bool {
        self.backlog.is_empty() && self.rx.is_empty()
    }

    /// Frames the hub did not queue for this subscriber so far (full queue, or video
    /// skipped to the next keyframe): a subscriber that writes what it gets (a recorder)
    /// reads it to say how much it lost.
    pub fn frames_dropped(&self) -> u64 {
        self.state.frames_dropped()
    }

    /// The timestamp of the last frame the hub did not queue for this subscriber, if any:
    /// the recorder says how much media it lost once it writes past it.
    pub fn last_dropped(&self) -> Option<crate::rtmp::Timestamp> {
        self.state.last_dropped()
    }

    /// The eviction, if the hub has cut this subscriber off.
    pub fn eviction(&self) -> Option<Eviction> {
        self.state.eviction()
    }

    /// The next delivery without waiting: the backlog first, then the queue.
    pub fn try_next(&mut self) -> Result<Option<Delivery>, Ended> {
        if let Some(frame) = self.backlog.pop_front() {
            return Ok(Some(Delivery::Frame(frame)));
        }
        match self.rx.try_recv() {
            Ok(delivery) => Ok(Some(self.taken(delivery))),
            Err(TryRecvError::Empty) => match self.eviction() {
                Some(eviction) => Err(Ended::Evicted(eviction)),
                None => Ok(None),
            },
            Err(TryRecvError::Disconnected) => Err(self.ended()),
        }
    }

    /// The next delivery, waiting up to `timeout` for one: for subscribers on a thread of
    /// their own that may block (pushes, recorders).
    pub fn wait(&mut self, timeout: Duration) -> Result<Option<Delivery>, Ended> {
        if let Some(frame) = self.backlog.pop_front() {
            return Ok(Some(Delivery::Frame(frame)));
        }
        if let Some(eviction) = self.eviction() {
            return Err(Ended::Evicted(eviction));
        }
        match self.rx.recv_timeout(timeout) {
            Ok(delivery) => Ok(Some(self.taken(delivery))),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(self.ended()),
        }
    }

    /// Takes a received delivery off the queue's byte count.
    fn taken(&self, delivery: Delivery) -> Delivery {
        if let Delivery::Frame(frame) = &delivery {
            self.state.take(frame.len());
        }
        delivery
    }

    fn ended(&self) -> Ended {
        self.eviction().map_or(Ended::Removed, Ended::Evicted)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.registry.leave(&self.stream, self.id);
    }
}
