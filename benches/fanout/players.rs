//! The players process: N players on a few non-blocking threads, each counting what it gets.
//!
//! Set-up threads connect players at a steady rate with the blocking client (TCP, TLS, RTMP
//! handshake, `connect`, `createStream`, `play`) and hand each connection to one of the
//! poll threads, which read, decrypt and reassemble with rustls and the crate's own chunk
//! reader, answer pings and send acknowledgements, and count. After the last player joined
//! and a warm-up, a measuring window opens; the process prints its edges on stdout (so the
//! orchestrator can read the server's CPU at the same moments) and, after a grace period
//! for frames sent in the window to arrive, one `result` line and one `frames` line.
//!
//! Per player: first-frame time (from sending `play` to the first video keyframe), media
//! messages and bytes that arrived in the window, stamped video frames sent in the window
//! that arrived (the orchestrator compares with what the publisher sent), the delay of each
//! of those from the publisher's send to its arrival, and index gaps over the whole run.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use rtmpsd::client::{Client, ClientOptions, Detached, RtmpUrl};
use rtmpsd::rtmp::Timestamp;
use rtmpsd::rtmp::amf0::{self, AmfLimits};
use rtmpsd::rtmp::chunk::{ChunkRead, ChunkReader, ChunkWriter, MessageHeader};
use rtmpsd::rtmp::message::{ControlMessage, MAX_CONTROL_LEN, UserControlEvent, type_id};
use rustls::{ClientConfig, ClientConnection};

use crate::media::{is_keyframe, mono_ns, read_stamp};

/// One video frame's send-to-receive delay at one player.
#[derive(Debug, Clone, Copy)]
struct Latency {
    us: u32,
    keyframe: bool,
}

/// What the players process is asked to do.
#[derive(Debug, Clone)]
pub struct PlayersPlan {
    /// Where to play from.
    pub url: RtmpUrl,
    /// How many players.
    pub players: usize,
    /// Poll threads.
    pub threads: usize,
    /// Players connected a second.
    pub join_rate: f64,
    /// Time between the last join and the window.
    pub warmup: Duration,
    /// The measuring window.
    pub window: Duration,
    /// Time after the window for frames sent in it to arrive.
    pub grace: Duration,
    /// Longest a set-up step may wait.
    pub timeout: Duration,
}

/// Plaintext buffered per player; the chunk reader takes all but a partial header.
const BUFFER: usize = 64 * 1024;
const WAKER: Token = Token(0);
/// Set-up threads: connecting is blocking, and a TLS handshake waits on the server.
const SETUP_THREADS: usize = 8;

/// The window's edges (CLOCK_MONOTONIC ns; 0 until set) and the stop flag.
#[derive(Default)]
struct Window {
    start: AtomicU64,
    end: AtomicU64,
    stop: AtomicBool,
}

impl Window {
    fn edges(&self) -> (u64, u64) {
        let start = self.start.load(Ordering::Relaxed);
        if start == 0 {
            (u64::MAX, u64::MAX)
        } else {
            (start, self.end.load(Ordering::Relaxed))
        }
    }
}

/// A connection handed from set-up to a poll thread.
struct Joined {
    id: usize,
    conn: Detached,
    play_sent_ns: u64,
}

/// What one player saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    first_frame_us: Option<u64>,
    window_bytes: u64,
    window_messages: u64,
    window_frames: u64,
    last_index: Option<u32>,
    gaps: u64,
    rtmp_bytes: u64,
    ack_window: u64,
    acked_at: u64,
    closed: Option<String>,
    closed_ns: u64,
}

struct Player {
    id: usize,
    sock: TcpStream,
    tls: Option<ClientConnection>,
    reader: ChunkReader,
    buf: Box<[u8]>,
    len: usize,
    out: Vec<u8>,
    play_sent_ns: u64,
    seen: Seen,
}

impl Player {
    fn close(&mut self, why: String) {
        if self.seen.closed.is_none() {
            self.seen.closed = Some(why);
            self.seen.closed_ns = mono_ns();
        }
    }

