//! The stream hub: one entry per `app/name`, publishers in, bounded channels out.
//!
//! A publisher's worker calls `Stream::push` for each frame. Under the stream's lock it
//! updates the instant-start caches (metadata, sequence headers, the current GOP) and
//! `try_send`s a clone of the frame (a pointer copy) to each player's bounded channel. It
//! never waits: a full channel makes that player skip video until the next keyframe, and a
//! player that stays behind longer than `slow_player` is cut off. A player joins with a
//! snapshot of the caches taken under the same lock as its registration, so it sees no gap
//! and no duplicate.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::frame::{Frame, FrameKind};

/// What a player's channel carries.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A media frame.
    Frame(Frame),
    /// The publisher left.
    Unpublished,
    /// A publisher arrived.
    Published,
}

/// Wakes a player's worker when its channel goes from empty to non-empty.
pub struct Wakeup {
    armed: AtomicBool,
    waker: mio::Waker,
}

impl Wakeup {
    /// A wakeup that rings `waker`.
    pub fn new(waker: mio::Waker) -> Self {
        Wakeup {
            armed: AtomicBool::new(false),
            waker,
        }
    }

    /// Called by the player before it sleeps; it must look at its channel once more afterwards.
    pub fn arm(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }

    /// Called by the player when it wakes.
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    /// Rings the waker whether or not the player is asleep (shutdown, or a race on arming).
    pub fn force(&self) {
        self.armed.store(false, Ordering::SeqCst);
        let _ = self.waker.wake();
    }

    /// Rings the waker if the player is asleep.
    pub fn ring(&self) {
        if self.armed.swap(false, Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }
}

/// Why the hub cut a player off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Still connected.
    None = 0,
    /// Behind for longer than the slow-player limit.
    TooSlow = 1,
}

/// The part of a subscription both sides see.
pub struct Subscription {
    /// Bytes queued in the channel and not yet taken.
    pub queued_bytes: AtomicUsize,
    eviction: AtomicU8,
    /// How long the player had been behind when it was cut off, in milliseconds.
    behind_ms: AtomicU64,
    /// Frames it had missed when it was cut off.
    dropped: AtomicU64,
    /// Wakes the player.
    pub wakeup: Arc<Wakeup>,
}

impl Subscription {
    /// Why the hub dropped this player, if it did.
    pub fn eviction(&self) -> Eviction {
        match self.eviction.load(Ordering::SeqCst) {
            1 => Eviction::TooSlow,
            _ => Eviction::None,
        }
    }

    /// How long an evicted player had been behind (zero when a notice found its queue full).
    pub fn behind(&self) -> Duration {
        Duration::from_millis(self.behind_ms.load(Ordering::SeqCst))
    }

    /// Frames an evicted player had missed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Records the eviction (the details first, so whoever sees the flag sees them too).
    fn evict(&self, behind: Duration, dropped: u64) {
        let behind_ms = u64::try_from(behind.as_millis()).unwrap_or(u64::MAX);
        self.behind_ms.store(behind_ms, Ordering::SeqCst);
        self.dropped.store(dropped, Ordering::SeqCst);
        self.eviction
            .store(Eviction::TooSlow as u8, Ordering::SeqCst);
        self.wakeup.ring();
    }
}

struct Subscriber {
    id: u64,
    tx: Sender<Delivery>,
    shared: Arc<Subscription>,
    needs_keyframe: bool,
    behind_since: Option<Instant>,
    dropped: u64,
}

/// Bounds of the hub.
#[derive(Debug, Clone, Copy)]
pub struct HubLimits {
    /// GOP bytes cached per stream.
    pub gop_cache_bytes: usize,
    /// Messages per player channel.
    pub queue_len: usize,
    /// Bytes per player channel.
    pub queue_bytes: usize,
    /// How long a player may stay behind.
    pub slow_player: Duration,
    /// Players per stream.
    pub max_players: usize,
}

#[derive(Default)]
struct StreamState {
    publisher: Option<u64>,
    metadata: Option<Frame>,
    video_header: Option<Frame>,
    audio_header: Option<Frame>,
    gop: VecDeque<Frame>,
    gop_bytes: usize,
    gop_overflowed: bool,
    subscribers: Vec<Subscriber>,
}

/// One live stream.
pub struct Stream {
    name: String,
    limits: HubLimits,
    state: Mutex<StreamState>,
}

/// Why joining a stream failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinError {
    /// Someone already publishes on it.
    AlreadyPublishing,
    /// It has as many players as allowed.
    TooManyPlayers {
        /// The limit.
        limit: usize,
    },
}

