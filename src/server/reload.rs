//! Reloading in the accept thread: on SIGHUP the command line and the config file are read
//! again into new settings for new sessions; between times the certificate files are
//! checked, and a changed pair is loaded. Live sessions keep the settings they started with.
//!
//! A reload is all or nothing: a file with an error, or a certificate that does not load,
//! leaves every running setting as it was, and the log says why. What a reload cannot
//! change (the listeners, the HTTP token, the log level) keeps its running value and the log
//! says a restart is needed for it. Keys are never logged: only which streams' keys changed.

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use log::{info, warn};

use super::hub::HubLimits;
use super::push::PushSet;
use super::settings::{Built, Settings};
use super::shared::Shared;
use crate::config::Config;
use crate::config_file::{self, Loaded};
use crate::config_report;
use crate::tls;

/// How often the certificate files are checked for a change.
pub const CERT_CHECK_EVERY: Duration = Duration::from_secs(5);

/// Reads the settings again when asked, and the certificate when its files change.
pub struct Reloader {
    /// The command line (the program's name first), whose options override the file on
    /// every reload.
    argv: Vec<String>,
    /// The configuration in force.
    running: Loaded,
    /// The certificate and key files in use, and their stamps when last loaded.
    cert_files: CertFiles,
    /// The certificate's fingerprint.
    fingerprint: String,
    next_cert_check: Instant,
    /// The pushes to upstream servers, started and retired as the configuration changes.
    pushes: Option<PushSet>,
}

impl Reloader {
    /// A reloader for a server started with `argv` into `running`, which built `built`.
    pub fn new(argv: Vec<String>, running: Loaded, built: &Built, now: Instant) -> Reloader {
        let cert_files = CertFiles::of(&running.config);
        Reloader {
            argv,
            running,
            cert_files,
            fingerprint: built.fingerprint.clone(),
            next_cert_check: now + CERT_CHECK_EVERY,
            pushes: None,
        }
    }

    /// Hands over the running pushes, which reloads then keep in line with the configuration.
    pub fn run_pushes(&mut self, pushes: PushSet) {
        self.pushes = Some(pushes);
    }

    /// When [`Reloader::check_certificate`] wants to run next.
    pub fn next_check(&self) -> Instant {
        self.next_cert_check
    }

    /// Reads the command line and the file again and puts the result in force for new
    /// sessions. Returns the one line to log: what changed, or why nothing did.
    pub fn reload(&mut self, shared: &Arc<Shared>) -> Result<String, String> {
        let file = self
            .running
            .file
            .as_ref()
            .map_or("the command line".to_string(), |p| p.display().to_string());
        let rejected =
            |why: String| format!("reload of {file} rejected, running settings kept: {why}");
        let mut loaded = config_file::load(&self.argv).map_err(rejected)?;
        let restart = keep_what_needs_a_restart(&self.running.config, &mut loaded.config);
        // Stamps before the load: a change while loading is seen at the next check.
        let stamps = CertFiles::of(&loaded.config).with_stamps();
        let built = Settings::build(&loaded.config).map_err(rejected)?;
        let names: Vec<String> = built
            .settings
            .keys
            .stream_names()
            .map(str::to_string)
            .collect();
        loaded.config.check_pushes(&names).map_err(rejected)?;
        let mut changes = changes(&self.running, &loaded);
        if built.fingerprint != self.fingerprint {
            changes.push(format!("certificate sha256 {}", built.fingerprint));
        }
        shared.hub.set_limits(hub_limits(&loaded.config));
        shared.settings.store(built.settings);
        // Pushes: the new targets start, those no longer configured end, the others go on.
        if let Some(pushes) = self.pushes.as_mut() {
            match pushes.apply(shared, &loaded.config.pushes) {
                Ok(done) => {
                    if !done.started.is_empty() {
                        changes.push(format!("pushes started: {}", done.started.join(", ")));
                    }
                    if !done.retired.is_empty() {
                        changes.push(format!("pushes ended: {}", done.retired.join(", ")));
                    }
                }
                Err(e) => changes.push(format!("pushes unchanged: {e}")),
            }
        }
        self.fingerprint = built.fingerprint;
        self.cert_files = stamps;
        self.running = loaded;
        let mut line = format!("reloaded {file}: ");
        if changes.is_empty() {
            line.push_str("no changes");
        } else {
            line.push_str(&changes.join("; "));
            line.push_str(" (for new connections; live ones keep theirs)");
        }
        if !restart.is_empty() {
            line.push_str(&format!(
                "; {} changed but needs a restart: running with the old value",
                restart.join(", ")
            ));
        }
        Ok(line)
    }

