//! Command-line flags and the validated configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use argh::FromArgs;

use crate::key_spec::{PublishKey, StreamPlayKey, check_key, check_name};
use crate::push_spec::PushTarget;
use crate::rtmp::amf0::AmfLimits;
use crate::rtmp::chunk::ChunkLimits;
use crate::rtmp::session::SessionConfig;

/// rtmpsd: RTMPS ingest and fan-out server for small boards.
#[derive(FromArgs, Debug, Clone, Default)]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Args {
    /// TOML config file: every option below is a key of the same name with `_` for `-`
    /// (streams and their keys as [[stream]] tables); options given here override it, and
    /// SIGHUP reads it again (see rtmpsd.example.toml)
    #[argh(option)]
    pub config: Option<PathBuf>,
    /// check FILE as --config would read it with the options given here, print the
    /// effective settings (keys masked) and exit: 0 when it is valid, 2 when not
    #[argh(option)]
    pub check_config: Option<PathBuf>,
    /// board profile whose limits and cipher order are the defaults: pi-zero2w-aarch64,
    /// pi-zero2w-armv7, pi3-aarch64, pi3-armv7, pi4-aarch64, pi4-armv7, pi5-aarch64, x86-64
    #[argh(option)]
    pub board: Option<String>,
    /// address of the RTMPS (TLS) listener (default [::]:1936: IPv6 and IPv4, or 0.0.0.0:1936
    /// on a host without IPv6)
    #[argh(option)]
    pub listen: Option<SocketAddr>,
    /// address of a plain-RTMP listener; off unless given
    #[argh(option)]
    pub rtmp_listen: Option<SocketAddr>,
    /// PEM certificate chain; without it a self-signed certificate is made in --state-dir
    #[argh(option)]
    pub cert: Option<PathBuf>,
    /// PEM private key for --cert
    #[argh(option)]
    pub key: Option<PathBuf>,
    /// folder for the generated certificate and publish key (default ./rtmpsd-state)
    #[argh(option)]
    pub state_dir: Option<PathBuf>,
    /// NAME=KEY: KEY publishes the stream NAME, played as live/NAME (repeatable); a bare KEY
    /// publishes the stream named `stream`; without any, one is made and kept in --state-dir
    #[argh(option)]
    pub publish_key: Vec<PublishKey>,
    /// key players must give as `?key=` after the stream name (repeatable); playing is open without
    #[argh(option)]
    pub play_key: Vec<String>,
    /// file with publish keys, one `[NAME=]KEY` per line (`#` starts a comment); keeps keys off
    /// the command line
    #[argh(option)]
    pub publish_keys_file: Option<PathBuf>,
    /// file with play keys, one per line, like --publish-keys-file
    #[argh(option)]
    pub play_keys_file: Option<PathBuf>,
    /// most connections at once (default 256)
    #[argh(option)]
    pub max_connections: Option<usize>,
    /// most connections from one source address (default 32)
    #[argh(option)]
    pub max_connections_per_ip: Option<usize>,
    /// most player connections at once, below --max-connections so publishers always have
    /// room (default: --max-connections less an eighth, at least 1, kept for publishers)
    #[argh(option)]
    pub max_players: Option<usize>,
    /// seconds a player may wait for a stream that is not live before it gets
    /// NetStream.Play.StreamNotFound and is closed (default 30)
    #[argh(option)]
    pub play_wait_secs: Option<u64>,
    /// application name publishers and players use, as in rtmps://HOST/APP/NAME (repeatable;
    /// default live)
    #[argh(option)]
    pub app: Vec<String>,
    /// on: a publisher with a valid key for a live stream takes it over at once (a camera
    /// that reconnects before its old connection timed out); off: it is refused (default on)
    #[argh(option)]
    pub publisher_takeover: Option<Switch>,
    /// log level: error, warn, info, debug, trace (default info; RUST_LOG overrides)
    #[argh(option)]
    pub log: Option<String>,
    /// TLS cipher preference enforced on clients: chacha (no AES instructions) or aes (default aes)
    #[argh(option)]
    pub cipher_order: Option<CipherOrder>,
    /// bytes of the current GOP kept per stream for instant start, in KiB (default 4096)
    #[argh(option)]
    pub gop_cache_kib: Option<usize>,
    /// messages queued per player before it drops video (default 128, about 2 s of a stream)
    #[argh(option)]
    pub player_queue: Option<usize>,
    /// bytes queued per player before it drops video, in KiB (default 8192)
    #[argh(option)]
    pub player_queue_kib: Option<usize>,
    /// seconds a player may stay behind before it is disconnected (default 10)
    #[argh(option)]
    pub slow_player_secs: Option<u64>,
    /// seconds allowed for the TLS and RTMP handshakes and `connect` (default 10)
    #[argh(option)]
    pub handshake_timeout_secs: Option<u64>,
    /// seconds a publisher may send nothing before it is disconnected (default 30)
    #[argh(option)]
    pub idle_timeout_secs: Option<u64>,
    /// largest RTMP message accepted, in KiB, up to 16383 (default 8192)
    #[argh(option)]
    pub max_message_kib: Option<u32>,
    /// encrypted bytes one connection may hold unsent before it waits for its peer, in KiB,
    /// at least 16 (default 256)
    #[argh(option)]
    pub tls_out_kib: Option<usize>,
    /// NAME=URL: push the local stream NAME (its public name, not its key) to the upstream
    /// rtmps://host[:port]/app/key whenever it is live (repeatable; rtmp:// only if written)
    // Taken as text and parsed in `Config::from_args`: argh would quote a bad value, key and
    // all, in its error.
    #[argh(option)]
    pub push: Vec<String>,
    /// PEM file of CA certificates trusted for every push, besides the system's roots
    #[argh(option)]
    pub push_ca_file: Option<PathBuf>,
    /// seconds an upstream may take to accept a push (connect, TLS, RTMP, publish), or stay
    /// without taking data or acknowledging it, before the push reconnects (default 10)
    #[argh(option)]
    pub push_timeout_secs: Option<u64>,
    /// stack size of each session thread, in KiB (default 256)
    #[argh(option)]
    pub worker_stack_kib: Option<usize>,
    /// record every stream into this folder as FLV segments, DIR/APP/STREAM/START.flv
    /// (START in UTC); off unless given
    #[argh(option)]
    pub record_dir: Option<PathBuf>,
    /// seconds per recorded segment; the next one starts at the first keyframe after
    /// (default 600)
    #[argh(option)]
    pub record_segment_secs: Option<u64>,
    /// most MiB of recordings kept in --record-dir, the oldest segments deleted first (default:
    /// what the disk holds, keeping 5% of it free, at most 1 GiB)
    #[argh(option)]
    pub record_max_mib: Option<u64>,
    /// hours a recorded segment is kept before it is deleted (default: until the budget
    /// needs its room)
    #[argh(option)]
    pub record_keep_hours: Option<u64>,
    /// print the version and exit
    #[argh(switch, short = 'V')]
    pub version: bool,
    /// address of the HTTP listener for /metrics, /api/v1/streams and the status page;
    /// off unless given
    #[argh(option)]
    pub http_listen: Option<SocketAddr>,
    /// token the HTTP listener requires (`Authorization: Bearer TOKEN` or `?token=TOKEN`);
    /// needed when --http-listen is not a loopback address
    #[argh(option)]
    pub http_token: Option<String>,
    /// file whose first line is the HTTP token, like --http-token but off the command line
    #[argh(option)]
    pub http_token_file: Option<PathBuf>,
}

