//! Shared plumbing for the soak, footprint and fan-out benchmarks: the rtmpsd process on
//! 127.0.0.1, readings from `/proc/<pid>`, and client threads driving `rtmpsd::client`.
//!
//! The server is the real release binary (`CARGO_BIN_EXE_rtmpsd`, or `RTMPSD_BIN` run through
//! `RTMPSD_RUNNER` such as `qemu-aarch64`) with a temporary `--state-dir`. It is stopped by
//! its own pid (SIGTERM, then SIGKILL) when its handle drops; every wait here has a timeout.
// Each benchmark uses a different part of this module.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rtmpsd::client::{Client, ClientOptions, RtmpUrl, SyntheticStream, frame_index};
use rtmpsd::rtmp::message::type_id;

#[path = "../../tests/support/listen_line.rs"]
mod listen_line;
#[path = "../../tests/support/temp_dir.rs"]
mod temp_dir;
use listen_line::{RTMPS_LISTEN_MARKER, addr_after};
pub use temp_dir::TempDir;

/// The stream key the benchmarks publish and play on.
pub const PUBLISH_KEY: &str = "bench-publish-key";
/// The name of the stream [`PUBLISH_KEY`] publishes: what players play.
pub const STREAM: &str = "bench";
/// Environment variable naming another rtmpsd binary to measure (e.g. an aarch64 build).
pub const BIN_ENV: &str = "RTMPSD_BIN";
/// Environment variable naming a runner for it, with arguments (e.g. `qemu-aarch64`).
pub const RUNNER_ENV: &str = "RTMPSD_RUNNER";
/// How long a starting server may take to log its listener (qemu is slow).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Time between SIGTERM and SIGKILL when the server is stopped.
pub const KILL_GRACE: Duration = Duration::from_secs(5);
/// Warning and error lines kept for the report.
const KEPT_LINES: usize = 20;

/// Reads a number from the environment, or gives `default`; panics on garbage.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        _ => default,
    }
}

/// The program to start and the runner words before it (empty when run natively).
pub fn server_program() -> (PathBuf, Vec<String>) {
    let bin = std::env::var_os(BIN_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_rtmpsd")));
    let runner = std::env::var(RUNNER_ENV)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    (bin, runner)
}

/// One line about the machine: CPU, cores, governor, kernel.
pub fn host_line() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name") || l.starts_with("Model"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| "unknown cpu".into());
    let cores = thread::available_parallelism().map_or(0, |n| n.get());
    let governor = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
        .map(|g| g.trim().to_owned())
        .unwrap_or_else(|_| "n/a (no cpufreq)".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores available, governor {governor}, kernel {}",
        kernel.trim()
    )
}

/// What the server's log said, counted by a reader thread.
#[derive(Default)]
pub struct LogCounts {
    /// Accepted connections (`N PEER connected (rtmps)`).
    pub connected: AtomicU64,
    /// Session closing lines (`N PEER closed ...`).
    pub closed: AtomicU64,
    /// Connections refused at a connection limit.
    pub refused: AtomicU64,
    /// WARN lines.
    pub warnings: AtomicU64,
    /// ERROR lines.
    pub errors: AtomicU64,
    /// The first few WARN and ERROR lines.
    pub kept: Mutex<Vec<String>>,
    listen: Mutex<Option<SocketAddr>>,
    closed_pipe: AtomicBool,
}

