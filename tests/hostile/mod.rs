//! Shared pieces of the hostile-input tests (`tests/hostile_*.rs`).
//!
//! | file | what is thrown at the server |
//! |---|---|
//! | `hostile_transport.rs` | the wrong protocol on each port; broken, slow and random RTMP and TLS handshakes |
//! | `hostile_chunks.rs` | the chunk stream: bad headers, chunk sizes, too many chunk streams, oversized messages |
//! | `hostile_amf.rs` | AMF0 in commands and data: wrong types, broken encodings, values over the AMF limits |
//! | `hostile_commands.rs` | commands out of order, too many message streams, names over their limits |
//! | `hostile_media.rs` | malformed media headers and decoder configurations from a publisher |
//! | `hostile_pressure.rs` | floods and slow peers: connection caps, idle, slow and vanishing peers, unread replies |
//!
//! Every test runs the real `rtmpsd` binary (`support::ServerProcess`, stderr captured) with
//! short limits and keeps a live stream playing on it from start to end ([`Fixture`]: an
//! in-repo publisher at 50 fps and a player that checks every frame index arrives, in
//! order, with no stall). It attacks over raw sockets ([`Raw`]: exactly the bytes the attack
//! needs, TLS or plain), and checks three things:
//! - the offending connection's close (or refusal) line names the reason, the peer address
//!   and the value seen ([`Fixture::closed_line`]);
//! - the live stream flowed with no gap for the whole test ([`Fixture::finish`]);
//! - the server's resident memory came back ([`Fixture::attack_twice`]).
// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rtmpsd::client::{
    Client, ClientOptions, Message, RtmpUrl, SyntheticStream, frame_index, tls_config,
};
use rtmpsd::rtmp::amf0::{self, Amf0Value, AmfLimits};
use rtmpsd::rtmp::chunk::{ChunkLimits, ChunkRead, ChunkReader};
use rtmpsd::rtmp::handshake::{ClientHandshake, HandshakeStep, RANDOM_SIZE};
use rtmpsd::rtmp::message::type_id;
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};

use crate::support::{PLAY_KEY, PUBLISH_KEY, STREAM, ServerProcess, TempDir};

/// A second publish key: attacks that publish use it, so they get a stream of their own.
pub const ATTACK_KEY: &str = "attack-publish-key";
/// The stream [`ATTACK_KEY`] publishes.
pub const ATTACK_STREAM: &str = "attack";
/// Frames a second on the live stream.
pub const LIVE_FPS: u32 = 50;
/// Video bitrate of the live stream (5 KB frames).
pub const LIVE_KBPS: u32 = 2000;
/// Longest the live player may wait between two consecutive frames (they come every 20 ms).
///
/// Generous because two tests run at once on two cores, each with a debug-build server.
pub const LIVE_MAX_STALL: Duration = Duration::from_millis(1500);
/// How much the server's RSS may grow over one attack after a warm-up run of the same attack.
///
/// Measured over six runs of the whole hostile suite: after the warm-up, one attack
/// moves VmRSS by -20..+220 KiB (the live stream's frames in flight, thread-stack
/// caching, malloc arenas). A leaked session (its thread, 16 KiB input buffer, TLS state
/// and reassembly buffers) costs 100 KiB or more, and every attack here makes at least
/// one, usually three or more.
pub const RSS_MARGIN_KIB: u64 = 512;
/// The glibc tunable the server runs with: a fixed mmap threshold (see `Fixture::start`).
const MALLOC_SETTING: &str = "MALLOC_MMAP_THRESHOLD_=131072";
/// How long to wait for a log line that must come.
pub const LOG_WAIT: Duration = Duration::from_secs(10);
/// A frame index no live publisher reaches: "not decided yet".
const UNSET: u64 = u64::MAX;

/// Received video frames on the live stream, with their arrival times.
#[derive(Debug, Default)]
struct Played {
    frames: Vec<(u32, Instant)>,
    error: Option<String>,
}

/// The publisher and player of the live stream that must keep flowing.
struct Live {
    stop: Arc<AtomicBool>,
    final_index: Arc<AtomicU64>,
    publisher: Option<JoinHandle<Result<u32, String>>>,
    player: Option<JoinHandle<Played>>,
}

/// A running server with a live stream, its state folder, and the checks every test ends with.
pub struct Fixture {
    /// The server.
    pub server: ServerProcess,
    live: Live,
    _state: TempDir,
}

/// Client options for test clients: accept the self-signed certificate, wait up to 5 s.
pub fn client_options() -> ClientOptions {
    ClientOptions {
        insecure: true,
        timeout: Duration::from_secs(5),
        ..ClientOptions::default()
    }
}

