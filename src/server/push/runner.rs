//! One push's thread: it lives as long as the server, follows its local stream in the hub,
//! and keeps an upstream connection publishing it while the stream is live.
//!
//! Phases: `Waiting` (the stream is not live), `Upstream` (connecting, then live), `Backoff`
//! (after a failure, until the next attempt). The stream going live starts an attempt; an
//! attempt that reaches NetStream.Publish.Start re-subscribes for a fresh start (metadata,
//! sequence headers, the current GOP) and sends from there on its own timeline. The stream
//! ending closes the upstream politely (`FCUnpublish`, `deleteStream`) and waits. A failure
//! waits out the backoff and tries again from the next keyframe; falling behind (the hub's
//! eviction) keeps the connection and resumes at the next keyframe. Every change of phase is
//! one log line and one update of the push's status entry.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::{debug, info, warn};
use mio::{Events, Poll, Token, Waker};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::ClientConfig as TlsClientConfig;
use rustls::pki_types::ServerName;

use super::PushSettings;
use super::backoff::{Backoff, MAX_DELAY};
use super::failure::{PushFailure, Stage};
use super::feed::{Feed, Notice, Sending};
use super::timeline::Timeline;
use super::upstream::{Turned, Upstream};
use crate::push_spec::PushTarget;
use crate::rtmp::client_session::{ClientSession, PublishPlan};
use crate::rtmp::handshake::RANDOM_SIZE;
use crate::server::hub::Doorbell;
use crate::server::push_status::{PushHandle, PushState};
use crate::server::shared::Shared;
use crate::server::transport::Transport;

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
/// Longest sleep before the shutdown flag and the clock are looked at again.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// What rtmpsd says it is in `connect`.
const FLASH_VER: &str = concat!(
    "FMLE/3.0 (compatible; rtmpsd/",
    env!("CARGO_PKG_VERSION"),
    ")"
);

/// Where a push stands.
enum Phase {
    /// The local stream is not live.
    Waiting,
    /// An upstream connection, connecting or live.
    Upstream(Box<Upstream>),
    /// After a failure: the next attempt at `until`.
    Backoff { until: Instant },
}

