//! One connection's thread: socket, transport, RTMP session, and its place in the hub.
//!
//! The worker waits on its own small mio `Poll` for its socket and its `Waker`, which the
//! hub rings when frames arrive for a player, so a player answers pings and notices a
//! closed socket while no frame is coming. Input goes through a fixed buffer into the
//! session; output goes through the transport's bounded send buffer. When that buffer is
//! full the worker stops taking frames from its channel, the channel fills, and the hub
//! drops video for this player only. Every exit goes through one `closing` reason and one
//! log line; hub membership is released in `Drop`, so it is released on panic too.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use log::{debug, info, warn};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::ServerConfig;

use super::accept::ConnectionSlot;
use super::frame::Frame;
use super::hub::{Delivery, Eviction, Hub, JoinError, Stream, Subscription, Wakeup};
use super::keys::{StreamKeys, redact, split_name};
use super::transport::{ReadOutcome, Transport};
use crate::config::Limits;
use crate::rtmp::handshake::RANDOM_SIZE;
use crate::rtmp::session::{FANOUT_STREAM_ID, Session, SessionEvent, StreamRole};

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
/// Longest a worker sleeps before it looks at its deadlines and the shutdown flag again.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Input bytes handled in one turn before output gets its turn.
const READ_BUDGET: usize = 256 * 1024;

/// What every worker shares: the hub, the keys, the limits, the TLS config, shutdown.
pub struct Shared {
    /// The stream registry.
    pub hub: Hub,
    /// Publish and play keys.
    pub keys: StreamKeys,
    /// Every limit.
    pub limits: Limits,
    /// The TLS configuration, for connections on the RTMPS listener.
    pub tls: Arc<ServerConfig>,
    /// Set when the server is stopping.
    pub stopping: AtomicBool,
    /// Wakers of all live workers, rung on shutdown.
    pub wakers: Mutex<Vec<(u64, Arc<Wakeup>)>>,
    /// Live connections.
    pub connections: AtomicUsize,
    /// Live connections per source address.
    pub per_ip: Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
    /// Next session id.
    pub next_id: AtomicU64,
    /// When the server started (S1's epoch).
    pub started: Instant,
}

impl Shared {
    /// Tells every worker to stop.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        for (_, wakeup) in self.wakers.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            wakeup.force();
        }
    }
}

/// Where this connection stands in the hub; leaving is done on drop.
enum Role {
    Undecided,
    Publisher {
        stream: Arc<Stream>,
        frames: u64,
    },
    Player {
        stream: Arc<Stream>,
        stream_id: u32,
        backlog: VecDeque<Frame>,
        rx: Receiver<Delivery>,
        subscription: Arc<Subscription>,
        frames: u64,
    },
}