impl Fixture {
    /// Starts rtmpsd with both listeners, the test keys, `ATTACK_KEY` and `extra` flags,
    /// then the live stream; returns once the live player has frames.
    pub fn start(extra: &[&str]) -> Fixture {
        let state = TempDir::new("hostile");
        let dir = state.path().to_str().expect("temp dir paths are UTF-8");
        let live_key = format!("{STREAM}={PUBLISH_KEY}");
        let attack_key = format!("{ATTACK_STREAM}={ATTACK_KEY}");
        // The usual test flags (`ServerProcess::start_standard`), run through env(1) to fix
        // glibc's mmap threshold at its 128 KiB default: allocations above it are mapped
        // and unmapped on free. Left dynamic, glibc raises the threshold after the first
        // large free and then keeps large buffers in whichever of its per-thread arenas a
        // session happened to use, so RSS after an attack that made a 4 MB buffer can be
        // 4 MB up or not, at random. env(1) execs rtmpsd, so the pid is rtmpsd's.
        let mut args = vec![
            MALLOC_SETTING,
            env!("CARGO_BIN_EXE_rtmpsd"),
            "--listen",
            "127.0.0.1:0",
            "--rtmp-listen",
            "127.0.0.1:0",
            "--state-dir",
            dir,
            "--publish-key",
            &live_key,
            "--publish-key",
            &attack_key,
            "--play-key",
            PLAY_KEY,
            "--log",
            "debug",
        ];
        args.extend_from_slice(extra);
        let server = ServerProcess::start_program(Path::new("/usr/bin/env"), &args);
        let live = Live::start(&server);
        Fixture {
            server,
            live,
            _state: state,
        }
    }

    /// `rtmps://…/live/<name>?key=PLAY_KEY` for playing.
    pub fn play_url(&self, name: &str) -> RtmpUrl {
        RtmpUrl::parse(
            &self
                .server
                .rtmps_url(&format!("live/{name}?key={PLAY_KEY}")),
        )
        .expect("url")
    }

    /// The TLS listener.
    pub fn tls_addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The plain listener.
    pub fn plain_addr(&self) -> SocketAddr {
        self.server.rtmp_addr().expect("plain listener")
    }

    /// A player on the attack stream, playing (nothing may be published yet).
    pub fn attack_player(&self) -> Client {
        let mut player =
            Client::connect(&self.play_url(ATTACK_STREAM), &client_options()).expect("connect");
        player.play().expect("play the attack stream");
        player
    }

    /// A raw connection that did the RTMP handshake and `connect`, on TLS or the plain port.
    pub fn connected(&self, tls: bool) -> Raw {
        let mut raw = if tls {
            Raw::tls(self.tls_addr())
        } else {
            Raw::tcp(self.plain_addr())
        };
        raw.handshake().expect("rtmp handshake");
        raw.connect().expect("connect");
        raw
    }

    /// A raw connection publishing on the attack stream (`stream_id` set).
    pub fn attack_publisher(&self, tls: bool) -> Raw {
        let mut raw = self.connected(tls);
        let code = raw.publish(ATTACK_KEY).expect("publish");
        assert_eq!(code, "NetStream.Publish.Start", "attack publisher refused");
        raw
    }

