//! Pushes: each live local stream relayed to upstream RTMP(S) servers (YouTube, Facebook,
//! Twitch, an origin server), with reconnects.
//!
//! Each push is one more subscriber of the hub, on its own named small-stack thread: the same
//! bounded queue and slow-subscriber policy as a player, so a slow or dead upstream never
//! stalls the publisher, the players or the other pushes. The thread runs for the server's
//! lifetime: it follows its stream by name, connects out as an RTMP client when the stream
//! goes live (the core's `client_session` speaks the protocol), retries with capped
//! exponential backoff when the upstream fails, and reports its state in the `PushRegistry`.
//! Upstream stream keys appear in no log line and no status: targets are shown redacted.
//!
//! - `runner`: the thread's loop and phases; `feed`: its subscription; `upstream`: one
//!   connection; `timeline`: what is sent and with which timestamps; `backoff`, `ack_watch`:
//!   retry and liveness policy, clock-free; `failure`: why an attempt ended.

mod ack_watch;
mod backoff;
mod failure;
mod feed;
mod runner;
mod timeline;
mod upstream;

pub use ack_watch::{AckOverdue, AckWatch};
pub use backoff::Backoff;
pub use failure::{PushFailure, Stage};
pub use timeline::Timeline;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use log::{error, info, warn};

use std::path::PathBuf;

use crate::config::{CipherOrder, Limits};
use crate::push_spec::PushTarget;
use crate::rtmp::client_session::ClientConfig;
use crate::server::hub::{Doorbell, QueueLimits};
use crate::server::shared::Shared;
use crate::upstream_tls::{UpstreamTls, server_name};
use runner::Push;

/// Plaintext bytes read from an upstream per step (it sends only small replies).
const PUSH_READ_BUFFER: usize = 8 * 1024;

/// How every push runs.
#[derive(Debug, Clone)]
pub struct PushSettings {
    /// Time allowed to connect and publish, and to stay without taking data.
    pub timeout: Duration,
    /// Each push's hub queue (the players' limits).
    pub queue: QueueLimits,
    /// Encrypted bytes a push may hold unsent.
    pub tls_out: usize,
    /// Input buffer per push.
    pub read_buffer: usize,
    /// Stack of each push thread.
    pub stack: usize,
    /// The client session's settings.
    pub client: ClientConfig,
    /// The app of a push's stream when it names none.
    pub default_app: String,
}

impl PushSettings {
    /// The settings `limits` give, with `default_app` for streams named without an app.
    pub fn from_limits(limits: &Limits, default_app: &str) -> PushSettings {
        PushSettings {
            timeout: limits.push_timeout,
            queue: QueueLimits {
                len: limits.player_queue_len,
                bytes: limits.player_queue_bytes,
                slow_after: limits.slow_player,
            },
            tls_out: limits.tls_out_bytes,
            read_buffer: PUSH_READ_BUFFER,
            stack: limits.worker_stack,
            client: ClientConfig::default(),
            default_app: default_app.to_string(),
        }
    }
}

/// The pushes running, as a reload can change them: each target keeps its thread while it
/// stays configured; a reload starts the new ones and retires the ones no longer there.
pub struct PushSet {
    /// The trusted roots, loaded when the first rtmps:// push starts.
    tls: Option<UpstreamTls>,
    ca_file: Option<PathBuf>,
    order: CipherOrder,
    settings: PushSettings,
    running: Vec<RunningPush>,
    next_n: usize,
}

/// One push's thread, and how to end it.
struct RunningPush {
    target: PushTarget,
    retired: Arc<AtomicBool>,
    doorbell: Arc<Doorbell>,
}

/// What [`PushSet::apply`] did, in targets shown redacted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PushChanges {
    /// Targets started.
    pub started: Vec<String>,
    /// Targets retired.
    pub retired: Vec<String>,
}

impl PushSet {
    /// An empty set whose rtmps:// pushes will trust the system's roots and `ca_file`'s, with
    /// the cipher `order`, and run with `settings`.
    pub fn new(ca_file: Option<PathBuf>, order: CipherOrder, settings: PushSettings) -> Self {
        PushSet {
            tls: None,
            ca_file,
            order,
            settings,
            running: Vec::new(),
            next_n: 1,
        }
    }

