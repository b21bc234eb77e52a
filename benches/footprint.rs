//! Footprint: binary size, idle RSS, and RSS per connected player at a 4 Mbit/s stream.
//!
//! `cargo bench --bench footprint` measures this crate's release binary natively. With
//! `RTMPSD_BIN=target/boards/pi4-aarch64/rtmpsd RTMPSD_RUNNER=qemu-aarch64` it measures
//! another build through a runner; under qemu-user the RSS includes qemu's own memory
//! (its code and translation cache), so absolute figures there are only indicative.
//!
//! Knobs (environment): `FOOTPRINT_PLAYERS` (`1,10,100`), `FOOTPRINT_KBPS` (4000),
//! `FOOTPRINT_STACK_KIB` (256, passed as `--worker-stack-kib`), `FOOTPRINT_SERVER_ARGS`
//! (more server flags), `FOOTPRINT_SERVER_ENV` (`K=V ...` for the server only, e.g.
//! `MALLOC_ARENA_MAX=2`), `FOOTPRINT_SETTLE_SECS` (4).
//!
//! It prints four tables: the binary; the server's RSS idle, with one publisher, and with
//! 1, 10 and 100 players, split by kind of mapping (thread stacks, heap, other anonymous,
//! binary, libraries); measured in this process with a counting allocator, the heap one
//! player session holds (rustls connection, input buffer, channel, session), to say what
//! the per-player RSS consists of; and each footprint target with its verdict.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{
    MemoryMap, PlayCounts, ProcSample, PublishCounts, PublishPlan, Server, env_u64, host_line,
    memory_map, sample, spawn, wait_until,
};
use rtmpsd::config::{CipherOrder, Limits};
use rtmpsd::rtmp::handshake::RANDOM_SIZE;
use rtmpsd::rtmp::session::{Session, SessionConfig};
use rtmpsd::server::hub::Delivery;
use rtmpsd::server::worker::Worker;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// Video frames a second of the publisher.
const FPS: u32 = 25;
/// Keyframe interval in frames (2 s).
const GOP: u32 = 50;
/// RSS samples taken per case, 500 ms apart; the table shows the highest.
const SAMPLES: u32 = 6;

// ---------------------------------------------------------------------------------------
// A counting allocator: counts only what the current thread allocates inside `tracked`.

/// Wraps the system allocator and counts live and peak bytes of tracked allocations.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
}

fn tracking() -> bool {
    TRACKING.try_with(Cell::get).unwrap_or(false)
}

