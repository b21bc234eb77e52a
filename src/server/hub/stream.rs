//! One stream of the hub: its publisher, its instant-start cache and its subscribers.
//!
//! A publisher's `push` updates the cache and `try_send`s a clone of the frame (a pointer
//! copy) to each subscriber's bounded queue under the stream's lock. It never waits: a full
//! queue makes that subscriber skip video until the next keyframe, and one that stays behind
//! longer than its limit is cut off. A subscriber joins with a snapshot of the cache taken
//! under the same lock as its registration, so it sees no gap and no duplicate.
//!
//! Waking a subscriber's thread costs more than sending it a frame (a context switch each,
//! dear on small boards and in VMs), so while video flows an audio frame does not ring the
//! doorbell: it waits in the queue and goes out with the next video frame (in the same TLS
//! record and socket write). See `AUDIO_RIDES_WITH_VIDEO`.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::rtmp::Timestamp;

use super::delivery::Delivery;
use super::frame_tracks::FrameTracks;
use super::limits::HubLimits;
use super::live_publisher::LivePublisher;
use super::media_info::MediaInfo;
use super::publisher::PublisherSlot;
use super::start_cache::StartCache;
use super::stream_stats::StreamStats;
use super::subscriber::{Offered, Subscriber, SubscriberKind};
use super::track_table::{TrackInfo, TrackTable};
use crate::server::frame::{Frame, FrameKind};

/// Audio rings no doorbell while a video frame was pushed within this long: it goes out with
/// the next video frame, less than a frame interval later (33 ms at 30 fps). If video stops,
/// the first audio frame pushed this long after the last video frame rings, and every one
/// after it; audio-only streams and video slower than 20 frames a second ring for every
/// audio frame.
///
/// Video frames cross the player's link at the same moment as before; only audio, which a
/// player buffers ahead anyway, waits. At 30 fps with 48 kHz AAC this wakes a player 30
/// times a second instead of 77.
const AUDIO_RIDES_WITH_VIDEO: Duration = Duration::from_millis(50);

/// What a stream holds under its lock.
#[derive(Default)]
pub(super) struct StreamState {
    /// The session publishing it, if any.
    pub(super) publisher: Option<PublisherSlot>,
    pub(super) cache: StartCache,
    pub(super) subscribers: Vec<Subscriber>,
    /// The tracks of the current publication and their codecs.
    pub(super) tracks: TrackTable,
    /// Timestamps of the current publisher are moved by this much (wrapping), so that after
    /// a takeover the stream's timeline goes on from where the old publisher left it.
    ts_offset: u32,
    /// The next frame sets `ts_offset` (a takeover happened).
    rebase: bool,
    /// The last timestamp handed out.
    last_ts: Option<Timestamp>,
    /// When the last video frame was pushed.
    last_video: Option<Instant>,
}

impl StreamState {
    /// Whether session `id` is the publisher.
    pub(super) fn is_publisher(&self, id: u64) -> bool {
        self.publisher.as_ref().is_some_and(|p| p.info.id == id)
    }

    /// A new publisher starts: with `continue_timeline` (a takeover) its timestamps are moved
    /// to go on from the last one handed out, else they are taken as they come.
    pub(super) fn restart_timeline(&mut self, continue_timeline: bool) {
        self.last_video = None;
        self.ts_offset = 0;
        self.rebase = continue_timeline && self.last_ts.is_some();
    }

    /// Whether `frame`, pushed at `now`, should wake subscribers that sleep: not audio while
    /// video flows (see `AUDIO_RIDES_WITH_VIDEO`).
    fn rings(&mut self, frame: &Frame, now: Instant) -> bool {
        match frame.kind {
            FrameKind::Video => {
                self.last_video = Some(now);
                true
            }
            FrameKind::Audio => self
                .last_video
                .is_none_or(|at| now.saturating_duration_since(at) > AUDIO_RIDES_WITH_VIDEO),
            FrameKind::Metadata | FrameKind::Data => true,
        }
    }

