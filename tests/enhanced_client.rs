//! Enhanced RTMP v2 with the in-repo client, where a test needs exact bytes no real encoder
//! sends (ModEx, many tracks in one message) or drives a reconnect: capabilities in
//! `connect`, ModEx and multitrack passed through untouched with per-track instant start,
//! and a ReconnectRequest on SIGTERM honoured by reconnecting to the restarted server.

mod harness;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rtmpsd::client::{Client, ClientOptions, RtmpUrl, SyntheticStream, frame_index};
use rtmpsd::rtmp::Timestamp;
use rtmpsd::rtmp::amf0::Amf0Writer;
use rtmpsd::rtmp::enhanced::{SERVER_CAPS_EX, fourcc_info};
use rtmpsd::rtmp::media::{TrackSet, inspect_audio, inspect_video};
use rtmpsd::rtmp::message::type_id;
use rtmpsd::server::worker::RECONNECT_WAIT;

use harness::TestServer;
use support::{PLAY_KEY, PUBLISH_KEY, STREAM, ServerProcess, TempDir};

fn enhanced_options() -> ClientOptions {
    ClientOptions {
        caps_ex: Some(SERVER_CAPS_EX),
        ..harness::options()
    }
}

/// A ModEx block of TimestampOffsetNano `nanos`, leading to `next` packet type.
fn mod_ex_nano(nanos: u32, next: u8) -> Vec<u8> {
    let [_, a, b, c] = nanos.to_be_bytes();
    vec![0x02, a, b, c, next]
}

/// One UI24-sized track of a ManyTracks message.
fn sized(id: u8, body: &[u8]) -> Vec<u8> {
    let mut track = vec![id];
    track.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    track.extend_from_slice(body);
    track
}

/// The configuration messages of a two-track stream: AV1 track 0 (plain enhanced), VP9
/// track 1 (OneTrack), and Opus track 0 with FLAC track 1 in one ManyTracksManyCodecs
/// sequence start.
fn headers() -> Vec<(u8, Vec<u8>)> {
    let mut av1 = vec![0x90];
    av1.extend_from_slice(b"av01");
    av1.extend_from_slice(&[0x81, 0x08, 0x0c, 0x00]);
    let mut vp9 = vec![0x96, 0x00];
    vp9.extend_from_slice(b"vp09");
    vp9.push(1);
    vp9.extend_from_slice(&[0x01, 0, 0, 0, 0, 0x1f, 0x80, 0x01, 0x01, 0x01, 0, 0]);
    let mut audio = vec![0x95, 0x20];
    audio.extend_from_slice(b"Opus");
    audio.extend(sized(
        0,
        b"OpusHead\x01\x02\x38\x01\x80\xbb\x00\x00\x00\x00\x00",
    ));
    audio.extend_from_slice(b"fLaC");
    audio.extend(sized(1, b"fLaC\x80\x00\x00\x22"));
    vec![
        (type_id::VIDEO, av1),
        (type_id::VIDEO, vp9),
        (type_id::AUDIO, audio),
    ]
}

/// Frame `index` of video track `track`, its index in the body: track 0 behind a ModEx
/// TimestampOffsetNano, track 1 as a OneTrack message. Keyframes every 10 frames, track 1's
/// one frame after track 0's.
fn video_frame(track: u8, index: u32) -> Vec<u8> {
    let key = index % 10 == track as u32;
    let frame_type = if key { 0x90 } else { 0xa0 };
    let mut payload = if track == 0 {
        let mut p = vec![frame_type | 0x07];
        p.extend(mod_ex_nano(index * 1000 % 1_000_000, 0x03));
        p.extend_from_slice(b"av01");
        p
    } else {
        let mut p = vec![frame_type | 0x06, 0x03];
        p.extend_from_slice(b"vp09");
        p.push(1);
        p
    };
    payload.extend_from_slice(&index.to_be_bytes());
    payload.resize(payload.len() + 200, 0x5a);
    payload
}

