//! Soak: one reconnecting publisher, steady players and churning players for 30 minutes;
//! the server's RSS, threads and open fds must come back to the idle baseline.
//!
//! Not run in CI. `cargo bench --bench soak` runs the full 30 minutes;
//! `SOAK_SECS=120 cargo bench --bench soak` a short one. Other knobs (environment):
//! `SOAK_WARMUP_SECS` (60), `SOAK_PLAYERS` (50), `SOAK_CHURN_THREADS` (8), `SOAK_KBPS` (3000),
//! `SOAK_RECONNECT_SECS` (60), `SOAK_RSS_MARGIN_KIB` (1024), `SOAK_SAMPLE_SECS` (60).
//!
//! Phases: start the server and read its cold idle figures; warm up under the full load,
//! let every client leave and take the idle baseline; run the soak, printing a row every
//! minute; let every client leave and compare with the baseline. Threads and fds must be
//! back exactly; RSS within the margin (a 1 KiB leak per connection would exceed the
//! default margin within the 5 000+ connections of a full run), and the per-minute RSS
//! under load must not trend upwards. Exit status 1 on a miss.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::{
    LogCounts, PlayCounts, ProcSample, PublishCounts, PublishPlan, Rng, Server, env_u64, host_line,
    sample, spawn, wait_until,
};
use rtmpsd::client::{Client, ClientOptions, RtmpUrl};

/// Frames a second of the publisher.
const FPS: u32 = 25;
/// Keyframe interval in frames (2 s).
const GOP: u32 = 50;
/// Per-minute samples needed before the RSS trend under load is judged.
const MIN_TREND_SAMPLES: usize = 10;
/// Largest RSS growth under load accepted, in KiB per minute: a leak of 128 bytes per
/// connection at the ~265 connections a minute of the default load would exceed it.
const MAX_TREND_KIB_PER_MIN: f64 = 32.0;
/// Longest wait for the server to be idle again after the clients left.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Every knob of one run.
struct Settings {
    soak: Duration,
    warmup: Duration,
    players: u64,
    churners: u64,
    kbps: u32,
    reconnect: Duration,
    rss_margin_kib: u64,
    sample_every: Duration,
}

impl Settings {
    fn from_env() -> Settings {
        let soak = env_u64("SOAK_SECS", 1800).max(10);
        Settings {
            soak: Duration::from_secs(soak),
            warmup: Duration::from_secs(env_u64("SOAK_WARMUP_SECS", 60.min(soak / 2))),
            players: env_u64("SOAK_PLAYERS", 50),
            churners: env_u64("SOAK_CHURN_THREADS", 8),
            kbps: env_u64("SOAK_KBPS", 3000) as u32,
            reconnect: Duration::from_secs(env_u64("SOAK_RECONNECT_SECS", 60).max(1)),
            rss_margin_kib: env_u64("SOAK_RSS_MARGIN_KIB", 1024),
            sample_every: Duration::from_secs(env_u64("SOAK_SAMPLE_SECS", 60).max(1)),
        }
    }
}

/// Counters of one load phase.
#[derive(Default)]
struct LoadCounts {
    publisher: PublishCounts,
    steady: PlayCounts,
    churn: PlayCounts,
    /// Churn connections that left right after `connect`, without playing.
    quick_leaves: AtomicU64,
    /// Churn cycles finished.
    churn_cycles: AtomicU64,
}

