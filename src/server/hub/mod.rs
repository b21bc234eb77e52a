//! The stream hub: one stream per `app/name`, one publisher in, any number of subscribers out.
//!
//! This is the seam every consumer of a live stream plugs into. A publisher gets a
//! `Publication` and pushes `Frame`s; a player, a push to an upstream server or a recorder
//! gets a `Subscription` with the same bounded queue and the same slow-subscriber policy
//! (see `subscriber`), and tells the hub how to wake it with a `Wake`. Neither side ever
//! waits for the other.
//!
//! Locks: the registry's, then a stream's, always in that order. `Stream::push`, the data
//! path, takes only its stream's lock.

mod delivery;
mod error;
mod eviction;
mod frame_tracks;
mod limits;
mod live_publisher;
mod media_info;
mod publication;
mod publisher;
mod queue_state;
mod start_cache;
mod stream;
mod stream_stats;
mod subscriber;
mod subscription;
mod track_table;
mod wake;

#[cfg(test)]
mod tests;

pub use delivery::Delivery;
pub use error::{JoinError, PublishError};
pub use eviction::Eviction;
pub use frame_tracks::{Config as TrackConfig, FrameTracks};
pub use limits::{HubLimits, QueueLimits};
pub use live_publisher::LivePublisher;
pub use media_info::{MediaInfo, MediaSummary};
pub use publication::Publication;
pub use publisher::{PublisherInfo, Takeover};
pub use stream::Stream;
pub use stream_stats::{StreamCounts, StreamStats};
pub use subscriber::SubscriberKind;
pub use subscription::{Ended, Subscription};
pub use track_table::TrackInfo;
pub use wake::{Doorbell, NoWake, Wake};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use publisher::PublisherSlot;
use queue_state::QueueState;
use subscriber::Subscriber;

/// The registry of streams, shared by the hub and the handles it gives out.
struct Registry {
    limits: HubLimits,
    streams: Mutex<HashMap<String, Arc<Stream>>>,
}

/// The registry of live streams.
#[derive(Clone)]
pub struct Hub {
    registry: Arc<Registry>,
}