/// Audio of both tracks in one ManyTracks message.
fn audio_frame(index: u32) -> Vec<u8> {
    let mut payload = vec![0x95, 0x11];
    payload.extend_from_slice(b"Opus");
    payload.extend(sized(0, &index.to_be_bytes()));
    payload.extend(sized(1, &(index + 1_000_000).to_be_bytes()));
    payload
}

/// The video track and index of a payload built by `video_frame`.
fn video_index(payload: &[u8]) -> Option<(u8, u32, bool)> {
    let tag = inspect_video(payload).ok()?;
    let track = tag.tracks.first()?;
    let at = if track == 0 { 1 + 5 + 4 } else { 2 + 4 + 1 };
    let bytes = payload.get(at..at + 4)?;
    Some((
        track,
        u32::from_be_bytes(bytes.try_into().ok()?),
        tag.keyframe,
    ))
}

/// Asserts `got` equals `sent`, naming the first difference rather than dumping both.
fn assert_same_messages(got: &[(u8, Vec<u8>)], sent: &[(u8, Vec<u8>)]) {
    for (at, (a, b)) in got.iter().zip(sent).enumerate() {
        assert!(
            a == b,
            "message {at} differs: got type {} {:02x?}.., sent type {} {:02x?}..",
            a.0,
            &a.1[..a.1.len().min(16)],
            b.0,
            &b.1[..b.1.len().min(16)]
        );
    }
    assert_eq!(got.len(), sent.len(), "message count");
}

#[test]
fn connect_capabilities_are_answered_to_enhanced_clients_only() {
    let server = TestServer::start();
    let enhanced = Client::connect(&server.url(harness::KEY), &enhanced_options()).unwrap();
    let caps = enhanced.server_caps();
    assert!(caps.declared && caps.supports_reconnect() && caps.supports_multitrack());
    assert_eq!(caps.caps_ex, Some(0x0f));
    for i in 0..6 {
        assert_eq!(caps.video.flags_of(i), Some(fourcc_info::CAN_FORWARD));
        assert_eq!(caps.audio.flags_of(i), Some(fourcc_info::CAN_FORWARD));
    }
    let legacy = harness::connect(&server.url(harness::KEY));
    assert!(
        !legacy.server_caps().declared,
        "a legacy client gets the legacy reply"
    );
}

