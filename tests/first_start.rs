//! A newcomer's first minutes with the `rtmpsd` binary: help and version, the start lines
//! they paste into OBS and ffmpeg, the dual-stack default listener, and a busy port.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rtmpsd::start_lines::{FFMPEG_LABEL, OBS_LABEL, PLAY_LABEL, hosts_for};
use support::{
    Ffmpeg, PUBLISH_KEY, PlayOpts, Player, PublishOpts, Publisher, RTMPS_LISTEN_MARKER,
    ServerProcess, TempDir, addr_after,
};

fn rtmpsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmpsd"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rtmpsd")
}

#[test]
fn dash_h_and_help_print_usage_and_exit_zero() {
    for flag in ["-h", "--help"] {
        let out = rtmpsd(&[flag]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{flag}: {:?} {text}", out.status);
        assert!(text.starts_with("Usage: rtmpsd"), "{flag}: {text}");
        assert!(text.contains("--listen"), "{flag}: {text}");
    }
}

#[test]
fn version_and_dash_capital_v_print_the_crate_version_and_exit_zero() {
    for flag in ["--version", "-V"] {
        let out = rtmpsd(&[flag]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{flag}: {:?} {text}", out.status);
        assert_eq!(
            text,
            format!("rtmpsd {}\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
}

/// The port of a server started with `--listen [::]:0`.
fn any_port(server: &ServerProcess) -> u16 {
    let addr = server.addr();
    assert_eq!(addr.ip(), Ipv6Addr::UNSPECIFIED, "listening on {addr}");
    addr.port()
}

#[test]
fn a_dual_stack_listener_takes_an_ipv4_publisher_and_an_ipv6_player() {
    let state = TempDir::new("dual-stack");
    let dir = state.path().to_str().unwrap();
    let server = ServerProcess::start(&[
        "--listen",
        "[::]:0",
        "--state-dir",
        dir,
        "--publish-key",
        PUBLISH_KEY,
    ]);
    let port = any_port(&server);
    let player = Player::start_with(
        Ffmpeg::Modern,
        &format!("rtmps://[::1]:{port}/live/stream"),
        &PlayOpts {
            seconds: 30.0,
            ..PlayOpts::default()
        },
    );
    assert!(
        server.wait_for_log("playing live/", Duration::from_secs(10)),
        "the IPv6 player never reached the server"
    );
    let mut publisher = Publisher::start(
        Ffmpeg::Debian,
        &format!("rtmps://127.0.0.1:{port}/live/{PUBLISH_KEY}"),
        &PublishOpts {
            seconds: 3.0,
            ..PublishOpts::default()
        },
    );
    let status = publisher
        .wait(Duration::from_secs(30))
        .expect("publisher finished");
    assert!(status.success(), "publisher failed: {:?}", publisher.logs());
    let report = player.wait();
    let summary = report.summary();
    assert_eq!(report.video_codec.as_deref(), Some("h264"), "{summary}");
    assert!(report.first_frame_is_key(), "{summary}");
    assert!(report.frame_count() >= 3 * 25 * 95 / 100, "{summary}");
    // Each peer is logged as itself: IPv4 plainly, never as ::ffff:127.0.0.1.
    let logs = server.logs();
    let connected = |prefix: &str| {
        logs.iter()
            .any(|l| l.contains(&format!(" {prefix}")) && l.contains(" connected (rtmps)"))
    };
    assert!(connected("127.0.0.1:"), "no IPv4 peer in {logs:#?}");
    assert!(connected("[::1]:"), "no IPv6 peer in {logs:#?}");
    assert!(!logs.iter().any(|l| l.contains("::ffff:")), "{logs:#?}");
}

#[test]
fn the_per_address_cap_counts_an_ipv4_peer_of_the_dual_stack_listener_as_ipv4() {
    let state = TempDir::new("per-ip");
    let dir = state.path().to_str().unwrap();
    let server = ServerProcess::start(&[
        "--listen",
        "[::]:0",
        "--rtmp-listen",
        "127.0.0.1:0",
        "--max-connections-per-ip",
        "1",
        "--state-dir",
        dir,
        "--publish-key",
        PUBLISH_KEY,
    ]);
    let port = any_port(&server);
    // 127.0.0.1's one connection, on the IPv4-only plain listener.
    let _held = TcpStream::connect(server.rtmp_addr().unwrap()).expect("connect plain");
    assert!(
        server.wait_for_log("connected (rtmp)", Duration::from_secs(5)),
        "the first connection was not taken"
    );
    // The same host through the dual-stack listener arrives as ::ffff:127.0.0.1.
    let _second = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect rtmps");
    let refused = "refused: connection limit per address reached: 1 open from 127.0.0.1, limit 1";
    assert!(
        server.wait_for_log(refused, Duration::from_secs(5)),
        "the mapped IPv4 peer was not counted as 127.0.0.1: {:#?}",
        server.logs()
    );
    // ::1 is another address, with a slot of its own.
    let _v6 = TcpStream::connect((Ipv6Addr::LOCALHOST, port)).expect("connect [::1]");
    assert!(
        server.wait_for_log("connected (rtmps)", Duration::from_secs(5)),
        "::1 was refused: {:#?}",
        server.logs()
    );
    let logs = server.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains(" [::1]:") && l.contains("connected (rtmps)")),
        "{logs:#?}"
    );
    assert!(!logs.iter().any(|l| l.contains("::ffff:")), "{logs:#?}");
}

/// The binary with stdout and stderr collected line by line; interrupted or killed by pid.
struct Running {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<thread::JoinHandle<()>>,
}

/// Lines kept per stream; these tests print a few dozen.
const MAX_LINES: usize = 1_000;

fn collect(
    stream: impl Read + Send + 'static,
) -> (Arc<Mutex<Vec<String>>>, thread::JoinHandle<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let reader = thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut kept = sink.lock().unwrap();
            if kept.len() < MAX_LINES {
                kept.push(line);
            }
        }
    });
    (lines, reader)
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rtmpsd"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rtmpsd");
        let (stdout, out_reader) = collect(child.stdout.take().unwrap());
        let (stderr, err_reader) = collect(child.stderr.take().unwrap());
        Running {
            child,
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
        }
    }

    fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `timeout` for `lines` to hold one containing `needle`.
    fn wait_line(lines: &Mutex<Vec<String>>, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = lines.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return Some(l.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the listening line on stderr and the certificate hint, the last start
    /// line, on stdout; panics with both streams if they do not come within 10 s.
    fn wait_ready(&self) -> SocketAddr {
        let listening = Running::wait_line(&self.stderr, RTMPS_LISTEN_MARKER, START_TIMEOUT);
        let last = Running::wait_line(&self.stdout, "check the certificate", START_TIMEOUT);
        let addr = listening
            .as_deref()
            .and_then(|l| addr_after(l, RTMPS_LISTEN_MARKER));
        match (addr, last) {
            (Some(addr), Some(_)) => addr,
            _ => panic!(
                "rtmpsd not ready within {START_TIMEOUT:?}; stdout {:#?} stderr {:#?}",
                self.stdout(),
                self.stderr()
            ),
        }
    }

    /// Waits up to `timeout` for the process to end and its output to be read to the end.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // The pipes close with the process; the readers finish right after.
                while self.readers.iter().any(|r| !r.is_finished()) && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(5));
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGINT (Ctrl-C), as a newcomer stops it; how it ended, within 5 s.
    fn interrupt(&mut self) -> ExitStatus {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) touches no memory; the pid is our unreaped child.
        unsafe { libc::kill(pid, libc::SIGINT) };
        self.wait_exit(Duration::from_secs(5))
            .expect("rtmpsd did not stop within 5 s of SIGINT")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The text after `label` on the one start line of `lines` that has it and `host`.
fn value_after(lines: &[String], label: &str, host: &str) -> String {
    let found: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with(label) && l.contains(host))
        .collect();
    assert_eq!(found.len(), 1, "{label:?} for {host} in {lines:#?}");
    found[0][label.len()..].to_owned()
}

