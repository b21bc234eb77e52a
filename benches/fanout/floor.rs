//! The floor: the least CPU any server can spend delivering this stream to N players here.
//!
//! One thread, no RTMP parsing, no queues, no wake-ups: each message of the clip is cut into
//! chunks once (4096-byte chunks, as rtmpsd and nginx-rtmp send), then for every player
//! sealed with ring's AEAD into TLS 1.3 records of at most 16 KiB (header, content type,
//! 16-byte tag, nonce from a per-connection IV and sequence number, each connection its own
//! key) and written with one `write` per message to that player's loopback socket, in real
//! time at the clip's own pace. Another process (`drain`) reads and discards. The process's
//! own CPU over the window, per media payload byte delivered, is the floor.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ring::aead::{AES_128_GCM, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use rtmpsd::rtmp::Timestamp;
use rtmpsd::rtmp::chunk::{ChunkWriter, MessageHeader};
use rtmpsd::rtmp::message::type_id;

use crate::Cipher;
use crate::media::{Clip, mono_ns, stamp};

/// Largest TLS plaintext per record.
const RECORD: usize = 16 * 1024;
/// Record header, inner content type, AEAD tag.
const OVERHEAD: usize = 5 + 1 + 16;

/// What one floor run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct FloorResult {
    /// CPU seconds of the sealing process over the window.
    pub cpu_secs: f64,
    /// Media payload bytes delivered over the window (all players).
    pub payload_bytes: u64,
    /// Window length in seconds.
    pub window_secs: f64,
    /// CPU seconds of the draining process (warm-up included).
    pub drain_cpu_secs: f64,
    /// From a video frame's stamp to the end of its last write, p50 / p99 / max, ms: how
    /// long fanning one frame out takes at the least.
    pub write_ms: [f64; 3],
}

struct Conn {
    sock: TcpStream,
    key: LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl Conn {
    /// Seals `plain` into records appended to `out`.
    fn seal(&mut self, plain: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        for piece in plain.chunks(RECORD) {
            let start = out.len();
            let len = piece.len() + OVERHEAD - 5;
            out.extend_from_slice(&[0x17, 0x03, 0x03, (len >> 8) as u8, len as u8]);
            out.extend_from_slice(piece);
            out.push(0x17);
            let mut nonce = self.iv;
            for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
                *n ^= s;
            }
            self.seq += 1;
            let header: [u8; 5] = out[start..start + 5].try_into().map_err(|_| "header")?;
            let tag = self
                .key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(header),
                    &mut out[start + 5..],
                )
                .map_err(|_| "seal failed".to_string())?;
            out.extend_from_slice(tag.as_ref());
        }
        Ok(())
    }
}

