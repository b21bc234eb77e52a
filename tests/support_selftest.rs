//! Checks of the test harness itself that need no server and no ffmpeg: stderr parsing,
//! listener discovery, log bounds and child clean-up, using `sh` as a stand-in server.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{
    AudioCodec, Ffmpeg, InputStream, PictType, PlayOpts, PlayerReport, PublishOpts, Publisher,
    ServerProcess, TempDir, VideoCodec, input_streams, showinfo_frames,
};

/// Trimmed stderr of Debian's ffmpeg 5.1 playing an H.264 + AAC stream from nginx-rtmp.
const FFMPEG51_PLAY: &str = "\
Input #0, flv, from 'rtmps://127.0.0.1:19351/live/a':
  Stream #0:0: Video: h264 (Constrained Baseline), yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr, 1k tbn
  Stream #0:1: Audio: aac (LC), 44100 Hz, mono, fltp, 63 kb/s
Stream mapping:
  Stream #0:0 -> #0:0 (h264 (native) -> wrapped_avframe (native))
  Stream #0:1 -> #0:1 (aac (native) -> pcm_s16le (native))
[Parsed_showinfo_0 @ 0x55a2d3c8c980] config in time_base: 1/1000, frame_rate: 25/1
[Parsed_showinfo_0 @ 0x55a2d3c8c980] n:   0 pts:      0 pts_time:0       pos:      511 fmt:yuv420p sar:1/1 s:320x240 i:P iskey:1 type:I checksum:1FFCCDBE plane_checksum:[31431434 D10FA98B 51C10FFF] mean:[123 129 126] stdev:[57.3 78.2 80.5]
[Parsed_showinfo_0 @ 0x55a2d3c8c980] color_range:unknown color_space:unknown color_primaries:unknown color_trc:unknown
Output #0, null, to 'pipe:':
  Stream #0:0: Video: wrapped_avframe, yuv420p(progressive), 640x480 [SAR 1:1 DAR 4:3], q=2-31, 200 kb/s, 25 fps, 25 tbn
  Stream #0:1: Audio: pcm_s16le, 44100 Hz, mono, s16, 705 kb/s
frame=    1 fps=0.0 q=-0.0 size=N/A time=00:00:00.09 bitrate=N/A speed=  42x    \r[Parsed_showinfo_0 @ 0x55a2d3c8c980] n:   1 pts:     40 pts_time:0.04    pos:    11474 fmt:yuv420p sar:1/1 s:320x240 i:P iskey:0 type:P checksum:90D8B294
[Parsed_showinfo_0 @ 0x55a2d3c8c980] n:   2 pts:     80 pts_time:0.08    pos:    14392 fmt:yuv420p sar:1/1 s:320x240 i:P iskey:0 type:P checksum:E728C72B
";

/// Trimmed stderr of ffmpeg 9 playing HEVC (enhanced RTMP) with B-frames.
const FFMPEG9_PLAY_HEVC: &str = "\
  Stream #0:0: Video: hevc (Main), yuv420p(tv, gbr/unknown/unknown), 1280x720 [SAR 1:1 DAR 16:9], 25 fps, 25 tbr, 1k tbn, start 0.023000
  Stream #0:1: Audio: aac (LC), 44100 Hz, mono, fltp, 68 kb/s
[Parsed_showinfo_0 @ 0x7fba28001a40] n:   0 pts:     23 pts_time:0.023   duration:     40 duration_time:0.04    fmt:yuv420p cl:left sar:1/1 s:1280x720 i:P iskey:1 type:I checksum:4CFF1600
[Parsed_showinfo_0 @ 0x7fba28001a40] n:   1 pts:     63 pts_time:0.063   duration:     40 duration_time:0.04    fmt:yuv420p cl:left sar:1/1 s:1280x720 i:P iskey:0 type:B checksum:959941D4
[Parsed_showinfo_0 @ 0x7fba28001a40] n:   2 pts:    103 pts_time:0.103   duration:     40 duration_time:0.04    fmt:yuv420p cl:left sar:1/1 s:1280x720 i:P iskey:0 type:P checksum:43438701
";

