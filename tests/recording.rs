//! Local recording with real clients: ffmpeg publishes, rtmpsd records, and the segments
//! are read back with ffprobe (Debian's, for H.264 and AAC) or the modern ffmpeg (whose
//! FLV demuxer knows enhanced RTMP: HEVC, AV1, Opus; Debian's 5.1 reads those as VP6).
//!
//! Each segment is checked for its codecs, its duration against the time published, its
//! frame count (at least 98% of what was sent), timestamps that never go back, and a first
//! video frame that is a keyframe; then the budget, a SIGKILL in the middle of a write and
//! the restart that repairs it, and a folder that cannot be written.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use support::{
    AudioCodec, Ffmpeg, PLAY_KEY, PUBLISH_KEY, PlayOpts, Player, PublishOpts, Publisher, STREAM,
    ServerProcess, TempDir, VideoCodec, input_streams, showinfo_frames,
};

const FPS: u32 = 25;

/// What one segment holds, as a real demuxer reads it.
#[derive(Debug, Default)]
struct Probe {
    video_codec: Option<String>,
    audio_codec: Option<String>,
    /// The container's duration in seconds.
    duration: f64,
    /// Video packets: (dts in ms, keyframe).
    video: Vec<(i64, bool)>,
    /// Audio packet dts in ms.
    audio: Vec<i64>,
    /// Video frames the decoder produced.
    decoded: usize,
    /// The demuxer's and decoder's complaints.
    errors: Vec<String>,
}

impl Probe {
    fn assert_plays_alone(&self, what: &str) {
        assert!(self.errors.is_empty(), "{what}: {:?}", self.errors);
        let first = self
            .video
            .first()
            .unwrap_or_else(|| panic!("{what}: no video"));
        assert!(
            first.1,
            "{what}: first video packet is no keyframe: {self:?}"
        );
        assert_eq!(first.0, 0, "{what}: the segment starts at 0");
        for (name, dts) in [
            ("video", self.video.iter().map(|v| v.0).collect::<Vec<_>>()),
            ("audio", self.audio.clone()),
        ] {
            assert!(
                dts.windows(2).all(|w| w[0] <= w[1]),
                "{what}: {name} timestamps go back: {dts:?}"
            );
        }
        assert!(
            self.decoded >= self.video.len() * 98 / 100,
            "{what}: {} of {} frames decode",
            self.decoded,
            self.video.len()
        );
    }
}

fn ffprobe() -> PathBuf {
    let path = Ffmpeg::Debian.path().with_file_name("ffprobe");
    assert!(
        path.is_file(),
        "{} is missing: Debian's ffmpeg package ships it; run ./test.sh, which installs it \
         (apt-get install ffmpeg)",
        path.display()
    );
    path
}

fn run(program: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `key=value` of a `-of compact` line.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split('|')
        .find_map(|part| part.strip_prefix(key)?.strip_prefix('='))
}

fn ms(seconds: &str) -> i64 {
    (seconds.parse::<f64>().unwrap_or(f64::NAN) * 1000.0).round() as i64
}

/// Reads a segment with Debian's ffprobe (H.264, AAC).
fn probe_classic(file: &Path) -> Probe {
    let path = file.to_str().unwrap();
    let (out, err) = run(
        &ffprobe(),
        &[
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=index,codec_type,codec_name,nb_read_frames:format=duration:\
             packet=stream_index,dts_time,flags",
            "-of",
            "compact",
            path,
        ],
    );
    let mut probe = Probe {
        errors: err.lines().map(str::to_string).collect(),
        ..Probe::default()
    };
    let mut video_index = None;
    for line in out.lines() {
        if line.starts_with("stream|") {
            let codec = field(line, "codec_name").map(str::to_string);
            match field(line, "codec_type") {
                Some("video") => {
                    probe.video_codec = codec;
                    video_index = field(line, "index").map(str::to_string);
                    probe.decoded = field(line, "nb_read_frames")
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                }
                Some("audio") => probe.audio_codec = codec,
                _ => {}
            }
        } else if line.starts_with("format|") {
            probe.duration = field(line, "duration").map_or(0.0, |d| d.parse().unwrap_or(0.0));
        }
    }
    for line in out.lines().filter(|l| l.starts_with("packet|")) {
        let dts = ms(field(line, "dts_time").unwrap_or("nan"));
        if field(line, "stream_index") == video_index.as_deref() {
            let key = field(line, "flags").is_some_and(|f| f.starts_with('K'));
            probe.video.push((dts, key));
        } else {
            probe.audio.push(dts);
        }
    }
    probe
}

