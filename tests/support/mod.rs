//! Real-client test harness: the rtmpsd binary, ffmpeg publishers and ffmpeg players, on 127.0.0.1.
//!
//! Include with `mod support;` from an integration test. Every wait here has a timeout and
//! every child process is stopped by its own pid (SIGTERM, then SIGKILL after
//! [`KILL_GRACE`]) when its handle drops, so a failing test never leaves processes behind.
//! A missing ffmpeg is a panic telling how to install it, never a skipped test.
// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Environment variable naming Debian's ffmpeg 5.1 (set by `./test.sh`).
pub const FFMPEG_DEBIAN_ENV: &str = "RTMPSD_FFMPEG_DEBIAN";
/// Environment variable naming the imageio-ffmpeg ffmpeg 9 (set by `./test.sh`).
pub const FFMPEG_MODERN_ENV: &str = "RTMPSD_FFMPEG_MODERN";
/// Stderr lines kept per child process; older lines are dropped first.
pub const MAX_LOG_LINES: usize = 5_000;
/// How long a starting server may take to print its listening lines.
pub const SERVER_START_TIMEOUT: Duration = Duration::from_secs(10);
/// Time between SIGTERM and SIGKILL when a child is stopped.
pub const KILL_GRACE: Duration = Duration::from_secs(2);
/// Log marker of the TLS listener; the socket address follows it.
pub const RTMPS_LISTEN_MARKER: &str = "listening rtmps on ";
/// Log marker of the plain listener; the socket address follows it.
pub const RTMP_LISTEN_MARKER: &str = "listening rtmp on ";
/// Publish key used by [`ServerProcess::start_standard`].
pub const PUBLISH_KEY: &str = "test-publish-key";
/// The name of the stream [`PUBLISH_KEY`] publishes: what players play.
pub const STREAM: &str = "test";
/// Play key used by [`ServerProcess::start_standard`].
pub const PLAY_KEY: &str = "test-play-key";

/// Which of the two real ffmpeg builds to drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ffmpeg {
    /// Debian 12's ffmpeg 5.1: GnuTLS, never verifies certificates, no enhanced RTMP.
    Debian,
    /// ffmpeg 9 from the imageio-ffmpeg wheel: OpenSSL, verifies by default, enhanced RTMP.
    Modern,
}

impl Ffmpeg {
    /// Both builds, for tests that loop over clients.
    pub const ALL: [Ffmpeg; 2] = [Ffmpeg::Debian, Ffmpeg::Modern];

    /// Absolute path of this build; panics with install instructions if it is missing.
    pub fn path(self) -> PathBuf {
        static DEBIAN: OnceLock<PathBuf> = OnceLock::new();
        static MODERN: OnceLock<PathBuf> = OnceLock::new();
        let cell = match self {
            Ffmpeg::Debian => &DEBIAN,
            Ffmpeg::Modern => &MODERN,
        };
        cell.get_or_init(|| self.locate()).clone()
    }

    /// Extra client arguments for a server with a self-signed certificate.
    ///
    /// ffmpeg 9 verifies by default and needs `-tls_verify 0`; ffmpeg 5.1 accepts the same
    /// flag but its default is already 0, so it gets none.
    pub fn tls_args(self) -> &'static [&'static str] {
        match self {
            Ffmpeg::Debian => &[],
            Ffmpeg::Modern => &["-tls_verify", "0"],
        }
    }

    /// [`Ffmpeg::tls_args`] for `rtmps://` URLs, nothing otherwise (ffmpeg rejects
    /// `-tls_verify` on a plain `rtmp://` URL: "Option tls_verify not found").
    pub fn url_tls_args(self, url: &str) -> &'static [&'static str] {
        if url.starts_with("rtmps://") {
            self.tls_args()
        } else {
            &[]
        }
    }

    /// Whether this build's flv muxer can send HEVC (enhanced RTMP); 5.1 rejects it.
    pub fn supports_hevc_flv(self) -> bool {
        matches!(self, Ffmpeg::Modern)
    }

    /// Short human name for messages.
    pub fn label(self) -> &'static str {
        match self {
            Ffmpeg::Debian => "ffmpeg 5.1 (Debian, GnuTLS)",
            Ffmpeg::Modern => "ffmpeg 9 (imageio-ffmpeg, OpenSSL)",
        }
    }

    fn env_var(self) -> &'static str {
        match self {
            Ffmpeg::Debian => FFMPEG_DEBIAN_ENV,
            Ffmpeg::Modern => FFMPEG_MODERN_ENV,
        }
    }

    fn locate(self) -> PathBuf {
        let install = match self {
            Ffmpeg::Debian => "apt-get install ffmpeg",
            Ffmpeg::Modern => "pip install imageio-ffmpeg==0.8.1",
        };
        if let Some(p) = std::env::var_os(self.env_var()).filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            if p.is_file() {
                return p;
            }
            panic!(
                "{} is set to {}, which does not exist; run ./test.sh (it installs {} with `{}`)",
                self.env_var(),
                p.display(),
                self.label(),
                install
            );
        }
        let found = match self {
            Ffmpeg::Debian => Some(PathBuf::from("/usr/bin/ffmpeg")).filter(|p| p.is_file()),
            Ffmpeg::Modern => imageio_ffmpeg_exe(),
        };
        match found {
            Some(p) => p,
            None => panic!(
                "{} not found and {} is unset; run ./test.sh, which installs it (`{}`) \
                 and exports {}",
                self.label(),
                self.env_var(),
                install,
                self.env_var()
            ),
        }
    }
}