    /// Loads the certificate pair if its files changed since they were last loaded; logs
    /// the outcome. On an error the pair in use stays.
    pub fn check_certificate(&mut self, shared: &Shared, now: Instant) {
        if now < self.next_cert_check {
            return;
        }
        self.next_cert_check = now + CERT_CHECK_EVERY;
        let current = self.cert_files.clone().with_stamps();
        if current.stamps == self.cert_files.stamps {
            return;
        }
        // Whatever happens, this pair of stamps has been tried: a broken pair is reported
        // once, and tried again when a file changes again.
        self.cert_files = current;
        let pair = (self.cert_files.cert.clone(), self.cert_files.key.clone());
        let config = &self.running.config;
        match tls::load_or_generate(Some(&pair), &config.state_dir, config.cipher_order) {
            Ok(identity) => {
                let old = shared.settings.load();
                shared.settings.store(Settings {
                    keys: old.keys.clone(),
                    limits: old.limits,
                    tls: identity.config,
                    apps: old.apps.clone(),
                    takeover: old.takeover,
                });
                info!(
                    "certificate reloaded: {} sha256 {} (for new connections; live ones keep theirs)",
                    pair.0.display(),
                    identity.fingerprint
                );
                self.fingerprint = identity.fingerprint;
            }
            Err(e) => warn!(
                "certificate files changed but not loaded: {e}; still using sha256 {}",
                self.fingerprint
            ),
        }
    }
}

/// Puts `running`'s values of what a reload cannot change into `config`; names those the
/// file or the command line changed.
pub fn keep_what_needs_a_restart(running: &Config, config: &mut Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if config.listen != running.listen {
        config.listen = running.listen;
        changed.push("listen");
    }
    if config.rtmp_listen != running.rtmp_listen {
        config.rtmp_listen = running.rtmp_listen;
        changed.push("rtmp_listen");
    }
    if config.log != running.log {
        config.log = running.log.clone();
        changed.push("log");
    }
    // Recorders are started once, for the streams configured then.
    let recorded = |c: &Config| (c.record.clone(), recorded_streams(c, &stream_names(c)));
    if recorded(config) != recorded(running) {
        config.record = running.record.clone();
        config.recording_off = running.recording_off.clone();
        changed.push("recording (its settings, or which streams are recorded)");
    }
    // The roots pushes trust are loaded once.
    if config.push_ca_file != running.push_ca_file {
        config.push_ca_file = running.push_ca_file.clone();
        changed.push("push_ca_file");
    }
    // The HTTP listener keeps its address and token until a restart.
    let http = |c: &Config| c.http.as_ref().map(|h| (h.listen, h.token.clone()));
    if http(config) != http(running) {
        config.http = running.http.clone();
        changed.push("the http listener");
    }
    changed
}

/// The hub names (`app/name`) of the streams `config` records among `names`: none without
/// a recording folder, otherwise every stream of every app but those with `record = false`.
pub fn recorded_streams(config: &Config, names: &[String]) -> Vec<String> {
    if config.record.is_none() {
        return Vec::new();
    }
    config
        .apps
        .iter()
        .flat_map(|app| {
            names
                .iter()
                .filter(|name| !config.recording_off.contains(name))
                .map(move |name| format!("{app}/{name}"))
        })
        .collect()
}

/// The stream names `config` serves: those its publish keys name, or the made key's stream.
fn stream_names(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for entry in &config.publish_keys {
        if !names.contains(&entry.stream) {
            names.push(entry.stream.clone());
        }
    }
    if names.is_empty() {
        names.push(crate::key_spec::DEFAULT_STREAM_NAME.to_string());
    }
    names
}