#[test]
fn first_start_prints_each_address_for_obs_ffmpeg_and_players_with_the_key_on_stdout_only() {
    let state = TempDir::new("start-lines");
    let dir = state.join("fresh");
    let mut server = Running::start(&["--listen", "[::]:0", "--state-dir", dir.to_str().unwrap()]);
    let addr = server.wait_ready();
    let key = std::fs::read_to_string(dir.join("publish-key")).expect("publish key kept");
    let key = key.trim();
    let out = server.stdout();
    assert_eq!(
        out[0],
        format!(
            "rtmpsd: new publish key, kept in {}",
            dir.join("publish-key").display()
        )
    );
    let hosts = hosts_for(addr.ip(), &rtmpsd::host::interface_addresses());
    assert!(!hosts.is_empty());
    if hosts.iter().any(|ip| !ip.is_loopback()) {
        assert!(!hosts.iter().any(IpAddr::is_loopback), "{hosts:?}");
    }
    for ip in &hosts {
        let server_url = match ip {
            IpAddr::V4(v4) => format!("rtmps://{v4}:{}/live", addr.port()),
            IpAddr::V6(v6) => format!("rtmps://[{v6}]:{}/live", addr.port()),
        };
        let host = &server_url["rtmps://".len()..];
        let ffmpeg = value_after(&out, FFMPEG_LABEL, host);
        assert_eq!(ffmpeg, format!("{server_url}/{key}"));
        let play = value_after(&out, PLAY_LABEL, host);
        assert_eq!(
            play,
            format!("{server_url}/stream"),
            "players play the name"
        );
        if ip.is_ipv4() || !hosts.iter().any(IpAddr::is_ipv4) {
            let obs = value_after(&out, OBS_LABEL, host);
            assert_eq!(obs, format!("Server {server_url}  Stream Key {key}"));
        }
    }
    assert!(
        out.last()
            .unwrap()
            .contains(&dir.join("cert.pem").display().to_string()),
        "{out:#?}"
    );
    let status = server.interrupt();
    assert!(status.success(), "{status:?}");
    let err = server.stderr();
    assert!(
        err.iter()
            .any(|l| l.contains("made a self-signed certificate"))
    );
    assert!(
        !err.iter().any(|l| l.contains(key)),
        "the key reached the log: {err:#?}"
    );
}