/// What the session must do after an event, decided while the event borrows the session.
enum Action {
    AcceptPublish(u32),
    RejectPublish(u32, &'static str),
    AcceptPlay(u32),
    RejectPlay(u32, &'static str, &'static str),
}

/// Everything but the session and input buffer, so events borrowed from the session can be
/// handled while this is mutated.
struct Context {
    id: u64,
    peer: SocketAddr,
    shared: Arc<Shared>,
    wakeup: Arc<Wakeup>,
    role: Role,
    app: String,
    closing: Option<String>,
    _slot: ConnectionSlot,
}

/// One connection.
pub struct Worker {
    socket: TcpStream,
    poll: Poll,
    transport: Transport,
    session: Session,
    input: Box<[u8]>,
    input_len: usize,
    writing: Option<(Frame, usize)>,
    /// The socket would not take more: wait for it to become writable.
    output_blocked: bool,
    /// The read budget ran out with input possibly left in the socket (mio is edge-triggered).
    input_left: bool,
    /// The first byte on the RTMPS port has been looked at.
    opened: Instant,
    last_input: Instant,
    bytes_in: u64,
    bytes_out_frames: u64,
    ctx: Context,
}

impl Worker {
    /// Sets up a worker for an accepted socket; `tls` for the RTMPS listener.
    pub fn new(
        id: u64,
        peer: SocketAddr,
        mut socket: TcpStream,
        tls: bool,
        shared: Arc<Shared>,
        slot: ConnectionSlot,
    ) -> std::io::Result<Worker> {
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE | Interest::WRITABLE)?;
        let wakeup = Arc::new(Wakeup::new(Waker::new(poll.registry(), WAKER)?));
        let limits = &shared.limits;
        let transport = if tls {
            let conn = rustls::ServerConnection::new(shared.tls.clone())
                .map_err(|e| std::io::Error::other(format!("tls setup: {e}")))?;
            Transport::tls(conn, limits.tls_out_bytes)
        } else {
            Transport::plain(limits.tls_out_bytes)
        };
        let mut random = [0u8; RANDOM_SIZE];
        SystemRandom::new()
            .fill(&mut random)
            .map_err(|_| std::io::Error::other("no randomness for the handshake"))?;
        let epoch = shared.started.elapsed().as_millis() as u32;
        let session = Session::new(limits.session, &random, epoch);
        let input = vec![0u8; limits.read_buffer].into_boxed_slice();
        shared
            .wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, wakeup.clone()));
        let now = Instant::now();
        Ok(Worker {
            socket,
            poll,
            transport,
            session,
            input,
            input_len: 0,
            writing: None,
            output_blocked: false,
            input_left: false,
            opened: now,
            last_input: now,
            bytes_in: 0,
            bytes_out_frames: 0,
            ctx: Context {
                id,
                peer,
                shared,
                wakeup,
                role: Role::Undecided,
                app: String::new(),
                closing: None,
                _slot: slot,
            },
        })
    }

    /// Runs the connection to its end and logs why it ended.
    pub fn run(mut self) {
        let mut events = Events::with_capacity(8);
        while self.ctx.closing.is_none() {
            self.turn();
            if self.ctx.closing.is_some() {
                break;
            }
            let mut timeout = self
                .next_deadline()
                .saturating_duration_since(Instant::now())
                .min(MAX_SLEEP);
            if self.input_left || !self.arm_if_idle() {
                timeout = Duration::ZERO;
            }
            let polled = self.poll.poll(&mut events, Some(timeout));
            if let Err(e) = polled {
                if e.kind() != std::io::ErrorKind::Interrupted {
                    self.close(format!("poll failed: {e}"));
                }
            }
            self.ctx.wakeup.disarm();
        }
        self.finish();
    }

    /// One round: read, handle, write, check the clock.
    fn turn(&mut self) {
        if self.ctx.shared.stopping.load(Ordering::SeqCst) {
            self.close("server stopping".into());
            return;
        }
        if let Err(reason) = self.read_input() {
            self.close(reason);
            return;
        }
        if let Err(reason) = self.write_output() {
            self.close(reason);
            return;
        }
        // Checked here, not only where the channel runs dry: a player whose socket is full
        // never gets that far, and would hold its thread and queued frames for ever.
        if let Some(reason) = self.ctx.evicted() {
            self.close(reason);
            return;
        }
        let now = Instant::now();
        let stage = self.stage();
        if stage.is_some() && now >= self.opened + self.ctx.shared.limits.handshake_timeout {
            self.close(format!(
                "handshake timeout: {} not done after {}s",
                stage.unwrap_or_default(),
                self.ctx.shared.limits.handshake_timeout.as_secs()
            ));
        } else if !matches!(self.ctx.role, Role::Player { .. })
            && now >= self.last_input + self.ctx.shared.limits.idle_timeout
        {
            self.close(format!(
                "idle timeout: nothing received for {}s",
                self.ctx.shared.limits.idle_timeout.as_secs()
            ));
        }
    }

    /// The step of setting up the connection that is under way, until `connect` succeeds.
    fn stage(&self) -> Option<&'static str> {
        if self.session.is_connected() {
            None
        } else if self.transport.is_handshaking() {
            Some("tls handshake")
        } else if !self.session.handshake_done() {
            Some("rtmp handshake")
        } else {
            Some("connect")
        }
    }

    /// " during the <stage>" while the connection is being set up, else nothing.
    fn during(&self) -> String {
        self.stage()
            .map(|stage| format!(" during the {stage}"))
            .unwrap_or_default()
    }

    fn next_deadline(&self) -> Instant {
        let limits = &self.ctx.shared.limits;
        if !self.session.is_connected() {
            return self.opened + limits.handshake_timeout;
        }
        if matches!(self.ctx.role, Role::Player { .. }) {
            return Instant::now() + MAX_SLEEP;
        }
        self.last_input + limits.idle_timeout
    }

    /// Before sleeping, a player arms its wakeup and looks at its channel once more;
    /// returns false when there is already work, so the caller should not sleep.
    ///
    /// A player whose socket is full does not arm: it waits for the socket, not the hub.
    fn arm_if_idle(&mut self) -> bool {
        if self.output_blocked {
            return true;
        }
        if let Role::Player { rx, backlog, .. } = &self.ctx.role {
            self.ctx.wakeup.arm();
            if !rx.is_empty() || !backlog.is_empty() {
                // Something arrived between the last look and arming: don't sleep on it.
                self.ctx.wakeup.disarm();
                return false;
            }
        }
        true
    }

    fn read_input(&mut self) -> Result<(), String> {
        let mut budget = READ_BUDGET;
        self.input_left = false;
        while self.ctx.closing.is_none() {
            if budget == 0 {
                self.input_left = true;
                return Ok(());
            }
            let free = self.input.get_mut(self.input_len..).unwrap_or_default();
            let n = match self.transport.read(&mut self.socket, free) {
                Ok(ReadOutcome::Data(0)) => return Ok(()),
                Ok(ReadOutcome::Data(n)) => n,
                Ok(ReadOutcome::Closed) => {
                    return Err(format!("peer closed the connection{}", self.during()));
                }
                // Players and encoders that quit often skip close_notify: ordinary, not an error.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return Err(format!("peer went away{}: {e}", self.during()));
                }
                Err(e) => return Err(format!("read failed: {e}")),
            };
            self.input_len += n;
            self.bytes_in += n as u64;
            budget = budget.saturating_sub(n);
            self.last_input = Instant::now();
            self.handle_input()?;
        }
        Ok(())
    }

    /// Feeds the input buffer to the session until it needs more bytes.
    fn handle_input(&mut self) -> Result<(), String> {
        let mut pos = 0;
        let chunk_size = self.session.out_chunk_size();
        loop {
            let rest = self.input.get(pos..self.input_len).unwrap_or_default();
            let fed = self
                .session
                .feed(rest)
                .map_err(|e| format!("protocol error: {e}"))?;
            pos += fed.consumed;
            let action = match fed.event {
                Some(event) => self.ctx.on_event(event, chunk_size)?,
                None if fed.consumed == 0 => break,
                None => None,
            };
            if let Some(action) = action {
                self.apply(action)?;
            }
            if self.ctx.closing.is_some() {
                break;
            }
        }
        self.input.copy_within(pos..self.input_len, 0);
        self.input_len -= pos;
        Ok(())
    }

    fn apply(&mut self, action: Action) -> Result<(), String> {
        let e = |e: crate::rtmp::Error| format!("reply failed: {e}");
        match action {
            Action::AcceptPublish(stream_id) => self.session.accept_publish(stream_id).map_err(e),
            Action::RejectPublish(stream_id, why) => {
                self.session.reject_publish(stream_id, why).map_err(e)?;
                self.ctx.closing = Some(format!("publish refused: {why}"));
                Ok(())
            }
            // A player may wait for a publisher that has not come yet (nginx-rtmp does the same);
            // it is told nothing until PublishNotify, since ffmpeg ends on UnpublishNotify.
            Action::AcceptPlay(stream_id) => self.session.accept_play(stream_id).map_err(e),
            Action::RejectPlay(stream_id, code, why) => {
                self.session.reject_play(stream_id, code, why).map_err(e)?;
                self.ctx.closing = Some(format!("play refused: {why}"));
                Ok(())
            }
        }
    }

    /// Moves session replies and player frames into the transport, then to the socket.
    fn write_output(&mut self) -> Result<(), String> {
        loop {
            let full = self.fill_transport()?;
            let blocked = self
                .transport
                .flush(&mut self.socket)
                .map_err(|e| format!("write failed: {e}"))?;
            self.output_blocked = blocked;
            if blocked || !full {
                return Ok(());
            }
        }
    }

    /// Queues output until the transport is full (returns true) or nothing is left (false).
    fn fill_transport(&mut self) -> Result<bool, String> {
        let err = |e: std::io::Error| format!("write failed: {e}");
        loop {
            if let Some((frame, offset)) = self.writing.as_mut() {
                let rest = frame.bytes.get(*offset..).unwrap_or_default();
                let n = self.transport.queue(rest).map_err(err)?;
                *offset += n;
                if n < rest.len() {
                    return Ok(true);
                }
                self.bytes_out_frames += frame.len() as u64;
                self.writing = None;
            }
            let pending = self.session.pending_output();
            if !pending.is_empty() {
                let len = pending.len();
                let n = self.transport.queue(pending).map_err(err)?;
                self.session.output_sent(n);
                if n < len {
                    return Ok(true);
                }
            }
            match self.ctx.next_delivery()? {
                Some(Delivery::Frame(frame)) => self.writing = Some((frame, 0)),
                Some(Delivery::Unpublished) => {
                    if let Role::Player { stream_id, .. } = self.ctx.role {
                        self.session
                            .notify_unpublish(stream_id)
                            .map_err(|e| e.to_string())?;
                    }
                }
                Some(Delivery::Published) => {
                    if let Role::Player { stream_id, .. } = self.ctx.role {
                        self.session
                            .notify_publish(stream_id)
                            .map_err(|e| e.to_string())?;
                    }
                }
                None => return Ok(false),
            }
        }
    }

    fn close(&mut self, reason: String) {
        if self.ctx.closing.is_none() {
            self.ctx.closing = Some(reason);
        }
    }

    /// The one exit: a last word to players, close_notify, one log line, leave the hub.
    fn finish(mut self) {
        let reason = self.ctx.closing.take().unwrap_or_default();
        if let Role::Player { stream_id, .. } = self.ctx.role {
            if self.ctx.shared.stopping.load(Ordering::SeqCst) {
                let _ = self.session.notify_unpublish(stream_id);
            }
        }
        // Best effort: replies (e.g. a refusal) and the close_notify, without waiting long.
        let _ = self.fill_pending_replies();
        self.transport.close();
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut events = Events::with_capacity(4);
        while let Ok(true) = self.transport.flush(&mut self.socket) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.poll.poll(&mut events, Some(left)).is_err() {
                break;
            }
        }
        let role = match &self.ctx.role {
            Role::Undecided => "connection".to_string(),
            Role::Publisher { stream, frames } => {
                format!("publisher of {} ({frames} frames)", stream_label(stream))
            }
            Role::Player { stream, frames, .. } => {
                format!("player of {} ({frames} frames)", stream_label(stream))
            }
        };
        let elapsed = self.opened.elapsed().as_secs_f32();
        let line = format!(
            "{} {} closed {role} after {elapsed:.1}s: {reason}; {} bytes in, {} frame bytes out",
            self.ctx.id, self.ctx.peer, self.bytes_in, self.bytes_out_frames
        );
        if reason.starts_with("protocol error")
            || reason.starts_with("read failed")
            || reason.starts_with("handshake")
            || reason.starts_with("plain rtmp")
        {
            warn!("{line}");
        } else {
            info!("{line}");
        }
    }

    fn fill_pending_replies(&mut self) -> Result<(), std::io::Error> {
        let pending = self.session.pending_output();
        let n = self.transport.queue(pending)?;
        self.session.output_sent(n);
        Ok(())
    }
}

