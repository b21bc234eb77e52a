//! One stream of the hub: its publisher, its instant-start cache and its subscribers.
//!
//! A publisher's `push` updates the cache and `try_send`s a clone of the frame (a pointer
//! copy) to each subscriber's bounded queue under the stream's lock. It never waits: a full
//! queue makes that subscriber skip video until the next keyframe, and one that stays behind
//! longer than its limit is cut off. A subscriber joins with a snapshot of the cache taken
//! under the same lock as its registration, so it sees no gap and no duplicate.

use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use super::delivery::Delivery;
use super::frame_tracks::FrameTracks;
use super::limits::HubLimits;
use super::start_cache::StartCache;
use super::stream_stats::StreamStats;
use super::subscriber::{Offered, Subscriber, SubscriberKind};
use super::track_table::{TrackInfo, TrackTable};
use crate::server::frame::Frame;

/// What a stream holds under its lock.
#[derive(Default)]
pub(super) struct StreamState {
    /// The session publishing it, if any.
    pub(super) publisher: Option<u64>,
    pub(super) cache: StartCache,
    pub(super) subscribers: Vec<Subscriber>,
    /// The tracks of the current publication and their codecs.
    pub(super) tracks: TrackTable,
}

/// One stream, live or waited for.
pub struct Stream {
    name: String,
    limits: HubLimits,
    state: Mutex<StreamState>,
    stats: StreamStats,
}

impl Stream {
    pub(super) fn new(name: &str, limits: HubLimits) -> Self {
        Stream {
            name: name.to_string(),
            limits,
            state: Mutex::new(StreamState::default()),
            stats: StreamStats::default(),
        }
    }

    /// The stream's `app/name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limits it runs with.
    pub fn limits(&self) -> HubLimits {
        self.limits
    }

    /// Its counters.
    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// Hands one frame, pushed at `now`, to the cache and to every subscriber; never blocks.
    ///
    /// Returns the size the current GOP would have reached when this frame made it too
    /// long for the GOP cache (once per GOP), so the caller can log it.
    pub fn push(&self, frame: Frame, now: Instant) -> Option<usize> {
        let tracks = FrameTracks::of(&frame);
        let mut state = self.lock();
        self.stats.pushed(frame.len());
        state.tracks.observe(&frame, &tracks);
        let overflow = state
            .cache
            .take(&frame, &tracks, self.limits.gop_cache_bytes);
        self.offer_all(&mut state, |sub| sub.offer(&frame, &tracks, now));
        overflow
    }

    /// The audio and video tracks of the current publication with their codecs, video first
    /// (one track, id 0, of each kind for a legacy stream; none before media arrives).
    pub fn tracks(&self) -> Vec<TrackInfo> {
        self.lock().tracks.list()
    }

    /// Locks the state. A panicking worker must not take the stream down with it; the state
    /// stays consistent because every mutation under the lock is a plain field update.
    pub(super) fn lock(&self) -> MutexGuard<'_, StreamState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Offers something to every subscriber with `offer`, removes those it cut off or found
    /// closed, and counts drops and evictions.
    fn offer_all(
        &self,
        state: &mut StreamState,
        mut offer: impl FnMut(&mut Subscriber) -> Offered,
    ) {
        let mut changed = false;
        state.subscribers.retain_mut(|sub| match offer(sub) {
            Offered::Sent => true,
            Offered::Dropped => {
                self.stats.dropped(1);
                true
            }
            Offered::Evicted => {
                self.stats.evicted();
                changed = true;
                false
            }
            Offered::Closed => {
                changed = true;
                false
            }
        });
        if changed {
            self.recount(state);
        }
    }

    /// Updates the member counters after a change.
    pub(super) fn recount(&self, state: &StreamState) {
        let players = state
            .subscribers
            .iter()
            .filter(|s| s.kind == SubscriberKind::Player)
            .count();
        self.stats.set_members(players, state.subscribers.len());
        self.stats.set_live(state.publisher.is_some());
    }

    /// Sends `delivery` to every subscriber; those too far behind to take it are cut off.
    pub(super) fn notify_all(&self, state: &mut StreamState, delivery: &Delivery, now: Instant) {
        self.offer_all(state, |sub| sub.notify(delivery.clone(), now));
    }
}