/// The hub's limits in `config`.
pub fn hub_limits(config: &Config) -> HubLimits {
    HubLimits {
        gop_cache_bytes: config.limits.gop_cache_bytes,
        max_players: config.limits.max_players_per_stream,
    }
}

/// What differs between two configurations, for the log: settings with their old and new
/// values, streams added and removed, and which streams' keys changed (never the keys).
pub fn changes(old: &Loaded, new: &Loaded) -> Vec<String> {
    let settings = |loaded: &Loaded| -> Vec<(String, String)> {
        config_report::report(loaded)
            .into_iter()
            .filter_map(|line| {
                let (key, rest) = line.split_once(" = ")?;
                // Key lists are compared below, without their masks.
                if key.contains(' ') || key.contains("keys") {
                    return None;
                }
                let value = rest.split(" # ").next().unwrap_or(rest).trim_end();
                Some((key.to_string(), value.to_string()))
            })
            .collect()
    };
    let before = settings(old);
    let after = settings(new);
    let mut out = Vec::new();
    for (key, value) in &after {
        match before.iter().find(|(k, _)| k == key) {
            Some((_, was)) if was != value => out.push(format!("{key} {was} -> {value}")),
            None => out.push(format!("{key} {value}")),
            _ => {}
        }
    }
    for (key, _) in &before {
        if !after.iter().any(|(k, _)| k == key) {
            out.push(format!("{key} off"));
        }
    }
    let (old, new) = (&old.config, &new.config);
    let names = |c: &Config| -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for entry in &c.publish_keys {
            if !names.contains(&entry.stream) {
                names.push(entry.stream.clone());
            }
        }
        names
    };
    let (old_names, new_names) = (names(old), names(new));
    let added: Vec<&str> = new_names
        .iter()
        .filter(|n| !old_names.contains(n))
        .map(String::as_str)
        .collect();
    let removed: Vec<&str> = old_names
        .iter()
        .filter(|n| !new_names.contains(n))
        .map(String::as_str)
        .collect();
    if !added.is_empty() {
        out.push(format!("streams added: {}", added.join(", ")));
    }
    if !removed.is_empty() {
        out.push(format!("streams removed: {}", removed.join(", ")));
    }
    let keys_of = |c: &Config, name: &str| -> (Vec<String>, Vec<String>) {
        let publish: Vec<String> = c
            .publish_keys
            .iter()
            .filter(|p| p.stream == name)
            .map(|p| p.key.clone())
            .collect();
        let play: Vec<String> = c
            .stream_play_keys
            .iter()
            .filter(|p| p.stream == name)
            .map(|p| p.key.clone())
            .collect();
        (publish, play)
    };
    let rekeyed: Vec<&str> = new_names
        .iter()
        .filter(|n| {
            let (old_publish, old_play) = keys_of(old, n);
            let (new_publish, new_play) = keys_of(new, n);
            old_names.contains(n)
                && !(same_keys(&old_publish, &new_publish) && same_keys(&old_play, &new_play))
        })
        .map(String::as_str)
        .collect();
    if !rekeyed.is_empty() {
        out.push(format!("keys changed for: {}", rekeyed.join(", ")));
    }
    if !same_keys(&old.play_keys, &new.play_keys) {
        out.push(format!(
            "play keys for every stream changed ({} now)",
            new.play_keys.len()
        ));
    }
    out
}

/// Whether two lists hold the same keys, in any order.
fn same_keys(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && a.iter().all(|k| b.contains(k)) && b.iter().all(|k| a.contains(k))
}

/// A file's identity and version: device, inode, size and modification time. A file
/// replaced by a rename has another inode even with the same size and time.
type Stamp = Option<(u64, u64, u64, SystemTime)>;

/// The certificate and key files the server uses.
#[derive(Clone)]
struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    stamps: (Stamp, Stamp),
}