impl Context {
    fn on_event(
        &mut self,
        event: SessionEvent<'_>,
        chunk_size: u32,
    ) -> Result<Option<Action>, String> {
        match event {
            SessionEvent::HandshakeDone { digest } => {
                debug!(
                    "{} {} rtmp handshake done ({})",
                    self.id,
                    self.peer,
                    if digest { "digest" } else { "plain" }
                );
                Ok(None)
            }
            SessionEvent::Connected { app } => {
                self.app = app.to_string();
                debug!("{} {} connected to app {app:?}", self.id, self.peer);
                Ok(None)
            }
            SessionEvent::PublishRequested { stream_id, name } => {
                Ok(Some(self.publish(stream_id, name)))
            }
            SessionEvent::PlayRequested { stream_id, name } => Ok(Some(self.play(stream_id, name))),
            SessionEvent::Media(media) => {
                if let Role::Publisher { stream, frames } = &mut self.role {
                    if let Some(seen) = stream.push(Frame::encode(&media, chunk_size)) {
                        info!(
                            "{} {} gop of {seen} bytes over the gop cache limit {}: \
                             players joining now wait for the next keyframe",
                            self.id,
                            self.peer,
                            stream.limits().gop_cache_bytes
                        );
                    }
                    *frames += 1;
                }
                Ok(None)
            }
            SessionEvent::StreamClosed { stream_id, role } => {
                debug!(
                    "{} {} stream {stream_id} closed ({role:?})",
                    self.id, self.peer
                );
                if matches!(role, StreamRole::Publishing | StreamRole::Playing) {
                    self.leave_hub();
                }
                Ok(None)
            }
        }
    }

