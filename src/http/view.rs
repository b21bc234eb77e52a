//! One consistent reading of the server for a response: counters, streams, pushes, memory.
//!
//! Stream names are shown as the hub has them, `app/NAME`: since streams have public names
//! apart from their keys, no key ever names a hub stream (players of any other name are
//! refused before they reach the hub), so nothing here needs redacting.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use super::process::resident_bytes;
use super::rates::{RateSampler, Rates};
use crate::server::hub::{MediaSummary, StreamCounts, TrackInfo};
use crate::server::push_status::PushSnapshot;
use crate::server::shared::Shared;
use crate::server::stats::StatsSnapshot;

/// One stream as operators see it.
#[derive(Debug, Clone)]
pub struct StreamView {
    /// Its name, `app/NAME` (never a key).
    pub name: String,
    /// Whether a publisher is live on it.
    pub live: bool,
    /// The publisher's address, if live.
    pub publisher: Option<SocketAddr>,
    /// When the publisher started, if live.
    pub since: Option<SystemTime>,
    /// How long it has been live.
    pub uptime: Option<Duration>,
    /// Codecs, size and declared frame rate (of the default tracks).
    pub media: MediaSummary,
    /// Every audio and video track with its codec (Enhanced RTMP multitrack), video first.
    pub tracks: Vec<TrackInfo>,
    /// Measured bitrate and frame rate.
    pub rates: Rates,
    /// Counters.
    pub counts: StreamCounts,
    /// Pushes of this stream to upstream servers.
    pub pushes: Vec<PushSnapshot>,
}

/// The whole server at one moment.
#[derive(Debug, Clone)]
pub struct ServerView {
    /// Every stream with a publisher or subscribers, by name.
    pub streams: Vec<StreamView>,
    /// Every push.
    pub pushes: Vec<PushSnapshot>,
    /// Server counters.
    pub stats: StatsSnapshot,
    /// Time since start.
    pub uptime: Duration,
    /// Resident memory, where /proc tells.
    pub resident_bytes: Option<u64>,
}

/// Reads the server now; `sampler` gives the rates.
pub fn gather(shared: &Shared, sampler: &RateSampler, now: Instant) -> ServerView {
    let pushes = shared.pushes.snapshot();
    let mut streams: Vec<StreamView> = shared
        .hub
        .streams()
        .iter()
        .map(|stream| {
            let counts = stream.stats().counts();
            let publisher = stream.live_publisher().filter(|_| counts.live);
            StreamView {
                name: stream.name().to_string(),
                live: counts.live,
                publisher: publisher.map(|p| p.address),
                since: publisher.map(|p| p.since),
                uptime: publisher.map(|p| now.saturating_duration_since(p.started)),
                media: stream.media().summary(),
                tracks: stream.tracks(),
                rates: if counts.live {
                    sampler.rates(stream)
                } else {
                    Rates::default()
                },
                counts,
                pushes: Vec::new(),
            }
        })
        .collect();
    for stream in &mut streams {
        stream.pushes = pushes
            .iter()
            .filter(|p| p.stream == stream.name)
            .cloned()
            .collect();
    }
    ServerView {
        streams,
        pushes,
        stats: shared.stats.snapshot(),
        uptime: now.saturating_duration_since(shared.started),
        resident_bytes: resident_bytes(),
    }
}
