//! The publisher: one connection sending the clip in real time, stamping each video frame.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rtmpsd::client::{Client, ClientOptions, RtmpUrl};
use rtmpsd::rtmp::Timestamp;
use rustls::ClientConfig;

use crate::media::{Clip, mono_ns, stamp};

/// What the publisher did, read by the orchestrator.
#[derive(Default)]
pub struct PublishLog {
    /// Send time of every stamped video frame, in order (index = frame index).
    pub sent_ns: Mutex<Vec<u64>>,
    /// Largest lateness of a send against the clip's schedule, in microseconds.
    pub late_max_us: AtomicU64,
    /// Longest single send (a server that does not read shows here), in microseconds.
    pub send_max_us: AtomicU64,
    /// Why it stopped early.
    pub error: Mutex<Option<String>>,
    /// Set to end it.
    pub stop: AtomicBool,
}

impl PublishLog {
    /// Stamped frames sent with a send time in `from..to`.
    pub fn frames_between(&self, from: u64, to: u64) -> u64 {
        let sent = self.sent_ns.lock().unwrap_or_else(|p| p.into_inner());
        sent.iter().filter(|&&t| t >= from && t < to).count() as u64
    }

    /// The error, if it failed.
    pub fn failed(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Publishes `clip` to `url` in a loop until `log.stop` or `until`.
pub fn run(
    url: RtmpUrl,
    tls: Arc<ClientConfig>,
    clip: Arc<Clip>,
    log: Arc<PublishLog>,
    until: Instant,
) {
    if let Err(e) = publish(&url, tls, &clip, &log, until) {
        *log.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
    }
}

fn publish(
    url: &RtmpUrl,
    tls: Arc<ClientConfig>,
    clip: &Clip,
    log: &PublishLog,
    until: Instant,
) -> std::io::Result<()> {
    let options = ClientOptions {
        insecure: true,
        timeout: Duration::from_secs(10),
        ..ClientOptions::default()
    };
    let (mut client, _handle) = Client::connect_detachable(url, &options, tls)?;
    client.publish()?;
    for t in &clip.headers {
        client.send_media(t.type_id, Timestamp::ZERO, &t.payload)?;
    }
    let start = Instant::now();
    let mut index = 0u32;
    for pass in 0u32.. {
        for t in &clip.frames {
            let ms = pass * clip.period_ms + t.ms;
            let due = start + Duration::from_millis(u64::from(ms));
            let now = Instant::now();
            if log.stop.load(Ordering::Relaxed) || now >= until {
                return Ok(());
            }
            match due.checked_duration_since(now) {
                Some(wait) => thread::sleep(wait),
                None => {
                    let late = now.duration_since(due).as_micros() as u64;
                    log.late_max_us.fetch_max(late, Ordering::Relaxed);
                }
            }
            let began = Instant::now();
            if t.stamped {
                let mut payload = t.payload.clone();
                let sent = mono_ns();
                stamp(&mut payload, index, sent);
                client.send_media(t.type_id, Timestamp(ms), &payload)?;
                log.sent_ns
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(sent);
                index += 1;
            } else {
                client.send_media(t.type_id, Timestamp(ms), &t.payload)?;
            }
            log.send_max_us
                .fetch_max(began.elapsed().as_micros() as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}
