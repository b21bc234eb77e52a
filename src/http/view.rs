//! One consistent reading of the server for a response: counters, streams, pushes, memory.
//!
//! Everything shown outside goes through here, so stream names are made public in one place
//! (`stream_name::public_name`) before any renderer sees them.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use super::process::resident_bytes;
use super::rates::{RateSampler, Rates};
use super::stream_name::{numbered_apart, public_name};
use crate::server::hub::{MediaSummary, StreamCounts};
use crate::server::push_status::PushSnapshot;
use crate::server::shared::Shared;
use crate::server::stats::StatsSnapshot;

/// One stream as operators see it.
#[derive(Debug, Clone)]
pub struct StreamView {
    /// Its public name (never a key).
    pub name: String,
    /// Whether a publisher is live on it.
    pub live: bool,
    /// The publisher's address, if live.
    pub publisher: Option<SocketAddr>,
    /// When the publisher started, if live.
    pub since: Option<SystemTime>,
    /// How long it has been live.
    pub uptime: Option<Duration>,
    /// Codecs, size and declared frame rate.
    pub media: MediaSummary,
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
    /// Every push, with public stream names.
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
    let mut pushes = shared.pushes.snapshot();
    let mut streams: Vec<StreamView> = shared
        .hub
        .streams()
        .iter()
        .map(|stream| {
            let counts = stream.stats().counts();
            let publisher = stream.publisher().filter(|_| counts.live);
            StreamView {
                name: stream.name().to_string(),
                live: counts.live,
                publisher: publisher.and_then(|p| p.address),
                since: publisher.map(|p| p.since),
                uptime: publisher.map(|p| now.saturating_duration_since(p.started)),
                media: stream.media().summary(),
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
    // From here on only public names.
    let mut names: Vec<String> = streams.iter().map(|s| public_name(&s.name)).collect();
    numbered_apart(&mut names);
    for push in &mut pushes {
        push.stream = streams
            .iter()
            .zip(&names)
            .find(|(s, _)| s.name == push.stream)
            .map_or_else(|| public_name(&push.stream), |(_, name)| name.clone());
    }
    for (stream, name) in streams.iter_mut().zip(names) {
        for push in &mut stream.pushes {
            push.stream = name.clone();
        }
        stream.name = name;
    }
    ServerView {
        streams,
        pushes,
        stats: shared.stats.snapshot(),
        uptime: now.saturating_duration_since(shared.started),
        resident_bytes: resident_bytes(),
    }
}
