//! End to end with real clients: Debian's ffmpeg 5.1 (GnuTLS) and ffmpeg 9 (OpenSSL,
//! enhanced RTMP) publish and play through the rtmpsd binary over rtmps:// on loopback.
//! A missing ffmpeg fails these tests (`./test.sh` installs both); none skips itself.

mod support;

use std::thread;
use std::time::{Duration, Instant};

use support::{
    Ffmpeg, PLAY_KEY, PUBLISH_KEY, PlayOpts, Player, PlayerReport, PublishOpts, Publisher, STREAM,
    ServerProcess, TempDir, VideoCodec,
};

const SECONDS: f64 = 4.0;
const RATE: u32 = 25;

fn play_url(server: &ServerProcess) -> String {
    server.rtmps_url(&format!("live/{STREAM}?key={PLAY_KEY}"))
}

fn publish_url(server: &ServerProcess) -> String {
    server.rtmps_url(&format!("live/{PUBLISH_KEY}"))
}

/// Asserts what a player of the standard test pattern must have seen.
fn assert_received(report: &PlayerReport, codec: &str, sent: usize) {
    let summary = report.summary();
    assert_eq!(report.video_codec.as_deref(), Some(codec), "{summary}");
    assert_eq!(report.resolution, Some((320, 240)), "{summary}");
    assert!(
        report.first_frame_is_key(),
        "first frame not a keyframe: {summary}"
    );
    assert!(
        report.pts_monotonic(),
        "timestamps not monotonic: {summary}"
    );
    let wanted = sent * 95 / 100;
    assert!(
        report.frame_count() >= wanted,
        "{} of {sent} frames (need {wanted}): {summary}",
        report.frame_count()
    );
}

fn sent_frames() -> usize {
    (SECONDS * f64::from(RATE)) as usize
}

/// Players start first and wait for the publisher, so they can see every frame sent.
fn publish_to_players(
    publisher: Ffmpeg,
    players: &[Ffmpeg],
    opts: PublishOpts,
) -> Vec<PlayerReport> {
    let state = TempDir::new("e2e");
    let server = ServerProcess::start_standard(&state, &[]);
    let players: Vec<Player> = players
        .iter()
        .map(|ff| {
            Player::start_with(
                *ff,
                &play_url(&server),
                &PlayOpts {
                    seconds: 30.0,
                    ..PlayOpts::default()
                },
            )
        })
        .collect();
    assert!(
        server.wait_for_log("playing live/", Duration::from_secs(10)),
        "players never reached the server"
    );
    let mut publisher = Publisher::start(publisher, &publish_url(&server), &opts);
    let status = publisher
        .wait(Duration::from_secs(30))
        .expect("publisher finished");
    assert!(status.success(), "publisher failed: {:?}", publisher.logs());
    players.into_iter().map(Player::wait).collect()
}

#[test]
fn debian_ffmpeg_publishes_to_both_ffmpeg_players() {
    let reports = publish_to_players(
        Ffmpeg::Debian,
        &Ffmpeg::ALL,
        PublishOpts {
            seconds: SECONDS,
            ..PublishOpts::default()
        },
    );
    for report in &reports {
        assert_received(report, "h264", sent_frames());
        assert_eq!(report.audio_codec.as_deref(), Some("aac"));
    }
}

#[test]
fn modern_ffmpeg_publishes_to_both_ffmpeg_players() {
    let reports = publish_to_players(
        Ffmpeg::Modern,
        &Ffmpeg::ALL,
        PublishOpts {
            seconds: SECONDS,
            ..PublishOpts::default()
        },
    );
    for report in &reports {
        assert_received(report, "h264", sent_frames());
        assert_eq!(report.audio_codec.as_deref(), Some("aac"));
    }
}

#[test]
fn b_frames_and_their_composition_offsets_pass_through() {
    let opts = PublishOpts {
        seconds: SECONDS,
        b_frames: true,
        ..PublishOpts::default()
    };
    let reports = publish_to_players(Ffmpeg::Modern, &[Ffmpeg::Debian], opts);
    assert_received(&reports[0], "h264", sent_frames());
    assert!(
        reports[0].has_b_frames(),
        "no B-frames decoded: {}",
        reports[0].summary()
    );
}