    /// The server's resident set size, from /proc/<pid>/status.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.server.pid())
    }

    /// RSS after closing threads have had time to exit.
    pub fn settled_rss_kib(&self) -> u64 {
        thread::sleep(Duration::from_millis(300));
        self.rss_kib()
    }

    /// Runs `attack` once to warm up (glibc keeps small freed blocks in its arenas, and
    /// thread stacks are cached), then again, and checks the RSS after the second run is
    /// within [`RSS_MARGIN_KIB`] of what it was before it. `attack` asserts its own outcome.
    pub fn attack_twice(&self, name: &str, mut attack: impl FnMut(&Fixture)) {
        attack(self);
        let before = self.settled_rss_kib();
        attack(self);
        let after = self.settled_rss_kib();
        let growth = after as i64 - before as i64;
        eprintln!("rss {name}: before {before} KiB, after {after} KiB, growth {growth} KiB");
        assert!(
            after <= before + RSS_MARGIN_KIB,
            "{name}: server RSS grew from {before} KiB to {after} KiB over one attack \
             (margin {RSS_MARGIN_KIB} KiB)"
        );
    }

    /// Waits for a stderr line containing `needle`; returns the first one, or panics with the log.
    pub fn line(&self, needle: &str, timeout: Duration) -> String {
        if !self.server.wait_for_log(needle, timeout) {
            panic!(
                "no log line containing {needle:?} within {timeout:?}; last lines:\n{}",
                self.tail(40)
            );
        }
        self.server
            .logs()
            .into_iter()
            .find(|l| l.contains(needle))
            .unwrap_or_default()
    }

    /// The last `n` log lines, for failure messages.
    pub fn tail(&self, n: usize) -> String {
        let logs = self.server.logs();
        logs[logs.len().saturating_sub(n)..].join("\n")
    }

    /// The session id the server gave the connection from `peer` (its latest one).
    pub fn session_id(&self, peer: SocketAddr) -> u64 {
        let needle = format!(" {peer} connected (");
        self.line(&needle, LOG_WAIT);
        let logs = self.server.logs();
        let line = logs
            .iter()
            .rev()
            .find(|l| l.contains(&needle))
            .expect("line seen");
        let before = &line[..line.find(&needle).expect("needle")];
        before
            .rsplit(' ')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("no session id in {line:?}"))
    }

    /// Waits for the close line of the connection from `peer` and returns it.
    ///
    /// Asserts the line carries the session id and the peer address; the caller asserts
    /// the reason and the value seen.
    pub fn closed_line(&self, peer: SocketAddr) -> String {
        let id = self.session_id(peer);
        let line = self.line(&format!("] {id} {peer} closed "), LOG_WAIT);
        eprintln!(
            "close line: {}",
            &line[line.find("] ").map_or(0, |i| i + 2)..]
        );
        assert!(line.contains(&peer.to_string()), "{line}");
        line
    }

    /// Waits for the refusal line of the connection from `peer` and returns it.
    pub fn refused_line(&self, peer: SocketAddr) -> String {
        self.line(&format!("] {peer} refused: "), LOG_WAIT)
    }

    /// Asserts the close line of `peer` contains every one of `parts`; returns the line.
    pub fn assert_closed(&self, peer: SocketAddr, parts: &[&str]) -> String {
        let line = self.closed_line(peer);
        for part in parts {
            assert!(
                line.contains(part),
                "close line of {peer} lacks {part:?}:\n{line}"
            );
        }
        line
    }

    /// Ends a raw connection politely (close_notify, FIN) and waits until the server has
    /// closed its side, so its stream key is free again.
    pub fn hang_up(&self, mut raw: Raw) {
        raw.close_notify();
        let _ = raw.io.tcp().shutdown(Shutdown::Write);
        raw.expect_closed(LOG_WAIT);
        let line = self.closed_line(raw.local);
        assert!(line.contains("peer closed the connection"), "{line}");
    }

    /// Asserts no close line for `peer` has been logged.
    pub fn assert_open(&self, peer: SocketAddr) {
        let id = self.session_id(peer);
        let needle = format!("] {id} {peer} closed ");
        let logs = self.server.logs();
        if let Some(line) = logs.iter().find(|l| l.contains(&needle)) {
            panic!("{peer} was closed but should not have been:\n{line}");
        }
    }

    /// Stops the live stream and checks it: every frame from the player's first to the
    /// publisher's last arrived in order with no gap and no stall longer than
    /// [`LIVE_MAX_STALL`]; the server is still running and logged no panic.
    pub fn finish(mut self) {
        let played = self.live.stop();
        let (final_index, played) = match played {
            Ok(v) => v,
            Err(e) => panic!("live stream broke: {e}\nlast lines:\n{}", self.tail(40)),
        };
        assert!(self.server.is_running(), "the server exited");
        let panics: Vec<String> = self
            .server
            .logs()
            .into_iter()
            .filter(|l| l.contains("panicked"))
            .collect();
        assert!(panics.is_empty(), "a session panicked: {panics:#?}");
        if let Some(e) = &played.error {
            panic!(
                "live player failed: {e} after {} frames\nlast lines:\n{}",
                played.frames.len(),
                self.tail(40)
            );
        }
        let indices: Vec<u32> = played.frames.iter().map(|(i, _)| *i).collect();
        let gaps: Vec<(u32, u32)> = indices
            .windows(2)
            .filter(|w| w[1] != w[0] + 1)
            .map(|w| (w[0], w[1]))
            .collect();
        assert!(gaps.is_empty(), "live stream had gaps: {gaps:?}");
        assert_eq!(
            indices.last().copied(),
            Some(final_index),
            "live player did not get the last frame"
        );
        let stall = played
            .frames
            .windows(2)
            .map(|w| w[1].1.duration_since(w[0].1))
            .max()
            .unwrap_or_default();
        eprintln!(
            "live stream: frames {}..={final_index} in order, longest wait between frames {stall:?}",
            indices.first().copied().unwrap_or_default()
        );
        assert!(
            stall <= LIVE_MAX_STALL,
            "live stream stalled for {stall:?} (limit {LIVE_MAX_STALL:?})"
        );
    }
}