fn imageio_ffmpeg_exe() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    Some(path).filter(|p| p.is_file())
}

/// A private directory under the system temp dir, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `<tmp>/rtmpsd-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("rtmpsd-{tag}-{}-{n}", std::process::id()));
        // A leftover from an earlier run with a recycled pid is ours to replace.
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One stderr line and when the reader thread received it.
#[derive(Clone, Debug)]
pub struct LogLine {
    /// When the line arrived.
    pub at: Instant,
    /// The line, without its newline.
    pub text: String,
}

#[derive(Default)]
struct LogState {
    lines: VecDeque<LogLine>,
    total: usize,
    closed: bool,
}

/// Lines of one child's stderr, filled by a reader thread, bounded to [`MAX_LOG_LINES`].
#[derive(Default)]
struct LineLog {
    state: Mutex<LogState>,
    changed: Condvar,
}

impl LineLog {
    fn lock(&self) -> MutexGuard<'_, LogState> {
        // A panicking test thread must not hide the logs from the others.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, text: String) {
        let mut s = self.lock();
        if s.lines.len() == MAX_LOG_LINES {
            s.lines.pop_front();
        }
        s.lines.push_back(LogLine {
            at: Instant::now(),
            text,
        });
        s.total += 1;
        drop(s);
        self.changed.notify_all();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    fn texts(&self) -> Vec<String> {
        self.lock().lines.iter().map(|l| l.text.clone()).collect()
    }

    fn timed(&self) -> Vec<LogLine> {
        self.lock().lines.iter().cloned().collect()
    }

    fn contains(&self, needle: &str) -> bool {
        self.lock().lines.iter().any(|l| l.text.contains(needle))
    }

    /// Waits until `f` finds something in the lines, or the stream closed, or the timeout.
    fn wait_for<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&LogState) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut s = self.lock();
        loop {
            if let Some(v) = f(&s) {
                return Some(v);
            }
            let now = Instant::now();
            if s.closed || now >= deadline {
                return None;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until the writer closed the pipe, at most `timeout`.
    fn wait_closed(&self, timeout: Duration) -> bool {
        self.wait_for(timeout, |s| s.closed.then_some(())).is_some()
    }
}

fn spawn_reader(label: String, stream: impl Read + Send + 'static, log: Arc<LineLog>, echo: bool) {
    let name = format!("stderr {label}");
    let spawned = thread::Builder::new().name(name.clone()).spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // ffmpeg ends progress lines with \r; treat every \r as a line break too.
            let text = String::from_utf8_lossy(&buf);
            for part in text.split(['\n', '\r']).filter(|p| !p.is_empty()) {
                if echo {
                    eprintln!("[{label}] {part}");
                }
                log.push(part.to_owned());
            }
        }
        log.close();
    });
    if let Err(e) = spawned {
        panic!("cannot start the {name} reader thread: {e}");
    }
}

/// Freezes (`true`) or thaws (`false`) a child process this test started, by pid: a camera
/// whose network dropped without a FIN looks like this to the server.
pub fn freeze(pid: u32, frozen: bool) {
    let pid = i32::try_from(pid).expect("pid fits i32");
    // SAFETY: kill(2) touches no memory; callers pass the pid of a child they still own.
    let done = unsafe { libc::kill(pid, if frozen { libc::SIGSTOP } else { libc::SIGCONT }) };
    assert_eq!(done, 0, "kill({pid}) failed");
}

/// The path of `program` on PATH; panics with how to get it (`./test.sh` installs it).
pub fn require_program(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{program} is not installed: run the tests with ./test.sh, which installs \
                 rtmpdump and GStreamer (gstreamer1.0-tools, -plugins-base/-good/-bad/-ugly) \
                 with apt when they are missing"
            )
        })
}

/// A child process with its stderr collected into a [`LineLog`]; stopped by pid on drop.
struct Proc {
    label: String,
    child: Child,
    log: Arc<LineLog>,
    spawned_at: Instant,
    status: Option<ExitStatus>,
    /// Set once a panic message already carried the stderr tail.
    tail_shown: bool,
}