impl LogCounts {
    fn take(&self, line: &str) {
        if let Some(addr) = addr_after(line, RTMPS_LISTEN_MARKER) {
            *self.listen.lock().unwrap_or_else(|p| p.into_inner()) = Some(addr);
        }
        let level_warn = line.contains(" WARN ");
        let level_error = line.contains(" ERROR ");
        if line.ends_with("connected (rtmps)") || line.ends_with("connected (rtmp)") {
            self.connected.fetch_add(1, Ordering::Relaxed);
        } else if line.contains(" closed ") || line.contains(" closed: ") {
            self.closed.fetch_add(1, Ordering::Relaxed);
        } else if line.contains(" refused: connection limit") {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        if level_warn {
            self.warnings.fetch_add(1, Ordering::Relaxed);
        }
        if level_error {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if level_warn || level_error {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            if kept.len() < KEPT_LINES {
                kept.push(line.to_owned());
            }
        }
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// A running rtmpsd on 127.0.0.1 with its own state dir; stopped by pid on drop.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<LogCounts>,
    program: PathBuf,
    status: Option<ExitStatus>,
    extra: Vec<String>,
    env: Vec<(String, String)>,
    state: Option<TempDir>,
}

impl Server {
    /// Starts the server with the bench defaults plus `extra` flags and `env` variables, and
    /// waits for its listening line.
    pub fn start(tag: &str, extra: &[String], env: &[(String, String)]) -> Result<Server, String> {
        Server::start_in(TempDir::new(tag), extra, env)
    }

    /// Stops this server and starts it again on the same state dir (certificate reused).
    pub fn restart(mut self) -> Result<Server, String> {
        self.stop();
        let state = self.state.take().ok_or("no state dir")?;
        Server::start_in(state, &self.extra, &self.env)
    }

    fn start_in(
        state: TempDir,
        extra: &[String],
        env: &[(String, String)],
    ) -> Result<Server, String> {
        let (program, runner) = server_program();
        let mut args: Vec<String> = runner.iter().skip(1).cloned().collect();
        args.push(program.display().to_string());
        for a in [
            "--listen",
            "127.0.0.1:0",
            "--publish-key",
            "bench=bench-publish-key",
            "--log",
            "info",
            "--state-dir",
        ] {
            args.push(a.to_owned());
        }
        args.push(state.path().display().to_string());
        args.extend(extra.iter().cloned());
        let (exe, args) = match runner.first() {
            Some(r) => (PathBuf::from(r), args),
            None => (program.clone(), args.split_off(1)),
        };
        let mut command = Command::new(&exe);
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let log = Arc::new(LogCounts::default());
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            thread::Builder::new()
                .name("server-log".into())
                .spawn(move || {
                    let mut reader = BufReader::new(stderr);
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => log.take(line.trim_end()),
                        }
                    }
                    log.closed_pipe.store(true, Ordering::SeqCst);
                })
                .map_err(|e| format!("log thread: {e}"))?;
        }
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            if let Some(addr) = *log.listen.lock().unwrap_or_else(|p| p.into_inner()) {
                break Some(addr);
            }
            if log.closed_pipe.load(Ordering::SeqCst) || Instant::now() >= deadline {
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        };
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
            program,
            status: None,
            extra: extra.to_vec(),
            env: env.to_vec(),
            state: Some(state),
        };
        match addr {
            Some(addr) => {
                server.addr = addr;
                Ok(server)
            }
            None => {
                let status = server.stop();
                Err(format!(
                    "rtmpsd did not log its listener within {START_TIMEOUT:?} ({status:?}); {:?}",
                    server.log.kept.lock().unwrap_or_else(|p| p.into_inner())
                ))
            }
        }
    }

    /// The process id (the runner's, which is the emulated process under qemu-user).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The rtmpsd binary (not the runner).
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// `rtmps://127.0.0.1:PORT/live/<PUBLISH_KEY>`, to publish.
    pub fn url(&self) -> RtmpUrl {
        self.url_of(PUBLISH_KEY)
    }

    /// `rtmps://127.0.0.1:PORT/live/<STREAM>`, to play.
    pub fn play_url(&self) -> RtmpUrl {
        self.url_of(STREAM)
    }

    fn url_of(&self, name: &str) -> RtmpUrl {
        RtmpUrl {
            tls: true,
            host: self.addr.ip().to_string(),
            port: self.addr.port(),
            app: "live".into(),
            name: name.into(),
        }
    }

    /// What the log said so far.
    pub fn log(&self) -> &LogCounts {
        &self.log
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status.is_none()
    }

    /// SIGTERM, then SIGKILL after [`KILL_GRACE`]; always reaps the child.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if !self.is_running() {
            return self.status;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) touches no memory; the pid is our own unreaped child.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + KILL_GRACE;
        while Instant::now() < deadline {
            if !self.is_running() {
                return self.status;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.status = self.child.wait().ok();
        self.status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Resident memory, threads and open file descriptors of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcSample {
    /// VmRSS in KiB.
    pub rss_kib: u64,
    /// RssAnon in KiB: private memory (heap, stacks, written data pages).
    pub anon_kib: u64,
    /// RssFile in KiB: clean pages of the binary and libraries (shared, reclaimable).
    pub file_kib: u64,
    /// Threads.
    pub threads: u64,
    /// Entries in /proc/pid/fd.
    pub fds: u64,
}

/// Reads VmRSS, RssAnon, RssFile and Threads from /proc/pid/status and counts /proc/pid/fd.
pub fn sample(pid: u32) -> io::Result<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| io::Error::other(format!("no {name} in /proc/{pid}/status")))
    };
    let rss_kib = field("VmRSS:")?;
    let anon_kib = field("RssAnon:")?;
    let file_kib = field("RssFile:")?;
    let threads = field("Threads:")?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64;
    Ok(ProcSample {
        rss_kib,
        anon_kib,
        file_kib,
        threads,
        fds,
    })
}