/// The default RTMPS listener: every address, IPv6 and (dual-stack) IPv4.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), 1936);

/// Largest `--max-message-kib`: the RTMP message length field is 24 bits.
const MAX_MESSAGE_KIB: u32 = 16_383;

/// Chunk limits for messages of up to `max_message_kib`: the reassembly budget is one
/// largest message plus 1 MiB for the other chunk streams' small ones, as in the default.
fn chunk_limits(max_message_kib: u32) -> ChunkLimits {
    let max_message_len = max_message_kib * 1024;
    ChunkLimits {
        max_message_len,
        max_buffered_bytes: max_message_len as usize + (1 << 20),
        ..ChunkLimits::default()
    }
}

/// Shortest HTTP token accepted.
pub const MIN_HTTP_TOKEN_LEN: usize = 12;
/// Longest HTTP token accepted.
pub const MAX_HTTP_TOKEN_LEN: usize = 128;

/// The operator's HTTP listener: where, and the token it requires (if any).
#[derive(Clone)]
pub struct HttpSettings {
    /// Listener address.
    pub listen: SocketAddr,
    /// The token every request must carry; `None` only on a loopback address.
    pub token: Option<String>,
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a secret: say only whether there is one.
        f.debug_struct("HttpSettings")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Checks the HTTP flags: a token is required off loopback, and must look like one.
fn http_settings(
    listen: Option<SocketAddr>,
    token: Option<String>,
    token_file: Option<&std::path::Path>,
) -> Result<Option<HttpSettings>, String> {
    let token = match (token, token_file) {
        (Some(_), Some(_)) => return Err("give --http-token or --http-token-file, not both".into()),
        (Some(t), None) => Some(t),
        (None, Some(path)) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(text.lines().next().unwrap_or_default().trim().to_string())
        }
        (None, None) => None,
    };
    let Some(listen) = listen else {
        if token.is_some() {
            return Err("--http-token and --http-token-file need --http-listen".into());
        }
        return Ok(None);
    };
    if let Some(token) = &token {
        // URL-unreserved characters only, so `?token=` needs no escaping on a phone.
        if !(MIN_HTTP_TOKEN_LEN..=MAX_HTTP_TOKEN_LEN).contains(&token.len())
            || !token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return Err(format!(
                "the http token must be {MIN_HTTP_TOKEN_LEN}-{MAX_HTTP_TOKEN_LEN} characters \
                 from A-Z, a-z, 0-9 and - . _ ~"
            ));
        }
    }
    if token.is_none() && !listen.ip().to_canonical().is_loopback() {
        return Err(format!(
            "--http-listen {listen} is not a loopback address: give --http-token or \
             --http-token-file too, or anyone who reaches it sees the streams and publishers"
        ));
    }
    Ok(Some(HttpSettings { listen, token }))
}

