//! The operator's HTTP listener against the real binary, a real ffmpeg publisher and player,
//! Python's prometheus_client parser and Debian's headless Chromium.
//!
//! Chromium comes from `RTMPSD_CHROMIUM` (set by ./test.sh, which installs it); the
//! Prometheus parser from python3's `prometheus_client` (also installed by ./test.sh). A
//! missing one fails the test with how to install it.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{
    Ffmpeg, PLAY_KEY, PUBLISH_KEY, PlayOpts, Player, PublishOpts, Publisher, STREAM, ServerProcess,
    TempDir,
};

/// How the API and the page name the test stream: `app/NAME`, never the key.
const SHOWN_NAME: &str = "live/test";
const CHROMIUM_ENV: &str = "RTMPSD_CHROMIUM";
const HTTP_MARKER: &str = "listening http on ";
const TOKEN: &str = "operator-token-0123";

/// The HTTP listener's address from the server's log.
fn http_addr(server: &ServerProcess) -> SocketAddr {
    assert!(
        server.wait_for_log(HTTP_MARKER, Duration::from_secs(10)),
        "no http listener line; log:\n{}",
        server.logs().join("\n")
    );
    let line = server
        .logs()
        .into_iter()
        .find(|l| l.contains(HTTP_MARKER))
        .expect("line");
    let addr: SocketAddr = line[line.find(HTTP_MARKER).unwrap() + HTTP_MARKER.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .expect("address in the http line");
    // A listener on every address is reached through loopback, like any test traffic.
    SocketAddr::from(([127, 0, 0, 1], addr.port()))
}

/// A response: status, head, body.
struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// Sends `raw` on a new connection and reads until the server closes it (10 s at most).
fn exchange(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut socket = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket.write_all(raw).expect("send request");
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).expect("read until close");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn get(addr: SocketAddr, target: &str, extra_headers: &str) -> Reply {
    let raw = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n{extra_headers}\r\n");
    exchange(addr, raw.as_bytes())
}

/// Runs `command` to its end within `timeout`, killing it by pid if it overruns.
fn run_bounded(mut command: Command, timeout: Duration) -> Output {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err = thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Every sample of `text` as prometheus_client's parser reads it.
fn parse_metrics(text: &str) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/http/parse_metrics.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("No module named 'prometheus_client'"),
        "python3 has no prometheus_client: run ./test.sh, or pip install prometheus-client"
    );
    assert!(
        output.status.success(),
        "metrics do not parse: {stderr}\n{text}"
    );
    serde_json::from_slice::<Value>(&output.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// The value of sample `name` whose labels include `labels`.
fn sample(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s["name"] == name
                && labels
                    .iter()
                    .all(|(k, v)| s["labels"][*k].as_str() == Some(*v))
        })
        .and_then(|s| s["value"].as_f64())
}

fn chromium() -> PathBuf {
    let path = std::env::var_os(CHROMIUM_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            panic!(
                "{CHROMIUM_ENV} is not set: run the tests through ./test.sh, which installs \
             Debian's chromium (apt-get install chromium) and sets it"
            )
        });
    assert!(
        path.exists(),
        "{CHROMIUM_ENV}={} does not exist",
        path.display()
    );
    path
}

