//! What every connection shares: the hub, the settings in force, the counters, the
//! connection count per address, and the shutdown flag with the doorbells it rings.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::hub::{Doorbell, Hub};
use super::push_status::PushRegistry;
use super::recorder::RecordingRegistry;
use super::settings::{Settings, SettingsCell};
use super::stats::ServerStats;

/// State shared by the accept loop and every session.
pub struct Shared {
    /// The stream registry.
    pub hub: Hub,
    /// The settings new sessions start with.
    pub settings: SettingsCell,
    /// Server-wide counters.
    pub stats: ServerStats,
    /// The pushes to upstream servers running now.
    pub pushes: PushRegistry,
    /// The recordings and their counters (empty when recording is off).
    pub recordings: RecordingRegistry,
    /// When the server started (S1's epoch).
    pub started: Instant,
    stopping: AtomicBool,
    doorbells: Mutex<Vec<(u64, Arc<Doorbell>)>>,
    connections: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    players: AtomicUsize,
    next_id: AtomicU64,
}

/// Why a connection got no slot: the limit that was full and what was open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotRefused {
    /// `--max-connections-per-ip` was reached for this address.
    PerAddress {
        /// The address.
        ip: IpAddr,
        /// Connections open from it.
        open: usize,
        /// The limit.
        limit: usize,
    },
    /// `--max-connections` was reached.
    Total {
        /// Connections open.
        open: usize,
        /// The limit.
        limit: usize,
    },
}

impl std::fmt::Display for SlotRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SlotRefused::PerAddress { ip, open, limit } => write!(
                f,
                "connection limit per address reached: {open} open from {ip}, limit {limit}"
            ),
            SlotRefused::Total { open, limit } => {
                write!(f, "connection limit reached: {open} open, limit {limit}")
            }
        }
    }
}

impl Shared {
    /// Shared state around `hub`, starting with `settings`.
    pub fn new(hub: Hub, settings: Settings) -> Self {
        Shared {
            hub,
            settings: SettingsCell::new(settings),
            stats: ServerStats::default(),
            pushes: PushRegistry::default(),
            recordings: RecordingRegistry::default(),
            started: Instant::now(),
            stopping: AtomicBool::new(false),
            doorbells: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            players: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        }
    }

    /// Whether the server is stopping.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Marks the server as stopping without waking anyone (the accept loop does that).
    pub fn begin_stopping(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Marks the server as stopping and wakes every session so it notices.
    pub fn stop(&self) {
        self.begin_stopping();
        for (_, doorbell) in self.doorbells().iter() {
            doorbell.force();
        }
    }

    /// Registers a session's doorbell, rung on shutdown.
    pub fn add_doorbell(&self, id: u64, doorbell: Arc<Doorbell>) {
        self.doorbells().push((id, doorbell));
    }

    /// Forgets session `id`'s doorbell.
    pub fn remove_doorbell(&self, id: u64) {
        self.doorbells().retain(|(other, _)| *other != id);
    }

    /// A new session id.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Counts a connection from `ip` if the limits allow it.
    pub fn open_connection(
        &self,
        ip: IpAddr,
        max_total: usize,
        max_per_ip: usize,
    ) -> Result<(), SlotRefused> {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let from_ip = per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= max_per_ip {
            return Err(SlotRefused::PerAddress {
                ip,
                open: from_ip,
                limit: max_per_ip,
            });
        }
        let open = self.connections.fetch_add(1, Ordering::SeqCst);
        if open >= max_total {
            self.connections.fetch_sub(1, Ordering::SeqCst);
            return Err(SlotRefused::Total {
                open,
                limit: max_total,
            });
        }
        per_ip.insert(ip, from_ip + 1);
        Ok(())
    }

    /// Gives back a connection counted by `open_connection`.
    pub fn close_connection(&self, ip: IpAddr) {
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&ip);
            }
        }
        self.connections.fetch_sub(1, Ordering::SeqCst);
    }

    /// Counts a player if fewer than `limit` play; returns whether it was counted.
    pub fn open_player(&self, limit: usize) -> bool {
        self.players
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok()
    }

    /// Gives back a player counted by `open_player`.
    pub fn close_player(&self) {
        self.players.fetch_sub(1, Ordering::SeqCst);
    }

    fn doorbells(&self) -> MutexGuard<'_, Vec<(u64, Arc<Doorbell>)>> {
        self.doorbells.lock().unwrap_or_else(|p| p.into_inner())
    }
}
