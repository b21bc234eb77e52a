//! Pushes between two rtmpsd servers in this process, driven by the bundled client over
//! rtmps:// on 127.0.0.1: what the upstream receives (headers, then frames in order from a
//! keyframe, rebased timestamps), a publisher that reconnects, per-push CA files and SNI, an
//! upstream that refuses the key, and what the push registry shows.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rtmpsd::client::{Client, ClientOptions, RtmpUrl, SyntheticStream, frame_index};
use rtmpsd::config::{CipherOrder, Limits};
use rtmpsd::key_spec::PublishKey;
use rtmpsd::push_spec::PushTarget;
use rtmpsd::rtmp::message::type_id;
use rtmpsd::server::accept::{Server, Stopper};
use rtmpsd::server::keys::StreamKeys;
use rtmpsd::server::push::{PushSet, PushSettings};
use rtmpsd::server::push_status::{PushSnapshot, PushState};
use rtmpsd::server::settings::Settings;
use rtmpsd::server::shared::Shared;
use rtmpsd::upstream_tls::UpstreamTls;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The upstream's stream key in every test: it must never show in a push's status.
const UPSTREAM_KEY: &str = "upstream-secret-key-1234";
const LOCAL_KEY: &str = "local-publish-key";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// An rtmpsd server running in a thread of this process.
struct Node {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stopper: Stopper,
    thread: Option<JoinHandle<()>>,
    dir: PathBuf,
}

/// How to start a node.
struct NodeSetup<'a> {
    /// `NAME=KEY` publish keys.
    keys: &'a [(&'a str, &'a str)],
    /// Names its certificate is for, instead of the default (this host's names and addresses).
    cert_names: Option<&'a [&'a str]>,
    /// Its pushes.
    pushes: Vec<PushTarget>,
    /// Certificates its pushes trust (as `--push-ca-file`).
    trust: Vec<PathBuf>,
    limits: Limits,
}

impl Default for NodeSetup<'_> {
    fn default() -> Self {
        NodeSetup {
            keys: &[],
            cert_names: None,
            pushes: Vec::new(),
            trust: Vec::new(),
            limits: Limits {
                push_timeout: Duration::from_secs(3),
                ..Limits::default()
            },
        }
    }
}