impl Proc {
    fn spawn(label: &str, program: &Path, args: &[String]) -> Proc {
        let echo = std::env::var_os("RTMPSD_TEST_ECHO").is_some_and(|v| v != "0");
        let spawned_at = Instant::now();
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label} ({}): {e}", program.display()));
        let log = Arc::new(LineLog::default());
        let Some(stderr) = child.stderr.take() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{label}: stderr was not piped");
        };
        let label = format!("{label}#{}", child.id());
        spawn_reader(label.clone(), stderr, Arc::clone(&log), echo);
        Proc {
            label,
            child,
            log,
            spawned_at,
            status: None,
            tail_shown: false,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits for the child to exit on its own, at most `timeout`.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then SIGKILL after [`KILL_GRACE`]; always reaps the child.
    fn stop(&mut self) -> ExitStatus {
        if let Some(s) = self.try_status() {
            return s;
        }
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) touches no memory; the pid is our own child, which has not
            // been reaped yet (try_wait returned None), so it cannot name another process.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if let Some(s) = self.wait_exit(KILL_GRACE) {
            return s;
        }
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .unwrap_or_else(|e| panic!("{}: cannot reap: {e}", self.label));
        self.status = Some(status);
        status
    }

    /// The last `n` stderr lines, one per line, for failure messages.
    fn tail(&self, n: usize) -> String {
        let lines = self.log.texts();
        let mut out = String::new();
        for l in &lines[lines.len().saturating_sub(n)..] {
            let _ = writeln!(out, "  {l}");
        }
        out
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() && !self.tail_shown {
            eprintln!(
                "--- last stderr lines of {} ---\n{}",
                self.label,
                self.tail(200)
            );
        }
    }
}

fn parse_addr_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let token = rest.split_whitespace().next()?;
    token
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != ']')
        .parse()
        .ok()
}

/// A running rtmpsd binary; killed by pid (SIGTERM, then SIGKILL) on drop.
pub struct ServerProcess {
    proc: Proc,
    addr: SocketAddr,
    rtmp_addr: Option<SocketAddr>,
}

impl ServerProcess {
    /// Starts this crate's `rtmpsd` with `args` and waits for its listening lines.
    pub fn start(args: &[&str]) -> ServerProcess {
        ServerProcess::start_program(Path::new(env!("CARGO_BIN_EXE_rtmpsd")), args)
    }

    /// Starts rtmpsd with the usual test flags: both listeners on 127.0.0.1:0,
    /// `state` as state dir, [`PUBLISH_KEY`] for [`STREAM`], [`PLAY_KEY`] and debug logging,
    /// plus `extra`.
    pub fn start_standard(state: &TempDir, extra: &[&str]) -> ServerProcess {
        let dir = state.path().to_str().expect("temp dir paths are UTF-8");
        let publish = format!("{STREAM}={PUBLISH_KEY}");
        let mut args = vec![
            "--listen",
            "127.0.0.1:0",
            "--rtmp-listen",
            "127.0.0.1:0",
            "--state-dir",
            dir,
            "--publish-key",
            &publish,
            "--play-key",
            PLAY_KEY,
            "--log",
            "debug",
        ];
        args.extend_from_slice(extra);
        ServerProcess::start(&args)
    }