/// Which AEAD the server prefers, whatever order the client offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherOrder {
    /// ChaCha20-Poly1305 first: for cores without AES instructions (Cortex-A53/A72 on Pi boards).
    ChaCha,
    /// AES-GCM first: for cores with AES instructions (Cortex-A76, x86-64).
    Aes,
}

impl FromStr for CipherOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "chacha" | "chacha20" => Ok(CipherOrder::ChaCha),
            "aes" | "aes-gcm" => Ok(CipherOrder::Aes),
            other => Err(format!("unknown cipher order {other:?}: use chacha or aes")),
        }
    }
}

/// An on/off flag value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

impl FromStr for Switch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "on" | "true" | "yes" => Ok(Switch::On),
            "off" | "false" | "no" => Ok(Switch::Off),
            other => Err(format!("{other:?} is not on or off")),
        }
    }
}

/// Local recording, when `--record-dir` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordConfig {
    /// The folder recordings go to.
    pub dir: PathBuf,
    /// Media time per segment.
    pub segment: Duration,
    /// Bytes of recordings kept; `None`: what the disk holds, less what is kept free.
    pub max_bytes: Option<u64>,
    /// How long a segment is kept, if limited.
    pub keep: Option<Duration>,
}

/// Default `--record-segment-secs`.
pub const DEFAULT_RECORD_SEGMENT_SECS: u64 = 600;

