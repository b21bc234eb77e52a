//! Cameras and access with real clients over `rtmps://`: takeover of a frozen publisher,
//! room for the camera when players wait, the play-wait limit, librtmp (rtmpdump and
//! GStreamer's librtmp `rtmpsink`) and GStreamer's `rtmp2sink`.

mod support;

use std::time::{Duration, Instant};

use support::{
    Ffmpeg, PLAY_KEY, PUBLISH_KEY, PlayOpts, Player, PlayerReport, PublishOpts, Publisher, STREAM,
    ServerProcess, TempDir, Tool, freeze,
};

fn play_url(server: &ServerProcess) -> String {
    server.rtmps_url(&format!("live/{STREAM}?key={PLAY_KEY}"))
}

fn publish_url(server: &ServerProcess) -> String {
    server.rtmps_url(&format!("live/{PUBLISH_KEY}"))
}

/// The longest time between two decoded frames, from the player's first frame on.
fn longest_gap(report: &PlayerReport) -> Duration {
    report
        .frames
        .windows(2)
        .map(|w| w[1].after.saturating_sub(w[0].after))
        .max()
        .unwrap_or_default()
}

/// When the server logged the first line containing `needle`.
fn logged_at(server: &ServerProcess, needle: &str) -> Option<Instant> {
    server
        .timed_logs()
        .into_iter()
        .find(|l| l.text.contains(needle))
        .map(|l| l.at)
}