    /// Like [`ServerProcess::start`] with another executable (a stand-in in harness tests).
    ///
    /// Waits up to [`SERVER_START_TIMEOUT`] for a stderr line containing
    /// [`RTMPS_LISTEN_MARKER`] and, if `args` has `--rtmp-listen`, one with
    /// [`RTMP_LISTEN_MARKER`]; panics with the log if they do not appear.
    pub fn start_program(program: &Path, args: &[&str]) -> ServerProcess {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let want_rtmp = args.iter().any(|a| a.starts_with("--rtmp-listen"));
        let mut proc = Proc::spawn("rtmpsd", program, &args);
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        let find = |marker: &'static str| {
            move |s: &LogState| {
                s.lines
                    .iter()
                    .find_map(|l| parse_addr_after(&l.text, marker))
            }
        };
        let addr = proc
            .log
            .wait_for(SERVER_START_TIMEOUT, find(RTMPS_LISTEN_MARKER));
        let rtmp_addr = if want_rtmp {
            let left = deadline.saturating_duration_since(Instant::now());
            proc.log.wait_for(left, find(RTMP_LISTEN_MARKER))
        } else {
            None
        };
        let Some(addr) = addr.filter(|_| rtmp_addr.is_some() || !want_rtmp) else {
            let status = proc.stop();
            proc.tail_shown = true;
            panic!(
                "rtmpsd did not report its listeners within {SERVER_START_TIMEOUT:?} \
                 (wanted {RTMPS_LISTEN_MARKER:?}{}); it exited with {status}; args {args:?}; \
                 stderr:\n{}",
                if want_rtmp {
                    format!(" and {RTMP_LISTEN_MARKER:?}")
                } else {
                    String::new()
                },
                proc.tail(100)
            );
        };
        ServerProcess {
            proc,
            addr,
            rtmp_addr,
        }
    }

    /// The TLS listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The plain RTMP listener's address, if one was requested.
    pub fn rtmp_addr(&self) -> Option<SocketAddr> {
        self.rtmp_addr
    }

    /// `rtmps://ADDR/<path>`, e.g. `rtmps_url("live/KEY")`.
    pub fn rtmps_url(&self, path: &str) -> String {
        format!("rtmps://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// `rtmp://RTMP_ADDR/<path>`; panics if there is no plain listener.
    pub fn rtmp_url(&self, path: &str) -> String {
        let addr = self
            .rtmp_addr
            .expect("server was started without --rtmp-listen");
        format!("rtmp://{}/{}", addr, path.trim_start_matches('/'))
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Whether any kept stderr line contains `needle`.
    pub fn log_contains(&self, needle: &str) -> bool {
        self.proc.log.contains(needle)
    }

    /// Waits up to `timeout` for a stderr line containing `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.proc
            .log
            .wait_for(timeout, |s| {
                s.lines
                    .iter()
                    .any(|l| l.text.contains(needle))
                    .then_some(())
            })
            .is_some()
    }

    /// The kept stderr lines (the last [`MAX_LOG_LINES`]).
    pub fn logs(&self) -> Vec<String> {
        self.proc.log.texts()
    }

    /// The kept stderr lines with their arrival times.
    pub fn timed_logs(&self) -> Vec<LogLine> {
        self.proc.log.timed()
    }

    /// Whether the server is still running.
    pub fn is_running(&mut self) -> bool {
        self.proc.try_status().is_none()
    }

    /// Stops the server now (SIGTERM, SIGKILL after [`KILL_GRACE`]) and returns how it ended.
    pub fn stop(mut self) -> ExitStatus {
        self.proc.stop()
    }

    /// Like [`ServerProcess::stop`], keeping the handle so its logs can still be read.
    pub fn stop_in_place(&mut self) -> ExitStatus {
        self.proc.stop()
    }
}

/// Video codec a [`Publisher`] encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoCodec {
    /// libx264, classic FLV codec id 7.
    H264,
    /// libx265, sent by ffmpeg 9 as enhanced RTMP (`hvc1` FourCC); not possible with 5.1.
    Hevc,
    /// libsvtav1, sent by ffmpeg 9 as enhanced RTMP (`av01` FourCC); not possible with 5.1.
    Av1,
}

/// Audio codec a [`Publisher`] encodes (with [`PublishOpts::audio`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AudioCodec {
    /// AAC, classic FLV sound format 10.
    Aac,
    /// libopus, sent by ffmpeg 9 as enhanced RTMP (`Opus` FourCC); not possible with 5.1.
    Opus,
}

/// What a [`Publisher`] sends.
#[derive(Clone, Debug)]
pub struct PublishOpts {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Frames per second; also the GOP length, so one keyframe a second.
    pub rate: u32,
    /// Media seconds to send (`-t`).
    pub seconds: f64,
    /// Video codec.
    pub codec: VideoCodec,
    /// Two B-frames between references (no zerolatency tune), so composition offsets occur.
    pub b_frames: bool,
    /// Include the 440 Hz tone.
    pub audio: bool,
    /// How the tone is encoded.
    pub audio_codec: AudioCodec,
    /// Send at real-time pace (`-re`); off sends as fast as the encoder goes.
    pub realtime: bool,
    /// More ffmpeg output options, placed before `-f flv URL`.
    pub extra_args: Vec<String>,
}

impl Default for PublishOpts {
    fn default() -> PublishOpts {
        PublishOpts {
            width: 320,
            height: 240,
            rate: 25,
            seconds: 5.0,
            codec: VideoCodec::H264,
            b_frames: false,
            audio: true,
            audio_codec: AudioCodec::Aac,
            realtime: true,
            extra_args: Vec::new(),
        }
    }
}

/// Another real client (GStreamer's gst-launch-1.0, librtmp's rtmpdump) run like the ffmpeg
/// ones: stderr kept, stopped by pid on drop.
pub struct Tool {
    proc: Proc,
}