#[test]
fn player_report_reads_ffmpeg51_stream_lines_and_frames() {
    let r = PlayerReport::parse(FFMPEG51_PLAY);
    assert_eq!(r.video_codec.as_deref(), Some("h264"));
    assert_eq!(r.resolution, Some((320, 240)), "input, not output, size");
    assert_eq!(r.audio_codec.as_deref(), Some("aac"));
    assert_eq!(r.frame_count(), 3);
    assert_eq!(r.frames[1].n, 1);
    assert_eq!(r.frames[1].pts_time, 0.04);
    assert_eq!(r.frames[1].kind, PictType::P);
    assert!(r.first_frame_is_key());
    assert_eq!(r.key_frames(), 1);
    assert!(r.pts_monotonic());
    assert!(!r.has_b_frames());
    assert_eq!(r.first_frame_after, None);
}

#[test]
fn player_report_reads_ffmpeg9_hevc_lines() {
    let r = PlayerReport::parse(FFMPEG9_PLAY_HEVC);
    assert_eq!(r.video_codec.as_deref(), Some("hevc"));
    assert_eq!(r.resolution, Some((1280, 720)));
    assert_eq!(r.frames[0].pts_time, 0.023);
    assert_eq!(r.frames[0].kind, PictType::I);
    assert!(r.has_b_frames());
    assert!(r.pts_monotonic());
}

#[test]
fn player_report_flags_backwards_and_missing_timestamps() {
    let back = "[Parsed_showinfo_0 @ 0x1] n:   0 pts: 80 pts_time:0.08 iskey:0 type:P\n\
                [Parsed_showinfo_0 @ 0x1] n:   1 pts: 40 pts_time:0.04 iskey:1 type:I\n";
    let r = PlayerReport::parse(back);
    assert_eq!(r.frame_count(), 2);
    assert!(!r.first_frame_is_key());
    assert!(!r.pts_monotonic());
    let nopts = "[Parsed_showinfo_0 @ 0x1] n:   0 pts: NOPTS pts_time:NOPTS iskey:1 type:I\n\
                 [Parsed_showinfo_0 @ 0x1] n:   1 pts: 40 pts_time:0.04 iskey:0 type:P\n";
    assert!(!PlayerReport::parse(nopts).pts_monotonic());
}

#[test]
fn player_report_skips_fourcc_hex_when_finding_the_size() {
    let line = "  Stream #0:0: Video: hevc (1cvh / 0x68766331), yuv420p(tv, progressive), \
                320x240 [SAR 1:1 DAR 4:3], q=2-31, 25 fps, 1k tbn";
    let r = PlayerReport::parse(line);
    assert_eq!(r.resolution, Some((320, 240)));
}

#[test]
fn empty_output_gives_an_empty_report() {
    let r = PlayerReport::parse("Error opening input file rtmps://127.0.0.1:1/live/x.\n");
    assert_eq!(r.video_codec, None);
    assert_eq!(r.frame_count(), 0);
    assert!(!r.first_frame_is_key());
    assert_eq!(r.error_lines().len(), 1);
}

#[test]
fn publisher_args_follow_the_options() {
    let url = "rtmps://127.0.0.1:1/live/k";
    let plain = Publisher::args(Ffmpeg::Debian, url, &PublishOpts::default()).join(" ");
    assert!(
        plain.contains("-re -f lavfi -i testsrc2=size=320x240:rate=25"),
        "{plain}"
    );
    assert!(plain.contains("-c:v libx264 -preset ultrafast -tune zerolatency -bf 0 -g 25"));
    assert!(plain.contains("-c:a aac"));
    assert!(!plain.contains("-tls_verify"));
    assert!(
        plain.ends_with("-t 5 -flvflags no_duration_filesize -f flv rtmps://127.0.0.1:1/live/k")
    );

    let opts = PublishOpts {
        codec: VideoCodec::Hevc,
        b_frames: true,
        audio: false,
        seconds: 2.5,
        ..PublishOpts::default()
    };
    let hevc = Publisher::args(Ffmpeg::Modern, url, &opts).join(" ");
    assert!(hevc.contains("-c:v libx265"), "{hevc}");
    assert!(hevc.contains("-bf 2") && !hevc.contains("zerolatency"));
    assert!(!hevc.contains("sine") && !hevc.contains("-c:a"));
    assert!(hevc.contains("-t 2.5 -tls_verify 0 "));

    let opts = PublishOpts {
        codec: VideoCodec::Av1,
        audio_codec: AudioCodec::Opus,
        ..PublishOpts::default()
    };
    let av1 = Publisher::args(Ffmpeg::Modern, url, &opts).join(" ");
    assert!(av1.contains("-c:v libsvtav1 -preset 10 -g 25"), "{av1}");
    assert!(!av1.contains("-tune") && !av1.contains("-bf"), "{av1}");
    assert!(av1.contains("-c:a libopus -b:a 64k -ar 48000"), "{av1}");
}

