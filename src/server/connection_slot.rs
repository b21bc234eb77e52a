//! A connection's place under the connection limits, and a player's under the player
//! limit, each given back when dropped.

use std::net::IpAddr;
use std::sync::Arc;

use super::shared::{Shared, SlotRefused};
use super::stats::Limit;

/// Counts a live connection, in total and for its source address; dropping it gives both back.
pub struct ConnectionSlot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl ConnectionSlot {
    /// Takes a slot for a connection from `ip`, or says which limit is full.
    pub fn take(shared: &Arc<Shared>, ip: IpAddr) -> Result<ConnectionSlot, SlotRefused> {
        let limits = shared.settings.load().limits;
        let taken =
            shared.open_connection(ip, limits.max_connections, limits.max_connections_per_ip);
        if let Err(refused) = &taken {
            shared.stats.hit(match refused {
                SlotRefused::PerAddress { .. } => Limit::MaxConnectionsPerIp,
                SlotRefused::Total { .. } => Limit::MaxConnections,
            });
        }
        taken.map(|()| ConnectionSlot {
            shared: shared.clone(),
            ip,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.shared.close_connection(self.ip);
    }
}

/// Counts a player connection under `--max-players`; dropping it gives the place back.
pub struct PlayerSlot {
    shared: Arc<Shared>,
}

impl PlayerSlot {
    /// Takes a player's place if fewer than `limit` play.
    pub fn take(shared: &Arc<Shared>, limit: usize) -> Option<PlayerSlot> {
        if shared.open_player(limit) {
            Some(PlayerSlot {
                shared: shared.clone(),
            })
        } else {
            shared.stats.hit(Limit::MaxPlayers);
            None
        }
    }
}

impl Drop for PlayerSlot {
    fn drop(&mut self) {
        self.shared.close_player();
    }
}
