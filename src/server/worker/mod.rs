//! One connection's thread: socket, transport, RTMP session, and its place in the hub.
//!
//! The worker waits on its own small mio `Poll` for its socket and its waker, which the hub
//! rings (through the doorbell) when frames arrive for a player, so a player answers pings
//! and notices a closed socket while no frame is coming. Input goes through a fixed buffer
//! into the session; output is gathered into an `OutBatch` (session replies, and frames with
//! this connection's chunk headers) and handed to the transport's bounded send buffer. When
//! that buffer is full the worker stops taking frames from its queue, the queue fills, and
//! the hub drops video for this player only. Every exit goes through one `CloseReason` and
//! one log line; hub membership is released when the role's handle drops, so on panic too.

mod context;
mod reconnect;
mod scheduling;
mod stack_use;
mod track_log;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{debug, info, log};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token, Waker};
use ring::rand::{SecureRandom, SystemRandom};

use super::close_reason::{CloseReason, Stage};
use super::connection_slot::ConnectionSlot;
use super::hub::{Delivery, Doorbell, Wake};
use super::out_batch::{FrameInProgress, OutBatch};
use super::shared::Shared;
use super::transport::{ReadOutcome, Transport, TransportError, peer_went_away};
use crate::rtmp::chunk::ChunkWriter;
use crate::rtmp::handshake::RANDOM_SIZE;
use crate::rtmp::session::{Session, SessionEvent};
use context::{Action, Context};
use reconnect::PendingReconnect;
pub use reconnect::RECONNECT_WAIT;
use track_log::TrackLog;

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
/// Longest a worker sleeps before it looks at its deadlines and the shutdown flag again.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// Input bytes handled in one turn before output gets its turn.
const READ_BUDGET: usize = 256 * 1024;
/// Plaintext handed to the transport before it is written to the socket: four TLS records.
/// rustls allocates each sealed record; writing every four (a 126 KB keyframe in three
/// writes, not one) keeps fewer of them alive at once across hundreds of players
/// (benches/fanout at 200 players: peak RSS 16.8-17.7 -> 14.9-15.3 MiB, CPU unchanged).
const FLUSH_EVERY: usize = 64 * 1024;

/// The hub wakes a worker through its poll's waker.
impl Wake for Waker {
    fn wake(&self) {
        let _ = Waker::wake(self);
    }
}

/// A TLS transport for a new connection, holding at most `limit` bytes unsent.
///
/// Not inlined: rustls's constructor has kilobytes of temporaries, which in `Worker::new`'s
/// frame would stay part of every session thread's resident stack.
#[inline(never)]
fn tls_transport(config: Arc<rustls::ServerConfig>, limit: usize) -> std::io::Result<Transport> {
    let conn = rustls::ServerConnection::new(config)
        .map_err(|e| std::io::Error::other(format!("tls setup: {e}")))?;
    Ok(Transport::tls(conn, limit))
}

/// One connection.
pub struct Worker {
    socket: TcpStream,
    poll: Poll,
    transport: Transport,
    session: Session,
    /// Received plaintext not yet taken by the session; `Limits::read_buffer` bytes, or
    /// none while a sleeping player has nothing in it (players receive a few bytes a second).
    input: Box<[u8]>,
    input_len: usize,
    /// Plaintext gathered for the transport.
    batch: OutBatch,
    /// A frame part-way into the batch.
    writing: Option<FrameInProgress>,
    /// The socket would not take more: wait for it to become writable.
    output_blocked: bool,
    /// The read budget ran out with input possibly left in the socket (mio is edge-triggered).
    input_left: bool,
    /// The socket may hold input: set by a readable event, cleared when a read would block.
    /// A player woken only by its doorbell then skips a read that could only find nothing.
    socket_readable: bool,
    /// The stack the handshakes left behind was given back (once, on becoming a player).
    stack_trimmed: bool,
    /// When the connection was accepted: the handshake limit runs from here.
    opened: Instant,
    last_input: Instant,
    bytes_in: u64,
    bytes_out_frames: u64,
    /// A ReconnectRequest sent, and the close it stands for (see `reconnect`).
    reconnect: Option<PendingReconnect>,
    /// The codec of each track logged so far, for a publisher.
    track_log: TrackLog,
    ctx: Context,
}