    /// Reads everything the socket has, then writes any replies.
    fn pump(&mut self, window: &Window, latencies: &mut Vec<Latency>) {
        while self.seen.closed.is_none() {
            let read = match self.tls.as_mut() {
                Some(tls) => {
                    // Plaintext rustls holds first, then more records from the socket.
                    let got = tls.reader().read(&mut self.buf[self.len..]);
                    match got {
                        Ok(0) => Err("server closed the stream (close_notify)".to_string()),
                        Ok(n) => Ok(Some(n)),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            match tls.read_tls(&mut self.sock) {
                                Ok(0) => Err("server closed the connection".to_string()),
                                Ok(_) => tls
                                    .process_new_packets()
                                    .map(|_| Some(0))
                                    .map_err(|e| format!("tls: {e}")),
                                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                                Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Some(0)),
                                Err(e) => Err(format!("read: {e}")),
                            }
                        }
                        Err(e) => Err(format!("tls read: {e}")),
                    }
                }
                None => match self.sock.read(&mut self.buf[self.len..]) {
                    Ok(0) => Err("server closed the connection".to_string()),
                    Ok(n) => Ok(Some(n)),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(Some(0)),
                    Err(e) => Err(format!("read: {e}")),
                },
            };
            match read {
                Ok(None) => break,
                Ok(Some(0)) => {}
                Ok(Some(n)) => {
                    self.len += n;
                    self.seen.rtmp_bytes += n as u64;
                    if let Err(e) = self.feed(window, latencies) {
                        self.close(e);
                    }
                }
                Err(e) => self.close(e),
            }
        }
        self.flush();
    }

    /// Gives the buffered plaintext to the chunk reader and counts each message.
    fn feed(&mut self, window: &Window, latencies: &mut Vec<Latency>) -> Result<(), String> {
        let mut pos = 0;
        loop {
            let read = self
                .reader
                .read(&self.buf[pos..self.len])
                .map_err(|e| format!("chunk stream: {e}"))?;
            match read {
                ChunkRead::NeedMore { consumed } => {
                    pos += consumed;
                    break;
                }
                ChunkRead::Message { consumed, message } => {
                    pos += consumed;
                    let reply = on_message(
                        &mut self.seen,
                        self.play_sent_ns,
                        message.header.type_id,
                        message.payload,
                        window,
                        latencies,
                    )?;
                    if let Some(reply) = reply {
                        queue_control(&mut self.out, reply);
                    }
                }
            }
        }
        self.buf.copy_within(pos..self.len, 0);
        self.len -= pos;
        Ok(())
    }

    /// Sends queued replies (pings, acknowledgements); a full socket keeps them for later.
    fn flush(&mut self) {
        if self.seen.closed.is_some() {
            return;
        }
        let result = match self.tls.as_mut() {
            Some(tls) => {
                if !self.out.is_empty() {
                    let _ = tls.writer().write_all(&self.out);
                    self.out.clear();
                }
                let mut result = Ok(());
                while tls.wants_write() {
                    match tls.write_tls(&mut self.sock) {
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
                result
            }
            None => match self.sock.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                    Ok(())
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = result {
            self.close(format!("write: {e}"));
        }
    }
}

/// Counts one message; returns a control message to send back, if it needs one.
fn on_message(
    seen: &mut Seen,
    play_sent_ns: u64,
    kind: u8,
    payload: &[u8],
    window: &Window,
    latencies: &mut Vec<Latency>,
) -> Result<Option<ControlMessage>, String> {
    let (from, to) = window.edges();
    let mut reply = None;
    match kind {
        type_id::AUDIO | type_id::VIDEO | type_id::DATA_AMF0 => {
            let now = mono_ns();
            if now >= from && now < to {
                seen.window_bytes += payload.len() as u64;
                seen.window_messages += 1;
            }
            if kind == type_id::VIDEO {
                if let Some((index, sent)) = read_stamp(payload) {
                    if seen.first_frame_us.is_none() && is_keyframe(payload) {
                        seen.first_frame_us = Some(now.saturating_sub(play_sent_ns) / 1000);
                    }
                    if let Some(last) = seen.last_index {
                        if index > last.wrapping_add(1) {
                            seen.gaps += u64::from(index - last - 1);
                        }
                    }
                    seen.last_index = Some(index);
                    if sent >= from && sent < to {
                        seen.window_frames += 1;
                        let us = now.saturating_sub(sent) / 1000;
                        latencies.push(Latency {
                            us: u32::try_from(us).unwrap_or(u32::MAX),
                            keyframe: is_keyframe(payload),
                        });
                    }
                }
            }
        }
        type_id::WINDOW_ACK_SIZE => {
            if let Ok(ControlMessage::WindowAckSize(n)) = ControlMessage::parse(kind, payload) {
                seen.ack_window = u64::from(n);
            }
        }
        type_id::USER_CONTROL => {
            if let Ok(ControlMessage::UserControl(UserControlEvent::PingRequest(t))) =
                ControlMessage::parse(kind, payload)
            {
                reply = Some(ControlMessage::UserControl(UserControlEvent::PingResponse(
                    t,
                )));
            }
        }
        type_id::COMMAND_AMF0 => {
            let values = amf0::decode_all(payload, &AmfLimits::default()).unwrap_or_default();
            let code = values
                .iter()
                .find_map(|v| v.get("code").and_then(|c| c.as_str()))
                .unwrap_or_default();
            if code.contains("Failed") || code.contains("BadName") || code.contains("Rejected") {
                return Err(format!("server said {code}"));
            }
        }
        _ => {}
    }
    if reply.is_none() && seen.ack_window > 0 && seen.rtmp_bytes - seen.acked_at >= seen.ack_window
    {
        seen.acked_at = seen.rtmp_bytes;
        reply = Some(ControlMessage::Acknowledgement(seen.rtmp_bytes as u32));
    }
    Ok(reply)
}

fn queue_control(out: &mut Vec<u8>, message: ControlMessage) {
    let mut buf = [0u8; MAX_CONTROL_LEN];
    let len = message.encode(&mut buf);
    let header = MessageHeader {
        chunk_stream_id: 2,
        timestamp: Timestamp::ZERO,
        type_id: message.type_id(),
        stream_id: 0,
    };
    ChunkWriter::new(4096).write_to_vec(&header, &buf[..len], out);
}

/// What one poll thread hands back.
struct ThreadResult {
    players: Vec<(usize, Seen)>,
    latencies: Vec<Latency>,
    suite: Option<String>,
}

fn poll_thread(mut poll: Poll, rx: Receiver<Joined>, window: Arc<Window>) -> ThreadResult {
    let mut players: Vec<Player> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut suite = None;
    while !window.stop.load(Ordering::Relaxed) {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(50))) {
            if e.kind() != io::ErrorKind::Interrupted {
                eprintln!("players: poll failed: {e}");
                break;
            }
        }
        for event in events.iter() {
            if event.token() == WAKER {
                continue;
            }
            if let Some(p) = players.get_mut(event.token().0 - 1) {
                p.pump(&window, &mut latencies);
            }
        }
        while let Ok(joined) = rx.try_recv() {
            let Joined {
                id,
                conn,
                play_sent_ns,
            } = joined;
            if suite.is_none() {
                suite = conn
                    .tls
                    .as_ref()
                    .and_then(|t| t.negotiated_cipher_suite())
                    .map(|s| format!("{:?}", s.suite()));
            }
            let token = Token(players.len() + 1);
            let mut seen = Seen::default();
            let sock = conn
                .tcp
                .set_nonblocking(true)
                .map(|()| TcpStream::from_std(conn.tcp));
            let mut sock = match sock {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("players: player {id}: nonblocking: {e}");
                    continue;
                }
            };
            if let Err(e) =
                poll.registry()
                    .register(&mut sock, token, Interest::READABLE | Interest::WRITABLE)
            {
                seen.closed = Some(format!("register: {e}"));
            }
            let mut buf = vec![0u8; BUFFER].into_boxed_slice();
            let len = conn.unread.len().min(BUFFER);
            buf[..len].copy_from_slice(&conn.unread[..len]);
            let mut player = Player {
                id,
                sock,
                tls: conn.tls,
                reader: conn.reader,
                buf,
                len,
                out: Vec::new(),
                play_sent_ns,
                seen,
            };
            if let Err(e) = player.feed(&window, &mut latencies) {
                player.close(e);
            }
            player.pump(&window, &mut latencies);
            players.push(player);
        }
    }
    ThreadResult {
        players: players.into_iter().map(|p| (p.id, p.seen)).collect(),
        latencies,
        suite,
    }
}

