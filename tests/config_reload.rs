//! The config file with the real binary: `--check-config`, SIGHUP reloads and certificate
//! swaps under a live ffmpeg stream, systemd's notify protocol and the journal's log format.

mod support;

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rtmpsd::client::AcceptAnyCertificate;
use rtmpsd::tls::{fingerprint, self_signed};
use support::{
    Ffmpeg, PlayOpts, Player, PlayerReport, PublishOpts, Publisher, ServerProcess, TempDir,
};

/// Seconds the live stream runs while the settings change under it.
const LIVE_SECS: f64 = 24.0;
/// Frames per second of the test publishers.
const FPS: u32 = 25;

fn rtmpsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmpsd"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rtmpsd")
}

fn signal(pid: u32, signal: i32) {
    let pid = i32::try_from(pid).expect("pid fits i32");
    // SAFETY: kill(2) touches no memory; the pid is a child this test started and still owns.
    let done = unsafe { libc::kill(pid, signal) };
    assert_eq!(done, 0, "kill({pid}, {signal}) failed");
}

/// Writes `text` to `path` the way an editor or a deploy tool does: a new file renamed over it.
fn replace(path: &Path, text: &str) {
    let fresh = path.with_extension("new");
    fs::write(&fresh, text).unwrap();
    fs::rename(&fresh, path).unwrap();
}

/// A new self-signed pair for `localhost`: (cert PEM, key PEM, sha256 fingerprint).
fn certificate() -> (String, String, String) {
    let (cert, key) = self_signed(&["localhost".into()], &["127.0.0.1".parse().unwrap()]).unwrap();
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_slice(cert.as_bytes()).unwrap();
    (cert, key, fingerprint(&der))
}

/// The fingerprint of the certificate the server at `addr` shows a new client now.
fn served_fingerprint(addr: SocketAddr) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut socket = TcpStream::connect(addr).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    while tls.is_handshaking() {
        tls.complete_io(&mut socket).expect("tls handshake");
    }
    let leaf = tls.peer_certificates().expect("a certificate")[0].clone();
    fingerprint(&leaf)
}

/// Checks that a player of the whole live stream got it all, without a stall.
fn assert_played_through(report: &PlayerReport, seconds: f64) {
    let summary = report.summary();
    assert_eq!(report.video_codec.as_deref(), Some("h264"), "{summary}");
    assert!(report.first_frame_is_key(), "{summary}");
    assert!(report.pts_monotonic(), "{summary}");
    let expected = (seconds * f64::from(FPS)) as usize;
    assert!(
        report.frame_count() >= expected * 85 / 100,
        "{} of about {expected} frames: {summary}",
        report.frame_count()
    );
    let longest_gap = report
        .frames
        .windows(2)
        .map(|w| w[1].after.saturating_sub(w[0].after))
        .max()
        .unwrap_or_default();
    assert!(
        longest_gap < Duration::from_secs(2),
        "the player stalled for {longest_gap:?}: {summary}"
    );
}

fn live_publisher(url: &str) -> Publisher {
    Publisher::start(
        Ffmpeg::Debian,
        url,
        &PublishOpts {
            seconds: LIVE_SECS,
            rate: FPS,
            ..PublishOpts::default()
        },
    )
}

/// A player of a stream that is live already (ffmpeg probes it: both tracks are found).
fn live_player(server: &ServerProcess, name: &str) -> Player {
    assert!(
        server.wait_for_log(&format!("publishing live/{name}"), Duration::from_secs(20)),
        "the publisher never went live: {:#?}",
        server.logs()
    );
    let opts = PlayOpts {
        seconds: LIVE_SECS + 30.0,
        ..PlayOpts::default()
    };
    Player::start_with(
        Ffmpeg::Debian,
        &server.rtmps_url(&format!("live/{name}")),
        &opts,
    )
}

