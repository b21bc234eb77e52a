//! What reading a frame's tracks costs the hub: `inspect_video` (what `Stream::push` runs
//! once per frame to find the enhanced-RTMP tracks) next to a whole `Publication::push` to 16
//! players, for a legacy H.264 frame and for multitrack messages.
//!
//! `cargo bench --bench track_push` prints one row per case and the header read's share of a
//! push. A fixed number of iterations per case; no network, no threads besides this one.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtmpsd::rtmp::Timestamp;
use rtmpsd::rtmp::media::inspect_video;
use rtmpsd::server::frame::{Frame, FrameKind};
use rtmpsd::server::hub::{
    Doorbell, Hub, HubLimits, NoWake, PublisherInfo, QueueLimits, SubscriberKind,
};

const ITERATIONS: u32 = 200_000;
const PLAYERS: u64 = 16;
const FRAME_BYTES: usize = 4096;

/// A legacy H.264 inter frame.
fn legacy() -> Vec<u8> {
    let mut payload = vec![0x27, 0x01, 0, 0, 0];
    payload.resize(FRAME_BYTES, 0x5a);
    payload
}

/// Track 1 of a rendition ladder, as FFmpeg and OBS send it: OneTrack CodedFramesX `avc1`.
fn one_track() -> Vec<u8> {
    let mut payload = vec![0xa6, 0x03, b'a', b'v', b'c', b'1', 1];
    payload.resize(FRAME_BYTES, 0x5a);
    payload
}

/// Four VP9 tracks in one ManyTracks message.
fn many_tracks() -> Vec<u8> {
    let mut payload = vec![0xa6, 0x13, b'v', b'p', b'0', b'9'];
    let body = FRAME_BYTES / 4 - 4;
    for id in 0..4u8 {
        payload.push(id);
        payload.extend_from_slice(&(body as u32).to_be_bytes()[1..]);
        payload.resize(payload.len() + body, 0x5a);
    }
    payload
}

fn per_op(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1e9 / f64::from(ITERATIONS)
}

/// ns per `inspect_video` of `payload`.
fn time_inspect(payload: &[u8]) -> f64 {
    let started = Instant::now();
    for _ in 0..ITERATIONS {
        black_box(inspect_video(black_box(payload)).ok());
    }
    per_op(started.elapsed())
}

/// ns per push of `payload` to `PLAYERS` players whose queues are emptied between batches
/// (the emptying is not timed).
fn time_push(payload: &[u8]) -> f64 {
    let hub = Hub::new(HubLimits {
        gop_cache_bytes: 1 << 20,
        max_players: 64,
    });
    let publisher = PublisherInfo {
        id: 0,
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], 1935)),
    };
    let (publication, _) = hub
        .publish(
            "live/bench",
            publisher,
            Arc::new(Doorbell::new(NoWake)),
            false,
        )
        .expect("publish");
    let queue = QueueLimits {
        len: 256,
        bytes: 64 << 20,
        slow_after: Duration::from_secs(3600),
    };
    let mut players: Vec<_> = (1..=PLAYERS)
        .map(|id| {
            hub.subscribe(
                "live/bench",
                id,
                SubscriberKind::Player,
                queue,
                Arc::new(Doorbell::new(NoWake)),
            )
            .expect("subscribe")
        })
        .collect();
    let frame = |keyframe: bool, payload: &[u8]| Frame {
        kind: FrameKind::Video,
        keyframe,
        sequence_header: false,
        timestamp: Timestamp(0),
        payload: Arc::from(payload),
    };
    // A keyframe of every track first, so the players take the frames that follow.
    let mut key = payload.to_vec();
    key[0] = (key[0] & 0x8f) | 0x10;
    publication.push(frame(true, &key), Instant::now());
    let shared = frame(false, payload);
    let mut timed = Duration::ZERO;
    let mut done = 0;
    while done < ITERATIONS {
        let batch = 128.min(ITERATIONS - done);
        let now = Instant::now();
        let started = Instant::now();
        for _ in 0..batch {
            black_box(publication.push(shared.clone(), now));
        }
        timed += started.elapsed();
        done += batch;
        for player in &mut players {
            while let Ok(Some(_)) = player.try_next() {}
        }
    }
    per_op(timed)
}

fn main() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let governor = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
        .map(|g| g.trim().to_owned())
        .unwrap_or_else(|_| "n/a".into());
    println!("# what reading a frame's tracks costs a push");
    println!("cpu: {cpu}; governor: {governor}; {ITERATIONS} iterations per case");
    println!();
    println!(
        "| frame | inspect_video ns/op | push to {PLAYERS} players ns/op | header read / push |"
    );
    println!("|---|---:|---:|---:|");
    for (name, payload) in [
        ("legacy H.264", legacy()),
        ("OneTrack avc1 (track 1)", one_track()),
        ("ManyTracks vp09 (4 tracks)", many_tracks()),
    ] {
        let inspect = time_inspect(&payload);
        let push = time_push(&payload);
        println!(
            "| {name} | {inspect:.1} | {push:.1} | {:.3} |",
            inspect / push
        );
    }
}