#[test]
fn hevc_over_enhanced_rtmp_passes_through() {
    // Only ffmpeg 9 writes HEVC in FLV (enhanced RTMP, FourCC hvc1) and reads it back.
    assert!(Ffmpeg::Modern.supports_hevc_flv());
    let opts = PublishOpts {
        seconds: SECONDS,
        codec: VideoCodec::Hevc,
        ..PublishOpts::default()
    };
    let reports = publish_to_players(Ffmpeg::Modern, &[Ffmpeg::Modern], opts);
    assert_received(&reports[0], "hevc", sent_frames());
}

#[test]
fn twenty_ffmpeg_players_all_receive_one_stream() {
    let players: Vec<Ffmpeg> = (0..20).map(|i| Ffmpeg::ALL[i % 2]).collect();
    let reports = publish_to_players(
        Ffmpeg::Debian,
        &players,
        PublishOpts {
            seconds: SECONDS,
            ..PublishOpts::default()
        },
    );
    assert_eq!(reports.len(), 20);
    for report in &reports {
        assert_received(report, "h264", sent_frames());
    }
}

#[test]
fn late_player_decodes_a_keyframe_within_300ms_of_play() {
    let state = TempDir::new("late");
    let server = ServerProcess::start_standard(&state, &[]);
    let opts = PublishOpts {
        seconds: 10.0,
        ..PublishOpts::default()
    };
    let mut publisher = Publisher::start(Ffmpeg::Debian, &publish_url(&server), &opts);
    // Join in the middle of a GOP (one keyframe a second).
    assert!(server.wait_for_log("publishing live/", Duration::from_secs(10)));
    thread::sleep(Duration::from_millis(2500));
    let player = Player::start_with(
        Ffmpeg::Modern,
        &play_url(&server),
        &PlayOpts::fast_start(1.0),
    );
    let first = player
        .wait_first_frame(Duration::from_secs(10))
        .expect("a first frame");
    let first_at = player.started_at() + first;
    let report = player.wait();
    publisher.stop();
    let play_logged = server
        .timed_logs()
        .into_iter()
        .find(|l| l.text.contains("playing live/"))
        .expect("play logged");
    let after_play = first_at.saturating_duration_since(play_logged.at);
    eprintln!(
        "late join: first decoded frame {after_play:?} after play, {first:?} after ffmpeg started"
    );
    assert!(report.first_frame_is_key(), "{}", report.summary());
    assert!(
        after_play < Duration::from_millis(300),
        "first frame {after_play:?} after play ({first:?} after the player started)"
    );
}

#[test]
fn wrong_key_publisher_is_refused_while_the_live_stream_plays_on() {
    let state = TempDir::new("wrongkey");
    let server = ServerProcess::start_standard(&state, &[]);
    let player = Player::start_with(
        Ffmpeg::Modern,
        &play_url(&server),
        &PlayOpts {
            seconds: 30.0,
            ..PlayOpts::default()
        },
    );
    assert!(server.wait_for_log("playing live/", Duration::from_secs(10)));
    let mut publisher = Publisher::start(
        Ffmpeg::Debian,
        &publish_url(&server),
        &PublishOpts {
            seconds: SECONDS,
            ..PublishOpts::default()
        },
    );
    assert!(server.wait_for_log("publishing live/", Duration::from_secs(10)));
    let wrong_key = "wrong-key-1234567";
    let wrong_url = server.rtmps_url(&format!("live/{wrong_key}"));
    let mut intruder = Publisher::start(
        Ffmpeg::Modern,
        &wrong_url,
        &PublishOpts {
            seconds: 2.0,
            ..PublishOpts::default()
        },
    );
    let refused = intruder
        .wait(Duration::from_secs(15))
        .expect("intruder ends");
    assert!(!refused.success(), "a wrong key was allowed to publish");
    assert!(server.wait_for_log("publish refused: wrong stream key", Duration::from_secs(5)));
    assert!(
        !server.logs().iter().any(|l| l.contains(wrong_key)),
        "the stream key was logged"
    );
    assert!(
        publisher
            .wait(Duration::from_secs(30))
            .expect("publisher ends")
            .success()
    );
    assert_received(&player.wait(), "h264", sent_frames());
}