impl Worker {
    /// Sets up a worker for an accepted socket; `tls` for the RTMPS listener.
    #[inline(never)]
    pub fn new(
        id: u64,
        peer: SocketAddr,
        mut socket: TcpStream,
        tls: bool,
        shared: Arc<Shared>,
        slot: ConnectionSlot,
    ) -> std::io::Result<Worker> {
        let settings = shared.settings.load();
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut socket, SOCKET, Interest::READABLE | Interest::WRITABLE)?;
        let doorbell = Arc::new(Doorbell::new(Waker::new(poll.registry(), WAKER)?));
        let limits = &settings.limits;
        let transport = if tls {
            tls_transport(settings.tls.clone(), limits.tls_out_bytes)?
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
        let now = Instant::now();
        Ok(Worker {
            socket,
            poll,
            transport,
            session,
            input,
            input_len: 0,
            batch: OutBatch::new(),
            writing: None,
            output_blocked: false,
            input_left: false,
            socket_readable: true,
            stack_trimmed: false,
            opened: now,
            last_input: now,
            bytes_in: 0,
            bytes_out_frames: 0,
            reconnect: None,
            track_log: TrackLog::default(),
            ctx: Context::new(id, peer, shared, settings, doorbell, slot),
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
            if !self.stack_trimmed && self.ctx.is_player() {
                // The handshakes are over: their depth is not this thread's from now on.
                self.stack_trimmed = true;
                stack_use::release_below_here();
            }
            let mut timeout = self
                .next_deadline()
                .saturating_duration_since(Instant::now())
                .min(MAX_SLEEP);
            if self.input_left || !self.arm_if_idle() {
                timeout = Duration::ZERO;
            } else {
                // Asleep, a connection holds no batch buffer (see OutBatch), nor a player
                // an empty input buffer.
                self.batch.release();
                if self.input_len == 0 && self.ctx.is_player() {
                    self.input = Box::default();
                }
            }
            if let Err(error) = self.poll.poll(&mut events, Some(timeout)) {
                if error.kind() != std::io::ErrorKind::Interrupted {
                    self.close(CloseReason::Io { op: "poll", error });
                }
            }
            self.ctx.doorbell.disarm();
            self.socket_readable |= events.iter().any(|event| {
                event.token() == SOCKET
                    && (event.is_readable() || event.is_read_closed() || event.is_error())
            });
        }
        self.finish();
    }

    /// One round: read, handle, write, check the clock.
    fn turn(&mut self) {
        if self.ctx.shared.is_stopping() {
            self.close_recoverable(CloseReason::ServerStopping, None);
            if self.ctx.closing.is_some() {
                return;
            }
        }
        if let Err(reason) = self.read_input() {
            self.close(reason);
            return;
        }
        if let Err(reason) = self.write_output() {
            self.close(reason);
            return;
        }
        // Checked here, not only where the queue runs dry: a player whose socket is full
        // never gets that far, and would hold its thread and queued frames for ever.
        if let Some(reason) = self.ctx.evicted() {
            self.close(reason);
            return;
        }
        // Taken over by a publisher with the same key: a client that can reconnect is asked
        // to (its frames are already dropped by the hub); any other is closed now.
        if let Some(by) = self.ctx.taken_over_by() {
            self.close_recoverable(CloseReason::TakenOver { by }, None);
            if self.ctx.closing.is_some() {
                return;
            }
        }
        let now = Instant::now();
        if self.reconnect.as_ref().is_some_and(|p| now >= p.deadline) {
            if let Some(pending) = self.reconnect.take() {
                info!(
                    "{} {} did not leave within {}s of the reconnect request",
                    self.ctx.id,
                    self.ctx.peer,
                    RECONNECT_WAIT.as_secs()
                );
                self.close(pending.reason);
                return;
            }
        }
        let limits = &self.ctx.settings.limits;
        if let Some(since) = self.ctx.waiting_since() {
            if now >= since + limits.play_wait {
                let limit = limits.play_wait;
                self.give_up_waiting(limit);
                return;
            }
        }
        if let Some(stage) = self.stage() {
            if now >= self.opened + limits.handshake_timeout {
                let limit = limits.handshake_timeout;
                self.close(CloseReason::HandshakeTimeout { stage, limit });
            }
        } else if !self.ctx.is_player() && now >= self.last_input + limits.idle_timeout {
            let limit = limits.idle_timeout;
            self.close(CloseReason::IdleTimeout { limit });
        }
    }

    /// The step of setting up the connection that is under way, until `connect` succeeds.
    fn stage(&self) -> Option<Stage> {
        if self.session.is_connected() {
            None
        } else if self.transport.is_handshaking() {
            Some(Stage::TlsHandshake)
        } else if !self.session.handshake_done() {
            Some(Stage::RtmpHandshake)
        } else {
            Some(Stage::Connect)
        }
    }

    fn next_deadline(&self) -> Instant {
        let limits = &self.ctx.settings.limits;
        let deadline = if !self.session.is_connected() {
            self.opened + limits.handshake_timeout
        } else if self.ctx.is_player() {
            let soon = Instant::now() + MAX_SLEEP;
            match self.ctx.waiting_since() {
                Some(since) => soon.min(since + limits.play_wait),
                None => soon,
            }
        } else {
            self.last_input + limits.idle_timeout
        };
        match &self.reconnect {
            Some(pending) => deadline.min(pending.deadline),
            None => deadline,
        }
    }

    /// Before sleeping, a player arms its doorbell and looks at its queue once more;
    /// returns false when there is already work, so the caller should not sleep.
    ///
    /// A player whose socket is full does not arm: it waits for the socket, not the hub.
    fn arm_if_idle(&mut self) -> bool {
        if self.output_blocked {
            return true;
        }
        if let Some(subscription) = self.ctx.subscription() {
            self.ctx.doorbell.arm();
            if !subscription.is_empty() {
                // Something arrived between the last look and arming: don't sleep on it.
                self.ctx.doorbell.disarm();
                return false;
            }
        }
        true
    }

    fn read_input(&mut self) -> Result<(), CloseReason> {
        let mut budget = READ_BUDGET;
        self.input_left = false;
        while self.ctx.closing.is_none() && self.socket_readable {
            if budget == 0 {
                self.input_left = true;
                return Ok(());
            }
            if self.input.is_empty() {
                self.input = vec![0u8; self.ctx.settings.limits.read_buffer].into_boxed_slice();
            }
            let free = self.input.get_mut(self.input_len..).unwrap_or_default();
            let n = match self.transport.read(&mut self.socket, free) {
                // Nothing until the next readable event. (rustls also stops reading while
                // its handshake flight waits to be written; the peer's answer to that
                // flight comes after it, with an event of its own.)
                Ok(ReadOutcome::Data(0)) => {
                    self.socket_readable = false;
                    return Ok(());
                }
                Ok(ReadOutcome::Data(n)) => n,
                Ok(ReadOutcome::Closed) => {
                    return Err(CloseReason::PeerClosed {
                        during: self.stage(),
                    });
                }
                Err(TransportError::Tls(e)) => return Err(CloseReason::Tls(e)),
                Err(TransportError::PlainOnTlsPort) => return Err(CloseReason::PlainOnTlsPort),
                // Players and encoders that quit often skip close_notify: ordinary, not an error.
                Err(TransportError::Io(error)) if peer_went_away(&error) => {
                    return Err(CloseReason::PeerGone {
                        during: self.stage(),
                        error,
                    });
                }
                Err(TransportError::Io(error)) => {
                    return Err(CloseReason::Io { op: "read", error });
                }
            };
            self.input_len += n;
            self.bytes_in += n as u64;
            self.ctx.shared.stats.add_bytes_in(n);
            budget = budget.saturating_sub(n);
            self.last_input = Instant::now();
            self.handle_input()?;
        }
        Ok(())
    }

    /// Feeds the input buffer to the session until it needs more bytes.
    fn handle_input(&mut self) -> Result<(), CloseReason> {
        let mut pos = 0;
        loop {
            let rest = self.input.get(pos..self.input_len).unwrap_or_default();
            let fed = self.session.feed(rest).map_err(CloseReason::Protocol)?;
            pos += fed.consumed;
            let connected = matches!(fed.event, Some(SessionEvent::Connected { .. }));
            if let Some(SessionEvent::Media(media)) = &fed.event {
                let (id, peer) = (self.ctx.id, self.ctx.peer);
                self.track_log.observe(media, |kind, track, codec| {
                    info!("{id} {peer} {kind} track {track}: {codec}");
                });
            }
            let action = match fed.event {
                Some(SessionEvent::HandshakeDone { digest }) => {
                    debug!(
                        "{} {} rtmp handshake done ({}, {})",
                        self.ctx.id,
                        self.ctx.peer,
                        if digest { "digest" } else { "plain" },
                        self.transport.describe()
                    );
                    None
                }
                Some(event) => self.ctx.on_event(event),
                None if fed.consumed == 0 => break,
                None => None,
            };
            if connected {
                debug!(
                    "{} {} enhanced rtmp: {}",
                    self.ctx.id,
                    self.ctx.peer,
                    self.session.client_caps()
                );
            }
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

    fn apply(&mut self, action: Action) -> Result<(), CloseReason> {
        let session = &mut self.session;
        match action {
            Action::AcceptPublish(stream_id) => session.accept_publish(stream_id),
            Action::RejectPublish(stream_id, why) => {
                session
                    .reject_publish(stream_id, why)
                    .map_err(CloseReason::Reply)?;
                self.ctx.closing = Some(CloseReason::PublishRefused(why));
                Ok(())
            }
            // A player may wait for a publisher that has not come yet (nginx-rtmp does the same);
            // it is told nothing until PublishNotify, since ffmpeg ends on UnpublishNotify.
            Action::AcceptPlay(stream_id) => session.accept_play(stream_id),
            Action::RejectPlay(stream_id, code, why) => {
                session
                    .reject_play(stream_id, code, why)
                    .map_err(CloseReason::Reply)?;
                self.ctx.closing = Some(CloseReason::PlayRefused(why));
                Ok(())
            }
        }
        .map_err(CloseReason::Reply)
    }

    /// Moves output into the transport and on to the socket.
    fn write_output(&mut self) -> Result<(), CloseReason> {
        loop {
            let full = self.fill_transport()?;
            let blocked = self
                .transport
                .flush(&mut self.socket)
                .map_err(|error| self.write_error(error))?;
            self.output_blocked = blocked;
            if blocked || !full {
                return Ok(());
            }
        }
    }

    /// A failed socket write: a player that quits while its backlog is being written sees
    /// this (a broken pipe) rather than the end of its input.
    fn write_error(&self, error: std::io::Error) -> CloseReason {
        if peer_went_away(&error) {
            CloseReason::PeerGone {
                during: self.stage(),
                error,
            }
        } else {
            CloseReason::Io { op: "write", error }
        }
    }

    /// Hands batches to the transport until it is full or has taken `FLUSH_EVERY` bytes
    /// (returns true: flush, then come back) or nothing is left (false).
    fn fill_transport(&mut self) -> Result<bool, CloseReason> {
        let mut queued = 0;
        loop {
            if !self.batch.is_empty() {
                let n = self
                    .transport
                    .queue(self.batch.pending())
                    .map_err(|error| CloseReason::Io { op: "write", error })?;
                self.ctx.shared.stats.add_bytes_out(n);
                self.batch.sent(n);
                queued += n;
                if !self.batch.is_empty() || queued >= FLUSH_EVERY {
                    return Ok(true);
                }
            }
            if !self.fill_batch()? {
                return Ok(false);
            }
        }
    }

    /// Adds what is ready (a frame part-way out, session replies, the player's next
    /// deliveries, in that order) to the batch until it is full; returns whether it added any.
    fn fill_batch(&mut self) -> Result<bool, CloseReason> {
        let writer = ChunkWriter::new(self.session.out_chunk_size());
        let mut added = false;
        while self.batch.room() > 0 {
            if let Some(progress) = self.writing.as_mut() {
                let room = self.batch.room();
                let finished = self.batch.write_frame(progress, &writer);
                added |= self.batch.room() != room;
                if !finished {
                    break;
                }
                self.bytes_out_frames += progress.encoded_len() as u64;
                self.writing = None;
                continue;
            }
            let pending = self.session.pending_output();
            if !pending.is_empty() {
                let n = self.batch.extend(pending);
                self.session.output_sent(n);
                added |= n > 0;
                continue;
            }
            let Some((delivery, stream_id)) = self.ctx.next_delivery()? else {
                break;
            };
            match delivery {
                Delivery::Frame(frame) => {
                    self.writing = Some(FrameInProgress::new(frame, stream_id, &writer));
                }
                Delivery::Unpublished => self
                    .session
                    .notify_unpublish(stream_id)
                    .map_err(CloseReason::Reply)?,
                Delivery::Published => self
                    .session
                    .notify_publish(stream_id)
                    .map_err(CloseReason::Reply)?,
            }
        }
        Ok(added)
    }

    /// Tells a player that waited `limit` in vain that the stream was not found, and closes.
    fn give_up_waiting(&mut self, limit: Duration) {
        if let Some(stream_id) = self.ctx.player_stream_id() {
            let _ = self.session.reject_play(
                stream_id,
                context::STREAM_NOT_FOUND,
                "the stream is not live",
            );
        }
        self.close(CloseReason::PlayWaitTimeout { limit });
    }

    fn close(&mut self, reason: CloseReason) {
        if self.ctx.closing.is_some() {
            return;
        }
        let reason = match self.reconnect.take() {
            Some(pending) => {
                let asked = pending.asked;
                let (reason, left) = pending.settle(reason);
                if left {
                    info!(
                        "{} {} left {}ms after the reconnect request",
                        self.ctx.id,
                        self.ctx.peer,
                        asked.elapsed().as_millis()
                    );
                }
                reason
            }
            None => reason,
        };
        self.ctx.closing = Some(reason);
    }

    /// Ends the connection for `reason`, one its client can recover from (see `reconnect`):
    /// a client that declared `capsEx` Reconnect is asked to reconnect (to `tc_url`, else to
    /// this server) and served on until it leaves or `RECONNECT_WAIT` passes; any other is
    /// closed now. Calling it again while a request is pending changes nothing.
    fn close_recoverable(&mut self, reason: CloseReason, tc_url: Option<&str>) {
        if self.ctx.closing.is_some() || self.reconnect.is_some() {
            return;
        }
        let description = reason.to_string();
        match self.session.request_reconnect(tc_url, &description) {
            Ok(true) => {
                info!(
                    "{} {} asked to reconnect ({description}); waiting up to {}s for it to leave",
                    self.ctx.id,
                    self.ctx.peer,
                    RECONNECT_WAIT.as_secs()
                );
                self.reconnect = Some(PendingReconnect::new(reason, Instant::now()));
            }
            Ok(false) => self.close(reason),
            Err(error) => self.close(CloseReason::Reply(error)),
        }
    }

    /// The one exit: a last word to players, close_notify, one log line, leave the hub.
    #[inline(never)]
    fn finish(mut self) {
        // Before this exit's own calls (the log line's formatting) go deeper.
        let stack_touched = stack_use::touched();
        let reason = self
            .ctx
            .closing
            .take()
            .unwrap_or(CloseReason::ServerStopping);
        if let Some(stream_id) = self.ctx.player_stream_id() {
            if self.ctx.shared.is_stopping() {
                let _ = self.session.notify_unpublish(stream_id);
            }
        }
        // Best effort: what is batched, replies (e.g. a refusal) and the close_notify,
        // without waiting long.
        let _ = self.transport.queue(self.batch.pending());
        if self.writing.is_none() {
            let _ = self.transport.queue(self.session.pending_output());
        }
        self.transport.close();
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut events = Events::with_capacity(4);
        while let Ok(true) = self.transport.flush(&mut self.socket) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.poll.poll(&mut events, Some(left)).is_err() {
                break;
            }
        }
        let elapsed = self.opened.elapsed().as_secs_f32();
        log!(
            reason.level(),
            "{} {} closed {} after {elapsed:.1}s: {reason}; {} bytes in, {} frame bytes out",
            self.ctx.id,
            self.ctx.peer,
            self.ctx.describe_role(),
            self.bytes_in,
            self.bytes_out_frames
        );
        self.ctx.shared.stats.closed(&reason);
        if let Some(touched) = stack_touched {
            debug!(
                "{} {} stack touched: {} KiB of {} KiB (--worker-stack-kib)",
                self.ctx.id,
                self.ctx.peer,
                touched / 1024,
                self.ctx.settings.limits.worker_stack / 1024
            );
        }
    }
}
