//! Proof that tests/support drives real clients correctly, against the reference peer
//! (nginx-rtmp behind nginx stream TLS termination). NOT part of the suite: it needs nginx.
//! Run it with `benches/peers/check-harness`, which copies it into tests/ for one run.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::{
    Ffmpeg, PlayOpts, Player, PlayerReport, PublishOpts, Publisher, TempDir, VideoCodec,
};

/// A running nginx-rtmps reference peer; SIGTERM to its master on drop.
struct Peer {
    pid: u32,
    rtmps_port: u16,
    rtmp_port: u16,
    _dir: TempDir,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl Peer {
    fn start(wait_key: bool) -> Peer {
        let dir = TempDir::new("nginx-peer");
        let (rtmps_port, rtmp_port) = (free_port(), free_port());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peers/nginx-rtmps");
        let out = Command::new(script)
            .arg(rtmps_port.to_string())
            .arg(rtmp_port.to_string())
            .arg(dir.path())
            .env("NGINX_RTMPS_WAIT_KEY", if wait_key { "on" } else { "off" })
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        Peer {
            pid,
            rtmps_port,
            rtmp_port,
            _dir: dir,
        }
    }

    fn rtmps(&self, key: &str) -> String {
        format!("rtmps://127.0.0.1:{}/live/{key}", self.rtmps_port)
    }

    fn rtmp(&self, key: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{key}", self.rtmp_port)
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(3);
        // Daemonised nginx is not our child: it may linger as a zombie of its adopter.
        let running = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.rsplit(") ").next().is_some_and(|r| !r.starts_with('Z')))
        };
        while running(self.pid) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

fn assert_h264_aac(r: &PlayerReport, what: &str) {
    eprintln!("{what}: {}", r.summary());
    assert_eq!(
        r.video_codec.as_deref(),
        Some("h264"),
        "{what}: {}",
        r.summary()
    );
    assert_eq!(r.resolution, Some((320, 240)), "{what}");
    assert_eq!(r.audio_codec.as_deref(), Some("aac"), "{what}");
    assert!(r.frame_count() >= 60, "{what}: {}", r.summary());
    assert!(r.first_frame_is_key(), "{what}");
    assert!(r.key_frames() >= 2, "{what}: one keyframe a second");
    assert!(r.pts_monotonic(), "{what}");
    assert!(
        r.status.is_some_and(|s| s.success()),
        "{what}: {}",
        r.summary()
    );
    assert!(!r.timed_out, "{what}");
    let ns: Vec<u64> = r.frames.iter().map(|f| f.n).collect();
    assert!(
        ns.iter().enumerate().all(|(i, n)| *n == i as u64),
        "{what}: frame numbers"
    );
}

fn publish_then_play(publisher: Ffmpeg, player: Ffmpeg, tls: bool) {
    let peer = Peer::start(true);
    let key = "k";
    let (url_pub, url_play) = if tls {
        (peer.rtmps(key), peer.rtmps(key))
    } else {
        (peer.rtmp(key), peer.rtmp(key))
    };
    let opts = PublishOpts {
        seconds: 6.0,
        ..PublishOpts::default()
    };
    let t0 = Instant::now();
    let mut p = Publisher::start(publisher, &url_pub, &opts);
    thread::sleep(Duration::from_millis(1500));
    let player_proc = Player::start(player, &url_play, 3.0);
    let first = player_proc.wait_first_frame(Duration::from_secs(10));
    let r = player_proc.wait();
    let what = format!(
        "{} -> nginx ({}) -> {}",
        publisher.label(),
        if tls { "rtmps" } else { "rtmp" },
        player.label()
    );
    eprintln!(
        "{what}: first frame after {first:?}, play took {:?}",
        t0.elapsed()
    );
    assert_h264_aac(&r, &what);
    assert_eq!(first, r.first_frame_after);
    let status = p.wait(Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "publisher: {:?}",
        p.logs()
    );
    eprintln!("{what}: publisher done after {:?}", t0.elapsed());
}

#[test]
fn debian_publishes_and_debian_plays_over_rtmps() {
    publish_then_play(Ffmpeg::Debian, Ffmpeg::Debian, true);
}

#[test]
fn debian_publishes_and_modern_plays_over_rtmps() {
    publish_then_play(Ffmpeg::Debian, Ffmpeg::Modern, true);
}

#[test]
fn modern_publishes_and_debian_plays_over_rtmps() {
    publish_then_play(Ffmpeg::Modern, Ffmpeg::Debian, true);
}

#[test]
fn modern_publishes_and_modern_plays_over_rtmps() {
    publish_then_play(Ffmpeg::Modern, Ffmpeg::Modern, true);
}

#[test]
fn both_work_over_plain_rtmp() {
    publish_then_play(Ffmpeg::Debian, Ffmpeg::Modern, false);
}

#[test]
fn b_frames_reach_the_player_from_both_publishers() {
    for ff in Ffmpeg::ALL {
        let peer = Peer::start(true);
        let opts = PublishOpts {
            seconds: 5.0,
            b_frames: true,
            ..PublishOpts::default()
        };
        let _p = Publisher::start(ff, &peer.rtmps("bf"), &opts);
        thread::sleep(Duration::from_millis(1000));
        let r = Player::start(Ffmpeg::Modern, &peer.rtmps("bf"), 2.0).wait();
        eprintln!("b-frames from {}: {}", ff.label(), r.summary());
        assert!(r.has_b_frames(), "{}", r.summary());
        assert!(r.first_frame_is_key());
        assert!(r.pts_monotonic());
    }
}

#[test]
fn a_player_that_outlives_the_stream_ends_by_rw_timeout() {
    // ffmpeg keeps waiting after a live stream ends; -rw_timeout must end it.
    for ff in Ffmpeg::ALL {
        let peer = Peer::start(true);
        let opts = PublishOpts {
            seconds: 4.0,
            ..PublishOpts::default()
        };
        let _p = Publisher::start(Ffmpeg::Modern, &peer.rtmps("end"), &opts);
        thread::sleep(Duration::from_millis(1500));
        let play = PlayOpts {
            seconds: 30.0,
            rw_timeout: Duration::from_secs(2),
            ..PlayOpts::default()
        };
        let t0 = Instant::now();
        let r = Player::start_with(ff, &peer.rtmps("end"), &play).wait();
        eprintln!(
            "{} after stream end: ended in {:?}: {}",
            ff.label(),
            t0.elapsed(),
            r.summary()
        );
        assert!(!r.timed_out, "{}", r.summary());
        assert!(r.frame_count() >= 20);
    }
}

#[test]
fn modern_publishes_hevc_as_enhanced_rtmp() {
    // nginx-rtmp 1.2.2 cannot see enhanced keyframes: wait_key off, player first.
    let peer = Peer::start(false);
    let url = peer.rtmps("hevc");
    let player = Player::start_with(
        Ffmpeg::Modern,
        &url,
        &PlayOpts {
            seconds: 3.0,
            rw_timeout: Duration::from_secs(4),
            ..PlayOpts::default()
        },
    );
    thread::sleep(Duration::from_millis(300));
    let opts = PublishOpts {
        seconds: 4.0,
        codec: VideoCodec::Hevc,
        b_frames: true,
        ..PublishOpts::default()
    };
    let mut p = Publisher::start(Ffmpeg::Modern, &url, &opts);
    let r = player.wait();
    eprintln!("hevc: {}", r.summary());
    assert_eq!(r.video_codec.as_deref(), Some("hevc"), "{}", r.summary());
    assert_eq!(r.resolution, Some((320, 240)));
    assert!(r.first_frame_is_key());
    assert!(r.frame_count() >= 60);
    assert!(r.has_b_frames(), "{}", r.summary());
    assert!(r.pts_monotonic());
    assert!(p.wait(Duration::from_secs(10)).is_some_and(|s| s.success()));
}

#[test]
fn debian_plays_hevc_it_cannot_publish() {
    // ffmpeg 5.1 has no enhanced-RTMP demuxing either; record what it does.
    let peer = Peer::start(false);
    let url = peer.rtmps("hevc51");
    let player = Player::start_with(
        Ffmpeg::Debian,
        &url,
        &PlayOpts {
            seconds: 3.0,
            rw_timeout: Duration::from_secs(4),
            ..PlayOpts::default()
        },
    );
    thread::sleep(Duration::from_millis(300));
    let opts = PublishOpts {
        seconds: 4.0,
        codec: VideoCodec::Hevc,
        ..PublishOpts::default()
    };
    let _p = Publisher::start(Ffmpeg::Modern, &url, &opts);
    let r = player.wait();
    eprintln!("ffmpeg 5.1 playing enhanced hevc: {}", r.summary());
}

#[test]
fn fast_start_players_report_their_first_frame_delay() {
    let peer = Peer::start(true);
    let opts = PublishOpts {
        seconds: 40.0,
        // Five keyframes a second, so nginx's wait-for-keyframe adds at most 200 ms.
        extra_args: vec!["-g".into(), "5".into()],
        ..PublishOpts::default()
    };
    let _p = Publisher::start(Ffmpeg::Modern, &peer.rtmps("fast"), &opts);
    thread::sleep(Duration::from_millis(1500));
    for ff in Ffmpeg::ALL {
        for mode in ["default", "fast_start"] {
            let mut delays = Vec::new();
            for _ in 0..3 {
                let play = if mode == "default" {
                    PlayOpts {
                        seconds: 0.5,
                        ..PlayOpts::default()
                    }
                } else {
                    PlayOpts::fast_start(0.5)
                };
                let player = Player::start_with(ff, &peer.rtmps("fast"), &play);
                let first = player.wait_first_frame(Duration::from_secs(8));
                let r = player.wait();
                assert!(r.first_frame_is_key(), "{}", r.summary());
                assert_eq!(first, r.first_frame_after);
                delays.push(first.unwrap().as_millis());
            }
            eprintln!("{} {mode}: first frame after {delays:?} ms", ff.label());
        }
    }
}