#[test]
#[should_panic(expected = "cannot send HEVC, AV1 or Opus")]
fn debian_ffmpeg_refuses_opus_publishing() {
    let opts = PublishOpts {
        audio_codec: AudioCodec::Opus,
        ..PublishOpts::default()
    };
    Publisher::start(Ffmpeg::Debian, "rtmp://127.0.0.1:1/live/k", &opts);
}

#[test]
#[should_panic(expected = "cannot send HEVC")]
fn debian_ffmpeg_refuses_hevc_publishing() {
    let opts = PublishOpts {
        codec: VideoCodec::Hevc,
        ..PublishOpts::default()
    };
    Publisher::start(Ffmpeg::Debian, "rtmp://127.0.0.1:1/live/k", &opts);
}

#[test]
fn player_args_bound_reads_and_decode_with_showinfo() {
    let opts = PlayOpts {
        seconds: 4.0,
        rw_timeout: Duration::from_millis(2500),
        extra_input_args: vec!["-fflags".into(), "nobuffer".into()],
    };
    let a = support::Player::args(Ffmpeg::Modern, "rtmps://127.0.0.1:1/live/k", &opts).join(" ");
    assert!(
        a.contains("-rw_timeout 2500000 -tls_verify 0 -fflags nobuffer -i rtmps://127.0.0.1:1/live/k -t 4 -vf showinfo -f null -"),
        "{a}"
    );
}

/// A stand-in server: `sh -c SCRIPT sh ARGS...`, so `--rtmp-listen` can be among ARGS.
fn fake_server(script: &str, extra: &[&str]) -> ServerProcess {
    let mut args = vec!["-c", script, "sh"];
    args.extend_from_slice(extra);
    ServerProcess::start_program(Path::new("/bin/sh"), &args)
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn server_process_finds_both_listener_addresses() {
    let s = fake_server(
        "echo 'INFO starting' >&2; \
         echo '[2026 INFO rtmpsd] listening rtmps on 127.0.0.1:44333' >&2; \
         sleep 0.2; echo 'listening rtmp on 127.0.0.1:41935, plain' >&2; \
         echo 'ready' >&2; exec sleep 30",
        &["--rtmp-listen", "127.0.0.1:0"],
    );
    assert_eq!(s.addr().to_string(), "127.0.0.1:44333");
    assert_eq!(
        s.rtmp_addr().map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:41935")
    );
    assert_eq!(s.rtmps_url("/live/k"), "rtmps://127.0.0.1:44333/live/k");
    assert_eq!(s.rtmp_url("live/k"), "rtmp://127.0.0.1:41935/live/k");
    assert!(s.wait_for_log("ready", Duration::from_secs(5)));
    assert!(s.log_contains("INFO starting"));
    assert!(!s.wait_for_log("never printed", Duration::from_millis(50)));
}

#[test]
fn server_process_without_rtmp_flag_has_no_plain_address() {
    let s = fake_server(
        "echo 'listening rtmps on 127.0.0.1:44334' >&2; exec sleep 30",
        &[],
    );
    assert_eq!(s.rtmp_addr(), None);
}

#[test]
#[should_panic(expected = "did not report its listeners")]
fn server_process_that_exits_early_panics_with_its_log() {
    fake_server("echo 'bad flag --bogus' >&2; exit 3", &[]);
}

#[test]
fn server_process_keeps_only_the_last_lines() {
    let s = fake_server(
        "seq 1 6000 >&2; echo 'listening rtmps on 127.0.0.1:44335' >&2; exec sleep 30",
        &[],
    );
    let logs = s.logs();
    assert_eq!(logs.len(), support::MAX_LOG_LINES);
    assert_eq!(logs[0], "1002");
    assert!(logs[logs.len() - 1].contains("listening rtmps"));
}

#[test]
fn dropping_a_server_kills_and_reaps_it() {
    let s = fake_server(
        "echo 'listening rtmps on 127.0.0.1:44336' >&2; exec sleep 30",
        &[],
    );
    let pid = s.pid();
    assert!(alive(pid));
    let started = Instant::now();
    drop(s);
    assert!(!alive(pid), "pid {pid} still exists");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "SIGTERM should suffice"
    );
}