/// Reads a segment with the modern ffmpeg (HEVC, AV1, Opus): packets from `framecrc`,
/// decoded frames from `showinfo`.
fn probe_enhanced(file: &Path) -> Probe {
    let ffmpeg = Ffmpeg::Modern.path();
    let path = file.to_str().unwrap();
    let (out, err) = run(
        &ffmpeg,
        &[
            "-hide_banner",
            "-v",
            "info",
            "-i",
            path,
            "-map",
            "0",
            "-c",
            "copy",
            "-f",
            "framecrc",
            "-",
        ],
    );
    let mut probe = Probe::default();
    let mut video_stream = None;
    for line in err.lines() {
        if let Some(rest) = line.trim().strip_prefix("Duration: ") {
            let hms = rest.split(',').next().unwrap_or("");
            let parts: Vec<f64> = hms.split(':').filter_map(|p| p.parse().ok()).collect();
            if let [h, m, s] = parts[..] {
                probe.duration = h * 3600.0 + m * 60.0 + s;
            }
        }
        if let Some(at) = line.find("Stream #0:") {
            let rest = &line[at + "Stream #0:".len()..];
            let index: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let codec = |kind: &str| {
                rest.split(kind)
                    .nth(1)
                    .map(|c| c.split([' ', ',']).next().unwrap_or("").to_string())
            };
            if rest.contains(": Video: ") && probe.video_codec.is_none() {
                probe.video_codec = codec(": Video: ");
                video_stream = Some(index);
            } else if rest.contains(": Audio: ") && probe.audio_codec.is_none() {
                probe.audio_codec = codec(": Audio: ");
            }
        }
    }
    // framecrc: `stream, dts, pts, duration, size, crc[, F=0x..]` in each stream's time
    // base (1/1000 for FLV); a keyframe has no `F=` (its flags are just "key").
    for line in out.lines().filter(|l| !l.starts_with('#')) {
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        let (Some(stream), Some(dts)) = (cols.first(), cols.get(1)) else {
            continue;
        };
        let dts: i64 = dts.parse().unwrap_or(i64::MIN);
        if Some(*stream) == video_stream.as_deref() {
            let key = !cols.iter().any(|c| c.starts_with("F="));
            probe.video.push((dts, key));
        } else {
            probe.audio.push(dts);
        }
    }
    let (_, decode) = run(
        &ffmpeg,
        &[
            "-hide_banner",
            "-i",
            path,
            "-vf",
            "showinfo",
            "-f",
            "null",
            "-",
        ],
    );
    let report = support::PlayerReport::parse(&decode);
    probe.decoded = report.frame_count();
    probe.errors = report
        .error_lines()
        .into_iter()
        .filter(|l| !l.contains("showinfo"))
        .map(str::to_string)
        .collect();
    probe
}

/// The recording folder of the standard stream.
fn stream_dir(rec: &TempDir) -> PathBuf {
    rec.join("live").join(STREAM)
}