#[test]
fn mod_ex_and_multitrack_pass_untouched_and_a_late_player_starts_every_track_on_a_keyframe() {
    let server = TestServer::start();
    let url = server.url(harness::KEY);
    let play_url = server.url(harness::NAME);
    let mut early = Client::connect(&play_url, &enhanced_options()).unwrap();
    early.play().unwrap();
    let mut publisher = Client::connect(&url, &enhanced_options()).unwrap();
    publisher.publish().unwrap();
    let mut sent: Vec<(u8, Vec<u8>)> = Vec::new();
    let mut send = |client: &mut Client, kind: u8, ts: u32, payload: Vec<u8>| {
        client.send_media(kind, Timestamp(ts), &payload).unwrap();
        sent.push((kind, payload));
    };
    let mut meta = [0u8; 256];
    let len = {
        let mut w = Amf0Writer::new(&mut meta);
        w.string("@setDataFrame").unwrap();
        w.string("onMetaData").unwrap();
        w.ecma_array_start(1).unwrap();
        w.property("videoTrackIdInfoMap")
            .unwrap()
            .object_start()
            .unwrap();
        w.property("1").unwrap().object_start().unwrap();
        w.property("width").unwrap().number(160.0).unwrap();
        w.object_end()
            .unwrap()
            .object_end()
            .unwrap()
            .object_end()
            .unwrap();
        w.len()
    };
    publisher
        .send_media(type_id::DATA_AMF0, Timestamp(0), &meta[..len])
        .unwrap();
    for (kind, payload) in headers() {
        send(&mut publisher, kind, 0, payload);
    }
    let mut late = None;
    for index in 0..40u32 {
        let ts = index * 40;
        send(&mut publisher, type_id::VIDEO, ts, video_frame(0, index));
        send(&mut publisher, type_id::VIDEO, ts, video_frame(1, index));
        send(&mut publisher, type_id::AUDIO, ts + 1, audio_frame(index));
        if index == 25 {
            // Mid-GOP: track 0's last keyframe was frame 20, track 1's frame 21.
            thread::sleep(Duration::from_millis(200));
            let mut client = Client::connect(&play_url, &enhanced_options()).unwrap();
            client.play().unwrap();
            late = Some(client);
        }
    }
    let mut late = late.expect("late player");

    // Each player's media, in order, as received, up to the last message sent.
    let last = sent.last().cloned().expect("messages sent");
    let receive = |client: &mut Client| {
        let mut got: Vec<(u8, Vec<u8>)> = Vec::new();
        while got.last() != Some(&last) {
            let message = client.recv_media().expect("media");
            if message.type_id != type_id::DATA_AMF0 {
                got.push((message.type_id, message.payload));
            }
        }
        got
    };
    // The early player gets every message byte for byte, ModEx and track layouts untouched,
    // except track 1's frame 0: it comes before track 1's first keyframe (frame 1), so no
    // player could decode it.
    let everything = receive(&mut early);
    let undecodable = (type_id::VIDEO, video_frame(1, 0));
    let expected: Vec<(u8, Vec<u8>)> = sent
        .iter()
        .filter(|m| **m != undecodable)
        .cloned()
        .collect();
    assert_eq!(expected.len(), sent.len() - 1);
    assert_same_messages(&everything, &expected);

    let late_got = receive(&mut late);
    // Every configuration first, byte for byte.
    assert_eq!(late_got[..3], sent[..3]);
    // Then each video track from its own last keyframe (20 and 21), with nothing missing after.
    let mut first: [Option<(u32, bool)>; 2] = [None, None];
    let mut previous = [None::<u32>; 2];
    for (kind, payload) in &late_got[3..] {
        assert!(
            sent.contains(&(*kind, payload.clone())),
            "a message not sent"
        );
        if *kind != type_id::VIDEO {
            let tag = inspect_audio(payload).unwrap();
            let mut both = TrackSet::single(0);
            both.insert(1);
            assert_eq!(tag.tracks, both);
            continue;
        }
        let (track, index, key) = video_index(payload).unwrap();
        let slot = usize::from(track);
        first[slot].get_or_insert((index, key));
        if let Some(before) = previous[slot] {
            assert_eq!(index, before + 1, "track {track} skipped a frame");
        }
        previous[slot] = Some(index);
    }
    assert_eq!(first, [Some((20, true)), Some((21, true))]);
    // The ModEx keyframe was recognised behind its block.
    let key = video_frame(0, 20);
    assert_eq!(key[0], 0x97);
    assert!(inspect_video(&key).unwrap().keyframe);
    assert_eq!(inspect_video(&key).unwrap().nano_offset, Some(20_000));
}

/// What a publisher thread saw, with when it saw it.
#[derive(Debug, Default)]
struct PublisherLog {
    /// When a reconnect request was first noticed, and where it said to go.
    request_at: Option<Instant>,
    request_tc_url: Option<String>,
    /// The first error on the original connection, and when.
    error: Option<(Instant, String)>,
    /// The frame index it reconnected at.
    index_at_reconnect: Option<u32>,
}

/// Sends `publish` and the stream's headers.
fn start_publishing(client: &mut Client, stream: &SyntheticStream) -> std::io::Result<()> {
    client.publish()?;
    for (kind, ts, payload) in stream.headers() {
        client.send_media(kind, ts, &payload)?;
    }
    Ok(())
}