/// Connects player `id`, sends `play`, and hands the connection over.
fn join_one(
    url: &RtmpUrl,
    options: &ClientOptions,
    tls: &Arc<ClientConfig>,
) -> io::Result<(Detached, u64)> {
    let (mut client, handle) = Client::connect_detachable(url, options, tls.clone())?;
    client.send_play()?;
    let play_sent_ns = mono_ns();
    Ok((client.detach(handle)?, play_sent_ns))
}

/// The p-th percentile (0..=1) of sorted `v`.
pub fn percentile(v: &[u64], p: f64) -> u64 {
    if v.is_empty() {
        return 0;
    }
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// Runs the players and prints the window edges and the results on stdout.
pub fn run(plan: PlayersPlan, tls: Arc<ClientConfig>) -> Result<(), String> {
    // The orchestrator holds our stdin: if it goes away, so do we.
    thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = io::Read::read_to_end(&mut io::stdin(), &mut sink);
        std::process::exit(3);
    });
    let window = Arc::new(Window::default());
    let threads = plan.threads.max(1);
    let mut senders: Vec<(Sender<Joined>, Arc<Waker>)> = Vec::new();
    let mut pollers = Vec::new();
    for t in 0..threads {
        let poll = Poll::new().map_err(|e| e.to_string())?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(|e| e.to_string())?);
        let (tx, rx) = crossbeam_channel::unbounded();
        senders.push((tx, waker));
        let window = window.clone();
        pollers.push(
            thread::Builder::new()
                .name(format!("poll-{t}"))
                .spawn(move || poll_thread(poll, rx, window))
                .map_err(|e| e.to_string())?,
        );
    }
    let options = ClientOptions {
        timeout: plan.timeout,
        ..ClientOptions::insecure()
    };
    let started = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / plan.join_rate.max(0.1));
    let failures = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let senders = Arc::new(senders);
    let mut setups = Vec::new();
    for s in 0..SETUP_THREADS {
        let (plan, options, tls) = (plan.clone(), options.clone(), tls.clone());
        let (failures, first_error, senders) =
            (failures.clone(), first_error.clone(), senders.clone());
        setups.push(
            thread::Builder::new()
                .name(format!("setup-{s}"))
                .spawn(move || {
                    for id in (s..plan.players).step_by(SETUP_THREADS) {
                        let due = started + interval * id as u32;
                        if let Some(wait) = due.checked_duration_since(Instant::now()) {
                            thread::sleep(wait);
                        }
                        match join_one(&plan.url, &options, &tls) {
                            Ok((conn, play_sent_ns)) => {
                                let (tx, waker) = &senders[id % senders.len()];
                                let _ = tx.send(Joined {
                                    id,
                                    conn,
                                    play_sent_ns,
                                });
                                let _ = waker.wake();
                            }
                            Err(e) => {
                                failures.fetch_add(1, Ordering::Relaxed);
                                let mut first =
                                    first_error.lock().unwrap_or_else(|p| p.into_inner());
                                first.get_or_insert_with(|| format!("player {id}: {e}"));
                            }
                        }
                    }
                })
                .map_err(|e| e.to_string())?,
        );
    }
    for s in setups {
        let _ = s.join();
    }
    let failed = failures.load(Ordering::Relaxed);
    println!(
        "joined {} failed {failed} in {:.2}s",
        plan.players as u64 - failed,
        started.elapsed().as_secs_f64()
    );
    thread::sleep(plan.warmup);
    let start = mono_ns();
    let end = start + plan.window.as_nanos() as u64;
    window.end.store(end, Ordering::SeqCst);
    window.start.store(start, Ordering::SeqCst);
    println!("window-start {start}");
    thread::sleep(plan.window);
    println!("window-end {end}");
    thread::sleep(plan.grace);
    window.stop.store(true, Ordering::SeqCst);
    for (_, waker) in senders.iter() {
        let _ = waker.wake();
    }
    let mut seen: Vec<(usize, Seen)> = Vec::new();
    let mut latencies: Vec<u64> = Vec::new();
    // Keyframes (1 in 60 here) are what the p99 falls on; the others show the path itself.
    let mut inter_latencies: Vec<u64> = Vec::new();
    let mut suite = None;
    for p in pollers {
        let r = p.join().map_err(|_| "a poll thread panicked".to_string())?;
        seen.extend(r.players);
        for l in r.latencies {
            latencies.push(u64::from(l.us));
            if !l.keyframe {
                inter_latencies.push(u64::from(l.us));
            }
        }
        suite = suite.or(r.suite);
    }
    seen.sort_by_key(|(id, _)| *id);
    latencies.sort_unstable();
    inter_latencies.sort_unstable();
    let mut first: Vec<u64> = seen.iter().filter_map(|(_, s)| s.first_frame_us).collect();
    first.sort_unstable();
    let served = seen
        .iter()
        .filter(|(_, s)| {
            s.first_frame_us.is_some() && s.closed.as_ref().is_none_or(|_| s.closed_ns >= end)
        })
        .count();
    let closed: Vec<&(usize, Seen)> = seen.iter().filter(|(_, s)| s.closed.is_some()).collect();
    let sum = |f: fn(&Seen) -> u64| seen.iter().map(|(_, s)| f(s)).sum::<u64>();
    println!(
        "result players={} connected={} served={served} closed={} bytes={} messages={} gaps={} \
         window_ns={} ff_n={} ff_p50_us={} ff_p99_us={} ff_max_us={} lat_n={} lat_p50_us={} \
         lat_p99_us={} lat_max_us={} lat_inter_p99_us={} suite={}",
        plan.players,
        seen.len(),
        closed.len(),
        sum(|s| s.window_bytes),
        sum(|s| s.window_messages),
        sum(|s| s.gaps),
        end - start,
        first.len(),
        percentile(&first, 0.5),
        percentile(&first, 0.99),
        first.last().copied().unwrap_or(0),
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0),
        percentile(&inter_latencies, 0.99),
        suite.unwrap_or_else(|| "plain".into()),
    );
    let frames: Vec<String> = seen
        .iter()
        .map(|(_, s)| s.window_frames.to_string())
        .collect();
    println!("frames {}", frames.join(" "));
    if let Some(e) = first_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        println!("error connect: {e}");
    }
    if let Some((id, s)) = closed.first() {
        println!(
            "error closed: player {id}: {}",
            s.closed.clone().unwrap_or_default()
        );
    }
    Ok(())
}