    fn publish(&mut self, stream_id: u32, name: &str) -> Action {
        let (key, _) = split_name(name);
        if !matches!(self.role, Role::Undecided) {
            return Action::RejectPublish(stream_id, "this connection already publishes or plays");
        }
        if !self.shared.keys.publish_allowed(key) {
            warn!(
                "{} {} publish refused: wrong stream key {}",
                self.id,
                self.peer,
                redact(key)
            );
            return Action::RejectPublish(stream_id, "wrong stream key");
        }
        let hub_name = format!("{}/{key}", self.app);
        match self.shared.hub.publish(&hub_name, self.id) {
            Ok(stream) => {
                info!(
                    "{} {} publishing {}",
                    self.id,
                    self.peer,
                    stream_label(&stream)
                );
                self.role = Role::Publisher { stream, frames: 0 };
                Action::AcceptPublish(stream_id)
            }
            Err(_) => {
                warn!(
                    "{} {} publish refused: {}/{} is already live",
                    self.id,
                    self.peer,
                    self.app,
                    redact(key)
                );
                Action::RejectPublish(stream_id, "stream is already live")
            }
        }
    }

    fn play(&mut self, stream_id: u32, name: &str) -> Action {
        let (stream_name, key) = split_name(name);
        if !matches!(self.role, Role::Undecided) {
            return Action::RejectPlay(
                stream_id,
                "NetStream.Play.Failed",
                "this connection already publishes or plays",
            );
        }
        if stream_id != FANOUT_STREAM_ID {
            return Action::RejectPlay(
                stream_id,
                "NetStream.Play.Failed",
                "play only on the first stream",
            );
        }
        if !self.shared.keys.play_allowed(key) {
            warn!(
                "{} {} play refused: wrong or missing play key",
                self.id, self.peer
            );
            return Action::RejectPlay(
                stream_id,
                "NetStream.Play.BadName",
                "wrong or missing play key",
            );
        }
        let hub_name = format!("{}/{stream_name}", self.app);
        match self
            .shared
            .hub
            .join(&hub_name, self.id, self.wakeup.clone())
        {
            Ok((stream, joined)) => {
                info!(
                    "{} {} playing {} ({} backlog frames{})",
                    self.id,
                    self.peer,
                    stream_label(&stream),
                    joined.backlog.len(),
                    if joined.live {
                        ""
                    } else {
                        ", waiting for a publisher"
                    }
                );
                self.role = Role::Player {
                    stream,
                    stream_id,
                    backlog: joined.backlog,
                    rx: joined.rx,
                    subscription: joined.subscription,
                    frames: 0,
                };
                Action::AcceptPlay(stream_id)
            }
            Err(JoinError::TooManyPlayers { limit }) => {
                warn!(
                    "{} {} play refused: stream has {limit} players",
                    self.id, self.peer
                );
                Action::RejectPlay(stream_id, "NetStream.Play.Failed", "too many players")
            }
            Err(JoinError::AlreadyPublishing) => {
                Action::RejectPlay(stream_id, "NetStream.Play.Failed", "unavailable")
            }
        }
    }