impl Live {
    fn start(server: &ServerProcess) -> Live {
        let stop = Arc::new(AtomicBool::new(false));
        let final_index = Arc::new(AtomicU64::new(UNSET));
        let publish_url =
            RtmpUrl::parse(&server.rtmps_url(&format!("live/{PUBLISH_KEY}"))).expect("url");
        let play_url = RtmpUrl::parse(&server.rtmps_url(&format!("live/{STREAM}?key={PLAY_KEY}")))
            .expect("url");
        let (published_tx, published_rx) = std::sync::mpsc::channel();
        let publisher = {
            let stop = stop.clone();
            let final_index = final_index.clone();
            thread::Builder::new()
                .name("live-publisher".into())
                .spawn(move || live_publish(&publish_url, &stop, &final_index, published_tx))
                .expect("spawn")
        };
        if published_rx.recv_timeout(LOG_WAIT).is_err() {
            stop.store(true, Ordering::SeqCst);
            let result = publisher.join();
            panic!("live publisher did not start: {result:?}");
        }
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let player = {
            let final_index = final_index.clone();
            thread::Builder::new()
                .name("live-player".into())
                .spawn(move || live_play(&play_url, &final_index, ready_tx))
                .expect("spawn")
        };
        let live = Live {
            stop,
            final_index,
            publisher: Some(publisher),
            player: Some(player),
        };
        if ready_rx.recv_timeout(LOG_WAIT).is_err() {
            let mut live = live;
            let result = live.stop();
            panic!("live player got no frames: {result:?}");
        }
        live
    }

    /// Stops the publisher; returns its last frame index and what the player saw.
    fn stop(&mut self) -> Result<(u32, Played), String> {
        self.stop.store(true, Ordering::SeqCst);
        let published = self
            .publisher
            .take()
            .map(|p| {
                p.join()
                    .unwrap_or_else(|_| Err("publisher panicked".into()))
            })
            .unwrap_or_else(|| Err("stopped twice".into()));
        if published.is_err() {
            // Let the player give up rather than wait for a final frame that never comes.
            self.final_index.store(0, Ordering::SeqCst);
        }
        let played = self
            .player
            .take()
            .map(|p| p.join().unwrap_or_default())
            .unwrap_or_default();
        Ok((published?, played))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if self.publisher.is_some() {
            let _ = self.stop();
        }
    }
}

/// The live publisher: headers, then a frame every 20 ms until told to stop; the index of
/// the last frame is announced before that frame is sent.
fn live_publish(
    url: &RtmpUrl,
    stop: &AtomicBool,
    final_index: &AtomicU64,
    published: std::sync::mpsc::Sender<()>,
) -> Result<u32, String> {
    let mut client =
        Client::connect(url, &client_options()).map_err(|e| format!("connect: {e}"))?;
    client.publish().map_err(|e| format!("publish: {e}"))?;
    let mut stream = SyntheticStream::new(LIVE_FPS, LIVE_FPS / 2, LIVE_KBPS);
    for (kind, ts, payload) in stream.headers() {
        client
            .send_media(kind, ts, &payload)
            .map_err(|e| format!("headers: {e}"))?;
    }
    let _ = published.send(());
    let interval = Duration::from_secs(1) / LIVE_FPS;
    let start = Instant::now();
    let mut sent = 0u32;
    loop {
        let index = stream.next_index();
        let last = stop.load(Ordering::SeqCst);
        if last {
            final_index.store(u64::from(index), Ordering::SeqCst);
        }
        for (kind, ts, payload) in stream.next_frames() {
            client
                .send_media(kind, ts, &payload)
                .map_err(|e| format!("frame {index}: {e}"))?;
        }
        if last {
            return Ok(index);
        }
        sent += 1;
        let next = start + interval * sent;
        thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// The live player: records every video frame's index and arrival time until the final one.
fn live_play(url: &RtmpUrl, final_index: &AtomicU64, ready: std::sync::mpsc::Sender<()>) -> Played {
    let mut played = Played::default();
    let mut client = match Client::connect(url, &client_options()).and_then(|mut c| {
        c.play()?;
        Ok(c)
    }) {
        Ok(c) => c,
        Err(e) => {
            played.error = Some(format!("connect/play: {e}"));
            return played;
        }
    };
    loop {
        let message = match client.recv_media() {
            Ok(m) => m,
            Err(e) => {
                played.error = Some(format!("recv: {e}"));
                return played;
            }
        };
        // Video frames only (not the sequence header): they carry the index.
        if message.type_id != type_id::VIDEO || message.payload.get(1) != Some(&1) {
            continue;
        }
        let Some(index) = frame_index(&message.payload) else {
            played.error = Some("video frame without an index".into());
            return played;
        };
        played.frames.push((index, Instant::now()));
        if played.frames.len() == 3 {
            let _ = ready.send(());
        }
        let last = final_index.load(Ordering::SeqCst);
        if last != UNSET && u64::from(index) >= last {
            return played;
        }
    }
}

/// VmRSS of process `pid` in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS line")
}

/// The byte stream of a raw connection.
pub enum Io {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Io {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Io::Plain(s) => s,
            Io::Tls(s) => &s.sock,
        }
    }
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(buf),
            Io::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.write(buf),
            Io::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.flush(),
            Io::Tls(s) => s.flush(),
        }
    }
}

/// One message received on a raw connection.
#[derive(Debug, Clone)]
pub struct Msg {
    /// Message type id.
    pub type_id: u8,
    /// Message stream id.
    pub stream_id: u32,
    /// Timestamp.
    pub timestamp: u32,
    /// Payload.
    pub payload: Vec<u8>,
}

