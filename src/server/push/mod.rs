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
use std::thread;
use std::time::Duration;

use log::{error, info, warn};

use crate::config::Limits;
use crate::push_spec::PushTarget;
use crate::rtmp::client_session::ClientConfig;
use crate::server::hub::QueueLimits;
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

/// Starts one thread per push in `targets`, each trusting what `tls` trusts plus its own
/// `ca_file`. Fails, starting none, when a target's TLS settings are unusable (an unreadable
/// CA file, a bad `sni`).
pub fn start(
    shared: &Arc<Shared>,
    targets: &[PushTarget],
    tls: &mut UpstreamTls,
    settings: &PushSettings,
) -> Result<Vec<thread::JoinHandle<()>>, String> {
    let mut pushes = Vec::with_capacity(targets.len());
    for (i, target) in targets.iter().enumerate() {
        let n = i + 1;
        let what = format!("push {n} ({})", target.url.redacted());
        let tls_for = if target.url.tls {
            let config = tls
                .config_for(target.ca_file.as_deref())
                .map_err(|e| format!("{what}: {e}"))?;
            let name = server_name(&target.url, target.sni.as_deref())
                .map_err(|e| format!("{what}: sni: {e}"))?;
            Some((config, name))
        } else {
            warn!(
                "{what}: plain rtmp: the upstream's stream key and the media cross the \
                 network unencrypted"
            );
            None
        };
        pushes.push((n, target.clone(), tls_for));
    }
    let mut handles = Vec::with_capacity(pushes.len());
    for (n, target, tls_for) in pushes {
        let push = Push::new(n, target, tls_for, settings.clone(), shared.clone())
            .map_err(|e| format!("push {n}: setup failed: {e}"))?;
        let spawned = thread::Builder::new()
            .name(format!("push-{n}"))
            .stack_size(settings.stack)
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
            .map_err(|e| format!("push {n}: no thread for it: {e}"))?;
        handles.push(spawned);
    }
    if !handles.is_empty() {
        info!("{} push(es) started", handles.len());
    }
    Ok(handles)
}
