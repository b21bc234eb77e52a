//! Pushes with real clients and real upstreams, through the `rtmpsd` binary on loopback:
//! Debian's ffmpeg publishes to a local rtmpsd that pushes over rtmps:// to a second rtmpsd
//! (its own certificate, trusted through --push-ca-file) or to nginx-rtmp behind nginx's
//! stream TLS, and ffmpeg 9 plays the stream from the upstream. Also: an upstream killed and
//! restarted, an untrusted upstream certificate, and a stalled upstream while local players
//! play on. Upstream keys must never reach the log.
//!
//! ./test.sh installs nginx (tests/peers/missing-nginx-packages names what is missing);
//! without it these tests fail with an install hint, never skip.

mod support;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use support::{
    Ffmpeg, PlayOpts, Player, PlayerReport, PublishOpts, Publisher, ServerProcess, TempDir,
};

/// The upstream's stream key: never in the local server's log.
const UPSTREAM_KEY: &str = "upstream-e2e-secret-key";
const LOCAL_KEY: &str = "local-e2e-publish-key";
const LIVE: &str = ": live (";

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// An upstream rtmpsd on `port` with its state (and certificate) in `dir`; stream `cam`.
fn start_upstream(dir: &TempDir, port: u16) -> ServerProcess {
    let listen = format!("127.0.0.1:{port}");
    let key = format!("cam={UPSTREAM_KEY}");
    ServerProcess::start(&[
        "--listen",
        &listen,
        "--state-dir",
        dir.path().to_str().expect("utf-8 path"),
        "--publish-key",
        &key,
        "--log",
        "debug",
    ])
}

/// A local rtmpsd (stream `test`) pushing to `url`, trusting `ca_file` besides the system.
fn start_local(dir: &TempDir, url: &str, ca_file: Option<&Path>) -> ServerProcess {
    let key = format!("test={LOCAL_KEY}");
    let push = format!("test={url}");
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        dir.path().to_str().expect("utf-8 path"),
        "--publish-key",
        &key,
        "--push",
        &push,
        "--push-timeout-secs",
        "3",
        "--log",
        "debug",
    ];
    let ca = ca_file.map(|p| p.to_str().expect("utf-8 path").to_string());
    if let Some(ca) = &ca {
        args.extend(["--push-ca-file", ca.as_str()]);
    }
    ServerProcess::start(&args)
}

fn publish(local: &ServerProcess, seconds: f64) -> Publisher {
    let opts = PublishOpts {
        seconds,
        ..PublishOpts::default()
    };
    Publisher::start(
        Ffmpeg::Debian,
        &local.rtmps_url(&format!("live/{LOCAL_KEY}")),
        &opts,
    )
}

fn wait_log(server: &ServerProcess, needle: &str, timeout: Duration) {
    assert!(
        server.wait_for_log(needle, timeout),
        "no {needle:?} within {timeout:?}; log:\n{}",
        server.logs().join("\n")
    );
}

fn count_lines(server: &ServerProcess, needle: &str) -> usize {
    server.logs().iter().filter(|l| l.contains(needle)).count()
}

fn assert_no_key(server: &ServerProcess) {
    let leaks: Vec<String> = server
        .logs()
        .into_iter()
        .filter(|l| l.contains(UPSTREAM_KEY))
        .collect();
    assert!(
        leaks.is_empty(),
        "the upstream key reached the log: {leaks:?}"
    );
}

/// H.264 and AAC decoded, from a keyframe, in order, at least `min_frames` frames.
fn assert_played(report: &PlayerReport, min_frames: usize, what: &str) {
    assert_eq!(
        report.video_codec.as_deref(),
        Some("h264"),
        "{what}: {}",
        report.summary()
    );
    assert_eq!(
        report.resolution,
        Some((320, 240)),
        "{what}: {}",
        report.summary()
    );
    assert_eq!(
        report.audio_codec.as_deref(),
        Some("aac"),
        "{what}: {}",
        report.summary()
    );
    assert!(report.first_frame_is_key(), "{what}: {}", report.summary());
    assert!(report.pts_monotonic(), "{what}: {}", report.summary());
    assert!(
        report.frame_count() >= min_frames,
        "{what}: {} frames, wanted {min_frames}: {}",
        report.frame_count(),
        report.summary()
    );
}