/// Resident memory of a process by kind of mapping, from /proc/pid/smaps (KiB).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryMap {
    /// Session thread stacks found (a read-write mapping of the requested stack size with a
    /// PROT_NONE guard page right below it).
    pub stacks: u64,
    /// Resident pages of those stacks.
    pub stack_kib: u64,
    /// The main heap (`[heap]`, glibc's main arena).
    pub heap_kib: u64,
    /// glibc's per-thread arenas (anonymous mappings starting on a 64 MiB boundary).
    pub arenas: u64,
    /// Resident pages of those arenas.
    pub arena_kib: u64,
    /// Other anonymous memory: large mmap'd blocks, the main stack, signal stacks.
    pub anon_kib: u64,
    /// Pages of the rtmpsd binary.
    pub binary_kib: u64,
    /// Pages of other files (libc, the loader; qemu itself under qemu-user).
    pub libs_kib: u64,
    /// Proportional set size: shared pages divided among the processes mapping them.
    pub pss_kib: u64,
}

/// glibc's HEAP_MAX_SIZE on 64-bit targets: each thread arena's heap is aligned to it.
const ARENA_ALIGN: u64 = 64 << 20;

struct Vma {
    start: u64,
    end: u64,
    perms: String,
    path: String,
    rss_kib: u64,
}

/// Sorts /proc/pid/smaps into [`MemoryMap`]; `stack_bytes` is `--worker-stack-kib` in bytes.
pub fn memory_map(pid: u32, binary: &Path, stack_bytes: u64) -> io::Result<MemoryMap> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps"))?;
    let mut vmas: Vec<Vma> = Vec::new();
    let mut pss = 0;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or_default();
        if let Some((a, b)) = first.split_once('-') {
            let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16))
            else {
                continue;
            };
            let perms = words.next().unwrap_or_default().to_owned();
            let path = words.nth(3).unwrap_or_default().to_owned();
            vmas.push(Vma {
                start,
                end,
                perms,
                path,
                rss_kib: 0,
            });
        } else if first == "Pss:" {
            pss += words
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        } else if first == "Rss:" {
            if let (Some(vma), Some(kib)) = (
                vmas.last_mut(),
                words.next().and_then(|v| v.parse::<u64>().ok()),
            ) {
                vma.rss_kib = kib;
            }
        }
    }
    let binary_name = binary.file_name().map(|n| n.to_string_lossy().into_owned());
    let mut map = MemoryMap {
        pss_kib: pss,
        ..MemoryMap::default()
    };
    let mut previous: Option<&Vma> = None;
    for vma in &vmas {
        let anonymous = vma.path.is_empty();
        // glibc puts the guard page below the requested size; musl and older glibc inside it.
        let is_stack = anonymous
            && vma.perms.starts_with("rw")
            && previous.is_some_and(|g| {
                g.end == vma.start
                    && g.path.is_empty()
                    && g.perms.starts_with("---")
                    && g.end - g.start <= 64 * 1024
                    && (vma.end - vma.start == stack_bytes || vma.end - g.start == stack_bytes)
            });
        if is_stack {
            map.stacks += 1;
            map.stack_kib += vma.rss_kib;
        } else if anonymous && vma.perms.starts_with("rw") && vma.start % ARENA_ALIGN == 0 {
            map.arenas += 1;
            map.arena_kib += vma.rss_kib;
        } else if vma.path == "[heap]" {
            map.heap_kib += vma.rss_kib;
        } else if anonymous || vma.path.starts_with('[') {
            map.anon_kib += vma.rss_kib;
        } else if binary_name
            .as_deref()
            .is_some_and(|n| Path::new(&vma.path).file_name() == Some(n.as_ref()))
        {
            map.binary_kib += vma.rss_kib;
        } else {
            map.libs_kib += vma.rss_kib;
        }
        previous = Some(vma);
    }
    Ok(map)
}