impl Tool {
    /// Starts `program` (found on PATH) with `args`.
    pub fn start(program: &str, args: &[String]) -> Tool {
        let path = require_program(program);
        Tool {
            proc: Proc::spawn(program, &path, args),
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Waits up to `timeout` for it to finish on its own.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.proc.wait_exit(timeout)
    }

    /// Stops it now and returns how it ended.
    pub fn stop(&mut self) -> ExitStatus {
        self.proc.stop()
    }

    /// The kept stderr lines.
    pub fn logs(&self) -> Vec<String> {
        self.proc.log.texts()
    }
}

/// A running ffmpeg publisher; killed by pid on drop.
pub struct Publisher {
    proc: Proc,
    ffmpeg: Ffmpeg,
}

impl Publisher {
    /// The full ffmpeg argument list [`Publisher::start`] uses (without the program).
    pub fn args(ffmpeg: Ffmpeg, url: &str, opts: &PublishOpts) -> Vec<String> {
        let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let mut push = |items: &[&str]| a.extend(items.iter().map(|s| (*s).to_owned()));
        if opts.realtime {
            push(&["-re"]);
        }
        let video = format!(
            "testsrc2=size={}x{}:rate={}",
            opts.width, opts.height, opts.rate
        );
        push(&["-f", "lavfi", "-i", &video]);
        if opts.audio {
            push(&["-f", "lavfi", "-i", "sine=f=440:sample_rate=44100"]);
        }
        let gop = opts.rate.to_string();
        match opts.codec {
            VideoCodec::H264 => push(&["-c:v", "libx264", "-preset", "ultrafast"]),
            VideoCodec::Hevc => push(&[
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-x265-params",
                "log-level=error",
            ]),
            // SVT-AV1 has neither x264's tunes nor B-frame flags.
            VideoCodec::Av1 => push(&["-c:v", "libsvtav1", "-preset", "10"]),
        }
        if opts.codec != VideoCodec::Av1 {
            if opts.b_frames {
                push(&["-bf", "2"]);
            } else {
                push(&["-tune", "zerolatency", "-bf", "0"]);
            }
        }
        push(&["-g", &gop, "-pix_fmt", "yuv420p"]);
        if opts.audio {
            match opts.audio_codec {
                AudioCodec::Aac => push(&["-c:a", "aac", "-b:a", "64k", "-ar", "44100"]),
                AudioCodec::Opus => push(&["-c:a", "libopus", "-b:a", "64k", "-ar", "48000"]),
            }
        }
        let seconds = opts.seconds.to_string();
        push(&["-t", &seconds]);
        push(ffmpeg.url_tls_args(url));
        a.extend(opts.extra_args.iter().cloned());
        a.extend(
            ["-flvflags", "no_duration_filesize", "-f", "flv", url]
                .iter()
                .map(|s| (*s).to_owned()),
        );
        a
    }

    /// Starts publishing the test pattern (and tone) to `url`.
    ///
    /// Panics if `opts` asks for an enhanced RTMP codec (HEVC, AV1, Opus) and `ffmpeg`
    /// cannot mux it into FLV.
    pub fn start(ffmpeg: Ffmpeg, url: &str, opts: &PublishOpts) -> Publisher {
        let enhanced =
            opts.codec != VideoCodec::H264 || (opts.audio && opts.audio_codec == AudioCodec::Opus);
        if enhanced && !ffmpeg.supports_hevc_flv() {
            panic!(
                "{} cannot send HEVC, AV1 or Opus over RTMP (its flv muxer predates enhanced \
                 RTMP; asked for {:?} with {:?}); use Ffmpeg::Modern",
                ffmpeg.label(),
                opts.codec,
                opts.audio_codec
            );
        }
        let args = Publisher::args(ffmpeg, url, opts);
        let proc = Proc::spawn("publisher", &ffmpeg.path(), &args);
        Publisher { proc, ffmpeg }
    }

    /// Starts `ffmpeg` with exactly `args` (for publishers [`PublishOpts`] cannot describe,
    /// such as several video renditions).
    pub fn start_args(ffmpeg: Ffmpeg, args: &[String]) -> Publisher {
        let proc = Proc::spawn("publisher", &ffmpeg.path(), args);
        Publisher { proc, ffmpeg }
    }

    /// Which build this is.
    pub fn ffmpeg(&self) -> Ffmpeg {
        self.ffmpeg
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Whether ffmpeg is still running.
    pub fn is_running(&mut self) -> bool {
        self.proc.try_status().is_none()
    }

    /// Waits up to `timeout` for ffmpeg to finish on its own.
    pub fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.proc.wait_exit(timeout)
    }

    /// Stops ffmpeg now and returns how it ended.
    pub fn stop(&mut self) -> ExitStatus {
        self.proc.stop()
    }

    /// Waits up to `timeout` for a stderr line containing `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.proc
            .log
            .wait_for(timeout, |s| {
                s.lines
                    .iter()
                    .any(|l| l.text.contains(needle))
                    .then_some(())
            })
            .is_some()
    }

    /// The kept stderr lines.
    pub fn logs(&self) -> Vec<String> {
        self.proc.log.texts()
    }
}

/// How a [`Player`] reads.
#[derive(Clone, Debug)]
pub struct PlayOpts {
    /// Media seconds to decode before stopping (`-t`).
    pub seconds: f64,
    /// Socket read timeout (`-rw_timeout`): ends the player when the server goes quiet.
    ///
    /// Needed because ffmpeg keeps waiting after a live stream ends (5.1 forever).
    pub rw_timeout: Duration,
    /// More ffmpeg input options, placed before `-i URL` (e.g. `-fflags nobuffer`).
    pub extra_input_args: Vec<String>,
}