impl CertFiles {
    /// The pair `config` uses: its `cert` and `key`, or the self-signed pair in its state folder.
    fn of(config: &Config) -> CertFiles {
        let (cert, key) = match &config.cert {
            Some((c, k)) => (c.clone(), k.clone()),
            None => (
                config.state_dir.join("cert.pem"),
                config.state_dir.join("key.pem"),
            ),
        };
        CertFiles {
            cert,
            key,
            stamps: (None, None),
        }
        .with_stamps()
    }

    /// The same files with their stamps now.
    fn with_stamps(mut self) -> CertFiles {
        self.stamps = (stamp(&self.cert), stamp(&self.key));
        self
    }
}

fn stamp(path: &std::path::Path) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(path).ok()?;
    Some((meta.dev(), meta.ino(), meta.len(), meta.modified().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_file::load_text;
    use std::path::Path;

    fn loaded(text: &str) -> Loaded {
        load_text(&["rtmpsd".to_string()], text, Some(Path::new("r.toml"))).unwrap()
    }

    const BASE: &str = r#"
max_connections = 100
play_keys = ["play-secret-1"]
[[stream]]
name = "cam1"
publish_keys = ["cam1-secret"]
[[stream]]
name = "cam2"
publish_keys = ["cam2-secret"]
"#;

    #[test]
    fn listeners_log_http_and_recording_keep_their_running_values() {
        let running =
            loaded("record_dir = \"/rec\"\n[[stream]]\nname = \"a\"\npublish_keys = [\"ka\"]\n");
        let same =
            loaded("record_dir = \"/rec\"\n[[stream]]\nname = \"a\"\npublish_keys = [\"kb\"]\n");
        let mut config = same.config.clone();
        assert!(keep_what_needs_a_restart(&running.config, &mut config).is_empty());
        let new = loaded(
            "listen = \"127.0.0.1:9\"\nlog = \"debug\"\nhttp_listen = \"127.0.0.1:8\"\n\
             record_dir = \"/rec\"\n[[stream]]\nname = \"a\"\npublish_keys = [\"ka\"]\n\
             [[stream]]\nname = \"b\"\npublish_keys = [\"kb\"]\n",
        );
        let mut config = new.config.clone();
        let kept = keep_what_needs_a_restart(&running.config, &mut config);
        assert_eq!(
            kept,
            [
                "listen",
                "log",
                "recording (its settings, or which streams are recorded)",
                "the http listener"
            ]
        );
        assert_eq!(config.listen, running.config.listen);
        assert_eq!(config.log, running.config.log);
        assert!(config.http.is_none());
        // b would be recorded: recording starts once, so it is not until a restart.
        assert_eq!(recorded_streams(&running.config, &["a".into()]), ["live/a"]);
    }

    #[test]
    fn an_unchanged_file_has_no_changes() {
        assert!(changes(&loaded(BASE), &loaded(BASE)).is_empty());
    }

    #[test]
    fn changes_name_settings_and_streams_but_never_keys() {
        let new = r#"
max_connections = 50
rtmp_listen = "127.0.0.1:1935"
play_keys = ["play-secret-2"]
[[stream]]
name = "cam1"
publish_keys = ["cam1-secret-new"]
[[stream]]
name = "cam3"
publish_keys = ["cam3-secret"]
"#;
        let got = changes(&loaded(BASE), &loaded(new));
        let text = got.join("; ");
        assert!(!text.contains("secret"), "{text}");
        assert!(!text.contains("..."), "no masked key either: {text}");
        assert!(
            got.contains(&"max_connections 100 -> 50".to_string()),
            "{text}"
        );
        assert!(got.contains(&"max_players 88 -> 44".to_string()), "{text}");
        assert!(
            got.contains(&"rtmp_listen \"127.0.0.1:1935\"".to_string()),
            "{text}"
        );
        assert!(got.contains(&"streams added: cam3".to_string()), "{text}");
        assert!(got.contains(&"streams removed: cam2".to_string()), "{text}");
        assert!(
            got.contains(&"keys changed for: cam1".to_string()),
            "{text}"
        );
        assert!(
            got.contains(&"play keys for every stream changed (1 now)".to_string()),
            "{text}"
        );
        let back = changes(&loaded(new), &loaded(BASE));
        assert!(back.contains(&"rtmp_listen off".to_string()), "{back:?}");
    }
}