/// Files of `dir` ending in `ext`, in name order (which is start order).
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.to_str().unwrap().ends_with(ext))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn start_recording(state: &TempDir, rec: &TempDir, extra: &[&str]) -> ServerProcess {
    let mut args = vec!["--record-dir", rec.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    let server = ServerProcess::start_standard(state, &args);
    assert!(
        server.wait_for_log("recording live/test into", Duration::from_secs(10)),
        "no recorder started: {:?}",
        server.logs()
    );
    server
}

fn publish_url(server: &ServerProcess, key: &str) -> String {
    server.rtmps_url(&format!("live/{key}"))
}

/// Publishes `opts` to `key` and waits for the publisher to finish.
fn publish_all(server: &ServerProcess, ffmpeg: Ffmpeg, key: &str, opts: &PublishOpts) {
    let mut publisher = Publisher::start(ffmpeg, &publish_url(server, key), opts);
    let limit = Duration::from_secs_f64(opts.seconds * 4.0 + 20.0);
    let status = publisher.wait(limit);
    assert!(
        status.is_some_and(|s| s.success()),
        "publisher ended with {status:?}: {:?}",
        publisher.logs()
    );
}

/// Waits for `n` lines containing `needle` in the server's log.
fn wait_for_lines(server: &ServerProcess, needle: &str, n: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let count = server.logs().iter().filter(|l| l.contains(needle)).count();
        if count >= n {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn sent_frames(seconds: f64) -> usize {
    (seconds * f64::from(FPS)) as usize
}

#[test]
fn h264_and_aac_from_debian_ffmpeg_are_recorded_whole_while_a_player_plays() {
    let (state, rec) = (TempDir::new("rec-state"), TempDir::new("rec-h264"));
    let server = start_recording(&state, &rec, &[]);
    let seconds = 8.0;
    let opts = PublishOpts {
        seconds,
        ..PublishOpts::default()
    };
    let mut publisher = Publisher::start(Ffmpeg::Debian, &publish_url(&server, PUBLISH_KEY), &opts);
    assert!(server.wait_for_log("publishing live/test", Duration::from_secs(15)));
    let play_url = server.rtmps_url(&format!("live/{STREAM}?key={PLAY_KEY}"));
    let player = Player::start_with(
        Ffmpeg::Debian,
        &play_url,
        &PlayOpts {
            seconds: 4.0,
            ..PlayOpts::default()
        },
    );
    assert!(
        publisher
            .wait(Duration::from_secs(60))
            .is_some_and(|s| s.success())
    );
    let report = player.wait();
    assert!(
        report.frame_count() >= sent_frames(4.0) * 9 / 10,
        "the player was not served while recording: {}",
        report.summary()
    );
    assert!(server.wait_for_log("(publisher left)", Duration::from_secs(10)));
    let segments = files(&stream_dir(&rec), ".flv");
    assert_eq!(segments.len(), 1, "{segments:?}");
    assert!(files(&stream_dir(&rec), ".part").is_empty());
    let name = segments[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        name.len() == "20240501T123000Z.flv".len() && name.ends_with("Z.flv"),
        "named by its UTC start: {name}"
    );
    for entry in walk(rec.path()) {
        assert!(
            !entry.contains(PUBLISH_KEY),
            "a stream key in a file name: {entry}"
        );
    }
    let probe = probe_classic(&segments[0]);
    assert_eq!(probe.video_codec.as_deref(), Some("h264"), "{probe:?}");
    assert_eq!(probe.audio_codec.as_deref(), Some("aac"), "{probe:?}");
    assert!((probe.duration - seconds).abs() <= 1.0, "{probe:?}");
    assert!(
        probe.video.len() >= sent_frames(seconds) * 98 / 100,
        "{probe:?}"
    );
    probe.assert_plays_alone(&name);
    server.stop();
}

/// Every path under `root`, relative to it.
fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() {
                todo.push(path);
            }
        }
    }
    out
}