impl Msg {
    /// For an AMF0 command: its name and the `code` of any status object in it.
    pub fn command(&self) -> Option<(String, Option<String>, Option<f64>)> {
        if self.type_id != type_id::COMMAND_AMF0 {
            return None;
        }
        let values = amf0::decode_all(&self.payload, &AmfLimits::default()).ok()?;
        let name = values.first()?.as_str()?.to_string();
        let code = values
            .iter()
            .find_map(|v| v.get("code").and_then(Amf0Value::as_str))
            .map(str::to_string);
        let number = values.iter().skip(2).find_map(Amf0Value::as_number);
        Some((name, code, number))
    }
}

/// A connection that sends exactly what it is told to, for attacks.
pub struct Raw {
    /// The byte stream.
    pub io: Io,
    /// This end's address: what the server logs as the peer.
    pub local: SocketAddr,
    /// When the TCP connection was made.
    pub opened: Instant,
    reader: ChunkReader,
    input: Vec<u8>,
    /// The message stream `publish` made.
    pub stream_id: u32,
    txn: f64,
}

impl Raw {
    /// A plain TCP connection to `addr`, nothing sent.
    pub fn tcp(addr: SocketAddr) -> Raw {
        let tcp = TcpStream::connect(addr).expect("tcp connect");
        Raw::over(Io::Plain(tcp))
    }

    /// A TCP connection to `addr` with the TLS handshake done, nothing else sent.
    pub fn tls(addr: SocketAddr) -> Raw {
        Raw::tls_over(TcpStream::connect(addr).expect("tcp connect"))
    }

    /// The TLS handshake over `tcp`, nothing else sent.
    pub fn tls_over(mut tcp: TcpStream) -> Raw {
        let mut conn = ClientConnection::new(
            tls_config(true),
            ServerName::try_from("localhost").expect("name"),
        )
        .expect("tls client");
        tcp.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        while conn.is_handshaking() {
            conn.complete_io(&mut tcp).expect("tls handshake");
        }
        Raw::over(Io::Tls(Box::new(StreamOwned::new(conn, tcp))))
    }

    /// Sends a TLS close_notify (nothing on plain TCP).
    pub fn close_notify(&mut self) {
        if let Io::Tls(tls) = &mut self.io {
            tls.conn.send_close_notify();
            let _ = tls.conn.write_tls(&mut tls.sock);
        }
    }

    fn over(io: Io) -> Raw {
        let tcp = io.tcp();
        tcp.set_nodelay(true).expect("nodelay");
        tcp.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        tcp.set_write_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let local = tcp.local_addr().expect("local addr");
        Raw {
            io,
            local,
            opened: Instant::now(),
            reader: ChunkReader::new(ChunkLimits {
                max_message_len: 16 << 20,
                max_chunk_size: 1 << 24,
                max_chunk_streams: 64,
                max_buffered_bytes: 64 << 20,
            }),
            input: Vec::new(),
            stream_id: 0,
            txn: 1.0,
        }
    }

