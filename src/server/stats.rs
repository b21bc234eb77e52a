//! Server-wide counters: connections, bytes, refusals, close reasons and limit hits, as
//! atomics a metrics endpoint reads without touching the data path. Per-stream counters
//! live beside each stream in the hub (`hub::StreamStats`).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::close_reason::CloseReason;

/// What an open connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionRole {
    /// Handshaking, or connected without publishing or playing yet.
    Connecting,
    /// Publishing a stream.
    Publisher,
    /// Playing a stream.
    Player,
}

impl ConnectionRole {
    /// Every role, in counter order.
    pub const ALL: [ConnectionRole; 3] = [
        ConnectionRole::Connecting,
        ConnectionRole::Publisher,
        ConnectionRole::Player,
    ];

    /// The name used in metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionRole::Connecting => "connecting",
            ConnectionRole::Publisher => "publisher",
            ConnectionRole::Player => "player",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A bound the server enforced, for the limit-hit counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `--max-connections`.
    MaxConnections,
    /// `--max-connections-per-ip`.
    MaxConnectionsPerIp,
    /// `--max-players`.
    MaxPlayers,
    /// Players per stream.
    MaxPlayersPerStream,
    /// `--handshake-timeout-secs`.
    HandshakeTimeout,
    /// `--idle-timeout-secs`.
    IdleTimeout,
    /// `--slow-player-secs` with the player queue limits.
    SlowPlayer,
    /// `--gop-cache-kib`.
    GopCache,
    /// `--play-wait-secs`.
    PlayWait,
    /// A protocol limit of the core (message size, chunk streams, AMF, names, ...).
    Protocol,
}

impl Limit {
    /// Every limit, in counter order.
    pub const ALL: [Limit; 10] = [
        Limit::MaxConnections,
        Limit::MaxConnectionsPerIp,
        Limit::MaxPlayers,
        Limit::MaxPlayersPerStream,
        Limit::HandshakeTimeout,
        Limit::IdleTimeout,
        Limit::SlowPlayer,
        Limit::GopCache,
        Limit::PlayWait,
        Limit::Protocol,
    ];

    /// The name used in metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Limit::MaxConnections => "max_connections",
            Limit::MaxConnectionsPerIp => "max_connections_per_ip",
            Limit::MaxPlayers => "max_players",
            Limit::MaxPlayersPerStream => "max_players_per_stream",
            Limit::HandshakeTimeout => "handshake_timeout",
            Limit::IdleTimeout => "idle_timeout",
            Limit::SlowPlayer => "slow_player",
            Limit::GopCache => "gop_cache",
            Limit::PlayWait => "play_wait",
            Limit::Protocol => "protocol",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The server's counters.
#[derive(Default)]
pub struct ServerStats {
    accepted: AtomicU64,
    open: [AtomicUsize; 3],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    tls_handshake_failures: AtomicU64,
    closes: [AtomicU64; CloseReason::KINDS.len()],
    limit_hits: [AtomicU64; Limit::ALL.len()],
}

/// A copy of the server's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Connections accepted (given a session) since start.
    pub accepted: u64,
    /// Open connections by role, in `ConnectionRole::ALL` order.
    pub open: [usize; 3],
    /// Plaintext bytes received.
    pub bytes_in: u64,
    /// Plaintext bytes sent.
    pub bytes_out: u64,
    /// Connections that failed in their TLS handshake.
    pub tls_handshake_failures: u64,
    /// Closed connections by reason, in `CloseReason::KINDS` order.
    pub closes: [u64; CloseReason::KINDS.len()],
    /// Limit hits, in `Limit::ALL` order.
    pub limit_hits: [u64; Limit::ALL.len()],
}

impl ServerStats {
    /// Counts an accepted connection, which starts out connecting.
    pub fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.open_as(ConnectionRole::Connecting);
    }

    /// Counts a connection now open in `role`.
    pub fn open_as(&self, role: ConnectionRole) {
        if let Some(n) = self.open.get(role.index()) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a connection no longer open in `role`.
    pub fn left(&self, role: ConnectionRole) {
        if let Some(n) = self.open.get(role.index()) {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Counts plaintext bytes received.
    pub fn add_bytes_in(&self, n: usize) {
        self.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts plaintext bytes sent.
    pub fn add_bytes_out(&self, n: usize) {
        self.bytes_out.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts a hit of `limit`.
    pub fn hit(&self, limit: Limit) {
        if let Some(n) = self.limit_hits.get(limit.index()) {
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a closed connection by its reason (and the limit it hit, if any).
    pub fn closed(&self, reason: &CloseReason) {
        if let Some(n) = self.closes.get(reason.index()) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        if reason.failed_tls_handshake() {
            self.tls_handshake_failures.fetch_add(1, Ordering::Relaxed);
        }
        match reason {
            CloseReason::HandshakeTimeout { .. } => self.hit(Limit::HandshakeTimeout),
            CloseReason::IdleTimeout { .. } => self.hit(Limit::IdleTimeout),
            CloseReason::SlowPlayer(_) => self.hit(Limit::SlowPlayer),
            CloseReason::PlayWaitTimeout { .. } => self.hit(Limit::PlayWait),
            CloseReason::Protocol(_) | CloseReason::Reply(_) => self.hit(Limit::Protocol),
            _ => {}
        }
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            accepted: self.accepted.load(Ordering::Relaxed),
            open: self.open.each_ref().map(|n| n.load(Ordering::Relaxed)),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            tls_handshake_failures: self.tls_handshake_failures.load(Ordering::Relaxed),
            closes: self.closes.each_ref().map(|n| n.load(Ordering::Relaxed)),
            limit_hits: self
                .limit_hits
                .each_ref()
                .map(|n| n.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn roles_move_and_closes_count_their_kind_and_limit() {
        let stats = ServerStats::default();
        stats.accepted();
        stats.left(ConnectionRole::Connecting);
        stats.open_as(ConnectionRole::Player);
        stats.closed(&CloseReason::IdleTimeout {
            limit: Duration::from_secs(30),
        });
        stats.closed(&CloseReason::PlainOnTlsPort);
        let s = stats.snapshot();
        assert_eq!(s.accepted, 1);
        assert_eq!(s.open, [0, 0, 1]);
        assert_eq!(s.closes[5], 1, "idle timeout");
        assert_eq!(s.closes[3], 1, "plain rtmp on the tls port");
        assert_eq!(s.tls_handshake_failures, 1);
        assert_eq!(s.limit_hits[Limit::IdleTimeout.index()], 1);
    }

    #[test]
    fn counter_orders_match_the_enums() {
        for (i, role) in ConnectionRole::ALL.iter().enumerate() {
            assert_eq!(role.index(), i);
        }
        for (i, limit) in Limit::ALL.iter().enumerate() {
            assert_eq!(limit.index(), i);
        }
    }
}