/// A GStreamer pipeline publishing `seconds` of 320x240 H.264 at 25 fps with AAC through
/// `sink` (`rtmp2sink location=...` or librtmp's `rtmpsink location=...`).
fn gst_publish_args(seconds: u32, sink: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "-e",
        "videotestsrc",
        "is-live=true",
        &format!("num-buffers={}", seconds * 25),
        "!",
        "video/x-raw,width=320,height=240,framerate=25/1",
        "!",
        "x264enc",
        "tune=zerolatency",
        "key-int-max=25",
        "bframes=0",
        "!",
        "h264parse",
        "!",
        "flvmux",
        "streamable=true",
        "name=mux",
        "!",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(sink.iter().cloned());
    args.extend(
        [
            "audiotestsrc",
            "is-live=true",
            &format!("num-buffers={}", seconds * 43),
            "!",
            "voaacenc",
            "!",
            "aacparse",
            "!",
            "mux.",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    args
}

/// Asserts a player of a 320x240 H.264 stream got decodable video from a keyframe on.
fn assert_h264_from_a_keyframe(report: &PlayerReport, at_least: usize) {
    let summary = report.summary();
    // getStreamLength is answered with a number, as ffmpeg expects.
    assert!(
        !report.stderr.iter().any(|l| l.contains("Unexpected reply")),
        "{summary}"
    );
    assert_eq!(report.video_codec.as_deref(), Some("h264"), "{summary}");
    assert_eq!(report.resolution, Some((320, 240)), "{summary}");
    assert!(report.first_frame_is_key(), "{summary}");
    assert!(report.frame_count() >= at_least, "{summary}");
}

#[test]
fn a_frozen_camera_is_taken_over_at_once_and_the_player_keeps_playing() {
    let state = TempDir::new("takeover");
    let server = ServerProcess::start_standard(&state, &[]);
    let opts = PublishOpts {
        seconds: 30.0,
        ..PublishOpts::default()
    };
    let mut frozen = Publisher::start(Ffmpeg::Debian, &publish_url(&server), &opts);
    assert!(server.wait_for_log("publishing live/test", Duration::from_secs(10)));
    let player = Player::start_with(
        Ffmpeg::Modern,
        &play_url(&server),
        &PlayOpts {
            seconds: 8.0,
            ..PlayOpts::default()
        },
    );
    player
        .wait_first_frame(Duration::from_secs(10))
        .expect("the player plays the first camera");
    std::thread::sleep(Duration::from_secs(1));
    // The camera freezes (a pulled cable looks the same: no FIN, no data) ...
    freeze(frozen.pid(), true);
    std::thread::sleep(Duration::from_millis(500));
    // ... and comes back on a new connection with the same key.
    let started = Instant::now();
    let mut camera = Publisher::start(Ffmpeg::Debian, &publish_url(&server), &opts);
    assert!(
        server.wait_for_log("taking it over from", Duration::from_secs(10)),
        "the second publisher was not accepted"
    );
    let accepted = logged_at(&server, "taking it over from").expect("logged");
    assert!(
        accepted.saturating_duration_since(started) < Duration::from_secs(1),
        "accepted {:?} after the second publisher started",
        accepted.saturating_duration_since(started)
    );
    assert!(
        server.wait_for_log("taken over by publisher", Duration::from_secs(5)),
        "the frozen publisher's connection was not closed"
    );
    // Frames count their arrival from the player's start.
    let takeover_at = started.saturating_duration_since(player.started_at());
    let report = player.wait();
    freeze(frozen.pid(), false);
    frozen.stop();
    camera.stop();
    let summary = report.summary();
    let after_takeover = report
        .frames
        .iter()
        .filter(|f| f.after > takeover_at)
        .count();
    assert!(
        longest_gap(&report) <= Duration::from_secs(3),
        "gap of {:?}: {summary}",
        longest_gap(&report)
    );
    assert!(
        after_takeover >= 25,
        "{after_takeover} frames after the takeover: {summary}"
    );
    assert!(report.pts_monotonic(), "{summary}");
}

#[test]
fn players_waiting_on_absent_streams_leave_room_for_the_camera() {
    let state = TempDir::new("room");
    let server = ServerProcess::start_standard(&state, &["--max-connections", "3"]);
    let waiting: Vec<Player> = (0..3)
        .map(|_| {
            Player::start_with(
                Ffmpeg::Debian,
                &play_url(&server),
                &PlayOpts {
                    seconds: 4.0,
                    rw_timeout: Duration::from_secs(20),
                    ..PlayOpts::default()
                },
            )
        })
        .collect();
    // Two wait for the stream; the third is over --max-players (3 less one kept for
    // publishers) and refused.
    assert!(server.wait_for_log("play refused: 2 players, limit 2", Duration::from_secs(10)));
    let camera = Publisher::start(
        Ffmpeg::Debian,
        &publish_url(&server),
        &PublishOpts {
            seconds: 8.0,
            ..PublishOpts::default()
        },
    );
    assert!(
        server.wait_for_log("publishing live/test", Duration::from_secs(10)),
        "the camera found no room"
    );
    assert!(!server.log_contains("refused: connection limit reached"));
    let reports: Vec<PlayerReport> = waiting.into_iter().map(Player::wait).collect();
    let played = reports.iter().filter(|r| r.frame_count() > 0).count();
    assert_eq!(played, 2, "the two waiting players play the camera");
    for report in reports.iter().filter(|r| r.frame_count() > 0) {
        assert_h264_from_a_keyframe(report, 25);
    }
    drop(camera);
}

#[test]
fn a_player_waiting_for_a_stream_that_never_goes_live_is_told_and_closed() {
    let state = TempDir::new("wait");
    let server = ServerProcess::start_standard(&state, &["--play-wait-secs", "2"]);
    let started = Instant::now();
    let player = Player::start_with(
        Ffmpeg::Debian,
        &play_url(&server),
        &PlayOpts {
            seconds: 30.0,
            rw_timeout: Duration::from_secs(20),
            ..PlayOpts::default()
        },
    );
    let report = player.wait();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the player was closed after {took:?}"
    );
    assert_eq!(report.frame_count(), 0);
    assert!(server.wait_for_log(
        "play wait timeout: the stream was not live within 2s",
        Duration::from_secs(5)
    ));
}

#[test]
fn librtmp_publishes_with_gstreamer_rtmpsink_and_plays_with_rtmpdump() {
    let state = TempDir::new("librtmp");
    let server = ServerProcess::start_standard(&state, &[]);
    // GStreamer's rtmpsink is librtmp's publisher (the library inside many encoders).
    let location = format!("location={} live=1", publish_url(&server));
    let mut publisher = Tool::start(
        "gst-launch-1.0",
        &gst_publish_args(10, &["rtmpsink".to_string(), location]),
    );
    assert!(
        server.wait_for_log("publishing live/test", Duration::from_secs(15)),
        "librtmp could not publish: {:?}",
        publisher.logs()
    );
    let dump = state.join("dump.flv");
    let mut rtmpdump = Tool::start(
        "rtmpdump",
        &[
            "-r".to_string(),
            play_url(&server),
            "--live".to_string(),
            "--stop".to_string(),
            "4".to_string(),
            "-o".to_string(),
            dump.display().to_string(),
        ],
    );
    let dumped = rtmpdump.wait(Duration::from_secs(30));
    let publisher_status = publisher.wait(Duration::from_secs(30));
    assert!(
        dumped.is_some_and(|s| s.success()),
        "rtmpdump failed: {:?}",
        rtmpdump.logs()
    );
    assert!(
        publisher_status.is_some_and(|s| s.success()),
        "rtmpsink failed: {:?}",
        publisher.logs()
    );
    // What rtmpdump wrote decodes: H.264 320x240 from a keyframe, and AAC.
    let report = Player::start(Ffmpeg::Debian, &dump.display().to_string(), 60.0).wait();
    assert_h264_from_a_keyframe(&report, 50);
    assert_eq!(
        report.audio_codec.as_deref(),
        Some("aac"),
        "{}",
        report.summary()
    );
    assert!(report.pts_monotonic(), "{}", report.summary());
}

#[test]
fn gstreamer_rtmp2sink_publishes_and_ends_cleanly_with_no_warning() {
    let state = TempDir::new("rtmp2");
    let server = ServerProcess::start_standard(&state, &[]);
    let player = Player::start_with(
        Ffmpeg::Modern,
        &play_url(&server),
        &PlayOpts {
            seconds: 20.0,
            rw_timeout: Duration::from_secs(20),
            ..PlayOpts::default()
        },
    );
    assert!(server.wait_for_log("playing live/test", Duration::from_secs(10)));
    // GIO verifies certificates; the test server's is self-signed. The server is named by
    // its IP address, which GStreamer also sends as SNI (a WARN from rustls before).
    let mut publisher = Tool::start(
        "gst-launch-1.0",
        &gst_publish_args(
            4,
            &[
                "rtmp2sink".to_string(),
                format!("location={}", publish_url(&server)),
                "tls-validation-flags=0".to_string(),
            ],
        ),
    );
    let status = publisher.wait(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "rtmp2sink failed: {:?}",
        publisher.logs()
    );
    assert!(
        !publisher
            .logs()
            .iter()
            .any(|l| l.contains("closed remotely")),
        "{:?}",
        publisher.logs()
    );
    let report = player.wait();
    assert_h264_from_a_keyframe(&report, 50);
    assert!(server.wait_for_log("unpublished live/test", Duration::from_secs(5)));
    // Connection lines only: the start-up warning about the test's plain listener is the
    // operator's choice, not the client's doing.
    let warnings: Vec<String> = server
        .logs()
        .into_iter()
        .filter(|l| l.contains(" WARN ") && !l.contains("plain rtmp is enabled"))
        .collect();
    assert!(
        warnings.is_empty(),
        "healthy clients made warnings: {warnings:?}"
    );
    assert!(!server.log_contains("protocol error"));
}