impl PlayOpts {
    /// Options for first-frame latency tests: no frame-rate probing and a minimal probe,
    /// so ffmpeg decodes the first packet at once (about 2 s sooner than the default),
    /// and TCP_NODELAY (on `rtmp://`, ffmpeg's commands otherwise wait ~40 ms each on Nagle).
    ///
    /// The input dump may then miss the audio stream (`audio_codec` is `None`).
    pub fn fast_start(seconds: f64) -> PlayOpts {
        let extra = [
            "-tcp_nodelay",
            "1",
            "-fpsprobesize",
            "0",
            "-analyzeduration",
            "0",
            "-probesize",
            "32",
        ];
        PlayOpts {
            seconds,
            extra_input_args: extra.iter().map(|s| (*s).to_owned()).collect(),
            ..PlayOpts::default()
        }
    }
}

impl Default for PlayOpts {
    fn default() -> PlayOpts {
        PlayOpts {
            seconds: 3.0,
            rw_timeout: Duration::from_secs(5),
            extra_input_args: Vec::new(),
        }
    }
}

/// A running ffmpeg player that decodes video through `showinfo`; killed by pid on drop.
pub struct Player {
    proc: Proc,
    ffmpeg: Ffmpeg,
    deadline: Instant,
}

impl Player {
    /// The full ffmpeg argument list [`Player::start_with`] uses (without the program).
    pub fn args(ffmpeg: Ffmpeg, url: &str, opts: &PlayOpts) -> Vec<String> {
        let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-nostats", "-loglevel", "info"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let micros = opts.rw_timeout.as_micros().max(1).to_string();
        a.extend(["-rw_timeout".to_owned(), micros]);
        a.extend(ffmpeg.url_tls_args(url).iter().map(|s| (*s).to_owned()));
        a.extend(opts.extra_input_args.iter().cloned());
        a.extend(["-i".to_owned(), url.to_owned()]);
        let seconds = opts.seconds.to_string();
        a.extend(
            ["-t", &seconds, "-vf", "showinfo", "-f", "null", "-"]
                .iter()
                .map(|s| (*s).to_owned()),
        );
        a
    }

    /// Starts decoding `seconds` of media from `url` with default options.
    pub fn start(ffmpeg: Ffmpeg, url: &str, seconds: f64) -> Player {
        let opts = PlayOpts {
            seconds,
            ..PlayOpts::default()
        };
        Player::start_with(ffmpeg, url, &opts)
    }

    /// Starts decoding from `url` with `opts`.
    pub fn start_with(ffmpeg: Ffmpeg, url: &str, opts: &PlayOpts) -> Player {
        let args = Player::args(ffmpeg, url, opts);
        Player::start_args(ffmpeg, &args, opts)
    }

    /// Starts `ffmpeg` with exactly `args` (e.g. one `showinfo` per video track); `opts` sets
    /// only the time budget.
    pub fn start_args(ffmpeg: Ffmpeg, args: &[String], opts: &PlayOpts) -> Player {
        let proc = Proc::spawn("player", &ffmpeg.path(), args);
        // ffmpeg 9 may wait out rw_timeout twice (TLS and TCP layers) after the stream ends.
        let budget = Duration::from_secs_f64(opts.seconds.max(0.0))
            + opts.rw_timeout * 3
            + Duration::from_secs(10);
        let deadline = proc.spawned_at + budget;
        Player {
            proc,
            ffmpeg,
            deadline,
        }
    }

    /// Which build this is.
    pub fn ffmpeg(&self) -> Ffmpeg {
        self.ffmpeg
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// When the process was spawned (the origin of [`PlayerReport::first_frame_after`]).
    pub fn started_at(&self) -> Instant {
        self.proc.spawned_at
    }

    /// Waits up to `timeout` for the first decoded frame; returns its delay since spawn.
    pub fn wait_first_frame(&self, timeout: Duration) -> Option<Duration> {
        let origin = self.proc.spawned_at;
        self.proc.log.wait_for(timeout, |s| {
            s.lines
                .iter()
                .find(|l| parse_showinfo(&l.text).is_some())
                .map(|l| l.at.saturating_duration_since(origin))
        })
    }

    /// The kept stderr lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.proc.log.texts()
    }

    /// Waits for ffmpeg to finish (killing it at its time budget) and parses what it printed.
    pub fn wait(mut self) -> PlayerReport {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let status = self.proc.wait_exit(left);
        let timed_out = status.is_none();
        let status = match status {
            Some(s) => s,
            None => self.proc.stop(),
        };
        self.report(status, timed_out)
    }

