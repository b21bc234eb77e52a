//! The settings a session starts with (keys, limits, TLS), swapped whole on reload.

use std::sync::{Arc, RwLock};

use rustls::ServerConfig;

use super::keys::StreamKeys;
use crate::config::Limits;

/// What a new session is checked and bounded by.
pub struct Settings {
    /// Publish and play keys.
    pub keys: StreamKeys,
    /// Every limit.
    pub limits: Limits,
    /// The TLS configuration, for connections on the RTMPS listener.
    pub tls: Arc<ServerConfig>,
    /// Application names served (`live`).
    pub apps: Vec<String>,
    /// Whether a new publisher takes a live stream over.
    pub takeover: bool,
}

/// The current settings. Each session takes the ones in force when it starts and keeps
/// them, so a reload never changes a live session under it.
pub struct SettingsCell {
    current: RwLock<Arc<Settings>>,
}

impl SettingsCell {
    /// A cell holding `settings`.
    pub fn new(settings: Settings) -> Self {
        SettingsCell {
            current: RwLock::new(Arc::new(settings)),
        }
    }

    /// The settings in force now.
    pub fn load(&self) -> Arc<Settings> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Puts `settings` in force for sessions that start from now on.
    pub fn store(&self, settings: Settings) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(settings);
    }
}