#[test]
fn a_server_ignoring_sigterm_is_killed_after_the_grace_time() {
    let s = fake_server(
        "trap '' TERM; echo 'listening rtmps on 127.0.0.1:44337' >&2; exec sleep 30",
        &[],
    );
    let pid = s.pid();
    let started = Instant::now();
    let status = s.stop();
    assert!(!status.success());
    assert!(!alive(pid));
    assert!(started.elapsed() >= support::KILL_GRACE);
}

#[test]
fn temp_dirs_are_distinct_and_removed_on_drop() {
    let a = TempDir::new("selftest");
    let b = TempDir::new("selftest");
    assert_ne!(a.path(), b.path());
    std::fs::write(a.join("f"), b"x").unwrap();
    let path = a.path().to_owned();
    drop(a);
    assert!(!path.exists());
    assert!(b.path().is_dir());
}

/// Trimmed stderr of ffmpeg 9 playing a multitrack stream from rtmpsd, one showinfo per track.
const FFMPEG9_PLAY_MULTITRACK: &str = "\
Input #0, flv, from 'rtmps://127.0.0.1:19436/live/k1':
  Metadata:
    |RtmpSampleAccess: true
  Stream #0:0: Video: h264 (Constrained Baseline), yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr, 1k tbn, start 3.021000
  Stream #0:1: Video: h264 (Constrained Baseline), yuv420p(progressive), 160x120 [SAR 1:1 DAR 4:3], 25 fps, 25 tbr, 1k tbn, start 3.021000
  Stream #0:2: Audio: aac (LC), 48000 Hz, mono, fltp, 69 kb/s, start 3.029000
  Stream #0:3: Audio: opus, 48000 Hz, mono, fltp, start 3.035000
Stream mapping:
  Stream #0:2 -> #0:2 (aac (native) -> pcm_s16le (native))
Output #0, null, to 'pipe:':
  Stream #0:0: Video: wrapped_avframe, yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], q=2-31, 200 kb/s, 25 fps, 25 tbn (default)
  Stream #0:2: Audio: pcm_s16le, 48000 Hz, mono, s16, 768 kb/s (default)
[Parsed_showinfo_0 @ 0x7f6b20002100] n:   0 pts:      0 pts_time:0       duration:     40 duration_time:0.04    fmt:yuv420p cl:left sar:1/1 s:320x240 i:P iskey:1 type:I checksum:5700D49D
[Parsed_showinfo_1 @ 0x7f6b20002500] n:   0 pts:      0 pts_time:0       duration:     40 duration_time:0.04    fmt:yuv420p cl:left sar:1/1 s:160x120 i:P iskey:1 type:I checksum:AE65B208
[Parsed_showinfo_1 @ 0x7f6b20002500] n:   1 pts:     40 pts_time:0.04    duration:     40 duration_time:0.04    fmt:yuv420p cl:left sar:1/1 s:160x120 i:P iskey:0 type:P checksum:AE65B209
";

#[test]
fn input_streams_lists_every_input_track_and_no_output_one() {
    let lines: Vec<String> = FFMPEG9_PLAY_MULTITRACK.lines().map(str::to_owned).collect();
    let stream = |kind: &str, codec: &str, resolution| InputStream {
        kind: kind.to_owned(),
        codec: codec.to_owned(),
        resolution,
    };
    assert_eq!(
        input_streams(&lines),
        [
            stream("Video", "h264", Some((320, 240))),
            stream("Video", "h264", Some((160, 120))),
            stream("Audio", "aac", None),
            stream("Audio", "opus", None),
        ]
    );
}

#[test]
fn showinfo_frames_are_counted_per_filter_instance() {
    let lines: Vec<String> = FFMPEG9_PLAY_MULTITRACK.lines().map(str::to_owned).collect();
    let frames = showinfo_frames(&lines);
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[&0].len(), 1);
    assert_eq!(frames[&1].len(), 2);
    assert!(frames[&1][0].iskey && !frames[&1][1].iskey);
}