/// Publishes a synthetic stream (25 fps, a keyframe a second) until `stop`, reading what the
/// server sends between frames; honours a reconnect request at the next keyframe once.
fn publish_until(
    url: RtmpUrl,
    options: ClientOptions,
    log: Arc<Mutex<PublisherLog>>,
    stop: Arc<AtomicBool>,
) {
    let mut stream = SyntheticStream::new(25, 25, 200);
    let mut client = Client::connect(&url, &options).expect("connect");
    start_publishing(&mut client, &stream).expect("publish");
    let deadline = Instant::now() + Duration::from_secs(40);
    let begun = Instant::now();
    let mut reconnected = false;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let due = begun + Duration::from_millis(40) * stream.next_index();
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let mut result = client.poll_incoming().map(|_| ());
        if let Some(target) = client.reconnect_request() {
            let mut log = log.lock().unwrap();
            if log.request_at.is_none() {
                log.request_at = Some(Instant::now());
                log.request_tc_url = Some(target.tc_url.clone());
            }
        }
        if result.is_ok()
            && !reconnected
            && client.reconnect_request().is_some()
            && stream.next_is_keyframe()
        {
            log.lock().unwrap().index_at_reconnect = Some(stream.next_index());
            client = client
                .reconnect(&options, Duration::from_secs(30))
                .expect("reconnect to the restarted server");
            start_publishing(&mut client, &stream).expect("publish again");
            reconnected = true;
        }
        if result.is_ok() {
            for (kind, ts, payload) in stream.next_frames() {
                result = result.and_then(|()| client.send_media(kind, ts, &payload));
            }
        }
        if let Err(e) = result {
            if !reconnected {
                log.lock().unwrap().error = Some((Instant::now(), e.to_string()));
            }
            return;
        }
    }
}

