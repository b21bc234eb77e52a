//! Bitrate and frame rate per stream, measured from the hub's counters over a short window.
//!
//! The listener's thread samples every stream's byte and video-frame counters once a
//! second; a rate is the difference between the newest and the oldest sample in the window
//! over the time between them. The hub is only read (atomics), never told anything.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::server::hub::Stream;

/// Samples kept per stream: the newest and the one `WINDOW - 1` samples before it.
pub const WINDOW: usize = 6;
/// Shortest span a rate is computed over.
const MIN_SPAN: Duration = Duration::from_millis(500);

/// Rates measured for one stream; `None` until two samples far enough apart exist.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    /// Payload bits received per second.
    pub bits_per_second: Option<f64>,
    /// Coded video frames received per second.
    pub frames_per_second: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    bytes: u64,
    video_frames: u64,
}

/// The last `WINDOW` samples of one stream's counters.
#[derive(Debug, Default)]
pub struct RateWindow {
    samples: VecDeque<Sample>,
}

impl RateWindow {
    /// Adds a sample of the counters at `at`; the oldest falls out past `WINDOW`.
    pub fn push(&mut self, at: Instant, bytes: u64, video_frames: u64) {
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(Sample {
            at,
            bytes,
            video_frames,
        });
    }

    /// The rates over the window.
    pub fn rates(&self) -> Rates {
        let (Some(first), Some(last)) = (self.samples.front(), self.samples.back()) else {
            return Rates::default();
        };
        let span = last.at.saturating_duration_since(first.at);
        if span < MIN_SPAN {
            return Rates::default();
        }
        let secs = span.as_secs_f64();
        let per_second = |from: u64, to: u64| to.saturating_sub(from) as f64 / secs;
        Rates {
            bits_per_second: Some(per_second(first.bytes, last.bytes) * 8.0),
            frames_per_second: Some(per_second(first.video_frames, last.video_frames)),
        }
    }
}

/// One window per stream the hub has now; streams that went away are forgotten.
#[derive(Default)]
pub struct RateSampler {
    /// Keyed by the stream's address; the `Weak` tells a new stream at a reused address apart.
    windows: HashMap<usize, (Weak<Stream>, RateWindow)>,
}

impl RateSampler {
    /// Samples every stream in `streams` at `now`.
    pub fn sample(&mut self, streams: &[Arc<Stream>], now: Instant) {
        let mut old = std::mem::take(&mut self.windows);
        for stream in streams {
            let key = Arc::as_ptr(stream) as usize;
            let (weak, mut window) = match old.remove(&key) {
                Some((weak, window)) if weak.upgrade().is_some_and(|s| Arc::ptr_eq(&s, stream)) => {
                    (weak, window)
                }
                _ => (Arc::downgrade(stream), RateWindow::default()),
            };
            let counts = stream.stats().counts();
            window.push(now, counts.bytes_in, counts.video_frames_in);
            self.windows.insert(key, (weak, window));
        }
    }

    /// The rates of `stream`, if it was sampled.
    pub fn rates(&self, stream: &Arc<Stream>) -> Rates {
        match self.windows.get(&(Arc::as_ptr(stream) as usize)) {
            Some((weak, window)) if Weak::ptr_eq(weak, &Arc::downgrade(stream)) => window.rates(),
            _ => Rates::default(),
        }
    }

    /// Streams tracked now.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether no stream is tracked.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::hub::{Doorbell, Hub, HubLimits, NoWake, PublisherInfo};

    #[test]
    fn rates_span_the_window_and_need_half_a_second() {
        let start = Instant::now();
        let mut window = RateWindow::default();
        window.push(start, 0, 0);
        window.push(start + Duration::from_millis(400), 50_000, 10);
        assert_eq!(window.rates(), Rates::default(), "too short a span");
        window.push(start + Duration::from_secs(2), 250_000, 50);
        let rates = window.rates();
        assert_eq!(rates.bits_per_second, Some(1_000_000.0));
        assert_eq!(rates.frames_per_second, Some(25.0));
    }

    #[test]
    fn old_samples_fall_out_of_the_window() {
        let start = Instant::now();
        let mut window = RateWindow::default();
        // 1 MB in the first second, then nothing: the burst leaves the window.
        window.push(start, 0, 0);
        for s in 1..=(WINDOW as u64 + 1) {
            window.push(start + Duration::from_secs(s), 1_000_000, 0);
        }
        assert_eq!(window.rates().bits_per_second, Some(0.0));
        assert_eq!(window.samples.len(), WINDOW);
    }

    #[test]
    fn the_sampler_follows_the_hubs_streams_and_forgets_the_gone() {
        let hub = Hub::new(HubLimits {
            gop_cache_bytes: 1 << 20,
            max_players: 4,
        });
        let mut sampler = RateSampler::default();
        let publisher = PublisherInfo {
            id: 1,
            peer: "127.0.0.1:1000".parse().unwrap(),
        };
        let doorbell = Arc::new(Doorbell::new(NoWake));
        let (publication, _) = hub.publish("live/a", publisher, doorbell, false).unwrap();
        let streams = hub.streams();
        let start = Instant::now();
        sampler.sample(&streams, start);
        sampler.sample(&streams, start + Duration::from_secs(1));
        assert_eq!(sampler.len(), 1);
        assert_eq!(sampler.rates(&streams[0]).bits_per_second, Some(0.0));
        drop(publication);
        sampler.sample(&hub.streams(), start + Duration::from_secs(2));
        assert!(sampler.is_empty());
        assert_eq!(sampler.rates(&streams[0]), Rates::default());
    }
}