    /// An empty set whose rtmps:// pushes trust exactly what `tls` trusts (tests, and boxes
    /// that bring their own roots).
    pub fn with_tls(tls: UpstreamTls, settings: PushSettings) -> Self {
        PushSet {
            order: tls.order(),
            tls: Some(tls),
            ca_file: None,
            settings,
            running: Vec::new(),
            next_n: 1,
        }
    }

    /// Makes the running pushes those of `targets`: starts the ones not running, retires the
    /// ones not in it. Nothing changes when a new target's TLS settings are unusable (an
    /// unreadable CA file, a bad `sni`).
    pub fn apply(
        &mut self,
        shared: &Arc<Shared>,
        targets: &[PushTarget],
    ) -> Result<PushChanges, String> {
        let new: Vec<&PushTarget> = targets
            .iter()
            .filter(|t| !self.running.iter().any(|r| r.target == **t))
            .collect();
        // Every new target's TLS first, so that a bad one starts nothing.
        let mut prepared = Vec::with_capacity(new.len());
        for (i, target) in new.into_iter().enumerate() {
            let n = self.next_n + i;
            prepared.push((n, target.clone(), self.tls_for(n, target)?));
        }
        let mut changes = PushChanges::default();
        self.running.retain(|running| {
            if targets.contains(&running.target) {
                return true;
            }
            running.retired.store(true, Ordering::SeqCst);
            running.doorbell.force();
            changes.retired.push(running.target.url.redacted());
            false
        });
        for (n, target, tls_for) in prepared {
            self.next_n = n + 1;
            let push = Push::new(
                n,
                target.clone(),
                tls_for,
                self.settings.clone(),
                shared.clone(),
            )
            .map_err(|e| format!("push {n}: setup failed: {e}"))?;
            let (retired, doorbell) = push.retirement();
            // The server's stop waits for every push to leave its registry, not for threads.
            spawn(n, push, self.settings.stack)?;
            changes.started.push(target.url.redacted());
            self.running.push(RunningPush {
                target,
                retired,
                doorbell,
            });
        }
        Ok(changes)
    }

    /// The TLS config and server name for push `n`, or why it cannot have them.
    fn tls_for(
        &mut self,
        n: usize,
        target: &PushTarget,
    ) -> Result<
        Option<(
            Arc<rustls::ClientConfig>,
            rustls::pki_types::ServerName<'static>,
        )>,
        String,
    > {
        let what = format!("push {n} ({})", target.url.redacted());
        if !target.url.tls {
            warn!(
                "{what}: plain rtmp: the upstream's stream key and the media cross the \
                 network unencrypted"
            );
            return Ok(None);
        }
        let config = self
            .roots()?
            .config_for(target.ca_file.as_deref())
            .map_err(|e| format!("{what}: {e}"))?;
        let name = server_name(&target.url, target.sni.as_deref())
            .map_err(|e| format!("{what}: sni: {e}"))?;
        Ok(Some((config, name)))
    }
}

impl PushSet {
    /// The trusted roots, loaded (and logged) the first time.
    fn roots(&mut self) -> Result<&mut UpstreamTls, String> {
        if self.tls.is_none() {
            let (tls, loaded) = UpstreamTls::load(self.ca_file.as_deref(), self.order)
                .map_err(|e| format!("--push-ca-file {e}"))?;
            info!(
                "pushes trust {} system root certificates and {} from --push-ca-file",
                loaded.system, loaded.from_file
            );
            for problem in &loaded.system_errors {
                warn!("system root certificates: {problem}");
            }
            if loaded.system == 0 && loaded.from_file == 0 {
                warn!(
                    "no trusted root certificates: rtmps:// pushes will fail unless their \
                     ca_file trusts the upstream (install ca-certificates)"
                );
            }
            self.tls = Some(tls);
        }
        self.tls
            .as_mut()
            .ok_or_else(|| "no trusted roots".to_string())
    }
}

/// Runs `push` on a thread named `push-N`; a panic in it is logged and ends only it.
fn spawn(n: usize, push: Push, stack: usize) -> Result<(), String> {
    thread::Builder::new()
        .name(format!("push-{n}"))
        .stack_size(stack)
        .spawn(move || {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| push.run())) {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                error!("push {n} stopped: its thread panicked: {what}");
            }
        })
        .map(drop)
        .map_err(|e| format!("push {n}: no thread for it: {e}"))
}