#[test]
fn hevc_and_av1_with_opus_from_the_modern_ffmpeg_are_kept_as_sent() {
    let (state, rec) = (TempDir::new("rec-state"), TempDir::new("rec-enhanced"));
    let server = start_recording(
        &state,
        &rec,
        &[
            "--publish-key",
            "hevc=hevc-key",
            "--publish-key",
            "av1=av1-key",
        ],
    );
    let seconds = 6.0;
    let cases = [
        ("hevc", "hevc-key", VideoCodec::Hevc),
        ("av1", "av1-key", VideoCodec::Av1),
    ];
    let publishers: Vec<Publisher> = cases
        .iter()
        .map(|(_, key, codec)| {
            let opts = PublishOpts {
                seconds,
                codec: *codec,
                audio_codec: AudioCodec::Opus,
                ..PublishOpts::default()
            };
            Publisher::start(Ffmpeg::Modern, &publish_url(&server, key), &opts)
        })
        .collect();
    for mut publisher in publishers {
        let status = publisher.wait(Duration::from_secs(90));
        assert!(
            status.is_some_and(|s| s.success()),
            "{:?}",
            publisher.logs()
        );
    }
    assert!(wait_for_lines(
        &server,
        "(publisher left)",
        2,
        Duration::from_secs(10)
    ));
    for (name, _, _) in cases {
        let segments = files(&rec.join("live").join(name), ".flv");
        assert_eq!(segments.len(), 1, "{name}: {segments:?}");
        let probe = probe_enhanced(&segments[0]);
        assert_eq!(probe.video_codec.as_deref(), Some(name), "{probe:?}");
        assert_eq!(probe.audio_codec.as_deref(), Some("opus"), "{probe:?}");
        assert!((probe.duration - seconds).abs() <= 1.0, "{name}: {probe:?}");
        assert!(
            probe.video.len() >= sent_frames(seconds) * 98 / 100,
            "{name}: {probe:?}"
        );
        probe.assert_plays_alone(name);
    }
    server.stop();
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn every_track_of_an_enhanced_rtmp_multitrack_stream_is_recorded() {
    let (state, rec) = (TempDir::new("rec-state"), TempDir::new("rec-multitrack"));
    let server = start_recording(&state, &rec, &[]);
    let seconds = 6;
    // ffmpeg 9 sends two H.264 renditions (video tracks 0 and 1) and AAC and Opus (audio
    // tracks 0 and 1), a keyframe a second on each video track.
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
        "-filter_complex",
        "[0:v]split=2[a][b];[a]scale=320:240[v0];[b]scale=160:120[v1]",
        "-map",
        "[v0]",
        "-map",
        "[v1]",
        "-map",
        "1:a",
        "-map",
        "1:a",
    ]);
    for i in 0..2 {
        args.push(format!("-c:v:{i}"));
        args.extend(strings(&[
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
        ]));
    }
    args.extend(strings(&[
        "-c:a:0", "aac", "-c:a:1", "libopus", "-g", "25", "-t",
    ]));
    args.push(seconds.to_string());
    args.extend(strings(&["-tls_verify", "0", "-f", "flv"]));
    args.push(publish_url(&server, PUBLISH_KEY));
    let mut publisher = Publisher::start_args(Ffmpeg::Modern, &args);
    let status = publisher.wait(Duration::from_secs(60));
    assert!(
        status.is_some_and(|s| s.success()),
        "{:?}",
        publisher.logs()
    );
    assert!(server.wait_for_log("(publisher left)", Duration::from_secs(10)));
    let segments = files(&stream_dir(&rec), ".flv");
    assert_eq!(segments.len(), 1, "{segments:?}");
    let path = segments[0].to_str().unwrap();
    let (_, err) = run(
        &Ffmpeg::Modern.path(),
        &[
            "-hide_banner",
            "-i",
            path,
            "-filter_complex",
            "[0:v:0]showinfo[o0];[0:v:1]showinfo[o1]",
            "-map",
            "[o0]",
            "-map",
            "[o1]",
            "-map",
            "0:a:0",
            "-map",
            "0:a:1",
            "-f",
            "null",
            "-",
        ],
    );
    let stderr: Vec<String> = err.lines().map(str::to_string).collect();
    let streams: Vec<String> = input_streams(&stderr)
        .into_iter()
        .map(|s| format!("{} {} {:?}", s.kind, s.codec, s.resolution))
        .collect();
    let expected = [
        "Video h264 Some((320, 240))",
        "Video h264 Some((160, 120))",
        "Audio aac None",
        "Audio opus None",
    ];
    assert_eq!(streams, expected, "{err}");
    let frames = showinfo_frames(&stderr);
    for track in 0..2 {
        let got = frames.get(&track).map(Vec::as_slice).unwrap_or_default();
        assert!(
            got.len() >= sent_frames(f64::from(seconds)) * 98 / 100,
            "video track {track}: {} frames decoded",
            got.len()
        );
        assert!(got[0].iskey, "video track {track} starts on a keyframe");
        assert!(got.windows(2).all(|w| w[0].pts_time <= w[1].pts_time));
    }
    server.stop();
}