/// Every bound the server enforces, in one place.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections at once.
    pub max_connections: usize,
    /// Most connections from one source address.
    pub max_connections_per_ip: usize,
    /// Time for the TLS and RTMP handshakes and `connect` together.
    pub handshake_timeout: Duration,
    /// Time a publisher may stay silent.
    pub idle_timeout: Duration,
    /// Bytes of GOP kept per stream.
    pub gop_cache_bytes: usize,
    /// Messages queued per player.
    pub player_queue_len: usize,
    /// Bytes queued per player.
    pub player_queue_bytes: usize,
    /// Time a player may stay behind before it is cut off.
    pub slow_player: Duration,
    /// Players per stream.
    pub max_players_per_stream: usize,
    /// Player connections in all.
    pub max_players: usize,
    /// Time a player may wait for a stream that is not live.
    pub play_wait: Duration,
    /// Plaintext bytes read from the socket per step (the worker's fixed input buffer).
    pub read_buffer: usize,
    /// Encrypted bytes a session may hold unsent.
    pub tls_out_bytes: usize,
    /// Stack size of each session thread.
    pub worker_stack: usize,
    /// Time an upstream may take to accept a push, or stay without taking data.
    pub push_timeout: Duration,
    /// Protocol limits for each session.
    pub session: SessionConfig,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            max_connections_per_ip: 32,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            gop_cache_bytes: 4 << 20,
            player_queue_len: 128,
            player_queue_bytes: 8 << 20,
            slow_player: Duration::from_secs(10),
            max_players_per_stream: 224,
            max_players: 224,
            play_wait: Duration::from_secs(30),
            // Plenty for a publisher at tens of Mbit/s; a player's input is a few acks.
            read_buffer: 8 * 1024,
            tls_out_bytes: 256 * 1024,
            worker_stack: 256 * 1024,
            push_timeout: Duration::from_secs(10),
            session: SessionConfig::default(),
        }
    }
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    /// RTMPS listener.
    pub listen: SocketAddr,
    /// Plain RTMP listener, if the operator asked for one.
    pub rtmp_listen: Option<SocketAddr>,
    /// Certificate chain and key files, if given.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// State folder.
    pub state_dir: PathBuf,
    /// Publish keys and their streams (empty: use or make the stored one).
    pub publish_keys: Vec<PublishKey>,
    /// Play keys for every stream (with `stream_play_keys` empty too: playing is open).
    pub play_keys: Vec<String>,
    /// Play keys for one stream each, from the config file's `[[stream]]` tables.
    pub stream_play_keys: Vec<StreamPlayKey>,
    /// Cipher preference.
    pub cipher_order: CipherOrder,
    /// Log filter.
    pub log: String,
    /// Application names accepted.
    pub apps: Vec<String>,
    /// Whether a new publisher takes a live stream over.
    pub takeover: bool,
    /// The board profile whose defaults were used, if one was named.
    pub board: Option<String>,
    /// Pushes to upstream servers.
    pub pushes: Vec<PushTarget>,
    /// CA certificates trusted for every push, besides the system's.
    pub push_ca_file: Option<PathBuf>,
    /// Local recording, if on.
    pub record: Option<RecordConfig>,
    /// Streams kept out of the recording (`record = false` in their `[[stream]]` table).
    pub recording_off: Vec<String>,
    /// Every limit.
    pub limits: Limits,
    /// The operator's HTTP listener, if asked for.
    pub http: Option<HttpSettings>,
}

