//! The settings a session starts with (keys, limits, TLS), swapped whole on reload.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;

use super::keys::{StreamKeys, stored_publish_key};
use crate::config::{Config, Limits};
use crate::key_spec::{DEFAULT_STREAM_NAME, PublishKey};
use crate::tls;

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

/// Settings made from a configuration, with what the operator is told about them.
pub struct Built {
    /// The settings.
    pub settings: Settings,
    /// The certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    /// Where the certificate is.
    pub cert_path: PathBuf,
    /// Whether the certificate was made just now.
    pub cert_generated: bool,
    /// The stored publish key of the default stream, when no key is configured, and
    /// whether it was made just now.
    pub stored_key: Option<(String, bool)>,
}

impl Settings {
    /// The settings `config` describes: its state folder made if missing, the certificate
    /// loaded (or made there), and, with no publish key configured, the stored one (made
    /// there on first use) publishing the stream named `stream`.
    pub fn build(config: &Config) -> Result<Built, String> {
        std::fs::create_dir_all(&config.state_dir)
            .map_err(|e| format!("state dir {}: {e}", config.state_dir.display()))?;
        let identity =
            tls::load_or_generate(config.cert.as_ref(), &config.state_dir, config.cipher_order)?;
        let mut publish_keys = config.publish_keys.clone();
        let mut stored_key = None;
        if publish_keys.is_empty() {
            let (key, created) = stored_publish_key(&config.state_dir)?;
            publish_keys.push(PublishKey {
                stream: DEFAULT_STREAM_NAME.to_string(),
                key: key.clone(),
            });
            stored_key = Some((key, created));
        }
        let keys = StreamKeys::new(&publish_keys, &config.play_keys)
            .with_stream_play_keys(&config.stream_play_keys);
        Ok(Built {
            settings: Settings {
                keys,
                limits: config.limits,
                tls: identity.config,
                apps: config.apps.clone(),
                takeover: config.takeover,
            },
            fingerprint: identity.fingerprint,
            cert_path: identity.cert_path,
            cert_generated: identity.generated,
            stored_key,
        })
    }
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