#[test]
fn segments_rotate_on_keyframes_and_a_publisher_that_comes_back_starts_a_new_one() {
    let (state, rec) = (TempDir::new("rec-state"), TempDir::new("rec-rotate"));
    let server = start_recording(&state, &rec, &["--record-segment-secs", "2"]);
    for seconds in [5.0, 3.0] {
        let opts = PublishOpts {
            seconds,
            ..PublishOpts::default()
        };
        publish_all(&server, Ffmpeg::Debian, PUBLISH_KEY, &opts);
    }
    assert!(wait_for_lines(
        &server,
        "(publisher left)",
        2,
        Duration::from_secs(10)
    ));
    let segments = files(&stream_dir(&rec), ".flv");
    // 5 s: 0-2, 2-4, 4-5; 3 s: 0-2, 2-3 (a keyframe a second, so cuts fall on 2 s).
    assert_eq!(segments.len(), 5, "{segments:?}\n{:?}", server.logs());
    assert!(wait_for_lines(
        &server,
        "(segment length reached)",
        3,
        Duration::ZERO
    ));
    let mut total = 0.0;
    let mut frames = 0;
    for segment in &segments {
        let probe = probe_classic(segment);
        probe.assert_plays_alone(&segment.display().to_string());
        assert!(probe.duration <= 2.1, "{segment:?}: {probe:?}");
        total += probe.duration;
        frames += probe.video.len();
    }
    assert!((total - 8.0).abs() <= 1.0, "{total} s recorded of 8");
    assert!(frames >= sent_frames(8.0) * 98 / 100, "{frames} frames");
    server.stop();
}

#[test]
fn stopping_the_server_closes_the_open_segment() {
    let (state, rec) = (TempDir::new("rec-state"), TempDir::new("rec-stop"));
    let server = start_recording(&state, &rec, &[]);
    let opts = PublishOpts {
        seconds: 30.0,
        ..PublishOpts::default()
    };
    let _publisher = Publisher::start(Ffmpeg::Debian, &publish_url(&server, PUBLISH_KEY), &opts);
    assert!(server.wait_for_log("publishing live/test", Duration::from_secs(15)));
    thread::sleep(Duration::from_secs(4));
    let status = server.stop();
    assert!(status.success(), "{status}");
    assert!(files(&stream_dir(&rec), ".part").is_empty());
    let segments = files(&stream_dir(&rec), ".flv");
    assert_eq!(segments.len(), 1);
    let probe = probe_classic(&segments[0]);
    probe.assert_plays_alone("stopped");
    assert!((2.5..=5.0).contains(&probe.duration), "{probe:?}");
}

/// A made-up segment of `bytes` bytes that ended `age` ago.
fn old_segment(dir: &Path, name: &str, bytes: usize, age: Duration) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, vec![0u8; bytes]).unwrap();
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
    path
}