impl Config {
    /// Checks the flags and turns them into a configuration; an option not given takes its
    /// default (the board profile's and the config file's have been filled in before).
    pub fn from_args(args: Args) -> Result<Config, String> {
        let listen = args.listen.unwrap_or(DEFAULT_LISTEN);
        let state_dir = args
            .state_dir
            .unwrap_or_else(|| PathBuf::from("rtmpsd-state"));
        let max_connections = args.max_connections.unwrap_or(256);
        let max_connections_per_ip = args.max_connections_per_ip.unwrap_or(32);
        let play_wait_secs = args.play_wait_secs.unwrap_or(30);
        let takeover = args.publisher_takeover.unwrap_or(Switch::On) == Switch::On;
        let log = args.log.unwrap_or_else(|| String::from("info"));
        let cipher_order = args.cipher_order.unwrap_or(CipherOrder::Aes);
        let gop_cache_kib = args.gop_cache_kib.unwrap_or(4096);
        let player_queue = args.player_queue.unwrap_or(128);
        let player_queue_kib = args.player_queue_kib.unwrap_or(8192);
        let slow_player_secs = args.slow_player_secs.unwrap_or(10);
        let handshake_timeout_secs = args.handshake_timeout_secs.unwrap_or(10);
        let idle_timeout_secs = args.idle_timeout_secs.unwrap_or(30);
        let max_message_kib = args.max_message_kib.unwrap_or(8192);
        let tls_out_kib = args.tls_out_kib.unwrap_or(256);
        let worker_stack_kib = args.worker_stack_kib.unwrap_or(256);
        let cert = match (args.cert, args.key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err("--cert and --key go together".into()),
        };
        let positive = |name: &str, v: u64| {
            if v == 0 {
                Err(format!("--{name} must be above 0"))
            } else {
                Ok(v)
            }
        };
        positive("max-connections", max_connections as u64)?;
        positive("max-connections-per-ip", max_connections_per_ip as u64)?;
        positive("player-queue", player_queue as u64)?;
        positive("handshake-timeout-secs", handshake_timeout_secs)?;
        positive("idle-timeout-secs", idle_timeout_secs)?;
        positive("slow-player-secs", slow_player_secs)?;
        if worker_stack_kib < 64 {
            return Err("--worker-stack-kib must be at least 64".into());
        }
        // The message length field has 24 bits: 16 MiB - 1 is the most any peer can declare.
        if !(1..=MAX_MESSAGE_KIB).contains(&max_message_kib) {
            return Err(format!(
                "--max-message-kib must be in 1..={MAX_MESSAGE_KIB}"
            ));
        }
        if tls_out_kib < 16 {
            return Err("--tls-out-kib must be at least 16 (one TLS record)".into());
        }
        let mut publish_keys = args.publish_key;
        if let Some(path) = &args.publish_keys_file {
            for line in read_keys(path)? {
                publish_keys.push(
                    line.parse()
                        .map_err(|e| format!("{}: {e}", path.display()))?,
                );
            }
        }
        let mut play_keys = args.play_key;
        if let Some(path) = &args.play_keys_file {
            play_keys.extend(read_keys(path)?);
        }
        for key in &play_keys {
            check_key(key).map_err(|e| format!("play key: {e}"))?;
        }
        check_keys_are_not_names(&publish_keys, &play_keys)?;
        let apps = if args.app.is_empty() {
            vec![DEFAULT_APP.to_string()]
        } else {
            args.app
        };
        for app in &apps {
            check_name(app).map_err(|e| format!("--app: {e}"))?;
        }
        // Publishers keep an eighth of the connections (at least one).
        let reserve = (max_connections / 8).max(1);
        let max_players = args
            .max_players
            .unwrap_or(max_connections.saturating_sub(reserve).max(1));
        if max_players == 0 || (max_players >= max_connections && max_connections > 1) {
            return Err(format!(
                "--max-players {max_players} must be in 1..{}: below --max-connections {}, \
                 so publishers always have room",
                max_connections, max_connections
            ));
        }
        positive("play-wait-secs", play_wait_secs)?;
        let push_timeout_secs = args.push_timeout_secs.unwrap_or(10);
        positive("push-timeout-secs", push_timeout_secs)?;
        let pushes = args
            .push
            .iter()
            .map(|p| p.parse::<PushTarget>())
            .collect::<Result<Vec<_>, _>>()?;
        let http = http_settings(
            args.http_listen,
            args.http_token,
            args.http_token_file.as_deref(),
        )?;
        let session = SessionConfig {
            chunk: chunk_limits(max_message_kib),
            amf: AmfLimits::default(),
            ..SessionConfig::default()
        };
        let limits = Limits {
            max_connections,
            max_connections_per_ip,
            handshake_timeout: Duration::from_secs(handshake_timeout_secs),
            idle_timeout: Duration::from_secs(idle_timeout_secs),
            gop_cache_bytes: kib("gop-cache-kib", gop_cache_kib)?,
            player_queue_len: player_queue,
            player_queue_bytes: kib("player-queue-kib", player_queue_kib)?,
            slow_player: Duration::from_secs(slow_player_secs),
            max_players_per_stream: max_players,
            max_players,
            play_wait: Duration::from_secs(play_wait_secs),
            worker_stack: kib("worker-stack-kib", worker_stack_kib)?,
            tls_out_bytes: kib("tls-out-kib", tls_out_kib)?,
            push_timeout: Duration::from_secs(push_timeout_secs),
            session,
            ..Limits::default()
        };
        let record = record_config(
            args.record_dir,
            args.record_segment_secs,
            args.record_max_mib,
            args.record_keep_hours,
        )?;
        Ok(Config {
            listen,
            rtmp_listen: args.rtmp_listen,
            cert,
            state_dir,
            publish_keys,
            play_keys,
            stream_play_keys: Vec::new(),
            cipher_order,
            log,
            apps,
            takeover,
            board: args.board,
            pushes,
            push_ca_file: args.push_ca_file,
            record,
            recording_off: Vec::new(),
            limits,
            http,
        })
    }
}

/// `kib` KiB in bytes; a value too large for this machine is an error naming `--flag`.
fn kib(flag: &str, kib: usize) -> Result<usize, String> {
    kib.checked_mul(1024)
        .ok_or_else(|| format!("--{flag} {kib} is too large"))
}