#[test]
fn killed_publisher_ends_its_ffmpeg_players_cleanly_and_at_once() {
    let state = TempDir::new("killed");
    let server = ServerProcess::start_standard(&state, &[]);
    let players: Vec<Player> = Ffmpeg::ALL
        .iter()
        .map(|ff| {
            Player::start_with(
                *ff,
                &play_url(&server),
                &PlayOpts {
                    seconds: 30.0,
                    ..PlayOpts::default()
                },
            )
        })
        .collect();
    let mut publisher = Publisher::start(
        Ffmpeg::Debian,
        &publish_url(&server),
        &PublishOpts {
            seconds: 30.0,
            ..PublishOpts::default()
        },
    );
    for player in &players {
        player
            .wait_first_frame(Duration::from_secs(15))
            .expect("frames flow");
    }
    thread::sleep(Duration::from_secs(1));
    publisher.stop();
    let killed = Instant::now();
    for player in players {
        let report = player.wait();
        // They end on NetStream.Play.UnpublishNotify, well before their 5 s read timeout.
        assert!(
            killed.elapsed() < Duration::from_secs(3),
            "player lingered {:?}",
            killed.elapsed()
        );
        assert!(!report.timed_out, "{}", report.summary());
        assert!(
            report.status.is_some_and(|s| s.success()),
            "{}",
            report.summary()
        );
        assert!(report.frame_count() > 20, "{}", report.summary());
    }
}

#[test]
fn sigterm_stops_the_server_within_a_second_and_ends_its_players() {
    let state = TempDir::new("sigterm");
    let server = ServerProcess::start_standard(&state, &[]);
    let player = Player::start_with(
        Ffmpeg::Debian,
        &play_url(&server),
        &PlayOpts {
            seconds: 30.0,
            ..PlayOpts::default()
        },
    );
    let mut publisher = Publisher::start(
        Ffmpeg::Modern,
        &publish_url(&server),
        &PublishOpts {
            seconds: 30.0,
            ..PublishOpts::default()
        },
    );
    player
        .wait_first_frame(Duration::from_secs(15))
        .expect("frames flow");
    let asked = Instant::now();
    let status = server.stop();
    let took = asked.elapsed();
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(1), "took {took:?} to stop");
    let report = player.wait();
    assert!(
        !report.timed_out,
        "player did not notice: {}",
        report.summary()
    );
    publisher.stop();
}

#[test]
fn first_start_makes_a_certificate_and_key_and_later_starts_reuse_them() {
    let state = TempDir::new("default");
    let dir = state.path().to_str().unwrap().to_owned();
    let args = ["--listen", "127.0.0.1:0", "--state-dir", dir.as_str()];
    let fingerprint = |server: &ServerProcess| {
        server
            .logs()
            .iter()
            .find_map(|l| l.split(" sha256 ").nth(1).map(str::to_owned))
            .expect("fingerprint logged")
    };
    let first = ServerProcess::start(&args);
    let first_print = fingerprint(&first);
    let key = std::fs::read_to_string(state.join("publish-key")).expect("publish key kept");
    let key = key.trim().to_owned();
    assert_eq!(key.len(), 32);
    assert!(first.log_contains("made a self-signed certificate"));
    assert!(
        !first.logs().iter().any(|l| l.contains(&key)),
        "the publish key was logged"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "private key readable by others");
    }
    // The generated key publishes.
    let url = first.rtmps_url(&format!("live/{key}"));
    let mut publisher = Publisher::start(
        Ffmpeg::Modern,
        &url,
        &PublishOpts {
            seconds: 1.0,
            ..PublishOpts::default()
        },
    );
    assert!(
        publisher
            .wait(Duration::from_secs(20))
            .expect("ends")
            .success(),
        "{:?}",
        publisher.logs()
    );
    assert!(first.stop().success());

    let second = ServerProcess::start(&args);
    assert_eq!(fingerprint(&second), first_print, "certificate not reused");
    assert!(!second.log_contains("made a self-signed certificate"));
    let again = std::fs::read_to_string(state.join("publish-key")).unwrap();
    assert_eq!(again.trim(), key);
}