/// What a new player starts with.
pub struct Joined {
    /// Frames to send first: metadata, sequence headers, the current GOP.
    pub backlog: VecDeque<Frame>,
    /// Live deliveries after the backlog.
    pub rx: Receiver<Delivery>,
    /// The subscription shared with the hub.
    pub subscription: Arc<Subscription>,
    /// Whether a publisher is live right now.
    pub live: bool,
}

fn lock(state: &Mutex<StreamState>) -> MutexGuard<'_, StreamState> {
    // A panicking worker must not take the stream down with it; the state stays consistent
    // because every mutation under the lock is a plain field update.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Stream {
    /// The stream's `app/name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Hands one frame to the caches and to every player; never blocks.
    ///
    /// Returns the size the current GOP would have reached when this frame made it too
    /// long for the GOP cache (once per GOP), so the caller can log it.
    pub fn push(&self, frame: Frame) -> Option<usize> {
        let mut state = lock(&self.state);
        let overflow = state.cache(&frame, self.limits.gop_cache_bytes);
        let now = Instant::now();
        let limits = self.limits;
        state
            .subscribers
            .retain_mut(|sub| sub.offer(&frame, now, &limits));
        overflow
    }

    /// The limits it runs with.
    pub fn limits(&self) -> HubLimits {
        self.limits
    }

    /// Number of players.
    pub fn players(&self) -> usize {
        lock(&self.state).subscribers.len()
    }

    /// Removes player `id`.
    pub fn leave(&self, id: u64) {
        lock(&self.state).subscribers.retain(|s| s.id != id);
    }
}