/// The running clients of one phase.
struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<LoadCounts>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts the publisher, then the steady players, then the churn threads; all end by `until`.
    fn start(url: &RtmpUrl, play_url: &RtmpUrl, s: &Settings, until: Instant, seed: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(LoadCounts::default());
        let mut threads = Vec::new();
        let plan = PublishPlan {
            fps: FPS,
            gop: GOP,
            kbps: s.kbps,
            // Reconnect on a keyframe boundary, as an encoder restarting its GOP does.
            frames_per_session: Some(
                ((s.reconnect.as_secs() as u32 * FPS).div_ceil(GOP) * GOP).max(GOP),
            ),
        };
        {
            let (url, stop, counts) = (url.clone(), stop.clone(), counts.clone());
            threads.push(spawn("publisher".into(), move || {
                common::publish(&url, plan, &stop, until, &counts.publisher)
            }));
        }
        wait_until(Duration::from_secs(10), || {
            counts.publisher.sessions.load(Ordering::Relaxed) > 0
        });
        for i in 0..s.players {
            let (url, stop, counts) = (play_url.clone(), stop.clone(), counts.clone());
            threads.push(spawn(format!("steady-{i}"), move || {
                // A steady player that is dropped comes back (and the drop is counted).
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    common::play(&url, &stop, until, &counts.steady);
                    thread::sleep(Duration::from_millis(100));
                }
            }));
        }
        for i in 0..s.churners {
            let (url, stop, counts) = (play_url.clone(), stop.clone(), counts.clone());
            threads.push(spawn(format!("churn-{i}"), move || {
                let mut rng = Rng::new(seed ^ (i + 1));
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    if rng.below(10) == 0 {
                        // Connect (TLS, RTMP handshake, `connect`) and leave at once.
                        if Client::connect(&url, &ClientOptions::insecure()).is_ok() {
                            counts.quick_leaves.fetch_add(1, Ordering::Relaxed);
                        } else {
                            counts.churn.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    } else {
                        let play_for = Duration::from_millis(1000 + rng.below(2001));
                        common::play(&url, &stop, Instant::now() + play_for, &counts.churn);
                    }
                    counts.churn_cycles.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        Load {
            stop,
            counts,
            threads,
        }
    }

    /// Tells every client to leave and waits for their threads (each wait is bounded by the
    /// clients' 5 s timeouts).
    fn finish(self) -> Arc<LoadCounts> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        self.counts
    }
}

fn get(c: &AtomicU64) -> u64 {
    c.load(Ordering::Relaxed)
}

fn print_header() {
    println!(
        "{:>6}  {:>9}  {:>7}  {:>5}  {:>9}  {:>9}  {:>12}  {:>5}  {:>7}  {:>6}",
        "t s",
        "rss KiB",
        "threads",
        "fds",
        "srv conn",
        "srv close",
        "steady frm",
        "gaps",
        "churn",
        "pub"
    );
}

fn print_row(label: &str, p: ProcSample, log: &LogCounts, c: &LoadCounts) {
    println!(
        "{label:>6}  {:>9}  {:>7}  {:>5}  {:>9}  {:>9}  {:>12}  {:>5}  {:>7}  {:>6}",
        p.rss_kib,
        p.threads,
        p.fds,
        LogCounts::get(&log.connected),
        LogCounts::get(&log.closed),
        get(&c.steady.frames),
        get(&c.steady.gaps) + get(&c.churn.gaps),
        get(&c.churn_cycles),
        get(&c.publisher.sessions),
    );
}

/// Waits until threads and fds are back at `idle` (or the timeout); returns the sample.
fn wait_idle(pid: u32, idle: ProcSample) -> ProcSample {
    let mut last = idle;
    wait_until(DRAIN_TIMEOUT, || match sample(pid) {
        Ok(p) => {
            last = p;
            p.threads == idle.threads && p.fds == idle.fds
        }
        Err(_) => false,
    });
    // Let the allocator settle after the last sessions freed their memory.
    thread::sleep(Duration::from_secs(2));
    sample(pid).unwrap_or(last)
}

/// Wall-clock milliseconds, to line samples up with other logs.
fn unix_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Least-squares slope of RSS over time, in KiB per minute.
fn slope_kib_per_min(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(a, b), (x, y)| {
        (a + (x - mx) * (y - my), b + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den * 60.0 }
}

fn main() {
    let s = Settings::from_env();
    let run_started = Instant::now();
    println!("# rtmpsd soak");
    println!("host: {}", host_line());
    println!(
        "load: 1 publisher ({} kbit/s video, {FPS} fps, keyframe every {GOP}, reconnect every {}s), \
         {} steady players, {} churn threads (play 1-3 s, 1 in 10 leave right after connect)",
        s.kbps,
        s.reconnect.as_secs(),
        s.players,
        s.churners
    );
    println!(
        "soak {}s after a {}s warm-up; RSS margin {} KiB; sample every {}s",
        s.soak.as_secs(),
        s.warmup.as_secs(),
        s.rss_margin_kib,
        s.sample_every.as_secs()
    );
    let cap = (s.players + s.churners + 64).to_string();
    let extra: Vec<String> = ["--max-connections", &cap, "--max-connections-per-ip", &cap]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let mut server = match Server::start("soak", &extra, &[]) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(2);
        }
    };
    let pid = server.pid();
    println!(
        "server: {} pid {pid} {}",
        server.program().display(),
        extra.join(" ")
    );
    thread::sleep(Duration::from_secs(1));
    let cold = sample(pid).expect("read /proc of the server");
    println!(
        "cold idle: rss {} KiB, threads {}, fds {}",
        cold.rss_kib, cold.threads, cold.fds
    );

    let url = server.url();
    let play_url = server.play_url();
    let warm = Load::start(
        &url,
        &play_url,
        &s,
        Instant::now() + s.warmup + DRAIN_TIMEOUT,
        1,
    );
    thread::sleep(s.warmup);
    let under_warmup = sample(pid).unwrap_or(cold);
    let warm_counts = warm.finish();
    let baseline = wait_idle(pid, cold);
    println!(
        "warm-up: {} steady frames, {} churn cycles, rss under load {} KiB, threads {}",
        get(&warm_counts.steady.frames),
        get(&warm_counts.churn_cycles),
        under_warmup.rss_kib,
        under_warmup.threads
    );
    println!(
        "idle baseline (after warm-up, all clients gone): rss {} KiB, threads {}, fds {} \
         (unix ms {})",
        baseline.rss_kib,
        baseline.threads,
        baseline.fds,
        unix_ms()
    );
    let log_before = (
        LogCounts::get(&server.log().connected),
        LogCounts::get(&server.log().closed),
    );

    println!();
    print_header();
    let soak_started = Instant::now();
    let soak_end = soak_started + s.soak;
    let load = Load::start(&url, &play_url, &s, soak_end + DRAIN_TIMEOUT, 2);
    let mut points = Vec::new();
    let mut next_sample = soak_started + s.sample_every;
    let mut server_died = false;
    while Instant::now() < soak_end {
        let now = Instant::now();
        let wake = next_sample.min(soak_end);
        thread::sleep(wake.saturating_duration_since(now));
        if !server.is_running() {
            server_died = true;
            break;
        }
        if Instant::now() >= next_sample {
            let t = soak_started.elapsed().as_secs_f64();
            if let Ok(p) = sample(pid) {
                points.push((t, p.rss_kib as f64));
                print_row(&format!("{t:.0}"), p, server.log(), &load.counts);
            }
            next_sample += s.sample_every;
        }
    }
    let under_load = sample(pid).unwrap_or(baseline);
    print_row("end", under_load, server.log(), &load.counts);
    let counts = load.finish();
    let after = wait_idle(pid, baseline);
    print_row("idle", after, server.log(), &counts);
    println!("(idle row taken at unix ms {})", unix_ms());

    // The log reader may be a moment behind the last closes.
    wait_until(Duration::from_secs(5), || {
        LogCounts::get(&server.log().connected) == LogCounts::get(&server.log().closed)
    });
    let connects = LogCounts::get(&server.log().connected) - log_before.0;
    let closes = LogCounts::get(&server.log().closed) - log_before.1;
    let client_sessions = get(&counts.publisher.sessions)
        + get(&counts.steady.sessions)
        + get(&counts.churn.sessions)
        + get(&counts.quick_leaves);
    let sent = get(&counts.publisher.frames);
    let steady_frames = get(&counts.steady.frames);
    let gaps = get(&counts.steady.gaps) + get(&counts.churn.gaps);
    let minutes = s.soak.as_secs_f64() / 60.0;
    println!();
    println!(
        "publisher: {sent} frames in {} sessions ({} failed attempts)",
        get(&counts.publisher.sessions),
        get(&counts.publisher.failures)
    );
    println!(
        "steady players: {steady_frames} frames received of {} sent x {} players ({:.2}%), \
         {} sessions, {} dropped",
        sent,
        s.players,
        100.0 * steady_frames as f64 / (sent * s.players).max(1) as f64,
        get(&counts.steady.sessions),
        get(&counts.steady.errors)
    );
    println!(
        "churn: {} cycles ({} played, {} left after connect, {} errors), {} frames",
        get(&counts.churn_cycles),
        get(&counts.churn.sessions),
        get(&counts.quick_leaves),
        get(&counts.churn.errors),
        get(&counts.churn.frames)
    );
    println!(
        "connections: server logged {connects} connects and {closes} closes during the soak \
         ({:.0} per minute); clients completed {client_sessions} sessions and made {} failed \
         publish attempts; {} refused at a limit; {} WARN and {} ERROR lines in all",
        connects as f64 / minutes,
        get(&counts.publisher.failures),
        LogCounts::get(&server.log().refused),
        LogCounts::get(&server.log().warnings),
        LogCounts::get(&server.log().errors)
    );
    for line in server
        .log()
        .kept
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
    {
        println!("  server: {line}");
    }
    println!(
        "rss trend under load: {:+.1} KiB/min over {} samples",
        slope_kib_per_min(&points),
        points.len()
    );

    let mut failed = server_died;
    let mut verdict = |ok: bool, what: String| {
        println!("verdict: {} {what}", if ok { "OK  " } else { "FAIL" });
        failed |= !ok;
    };
    verdict(!server_died, "server ran to the end".into());
    verdict(
        after.threads == baseline.threads,
        format!(
            "threads back to baseline: {} -> {} under load -> {}",
            baseline.threads, under_load.threads, after.threads
        ),
    );
    verdict(
        after.fds == baseline.fds,
        format!(
            "fds back to baseline: {} -> {} under load -> {}",
            baseline.fds, under_load.fds, after.fds
        ),
    );
    verdict(
        after.rss_kib <= baseline.rss_kib + s.rss_margin_kib,
        format!(
            "rss back to baseline within {} KiB: {} KiB -> {} KiB under load -> {} KiB ({:+} KiB)",
            s.rss_margin_kib,
            baseline.rss_kib,
            under_load.rss_kib,
            after.rss_kib,
            after.rss_kib as i64 - baseline.rss_kib as i64
        ),
    );
    verdict(
        connects == closes,
        format!("every connection closed: {connects} connects, {closes} closes"),
    );
    let wanted = (5000.0 * s.soak.as_secs_f64() / 1800.0) as u64;
    verdict(
        connects >= wanted,
        format!("at least {wanted} connects for this length ({connects})"),
    );
    verdict(
        get(&counts.steady.errors) == 0,
        format!("no steady player dropped ({})", get(&counts.steady.errors)),
    );
    verdict(gaps == 0, format!("no frame gaps ({gaps})"));
    if points.len() >= MIN_TREND_SAMPLES {
        let slope = slope_kib_per_min(&points);
        verdict(
            slope <= MAX_TREND_KIB_PER_MIN,
            format!(
                "rss flat under load: {slope:+.1} KiB/min over {} samples (limit {MAX_TREND_KIB_PER_MIN:+.0})",
                points.len()
            ),
        );
    }
    let stopped = server.stop();
    println!(
        "server stopped: {stopped:?}; run took {:.1} min",
        run_started.elapsed().as_secs_f64() / 60.0
    );
    // exit() runs no destructors: drop the server first so its state dir goes too.
    drop(server);
    if failed {
        std::process::exit(1);
    }
}