fn count(delta: isize) {
    let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is passed to `System` unchanged; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && tracking() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() && tracking() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if tracking() {
            count(-(layout.size() as isize));
        }
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as received.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && tracking() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` with this thread's allocations counted.
fn tracked<R>(f: impl FnOnce() -> R) -> R {
    TRACKING.with(|t| t.set(true));
    let r = f();
    TRACKING.with(|t| t.set(false));
    r
}

/// Bytes live in tracked allocations.
fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Resets the peak to the live figure and returns it.
fn reset_peak() -> isize {
    let now = live();
    PEAK.store(now, Ordering::Relaxed);
    now
}

// ---------------------------------------------------------------------------------------
// The binary.

/// What the ELF header and section table say about a binary.
struct ElfInfo {
    machine: &'static str,
    symbols: bool,
}

/// Reads the machine and whether a symbol table (`SHT_SYMTAB`) is present.
fn elf_info(bytes: &[u8]) -> Option<ElfInfo> {
    if bytes.get(..4)? != b"\x7fELF" {
        return None;
    }
    let wide = *bytes.get(4)? == 2;
    let little = *bytes.get(5)? == 1;
    let read = |at: usize, len: usize| -> Option<u64> {
        let b = bytes.get(at..at + len)?;
        let mut v = 0u64;
        for i in 0..len {
            let byte = if little { b[len - 1 - i] } else { b[i] };
            v = (v << 8) | u64::from(byte);
        }
        Some(v)
    };
    let machine = match read(18, 2)? {
        0x3e => "x86-64",
        0xb7 => "aarch64",
        0x28 => "arm",
        _ => "other",
    };
    let (shoff, shentsize, shnum) = if wide {
        (read(0x28, 8)?, read(0x3a, 2)?, read(0x3c, 2)?)
    } else {
        (read(0x20, 4)?, read(0x2e, 2)?, read(0x30, 2)?)
    };
    let symbols = (0..shnum).any(|i| {
        let at = shoff + i * shentsize;
        read(at as usize + 4, 4) == Some(2)
    });
    Some(ElfInfo { machine, symbols })
}

// ---------------------------------------------------------------------------------------
// The server under load.

/// One row of the RSS table.
struct Row {
    label: String,
    players: u64,
    proc: ProcSample,
    map: MemoryMap,
    fps_per_player: Option<f64>,
}

/// Takes [`SAMPLES`] samples 500 ms apart; keeps the highest RSS, and the map of the last.
fn measure(
    server: &Server,
    stack_bytes: u64,
    label: String,
    players: u64,
    counts: &PlayCounts,
) -> Row {
    let pid = server.pid();
    let frames_before = counts.frames.load(Ordering::Relaxed);
    let started = Instant::now();
    let mut best: Option<ProcSample> = None;
    for _ in 0..SAMPLES {
        thread::sleep(Duration::from_millis(500));
        if let Ok(p) = sample(pid) {
            if best.is_none_or(|b| p.rss_kib > b.rss_kib) {
                best = Some(p);
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let frames = counts.frames.load(Ordering::Relaxed) - frames_before;
    let map = memory_map(pid, server.program(), stack_bytes).unwrap_or_default();
    Row {
        label,
        players,
        proc: best.unwrap_or_default(),
        map,
        fps_per_player: (players > 0).then(|| frames as f64 / secs / players as f64),
    }
}

fn print_rows(rows: &[Row]) {
    let base = rows
        .iter()
        .find(|r| r.label.starts_with("publisher"))
        .map(|r| r.proc.rss_kib);
    println!(
        "| case | RSS | RssAnon | RssFile | Pss | +RSS vs publisher only | per player | threads \
         | fds | stacks: n, KiB | main heap | thread arenas: n, KiB | other anon | binary | libs \
         | frames/s per player |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (plus, per) = match base {
            Some(b) if r.players > 0 => {
                let d = r.proc.rss_kib as i64 - b as i64;
                (
                    format!("{d:+}"),
                    format!("{:.1}", d as f64 / r.players as f64),
                )
            }
            _ => ("".into(), "".into()),
        };
        println!(
            "| {} | {} | {} | {} | {} | {plus} | {per} | {} | {} | {}, {} | {} | {}, {} | {} | {} \
             | {} | {} |",
            r.label,
            r.proc.rss_kib,
            r.proc.anon_kib,
            r.proc.file_kib,
            r.map.pss_kib,
            r.proc.threads,
            r.proc.fds,
            r.map.stacks,
            r.map.stack_kib,
            r.map.heap_kib,
            r.map.arenas,
            r.map.arena_kib,
            r.map.anon_kib,
            r.map.binary_kib,
            r.map.libs_kib,
            r.fps_per_player
                .map(|f| format!("{f:.1}"))
                .unwrap_or_default()
        );
    }
    println!("(all sizes KiB; RSS is the highest of {SAMPLES} samples 500 ms apart)");
}

/// Players reading the stream, each on its own thread.
struct Players {
    stop: Arc<AtomicBool>,
    counts: Arc<PlayCounts>,
    threads: Vec<JoinHandle<()>>,
}

impl Players {
    fn add(&mut self, server: &Server, n: u64) {
        let until = Instant::now() + Duration::from_secs(3600);
        for _ in 0..n {
            let (url, stop, counts) = (server.play_url(), self.stop.clone(), self.counts.clone());
            let i = self.threads.len();
            self.threads.push(spawn(format!("player-{i}"), move || {
                common::play(&url, &stop, until, &counts)
            }));
        }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Runs the server through idle, publisher only and each player count; returns the rows.
fn server_rows(stack_kib: u64, kbps: u32, steps: &[u64], settle: Duration) -> Vec<Row> {
    let mut extra: Vec<String> = [
        "--max-connections",
        "1000",
        "--max-connections-per-ip",
        "1000",
        "--worker-stack-kib",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    extra.push(stack_kib.to_string());
    extra.extend(
        std::env::var("FOOTPRINT_SERVER_ARGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned),
    );
    let env: Vec<(String, String)> = std::env::var("FOOTPRINT_SERVER_ENV")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let mut server = match Server::start("footprint", &extra, &env) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("footprint: {e}");
            std::process::exit(2);
        }
    };
    println!(
        "server: {} {}{}",
        server.program().display(),
        extra.join(" "),
        if env.is_empty() {
            String::new()
        } else {
            format!(
                " (env {})",
                env.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        }
    );
    let stack_bytes = stack_kib * 1024;
    let mut rows = Vec::new();
    let idle_counts = PlayCounts::default();
    thread::sleep(Duration::from_secs(1));
    rows.push(measure(
        &server,
        stack_bytes,
        "idle, first start (makes the certificate)".into(),
        0,
        &idle_counts,
    ));
    server = match server.restart() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("footprint: restart: {e}");
            std::process::exit(2);
        }
    };
    thread::sleep(Duration::from_secs(1));
    rows.push(measure(
        &server,
        stack_bytes,
        "idle, restarted (certificate reused)".into(),
        0,
        &idle_counts,
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let publish_counts = Arc::new(PublishCounts::default());
    let publisher = {
        let (url, stop, counts) = (server.url(), stop.clone(), publish_counts.clone());
        let plan = PublishPlan {
            fps: FPS,
            gop: GOP,
            kbps,
            frames_per_session: None,
        };
        let until = Instant::now() + Duration::from_secs(3600);
        spawn("publisher".into(), move || {
            common::publish(&url, plan, &stop, until, &counts)
        })
    };
    wait_until(Duration::from_secs(30), || {
        publish_counts.sessions.load(Ordering::Relaxed) > 0
    });
    // Two GOPs, so the GOP cache has been filled and emptied once.
    thread::sleep(settle.max(Duration::from_secs(4)));
    let mut players = Players {
        stop: stop.clone(),
        counts: Arc::new(PlayCounts::default()),
        threads: Vec::new(),
    };
    rows.push(measure(
        &server,
        stack_bytes,
        format!("publisher only ({kbps} kbit/s)"),
        0,
        &players.counts,
    ));
    for &n in steps {
        let have = players.threads.len() as u64;
        players.add(&server, n.saturating_sub(have));
        let joined = wait_until(Duration::from_secs(60), || {
            players.counts.sessions.load(Ordering::Relaxed) >= n
        });
        if !joined {
            println!(
                "note: only {} of {n} players started",
                players.counts.sessions.load(Ordering::Relaxed)
            );
        }
        thread::sleep(settle);
        let label = format!("{n} player{}", if n == 1 { "" } else { "s" });
        rows.push(measure(&server, stack_bytes, label, n, &players.counts));
    }
    let gaps = players.counts.gaps.load(Ordering::Relaxed);
    let errors = players.counts.errors.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    players.finish();
    let _ = publisher.join();
    println!(
        "publisher sent {} frames; players: {gaps} gaps, {errors} dropped",
        publish_counts.frames.load(Ordering::Relaxed)
    );
    server.stop();
    rows
}

// ---------------------------------------------------------------------------------------
// What one player session holds, measured in this process.

/// A byte pipe that keeps what is written until it is read.
#[derive(Default)]
struct Pipe(Vec<u8>);

impl Write for Pipe {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Read for Pipe {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        let n = b.len().min(self.0.len());
        b[..n].copy_from_slice(&self.0[..n]);
        self.0.drain(..n);
        Ok(n)
    }
}

/// One line of the anatomy table.
struct Part {
    what: String,
    bytes: isize,
    note: String,
}

/// Heap held by the parts of one player session, measured with the counting allocator.
fn anatomy(kbps: u32) -> Result<Vec<Part>, String> {
    let limits = Limits::default();
    let mut parts = Vec::new();
    let state = common::TempDir::new("anatomy");
    let identity = rtmpsd::tls::load_or_generate(None, state.path(), CipherOrder::Aes)?;
    let cert = CertificateDer::from_pem_file(&identity.cert_path).map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).map_err(|e| e.to_string())?;
    let client_config = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let mut client =
        rustls::ClientConnection::new(client_config, name).map_err(|e| e.to_string())?;

    let base = reset_peak();
    let mut server = tracked(|| {
        rustls::ServerConnection::new(identity.config.clone()).map(|mut c| {
            c.set_buffer_limit(Some(limits.tls_out_bytes));
            Box::new(c)
        })
    })
    .map_err(|e| e.to_string())?;
    parts.push(Part {
        what: "rustls ServerConnection, new (boxed)".into(),
        bytes: live() - base,
        note: format!(
            "the struct itself is {} bytes",
            std::mem::size_of::<rustls::ServerConnection>()
        ),
    });

    // TLS handshake through in-memory pipes; only the server's side is counted. The pipes
    // are sized up front so their growth is not charged to the server.
    let mut to_server = Pipe(Vec::with_capacity(1 << 20));
    let mut to_client = Pipe(Vec::with_capacity(1 << 20));
    for _ in 0..20 {
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
        client
            .write_tls(&mut to_server)
            .map_err(|e| e.to_string())?;
        tracked(|| -> Result<(), String> {
            while !to_server.0.is_empty() {
                server.read_tls(&mut to_server).map_err(|e| e.to_string())?;
                server.process_new_packets().map_err(|e| e.to_string())?;
            }
            while server.wants_write() {
                server
                    .write_tls(&mut to_client)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })?;
        while !to_client.0.is_empty() {
            client.read_tls(&mut to_client).map_err(|e| e.to_string())?;
            client.process_new_packets().map_err(|e| e.to_string())?;
        }
    }
    let version = server
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_default();
    let peak_handshake = PEAK.load(Ordering::Relaxed) - base;
    parts.push(Part {
        what: format!("rustls after the {version} handshake"),
        bytes: live() - base,
        note: format!("peak during the handshake {peak_handshake}"),
    });

    // Stream 2 s of frames the way the worker does (queue the whole frame, then flush),
    // then the same with at most one TLS record queued before each flush.
    let frame = vec![0x5au8; (kbps as usize * 1000 / 8) / FPS as usize];
    let mut drained = vec![0u8; 64 * 1024];
    for (piece, label, what) in [
        (
            frame.len(),
            "whole frames",
            "between frames; whole frame queued, then flushed (as the worker does, up to 64 KiB)",
        ),
        (
            16 * 1024,
            "16 KiB pieces",
            "between frames; at most 16 KiB queued before each flush",
        ),
    ] {
        let before_stream = reset_peak();
        for _ in 0..(2 * FPS) {
            tracked(|| -> Result<(), String> {
                let mut queued = 0;
                while queued < frame.len() {
                    let end = (queued + piece).min(frame.len());
                    queued += server
                        .writer()
                        .write(&frame[queued..end])
                        .map_err(|e| e.to_string())?;
                    while server.wants_write() {
                        server
                            .write_tls(&mut to_client)
                            .map_err(|e| e.to_string())?;
                    }
                }
                Ok(())
            })?;
            while !to_client.0.is_empty() {
                client.read_tls(&mut to_client).map_err(|e| e.to_string())?;
                client.process_new_packets().map_err(|e| e.to_string())?;
                while client.reader().read(&mut drained).unwrap_or(0) > 0 {}
            }
        }
        let streaming_peak = PEAK.load(Ordering::Relaxed) - before_stream;
        parts.push(Part {
            what: format!("rustls streaming {kbps} kbit/s, {label}"),
            bytes: live() - base,
            note: format!(
                "{what}: +{streaming_peak} B transient per {} B frame",
                frame.len()
            ),
        });
    }
    // A player whose socket is full: rustls holds up to the buffer limit of records.
    let before_full = live();
    tracked(|| {
        let mut queued = 0;
        while let Ok(n) = server.writer().write(&frame) {
            if n == 0 || queued > 2 * limits.tls_out_bytes {
                break;
            }
            queued += n;
        }
    });
    parts.push(Part {
        what: "rustls with the socket full (a slow player)".into(),
        bytes: live() - base,
        note: format!(
            "+{} of queued records, capped by the {} KiB buffer limit",
            live() - before_full,
            limits.tls_out_bytes / 1024
        ),
    });
    tracked(|| drop(server));

    let base = reset_peak();
    let input = tracked(|| vec![0u8; limits.read_buffer].into_boxed_slice());
    parts.push(Part {
        what: "worker input buffer".into(),
        bytes: live() - base,
        note: "Limits::read_buffer, allocated zeroed when input comes; a sleeping player with none pending gives it back".into(),
    });
    drop(input);

    let base = reset_peak();
    let channel = tracked(|| crossbeam_channel::bounded::<Delivery>(limits.player_queue_len));
    parts.push(Part {
        what: format!("player channel, bounded({})", limits.player_queue_len),
        bytes: live() - base,
        note: format!(
            "{} slots of {} B (a Delivery is {} B), each slot written at creation",
            limits.player_queue_len,
            std::mem::size_of::<Delivery>() + std::mem::size_of::<usize>(),
            std::mem::size_of::<Delivery>()
        ),
    });
    drop(channel);

    let base = reset_peak();
    let session = tracked(|| {
        Box::new(Session::new(
            SessionConfig::default(),
            &[7u8; RANDOM_SIZE],
            0,
        ))
    });
    parts.push(Part {
        what: "rtmp Session, new (boxed here; inline in the Worker)".into(),
        bytes: live() - base,
        note: format!(
            "struct {} B; chunk reassembly buffers grow per message, commands only for a player",
            std::mem::size_of::<Session>()
        ),
    });
    drop(session);

    parts.push(Part {
        what: "Worker struct (on the session thread's stack)".into(),
        bytes: std::mem::size_of::<Worker>() as isize,
        note: "counted in the stack pages, not the heap".into(),
    });
    let gop_frames = GOP as usize + 3;
    parts.push(Part {
        what: format!("join backlog (GOP of {GOP} frames + 3 headers)"),
        bytes: (gop_frames * std::mem::size_of::<Delivery>()) as isize,
        note: "pointers to shared frames; freed as the player catches up".into(),
    });
    Ok(parts)
}

fn main() {
    let run_started = Instant::now();
    let kbps = env_u64("FOOTPRINT_KBPS", 4000) as u32;
    let stack_kib = env_u64("FOOTPRINT_STACK_KIB", 256);
    let settle = Duration::from_secs(env_u64("FOOTPRINT_SETTLE_SECS", 4));
    let steps: Vec<u64> = std::env::var("FOOTPRINT_PLAYERS")
        .unwrap_or_else(|_| "1,10,100".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let (program, runner) = common::server_program();
    println!("# rtmpsd footprint");
    println!("host: {}", host_line());
    println!(
        "runner: {}",
        if runner.is_empty() {
            "none (native)".to_owned()
        } else {
            runner.join(" ")
        }
    );

    let bytes = std::fs::read(&program)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", program.display()));
    let elf = elf_info(&bytes);
    println!();
    println!("| binary | machine | bytes | MiB | symbol table |");
    println!("|---|---|---:|---:|---|");
    println!(
        "| {} | {} | {} | {:.2} | {} |",
        program.display(),
        elf.as_ref().map_or("not ELF", |e| e.machine),
        bytes.len(),
        bytes.len() as f64 / (1024.0 * 1024.0),
        match elf.as_ref().map(|e| e.symbols) {
            Some(false) => "none (stripped)",
            Some(true) => "present (not stripped)",
            None => "?",
        }
    );

    println!();
    let rows = server_rows(stack_kib, kbps, &steps, settle);
    print_rows(&rows);
    let find = |n: u64| rows.iter().find(|r| r.players == n && n > 0);
    let per_kind = |a: &Row, b: &Row| {
        let n = (b.players - a.players) as f64;
        let d = |x: u64, y: u64| (y as f64 - x as f64) / n;
        format!(
            "{:.1} KiB per player: stack {:.1}, main heap {:.1}, thread arenas {:.1}, \
             other anon {:.1}, files {:.1}",
            d(a.proc.rss_kib, b.proc.rss_kib),
            d(a.map.stack_kib, b.map.stack_kib),
            d(a.map.heap_kib, b.map.heap_kib),
            d(a.map.arena_kib, b.map.arena_kib),
            d(a.map.anon_kib, b.map.anon_kib),
            d(
                a.map.binary_kib + a.map.libs_kib,
                b.map.binary_kib + b.map.libs_kib
            ),
        )
    };
    let mut last_marginal = None;
    for pair in steps.windows(2) {
        if let (Some(a), Some(b)) = (find(pair[0]), find(pair[1])) {
            println!(
                "marginal {} -> {} players: {}",
                a.players,
                b.players,
                per_kind(a, b)
            );
            last_marginal = Some((a.proc.rss_kib, b.proc.rss_kib, b.players - a.players));
        }
    }
    if let Some(top) = rows.iter().rfind(|r| r.players > 0) {
        if top.map.stacks > 0 {
            println!(
                "session stacks: {} of {} KiB reserved each, {:.1} KiB resident each on average; \
                 threads per session: {:.2}",
                top.map.stacks,
                stack_kib,
                top.map.stack_kib as f64 / top.map.stacks as f64,
                (top.proc.threads as f64 - rows[0].proc.threads as f64) / (top.players + 1) as f64
            );
        }
    }

    println!();
    println!("heap of one player session, measured in this process (this build's layout):");
    match anatomy(kbps) {
        Ok(parts) => {
            println!("| part | heap bytes | note |");
            println!("|---|---:|---|");
            for p in parts {
                println!("| {} | {} | {} |", p.what, p.bytes, p.note);
            }
        }
        Err(e) => println!("anatomy failed: {e}"),
    }

    println!();
    let per_player = last_marginal.map(|(a, b, n)| (b as f64 - a as f64) / n as f64);
    println!("| target | measured | verdict |");
    println!("|---|---|---|");
    let machine = elf.as_ref().map_or("?", |e| e.machine);
    println!(
        "| stripped aarch64 binary <= 2 MB | {} bytes ({machine}) | {} |",
        bytes.len(),
        if machine != "aarch64" {
            "n/a: not an aarch64 build".to_owned()
        } else if bytes.len() <= 2_000_000 {
            "met".to_owned()
        } else {
            "missed".to_owned()
        }
    );
    let idle_rows: Vec<&Row> = rows
        .iter()
        .filter(|r| r.label.starts_with("idle"))
        .collect();
    let idle = idle_rows.iter().map(|r| r.proc.rss_kib).max().unwrap_or(0);
    let idle_low = idle_rows.iter().map(|r| r.proc.rss_kib).min().unwrap_or(0);
    let idle_anon = idle_rows.iter().map(|r| r.proc.anon_kib).max().unwrap_or(0);
    println!(
        "| idle RSS <= 3 MiB | {idle_low}-{idle} KiB, of which RssAnon {idle_anon} KiB{} | {} |",
        if runner.is_empty() {
            ""
        } else {
            " (includes the runner)"
        },
        if idle <= 3072 {
            "met"
        } else {
            "missed (the rest is clean file pages: binary and libc)"
        }
    );
    if let Some(p) = per_player {
        let top = rows.iter().rfind(|r| r.players > 0);
        let base = rows.iter().find(|r| r.label.starts_with("publisher"));
        let average = match (top, base) {
            (Some(t), Some(b)) => format!(
                "; {:.1} KiB average over {} players",
                (t.proc.rss_kib as f64 - b.proc.rss_kib as f64) / t.players as f64,
                t.players
            ),
            _ => String::new(),
        };
        println!(
            "| <= 64 KiB RSS per connected player at {kbps} kbit/s | {p:.1} KiB marginal over the largest step{average} | {} |",
            if p <= 64.0 { "met" } else { "missed" }
        );
    }
    println!("run took {:.1} s", run_started.elapsed().as_secs_f64());
}