/// One push: its target, its hub feed and its upstream.
pub(super) struct Push {
    /// `push N APP/NAME -> URL (key redacted)`, the start of every log line.
    label: String,
    target: PushTarget,
    tls: Option<(Arc<TlsClientConfig>, ServerName<'static>)>,
    settings: PushSettings,
    shared: Arc<Shared>,
    doorbell_id: u64,
    poll: Poll,
    doorbell: Arc<Doorbell>,
    feed: Feed,
    phase: Phase,
    /// The live connection's timeline, once it has re-subscribed for its start.
    timeline: Option<Timeline>,
    backoff: Backoff,
    random: SystemRandom,
    status: PushHandle,
    /// Attempts so far, for the log.
    attempts: u64,
    /// Set when a reload removed this push: it ends like at shutdown.
    retired: Arc<AtomicBool>,
}

impl Push {
    /// A push of `target` (number `n` in the log), not yet running.
    pub(super) fn new(
        n: usize,
        target: PushTarget,
        tls: Option<(Arc<TlsClientConfig>, ServerName<'static>)>,
        settings: PushSettings,
        shared: Arc<Shared>,
    ) -> std::io::Result<Push> {
        let hub_name = target.hub_name(&settings.default_app);
        let label = format!("push {n} {hub_name} -> {}", target.url.redacted());
        let poll = Poll::new()?;
        let doorbell = Arc::new(Doorbell::new(Waker::new(poll.registry(), WAKER)?));
        let doorbell_id = shared.next_id();
        shared.add_doorbell(doorbell_id, doorbell.clone());
        let status = shared.pushes.register(&hub_name, &target.url.redacted());
        let feed = Feed::new(shared.clone(), hub_name, settings.queue, doorbell.clone());
        Ok(Push {
            label,
            target,
            tls,
            settings,
            shared,
            doorbell_id,
            poll,
            doorbell,
            feed,
            phase: Phase::Waiting,
            timeline: None,
            backoff: Backoff::new(),
            random: SystemRandom::new(),
            status,
            attempts: 0,
            retired: Arc::new(AtomicBool::new(false)),
        })
    }

    /// How a reload ends this push: set the flag, then ring the doorbell.
    pub(super) fn retirement(&self) -> (Arc<AtomicBool>, Arc<Doorbell>) {
        (self.retired.clone(), self.doorbell.clone())
    }

    /// Runs until the server stops, then closes the upstream.
    pub(super) fn run(mut self) {
        self.feed.subscribe();
        self.status.set_state(PushState::Waiting);
        info!(
            "{}: waiting for the stream{}",
            self.label,
            if self.feed.is_live() {
                " (live now)"
            } else {
                ""
            }
        );
        let mut events = Events::with_capacity(8);
        while !self.shared.is_stopping() && !self.retired.load(Ordering::SeqCst) {
            let again = self.turn(Instant::now());
            let now = Instant::now();
            let mut timeout = self
                .next_deadline(now)
                .saturating_duration_since(now)
                .min(MAX_SLEEP);
            if again || !self.arm_if_idle() {
                timeout = Duration::ZERO;
            }
            if let Err(error) = self.poll.poll(&mut events, Some(timeout)) {
                if error.kind() != std::io::ErrorKind::Interrupted {
                    warn!("{}: poll failed: {error}; stopping this push", self.label);
                    break;
                }
            }
            self.doorbell.disarm();
        }
        self.finish();
    }

    /// One round; returns true when there is more to do at once.
    fn turn(&mut self, now: Instant) -> bool {
        match std::mem::replace(&mut self.phase, Phase::Waiting) {
            Phase::Waiting => {
                self.settle_feed();
                if self.feed.is_live() {
                    self.start_attempt(now);
                    return true;
                }
                false
            }
            Phase::Backoff { until } => {
                self.settle_feed();
                if !self.feed.is_live() {
                    self.stream_ended(None, now);
                    false
                } else if now >= until {
                    self.start_attempt(now);
                    true
                } else {
                    self.phase = Phase::Backoff { until };
                    false
                }
            }
            Phase::Upstream(upstream) => self.turn_upstream(upstream, now),
        }
    }

    /// A round with an upstream connection.
    fn turn_upstream(&mut self, mut upstream: Box<Upstream>, now: Instant) -> bool {
        if upstream.live_since().is_none() {
            // Nothing is sent before the upstream is live: frames are dropped.
            self.feed.drain();
        }
        match self.feed.take_notice() {
            Some(Notice::Unpublished) => {
                self.stream_ended(Some(upstream), now);
                return false;
            }
            // Cut off while connecting: a fresh subscription when the upstream goes live.
            Some(Notice::Evicted(_)) if upstream.live_since().is_none() => self.feed.subscribe(),
            // Live: the frames it was sending come next, handled after this turn's output.
            Some(notice @ Notice::Evicted(_)) => self.feed.put_back(notice),
            None => {}
        }
        let status = &self.status;
        let mut frames = Sending {
            feed: &mut self.feed,
            timeline: self.timeline.as_mut(),
        };
        let turned = upstream.turn(
            &self.poll,
            &mut frames,
            &mut |n| status.add_bytes_out(n),
            now,
        );
        match turned {
            Err(failure) => {
                self.failed(Some(upstream), failure, now);
                return true;
            }
            Ok(Turned::BecameLive) => {
                // A fresh start: the stream's start cache, then live frames, on a new timeline.
                self.feed.subscribe();
                self.timeline = Some(Timeline::new());
                self.status.set_state(PushState::Live);
                info!(
                    "{}: live ({}, {}, {} frames of start cache)",
                    self.label,
                    upstream.addr(),
                    upstream.describe(),
                    self.feed.backlog_len()
                );
                self.phase = Phase::Upstream(upstream);
                return true;
            }
            Ok(Turned::Quiet) => {}
        }
        match self.feed.take_notice() {
            Some(Notice::Unpublished) => {
                self.stream_ended(Some(upstream), now);
                return false;
            }
            Some(Notice::Evicted(eviction)) => {
                warn!(
                    "{}: fell behind the stream (upstream too slow): behind for {}ms, {} \
                     frames missed; resuming at the next keyframe",
                    self.label,
                    eviction.behind.as_millis(),
                    eviction.dropped
                );
                self.feed.subscribe();
                if let Some(timeline) = self.timeline.as_mut() {
                    timeline.resume_at_keyframe();
                }
            }
            None => {}
        }
        let again = upstream.wants_turn_now();
        self.phase = Phase::Upstream(upstream);
        again
    }

    /// While nothing is sent: takes what waits in the feed, and subscribes anew if the hub
    /// cut the push off (so it goes on hearing when the stream goes live).
    fn settle_feed(&mut self) {
        self.feed.drain();
        if let Some(Notice::Evicted(_)) = self.feed.take_notice() {
            self.feed.subscribe();
        }
    }

    /// The stream went live (or the backoff ran out): a new upstream connection.
    fn start_attempt(&mut self, now: Instant) {
        self.attempts += 1;
        if self.backoff.failures() > 0 {
            self.status.retried();
        }
        self.status.set_state(PushState::Connecting);
        self.timeline = None;
        let line = format!("{}: connecting (attempt {})", self.label, self.attempts);
        if self.backoff.failures() == 0 {
            info!("{line}");
        } else {
            debug!("{line}");
        }
        match self.open_upstream() {
            Ok(upstream) => self.phase = Phase::Upstream(Box::new(upstream)),
            Err(failure) => self.failed(None, failure, now),
        }
    }

    fn open_upstream(&mut self) -> Result<Upstream, PushFailure> {
        let url = &self.target.url;
        let addrs: Vec<SocketAddr> = (url.host.as_str(), url.port)
            .to_socket_addrs()
            .map_err(PushFailure::Resolve)?
            .collect();
        let transport = match &self.tls {
            Some((config, name)) => {
                let conn = rustls::ClientConnection::new(config.clone(), name.clone())
                    .map_err(PushFailure::Tls)?;
                Transport::tls(conn, self.settings.tls_out)
            }
            None => Transport::plain(self.settings.tls_out),
        };
        let mut random = [0u8; RANDOM_SIZE];
        self.random.fill(&mut random).map_err(|_| PushFailure::Io {
            op: "random",
            error: std::io::Error::other("no randomness for the handshake"),
        })?;
        let plan = PublishPlan {
            app: url.app.clone(),
            tc_url: url.tc_url(),
            stream_name: url.key.clone(),
            flash_ver: FLASH_VER.to_string(),
        };
        let epoch = self.shared.started.elapsed().as_millis() as u32;
        let session = ClientSession::new(self.settings.client, plan, &random, epoch)
            .map_err(PushFailure::Protocol)?;
        Upstream::open(
            &self.poll,
            SOCKET,
            addrs,
            transport,
            session,
            &url.key,
            &self.label,
            self.settings.read_buffer,
            self.settings.client.window_ack_size,
            self.settings.timeout,
        )
    }

    /// An attempt or a live connection failed: close it, log, and wait out the backoff.
    fn failed(&mut self, upstream: Option<Box<Upstream>>, failure: PushFailure, now: Instant) {
        let (stage, live_for, frames) = match &upstream {
            Some(up) => (
                up.stage(),
                up.live_since()
                    .map(|since| now.saturating_duration_since(since)),
                up.frames_sent(),
            ),
            None => (Stage::Resolve, None, (0, 0)),
        };
        if let Some(up) = upstream {
            up.close(&mut self.poll, false);
        }
        // Old failures are forgotten only once a connection has stayed up a while, so an
        // upstream that takes the stream and drops it at once still backs off.
        if live_for.is_some_and(|d| d >= MAX_DELAY) {
            self.backoff.reset();
        }
        self.timeline = None;
        let mut jitter = [0u8; 4];
        let _ = self.random.fill(&mut jitter);
        let delay = self.backoff.next_delay(u32::from_le_bytes(jitter));
        let state = if failure.is_refusal() {
            PushState::Failed
        } else {
            PushState::Retrying
        };
        self.status.set_state(state);
        let what = match live_for {
            Some(d) => format!(
                "lost after {:.1}s live ({} frames, {} bytes)",
                d.as_secs_f32(),
                frames.0,
                frames.1
            ),
            None => format!("failed during {}", stage.as_str()),
        };
        warn!(
            "{}: {what}: {failure}; retrying in {:.1}s",
            self.label,
            delay.as_secs_f32()
        );
        self.phase = Phase::Backoff { until: now + delay };
    }

    /// The local stream ended: close the upstream politely and wait for the next publish.
    fn stream_ended(&mut self, upstream: Option<Box<Upstream>>, _now: Instant) {
        let sent = upstream.as_ref().map(|up| up.frames_sent());
        if let Some(up) = upstream {
            up.close(&mut self.poll, true);
        }
        self.timeline = None;
        self.backoff.reset();
        self.status.set_state(PushState::Waiting);
        match sent {
            Some((frames, bytes)) => info!(
                "{}: the stream ended; upstream closed after {frames} frames ({bytes} bytes); \
                 waiting for the stream",
                self.label
            ),
            None => info!("{}: the stream ended; waiting for the stream", self.label),
        }
        self.phase = Phase::Waiting;
    }

    fn next_deadline(&self, now: Instant) -> Instant {
        let soon = now + MAX_SLEEP;
        match &self.phase {
            Phase::Waiting => soon,
            Phase::Backoff { until } => soon.min(*until),
            Phase::Upstream(up) => soon.min(up.next_deadline()),
        }
    }

    /// Before sleeping: arms the doorbell and looks at the queue once more; false when there
    /// is already work. A push whose upstream will not take more waits for the socket.
    fn arm_if_idle(&mut self) -> bool {
        if let Phase::Upstream(up) = &self.phase {
            if up.output_blocked() {
                return true;
            }
        }
        self.doorbell.arm();
        if !self.feed.is_empty() {
            self.doorbell.disarm();
            return false;
        }
        true
    }

    /// The server is stopping (or a reload removed this push): close the upstream politely,
    /// leave the hub and the registry.
    fn finish(mut self) {
        if let Phase::Upstream(up) = std::mem::replace(&mut self.phase, Phase::Waiting) {
            let live = up.live_since().is_some();
            let (frames, bytes) = up.frames_sent();
            up.close(&mut self.poll, true);
            if live {
                let why = if self.retired.load(Ordering::SeqCst) {
                    "removed by a reload"
                } else {
                    "server stopping"
                };
                info!(
                    "{}: {why}; upstream closed after {frames} frames ({bytes} bytes)",
                    self.label
                );
            }
        }
        self.shared.remove_doorbell(self.doorbell_id);
        // `status` and the subscription leave when `self` drops.
    }
}
