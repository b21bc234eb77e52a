//! How busy the machine is, from /proc/stat: the fan-out and codec benchmarks wait for a
//! quiet second before they measure, and report the machine's load beside their rows.
//!
//! Included by `benches/fanout/main.rs` and by `benches/codec.rs` (`#[path]`).

use std::thread;
use std::time::{Duration, Instant};

/// Clock ticks a second (`_SC_CLK_TCK`).
pub fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf reads a constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// Busy CPU seconds of the whole machine so far (all cores; from /proc/stat).
pub fn machine_busy_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .enumerate()
        // user nice system idle iowait irq softirq steal: all but idle and iowait.
        .filter(|(i, _)| !matches!(i, 3 | 4) && *i < 8)
        .filter_map(|(_, v)| v.parse::<u64>().ok())
        .sum();
    ticks as f64 / ticks_per_sec()
}

/// Waits (at most `max`) until the machine was under `busy` CPU (fraction of one core) for
/// one second; returns the last second's figure.
pub fn wait_quiet(busy: f64, max: Duration) -> f64 {
    let deadline = Instant::now() + max;
    loop {
        let b0 = machine_busy_secs();
        thread::sleep(Duration::from_secs(1));
        let used = machine_busy_secs() - b0;
        if used < busy || Instant::now() >= deadline {
            return used;
        }
    }
}