#[test]
fn the_printed_urls_publish_and_play_as_printed() {
    let state = TempDir::new("paste");
    let dir = state.path().to_str().unwrap();
    let mut server = Running::start(&["--listen", "127.0.0.1:0", "--state-dir", dir]);
    let addr = server.wait_ready();
    let out = server.stdout();
    let host = format!("127.0.0.1:{}", addr.port());
    let publish_url = value_after(&out, FFMPEG_LABEL, &host);
    let play_url = value_after(&out, PLAY_LABEL, &host);
    // ffmpeg 9 checks the certificate, as the README says it may: against cert.pem.
    let cert = state.join("cert.pem");
    let player = Player::start_with(
        Ffmpeg::Modern,
        &play_url,
        &PlayOpts {
            seconds: 30.0,
            extra_input_args: vec![
                "-tls_verify".into(),
                "1".into(),
                "-ca_file".into(),
                cert.to_str().unwrap().into(),
            ],
            ..PlayOpts::default()
        },
    );
    assert!(
        Running::wait_line(&server.stderr, "playing live/", Duration::from_secs(10)).is_some(),
        "the player never reached the server: {:#?} {:#?}",
        player.logs(),
        server.stderr()
    );
    let mut publisher = Publisher::start(
        Ffmpeg::Debian,
        &publish_url,
        &PublishOpts {
            seconds: 3.0,
            ..PublishOpts::default()
        },
    );
    let status = publisher
        .wait(Duration::from_secs(30))
        .expect("publisher finished");
    assert!(status.success(), "publisher failed: {:?}", publisher.logs());
    let report = player.wait();
    let summary = report.summary();
    assert_eq!(report.video_codec.as_deref(), Some("h264"), "{summary}");
    assert!(report.first_frame_is_key(), "{summary}");
    assert!(report.frame_count() >= 3 * 25 * 95 / 100, "{summary}");
    assert!(server.interrupt().success());
}

#[test]
fn keys_the_operator_gave_are_not_printed() {
    let state = TempDir::new("operator-keys");
    let dir = state.path().to_str().unwrap();
    let secret = "operator-secret-key";
    let mut server = Running::start(&[
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        dir,
        "--publish-key",
        secret,
        "--play-key",
        "operator-play-key",
    ]);
    let addr = server.wait_ready();
    let out = server.stdout();
    let host = format!("127.0.0.1:{}", addr.port());
    assert_eq!(
        value_after(&out, FFMPEG_LABEL, &host),
        format!("rtmps://{host}/live/<your publish key>")
    );
    assert_eq!(
        value_after(&out, PLAY_LABEL, &host),
        format!("rtmps://{host}/live/stream?key=<play-key>")
    );
    assert!(server.interrupt().success());
    let everything = [server.stdout(), server.stderr()].concat();
    assert!(
        !everything
            .iter()
            .any(|l| l.contains(secret) || l.contains("operator-play-key"))
    );
    assert!(!state.join("publish-key").exists());
}

/// Every file under `dir` with its contents, sorted (empty if `dir` does not exist).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn a_second_instance_on_a_busy_port_fails_having_made_nothing() {
    let state = TempDir::new("busy");
    let shared = state.join("shared");
    let shared_dir = shared.to_str().unwrap();
    let mut first = Running::start(&["--listen", "[::]:0", "--state-dir", shared_dir]);
    let port = first.wait_ready().port();
    let before = snapshot(&shared);
    assert_eq!(before.len(), 3, "{before:?}");
    let fresh = state.join("fresh");
    let empty = state.join("empty");
    std::fs::create_dir(&empty).unwrap();
    // The same port in the default's form and in IPv4's (taken too: the first is dual-stack).
    for listen in [format!("[::]:{port}"), format!("0.0.0.0:{port}")] {
        for dir in [&shared, &fresh, &empty] {
            let mut second =
                Running::start(&["--listen", &listen, "--state-dir", dir.to_str().unwrap()]);
            let status = second
                .wait_exit(Duration::from_secs(10))
                .expect("the second instance kept running");
            let (out, err) = (second.stdout(), second.stderr());
            assert!(!status.success(), "{status:?} {out:?} {err:?}");
            let said = err.join("\n");
            assert!(
                said.contains(&format!("cannot listen on {listen}"))
                    && said.contains("another rtmpsd"),
                "{said}"
            );
            assert!(out.is_empty(), "printed {out:?}");
        }
        assert_eq!(snapshot(&shared), before, "the shared state dir changed");
        assert!(!fresh.exists(), "a new state dir was made");
        assert!(
            snapshot(&empty).is_empty(),
            "files made in an empty state dir"
        );
    }
    assert!(first.interrupt().success());
}