/// Polls `f` every 50 ms until it returns true or `timeout` passes; returns its last answer.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A tiny xorshift generator: reproducible jitter without a dependency.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// What publishers did, added to by their threads.
#[derive(Default)]
pub struct PublishCounts {
    /// Video frames sent.
    pub frames: AtomicU64,
    /// Sessions that reached NetStream.Publish.Start.
    pub sessions: AtomicU64,
    /// Connect or publish attempts that failed (and were retried).
    pub failures: AtomicU64,
}

/// How a publisher runs.
#[derive(Debug, Clone, Copy)]
pub struct PublishPlan {
    /// Video frames a second.
    pub fps: u32,
    /// Frames from one keyframe to the next.
    pub gop: u32,
    /// Video bitrate in kbit/s.
    pub kbps: u32,
    /// Frames per connection before disconnecting and reconnecting (None: one connection).
    pub frames_per_session: Option<u32>,
}

/// Publishes a synthetic stream in real time until `stop` or `until`.
///
/// Frame indices and timestamps run on across reconnects, as a camera's encoder does, so
/// players can count gaps over the whole run. A failed connect or publish is counted and
/// retried after 100 ms.
pub fn publish(
    url: &RtmpUrl,
    plan: PublishPlan,
    stop: &AtomicBool,
    until: Instant,
    counts: &PublishCounts,
) {
    let mut stream = SyntheticStream::new(plan.fps, plan.gop, plan.kbps);
    let started = Instant::now();
    let interval = Duration::from_secs(1) / plan.fps.max(1);
    let running = || !stop.load(Ordering::Relaxed) && Instant::now() < until;
    while running() {
        let mut client = match Client::connect(url, &ClientOptions::insecure()).and_then(|mut c| {
            c.publish()?;
            Ok(c)
        }) {
            Ok(c) => c,
            Err(_) => {
                counts.failures.fetch_add(1, Ordering::Relaxed);
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        counts.sessions.fetch_add(1, Ordering::Relaxed);
        let sent_headers = stream
            .headers()
            .into_iter()
            .try_for_each(|(kind, ts, payload)| client.send_media(kind, ts, &payload));
        if sent_headers.is_err() {
            counts.failures.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let mut in_session = 0u32;
        while running() && plan.frames_per_session.is_none_or(|n| in_session < n) {
            let due = started + interval * stream.next_index();
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            let sent = stream
                .next_frames()
                .into_iter()
                .try_for_each(|(kind, ts, payload)| client.send_media(kind, ts, &payload));
            if sent.is_err() {
                counts.failures.fetch_add(1, Ordering::Relaxed);
                break;
            }
            counts.frames.fetch_add(1, Ordering::Relaxed);
            in_session += 1;
        }
        // Dropping the client closes the TCP connection without a goodbye, as a camera
        // losing its link does.
    }
}

/// What players saw, added to by their threads.
#[derive(Default)]
pub struct PlayCounts {
    /// Connections that reached NetStream.Play.Start.
    pub sessions: AtomicU64,
    /// Video frames received (sequence headers not counted).
    pub frames: AtomicU64,
    /// Times a frame index was not the one after the previous frame's.
    pub gaps: AtomicU64,
    /// Play sessions that ended with an error before they were asked to stop.
    pub errors: AtomicU64,
}

/// Connects, plays and reads until `stop` or `until`; adds what it saw to `counts`.
pub fn play(url: &RtmpUrl, stop: &AtomicBool, until: Instant, counts: &PlayCounts) {
    let result = (|| -> io::Result<()> {
        let mut client = Client::connect(url, &ClientOptions::insecure())?;
        client.play()?;
        counts.sessions.fetch_add(1, Ordering::Relaxed);
        let mut last: Option<u32> = None;
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            let message = client.recv()?;
            if message.type_id != type_id::VIDEO || message.payload.get(1) == Some(&0) {
                continue;
            }
            counts.frames.fetch_add(1, Ordering::Relaxed);
            let index = frame_index(&message.payload);
            if let (Some(before), Some(now)) = (last, index) {
                if now != before.wrapping_add(1) {
                    counts.gaps.fetch_add(1, Ordering::Relaxed);
                }
            }
            last = index.or(last);
        }
        Ok(())
    })();
    if result.is_err() && !stop.load(Ordering::Relaxed) {
        counts.errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// Starts a named thread; panics if the system has none left (a benchmark cannot go on).
pub fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> thread::JoinHandle<()> {
    thread::Builder::new()
        .name(name.clone())
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap_or_else(|e| panic!("cannot start thread {name}: {e}"))
}