fn self_cpu_secs() -> f64 {
    // SAFETY: getrusage fills the struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Runs the floor for `players` sockets: `warmup`, then `window`; prints one `floor` line.
pub fn run(
    clip: &Clip,
    players: usize,
    cipher: Cipher,
    warmup: Duration,
    window: Duration,
) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut drain = Command::new(exe)
        .args([
            "drain",
            "--port",
            &port.to_string(),
            "--players",
            &players.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the drain process: {e}"))?;
    let rng = SystemRandom::new();
    let alg = match cipher {
        Cipher::Aes => &AES_128_GCM,
        Cipher::Chacha => &CHACHA20_POLY1305,
    };
    let mut conns = Vec::with_capacity(players);
    for _ in 0..players {
        let (sock, _) = listener.accept().map_err(|e| e.to_string())?;
        sock.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut key = [0u8; 32];
        let mut iv = [0u8; 12];
        rng.fill(&mut key).map_err(|_| "rng")?;
        rng.fill(&mut iv).map_err(|_| "rng")?;
        let key = UnboundKey::new(alg, &key[..alg.key_len()]).map_err(|_| "key")?;
        conns.push(Conn {
            sock,
            key: LessSafeKey::new(key),
            iv,
            seq: 0,
        });
    }
    let writer = ChunkWriter::new(4096);
    let mut chunked = Vec::with_capacity(1 << 20);
    let mut out = Vec::with_capacity(1 << 20);
    let mut send =
        |conns: &mut Vec<Conn>, kind: u8, ms: u32, payload: &[u8]| -> Result<(), String> {
            let header = MessageHeader {
                chunk_stream_id: match kind {
                    type_id::AUDIO => 6,
                    type_id::VIDEO => 7,
                    _ => 5,
                },
                timestamp: Timestamp(ms),
                type_id: kind,
                stream_id: 1,
            };
            chunked.clear();
            writer.write_to_vec(&header, payload, &mut chunked);
            for c in conns.iter_mut() {
                out.clear();
                c.seal(&chunked, &mut out)?;
                c.sock.write_all(&out).map_err(|e| format!("write: {e}"))?;
            }
            Ok(())
        };
    for t in &clip.headers {
        send(&mut conns, t.type_id, 0, &t.payload)?;
    }
    let start = Instant::now();
    let window_start = start + warmup;
    let window_end = window_start + window;
    let mut cpu0 = None;
    let mut bytes = 0u64;
    let mut write_us: Vec<u64> = Vec::new();
    let mut index = 0u32;
    'passes: for pass in 0u32.. {
        for t in &clip.frames {
            let ms = pass * clip.period_ms + t.ms;
            let due = start + Duration::from_millis(u64::from(ms));
            if due >= window_end {
                break 'passes;
            }
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            if cpu0.is_none() && due >= window_start {
                cpu0 = Some(self_cpu_secs());
            }
            if t.stamped {
                let mut p = t.payload.clone();
                let sent = mono_ns();
                stamp(&mut p, index, sent);
                index += 1;
                send(&mut conns, t.type_id, ms, &p)?;
                if cpu0.is_some() {
                    write_us.push((mono_ns() - sent) / 1000);
                }
            } else {
                send(&mut conns, t.type_id, ms, &t.payload)?;
            }
            if cpu0.is_some() {
                bytes += (t.payload.len() * players) as u64;
            }
        }
    }
    let cpu = self_cpu_secs() - cpu0.unwrap_or(0.0);
    drop(conns);
    let mut report = String::new();
    if let Some(mut o) = drain.stdout.take() {
        let _ = o.read_to_string(&mut report);
    }
    let _ = drain.wait();
    let drain_cpu: f64 = report
        .split_whitespace()
        .find_map(|w| w.strip_prefix("cpu_s="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN);
    write_us.sort_unstable();
    println!(
        "floor players={players} cpu_s={cpu:.4} payload_bytes={bytes} window_s={:.3} \
         drain_cpu_s={drain_cpu:.4} write_p50_us={} write_p99_us={} write_max_us={}",
        window.as_secs_f64(),
        crate::players::percentile(&write_us, 0.5),
        crate::players::percentile(&write_us, 0.99),
        write_us.last().copied().unwrap_or(0),
    );
    Ok(())
}

/// The drain process: connects `players` sockets to `port` and discards what arrives.
pub fn drain(port: u16, players: usize) -> Result<(), String> {
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut socks = Vec::with_capacity(players);
    for i in 0..players {
        let s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        let mut s = mio::net::TcpStream::from_std(s);
        poll.registry()
            .register(&mut s, Token(i), Interest::READABLE)
            .map_err(|e| e.to_string())?;
        socks.push(Some(s));
    }
    let mut open = players;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 256 * 1024];
    let cpu0 = self_cpu_secs();
    while open > 0 {
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_secs(30))) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e.to_string());
        }
        if events.is_empty() {
            return Err("drain: nothing for 30 s".into());
        }
        for ev in events.iter() {
            let Some(slot) = socks.get_mut(ev.token().0) else {
                continue;
            };
            while let Some(s) = slot.as_mut() {
                match s.read(&mut buf) {
                    Ok(0) => {
                        *slot = None;
                        open -= 1;
                    }
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        *slot = None;
                        open -= 1;
                    }
                }
                break;
            }
        }
    }
    // Includes the warm-up: an upper bound on the drain's share.
    println!("drain cpu_s={:.4}", self_cpu_secs() - cpu0);
    Ok(())
}

/// Parses a `floor` line.
pub fn parse(line: &str) -> Option<FloorResult> {
    let rest = line.strip_prefix("floor ")?;
    let get = |k: &str| {
        rest.split_whitespace()
            .find_map(|w| w.strip_prefix(k)?.strip_prefix('='))
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some(FloorResult {
        cpu_secs: get("cpu_s")?,
        payload_bytes: get("payload_bytes")? as u64,
        window_secs: get("window_s")?,
        drain_cpu_secs: get("drain_cpu_s").unwrap_or(f64::NAN),
        write_ms: [
            get("write_p50_us").unwrap_or(0.0) / 1e3,
            get("write_p99_us").unwrap_or(0.0) / 1e3,
            get("write_max_us").unwrap_or(0.0) / 1e3,
        ],
    })
}