    /// Stops ffmpeg now (SIGTERM, then SIGKILL) and parses what it printed so far.
    pub fn stop(mut self) -> PlayerReport {
        let status = self.proc.stop();
        self.report(status, false)
    }

    fn report(&mut self, status: ExitStatus, timed_out: bool) -> PlayerReport {
        // The pipe closes when ffmpeg exits; give the reader a moment to drain it.
        self.proc.log.wait_closed(Duration::from_secs(2));
        let lines = self.proc.log.timed();
        let mut report = PlayerReport::parse_timed(&lines, self.proc.spawned_at);
        report.status = Some(status);
        report.timed_out = timed_out;
        report
    }
}

/// Picture type showinfo prints for a decoded frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PictType {
    /// Intra.
    I,
    /// Predicted.
    P,
    /// Bi-predicted.
    B,
    /// Anything else showinfo prints (`?`, `S`, `SI`, ...).
    Other,
}

/// One decoded video frame as reported by the showinfo filter.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// showinfo's frame counter, from 0.
    pub n: u64,
    /// Presentation time in seconds (ffmpeg shifts the stream start to 0 unless `-copyts`).
    pub pts_time: f64,
    /// Whether the decoder flagged a keyframe.
    pub iskey: bool,
    /// The picture type.
    pub kind: PictType,
    /// When the line arrived, relative to the player's spawn (zero for untimed parses).
    pub after: Duration,
}

/// What an ffmpeg player saw, parsed from its stderr.
#[derive(Clone, Debug, Default)]
pub struct PlayerReport {
    /// Input video codec name, e.g. `h264` or `hevc`.
    pub video_codec: Option<String>,
    /// Input video size (width, height).
    pub resolution: Option<(u32, u32)>,
    /// Input audio codec name, e.g. `aac`.
    pub audio_codec: Option<String>,
    /// Decoded video frames in output order.
    pub frames: Vec<Frame>,
    /// Delay from spawn to the first decoded frame (timed parses only).
    pub first_frame_after: Option<Duration>,
    /// How ffmpeg exited (set by [`Player::wait`]).
    pub status: Option<ExitStatus>,
    /// Whether the player had to be killed at its time budget.
    pub timed_out: bool,
    /// Every stderr line parsed.
    pub stderr: Vec<String>,
}

impl PlayerReport {
    /// Parses ffmpeg's stderr text (untimed).
    pub fn parse(stderr: &str) -> PlayerReport {
        let now = Instant::now();
        let lines: Vec<LogLine> = stderr
            .split(['\n', '\r'])
            .filter(|l| !l.is_empty())
            .map(|l| LogLine {
                at: now,
                text: l.to_owned(),
            })
            .collect();
        let mut r = PlayerReport::parse_timed(&lines, now);
        r.first_frame_after = None;
        r
    }

    /// Parses timestamped stderr lines; frame delays are measured from `origin`.
    pub fn parse_timed(lines: &[LogLine], origin: Instant) -> PlayerReport {
        let mut r = PlayerReport::default();
        for line in lines {
            let text = line.text.as_str();
            if let Some(mut f) = parse_showinfo(text) {
                f.after = line.at.saturating_duration_since(origin);
                if r.first_frame_after.is_none() {
                    r.first_frame_after = Some(f.after);
                }
                r.frames.push(f);
            } else if let Some((kind, desc)) = parse_stream_line(text) {
                // Input streams are dumped before output streams: keep the first of each.
                let codec = codec_name(desc);
                if kind == "Video" && r.video_codec.is_none() {
                    r.video_codec = codec;
                    r.resolution = find_resolution(desc);
                } else if kind == "Audio" && r.audio_codec.is_none() {
                    r.audio_codec = codec;
                }
            }
            r.stderr.push(line.text.clone());
        }
        r
    }

    /// Number of decoded video frames.
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// Number of decoded keyframes.
    pub fn key_frames(&self) -> usize {
        self.frames.iter().filter(|f| f.iskey).count()
    }

    /// Whether there was a first frame and it was a keyframe.
    pub fn first_frame_is_key(&self) -> bool {
        self.frames.first().is_some_and(|f| f.iskey)
    }

    /// Whether presentation times never go backwards (false if any is missing).
    pub fn pts_monotonic(&self) -> bool {
        self.frames
            .windows(2)
            .all(|w| w[1].pts_time >= w[0].pts_time)
    }

    /// Whether any decoded frame was a B-frame.
    pub fn has_b_frames(&self) -> bool {
        self.frames.iter().any(|f| f.kind == PictType::B)
    }