/// Sends `signal` to `pid`, a process this test started.
fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) touches no memory; the pid is a child this test started and still holds.
    let rc = unsafe { libc::kill(pid as i32, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

#[test]
fn a_push_to_a_second_rtmpsd_reaches_an_ffmpeg_player_there() {
    let up_dir = TempDir::new("push-up");
    let port = free_port();
    let up = start_upstream(&up_dir, port);
    let url = format!("rtmps://127.0.0.1:{port}/live/{UPSTREAM_KEY}");
    let local_dir = TempDir::new("push-local");
    let local = start_local(&local_dir, &url, Some(&up_dir.join("cert.pem")));
    wait_log(&local, ": waiting for the stream", Duration::from_secs(5));
    let _publisher = publish(&local, 10.0);
    wait_log(&local, LIVE, Duration::from_secs(10));
    let report = Player::start(Ffmpeg::Modern, &up.rtmps_url("live/cam"), 3.0).wait();
    assert_played(&report, 60, "ffmpeg 9 on the upstream");
    // The upstream saw one publisher: the push, in the order OBS uses.
    wait_log(&up, "publishing live/cam", Duration::from_secs(1));
    let redacted = format!("rtmps://127.0.0.1:{port}/live/(key redacted)");
    assert!(local.log_contains(&redacted), "{:?}", local.logs());
    assert_no_key(&local);
    // Stopping the local server closes the push politely and fast: the upstream hears the
    // unpublish (FCUnpublish, deleteStream) rather than a dropped connection.
    let stopping = Instant::now();
    let logs_before_stop = local.logs();
    let status = local.stop();
    assert!(status.success(), "{status:?}: {logs_before_stop:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "{:?}",
        stopping.elapsed()
    );
    wait_log(&up, "unpublished live/cam", Duration::from_secs(2));
}

/// nginx running as a daemon for one test; SIGTERM to its master on drop.
struct Nginx {
    pid: u32,
}

impl Nginx {
    fn start(rtmps_port: u16, rtmp_port: u16, prefix: &Path) -> Nginx {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/nginx-rtmps");
        let out = Command::new(&script)
            .arg(rtmps_port.to_string())
            .arg(rtmp_port.to_string())
            .arg(prefix)
            .output()
            .expect("run tests/peers/nginx-rtmps");
        assert!(
            out.status.success(),
            "nginx did not start (./test.sh installs it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pid = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("nginx pid");
        Nginx { pid }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // The daemon is not our child (it detached): SIGTERM by pid, then wait for it to go.
        // SAFETY: kill(2) touches no memory; the pid is the nginx this test started.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        let running = |pid: u32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.rsplit(") ").next().is_some_and(|r| !r.starts_with('Z')))
        };
        while running(self.pid) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A test CA and a certificate it signed for 127.0.0.1 and localhost, as PEM files in `dir`:
/// ca.pem, and cert.pem (leaf then CA) with key.pem for nginx.
fn make_ca_and_leaf(dir: &Path) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
        SanType,
    };
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("ca key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "rtmpsd push test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("ca certificate");
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("leaf key");
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("leaf params");
    leaf.subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let issuer = Issuer::new(ca, ca_key);
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .expect("leaf certificate");
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).expect("ca.pem");
    std::fs::write(
        dir.join("cert.pem"),
        format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
    )
    .expect("cert.pem");
    std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).expect("key.pem");
}

#[test]
fn a_push_to_nginx_rtmp_behind_stream_tls_reaches_an_ffmpeg_player_there() {
    let nginx_dir = TempDir::new("push-nginx");
    make_ca_and_leaf(nginx_dir.path());
    let (rtmps_port, rtmp_port) = (free_port(), free_port());
    let _nginx = Nginx::start(rtmps_port, rtmp_port, nginx_dir.path());
    let url = format!("rtmps://127.0.0.1:{rtmps_port}/live/{UPSTREAM_KEY}");
    let local_dir = TempDir::new("push-local");
    let local = start_local(&local_dir, &url, Some(&nginx_dir.join("ca.pem")));
    let _publisher = publish(&local, 10.0);
    wait_log(&local, LIVE, Duration::from_secs(10));
    let play = format!("rtmp://127.0.0.1:{rtmp_port}/live/{UPSTREAM_KEY}");
    let report = Player::start(Ffmpeg::Modern, &play, 3.0).wait();
    assert_played(&report, 60, "ffmpeg 9 on nginx-rtmp");
    assert_no_key(&local);
}

#[test]
fn killing_and_restarting_the_upstream_resumes_the_push_within_the_backoff() {
    let up_dir = TempDir::new("push-up");
    let port = free_port();
    let up = start_upstream(&up_dir, port);
    let url = format!("rtmps://127.0.0.1:{port}/live/{UPSTREAM_KEY}");
    let local_dir = TempDir::new("push-local");
    let local = start_local(&local_dir, &url, Some(&up_dir.join("cert.pem")));
    let _publisher = publish(&local, 40.0);
    wait_log(&local, LIVE, Duration::from_secs(10));
    signal(up.pid(), libc::SIGKILL);
    drop(up);
    wait_log(&local, "lost after", Duration::from_secs(5));
    // Down for a while: a few refused attempts, the backoff growing.
    thread::sleep(Duration::from_secs(3));
    let failures = count_lines(&local, "retrying in");
    assert!(failures >= 2, "{:?}", local.logs());
    let restarted_at = Instant::now();
    let up = start_upstream(&up_dir, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while count_lines(&local, LIVE) < 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    let took = restarted_at.elapsed();
    assert_eq!(count_lines(&local, LIVE), 2, "{:?}", local.logs());
    // Live again at the retry the backoff had scheduled: the last failure's delay (at most
    // 8 s by the fourth failure; jitter only shortens) plus the time to connect.
    let lines = local.timed_logs();
    let live_at = lines
        .iter()
        .filter(|l| l.text.contains(LIVE))
        .nth(1)
        .expect("second live line")
        .at;
    let last_failure = lines
        .iter()
        .rev()
        .find(|l| l.at <= live_at && l.text.contains("retrying in "))
        .expect("a failure before");
    let delay: f64 = last_failure
        .text
        .rsplit("retrying in ")
        .next()
        .and_then(|d| d.trim_end_matches('s').parse().ok())
        .expect("retry delay");
    assert!(delay <= 8.0, "{}", last_failure.text);
    let waited = live_at.saturating_duration_since(last_failure.at);
    assert!(
        waited < Duration::from_secs_f64(delay + 2.0),
        "live {waited:?} after {:?}",
        last_failure.text
    );
    assert!(
        took < Duration::from_secs(12),
        "live again {took:?} after the restart"
    );
    let report = Player::start(Ffmpeg::Modern, &up.rtmps_url("live/cam"), 2.0).wait();
    assert_played(&report, 40, "ffmpeg 9 on the restarted upstream");
    assert_no_key(&local);
}

#[test]
fn an_untrusted_upstream_certificate_is_refused_with_a_clear_line() {
    let up_dir = TempDir::new("push-up");
    let port = free_port();
    let up = start_upstream(&up_dir, port);
    let url = format!("rtmps://127.0.0.1:{port}/live/{UPSTREAM_KEY}");
    let local_dir = TempDir::new("push-local");
    // No --push-ca-file: only the system's roots, which do not know the upstream's certificate.
    let local = start_local(&local_dir, &url, None);
    let _publisher = publish(&local, 6.0);
    // UnknownIssuer where the system store has nothing like it; on Debian with ssl-cert, whose
    // snakeoil certificate in /etc/ssl/certs is also named localhost, webpki names the
    // mismatch of that candidate's key instead. Either way: not trusted.
    let line = format!(
        "push 1 live/test -> rtmps://127.0.0.1:{port}/live/(key redacted): failed during tls \
         handshake: tls: the upstream's certificate is not trusted ("
    );
    wait_log(&local, &line, Duration::from_secs(10));
    wait_log(
        &local,
        "); trust its CA with --push-ca-file or the push's ca_file; retrying in",
        Duration::from_secs(1),
    );
    wait_log(&local, "retrying in", Duration::from_secs(1));
    assert!(!local.log_contains(LIVE), "{:?}", local.logs());
    assert!(!up.log_contains("publishing live/cam"), "{:?}", up.logs());
    assert_no_key(&local);
}

#[test]
fn a_stalled_upstream_does_not_disturb_the_local_players() {
    let up_dir = TempDir::new("push-up");
    let port = free_port();
    let up = start_upstream(&up_dir, port);
    let url = format!("rtmps://127.0.0.1:{port}/live/{UPSTREAM_KEY}");
    let local_dir = TempDir::new("push-local");
    let local = start_local(&local_dir, &url, Some(&up_dir.join("cert.pem")));
    let _publisher = publish(&local, 20.0);
    wait_log(&local, LIVE, Duration::from_secs(10));
    let opts = PlayOpts {
        seconds: 10.0,
        ..PlayOpts::default()
    };
    let player = Player::start_with(Ffmpeg::Debian, &local.rtmps_url("live/test"), &opts);
    assert!(
        player.wait_first_frame(Duration::from_secs(10)).is_some(),
        "{:?}",
        player.logs()
    );
    // Once the upstream has shown that it acknowledges (every 256 KiB), it stops reading
    // (SIGSTOP: its sockets stay open, nothing is read, the kernel's buffers fill slowly).
    wait_log(&local, "acknowledges what it gets", Duration::from_secs(10));
    signal(up.pid(), libc::SIGSTOP);
    let stalled = [
        "upstream took no data",
        "fell behind the stream",
        "acknowledged nothing",
    ];
    let deadline = Instant::now() + Duration::from_secs(12);
    while !stalled.iter().any(|s| local.log_contains(s)) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    let report = player.wait();
    signal(up.pid(), libc::SIGCONT);
    assert!(
        stalled.iter().any(|s| local.log_contains(s)),
        "the push never noticed: {:?}",
        local.logs()
    );
    // Ten seconds at 25 fps, all of it, without a pause.
    assert_played(&report, 240, "ffmpeg 5.1 on the local server");
    let longest_gap = report
        .frames
        .windows(2)
        .map(|w| w[1].after.saturating_sub(w[0].after))
        .max()
        .unwrap_or_default();
    assert!(
        longest_gap < Duration::from_millis(700),
        "a {longest_gap:?} pause in the local player: {}",
        report.summary()
    );
    assert_no_key(&local);
}

#[test]
fn the_nginx_install_step_decides_from_what_is_there() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/missing-nginx-packages");
    let missing = |root: &Path| {
        let out = Command::new(&script)
            .env("RTMPSD_INSTALL_ROOT", root)
            .output()
            .expect("run missing-nginx-packages");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let root = TempDir::new("push-install-root");
    assert_eq!(
        missing(root.path()),
        "nginx libnginx-mod-rtmp libnginx-mod-stream",
        "a fresh machine"
    );
    let modules = root.join("usr/lib/nginx/modules");
    std::fs::create_dir_all(&modules).expect("modules dir");
    std::fs::create_dir_all(root.join("usr/sbin")).expect("sbin");
    let nginx = root.join("usr/sbin/nginx");
    std::fs::write(&nginx, "").expect("nginx");
    assert_eq!(
        missing(root.path()),
        "nginx libnginx-mod-rtmp libnginx-mod-stream",
        "a non-executable nginx is no nginx"
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&nginx, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(modules.join("ngx_rtmp_module.so"), "").expect("module");
    assert_eq!(missing(root.path()), "libnginx-mod-stream");
    std::fs::write(modules.join("ngx_stream_module.so"), "").expect("module");
    assert_eq!(missing(root.path()), "");
    // And this machine has what the tests above need (./test.sh installed it).
    assert_eq!(missing(Path::new("/")), "");
}

#[test]
fn sighup_starts_a_push_added_to_the_config_file_and_ends_one_removed() {
    let up_dir = TempDir::new("push-reload-up");
    let port = free_port();
    let up = start_upstream(&up_dir, port);
    let local_dir = TempDir::new("push-reload-local");
    let config = local_dir.join("rtmpsd.toml");
    let streams = format!("[[stream]]\nname = \"test\"\npublish_keys = [\"{LOCAL_KEY}\"]\n");
    let push = format!(
        "[[push]]\nstream = \"test\"\nurl = \"rtmps://127.0.0.1:{port}/live/{UPSTREAM_KEY}\"\nca_file = \"{}\"\n",
        up_dir.join("cert.pem").display()
    );
    let top = "listen = \"127.0.0.1:0\"\npush_timeout_secs = 3\nlog = \"debug\"\n";
    std::fs::write(&config, format!("{top}{streams}")).expect("config");
    let state = local_dir.path().join("state");
    let local = ServerProcess::start(&[
        "--config",
        config.to_str().expect("utf-8 path"),
        "--state-dir",
        state.to_str().expect("utf-8 path"),
    ]);
    let _publisher = publish(&local, 20.0);
    wait_log(&local, "publishing live/test", Duration::from_secs(10));
    // The push appears in the file: SIGHUP starts it, and the upstream gets the stream.
    std::fs::write(&config, format!("{top}{streams}{push}")).expect("config");
    signal(local.pid(), libc::SIGHUP);
    wait_log(
        &local,
        "pushes started: rtmps://127.0.0.1",
        Duration::from_secs(5),
    );
    wait_log(&local, LIVE, Duration::from_secs(10));
    wait_log(&up, "publishing live/cam", Duration::from_secs(5));
    let report = Player::start(Ffmpeg::Modern, &up.rtmps_url("live/cam"), 2.0).wait();
    assert_played(&report, 40, "the upstream after the reload");
    // It leaves the file: SIGHUP ends it, politely.
    std::fs::write(&config, format!("{top}{streams}")).expect("config");
    signal(local.pid(), libc::SIGHUP);
    wait_log(
        &local,
        "pushes ended: rtmps://127.0.0.1",
        Duration::from_secs(5),
    );
    wait_log(&up, "unpublished live/cam", Duration::from_secs(5));
    // A push of a stream that does not exist is refused and nothing changes.
    let bad = push.replace("stream = \"test\"", "stream = \"nope\"");
    std::fs::write(&config, format!("{top}{streams}{bad}")).expect("config");
    signal(local.pid(), libc::SIGHUP);
    wait_log(
        &local,
        "rejected, running settings kept",
        Duration::from_secs(5),
    );
    assert_no_key(&local);
}