    /// Writes `bytes` and flushes.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.write_all(bytes)?;
        self.io.flush()
    }

    /// The RTMP handshake (plain form); bytes after S2 are kept for `recv`.
    pub fn handshake(&mut self) -> io::Result<()> {
        let mut handshake = ClientHandshake::new(&[0x5c; RANDOM_SIZE], 0);
        let hello = handshake.hello().to_vec();
        self.send(&hello)?;
        let mut held: Vec<u8> = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = self.io.read(&mut buf)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            held.extend_from_slice(&buf[..n]);
            let mut pos = 0;
            let mut replies = Vec::new();
            let done = loop {
                match handshake.feed(&held[pos..]).map_err(bad)? {
                    HandshakeStep::NeedMore { consumed } => {
                        pos += consumed;
                        break false;
                    }
                    HandshakeStep::Reply { consumed, reply } => {
                        pos += consumed;
                        replies.extend_from_slice(reply);
                    }
                    HandshakeStep::Done { consumed } => {
                        pos += consumed;
                        break true;
                    }
                }
            };
            held.drain(..pos);
            if !replies.is_empty() {
                self.send(&replies)?;
            }
            if done {
                self.input = held;
                return Ok(());
            }
        }
    }

    /// Sends one message as chunks of 128 bytes (the default chunk size).
    pub fn message(
        &mut self,
        csid: u32,
        type_id: u8,
        stream_id: u32,
        timestamp: u32,
        payload: &[u8],
    ) -> io::Result<()> {
        let bytes = chunked(csid, timestamp, type_id, stream_id, payload, 128, true);
        self.send(&bytes)
    }

    /// Sends a command (AMF0, type 20) on message stream `stream_id`.
    pub fn command(&mut self, stream_id: u32, payload: &[u8]) -> io::Result<()> {
        let csid = if stream_id == 0 { 3 } else { 8 };
        self.message(csid, type_id::COMMAND_AMF0, stream_id, 0, payload)
    }

    /// `connect` to app `live`; waits for its `_result`.
    pub fn connect(&mut self) -> io::Result<()> {
        let url = "rtmps://127.0.0.1/live";
        let payload = Amf::new()
            .string("connect")
            .number(1.0)
            .object()
            .key("app")
            .string("live")
            .key("tcUrl")
            .string(url)
            .end()
            .0;
        self.command(0, &payload)?;
        self.expect_result(1.0).map(|_| ())
    }

    /// `createStream`; returns the stream id.
    pub fn create_stream(&mut self) -> io::Result<u32> {
        self.txn += 1.0;
        let txn = self.txn;
        let payload = Amf::new().string("createStream").number(txn).null().0;
        self.command(0, &payload)?;
        let id = self.expect_result(txn)?;
        id.map(|n| n as u32)
            .ok_or_else(|| bad("createStream result without an id"))
    }

    /// `createStream` then `publish(key)`; returns the status code.
    pub fn publish(&mut self, key: &str) -> io::Result<String> {
        self.stream_id = self.create_stream()?;
        let payload = Amf::new()
            .string("publish")
            .number(0.0)
            .null()
            .string(key)
            .string("live")
            .0;
        self.command(self.stream_id, &payload)?;
        self.status()
    }

    /// `createStream` then `play(name)`; returns the first status code after Play.Reset.
    pub fn play(&mut self, name: &str) -> io::Result<String> {
        self.stream_id = self.create_stream()?;
        let payload = Amf::new()
            .string("play")
            .number(0.0)
            .null()
            .string(name)
            .number(-2000.0)
            .0;
        self.command(self.stream_id, &payload)?;
        loop {
            let code = self.status()?;
            if code != "NetStream.Play.Reset" {
                return Ok(code);
            }
        }
    }

    /// Sends a video message on the published stream (chunk stream 6).
    pub fn video(&mut self, timestamp: u32, payload: &[u8]) -> io::Result<()> {
        self.message(6, type_id::VIDEO, self.stream_id, timestamp, payload)
    }

    /// The next `onStatus` code.
    pub fn status(&mut self) -> io::Result<String> {
        loop {
            let message = self.recv()?;
            if let Some((name, Some(code), _)) = message.command() {
                if name == "onStatus" {
                    return Ok(code);
                }
            }
        }
    }

    /// Waits for `_result` of `txn`; returns the number after the command object, if any.
    fn expect_result(&mut self, txn: f64) -> io::Result<Option<f64>> {
        loop {
            let message = self.recv()?;
            let Some(values) = (message.type_id == type_id::COMMAND_AMF0)
                .then(|| amf0::decode_all(&message.payload, &AmfLimits::default()).ok())
                .flatten()
            else {
                continue;
            };
            let name = values.first().and_then(Amf0Value::as_str).unwrap_or("");
            if values.get(1).and_then(Amf0Value::as_number) != Some(txn) {
                continue;
            }
            if name != "_result" {
                return Err(bad(format!("{name} for transaction {txn}")));
            }
            return Ok(values.get(3).and_then(Amf0Value::as_number));
        }
    }

    /// The next whole message from the server.
    pub fn recv(&mut self) -> io::Result<Msg> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut pos = 0;
            let mut found = None;
            while found.is_none() {
                match self.reader.read(&self.input[pos..]).map_err(bad)? {
                    ChunkRead::NeedMore { consumed } => {
                        pos += consumed;
                        if consumed == 0 {
                            break;
                        }
                    }
                    ChunkRead::Message { consumed, message } => {
                        pos += consumed;
                        found = Some(Msg {
                            type_id: message.header.type_id,
                            stream_id: message.header.stream_id,
                            timestamp: message.header.timestamp.millis(),
                            payload: message.payload.to_vec(),
                        });
                    }
                }
            }
            self.input.drain(..pos);
            if let Some(message) = found {
                return Ok(message);
            }
            if Instant::now() >= deadline {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let mut buf = [0u8; 16384];
            let n = self.io.read(&mut buf)?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.input.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads (and drops) whatever comes until the server closes the connection; returns
    /// the time since the TCP connection was made, or panics after `timeout`.
    pub fn expect_closed(&mut self, timeout: Duration) -> Duration {
        let deadline = Instant::now() + timeout;
        let _ = self
            .io
            .tcp()
            .set_read_timeout(Some(Duration::from_millis(100)));
        let mut buf = [0u8; 16384];
        loop {
            match self.io.read(&mut buf) {
                Ok(0) => return self.opened.elapsed(),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                // Reset, EOF without close_notify, a TLS alert: the server is gone.
                Err(_) => return self.opened.elapsed(),
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} still open {:?} after connecting",
                    self.local,
                    self.opened.elapsed()
                );
            }
        }
    }

    /// Closes the TCP connection without a TLS close_notify.
    pub fn vanish(self) {
        let _ = self.io.tcp().shutdown(Shutdown::Both);
    }
}

