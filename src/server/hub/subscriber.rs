//! The hub's side of one subscriber: its queue's sending end and the slow-subscriber policy.
//!
//! The policy is the same for players, pushes and recorders: a frame that does not fit the
//! queue (by count or bytes) is dropped, video is then skipped up to the next keyframe so the
//! subscriber resumes on a decodable picture, and a subscriber that stays behind longer than
//! its limit is cut off.
//!
//! "Up to the next keyframe" is per video track (enhanced-RTMP multitrack): the subscriber
//! keeps the set of tracks it can decode (`synced`). A dropped video frame takes its tracks
//! out of the set; a frame of a track out of the set is skipped, unless it is a keyframe,
//! which puts its tracks back. A message is one keyframe for all of its tracks (one frame type
//! in byte 0, per the specification), and FFmpeg and OBS send one track per message, so each
//! track resumes on its own next keyframe and every track is decodable again once each has
//! had one. Configuration frames (sequence headers, video Metadata) are never skipped for a
//! keyframe. Legacy streams have one track, 0, and behave as before.

use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Sender, TrySendError};

use super::delivery::Delivery;
use super::frame_tracks::FrameTracks;
use super::queue_state::QueueState;
use crate::rtmp::Timestamp;
use crate::rtmp::media::TrackSet;
use crate::server::frame::Frame;

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
    /// Video tracks this subscriber can decode; frames of others wait for their keyframe.
    synced: TrackSet,
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
        synced: TrackSet,
    ) -> Self {
        Subscriber {
            id,
            kind,
            tx,
            state,
            synced,
            behind_since: None,
            dropped: 0,
        }
    }

    /// Video must wait for a keyframe on every track (a new publisher is coming).
    pub(super) fn unsync(&mut self) {
        self.synced = TrackSet::EMPTY;
    }

    /// Offers `frame`, which carries `tracks`, at time `now`; `ring`: wake the subscriber if
    /// it sleeps (else the frame waits for the next one that does).
    pub(super) fn offer(
        &mut self,
        frame: &Frame,
        tracks: &FrameTracks,
        now: Instant,
        ring: bool,
    ) -> Offered {
        let video = tracks.is_video_media(frame);
        if video && !frame.keyframe && !tracks.tracks.is_subset_of(&self.synced) {
            // Some of its tracks wait for a keyframe; the others lose this frame, so they must too.
            self.synced = self.synced.without(tracks.tracks);
            self.dropped += 1;
            self.state.dropped_one(frame.timestamp);
            return self.still_in_time(now);
        }
        let limits = self.state.limits();
        if self.state.queued_bytes() + frame.len() > limits.bytes {
            return self.fell_behind(frame.timestamp, video.then_some(tracks.tracks), now);
        }
        self.state.add(frame.len());
        match self.tx.try_send(Delivery::Frame(frame.clone())) {
            Ok(()) => {
                if video && frame.keyframe {
                    self.synced = self.synced.union(tracks.tracks);
                    self.behind_since = None;
                }
                if ring {
                    self.state.doorbell.ring();
                }
                Offered::Sent
            }
            Err(TrySendError::Full(_)) => {
                self.state.take(frame.len());
                self.fell_behind(frame.timestamp, video.then_some(tracks.tracks), now)
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

    /// Counts a frame of timestamp `ts` that did not fit; `video` holds the tracks of a
    /// dropped video frame.
    fn fell_behind(&mut self, ts: Timestamp, video: Option<TrackSet>, now: Instant) -> Offered {
        self.dropped += 1;
        self.state.dropped_one(ts);
        if let Some(tracks) = video {
            self.synced = self.synced.without(tracks);
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
