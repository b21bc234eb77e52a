//! A push's place in the hub: its subscription to the pushed stream, made again whenever the
//! push needs a fresh start (an upstream went live, or the hub cut the push off for falling
//! behind), and the notices it carries (the local stream went live or ended).
//!
//! A push is a subscriber like a player: the same bounded queue and slow-subscriber policy.
//! Each subscription gets a new subscriber id, since the hub removes a subscriber by id.

use std::sync::Arc;

use super::timeline::Timeline;
use super::upstream::FrameSource;
use crate::server::frame::Frame;
use crate::server::hub::{
    Delivery, Doorbell, Ended, Eviction, QueueLimits, SubscriberKind, Subscription,
};
use crate::server::shared::Shared;

/// Something about the stream the push must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Notice {
    /// The local stream ended.
    Unpublished,
    /// The hub cut this push off for staying behind.
    Evicted(Eviction),
}

/// The push's subscription and what it learned from it.
pub(super) struct Feed {
    shared: Arc<Shared>,
    hub_name: String,
    queue: QueueLimits,
    doorbell: Arc<Doorbell>,
    subscription: Option<Subscription>,
    live: bool,
    notice: Option<Notice>,
}

impl Feed {
    /// A feed of hub stream `hub_name`, not yet subscribed.
    pub(super) fn new(
        shared: Arc<Shared>,
        hub_name: String,
        queue: QueueLimits,
        doorbell: Arc<Doorbell>,
    ) -> Feed {
        Feed {
            shared,
            hub_name,
            queue,
            doorbell,
            subscription: None,
            live: false,
            notice: None,
        }
    }

    /// Subscribes anew: the old queue is dropped, the new one starts with the stream's start
    /// cache (metadata, sequence headers, the current GOP).
    pub(super) fn subscribe(&mut self) {
        self.subscription = None;
        self.notice = None;
        let id = self.shared.next_id();
        let joined = self.shared.hub.subscribe(
            &self.hub_name,
            id,
            SubscriberKind::Push,
            self.queue,
            self.doorbell.clone(),
        );
        // Only players are limited per stream; a push always joins.
        if let Ok(subscription) = joined {
            self.live = subscription.live_at_join();
            self.subscription = Some(subscription);
        }
    }

    /// Whether the local stream is live, as far as the deliveries taken so far tell.
    pub(super) fn is_live(&self) -> bool {
        self.live
    }

    /// Frames of the start cache waiting at the head of the subscription.
    pub(super) fn backlog_len(&self) -> usize {
        self.subscription
            .as_ref()
            .map_or(0, Subscription::backlog_len)
    }

    /// The notice taken last, if any, now handed over.
    pub(super) fn take_notice(&mut self) -> Option<Notice> {
        self.notice.take()
    }

    /// Keeps `notice` for the next `take_notice`.
    pub(super) fn put_back(&mut self, notice: Notice) {
        self.notice = Some(notice);
    }

    /// Whether nothing waits in the subscription (to be checked after arming the doorbell).
    pub(super) fn is_empty(&self) -> bool {
        self.subscription
            .as_ref()
            .is_none_or(Subscription::is_empty)
    }

    /// Takes everything waiting, dropping frames (nothing is being sent), and notes whether
    /// the stream is live.
    pub(super) fn drain(&mut self) {
        while self.take().is_some() {}
    }

    /// The next delivery's frame, or None when the queue is empty or a notice stops the flow.
    fn take(&mut self) -> Option<Frame> {
        if self.notice.is_some() {
            return None;
        }
        let subscription = self.subscription.as_mut()?;
        loop {
            match subscription.try_next() {
                Ok(Some(Delivery::Frame(frame))) => return Some(frame),
                Ok(Some(Delivery::Published)) => self.live = true,
                Ok(Some(Delivery::Unpublished)) => {
                    self.live = false;
                    self.notice = Some(Notice::Unpublished);
                    return None;
                }
                Ok(None) => return None,
                Err(Ended::Evicted(eviction)) => {
                    self.notice = Some(Notice::Evicted(eviction));
                    return None;
                }
                Err(Ended::Removed) => {
                    // Never while a subscription holds its stream; start over if it happens.
                    self.subscribe();
                    return None;
                }
            }
        }
    }
}

/// Frames for a live upstream: the feed's frames that `timeline` admits, with its timestamps.
pub(super) struct Sending<'a> {
    /// The feed.
    pub(super) feed: &'a mut Feed,
    /// The connection's timeline; None until the push has re-subscribed for a fresh start.
    pub(super) timeline: Option<&'a mut Timeline>,
}

impl FrameSource for Sending<'_> {
    fn next_frame(&mut self) -> Option<Frame> {
        let timeline = self.timeline.as_deref_mut()?;
        loop {
            let frame = self.feed.take()?;
            if let Some(timestamp) = timeline.admit(&frame) {
                return Some(Frame { timestamp, ..frame });
            }
        }
    }
}