fn bad(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

/// A chunk basic header in its shortest form.
pub fn basic_header(fmt: u8, csid: u32) -> Vec<u8> {
    let fmt = fmt << 6;
    match csid {
        0..=63 => vec![fmt | csid as u8],
        64..=319 => vec![fmt, (csid - 64) as u8],
        _ => {
            let [lo, hi] = ((csid - 64) as u16).to_le_bytes();
            vec![fmt | 1, lo, hi]
        }
    }
}

/// A chunk basic header in the 3-byte form, whatever the id (64..=65599).
pub fn basic_header_long(fmt: u8, csid: u32) -> Vec<u8> {
    let [lo, hi] = ((csid - 64) as u16).to_le_bytes();
    vec![(fmt << 6) | 1, lo, hi]
}

fn be24(v: u32) -> [u8; 3] {
    let [_, a, b, c] = v.to_be_bytes();
    [a, b, c]
}

/// The message header of a fmt 0 chunk (after the basic header), with any extended timestamp.
pub fn fmt0_fields(timestamp: u32, len: u32, type_id: u8, stream_id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(15);
    let extended = timestamp >= 0xFF_FFFF;
    out.extend_from_slice(&be24(if extended { 0xFF_FFFF } else { timestamp }));
    out.extend_from_slice(&be24(len));
    out.push(type_id);
    out.extend_from_slice(&stream_id.to_le_bytes());
    if extended {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    out
}

/// A whole fmt 0 chunk header.
pub fn fmt0(csid: u32, timestamp: u32, len: u32, type_id: u8, stream_id: u32) -> Vec<u8> {
    let mut out = basic_header(0, csid);
    out.extend(fmt0_fields(timestamp, len, type_id, stream_id));
    out
}

/// A whole fmt 1 chunk header (delta, length, type).
pub fn fmt1(csid: u32, delta: u32, len: u32, type_id: u8) -> Vec<u8> {
    let mut out = basic_header(1, csid);
    let extended = delta >= 0xFF_FFFF;
    out.extend_from_slice(&be24(if extended { 0xFF_FFFF } else { delta }));
    out.extend_from_slice(&be24(len));
    out.push(type_id);
    if extended {
        out.extend_from_slice(&delta.to_be_bytes());
    }
    out
}

/// A whole fmt 2 chunk header (delta only).
pub fn fmt2(csid: u32, delta: u32) -> Vec<u8> {
    let mut out = basic_header(2, csid);
    let extended = delta >= 0xFF_FFFF;
    out.extend_from_slice(&be24(if extended { 0xFF_FFFF } else { delta }));
    if extended {
        out.extend_from_slice(&delta.to_be_bytes());
    }
    out
}

/// A message as chunks: fmt 0, then fmt 3 continuations every `chunk_size` bytes. With an
/// extended timestamp, `repeat_extended` repeats it on every continuation (Adobe, FFmpeg);
/// without, continuations omit it (librtmp).
pub fn chunked(
    csid: u32,
    timestamp: u32,
    type_id: u8,
    stream_id: u32,
    payload: &[u8],
    chunk_size: usize,
    repeat_extended: bool,
) -> Vec<u8> {
    let mut out = fmt0(csid, timestamp, payload.len() as u32, type_id, stream_id);
    let mut pieces = payload.chunks(chunk_size.max(1));
    if let Some(first) = pieces.next() {
        out.extend_from_slice(first);
    }
    for piece in pieces {
        out.extend(basic_header(3, csid));
        if timestamp >= 0xFF_FFFF && repeat_extended {
            out.extend_from_slice(&timestamp.to_be_bytes());
        }
        out.extend_from_slice(piece);
    }
    out
}

/// A control message (Set Chunk Size, Abort, …) on chunk stream 2: type and 4-byte value.
pub fn control(type_id: u8, value: u32) -> Vec<u8> {
    let mut out = fmt0(2, 0, 4, type_id, 0);
    out.extend_from_slice(&value.to_be_bytes());
    out
}

/// A synthetic AVC video frame carrying `index` where `frame_index` finds it.
pub fn video_frame(index: u32, keyframe: bool, size: usize) -> Vec<u8> {
    let mut video = vec![if keyframe { 0x17 } else { 0x27 }, 0x01, 0, 0, 0];
    video.extend_from_slice(&(size as u32).to_be_bytes());
    video.extend_from_slice(&index.to_be_bytes());
    video.resize(9 + size.max(4), 0x5a);
    video
}

/// A valid AVC sequence header (the synthetic stream's).
pub fn avc_sequence_header() -> Vec<u8> {
    SyntheticStream::new(25, 25, 500)
        .headers()
        .into_iter()
        .find(|(kind, _, _)| *kind == type_id::VIDEO)
        .map(|(_, _, payload)| payload)
        .expect("sequence header")
}

/// The next video message a client receives, skipping everything else.
pub fn next_video(client: &mut Client) -> io::Result<Message> {
    loop {
        let message = client.recv()?;
        if message.type_id == type_id::VIDEO {
            return Ok(message);
        }
    }
}

/// Video frames (not sequence headers) a client receives until `last` or a timeout:
/// (index, timestamp) pairs, plus every `onStatus` code seen.
pub fn collect_frames(client: &mut Client, last: u32) -> (Vec<(u32, u32)>, Vec<String>) {
    let mut frames = Vec::new();
    let mut statuses = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let Ok(message) = client.recv() else { break };
        if let Some((name, Some(code))) = message.command() {
            if name == "onStatus" {
                statuses.push(code);
            }
            continue;
        }
        if message.type_id != type_id::VIDEO || message.payload.get(1) == Some(&0) {
            continue;
        }
        let Some(index) = frame_index(&message.payload) else {
            continue;
        };
        frames.push((index, message.timestamp.millis()));
        if index >= last {
            break;
        }
    }
    (frames, statuses)
}

/// Video frame indices a client receives until `code` arrives as an `onStatus` (or a
/// timeout); returns them and whether the status came.
pub fn frames_until_status(client: &mut Client, code: &str) -> (Vec<u32>, bool) {
    let mut indices = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let Ok(message) = client.recv() else { break };
        if let Some((_, Some(seen))) = message.command() {
            if seen == code {
                return (indices, true);
            }
            continue;
        }
        if message.type_id == type_id::VIDEO && message.payload.get(1) == Some(&1) {
            indices.extend(frame_index(&message.payload));
        }
    }
    (indices, false)
}

