//! The publisher: one connection sending the clip in real time, stamping each video frame.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rtmpsd::client::{Client, ClientOptions, RtmpUrl};
use rtmpsd::rtmp::Timestamp;
use rustls::ClientConfig;

use crate::media::{Clip, mono_ns, stamp};

/// What the publisher did.
#[derive(Default)]
struct PublishLog {
    /// Send time of every stamped video frame, in order (index = frame index).
    sent_ns: Mutex<Vec<u64>>,
    /// Largest lateness of a send against the clip's schedule, in microseconds.
    late_max_us: AtomicU64,
    /// Longest single send (a server that does not read shows here), in microseconds.
    send_max_us: AtomicU64,
    /// Why it stopped early.
    error: Mutex<Option<String>>,
    /// Set to end it.
    stop: AtomicBool,
}

impl PublishLog {
    /// The error, if it failed.
    fn failed(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The publisher process: publishes `clip` until its stdin closes or `max` passes, then
/// prints every stamped frame's send time (`sent ...`) and a `stats` line.
///
/// It prints `publishing` once the stream is up (or `error ...` if it could not start).
pub fn process(url: RtmpUrl, tls: Arc<ClientConfig>, clip: Arc<Clip>, max: Duration) {
    let log = Arc::new(PublishLog::default());
    {
        // The orchestrator closes our stdin to stop us (or by dying).
        let log = log.clone();
        thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            log.stop.store(true, Ordering::SeqCst);
        });
    }
    if let Err(e) = publish(&url, tls, &clip, &log, Instant::now() + max) {
        *log.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
    }
    let sent = log.sent_ns.lock().unwrap_or_else(|p| p.into_inner());
    let sent: Vec<String> = sent.iter().map(u64::to_string).collect();
    println!("sent {}", sent.join(" "));
    println!(
        "stats late_max_us={} send_max_us={}",
        log.late_max_us.load(Ordering::Relaxed),
        log.send_max_us.load(Ordering::Relaxed)
    );
    if let Some(e) = log.failed() {
        println!("error {e}");
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
    println!("publishing");
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
