//! What a new subscriber starts with: the latest metadata, the configuration of every track
//! (sequence headers, video Metadata, audio MultichannelConfig) and the current GOP of a
//! stream, so it can decode every track from its first frame.
//!
//! Multitrack (enhanced RTMP): each audio and video track has its own configuration, kept
//! apart. The GOP starts on a keyframe of the anchor track, the lowest video track id seen
//! (track 0, the default track, for FFmpeg and OBS). Another video track's frames enter the
//! GOP only from that track's own first keyframe in it: a player that starts on the cached
//! GOP could not decode the ones before. Keyframes of different tracks need not be aligned;
//! with the encoders' usual equal GOP lengths they come one message apart.

use std::collections::VecDeque;

use super::frame_tracks::{Config, FrameTracks};
use crate::rtmp::media::TrackSet;
use crate::server::frame::{Frame, FrameKind};

/// Most configuration frames kept (each may cover several tracks); past it the oldest goes.
pub(super) const MAX_CONFIGS: usize = 32;

/// One configuration frame and the tracks it configures.
struct ConfigEntry {
    kind: FrameKind,
    config: Config,
    tracks: TrackSet,
    frame: Frame,
}

/// The instant-start cache of one stream, bounded by the GOP byte limit and `MAX_CONFIGS`.
#[derive(Default)]
pub(super) struct StartCache {
    metadata: Option<Frame>,
    /// Configuration frames in arrival order; a newer one replaces those it covers.
    configs: VecDeque<ConfigEntry>,
    gop: VecDeque<Frame>,
    gop_bytes: usize,
    gop_overflowed: bool,
    /// The lowest video track id seen: the GOP restarts on its keyframes.
    anchor: Option<u8>,
    /// Video tracks whose frames in `gop` start on one of their own keyframes.
    gop_synced: TrackSet,
}

impl StartCache {
    /// Takes `frame` (with its `tracks`) into the cache; returns the GOP size that did not
    /// fit, once per GOP, when `frame` makes the current GOP longer than `gop_limit` bytes.
    pub(super) fn take(
        &mut self,
        frame: &Frame,
        tracks: &FrameTracks,
        gop_limit: usize,
    ) -> Option<usize> {
        if frame.kind == FrameKind::Metadata {
            self.metadata = Some(frame.clone());
            return None;
        }
        if let Some(config) = tracks.config {
            self.keep_config(frame, config, tracks.tracks);
            return None;
        }
        let video = frame.kind == FrameKind::Video;
        if video {
            if let Some(lowest) = tracks.tracks.first() {
                if self.anchor.is_none_or(|anchor| lowest < anchor) {
                    self.anchor = Some(lowest);
                }
            }
            let anchored = self.anchor.is_some_and(|a| tracks.tracks.contains(a));
            if frame.keyframe && anchored {
                self.gop.clear();
                self.gop_bytes = 0;
                self.gop_overflowed = false;
                self.gop_synced = TrackSet::EMPTY;
            } else if self.gop.is_empty() {
                return None;
            }
        }
        if self.gop_overflowed || (self.gop.is_empty() && !video) {
            return None;
        }
        if video {
            if frame.keyframe {
                self.gop_synced = self.gop_synced.union(tracks.tracks);
            } else if !tracks.tracks.is_subset_of(&self.gop_synced) {
                // A track not yet keyed in this GOP: a new player could not decode this.
                self.gop_synced = self.gop_synced.without(tracks.tracks);
                return None;
            }
        }
        let seen = self.gop_bytes + frame.len();
        if seen > gop_limit {
            // Too long a GOP to keep whole: keep none, and let new players wait for
            // the next keyframe rather than start on a broken one.
            self.gop.clear();
            self.gop_bytes = 0;
            self.gop_overflowed = true;
            self.gop_synced = TrackSet::EMPTY;
            return Some(seen);
        }
        self.gop_bytes = seen;
        self.gop.push_back(frame.clone());
        None
    }

    /// Keeps a configuration frame, dropping older ones of the same kind that it covers.
    fn keep_config(&mut self, frame: &Frame, config: Config, tracks: TrackSet) {
        self.configs.retain(|entry| {
            !(entry.kind == frame.kind
                && entry.config == config
                && entry.tracks.is_subset_of(&tracks))
        });
        if self.configs.len() == MAX_CONFIGS {
            self.configs.pop_front();
        }
        self.configs.push_back(ConfigEntry {
            kind: frame.kind,
            config,
            tracks,
            frame: frame.clone(),
        });
    }

    /// Forgets everything (the publisher left or a new one came).
    pub(super) fn clear(&mut self) {
        *self = StartCache::default();
    }

    /// The video tracks a subscriber starting on the snapshot can decode from its first
    /// frame on; empty when no GOP is cached.
    pub(super) fn synced_tracks(&self) -> TrackSet {
        if self.gop.is_empty() {
            TrackSet::EMPTY
        } else {
            self.gop_synced
        }
    }

    /// The frames a new subscriber gets first: metadata, every configuration, the current GOP.
    pub(super) fn snapshot(&self) -> VecDeque<Frame> {
        let mut backlog = VecDeque::with_capacity(1 + self.configs.len() + self.gop.len());
        backlog.extend(self.metadata.iter().cloned());
        backlog.extend(self.configs.iter().map(|entry| entry.frame.clone()));
        backlog.extend(self.gop.iter().cloned());
        backlog
    }
}