impl Config {
    /// Refuses pushes of streams no key can publish (`names`): they would never go live.
    pub fn check_pushes(&self, names: &[String]) -> Result<(), String> {
        for push in &self.pushes {
            let app_served = match push.stream.split_once('/') {
                Some((app, _)) => self.apps.iter().any(|a| a == app),
                None => true,
            };
            if !app_served || !names.iter().any(|n| n == push.stream_name()) {
                return Err(format!(
                    "push of {}: no such stream (streams: {}; apps: {})",
                    push.stream,
                    names.join(", "),
                    self.apps.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// The application name used when none is configured.
pub const DEFAULT_APP: &str = "live";

/// Refuses a publish or play key that is also a stream name: names are public.
fn check_keys_are_not_names(publish: &[PublishKey], play: &[String]) -> Result<(), String> {
    let is_name = |key: &str| publish.iter().any(|p| p.stream == key);
    for (i, entry) in publish.iter().enumerate() {
        if is_name(&entry.key) {
            return Err(format!(
                "publish key {} (for stream {}) is also a stream name: names are public, \
                 so that key would be too",
                i + 1,
                entry.stream
            ));
        }
    }
    if play.iter().any(|k| is_name(k)) {
        return Err("a play key is also a stream name: names are public".into());
    }
    Ok(())
}

/// The recording flags checked: the others need `--record-dir`, and none may be 0.
fn record_config(
    dir: Option<PathBuf>,
    segment_secs: Option<u64>,
    max_mib: Option<u64>,
    keep_hours: Option<u64>,
) -> Result<Option<RecordConfig>, String> {
    let Some(dir) = dir else {
        if segment_secs.is_some() || max_mib.is_some() || keep_hours.is_some() {
            return Err(
                "--record-segment-secs, --record-max-mib and --record-keep-hours \
                        need --record-dir"
                    .into(),
            );
        }
        return Ok(None);
    };
    if dir.as_os_str().is_empty() {
        return Err("--record-dir must name a folder".into());
    }
    // A day at most: the segment's length is counted in 32-bit milliseconds.
    let segment_secs = segment_secs.unwrap_or(DEFAULT_RECORD_SEGMENT_SECS);
    if !(1..=86_400).contains(&segment_secs) {
        return Err(format!(
            "--record-segment-secs {segment_secs} must be in 1..=86400"
        ));
    }
    if max_mib == Some(0) {
        return Err("--record-max-mib must be above 0".into());
    }
    if keep_hours == Some(0) {
        return Err("--record-keep-hours must be above 0".into());
    }
    Ok(Some(RecordConfig {
        dir,
        segment: Duration::from_secs(segment_secs),
        max_bytes: max_mib.map(|mib| mib.saturating_mul(1 << 20)),
        keep: keep_hours.map(|h| Duration::from_secs(h.saturating_mul(3600))),
    }))
}

/// Reads keys from a file: one per line, blank lines and `#` comments skipped.
fn read_keys(path: &std::path::Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let keys: Vec<String> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    if keys.is_empty() {
        return Err(format!("{}: no keys in it", path.display()));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let args = Args::from_args(&["rtmpsd"], args).map_err(|e| e.output)?;
        Config::from_args(args)
    }

    #[test]
    fn defaults_listen_on_every_address_port_1936_with_no_plain_listener() {
        let config = parse(&[]).unwrap();
        assert_eq!(config.listen, "[::]:1936".parse().unwrap());
        assert!(config.rtmp_listen.is_none());
        assert!(config.publish_keys.is_empty());
    }

    #[test]
    fn version_is_a_switch_with_a_short_form() {
        for flag in ["--version", "-V"] {
            let args = Args::from_args(&["rtmpsd"], &[flag]).expect(flag);
            assert!(args.version, "{flag}");
        }
        assert!(!Args::from_args(&["rtmpsd"], &[]).unwrap().version);
    }

    #[test]
    fn help_comes_with_dash_h_too_and_exits_successfully() {
        for flag in ["-h", "--help", "help"] {
            let early = Args::from_args(&["rtmpsd"], &[flag]).expect_err(flag);
            assert!(early.status.is_ok(), "{flag} is no error");
            assert!(
                early.output.contains("--listen"),
                "{flag}: {}",
                early.output
            );
            assert!(
                early.output.contains("--version"),
                "{flag}: {}",
                early.output
            );
        }
    }

    #[test]
    fn keys_files_add_one_key_per_line_and_skip_comments() {
        let path = std::env::temp_dir().join(format!("rtmpsd-keys-file-{}", std::process::id()));
        std::fs::write(&path, "# cameras\nalpha\n\n  beta  # the spare\n").unwrap();
        let file = path.to_str().unwrap();
        let config = parse(&["--publish-key", "gamma", "--publish-keys-file", file]).unwrap();
        let keys: Vec<&str> = config.publish_keys.iter().map(|k| k.key.as_str()).collect();
        assert_eq!(keys, vec!["gamma", "alpha", "beta"]);
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(
            parse(&["--play-keys-file", file])
                .unwrap_err()
                .contains("no keys")
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn bad_keys_and_half_given_certificates_are_refused() {
        assert!(parse(&["--publish-key", "a?b"]).is_err());
        assert!(parse(&["--play-key", "a&b"]).is_err());
        assert!(
            parse(&["--publish-key", "cam=cam"]).is_err(),
            "a key that is a name"
        );
        assert!(parse(&["--publish-key", "cam=k", "--play-key", "cam"]).is_err());
        assert!(parse(&["--app", "li/ve"]).is_err());
        assert!(parse(&["--publish-key", ""]).is_err());
        assert!(parse(&["--cert", "c.pem"]).is_err());
        assert!(parse(&["--max-connections", "0"]).is_err());
        assert!(parse(&["--cipher-order", "des"]).is_err());
    }

    #[test]
    fn publish_keys_name_their_stream_and_bare_keys_publish_stream() {
        let config = parse(&["--publish-key", "cam1=k1", "--publish-key", "k2"]).unwrap();
        let pairs: Vec<(&str, &str)> = config
            .publish_keys
            .iter()
            .map(|k| (k.stream.as_str(), k.key.as_str()))
            .collect();
        assert_eq!(pairs, [("cam1", "k1"), ("stream", "k2")]);
        assert_eq!(config.apps, ["live"]);
        assert!(config.takeover);
        assert!(!parse(&["--publisher-takeover", "off"]).unwrap().takeover);
    }

    #[test]
    fn players_leave_room_for_publishers() {
        let limits = parse(&[]).unwrap().limits;
        assert_eq!((limits.max_players, limits.play_wait.as_secs()), (224, 30));
        assert_eq!(
            parse(&["--max-connections", "3"])
                .unwrap()
                .limits
                .max_players,
            2
        );
        assert!(parse(&["--max-connections", "3", "--max-players", "3"]).is_err());
        assert_eq!(
            parse(&["--max-players", "10"])
                .unwrap()
                .limits
                .max_players_per_stream,
            10
        );
    }

    #[test]
    fn default_chunk_limits_are_the_cores_defaults() {
        assert_eq!(chunk_limits(8192), ChunkLimits::default());
    }

    #[test]
    fn reassembly_budget_grows_with_the_message_limit() {
        let limits = parse(&["--max-message-kib", "16383"]).unwrap().limits;
        let chunk = limits.session.chunk;
        assert_eq!(chunk.max_message_len, 16_383 * 1024);
        // One whole largest message must fit in the reassembly budget.
        assert!(chunk.max_buffered_bytes >= chunk.max_message_len as usize);
    }

    #[test]
    fn message_limit_stops_at_what_the_length_field_can_carry() {
        assert!(parse(&["--max-message-kib", "16383"]).is_ok());
        assert!(parse(&["--max-message-kib", "16384"]).is_err());
        assert!(parse(&["--max-message-kib", "0"]).is_err());
    }

    #[test]
    fn pushes_are_repeatable_and_their_keys_stay_out_of_errors() {
        let config = parse(&[
            "--push",
            "cam=rtmps://a.rtmps.youtube.com/live2/yt-secret",
            "--push",
            "cam=rtmp://origin.example/live/origin-secret",
            "--push-ca-file",
            "/etc/ca.pem",
        ])
        .unwrap();
        assert_eq!(config.pushes.len(), 2);
        assert_eq!(config.pushes[1].url.port, 1935);
        assert_eq!(config.push_ca_file, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(config.limits.push_timeout, Duration::from_secs(10));
        assert!(!format!("{config:?}").contains("secret"));
        let err = parse(&["--push", "cam=ftp://h/a/yt-secret"]).unwrap_err();
        assert!(err.contains("rtmps://"), "{err}");
        assert!(!err.contains("yt-secret"), "{err}");
        assert!(parse(&["--push-timeout-secs", "0"]).is_err());
    }

    #[test]
    fn recording_is_off_unless_a_folder_is_given_and_its_flags_need_one() {
        assert_eq!(parse(&[]).unwrap().record, None);
        let record = parse(&["--record-dir", "/rec"]).unwrap().record.unwrap();
        assert_eq!(record.dir, PathBuf::from("/rec"));
        assert_eq!(record.segment, Duration::from_secs(600));
        assert_eq!((record.max_bytes, record.keep), (None, None));
        let record = parse(&[
            "--record-dir",
            "/rec",
            "--record-segment-secs",
            "60",
            "--record-max-mib",
            "2",
            "--record-keep-hours",
            "3",
        ])
        .unwrap()
        .record
        .unwrap();
        assert_eq!(record.segment, Duration::from_secs(60));
        assert_eq!(record.max_bytes, Some(2 << 20));
        assert_eq!(record.keep, Some(Duration::from_secs(3 * 3600)));
        assert!(
            parse(&["--record-max-mib", "5"]).is_err(),
            "needs --record-dir"
        );
        assert!(parse(&["--record-dir", "/rec", "--record-max-mib", "0"]).is_err());
        assert!(parse(&["--record-dir", "/rec", "--record-segment-secs", "0"]).is_err());
        assert!(parse(&["--record-dir", "/rec", "--record-segment-secs", "86401"]).is_err());
        assert!(parse(&["--record-dir", "/rec", "--record-keep-hours", "0"]).is_err());
    }

    #[test]
    fn http_listener_is_off_by_default_and_open_on_loopback() {
        assert!(parse(&[]).unwrap().http.is_none());
        let http = parse(&["--http-listen", "127.0.0.1:8080"]).unwrap().http;
        let http = http.expect("http settings");
        assert_eq!(http.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert!(http.token.is_none());
        assert!(parse(&["--http-listen", "[::1]:8080"]).is_ok());
    }

    #[test]
    fn http_listener_off_loopback_needs_a_token() {
        let err = parse(&["--http-listen", "0.0.0.0:8080"]).unwrap_err();
        assert!(err.contains("not a loopback address"), "{err}");
        assert!(err.contains("--http-token"), "{err}");
        assert!(parse(&["--http-listen", "[::ffff:10.0.0.1]:80"]).is_err());
        let http = parse(&[
            "--http-listen",
            "0.0.0.0:8080",
            "--http-token",
            "correct-horse-9",
        ])
        .unwrap()
        .http
        .unwrap();
        assert_eq!(http.token.as_deref(), Some("correct-horse-9"));
        // The token never shows in debug output.
        assert!(!format!("{http:?}").contains("correct-horse"));
    }

    #[test]
    fn http_tokens_are_checked_and_read_from_their_file() {
        let listen = ["--http-listen", "0.0.0.0:8080"];
        let with = |extra: &[&str]| parse(&[&listen[..], extra].concat());
        assert!(with(&["--http-token", "short"]).is_err());
        assert!(with(&["--http-token", "has a space in it"]).is_err());
        assert!(with(&["--http-token", "needs&escaping"]).is_err());
        assert!(with(&["--http-token", "Fine-token_1.2~"]).is_ok());
        assert!(
            parse(&["--http-token", "correct-horse-9"]).is_err(),
            "token without listener"
        );
        let path = std::env::temp_dir().join(format!("rtmpsd-http-token-{}", std::process::id()));
        std::fs::write(&path, "from-the-file-42\nignored\n").unwrap();
        let file = path.to_str().unwrap();
        let http = with(&["--http-token-file", file]).unwrap().http.unwrap();
        assert_eq!(http.token.as_deref(), Some("from-the-file-42"));
        assert!(with(&["--http-token-file", file, "--http-token", "correct-horse-9"]).is_err());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn tls_out_limit_is_a_flag_of_at_least_one_record() {
        let limits = parse(&["--tls-out-kib", "32"]).unwrap().limits;
        assert_eq!(limits.tls_out_bytes, 32 * 1024);
        assert_eq!(parse(&[]).unwrap().limits.tls_out_bytes, 256 * 1024);
        assert!(parse(&["--tls-out-kib", "15"]).is_err());
    }
}