impl StreamState {
    /// Updates the caches; returns the GOP size that did not fit when `frame` overflows it.
    fn cache(&mut self, frame: &Frame, gop_limit: usize) -> Option<usize> {
        match frame.kind {
            FrameKind::Metadata => self.metadata = Some(frame.clone()),
            FrameKind::Video if frame.sequence_header => {
                self.video_header = Some(frame.clone());
            }
            FrameKind::Audio if frame.sequence_header => {
                self.audio_header = Some(frame.clone());
            }
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

    fn reset_media(&mut self) {
        self.metadata = None;
        self.video_header = None;
        self.audio_header = None;
        self.gop.clear();
        self.gop_bytes = 0;
        self.gop_overflowed = false;
    }
}

impl Subscriber {
    /// Offers `frame`; returns false when the subscriber should be dropped.
    fn offer(&mut self, frame: &Frame, now: Instant, limits: &HubLimits) -> bool {
        let is_video = frame.kind == FrameKind::Video;
        if is_video && self.needs_keyframe && !frame.keyframe && !frame.sequence_header {
            self.dropped += 1;
            return self.still_in_time(now, limits);
        }
        let queued = self.shared.queued_bytes.load(Ordering::SeqCst);
        if queued + frame.len() > limits.queue_bytes {
            return self.fell_behind(is_video, now, limits);
        }
        self.shared
            .queued_bytes
            .fetch_add(frame.len(), Ordering::SeqCst);
        match self.tx.try_send(Delivery::Frame(frame.clone())) {
            Ok(()) => {
                if is_video && frame.keyframe {
                    self.needs_keyframe = false;
                    self.behind_since = None;
                }
                self.shared.wakeup.ring();
                true
            }
            Err(TrySendError::Full(_)) => {
                self.shared
                    .queued_bytes
                    .fetch_sub(frame.len(), Ordering::SeqCst);
                self.fell_behind(is_video, now, limits)
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn fell_behind(&mut self, is_video: bool, now: Instant, limits: &HubLimits) -> bool {
        self.dropped += 1;
        if is_video {
            self.needs_keyframe = true;
        }
        self.behind_since.get_or_insert(now);
        self.still_in_time(now, limits)
    }

    fn still_in_time(&mut self, now: Instant, limits: &HubLimits) -> bool {
        match self.behind_since {
            Some(since) if now.duration_since(since) > limits.slow_player => {
                self.shared.evict(now.duration_since(since), self.dropped);
                false
            }
            _ => true,
        }
    }

    fn notify(&mut self, delivery: Delivery) -> bool {
        match self.tx.try_send(delivery) {
            Ok(()) => {
                self.shared.wakeup.ring();
                true
            }
            // A player too far behind to take a notice is evicted; it would never catch up.
            Err(TrySendError::Full(_)) => {
                let behind = self
                    .behind_since
                    .map(|since| since.elapsed())
                    .unwrap_or_default();
                self.shared.evict(behind, self.dropped);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// The registry of live streams.
pub struct Hub {
    limits: HubLimits,
    streams: Mutex<HashMap<String, Arc<Stream>>>,
}

impl Hub {
    /// An empty hub.
    pub fn new(limits: HubLimits) -> Self {
        Hub {
            limits,
            streams: Mutex::new(HashMap::new()),
        }
    }

    fn streams(&self) -> MutexGuard<'_, HashMap<String, Arc<Stream>>> {
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry for `name`, made if missing; the caller holds the registry lock.
    fn entry(&self, streams: &mut HashMap<String, Arc<Stream>>, name: &str) -> Arc<Stream> {
        streams
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(Stream {
                    name: name.to_string(),
                    limits: self.limits,
                    state: Mutex::new(StreamState::default()),
                })
            })
            .clone()
    }

    /// Number of streams with a publisher or players.
    pub fn stream_count(&self) -> usize {
        self.streams().len()
    }

    /// Makes session `publisher` the publisher of `name`; players waiting on it are told.
    pub fn publish(&self, name: &str, publisher: u64) -> Result<Arc<Stream>, JoinError> {
        // Registry lock first, then the stream's: the one order used everywhere.
        let mut streams = self.streams();
        let stream = self.entry(&mut streams, name);
        {
            let mut state = lock(&stream.state);
            if state.publisher.is_some() {
                return Err(JoinError::AlreadyPublishing);
            }
            state.publisher = Some(publisher);
            state.reset_media();
            state.subscribers.retain_mut(|sub| {
                sub.needs_keyframe = true;
                sub.notify(Delivery::Published)
            });
        }
        Ok(stream)
    }

    /// Ends `publisher`'s publishing of `stream`; players stay and are told.
    pub fn unpublish(&self, stream: &Arc<Stream>, publisher: u64) {
        let mut streams = self.streams();
        {
            let mut state = lock(&stream.state);
            if state.publisher != Some(publisher) {
                return;
            }
            state.publisher = None;
            state.reset_media();
            state
                .subscribers
                .retain_mut(|sub| sub.notify(Delivery::Unpublished));
        }
        Self::forget_if_unused(&mut streams, stream);
    }

    /// Adds player `id` to `name`, with the caches to send it first.
    pub fn join(
        &self,
        name: &str,
        id: u64,
        wakeup: Arc<Wakeup>,
    ) -> Result<(Arc<Stream>, Joined), JoinError> {
        let mut streams = self.streams();
        let stream = self.entry(&mut streams, name);
        let joined = {
            let mut state = lock(&stream.state);
            if state.subscribers.len() >= self.limits.max_players {
                drop(state);
                Self::forget_if_unused(&mut streams, &stream);
                return Err(JoinError::TooManyPlayers {
                    limit: self.limits.max_players,
                });
            }
            let mut backlog: VecDeque<Frame> = VecDeque::with_capacity(3 + state.gop.len());
            backlog.extend(state.metadata.iter().cloned());
            backlog.extend(state.video_header.iter().cloned());
            backlog.extend(state.audio_header.iter().cloned());
            let has_gop = !state.gop.is_empty();
            backlog.extend(state.gop.iter().cloned());
            let (tx, rx) = crossbeam_channel::bounded(self.limits.queue_len);
            let shared = Arc::new(Subscription {
                queued_bytes: AtomicUsize::new(0),
                eviction: AtomicU8::new(Eviction::None as u8),
                behind_ms: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
                wakeup,
            });
            state.subscribers.push(Subscriber {
                id,
                tx,
                shared: shared.clone(),
                needs_keyframe: !has_gop,
                behind_since: None,
                dropped: 0,
            });
            Joined {
                backlog,
                rx,
                subscription: shared,
                live: state.publisher.is_some(),
            }
        };
        Ok((stream, joined))
    }

    /// Removes player `id` from `stream`.
    pub fn leave(&self, stream: &Arc<Stream>, id: u64) {
        let mut streams = self.streams();
        stream.leave(id);
        Self::forget_if_unused(&mut streams, stream);
    }

    fn forget_if_unused(streams: &mut HashMap<String, Arc<Stream>>, stream: &Arc<Stream>) {
        let unused = {
            let state = lock(&stream.state);
            state.publisher.is_none() && state.subscribers.is_empty()
        };
        if unused {
            streams.remove(&stream.name);
        }
    }
}