    /// The next thing to send to a player: backlog first, then the channel.
    fn next_delivery(&mut self) -> Result<Option<Delivery>, String> {
        let Role::Player {
            backlog,
            rx,
            subscription,
            frames,
            ..
        } = &mut self.role
        else {
            return Ok(None);
        };
        if let Some(frame) = backlog.pop_front() {
            *frames += 1;
            return Ok(Some(Delivery::Frame(frame)));
        }
        match rx.try_recv() {
            Ok(delivery) => {
                if let Delivery::Frame(frame) = &delivery {
                    subscription
                        .queued_bytes
                        .fetch_sub(frame.len(), Ordering::SeqCst);
                    *frames += 1;
                }
                Ok(Some(delivery))
            }
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => {
                Err(self.evicted().unwrap_or_else(|| "stream removed".into()))
            }
        }
    }

    /// Why the hub cut this player off, if it did: the limits and what it saw.
    fn evicted(&self) -> Option<String> {
        let Role::Player { subscription, .. } = &self.role else {
            return None;
        };
        if subscription.eviction() == Eviction::None {
            return None;
        }
        let limits = &self.shared.limits;
        let queue = format!(
            "queue limits {} messages, {} bytes; {} frames dropped",
            limits.player_queue_len,
            limits.player_queue_bytes,
            subscription.dropped()
        );
        let behind = subscription.behind();
        Some(if behind.is_zero() {
            format!("slow player: queue full when a stream notice came ({queue})")
        } else {
            format!(
                "slow player: behind for {}ms, over the limit {}ms ({queue})",
                behind.as_millis(),
                limits.slow_player.as_millis()
            )
        })
    }

    fn leave_hub(&mut self) {
        match std::mem::replace(&mut self.role, Role::Undecided) {
            Role::Undecided => {}
            Role::Publisher { stream, frames } => {
                info!(
                    "{} {} unpublished {} after {frames} frames",
                    self.id,
                    self.peer,
                    stream_label(&stream)
                );
                self.shared.hub.unpublish(&stream, self.id);
            }
            Role::Player { stream, .. } => self.shared.hub.leave(&stream, self.id),
        }
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.leave_hub();
        self.shared
            .wakers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _)| *id != self.id);
    }
}

/// `app/key` with the key part redacted, for logs.
fn stream_label(stream: &Stream) -> String {
    match stream.name().split_once('/') {
        Some((app, key)) => format!("{app}/{}", redact(key)),
        None => redact(stream.name()),
    }
}
