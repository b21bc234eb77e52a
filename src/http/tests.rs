//! The listener over loopback with a recording folder of made-up segments: downloads, the
//! paths that must not lead anywhere, and the download slots. (tests/http_status.rs does
//! the same with the real binary, ffmpeg, ffprobe and Chromium.)

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::routes::Routes;
use super::server::{HttpLimits, HttpServer};
use super::site::Site;
use crate::config::{CipherOrder, Limits};
use crate::server::hub::{Hub, HubLimits};
use crate::server::keys::StreamKeys;
use crate::server::recorder::{self, RECORDER_QUEUE, RecordSettings, Recorders};
use crate::server::settings::Settings;
use crate::server::shared::Shared;

const BIG: &str = "live/cam/20240501T120000Z.flv";
const SMALL: &str = "live/cam/20240501T121000Z.flv";
const BIG_LEN: usize = 8 << 20;

/// A listener over a recording folder holding `BIG` and `SMALL`, removed on drop.
struct Rig {
    root: PathBuf,
    server: Option<HttpServer>,
    _recorders: Recorders,
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn contents(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 241) as u8).collect()
}

impl Rig {
    fn new(tag: &str, limits: HttpLimits) -> Rig {
        let root = std::env::temp_dir().join(format!("rtmpsd-http-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let rec = root.join("rec");
        std::fs::create_dir_all(rec.join("live/cam")).unwrap();
        std::fs::write(rec.join(BIG), contents(BIG_LEN)).unwrap();
        std::fs::write(rec.join(SMALL), contents(1000)).unwrap();
        std::fs::write(root.join("secret"), b"not a recording").unwrap();

        let identity =
            crate::tls::load_or_generate(None, &root, CipherOrder::ChaCha).expect("tls identity");
        let limits_in_force = Limits::default();
        let hub = Hub::new(HubLimits {
            gop_cache_bytes: limits_in_force.gop_cache_bytes,
            max_players: limits_in_force.max_players_per_stream,
        });
        let settings = Settings {
            keys: StreamKeys::new(&[], &[]),
            limits: limits_in_force,
            tls: identity.config,
            apps: vec!["live".into()],
            takeover: false,
        };
        let shared = Arc::new(Shared::new(hub, settings));
        let prepared = recorder::prepare(RecordSettings {
            dir: rec,
            segment: Duration::from_secs(600),
            max_bytes: Some(1 << 30),
            keep: None,
            streams: Vec::new(),
            queue: RECORDER_QUEUE,
        })
        .expect("recording folder");
        let recorders = prepared.start(&shared);
        let site = Site {
            rtmps: "127.0.0.1:1936".parse().unwrap(),
            rtmp: None,
            app: "live".into(),
            key_hints: Vec::new(),
            play_key_required: false,
            key_source: String::new(),
            certificate: None,
        };
        let routes = Routes::new(shared.clone(), site, None);
        let server =
            HttpServer::start("127.0.0.1:0".parse().unwrap(), routes, shared, limits).unwrap();
        Rig {
            root,
            server: Some(server),
            _recorders: recorders,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.server.as_ref().unwrap().local_addr()
    }

    fn rec(&self) -> PathBuf {
        self.root.join("rec")
    }
}

/// A request on a new connection; the client's socket, its kernel buffer capped if `small`.
fn request(addr: SocketAddr, method: &str, target: &str, small: bool) -> TcpStream {
    let mut socket = TcpStream::connect(addr).unwrap();
    if small {
        let size: libc::c_int = 16 * 1024;
        // SAFETY: setsockopt reads `size` for the length given; the socket is open.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
    }
    write!(socket, "{method} {target} HTTP/1.1\r\nHost: box\r\n\r\n").unwrap();
    socket
}

/// Status, head and body of the reply on `socket`, read to its end.
fn reply(mut socket: TcpStream) -> (u16, String, Vec<u8>) {
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut bytes = Vec::new();
    socket.read_to_end(&mut bytes).expect("read to the end");
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head")
        + 4;
    let body = bytes.split_off(end);
    let head = String::from_utf8(bytes).unwrap();
    let status = head[9..12].parse().unwrap();
    (status, head, body)
}

fn get(addr: SocketAddr, target: &str) -> (u16, String, Vec<u8>) {
    reply(request(addr, "GET", target, false))
}

#[test]
fn a_listed_segment_downloads_whole_with_its_type_length_and_name() {
    let rig = Rig::new("download", HttpLimits::default());
    let (status, head, body) = get(rig.addr(), &format!("/recordings/{BIG}"));
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("Content-Type: video/x-flv\r\n"), "{head}");
    assert!(
        head.contains(&format!("Content-Length: {BIG_LEN}\r\n")),
        "{head}"
    );
    assert!(
        head.contains(
            "Content-Disposition: attachment; filename=\"live_cam_20240501T120000Z.flv\"\r\n"
        ),
        "{head}"
    );
    assert!(body == contents(BIG_LEN), "{} bytes", body.len());

    let (status, head, body) = reply(request(
        rig.addr(),
        "HEAD",
        &format!("/recordings/{SMALL}"),
        false,
    ));
    assert_eq!(status, 200);
    assert!(head.contains("Content-Length: 1000\r\n"));
    assert!(body.is_empty());
}

#[test]
fn paths_out_of_the_list_are_refused() {
    let rig = Rig::new("traversal", HttpLimits::default());
    let addr = rig.addr();
    let rec = rig.rec();
    // A file named like a segment that the registry never listed.
    std::fs::write(rec.join("live/cam/20240501T130000Z.flv"), b"unlisted").unwrap();
    let secret = rig.root.join("secret");
    let absolute = format!("/recordings/{}", secret.display());
    let cases: [(&str, u16); 14] = [
        ("/recordings/../secret", 400),
        ("/recordings/../../secret", 400),
        ("/recordings/live/../../secret", 400),
        ("/recordings/live/cam/../../../secret", 400),
        ("/recordings/live/cam/..%2F..%2F..%2Fsecret", 400),
        ("/recordings/live%2Fcam%2F20240501T120000Z.flv", 400),
        ("/recordings/live/cam/20240501T120000Z%2Eflv", 400),
        ("/recordings//live/cam/20240501T120000Z.flv", 400),
        (&absolute, 400),
        ("/recordings/live/cam/20240501T130000Z.flv", 404),
        ("/recordings/live/cam/20240501T120000Z.flv.part", 404),
        ("/recordings/live/other/20240501T120000Z.flv", 404),
        ("/recordings/", 400),
        ("/recordings", 404),
    ];
    for (target, expected) in cases {
        let (status, head, body) = get(addr, target);
        assert_eq!(status, expected, "{target}: {head}");
        let body = String::from_utf8_lossy(&body);
        assert!(
            !body.contains("not a recording") && !body.contains("unlisted"),
            "{target}"
        );
    }

    // A listed segment swapped for a symlink to a file elsewhere is not followed.
    let listed = rec.join(SMALL);
    std::fs::remove_file(&listed).unwrap();
    std::os::unix::fs::symlink(&secret, &listed).unwrap();
    let (status, _, body) = get(addr, &format!("/recordings/{SMALL}"));
    assert_eq!(status, 404);
    assert!(!String::from_utf8_lossy(&body).contains("not a recording"));
    // Nor is a stream folder swapped for one.
    std::fs::rename(rec.join("live/cam"), rec.join("live/moved")).unwrap();
    std::os::unix::fs::symlink(rec.join("live/moved"), rec.join("live/cam")).unwrap();
    let (status, _, _) = get(addr, &format!("/recordings/{BIG}"));
    assert_eq!(status, 404);
    assert!(Path::new(&rec.join("live/moved").join("20240501T120000Z.flv")).exists());
}

#[test]
fn downloads_beyond_their_slots_wait_and_the_page_is_still_served() {
    let limits = HttpLimits {
        download_stall_time: Duration::from_secs(2),
        ..HttpLimits::default()
    };
    let max = limits.max_downloads;
    let rig = Rig::new("slots", limits);
    let addr = rig.addr();
    let target = format!("/recordings/{BIG}");
    // Clients that do not read: each holds a download slot.
    let mut holding: Vec<TcpStream> = (0..max)
        .map(|_| request(addr, "GET", &target, true))
        .collect();
    thread::sleep(Duration::from_millis(300));
    let (status, head, _) = get(addr, &target);
    assert_eq!(status, 503, "{head}");
    assert!(head.contains("Retry-After: 10\r\n"));
    // A HEAD sends no file: it is answered whatever the slots.
    let (status, head, _) = reply(request(addr, "HEAD", &target, false));
    assert_eq!(status, 200, "{head}");
    let (status, _, page) = get(addr, "/");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("rtmpsd"));

    // One client leaves: its slot frees and the next download is sent.
    drop(holding.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, body) = get(addr, &target);
        if status == 200 {
            assert_eq!(body.len(), BIG_LEN);
            break;
        }
        assert_eq!(status, 503);
        assert!(Instant::now() < deadline, "the slot never freed");
        thread::sleep(Duration::from_millis(100));
    }
    // The ones that never read are cut once the stall time passes, freeing their slots for
    // as many new downloads.
    thread::sleep(Duration::from_millis(2500));
    let fresh: Vec<TcpStream> = (0..max)
        .map(|_| {
            let mut client = request(addr, "GET", &target, true);
            client
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                client.read_exact(&mut byte).expect("a head");
                head.push(byte[0]);
            }
            assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"), "{head:?}");
            client
        })
        .collect();
    assert_eq!(get(addr, &target).0, 503);
    drop(holding);
    drop(fresh);
}