#[test]
fn the_budget_deletes_the_oldest_segments_first_and_keeps_the_folder_within_it() {
    let (state, rec) = (TempDir::new("rec-state"), TempDir::new("rec-budget"));
    let dir = stream_dir(&rec);
    fs::create_dir_all(&dir).unwrap();
    let expired = old_segment(
        &dir,
        "19990101T000000Z.flv",
        1000,
        Duration::from_secs(3 * 3600),
    );
    let oldest = old_segment(
        &dir,
        "20000101T000000Z.flv",
        300_000,
        Duration::from_secs(60),
    );
    let foreign = old_segment(&dir, "notes.txt", 10, Duration::from_secs(7 * 3600));
    let server = start_recording(
        &state,
        &rec,
        &[
            "--record-max-mib",
            "1",
            "--record-keep-hours",
            "1",
            "--record-segment-secs",
            "1",
        ],
    );
    assert!(
        !expired.exists(),
        "older than --record-keep-hours, deleted at start"
    );
    assert!(oldest.exists(), "within the budget and the hours");
    let opts = PublishOpts {
        seconds: 8.0,
        width: 640,
        height: 360,
        extra_args: ["-b:v", "1500k", "-maxrate", "1500k", "-bufsize", "500k"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..PublishOpts::default()
    };
    publish_all(&server, Ffmpeg::Debian, PUBLISH_KEY, &opts);
    assert!(server.wait_for_log("(publisher left)", Duration::from_secs(10)));
    let logs = server.logs();
    let deleted: Vec<String> = logs
        .iter()
        .filter_map(|l| l.split("recording budget: deleted live/test/").nth(1))
        .map(|rest| rest.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        deleted.first().map(String::as_str),
        Some("19990101T000000Z.flv")
    );
    assert_eq!(
        deleted.get(1).map(String::as_str),
        Some("20000101T000000Z.flv"),
        "the oldest goes first: {deleted:?}"
    );
    assert!(!oldest.exists());
    assert!(
        foreign.exists(),
        "files the recorder did not make are left alone"
    );
    let kept = files(&dir, ".flv");
    assert!(kept.len() >= 2, "{kept:?}");
    let kept_names: Vec<String> = kept
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    for gone in &deleted {
        assert!(
            kept_names.iter().all(|k| k > gone),
            "{gone} was deleted before an older one of {kept_names:?}"
        );
    }
    let total: u64 = kept.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
    assert!(total <= 1 << 20, "{total} bytes kept for a 1 MiB budget");
    assert!(
        deleted.len() >= 4,
        "the stream's own oldest segments went too: {deleted:?}"
    );
    // The newest segment, the last written, is there and plays.
    probe_classic(kept.last().unwrap()).assert_plays_alone("newest");
    server.stop();
}

/// Whether `bytes` is an FLV file of whole tags from its header to its last byte.
fn whole_tags(bytes: &[u8]) -> Result<usize, String> {
    if bytes.get(..3) != Some(b"FLV") {
        return Err("no FLV header".into());
    }
    let mut at = 13;
    let mut tags = 0;
    while at < bytes.len() {
        let header = bytes.get(at..at + 11).ok_or("a cut tag header")?;
        let size = u32::from_be_bytes([0, header[1], header[2], header[3]]) as usize;
        let end = at + 11 + size;
        let trailer = bytes.get(end..end + 4).ok_or("a cut tag")?;
        if u32::from_be_bytes(trailer.try_into().unwrap()) as usize != size + 11 {
            return Err(format!("a wrong tag size at {end}"));
        }
        at = end + 4;
        tags += 1;
    }
    Ok(tags)
}

#[test]
fn a_sigkill_mid_write_leaves_playable_segments_and_the_next_start_finishes_them() {
    let (state, rec) = (TempDir::new("rec-state"), TempDir::new("rec-kill"));
    let server = start_recording(&state, &rec, &["--record-segment-secs", "10"]);
    let opts = PublishOpts {
        seconds: 40.0,
        ..PublishOpts::default()
    };
    let mut publisher = Publisher::start(Ffmpeg::Debian, &publish_url(&server, PUBLISH_KEY), &opts);
    assert!(server.wait_for_log("publishing live/test", Duration::from_secs(15)));
    let published = Instant::now();
    assert!(server.wait_for_log("(segment length reached)", Duration::from_secs(30)));
    // Into the second segment, past its first periodic sync (5 s after its start).
    thread::sleep(Duration::from_secs(7));
    let cut = published.elapsed().as_secs_f64();
    // SAFETY: kill(2) touches no memory; the pid is the server this test started and still
    // owns (ServerProcess reaps it only on stop or drop).
    let killed = unsafe { libc::kill(server.pid() as i32, libc::SIGKILL) };
    assert_eq!(killed, 0);
    publisher.stop();
    drop(server);
    let dir = stream_dir(&rec);
    let closed = files(&dir, ".flv");
    let open = files(&dir, ".flv.part");
    assert_eq!((closed.len(), open.len()), (1, 1), "{closed:?} {open:?}");
    let mut recorded = 0.0;
    for segment in closed.iter().chain(&open) {
        let probe = probe_classic(segment);
        probe.assert_plays_alone(&segment.display().to_string());
        recorded += probe.duration;
    }
    // A power cut loses at most the 5 s since the last sync; a kill, what the buffer held.
    assert!(
        recorded >= cut - 6.0 && recorded <= cut + 1.0,
        "{recorded:.1} s playable of {cut:.1} s published before the cut"
    );
    let part_probe = probe_classic(&open[0]);
    assert!(
        part_probe.duration >= 3.0,
        "the open segment kept what its periodic sync wrote: {part_probe:?}"
    );
    // The cut may have fallen between tags or inside one; make sure one is cut off.
    let part = &open[0];
    let mut bytes = fs::read(part).unwrap();
    bytes.extend_from_slice(&[9, 0, 0x10, 0, 0, 0]);
    fs::write(part, &bytes).unwrap();
    assert!(whole_tags(&bytes).is_err());
    let server = start_recording(&state, &rec, &[]);
    assert!(
        server.log_contains("recording: repaired live/test/"),
        "{:?}",
        server.logs()
    );
    assert!(!part.exists());
    let finished = PathBuf::from(part.to_str().unwrap().trim_end_matches(".part"));
    let repaired = fs::read(&finished).unwrap();
    assert!(repaired.len() < bytes.len());
    let tags = whole_tags(&repaired).unwrap();
    assert!(
        tags >= 4,
        "metadata, headers and a keyframe at least: {tags}"
    );
    let probe = probe_classic(&finished);
    probe.assert_plays_alone("repaired");
    assert!(probe.duration >= 0.0);
    server.stop();
}

/// Runs rtmpsd with `args` until it exits (at most 20 s); returns its status and stderr.
fn run_rtmpsd(
    program: &Path,
    args: &[&str],
    as_nobody: bool,
) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if as_nobody {
        command.uid(NOBODY).gid(NOBODY);
    }
    // A copy just written may be held open by a child another test thread forked in that
    // moment (until its exec closes it): exec then fails with ETXTBSY for a little while.
    let mut tries = 0;
    let mut child = loop {
        match command.spawn() {
            Ok(child) => break child,
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot start {}: {e}", program.display()),
        }
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rtmpsd {args:?} did not stop on its own");
        }
        thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

const NOBODY: u32 = 65534;

#[test]
fn a_record_dir_that_cannot_be_written_is_refused_at_start() {
    let work = TempDir::new("rec-refuse");
    // Root writes into any folder whatever its mode: as root, run rtmpsd as nobody (from a
    // copy nobody can reach) so the folder's mode really refuses it.
    let as_root = unsafe { libc::geteuid() } == 0;
    let program = work.join("rtmpsd");
    fs::copy(env!("CARGO_BIN_EXE_rtmpsd"), &program).unwrap();
    let state = work.join("state");
    fs::create_dir(&state).unwrap();
    let read_only = work.join("read-only");
    fs::create_dir(&read_only).unwrap();
    fs::set_permissions(&read_only, fs::Permissions::from_mode(0o555)).unwrap();
    if as_root {
        std::os::unix::fs::chown(&state, Some(NOBODY), Some(NOBODY)).unwrap();
        fs::set_permissions(work.path(), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let blocker = work.join("a-file");
    fs::write(&blocker, b"").unwrap();
    let under_a_file = blocker.join("rec");
    let cases = [
        (&read_only, "cannot write a file in it: Permission denied"),
        (&under_a_file, "cannot make the folder: Not a directory"),
    ];
    for (dir, why) in cases {
        let args = [
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
            state.to_str().unwrap(),
            "--publish-key",
            "test=refuse-key",
            "--record-dir",
            dir.to_str().unwrap(),
        ];
        let (status, stderr) = run_rtmpsd(&program, &args, as_root);
        assert!(!status.success(), "{dir:?} accepted: {stderr}");
        let expected = format!("--record-dir {} is not writable: {why}", dir.display());
        assert!(
            stderr.contains(&expected),
            "wanted {expected:?} in:\n{stderr}"
        );
        assert!(
            !stderr.contains("listening rtmps"),
            "refused before serving: {stderr}"
        );
    }
}