impl Node {
    fn start(setup: NodeSetup<'_>) -> Node {
        let _ = env_logger::builder().is_test(true).try_init();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("rtmpsd-push-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("state dir");
        if let Some(names) = setup.cert_names {
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            let (cert, key) = rtmpsd::tls::self_signed(&names, &[]).expect("certificate");
            std::fs::write(dir.join("cert.pem"), cert).expect("cert.pem");
            std::fs::write(dir.join("key.pem"), key).expect("key.pem");
        }
        let identity =
            rtmpsd::tls::load_or_generate(None, &dir, CipherOrder::Aes).expect("tls identity");
        let keys: Vec<PublishKey> = setup
            .keys
            .iter()
            .map(|(name, key)| PublishKey {
                stream: name.to_string(),
                key: key.to_string(),
            })
            .collect();
        let settings = Settings {
            keys: StreamKeys::new(&keys, &[]),
            limits: setup.limits,
            tls: identity.config,
            apps: vec!["live".to_string()],
            takeover: true,
        };
        let server =
            Server::bind(SocketAddr::from(([127, 0, 0, 1], 0)), None, settings).expect("bind");
        let addr = server.local_addr().expect("addr");
        let shared = server.shared();
        if !setup.pushes.is_empty() {
            let mut roots = Vec::new();
            for file in &setup.trust {
                roots.extend(
                    CertificateDer::pem_file_iter(file)
                        .expect("ca file")
                        .map(|c| c.expect("certificate")),
                );
            }
            let tls = UpstreamTls::with_roots(roots, CipherOrder::Aes).expect("roots");
            let settings = PushSettings::from_limits(&setup.limits, "live");
            PushSet::with_tls(tls, settings)
                .apply(&shared, &setup.pushes)
                .expect("pushes");
        }
        let stopper = server.stopper();
        let thread = thread::Builder::new()
            .name("push-test-node".into())
            .spawn(move || server.run().expect("server run"))
            .expect("spawn");
        Node {
            addr,
            shared,
            stopper,
            thread: Some(thread),
            dir,
        }
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn url(&self, name: &str) -> RtmpUrl {
        RtmpUrl::parse(&format!("rtmps://{}/live/{name}", self.addr)).expect("url")
    }

    fn push_url(&self, key: &str) -> String {
        format!("rtmps://{}/live/{key}", self.addr)
    }

    fn pushes(&self) -> Vec<PushSnapshot> {
        self.shared.pushes.snapshot()
    }

    /// Waits up to `timeout` for push `index` to be in `state`.
    fn wait_push(&self, index: usize, state: PushState, timeout: Duration) -> PushSnapshot {
        let deadline = Instant::now() + timeout;
        loop {
            let shown = self.pushes();
            if let Some(push) = shown.get(index).filter(|p| p.state == state) {
                return push.clone();
            }
            assert!(
                Instant::now() < deadline,
                "push {index} not {state:?} within {timeout:?}: {shown:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stopper.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn options() -> ClientOptions {
    ClientOptions {
        insecure: true,
        timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

fn target(stream: &str, url: String, ca_file: Option<&Path>, sni: Option<&str>) -> PushTarget {
    let mut push: PushTarget = format!("{stream}={url}").parse().expect("push target");
    push.ca_file = ca_file.map(Path::to_path_buf);
    push.sni = sni.map(str::to_string);
    push
}

/// A local node pushing its stream `test` to `upstream` (stream `cam`).
fn local_pushing_to(upstream: &Node) -> Node {
    Node::start(NodeSetup {
        keys: &[("test", LOCAL_KEY)],
        pushes: vec![target("test", upstream.push_url(UPSTREAM_KEY), None, None)],
        trust: vec![upstream.cert()],
        ..NodeSetup::default()
    })
}

fn upstream() -> Node {
    Node::start(NodeSetup {
        keys: &[("cam", UPSTREAM_KEY)],
        ..NodeSetup::default()
    })
}

fn publish(node: &Node, stream: &SyntheticStream) -> Client {
    let mut client = Client::connect(&node.url(LOCAL_KEY), &options()).expect("connect");
    client.publish().expect("publish");
    for (kind, ts, payload) in stream.headers() {
        client.send_media(kind, ts, &payload).expect("headers");
    }
    client
}

fn send(client: &mut Client, stream: &mut SyntheticStream, count: u32, pace: Duration) {
    for _ in 0..count {
        for (kind, ts, payload) in stream.next_frames() {
            client.send_media(kind, ts, &payload).expect("frame");
        }
        thread::sleep(pace);
    }
}

fn play(node: &Node, name: &str) -> Client {
    let mut client = Client::connect(&node.url(name), &options()).expect("connect");
    client.play().expect("play");
    client
}

/// What a player on the upstream received.
#[derive(Debug, Default)]
struct Received {
    /// Kind of each message before the first frame: `meta`, `video-header`, `audio-header`.
    start: Vec<&'static str>,
    first_was_key: Option<bool>,
    indices: Vec<u32>,
    timestamps: Vec<u32>,
    statuses: Vec<String>,
}

/// Receives until video frame `last` arrives or `timeout` passes.
fn receive_until(client: &mut Client, last: u32, timeout: Duration) -> Received {
    let mut seen = Received::default();
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let Ok(message) = client.recv() else { break };
        if let Some((name, Some(code))) = message.command() {
            if name == "onStatus" {
                seen.statuses.push(code);
            }
            continue;
        }
        let header = message.payload.get(1) == Some(&0);
        match message.type_id {
            type_id::DATA_AMF0
                if seen.indices.is_empty()
                    && message.payload.windows(10).any(|w| w == b"onMetaData") =>
            {
                seen.start.push("meta")
            }
            type_id::AUDIO if header && seen.indices.is_empty() => seen.start.push("audio-header"),
            type_id::VIDEO if header && seen.indices.is_empty() => seen.start.push("video-header"),
            // A sequence header after frames (a new publisher) is no frame.
            type_id::VIDEO if header => {}
            type_id::VIDEO => {
                seen.first_was_key
                    .get_or_insert(message.payload.first() == Some(&0x17));
                let index = frame_index(&message.payload).expect("synthetic frame");
                seen.indices.push(index);
                seen.timestamps.push(message.timestamp.0);
                if index >= last {
                    break;
                }
            }
            _ => {}
        }
    }
    seen
}

fn consecutive(indices: &[u32]) -> bool {
    indices.windows(2).all(|w| w[1] == w[0] + 1)
}

#[test]
fn the_upstream_gets_headers_then_every_frame_from_a_keyframe_on_a_timeline_from_zero() {
    let up = upstream();
    let mut player = play(&up, "cam");
    let local = local_pushing_to(&up);
    local.wait_push(0, PushState::Waiting, Duration::from_secs(5));
    let mut stream = SyntheticStream::new(25, 25, 400);
    let mut publisher = publish(&local, &stream);
    // Frames flow while the push connects; it starts upstream from the latest keyframe.
    send(&mut publisher, &mut stream, 30, Duration::from_millis(10));
    local.wait_push(0, PushState::Live, Duration::from_secs(5));
    send(&mut publisher, &mut stream, 40, Duration::from_millis(10));
    let last = stream.next_index() - 1;
    let seen = receive_until(&mut player, last, Duration::from_secs(10));
    assert!(
        seen.statuses
            .iter()
            .any(|s| s == "NetStream.Play.PublishNotify"),
        "{seen:?}"
    );
    assert_eq!(
        seen.start,
        ["meta", "video-header", "audio-header"],
        "{seen:?}"
    );
    assert_eq!(seen.first_was_key, Some(true), "{seen:?}");
    assert_eq!(seen.indices.first().map(|i| i % 25), Some(0), "{seen:?}");
    assert!(consecutive(&seen.indices), "{:?}", seen.indices);
    assert_eq!(seen.indices.last(), Some(&last), "{seen:?}");
    // Rebased: the first frame goes out at 0, the next ones 40 ms apart.
    assert_eq!(seen.timestamps.first(), Some(&0), "{seen:?}");
    assert!(
        seen.timestamps.windows(2).all(|w| w[1] == w[0] + 40),
        "{:?}",
        seen.timestamps
    );
    // The push is one subscriber of the local stream, like a player, and shows no key.
    let stream_stats = local.shared.hub.streams();
    let counts = stream_stats[0].stats().counts();
    assert_eq!((counts.players, counts.subscribers), (0, 1), "{counts:?}");
    let shown = local.wait_push(0, PushState::Live, Duration::from_secs(1));
    assert_eq!(shown.stream, "live/test");
    assert_eq!(
        shown.target,
        format!("rtmps://{}/live/(key redacted)", up.addr)
    );
    assert!(shown.bytes_out > 70 * 400 * 1000 / 8 / 25, "{shown:?}");
    assert_eq!(shown.retries, 0);
}

#[test]
fn a_publisher_that_reconnects_resumes_the_push() {
    let up = upstream();
    let mut player = play(&up, "cam");
    let local = local_pushing_to(&up);
    let mut first = SyntheticStream::new(25, 10, 200);
    let mut publisher = publish(&local, &first);
    send(&mut publisher, &mut first, 5, Duration::from_millis(10));
    local.wait_push(0, PushState::Live, Duration::from_secs(5));
    send(&mut publisher, &mut first, 20, Duration::from_millis(10));
    let last = first.next_index() - 1;
    let seen = receive_until(&mut player, last, Duration::from_secs(10));
    assert_eq!(seen.indices.last(), Some(&last), "{seen:?}");
    drop(publisher);
    local.wait_push(0, PushState::Waiting, Duration::from_secs(5));
    // The upstream heard the push unpublish; the player there stays for the next one.
    let mut second = SyntheticStream::new(25, 10, 200);
    let mut publisher = publish(&local, &second);
    send(&mut publisher, &mut second, 5, Duration::from_millis(10));
    local.wait_push(0, PushState::Live, Duration::from_secs(5));
    send(&mut publisher, &mut second, 20, Duration::from_millis(10));
    let last = second.next_index() - 1;
    let seen = receive_until(&mut player, last, Duration::from_secs(10));
    assert!(
        seen.statuses
            .iter()
            .any(|s| s == "NetStream.Play.UnpublishNotify"),
        "{seen:?}"
    );
    assert_eq!(seen.first_was_key, Some(true), "{seen:?}");
    assert!(consecutive(&seen.indices), "{:?}", seen.indices);
    assert_eq!(seen.indices.last(), Some(&last), "{seen:?}");
    assert_eq!(seen.timestamps.first(), Some(&0), "a new upstream timeline");
    assert_eq!(
        local.pushes()[0].retries,
        0,
        "a stream ending is no failure"
    );
}

#[test]
fn a_push_with_its_own_ca_file_and_sni_reaches_an_upstream_named_otherwise() {
    let up = Node::start(NodeSetup {
        keys: &[("cam", UPSTREAM_KEY)],
        cert_names: Some(&["upstream.test"]),
        ..NodeSetup::default()
    });
    let cert = up.cert();
    let local = Node::start(NodeSetup {
        keys: &[("test", LOCAL_KEY)],
        pushes: vec![
            target(
                "test",
                up.push_url(UPSTREAM_KEY),
                Some(&cert),
                Some("upstream.test"),
            ),
            // The certificate names no address: without sni the name check fails.
            target("test", up.push_url(UPSTREAM_KEY), Some(&cert), None),
        ],
        ..NodeSetup::default()
    });
    let mut stream = SyntheticStream::new(25, 10, 200);
    let mut publisher = publish(&local, &stream);
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut shown = local.pushes();
    while Instant::now() < deadline && !(shown[0].state == PushState::Live && shown[1].retries >= 1)
    {
        send(&mut publisher, &mut stream, 5, Duration::from_millis(20));
        shown = local.pushes();
    }
    assert_eq!(shown[0].state, PushState::Live, "{shown:?}");
    assert!(
        matches!(shown[1].state, PushState::Retrying | PushState::Connecting),
        "{shown:?}"
    );
    assert!(shown[1].retries >= 1, "{shown:?}");
    assert!(shown.iter().all(|p| !p.target.contains(UPSTREAM_KEY)));
}

#[test]
fn an_upstream_that_refuses_the_key_shows_the_push_failed_and_retried() {
    let up = upstream();
    let local = Node::start(NodeSetup {
        keys: &[("test", LOCAL_KEY)],
        pushes: vec![target(
            "test",
            up.push_url("wrong-upstream-key"),
            None,
            None,
        )],
        trust: vec![up.cert()],
        ..NodeSetup::default()
    });
    let mut stream = SyntheticStream::new(25, 10, 200);
    let mut publisher = publish(&local, &stream);
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut shown = local.pushes();
    while Instant::now() < deadline && shown[0].retries < 1 {
        send(&mut publisher, &mut stream, 5, Duration::from_millis(20));
        shown = local.pushes();
    }
    assert!(shown[0].retries >= 1, "{shown:?}");
    assert!(
        matches!(shown[0].state, PushState::Failed | PushState::Connecting),
        "{shown:?}"
    );
    local.wait_push(0, PushState::Failed, Duration::from_secs(5));
}