#[test]
fn sigterm_asks_an_enhanced_publisher_to_reconnect_and_it_republishes_to_the_restarted_server() {
    let state = TempDir::new("reconnect");
    let mut first =
        ServerProcess::start_standard(&state, &["--publish-key", "legacy=legacy-key-123"]);
    let addr = first.addr();
    let url = |key: &str| RtmpUrl::parse(&format!("rtmps://{addr}/live/{key}")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let enhanced_log = Arc::new(Mutex::new(PublisherLog::default()));
    let legacy_log = Arc::new(Mutex::new(PublisherLog::default()));
    let enhanced = {
        let (url, log, stop) = (url(PUBLISH_KEY), enhanced_log.clone(), stop.clone());
        thread::spawn(move || publish_until(url, enhanced_options(), log, stop))
    };
    let legacy = {
        let (url, log, stop) = (url("legacy-key-123"), legacy_log.clone(), stop.clone());
        thread::spawn(move || publish_until(url, harness::options(), log, stop))
    };
    let publishing = |server: &ServerProcess, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let seen = server
                .logs()
                .iter()
                .filter(|l| l.contains(" publishing live/"))
                .count();
            if seen >= n {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    };
    assert!(publishing(&first, 2), "both publishers publish");
    thread::sleep(Duration::from_millis(1300));

    let asked = Instant::now();
    let status = first.stop_in_place();
    let took = asked.elapsed();
    assert!(status.success(), "the first server exited with {status:?}");
    assert!(took < RECONNECT_WAIT, "stopping took {took:?}");
    let logs = first.logs();
    let line = |needle: &str| logs.iter().find(|l| l.contains(needle)).cloned();
    let request_line = line("asked to reconnect (server stopping)").expect("request logged");
    assert!(line("after the reconnect request").is_some(), "{logs:#?}");
    // Only the enhanced publisher was asked: one request line.
    assert_eq!(
        logs.iter()
            .filter(|l| l.contains("asked to reconnect"))
            .count(),
        1,
        "{request_line}"
    );
    // Both closed with the same reason, the legacy one at once.
    assert_eq!(
        logs.iter()
            .filter(|l| l.contains("closed publisher of live/") && l.contains("server stopping"))
            .count(),
        2,
        "{logs:#?}"
    );

    let dir = state.path().to_str().unwrap().to_owned();
    let listen = addr.to_string();
    let publish_key = format!("{STREAM}={PUBLISH_KEY}");
    let second = ServerProcess::start(&[
        "--listen",
        &listen,
        "--state-dir",
        &dir,
        "--publish-key",
        &publish_key,
        "--play-key",
        PLAY_KEY,
        "--log",
        "debug",
    ]);
    assert!(publishing(&second, 1), "the publisher came back");
    let mut player = Client::connect(
        &RtmpUrl::parse(&format!("rtmps://{addr}/live/{STREAM}?key={PLAY_KEY}")).unwrap(),
        &harness::options(),
    )
    .expect("player");
    player.play().expect("play");
    let mut indices = Vec::new();
    while indices.len() < 30 {
        let message = player
            .recv_media()
            .expect("frames from the republished stream");
        // Skip the sequence header (AVC packet type 0); frames carry their index.
        if message.type_id == type_id::VIDEO && message.payload.get(1) == Some(&1) {
            if let Some(index) = frame_index(&message.payload) {
                indices.push(index);
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    enhanced.join().expect("enhanced publisher thread");
    legacy.join().expect("legacy publisher thread");

    let enhanced_log = enhanced_log.lock().unwrap();
    let request_at = enhanced_log
        .request_at
        .expect("the request reached the client");
    assert!(request_at >= asked, "{enhanced_log:?}");
    // It read the request before its connection ended: no error on the old connection.
    assert_eq!(enhanced_log.error, None, "{enhanced_log:?}");
    assert_eq!(
        enhanced_log.request_tc_url.as_deref(),
        Some(format!("rtmps://{addr}/live").as_str()),
        "no tcUrl in the request: the same server"
    );
    let reconnect_index = enhanced_log.index_at_reconnect.expect("reconnected");
    assert_eq!(reconnect_index % 25, 0, "left at a keyframe");
    assert!(indices.iter().all(|i| *i >= reconnect_index), "{indices:?}");
    assert!(indices.windows(2).all(|w| w[1] == w[0] + 1), "{indices:?}");

    let legacy_log = legacy_log.lock().unwrap();
    assert_eq!(legacy_log.request_at, None, "a legacy client is not asked");
    let (closed_at, _) = legacy_log
        .error
        .clone()
        .expect("the legacy client was closed");
    assert!(
        closed_at < request_at + Duration::from_millis(500),
        "the legacy client was closed at once: {legacy_log:?}"
    );
}

#[test]
fn a_takeover_asks_an_enhanced_publisher_to_reconnect_and_closes_a_legacy_one_at_once() {
    let state = TempDir::new("takeover-reconnect");
    let server = ServerProcess::start_standard(&state, &[]);
    let addr = server.addr();
    let url = RtmpUrl::parse(&format!("rtmps://{addr}/live/{PUBLISH_KEY}")).unwrap();
    let stream = SyntheticStream::new(25, 25, 200);
    for (options, asked) in [(enhanced_options(), true), (harness::options(), false)] {
        let mut old = Client::connect(&url, &options).expect("connect");
        start_publishing(&mut old, &stream).expect("publish");
        let mut new = Client::connect(&url, &harness::options()).expect("connect");
        start_publishing(&mut new, &stream).expect("take over");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut request = None;
        while Instant::now() < deadline && request.is_none() {
            if old.poll_incoming().is_err() {
                break;
            }
            request = old.reconnect_request().map(|r| r.tc_url.clone());
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(request.is_some(), asked, "enhanced: {asked}");
        drop(old);
        assert!(
            server.wait_for_log("taken over by publisher", Duration::from_secs(10)),
            "the replaced publisher was closed"
        );
        drop(new);
        thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        server
            .logs()
            .iter()
            .filter(|l| l.contains("asked to reconnect (taken over by publisher"))
            .count(),
        1,
        "only the enhanced publisher is asked"
    );
}
