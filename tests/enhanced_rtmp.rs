//! Enhanced RTMP v2 end to end with real clients over `rtmps://` on loopback, through the
//! rtmpsd binary: ffmpeg 9 (imageio-ffmpeg) publishes multitrack video and audio and every
//! v2 codec pairing it can mux, players join late; Debian's ffmpeg 5.1 still plays the
//! default track; ffmpeg's `fourCcList` reaches the server. A missing ffmpeg fails these
//! tests (`./test.sh` installs both); none skips itself.

mod support;

use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use support::{
    Ffmpeg, InputStream, PLAY_KEY, PUBLISH_KEY, PlayOpts, Player, PlayerReport, Publisher, STREAM,
    ServerProcess, TempDir, input_streams, showinfo_frames,
};

/// Decoder complaints that mean a track arrived without its configuration or keyframe.
const UNDECODABLE: [&str; 8] = [
    "No start code is found",
    "dimensions not set",
    "non-existing PPS",
    "no frame!",
    "Error while decoding",
    "Could not find codec parameters",
    "decode_slice_header error",
    "Invalid data found",
];

/// The encoders here are heavy for a 2-core box: one test at a time keeps them real-time.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn play_url(server: &ServerProcess) -> String {
    server.rtmps_url(&format!("live/{STREAM}?key={PLAY_KEY}"))
}