#[test]
fn the_json_lists_the_segments_and_each_download_path_serves_its_file() {
    let rig = Rig::new("listing", HttpLimits::default());
    let (status, head, body) = get(rig.addr(), "/api/v1/recordings");
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("Content-Type: application/json\r\n"));
    let doc: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(doc["recording"], true);
    assert_eq!(doc["budget"]["segments"], 2);
    assert_eq!(doc["budget"]["used_bytes"], (BIG_LEN + 1000) as u64);
    let segments = doc["segments"].as_array().unwrap();
    let files: Vec<&str> = segments
        .iter()
        .map(|s| s["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["20240501T121000Z.flv", "20240501T120000Z.flv"]);
    for segment in segments {
        // No recorder of this run writes there: the folder names the stream.
        assert_eq!(segment["stream"], "live/cam");
        assert_eq!(segment["open"], false);
        let download = segment["download"].as_str().unwrap();
        let (status, _, body) = get(rig.addr(), download);
        assert_eq!(status, 200, "{download}");
        assert_eq!(body.len() as u64, segment["bytes"].as_u64().unwrap());
    }
    let (status, _, page) = get(rig.addr(), "/");
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains(&format!("<a href=\"/recordings/{BIG}\" download>")),
        "{page}"
    );
    assert!(page.contains("<h3>live/cam<span class=\"badge waiting\">not recorded now</span>"));
}
