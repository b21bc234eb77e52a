//! The servers under test, started on loopback and stopped by pid, and what `/proc` says
//! about them.
//!
//! - rtmpsd: this crate's release binary, through `common::Server`, with the connection
//!   limits raised for the player count (the defaults, 256 and 32 per address, would refuse
//!   most players on loopback, where they all come from 127.0.0.1).
//! - nginx-rtmp: `benches/peers/nginx-rtmps` with the bench template
//!   `benches/peers/nginx-rtmps-bench.conf` (one worker, TLS in nginx's `stream` block in
//!   front of the `rtmp` block); it daemonizes, so the master pid comes from its pid file
//!   and the worker is found as the master's child.
//! - Node-Media-Server: `benches/peers/nms-rtmps`, which execs node, so its pid is our child's.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rtmpsd::client::RtmpUrl;

use crate::Cipher;
use crate::common::{PUBLISH_KEY, Server, TempDir};
use crate::machine_load::ticks_per_sec;

/// Which server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// This crate's server.
    Rtmpsd,
    /// nginx-rtmp behind nginx `stream` TLS.
    Nginx,
    /// Node-Media-Server.
    Nms,
}

impl Kind {
    /// Its name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rtmpsd => "rtmpsd",
            Kind::Nginx => "nginx-rtmp",
            Kind::Nms => "node-media-server",
        }
    }

    /// Parses `rtmpsd`, `nginx` or `nms`.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "rtmpsd" => Some(Kind::Rtmpsd),
            "nginx" | "nginx-rtmp" => Some(Kind::Nginx),
            "nms" | "node-media-server" => Some(Kind::Nms),
            _ => None,
        }
    }
}

/// How a server was started, for stopping it.
enum Handle {
    Rtmpsd(Box<Server>),
    /// nginx's master pid (not our child: it daemonized) and its prefix.
    Nginx {
        master: u32,
        _prefix: TempDir,
    },
    Nms {
        child: Child,
        _prefix: TempDir,
    },
}

/// A running server under test.
pub struct Running {
    /// Which.
    pub kind: Kind,
    /// Where to publish.
    pub url: RtmpUrl,
    /// Where to play (rtmpsd plays a stream's name, not its publish key).
    pub play_url: RtmpUrl,
    handle: Handle,
    /// What it logged, for the report when something fails.
    pub log: PathBuf,
}

/// A free TCP port on 127.0.0.1 (closed again; the server binds it next).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn bench_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches")
}