fn publish_url(server: &ServerProcess) -> String {
    server.rtmps_url(&format!("live/{PUBLISH_KEY}"))
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// An ffmpeg 9 publisher of the test pattern and a 440 Hz tone, `seconds` long at 25 fps
/// with a keyframe a second: one `video` argument set per video track (each a scale and an
/// encoder), one `audio` encoder per audio track.
fn modern_publisher(
    url: &str,
    video: &[(&str, &[&str])],
    audio: &[&str],
    seconds: u32,
) -> Publisher {
    let mut args = strings(&[
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "warning",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=48000",
    ]);
    let mut graph = format!("[0:v]split={}", video.len());
    for i in 0..video.len() {
        graph.push_str(&format!("[s{i}]"));
    }
    for (i, (scale, _)) in video.iter().enumerate() {
        graph.push_str(&format!(";[s{i}]scale={scale}[v{i}]"));
    }
    args.extend(strings(&["-filter_complex", &graph]));
    for i in 0..video.len() {
        args.extend(strings(&["-map", &format!("[v{i}]")]));
    }
    for _ in audio {
        args.extend(strings(&["-map", "1:a"]));
    }
    for (i, (_, encoder)) in video.iter().enumerate() {
        args.push(format!("-c:v:{i}"));
        args.extend(strings(encoder));
    }
    for (i, encoder) in audio.iter().enumerate() {
        args.extend(strings(&[&format!("-c:a:{i}"), encoder]));
    }
    args.extend(strings(&[
        "-g",
        "25",
        "-t",
        &seconds.to_string(),
        "-tls_verify",
        "0",
        "-f",
        "flv",
        url,
    ]));
    Publisher::start_args(Ffmpeg::Modern, &args)
}

/// A late ffmpeg 9 player that decodes `seconds` of every track, with one `showinfo` per
/// video track.
fn every_track_player(url: &str, video_tracks: usize, audio_tracks: usize, seconds: f64) -> Player {
    let opts = PlayOpts {
        seconds,
        ..PlayOpts::default()
    };
    let mut args = strings(&[
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "info",
        "-rw_timeout",
        "5000000",
        "-tls_verify",
        "0",
        "-i",
        url,
    ]);
    let graph: Vec<String> = (0..video_tracks)
        .map(|i| format!("[0:v:{i}]showinfo[o{i}]"))
        .collect();
    args.extend(strings(&["-filter_complex", &graph.join(";")]));
    for i in 0..video_tracks {
        args.extend(strings(&["-map", &format!("[o{i}]")]));
    }
    for i in 0..audio_tracks {
        args.extend(strings(&["-map", &format!("0:a:{i}")]));
    }
    args.extend(strings(&["-t", &seconds.to_string(), "-f", "null", "-"]));
    Player::start_args(Ffmpeg::Modern, &args, &opts)
}

/// Debian's ffmpeg 5.1 playing the default tracks (video 0, audio 0) of a multitrack stream.
///
/// It reads track 1's enhanced video messages as a legacy codec id (Screen Video 2), so its
/// automatic stream choice could pick a stream it cannot decode, and it would probe that one
/// for its whole default 5 s; a legacy player is told which to play and to probe for 1 s.
/// It counts decoded frames (25 a second), not time: the cached configuration of track 1
/// carries the timestamp it was sent with, which 5.1 takes for the stream's start.
fn default_track_player(url: &str, seconds: f64) -> Player {
    let opts = PlayOpts {
        seconds,
        ..PlayOpts::default()
    };
    let args = strings(&[
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "info",
        "-rw_timeout",
        "5000000",
        "-analyzeduration",
        "1000000",
        "-i",
        url,
        "-map",
        "0:v:0",
        "-map",
        "0:a:0",
        "-frames:v",
        &((seconds * 25.0) as u32).to_string(),
        "-vf",
        "showinfo",
        "-f",
        "null",
        "-",
    ]);
    Player::start_args(Ffmpeg::Debian, &args, &opts)
}

/// Lines of `report` that say a track could not be decoded.
fn undecodable_lines(report: &PlayerReport) -> Vec<&str> {
    report
        .stderr
        .iter()
        .map(String::as_str)
        .filter(|l| UNDECODABLE.iter().any(|bad| l.contains(bad)))
        .collect()
}

fn stream(kind: &str, codec: &str, resolution: Option<(u32, u32)>) -> InputStream {
    InputStream {
        kind: kind.to_owned(),
        codec: codec.to_owned(),
        resolution,
    }
}

#[test]
fn multitrack_video_and_audio_reach_a_late_player_with_every_track_decodable() {
    let _serial = one_at_a_time();
    let state = TempDir::new("multitrack");
    let server = ServerProcess::start_standard(&state, &[]);
    let x264: &[&str] = &["libx264", "-preset", "ultrafast", "-tune", "zerolatency"];
    let mut publisher = modern_publisher(
        &publish_url(&server),
        &[("320:240", x264), ("160:120", x264)],
        &["aac", "libopus"],
        12,
    );
    assert!(
        server.wait_for_log("publishing live/", Duration::from_secs(15)),
        "publisher never arrived: {:?}",
        publisher.logs()
    );
    // Join in the middle of a GOP (one keyframe a second), as a late viewer does.
    thread::sleep(Duration::from_millis(2500));
    let report = every_track_player(&play_url(&server), 2, 2, 3.0).wait();
    publisher.stop();

    // What ffprobe would list: both renditions with their sizes, and both audio tracks.
    assert_eq!(
        input_streams(&report.stderr),
        [
            stream("Video", "h264", Some((320, 240))),
            stream("Video", "h264", Some((160, 120))),
            stream("Audio", "aac", None),
            stream("Audio", "opus", None),
        ],
        "{}",
        report.summary()
    );
    assert!(
        undecodable_lines(&report).is_empty(),
        "undecodable: {:?}",
        undecodable_lines(&report)
    );
    let frames = showinfo_frames(&report.stderr);
    for track in 0..2 {
        let got = frames.get(&track).map(Vec::as_slice).unwrap_or_default();
        assert!(
            got.first().is_some_and(|f| f.iskey),
            "video track {track} did not start on a keyframe: {}",
            report.summary()
        );
        // 3 s at 25 fps, less what the late start may trim.
        assert!(
            got.len() >= 70,
            "video track {track}: {} frames: {}",
            got.len(),
            report.summary()
        );
    }
    assert!(
        report.status.is_some_and(|s| s.success()),
        "{}",
        report.summary()
    );
    // The log names the codec of each track.
    for line in [
        "video track 0: H.264 (avc1)",
        "video track 1: H.264 (avc1)",
        "audio track 0: AAC (mp4a)",
        "audio track 1: Opus (Opus)",
    ] {
        assert!(server.log_contains(line), "no {line:?} in the log");
    }
}

#[test]
fn debian_ffmpeg_plays_the_default_track_of_multitrack_video() {
    // OBS's enhanced broadcasting shape: several video renditions, one audio track. Debian's
    // ffmpeg 5.1 knows no enhanced RTMP; it plays track 0 (legacy H.264) and the audio.
    // (With several audio tracks it cannot: it mixes the other tracks' messages into its one
    // audio stream and stops. rtmpsd cannot tell it from ffmpeg 8+, which declares nothing in
    // `connect` either, so it does not filter tracks per player.)
    let _serial = one_at_a_time();
    let state = TempDir::new("multitrack-legacy");
    let server = ServerProcess::start_standard(&state, &[]);
    let x264: &[&str] = &["libx264", "-preset", "ultrafast", "-tune", "zerolatency"];
    let mut publisher = modern_publisher(
        &publish_url(&server),
        &[("320:240", x264), ("160:120", x264)],
        &["aac"],
        10,
    );
    assert!(
        server.wait_for_log("publishing live/", Duration::from_secs(15)),
        "publisher never arrived: {:?}",
        publisher.logs()
    );
    thread::sleep(Duration::from_millis(2500));
    let legacy = default_track_player(&play_url(&server), 3.0).wait();
    publisher.stop();
    let summary = legacy.summary();
    assert_eq!(legacy.video_codec.as_deref(), Some("h264"), "{summary}");
    assert_eq!(legacy.resolution, Some((320, 240)), "{summary}");
    assert_eq!(legacy.audio_codec.as_deref(), Some("aac"), "{summary}");
    assert!(legacy.first_frame_is_key(), "{summary}");
    assert!(legacy.frame_count() >= 70, "{summary}");
    assert!(legacy.status.is_some_and(|s| s.success()), "{summary}");
}

/// One single-track pairing of a v2 video and audio codec.
struct Pairing {
    scale: &'static str,
    video: &'static [&'static str],
    audio: &'static str,
    rate: u32,
    /// What ffmpeg's input dump names them, and the server log.
    video_name: &'static str,
    audio_name: &'static str,
    log: [&'static str; 2],
    /// The first keyframe must be among this many decoded frames: 1, except for VVC, whose
    /// decoder outputs vvenc's leading pictures (reordered, before the keyframe in display
    /// order) first, whether from rtmpsd or from an FLV file.
    key_within: usize,
}

fn round_trip(pairing: &Pairing) {
    let _serial = one_at_a_time();
    let state = TempDir::new("codec");
    let server = ServerProcess::start_standard(&state, &[]);
    let mut args = strings(&[
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "warning",
        "-re",
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size={}:rate={}", pairing.scale, pairing.rate),
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=48000",
        "-c:v",
    ]);
    args.extend(strings(pairing.video));
    args.extend(strings(&[
        "-g",
        &pairing.rate.to_string(),
        "-c:a",
        pairing.audio,
        "-t",
        "7",
        "-tls_verify",
        "0",
        "-f",
        "flv",
        &publish_url(&server),
    ]));
    let mut publisher = Publisher::start_args(Ffmpeg::Modern, &args);
    assert!(
        server.wait_for_log("publishing live/", Duration::from_secs(15)),
        "{}: publisher never arrived: {:?}",
        pairing.video_name,
        publisher.logs()
    );
    thread::sleep(Duration::from_millis(1500));
    let report = every_track_player(&play_url(&server), 1, 1, 2.0).wait();
    publisher.stop();
    let summary = report.summary();
    let streams = input_streams(&report.stderr);
    assert_eq!(
        streams
            .iter()
            .map(|s| (s.kind.as_str(), s.codec.as_str()))
            .collect::<Vec<_>>(),
        [("Video", pairing.video_name), ("Audio", pairing.audio_name)],
        "{summary}"
    );
    assert!(
        undecodable_lines(&report).is_empty(),
        "{}: {:?}",
        pairing.video_name,
        undecodable_lines(&report)
    );
    let frames = showinfo_frames(&report.stderr);
    let video = frames.get(&0).map(Vec::as_slice).unwrap_or_default();
    assert!(
        video.iter().take(pairing.key_within).any(|f| f.iskey),
        "{}: no keyframe in the first {} frames: {summary}",
        pairing.video_name,
        pairing.key_within
    );
    let wanted = (2 * pairing.rate * 8 / 10) as usize;
    assert!(
        video.len() >= wanted,
        "{}: {} frames, wanted {wanted}: {summary}",
        pairing.video_name,
        video.len()
    );
    for line in pairing.log {
        assert!(server.log_contains(line), "no {line:?} in the log");
    }
}

#[test]
fn hevc_with_ac3_round_trips_to_a_late_player() {
    round_trip(&Pairing {
        scale: "320x240",
        video: &[
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=error",
        ],
        audio: "ac3",
        rate: 25,
        video_name: "hevc",
        audio_name: "ac3",
        log: ["video track 0: H.265 (hvc1)", "audio track 0: AC-3 (ac-3)"],
        key_within: 1,
    });
}

#[test]
fn av1_with_opus_round_trips_to_a_late_player() {
    round_trip(&Pairing {
        scale: "320x240",
        video: &["libsvtav1", "-preset", "12"],
        audio: "libopus",
        rate: 25,
        video_name: "av1",
        audio_name: "opus",
        log: ["video track 0: AV1 (av01)", "audio track 0: Opus (Opus)"],
        key_within: 1,
    });
}

#[test]
fn vp9_with_flac_round_trips_to_a_late_player() {
    round_trip(&Pairing {
        scale: "320x240",
        video: &["libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"],
        audio: "flac",
        rate: 25,
        video_name: "vp9",
        audio_name: "flac",
        log: ["video track 0: VP9 (vp09)", "audio track 0: FLAC (fLaC)"],
        key_within: 1,
    });
}

#[test]
fn vvc_with_eac3_round_trips_to_a_late_player() {
    // VVC encodes slowly: a small picture at 10 fps keeps it real-time on a loaded box.
    round_trip(&Pairing {
        scale: "160x128",
        video: &["libvvenc", "-preset", "0", "-period", "1"],
        audio: "eac3",
        rate: 10,
        video_name: "vvc",
        audio_name: "eac3",
        log: [
            "video track 0: H.266 (vvc1)",
            "audio track 0: E-AC-3 (ec-3)",
        ],
        key_within: 10,
    });
}

#[test]
fn ffmpegs_fourcc_list_is_read_and_answered() {
    let _serial = one_at_a_time();
    let state = TempDir::new("fourcc");
    let server = ServerProcess::start_standard(&state, &[]);
    let args = strings(&[
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-loglevel",
        "warning",
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error",
        "-g",
        "25",
        "-t",
        "3",
        "-rtmp_enhanced_codecs",
        "hvc1,av01,Opus",
        "-tls_verify",
        "0",
        "-f",
        "flv",
        &publish_url(&server),
    ]);
    let mut publisher = Publisher::start_args(Ffmpeg::Modern, &args);
    let player = Player::start_with(
        Ffmpeg::Modern,
        &play_url(&server),
        &PlayOpts {
            seconds: 30.0,
            ..PlayOpts::default()
        },
    );
    let status = publisher
        .wait(Duration::from_secs(30))
        .expect("publisher ends");
    assert!(status.success(), "{:?}", publisher.logs());
    let report = player.wait();
    assert!(
        server.log_contains("enhanced rtmp: no capsEx; video hvc1 av01; audio Opus"),
        "the declared codecs are not in the debug log"
    );
    assert_eq!(
        report.video_codec.as_deref(),
        Some("hevc"),
        "{}",
        report.summary()
    );
    assert!(report.frame_count() >= 60, "{}", report.summary());
}