/// Headless Chromium with the flags it needs on a closed network, a fresh profile, and a
/// phone-sized window, plus `args`.
fn chromium_run(profile: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(chromium());
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--window-size=412,1100",
    ]);
    command.arg(format!("--user-data-dir={}", profile.display()));
    command.args(args);
    let output = run_bounded(command, Duration::from_secs(90));
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Polls the JSON until `ready` holds for the first stream (20 s at most).
fn wait_for_stream(addr: SocketAddr, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = get(addr, "/api/v1/streams", "");
        assert_eq!(reply.status, 200, "{}", reply.head);
        let doc: Value = serde_json::from_str(&reply.body).expect("json");
        let stream = doc["streams"][0].clone();
        if ready(&stream) {
            return doc;
        }
        assert!(Instant::now() < deadline, "stream never got ready: {doc}");
        thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn metrics_json_and_status_page_show_a_live_stream_and_its_player() {
    let state = TempDir::new("http-status");
    let server = ServerProcess::start_standard(&state, &["--http-listen", "127.0.0.1:0"]);
    let http = http_addr(&server);
    let opts = PublishOpts {
        width: 640,
        height: 360,
        seconds: 40.0,
        ..PublishOpts::default()
    };
    let url = server.rtmps_url(&format!("live/{PUBLISH_KEY}"));
    let _publisher = Publisher::start(Ffmpeg::Debian, &url, &opts);
    assert!(server.wait_for_log("publishing", Duration::from_secs(20)));
    let play_url = server.rtmps_url(&format!("live/{STREAM}?key={PLAY_KEY}"));
    let player = Player::start_with(
        Ffmpeg::Debian,
        &play_url,
        &PlayOpts {
            seconds: 30.0,
            ..PlayOpts::default()
        },
    );
    assert!(
        player.wait_first_frame(Duration::from_secs(20)).is_some(),
        "player got no frame: {:?}",
        player.logs()
    );

    // JSON: the live stream's fields.
    let doc = wait_for_stream(http, |s| s["players"] == 1 && s["bitrate_bps"].is_u64());
    let text = doc.to_string();
    assert!(
        !text.contains(PUBLISH_KEY) && !text.contains(PLAY_KEY),
        "{text}"
    );
    let s = &doc["streams"][0];
    assert_eq!(s["name"], SHOWN_NAME);
    assert_eq!(s["live"], true);
    assert_eq!(s["video"]["codec"], "h264");
    assert_eq!(
        (s["video"]["width"].as_u64(), s["video"]["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(s["video"]["declared_frame_rate"], 25);
    let fps = s["video"]["frame_rate"]
        .as_f64()
        .expect("measured frame rate");
    assert!((15.0..=40.0).contains(&fps), "frame rate {fps}");
    assert_eq!(s["audio"]["codec"], "aac");
    assert_eq!(s["audio"]["sample_rate"], 44100);
    let bitrate = s["bitrate_bps"].as_u64().unwrap();
    assert!(
        (20_000..=20_000_000).contains(&bitrate),
        "bitrate {bitrate}"
    );
    assert!(
        s["publisher"]["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(s["publisher"]["since"].as_str().unwrap().ends_with('Z'));
    assert!(s["uptime_seconds"].as_u64().is_some());
    assert_eq!(s["push_targets"], Value::Array(Vec::new()));
    assert_eq!(doc["server"]["connections"]["player"], 1);

    // Prometheus: parsed by prometheus_client, with the live values.
    let metrics = get(http, "/metrics", "");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.head.contains("text/plain; version=0.0.4"),
        "{}",
        metrics.head
    );
    assert!(!metrics.body.contains(PUBLISH_KEY), "a key in the metrics");
    let samples = parse_metrics(&metrics.body);
    let stream = [("stream", SHOWN_NAME)];
    assert_eq!(
        sample(&samples, "rtmpsd_stream_players", &stream),
        Some(1.0)
    );
    assert_eq!(sample(&samples, "rtmpsd_stream_live", &stream), Some(1.0));
    let bits = sample(&samples, "rtmpsd_stream_bitrate_bits_per_second", &stream).unwrap();
    assert!(bits > 20_000.0, "bitrate {bits}");
    assert_eq!(
        sample(&samples, "rtmpsd_connections", &[("role", "publisher")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&samples, "rtmpsd_connections", &[("role", "player")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&samples, "rtmpsd_streams", &[("state", "live")]),
        Some(1.0)
    );
    assert!(sample(&samples, "rtmpsd_received_bytes_total", &[]).unwrap() > 10_000.0);
    assert!(sample(&samples, "rtmpsd_sent_bytes_total", &[]).unwrap() > 10_000.0);
    assert!(sample(&samples, "process_resident_memory_bytes", &[]).unwrap() > 1e6);
    assert_eq!(
        sample(&samples, "rtmpsd_tls_handshake_failures_total", &[]),
        Some(0.0)
    );
    for limit in ["max_connections", "slow_player", "gop_cache", "protocol"] {
        assert!(sample(&samples, "rtmpsd_limit_hits_total", &[("limit", limit)]).is_some());
    }
    assert_eq!(
        sample(&samples, "rtmpsd_push_targets", &[("state", "live")]),
        Some(0.0)
    );
    let info = [
        ("stream", SHOWN_NAME),
        ("video_codec", "h264"),
        ("resolution", "640x360"),
    ];
    assert_eq!(sample(&samples, "rtmpsd_stream_info", &info), Some(1.0));

    // The certificate to download is the server's.
    let cert = get(http, "/cert.pem", "");
    assert_eq!(cert.status, 200);
    let on_disk = std::fs::read_to_string(state.join("cert.pem")).unwrap();
    assert_eq!(cert.body, on_disk);

    // The page as Chromium renders it, and a screenshot of it.
    let page_url = format!("http://{http}/");
    let profile = TempDir::new("http-chromium");
    let dom = chromium_run(&profile.join("dump"), &["--dump-dom", &page_url]);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(!dom.contains(PUBLISH_KEY), "the key on the page");
    for needle in [
        SHOWN_NAME,
        "LIVE",
        "1 player",
        "h264 640×360",
        "aac 44.1 kHz",
        "Download certificate",
        "rtmps://127.0.0.1:",
        "<code>tes...(16 chars)</code> for <b>test</b>",
        "/live/test?key=PLAY-KEY",
    ] {
        assert!(dom.contains(needle), "page has no {needle:?}:\n{dom}");
    }
    let bitrate_shown = dom
        .split("<dt>Bitrate</dt><dd>")
        .nth(1)
        .and_then(|rest| rest.split("</dd>").next())
        .unwrap_or_default();
    assert!(
        bitrate_shown.ends_with("kbit/s") || bitrate_shown.ends_with("Mbit/s"),
        "bitrate shown as {bitrate_shown:?}"
    );
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("http-status");
    std::fs::create_dir_all(&screenshots).unwrap();
    let png = screenshots.join("status-page.png");
    let _ = std::fs::remove_file(&png);
    let shot = format!("--screenshot={}", png.display());
    chromium_run(&profile.join("shot"), &[&shot, &page_url]);
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    assert_eq!(width, 412, "a phone-wide screenshot");
    assert!(
        bytes.len() > 10_000,
        "a blank screenshot? {} bytes",
        bytes.len()
    );
    eprintln!("status page screenshot: {}", png.display());
}

#[test]
fn a_non_loopback_listener_refuses_requests_without_its_token() {
    let state = TempDir::new("http-token");
    let server = ServerProcess::start_standard(
        &state,
        &["--http-listen", "0.0.0.0:0", "--http-token", TOKEN],
    );
    let http = http_addr(&server);
    for (target, header) in [
        ("/metrics", ""),
        ("/", ""),
        (
            "/api/v1/streams",
            "Authorization: Bearer operator-token-0124\r\n",
        ),
        ("/metrics?token=operator-token-012", ""),
        ("/cert.pem", "Authorization: Basic b3BlcmF0b3I=\r\n"),
    ] {
        let reply = get(http, target, header);
        assert_eq!(reply.status, 401, "{target} {header:?}: {}", reply.head);
        assert!(reply.head.contains("WWW-Authenticate: Bearer"));
        assert!(!reply.body.contains("rtmpsd_"), "{target} leaked metrics");
    }
    assert!(server.wait_for_log("no valid token", Duration::from_secs(5)));

    let bearer = format!("Authorization: Bearer {TOKEN}\r\n");
    let metrics = get(http, "/metrics", &bearer);
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .body
            .contains("rtmpsd_connections{role=\"publisher\"} 0")
    );
    let page = get(http, &format!("/?token={TOKEN}"), "");
    assert_eq!(page.status, 200);
    // The phone's links keep working: they carry the token it came with.
    assert!(
        page.body
            .contains(&format!("href=\"/cert.pem?token={TOKEN}\""))
    );
}

#[test]
fn a_non_loopback_listener_without_a_token_does_not_start() {
    let state = TempDir::new("http-no-token");
    let mut command = Command::new(env!("CARGO_BIN_EXE_rtmpsd"));
    command.args([
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "0.0.0.0:0",
        "--state-dir",
    ]);
    command.arg(state.path());
    let output = run_bounded(command, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--http-listen 0.0.0.0:0 is not a loopback address")
            && stderr.contains("--http-token"),
        "{stderr}"
    );
}

#[test]
fn bad_oversized_and_idle_requests_are_answered_and_closed_while_others_are_served() {
    let state = TempDir::new("http-hostile");
    let server = ServerProcess::start_standard(&state, &["--http-listen", "127.0.0.1:0"]);
    let http = http_addr(&server);

    let garbage = exchange(
        http,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    );
    assert_eq!(garbage.status, 400, "{}", garbage.head);
    let post = exchange(
        http,
        b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
    );
    assert_eq!(post.status, 405);
    let huge = format!("GET / HTTP/1.1\r\nX-Filler: {}\r\n\r\n", "a".repeat(9000));
    assert_eq!(exchange(http, huge.as_bytes()).status, 431);
    assert_eq!(get(http, "/nowhere", "").status, 404);

    // More idle connections than slots: the oldest make room, and a real request is served.
    let idle_since = Instant::now();
    let mut idle: Vec<TcpStream> = (0..10)
        .map(|_| {
            let mut s = TcpStream::connect(http).unwrap();
            s.write_all(b"GET / HT").ok();
            s
        })
        .collect();
    let served = get(http, "/api/v1/streams", "");
    assert_eq!(served.status, 200);
    assert!(served.body.contains("\"streams\":[]"));
    // The newest idle one is cut off with a 408 once its 5 s are up.
    let last = idle.last_mut().unwrap();
    last.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    let _ = last.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    let waited = idle_since.elapsed();
    assert!(
        (Duration::from_secs(4)..Duration::from_secs(8)).contains(&waited),
        "cut off after {waited:?}"
    );
    assert!(server.wait_for_log(
        "bad request: request head not complete within 5000 ms",
        Duration::from_secs(5)
    ));
}