/// Waits until something accepts on `port`.
fn wait_listening(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    while Instant::now() < deadline {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

fn url(port: u16, name: &str) -> RtmpUrl {
    RtmpUrl {
        tls: true,
        host: "127.0.0.1".into(),
        port,
        app: "live".into(),
        name: name.into(),
    }
}

/// Starts `kind` for `players` players with `cipher` preferred.
pub fn start(kind: Kind, cipher: Cipher, players: usize) -> Result<Running, String> {
    match kind {
        Kind::Rtmpsd => {
            // Loopback players all come from 127.0.0.1: raise both connection limits, and
            // the player limit (by default an eighth of the connections is kept for publishers).
            let cap = (players + 16).max(64).to_string();
            let max_players = players.max(1).to_string();
            let extra: Vec<String> = [
                "--cipher-order",
                cipher.name(),
                "--max-connections",
                &cap,
                "--max-connections-per-ip",
                &cap,
                "--max-players",
                &max_players,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let server = Server::start("fanout", &extra, &[])?;
            let (url, play_url) = (server.url(), server.play_url());
            Ok(Running {
                kind,
                url,
                play_url,
                handle: Handle::Rtmpsd(Box::new(server)),
                log: PathBuf::from("(stderr, counted)"),
            })
        }
        Kind::Nginx => {
            let prefix = TempDir::new("nginx");
            let (tls_port, plain_port) = (free_port()?, free_port()?);
            let suites = match cipher {
                Cipher::Aes => {
                    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
                }
                Cipher::Chacha => {
                    "TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
                }
            };
            let ciphers12 = match cipher {
                Cipher::Aes => "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305",
                Cipher::Chacha => "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256",
            };
            let out = Command::new(bench_dir().join("peers/nginx-rtmps"))
                .args([tls_port.to_string(), plain_port.to_string()])
                .arg(prefix.path())
                .env(
                    "NGINX_RTMPS_CONF",
                    bench_dir().join("peers/nginx-rtmps-bench.conf"),
                )
                .env("NGINX_RTMPS_CIPHERSUITES", suites)
                .env("NGINX_RTMPS_CIPHERS", ciphers12)
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| format!("cannot run benches/peers/nginx-rtmps: {e}"))?;
            let master: u32 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .map_err(|_| format!("nginx-rtmps failed ({}); is nginx installed?", out.status))?;
            let log = prefix.path().join("error.log");
            let running = Running {
                kind,
                url: url(tls_port, PUBLISH_KEY),
                play_url: url(tls_port, PUBLISH_KEY),
                handle: Handle::Nginx {
                    master,
                    _prefix: prefix,
                },
                log,
            };
            if !wait_listening(tls_port, Duration::from_secs(10)) {
                return Err("nginx is not listening after 10 s".into());
            }
            Ok(running)
        }
        Kind::Nms => {
            let prefix = TempDir::new("nms");
            let port = free_port()?;
            let log = prefix.path().join("nms.log");
            let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
            let child = Command::new(bench_dir().join("peers/nms-rtmps"))
                .arg(port.to_string())
                .arg(prefix.path())
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().map_err(|e| e.to_string())?)
                .stderr(log_file)
                .spawn()
                .map_err(|e| format!("cannot run benches/peers/nms-rtmps: {e}"))?;
            let running = Running {
                kind,
                url: url(port, PUBLISH_KEY),
                play_url: url(port, PUBLISH_KEY),
                handle: Handle::Nms {
                    child,
                    _prefix: prefix,
                },
                log,
            };
            if !wait_listening(port, Duration::from_secs(30)) {
                let tail = std::fs::read_to_string(&running.log).unwrap_or_default();
                return Err(format!(
                    "node-media-server is not listening after 30 s: {tail}"
                ));
            }
            Ok(running)
        }
    }
}

impl Running {
    /// The pids whose CPU and memory count: the server and, for nginx, its workers.
    pub fn pids(&self) -> Vec<u32> {
        match &self.handle {
            Handle::Rtmpsd(s) => vec![s.pid()],
            Handle::Nginx { master, .. } => {
                let mut pids = vec![*master];
                pids.extend(children(*master));
                pids
            }
            Handle::Nms { child, .. } => vec![child.id()],
        }
    }

    /// Whether it still runs.
    pub fn alive(&mut self) -> bool {
        match &mut self.handle {
            Handle::Rtmpsd(s) => s.is_running(),
            Handle::Nginx { master, .. } => Path::new(&format!("/proc/{master}")).exists(),
            Handle::Nms { child, .. } => matches!(child.try_wait(), Ok(None)),
        }
    }

    /// Warning lines rtmpsd logged (0 for the peers: see their log files).
    pub fn warnings(&self) -> u64 {
        match &self.handle {
            Handle::Rtmpsd(s) => s.log().warnings.load(std::sync::atomic::Ordering::Relaxed),
            _ => 0,
        }
    }

    /// Stops it by pid: SIGTERM, then SIGKILL after 5 s, for every pid it started.
    pub fn stop(&mut self) {
        match &mut self.handle {
            Handle::Rtmpsd(s) => {
                s.stop();
            }
            Handle::Nginx { master, .. } => {
                let mut pids = vec![*master];
                pids.extend(children(*master));
                stop_pids(&pids);
            }
            Handle::Nms { child, .. } => {
                stop_pids(&[child.id()]);
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal(pid: u32, sig: i32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) touches no memory; every pid here is one this benchmark started.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Whether `pid` is gone (or a zombie waiting for its parent).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_fields(&stat).first().is_some_and(|s| *s == "Z"),
        Err(_) => true,
    }
}

fn stop_pids(pids: &[u32]) {
    for &pid in pids {
        signal(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !pids.iter().all(|&p| gone(p)) {
        thread::sleep(Duration::from_millis(20));
    }
    for &pid in pids {
        if !gone(pid) {
            signal(pid, libc::SIGKILL);
        }
    }
}

/// Fields of /proc/pid/stat after the command name (field 3, the state, comes first).
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default()
}

/// Processes whose parent is `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| stat_fields(&s).get(1).and_then(|pp| pp.parse::<u32>().ok()))
                == Some(pid)
        })
        .collect()
}

/// User plus system CPU seconds of `pids` (all their threads, live and exited).
pub fn cpu_secs(pids: &[u32]) -> f64 {
    let ticks: u64 = pids
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .map(|s| {
            let f = stat_fields(&s);
            // utime and stime are fields 14 and 15; f[0] is field 3.
            let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            get(11) + get(12)
        })
        .sum();
    ticks as f64 / ticks_per_sec()
}

/// A `/proc/pid/status` field in its unit (kB for memory), summed over `pids`.
pub fn status_sum(pids: &[u32], field: &str) -> u64 {
    pids.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum()
}

/// Reads a child's stdout line by line into a channel, so waits can time out.
pub fn lines(child: &mut Child) -> crossbeam_channel::Receiver<String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    if let Some(out) = child.stdout.take() {
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// Stops a child of ours by pid (SIGTERM, then SIGKILL) and reaps it.
pub fn stop_child(child: &mut Child) {
    if matches!(child.try_wait(), Ok(None)) {
        stop_pids(&[child.id()]);
    }
    let _ = child.wait();
}