/// Publishes three seconds to `url` and says whether the server took the whole stream.
fn publish_briefly(url: &str) -> bool {
    let mut publisher = Publisher::start(
        Ffmpeg::Debian,
        url,
        &PublishOpts {
            seconds: 3.0,
            ..PublishOpts::default()
        },
    );
    let status = publisher
        .wait(Duration::from_secs(30))
        .expect("the short publisher ended");
    status.success()
}

fn wait_for_count(
    server: &ServerProcess,
    needle: &str,
    count: usize,
    timeout: Duration,
) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let lines: Vec<String> = server
            .logs()
            .into_iter()
            .filter(|l| l.contains(needle))
            .collect();
        if lines.len() >= count || Instant::now() >= deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn check_config_prints_masked_settings_and_fails_on_any_error() {
    let dir = TempDir::new("check-config");
    let file = dir.join("rtmpsd.toml");
    fs::write(
        &file,
        "board = \"pi3-aarch64\"\nmax_connections = 90\n[[stream]]\nname = \"cam1\"\n\
         publish_keys = [\"cam1-publish-secret\"]\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = rtmpsd(&["--check-config", path, "--idle-timeout-secs", "12"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?}: {text}", out.status);
    assert!(!text.contains("secret"), "{text}");
    assert!(text.contains("\"cam...(19 chars)\""), "{text}");
    for want in [
        "max_connections = 90",
        "gop_cache_kib = 4096",
        "idle_timeout_secs = 12",
        "cipher_order = \"chacha\"",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }

    fs::write(&file, "listen = \"127.0.0.1:1\"\n\n[[stream]]\nname = \"cam1\"\npublish_keys = [\"k\"]\ncolour_bars = 1\n").unwrap();
    let out = rtmpsd(&["--check-config", path]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err.trim(),
        format!(
            "rtmpsd: {path}: line 6, column 1: unknown key `colour_bars` (rtmpsd.example.toml lists every key)"
        )
    );

    // A certificate pair that does not load fails the check too.
    fs::write(
        &file,
        format!(
            "cert = \"{0}/none.pem\"\nkey = \"{0}/none.pem\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let out = rtmpsd(&["--check-config", path]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("none.pem"),
        "{out:?}"
    );

    // The example in the repository is a valid file.
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/rtmpsd.example.toml");
    let out = rtmpsd(&["--check-config", example]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn sighup_adds_a_stream_for_new_publishers_while_a_live_stream_keeps_playing() {
    let dir = TempDir::new("sighup");
    let file = dir.join("rtmpsd.toml");
    let one_stream = "[[stream]]\nname = \"cam1\"\npublish_keys = [\"cam1-key-0001\"]\n";
    fs::write(&file, one_stream).unwrap();
    let state = dir.path().join("state");
    let server = ServerProcess::start(&[
        "--config",
        file.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        state.to_str().unwrap(),
        "--log",
        "debug",
    ]);
    let mut publisher = live_publisher(&server.rtmps_url("live/cam1-key-0001"));
    let player = live_player(&server, "cam1");
    assert!(
        player.wait_first_frame(Duration::from_secs(20)).is_some(),
        "the live player got nothing: {:?}",
        server.logs()
    );
    // Before the reload, cam2's key publishes nothing.
    assert!(!publish_briefly(&server.rtmps_url("live/cam2-key-0002")));

    fs::write(
        &file,
        format!("{one_stream}[[stream]]\nname = \"cam2\"\npublish_keys = [\"cam2-key-0002\"]\n"),
    )
    .unwrap();
    signal(server.pid(), libc::SIGHUP);
    let reloaded = wait_for_count(&server, "reloaded ", 1, Duration::from_secs(10));
    assert_eq!(reloaded.len(), 1, "{:#?}", server.logs());
    assert!(
        reloaded[0].contains("streams added: cam2"),
        "{}",
        reloaded[0]
    );
    assert!(
        publish_briefly(&server.rtmps_url("live/cam2-key-0002")),
        "{:#?}",
        server.logs()
    );

    // A file with an error is refused with its line; the settings in force stay.
    fs::write(&file, format!("{one_stream}max_conections = 5\n")).unwrap();
    signal(server.pid(), libc::SIGHUP);
    let rejected = wait_for_count(&server, "rejected", 1, Duration::from_secs(10));
    assert_eq!(rejected.len(), 1, "{:#?}", server.logs());
    assert!(
        rejected[0].contains("running settings kept")
            && rejected[0].contains("line 4, column 1: unknown key `max_conections`"),
        "{}",
        rejected[0]
    );
    assert!(
        publish_briefly(&server.rtmps_url("live/cam2-key-0002")),
        "cam2's key stopped working"
    );

    let status = publisher
        .wait(Duration::from_secs(60))
        .expect("publisher ended");
    assert!(
        status.success(),
        "the live publisher failed: {:?}",
        publisher.logs()
    );
    assert_played_through(&player.wait(), LIVE_SECS - 4.0);
    let logs = server.logs().join("\n");
    assert!(!logs.contains("key-000"), "a key reached the log:\n{logs}");
}

#[test]
fn sighup_applies_new_limits_to_new_connections() {
    let dir = TempDir::new("sighup-limits");
    let file = dir.join("rtmpsd.toml");
    fs::write(&file, "max_connections_per_ip = 8\n").unwrap();
    let state = dir.path().join("state");
    let server = ServerProcess::start(&[
        "--config",
        file.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    let held: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    assert_eq!(
        wait_for_count(&server, "connected (rtmps)", 2, Duration::from_secs(5)).len(),
        2
    );
    fs::write(&file, "max_connections_per_ip = 2\nlog = \"debug\"\n").unwrap();
    signal(server.pid(), libc::SIGHUP);
    let reloaded = wait_for_count(&server, "reloaded ", 1, Duration::from_secs(10));
    assert_eq!(reloaded.len(), 1, "{:#?}", server.logs());
    assert!(
        reloaded[0].contains("max_connections_per_ip 8 -> 2"),
        "{}",
        reloaded[0]
    );
    assert!(
        reloaded[0].ends_with("; log changed but needs a restart: running with the old value"),
        "{}",
        reloaded[0]
    );
    let _third = TcpStream::connect(server.addr()).unwrap();
    let refused = "refused: connection limit per address reached: 2 open from 127.0.0.1, limit 2";
    assert!(
        server.wait_for_log(refused, Duration::from_secs(5)),
        "{:#?}",
        server.logs()
    );
    drop(held);
}

#[test]
fn a_swapped_certificate_reaches_new_clients_while_the_live_player_keeps_playing() {
    let dir = TempDir::new("cert-swap");
    let (cert_path, key_path) = (dir.join("fullchain.pem"), dir.join("privkey.pem"));
    let (cert_a, key_a, print_a) = certificate();
    fs::write(&cert_path, &cert_a).unwrap();
    fs::write(&key_path, &key_a).unwrap();
    let state = dir.path().join("state");
    let server = ServerProcess::start(&[
        "--listen",
        "127.0.0.1:0",
        "--cert",
        cert_path.to_str().unwrap(),
        "--key",
        key_path.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--publish-key",
        "cam1=cam1-key-0001",
    ]);
    assert_eq!(served_fingerprint(server.addr()), print_a);
    let mut publisher = live_publisher(&server.rtmps_url("live/cam1-key-0001"));
    let player = live_player(&server, "cam1");
    assert!(
        player.wait_first_frame(Duration::from_secs(20)).is_some(),
        "{:?}",
        server.logs()
    );

    // A renewal: both files replaced. Within one check (5 s) new clients get the new one.
    let (cert_b, key_b, print_b) = certificate();
    replace(&key_path, &key_b);
    replace(&cert_path, &cert_b);
    let reloaded = wait_for_count(&server, "certificate reloaded", 1, Duration::from_secs(12));
    assert_eq!(reloaded.len(), 1, "{:#?}", server.logs());
    assert!(reloaded[0].contains(&print_b), "{}", reloaded[0]);
    assert_eq!(served_fingerprint(server.addr()), print_b);

    // A key that is not the certificate's: refused, and the pair in use stays.
    let (cert_c, _, _) = certificate();
    replace(&cert_path, &cert_c);
    let refused = wait_for_count(
        &server,
        "certificate files changed but not loaded",
        1,
        Duration::from_secs(12),
    );
    assert_eq!(refused.len(), 1, "{:#?}", server.logs());
    assert!(
        refused[0].contains("do not fit together") && refused[0].contains(&print_b),
        "{}",
        refused[0]
    );
    assert_eq!(served_fingerprint(server.addr()), print_b);

    // SIGHUP with the broken pair: the reload is refused as a whole.
    signal(server.pid(), libc::SIGHUP);
    let rejected = wait_for_count(
        &server,
        "rejected, running settings kept",
        1,
        Duration::from_secs(10),
    );
    assert_eq!(rejected.len(), 1, "{:#?}", server.logs());
    assert_eq!(served_fingerprint(server.addr()), print_b);

    // Mended, then SIGHUP: loaded at once, without waiting for the check.
    let (cert_d, key_d, print_d) = certificate();
    fs::write(&cert_path, &cert_d).unwrap();
    fs::write(&key_path, &key_d).unwrap();
    signal(server.pid(), libc::SIGHUP);
    let reloaded = wait_for_count(&server, "reloaded ", 2, Duration::from_secs(10));
    assert!(
        reloaded
            .iter()
            .any(|l| l.contains(&format!("certificate sha256 {print_d}"))),
        "{reloaded:#?}"
    );
    assert_eq!(served_fingerprint(server.addr()), print_d);

    let status = publisher
        .wait(Duration::from_secs(60))
        .expect("publisher ended");
    assert!(
        status.success(),
        "the live publisher failed: {:?}",
        publisher.logs()
    );
    assert_played_through(&player.wait(), LIVE_SECS - 4.0);
}

/// The rtmpsd binary with `env`, its stderr in a file; stopped by pid when dropped.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(state: &TempDir, env: &[(&str, String)], journal: Option<&str>) -> Daemon {
        let log = state.join("stderr.log");
        // stdout and stderr to one file, as systemd sends both to the journal.
        let stderr = fs::File::create(&log).unwrap();
        let stdout = stderr.try_clone().unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_rtmpsd"));
        command
            .args(["--listen", "127.0.0.1:0", "--state-dir"])
            .arg(state.join("state"))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("JOURNAL_STREAM");
        for (key, value) in env {
            command.env(key, value);
        }
        if let Some(stream) = journal {
            command.env("JOURNAL_STREAM", stream);
        }
        Daemon {
            child: command.spawn().expect("start rtmpsd"),
            log,
        }
    }

    fn lines(&self) -> Vec<String> {
        let Ok(file) = fs::File::open(&self.log) else {
            return Vec::new();
        };
        BufReader::new(file).lines().map_while(Result::ok).collect()
    }

    fn wait_for(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let lines = self.lines();
            if lines.iter().any(|l| l.contains(needle)) {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no {needle:?} in {:#?}", self.lines());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            signal(self.child.id(), libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

fn receive(socket: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = socket
        .recv(&mut buf)
        .expect("a notification within the timeout");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn systemd_hears_ready_watchdog_reloading_and_stopping() {
    use std::os::linux::net::SocketAddrExt;
    let state = TempDir::new("sd-notify");
    // An abstract socket name, as systemd uses in containers.
    let name = format!("rtmpsd-test-notify-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let systemd = UnixDatagram::bind_addr(&addr).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut daemon = Daemon::start(
        &state,
        &[
            ("NOTIFY_SOCKET", format!("@{name}")),
            ("WATCHDOG_USEC", "400000".to_string()),
        ],
        None,
    );
    let ready = receive(&systemd);
    assert!(ready.starts_with("READY=1"), "{ready}");
    // Ready means ready: the listener takes connections now.
    let lines = daemon.wait_for("listening rtmps on ");
    let line = lines
        .iter()
        .find(|l| l.contains("listening rtmps on "))
        .unwrap();
    let listen: SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    TcpStream::connect(listen).expect("connect after READY=1");
    let started = Instant::now();
    let mut watchdogs = 0;
    while watchdogs < 3 {
        assert_eq!(receive(&systemd), "WATCHDOG=1");
        watchdogs += 1;
    }
    // Three at half of 400 ms each, give or take the machine's load.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    signal(daemon.child.id(), libc::SIGHUP);
    let mut seen = Vec::new();
    while !seen.iter().any(|m: &String| m.starts_with("READY=1")) {
        let message = receive(&systemd);
        if message != "WATCHDOG=1" {
            seen.push(message);
        }
    }
    assert!(
        seen[0].starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{seen:?}"
    );
    assert!(seen[1].starts_with("READY=1\nSTATUS=reloaded"), "{seen:?}");
    signal(daemon.child.id(), libc::SIGTERM);
    let mut last = String::new();
    while last != "STOPPING=1" {
        last = receive(&systemd);
    }
    let status = daemon.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn log_lines_carry_journal_priorities_when_stderr_is_the_journal() {
    use std::os::unix::fs::MetadataExt;
    let state = TempDir::new("journal");
    // The stream systemd would name: stderr's device and inode (the log file's, here).
    let log = state.join("stderr.log");
    fs::File::create(&log).unwrap();
    let meta = fs::metadata(&log).unwrap();
    let stream = format!("{}:{}", meta.dev(), meta.ino());
    let daemon = Daemon::start(&state, &[], Some(&stream));
    // The start lines come last, on stdout.
    let lines = daemon.wait_for("OBS and ffmpeg 6+ check the certificate");
    let listening = lines
        .iter()
        .find(|l| l.contains("listening rtmps on "))
        .unwrap();
    assert!(
        listening.starts_with("<6>rtmpsd::server::accept listening rtmps on 127.0.0.1:"),
        "{listening}"
    );
    let logged: Vec<&String> = lines.iter().filter(|l| l.starts_with('<')).collect();
    assert!(logged.len() >= 3, "{lines:#?}");
    for line in &logged {
        assert!(
            ["<3>", "<4>", "<6>", "<7>"]
                .iter()
                .any(|p| line.starts_with(p)),
            "no priority: {line}"
        );
    }
    assert!(
        !lines.iter().any(|l| l.starts_with("[20")),
        "a timestamp: {lines:#?}"
    );
    // The made publish key stays in its file: the journal is a log.
    let key = fs::read_to_string(state.path().join("state/publish-key")).unwrap();
    assert!(
        !lines.iter().any(|l| l.contains(key.trim())),
        "the key reached the journal: {lines:#?}"
    );
    drop(daemon);

    // Another file than the one named: rtmpsd's own format, with its timestamp, and the
    // key on the operator's screen.
    let other = TempDir::new("journal-other");
    let daemon = Daemon::start(&other, &[], Some(&stream));
    let lines = daemon.wait_for("OBS and ffmpeg 6+ check the certificate");
    let logged: Vec<&String> = lines.iter().filter(|l| l.contains("rtmpsd::")).collect();
    assert!(
        !logged.is_empty() && logged.iter().all(|l| l.starts_with("[20")),
        "{lines:#?}"
    );
    let key = fs::read_to_string(other.path().join("state/publish-key")).unwrap();
    assert!(lines.iter().any(|l| l.contains(key.trim())), "{lines:#?}");
}