/// Waits for an `onStatus` with `code` on a client, up to 10 s; returns whether it came.
pub fn wait_status(client: &mut Client, code: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let Ok(message) = client.recv() else {
            return false;
        };
        if let Some((_, Some(seen))) = message.command() {
            if seen == code {
                return true;
            }
        }
    }
    false
}

/// AMF0 bytes, written by hand so they can be wrong on purpose.
#[derive(Debug, Clone, Default)]
pub struct Amf(pub Vec<u8>);

impl Amf {
    /// Nothing yet.
    pub fn new() -> Amf {
        Amf(Vec::new())
    }

    /// Number.
    pub fn number(mut self, n: f64) -> Amf {
        self.0.push(0x00);
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }

    /// Short string (u16 length).
    pub fn string(mut self, s: &str) -> Amf {
        self.0.push(0x02);
        self.0.extend_from_slice(&(s.len() as u16).to_be_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    /// Long string (u32 length).
    pub fn long_string(mut self, s: &str) -> Amf {
        self.0.push(0x0c);
        self.0.extend_from_slice(&(s.len() as u32).to_be_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }

    /// Null.
    pub fn null(mut self) -> Amf {
        self.0.push(0x05);
        self
    }

    /// Object start (keys and values follow, then `end`).
    pub fn object(mut self) -> Amf {
        self.0.push(0x03);
        self
    }

    /// ECMA array start declaring `count` properties.
    pub fn ecma(mut self, count: u32) -> Amf {
        self.0.push(0x08);
        self.0.extend_from_slice(&count.to_be_bytes());
        self
    }

    /// Strict array start declaring `count` values.
    pub fn strict(mut self, count: u32) -> Amf {
        self.0.push(0x0a);
        self.0.extend_from_slice(&count.to_be_bytes());
        self
    }

    /// A property key (no marker).
    pub fn key(mut self, k: &str) -> Amf {
        self.0.extend_from_slice(&(k.len() as u16).to_be_bytes());
        self.0.extend_from_slice(k.as_bytes());
        self
    }

    /// Object end: empty key and 0x09.
    pub fn end(mut self) -> Amf {
        self.0.extend_from_slice(&[0, 0, 0x09]);
        self
    }

    /// Reference to complex value `index`.
    pub fn reference(mut self, index: u16) -> Amf {
        self.0.push(0x07);
        self.0.extend_from_slice(&index.to_be_bytes());
        self
    }

    /// Any bytes.
    pub fn raw(mut self, bytes: &[u8]) -> Amf {
        self.0.extend_from_slice(bytes);
        self
    }
}

/// A fixed-seed xorshift byte source, for "random" input that is the same on every run.
pub fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Shrinks a socket's receive buffer (Linux SOL_SOCKET / SO_RCVBUF), so a reader that
/// stops reading closes its TCP window after a few KiB.
pub fn shrink_receive_buffer(socket: &TcpStream, bytes: i32) {
    use std::os::fd::AsRawFd;
    // SAFETY: the fd is a live socket owned by `socket`; the value pointer and length describe
    // a local i32 that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt SO_RCVBUF");
}