    /// The timestamp `frame` goes out with.
    fn timeline(&mut self, ts: Timestamp) -> Timestamp {
        if self.rebase {
            self.rebase = false;
            let last = self.last_ts.map_or(0, |t| t.0);
            self.ts_offset = last.wrapping_add(1).wrapping_sub(ts.0);
        }
        let out = Timestamp(ts.0.wrapping_add(self.ts_offset));
        self.last_ts = Some(out);
        out
    }
}

/// One stream, live or waited for.
pub struct Stream {
    name: String,
    limits: HubLimits,
    state: Mutex<StreamState>,
    stats: StreamStats,
    media: MediaInfo,
    /// Set and cleared with `StreamState::publisher`, under its own lock so operators'
    /// readers never take the data path's.
    live_publisher: Mutex<Option<LivePublisher>>,
    /// A copy of `StreamState::tracks`' list for readers, likewise under its own lock; the
    /// data path takes it only when a track appears or changes codec.
    track_list: Mutex<Vec<TrackInfo>>,
}

impl Stream {
    pub(super) fn new(name: &str, limits: HubLimits) -> Self {
        Stream {
            name: name.to_string(),
            limits,
            state: Mutex::new(StreamState::default()),
            stats: StreamStats::default(),
            media: MediaInfo::default(),
            live_publisher: Mutex::new(None),
            track_list: Mutex::new(Vec::new()),
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

    /// What it carries, as far as its sequence headers and metadata tell.
    pub fn media(&self) -> &MediaInfo {
        &self.media
    }

    /// Who publishes it now and since when, without taking the stream's lock.
    pub fn live_publisher(&self) -> Option<LivePublisher> {
        *self
            .live_publisher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Records who publishes it now (None: nobody); the media description starts afresh.
    pub(super) fn set_live_publisher(&self, publisher: Option<LivePublisher>) {
        *self
            .live_publisher
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = publisher;
        self.media.clear();
        self.track_list().clear();
    }

    fn track_list(&self) -> MutexGuard<'_, Vec<TrackInfo>> {
        self.track_list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands one frame from publisher `publisher`, pushed at `now`, to the cache and to every
    /// subscriber; never blocks. A frame from a session that is no longer the publisher (one
    /// that was taken over) is dropped.
    ///
    /// Returns the size the current GOP would have reached when this frame made it too
    /// long for the GOP cache (once per GOP), so the caller can log it.
    pub fn push(&self, publisher: u64, mut frame: Frame, now: Instant) -> Option<usize> {
        let tracks = FrameTracks::of(&frame);
        let mut state = self.lock();
        if !state.is_publisher(publisher) {
            return None;
        }
        frame.timestamp = state.timeline(frame.timestamp);
        // The frame rate is the default track's: a rendition ladder is one picture a tick.
        let video_frame = tracks.is_video_media(&frame) && tracks.tracks.contains(0);
        self.stats.pushed(frame.len(), video_frame);
        // Headers and metadata (a few per stream) describe it, in atomics.
        if frame.sequence_header || frame.kind == FrameKind::Metadata {
            self.media.take(&frame);
        }
        if state.tracks.observe(&frame, &tracks) {
            *self.track_list() = state.tracks.list();
        }
        let overflow = state
            .cache
            .take(&frame, &tracks, self.limits.gop_cache_bytes);
        let ring = state.rings(&frame, now);
        self.offer_all(&mut state, |sub| sub.offer(&frame, &tracks, now, ring));
        overflow
    }

    /// The audio and video tracks of the current publication with their codecs, video first
    /// (one track, id 0, of each kind for a legacy stream; none before media arrives).
    ///
    /// Does not take the data path's lock.
    pub fn tracks(&self) -> Vec<TrackInfo> {
        self.track_list().clone()
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