impl Hub {
    /// An empty hub.
    pub fn new(limits: HubLimits) -> Self {
        Hub {
            registry: Arc::new(Registry {
                limits,
                streams: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Number of streams with a publisher or subscribers.
    pub fn stream_count(&self) -> usize {
        self.registry.streams().len()
    }

    /// Every stream with a publisher or subscribers, sorted by name.
    pub fn streams(&self) -> Vec<Arc<Stream>> {
        let mut streams: Vec<Arc<Stream>> = self.registry.streams().values().cloned().collect();
        streams.sort_by(|a, b| a.name().cmp(b.name()));
        streams
    }

    /// Makes `publisher` the publisher of `name`; subscribers waiting on it are told.
    ///
    /// When the stream is live already and `takeover` is on, the new publisher replaces the
    /// old one at once: the old one's `Publication` learns it (`taken_over_by`) and its
    /// `doorbell` is rung, its later frames are dropped, the cache restarts, and subscribers
    /// stay, hear nothing, and continue from the new publisher's sequence headers and first
    /// keyframe on an unbroken timeline. Returns the publication and the publisher replaced.
    pub fn publish(
        &self,
        name: &str,
        publisher: PublisherInfo,
        doorbell: Arc<Doorbell>,
        takeover: bool,
    ) -> Result<(Publication, Option<PublisherInfo>), PublishError> {
        let registry = &self.registry;
        let mut streams = registry.streams();
        let stream = registry.entry(&mut streams, name);
        let now = Instant::now();
        let handle = Takeover::new(doorbell);
        let replaced = {
            let mut state = stream.lock();
            let replaced = match &state.publisher {
                Some(old) if !takeover => return Err(PublishError::AlreadyLive { by: old.info }),
                Some(old) => {
                    old.takeover.happened(publisher);
                    Some(old.info)
                }
                None => None,
            };
            state.publisher = Some(PublisherSlot {
                info: publisher,
                takeover: handle.clone(),
            });
            stream.set_live_publisher(Some(LivePublisher::started_at(publisher.peer, now)));
            state.restart_timeline(replaced.is_some());
            state.cache.clear();
            state.tracks.clear();
            for sub in &mut state.subscribers {
                sub.unsync();
            }
            if replaced.is_none() {
                stream.notify_all(&mut state, &Delivery::Published, now);
            }
            stream.recount(&state);
            replaced
        };
        let publication = Publication::new(registry.clone(), stream, publisher.id, handle);
        Ok((publication, replaced))
    }

    /// Adds subscriber `id` of `kind` to `name`, with the cache to send it first.
    ///
    /// `doorbell` wakes it when its queue gets something; `queue` bounds the queue.
    pub fn subscribe(
        &self,
        name: &str,
        id: u64,
        kind: SubscriberKind,
        queue: QueueLimits,
        doorbell: Arc<Doorbell>,
    ) -> Result<Subscription, JoinError> {
        let registry = &self.registry;
        let mut streams = registry.streams();
        let stream = registry.entry(&mut streams, name);
        let mut state = stream.lock();
        let limit = registry.limits.max_players;
        if kind == SubscriberKind::Player && stream.stats().counts().players >= limit {
            drop(state);
            Registry::forget_if_unused(&mut streams, &stream);
            return Err(JoinError::TooManyPlayers { limit });
        }
        let backlog = state.cache.snapshot();
        let (tx, rx) = crossbeam_channel::bounded(queue.len);
        let queue_state = Arc::new(QueueState::new(queue, doorbell));
        // Video of the tracks the cached GOP starts on a keyframe flows at once; every other
        // track waits for its next keyframe.
        let synced = state.cache.synced_tracks();
        state
            .subscribers
            .push(Subscriber::new(id, kind, tx, queue_state.clone(), synced));
        stream.recount(&state);
        let live = state.publisher.is_some();
        drop(state);
        drop(streams);
        Ok(Subscription::new(
            registry.clone(),
            stream,
            id,
            kind,
            backlog,
            rx,
            queue_state,
            live,
        ))
    }
}

impl Registry {
    fn streams(&self) -> MutexGuard<'_, HashMap<String, Arc<Stream>>> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `name`, made if missing; the caller holds the registry lock.
    fn entry(&self, streams: &mut HashMap<String, Arc<Stream>>, name: &str) -> Arc<Stream> {
        streams
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(Stream::new(name, self.limits)))
            .clone()
    }

    /// Ends `publisher`'s publishing of `stream`; subscribers stay and are told.
    fn unpublish(&self, stream: &Arc<Stream>, publisher: u64, now: Instant) {
        let mut streams = self.streams();
        {
            let mut state = stream.lock();
            if !state.is_publisher(publisher) {
                return;
            }
            state.publisher = None;
            stream.set_live_publisher(None);
            state.cache.clear();
            state.tracks.clear();
            stream.notify_all(&mut state, &Delivery::Unpublished, now);
            stream.recount(&state);
        }
        Self::forget_if_unused(&mut streams, stream);
    }

    /// Removes subscriber `id` from `stream`.
    fn leave(&self, stream: &Arc<Stream>, id: u64) {
        let mut streams = self.streams();
        {
            let mut state = stream.lock();
            state.subscribers.retain(|s| s.id != id);
            stream.recount(&state);
        }
        Self::forget_if_unused(&mut streams, stream);
    }

    fn forget_if_unused(streams: &mut HashMap<String, Arc<Stream>>, stream: &Arc<Stream>) {
        let unused = {
            let state = stream.lock();
            state.publisher.is_none() && state.subscribers.is_empty()
        };
        // Only the registered stream of that name: a stale handle must not remove a new one.
        if unused
            && streams
                .get(stream.name())
                .is_some_and(|current| Arc::ptr_eq(current, stream))
        {
            streams.remove(stream.name());
        }
    }
}