    /// Stderr lines that look like errors, for assertion messages.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .iter()
            .map(String::as_str)
            .filter(|l| {
                let l = l.to_ascii_lowercase();
                l.contains("error") || l.contains("invalid") || l.contains("failed")
            })
            .collect()
    }

    /// A few-line summary for assertion messages.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "video {:?} {:?}, audio {:?}, {} frames ({} key), first key {}, monotonic {}, \
             first frame after {:?}, status {:?}, timed out {}",
            self.video_codec,
            self.resolution,
            self.audio_codec,
            self.frames.len(),
            self.key_frames(),
            self.first_frame_is_key(),
            self.pts_monotonic(),
            self.first_frame_after,
            self.status,
            self.timed_out
        );
        let tail = &self.stderr[self.stderr.len().saturating_sub(15)..];
        for l in tail.iter().filter(|l| !l.contains("showinfo")) {
            let _ = write!(s, "\n  {l}");
        }
        s
    }
}

/// One stream of an ffmpeg input, as its `-i` dump lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputStream {
    /// `Video` or `Audio`.
    pub kind: String,
    /// Codec name, e.g. `h264`, `opus`.
    pub codec: String,
    /// Video size.
    pub resolution: Option<(u32, u32)>,
}

/// The streams of ffmpeg's input #0 dump (what ffprobe would list), in order; stops at the
/// output dump.
pub fn input_streams(stderr: &[String]) -> Vec<InputStream> {
    let mut streams = Vec::new();
    let mut in_input = false;
    for line in stderr {
        if line.starts_with("Input #0") {
            in_input = true;
        } else if line.starts_with("Output #") || line.starts_with("Stream mapping:") {
            in_input = false;
        } else if in_input {
            if let Some((kind, desc)) = parse_stream_line(line) {
                streams.push(InputStream {
                    kind: kind.to_owned(),
                    codec: codec_name(desc).unwrap_or_default(),
                    resolution: find_resolution(desc),
                });
            }
        }
    }
    streams
}

/// Decoded frames per `showinfo` filter instance (`Parsed_showinfo_N`), in output order.
pub fn showinfo_frames(stderr: &[String]) -> std::collections::BTreeMap<usize, Vec<Frame>> {
    let mut by_instance = std::collections::BTreeMap::new();
    for line in stderr {
        let Some(frame) = parse_showinfo(line) else {
            continue;
        };
        let instance = line
            .split("Parsed_showinfo_")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        by_instance
            .entry(instance)
            .or_insert_with(Vec::new)
            .push(frame);
    }
    by_instance
}

/// `  Stream #0:0: Video: h264 (...), ...` -> ("Video", "h264 (...), ...").
fn parse_stream_line(line: &str) -> Option<(&str, &str)> {
    let rest = &line[line.find("Stream #")? + "Stream #".len()..];
    for kind in ["Video", "Audio"] {
        let marker = format!(": {kind}: ");
        if let Some(i) = rest.find(&marker) {
            return Some((kind, &rest[i + marker.len()..]));
        }
    }
    None
}

fn codec_name(desc: &str) -> Option<String> {
    let name: String = desc
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// The first `WxH` word with non-zero sides (skips FourCC hex like `0x31637661`).
fn find_resolution(desc: &str) -> Option<(u32, u32)> {
    desc.split([' ', ',', '(', ')', '[', ']']).find_map(|word| {
        let (w, h) = word.split_once('x')?;
        if w.is_empty() || h.is_empty() {
            return None;
        }
        if !w.bytes().all(|b| b.is_ascii_digit()) || !h.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (w, h) = (w.parse::<u32>().ok()?, h.parse::<u32>().ok()?);
        (w > 0 && h > 0 && !word.starts_with('0')).then_some((w, h))
    })
}

/// The value after ` key:` (spaces allowed after the colon) up to the next space.
fn showinfo_field<'a>(rest: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!(" {key}:");
    let padded_at = if rest.starts_with(&pat[1..]) {
        Some(0)
    } else {
        rest.find(&pat).map(|i| i + 1)
    }?;
    let value = rest[padded_at + key.len() + 1..].trim_start();
    value.split_whitespace().next()
}

/// `[Parsed_showinfo_0 @ 0x..] n:   3 pts: 120 pts_time:0.12 ... iskey:0 type:P ...`
fn parse_showinfo(line: &str) -> Option<Frame> {
    let at = line.find("showinfo")?;
    let rest = &line[at..];
    let rest = rest[rest.find("] ")? + 2..].trim_start();
    if !rest.starts_with("n:") {
        return None;
    }
    let n = showinfo_field(rest, "n")?.parse().ok()?;
    // `NOPTS` becomes NaN, which makes pts_monotonic() false.
    let pts_time = showinfo_field(rest, "pts_time")?
        .parse()
        .unwrap_or(f64::NAN);
    let iskey = showinfo_field(rest, "iskey")? == "1";
    let kind = match showinfo_field(rest, "type") {
        Some("I") => PictType::I,
        Some("P") => PictType::P,
        Some("B") => PictType::B,
        _ => PictType::Other,
    };
    Some(Frame {
        n,
        pts_time,
        iskey,
        kind,
        after: Duration::ZERO,
    })
}
