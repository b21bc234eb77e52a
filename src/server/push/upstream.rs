//! One connection to an upstream server: socket, transport (rustls client side), the core's
//! `ClientSession`, and the frames in flight, written with this connection's chunk size and
//! the upstream's stream id.
//!
//! Non-blocking on the push thread's mio poll: TCP connect (each resolved address in turn),
//! TLS and RTMP handshakes, `connect`/`createStream`/`publish`, then media. Output goes
//! through an `OutBatch` into the transport's bounded buffer; when that is full the push
//! stops taking frames and its hub queue fills, so a slow upstream costs only this push.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::debug;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::ack_watch::AckWatch;
use super::failure::{PushFailure, Stage, upstream_text};
use crate::rtmp::chunk::ChunkWriter;
use crate::rtmp::client_session::{ClientEvent, ClientSession, ClientStep};
use crate::server::frame::Frame;
use crate::server::out_batch::{FrameInProgress, OutBatch};
use crate::server::transport::{ReadOutcome, Transport, TransportError, peer_went_away};

/// Input bytes handled in one turn before output gets its turn.
const READ_BUDGET: usize = 64 * 1024;
/// How long closing waits for the last bytes and close_notify to leave.
const CLOSE_TIME: Duration = Duration::from_millis(200);

/// Where the frames a live upstream sends come from.
pub(super) trait FrameSource {
    /// The next frame to send (its timestamp already the upstream's), if one is ready.
    fn next_frame(&mut self) -> Option<Frame>;
}

/// What a turn brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Turned {
    /// Nothing to report.
    Quiet,
    /// NetStream.Publish.Start arrived this turn: the upstream is live.
    BecameLive,
}

/// One upstream connection and its place in the publish conversation.
pub(super) struct Upstream {
    socket: TcpStream,
    token: Token,
    addrs: Vec<SocketAddr>,
    /// Index in `addrs` of the address being connected to.
    addr_index: usize,
    tcp_connected: bool,
    transport: Transport,
    session: ClientSession,
    /// The stream key, to cut out of upstream text.
    key: String,
    /// The push's log label.
    label: String,
    input: Box<[u8]>,
    input_len: usize,
    batch: OutBatch,
    writing: Option<FrameInProgress>,
    output_blocked: bool,
    input_left: bool,
    opened: Instant,
    last_progress: Instant,
    live: Option<(Instant, u32)>,
    /// Plaintext bytes handed to the transport.
    bytes_out: u64,
    /// Frame payload bytes sent.
    frame_bytes: u64,
    frames: u64,
    ack: AckWatch,
    timeout: Duration,
}

impl Upstream {
    /// Starts connecting to `addrs` (tried in order) over `transport`, with `session` ready
    /// to publish; the socket is registered on `poll` under `token`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn open(
        poll: &Poll,
        token: Token,
        addrs: Vec<SocketAddr>,
        transport: Transport,
        session: ClientSession,
        key: &str,
        label: &str,
        read_buffer: usize,
        window: u32,
        timeout: Duration,
    ) -> Result<Upstream, PushFailure> {
        let now = Instant::now();
        let (addr_index, socket) = first_connect(poll, token, &addrs)?;
        Ok(Upstream {
            socket,
            token,
            addrs,
            addr_index,
            tcp_connected: false,
            transport,
            session,
            key: key.to_string(),
            label: label.to_string(),
            input: vec![0u8; read_buffer].into_boxed_slice(),
            input_len: 0,
            batch: OutBatch::new(),
            writing: None,
            output_blocked: false,
            input_left: false,
            opened: now,
            last_progress: now,
            live: None,
            bytes_out: 0,
            frame_bytes: 0,
            frames: 0,
            ack: AckWatch::new(window, timeout),
            timeout,
        })
    }

    /// The address connected to (or being tried).
    pub(super) fn addr(&self) -> SocketAddr {
        self.addrs
            .get(self.addr_index)
            .copied()
            .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Since when the upstream is live, if it is.
    pub(super) fn live_since(&self) -> Option<Instant> {
        self.live.map(|(since, _)| since)
    }

    /// Frames and frame payload bytes sent.
    pub(super) fn frames_sent(&self) -> (u64, u64) {
        (self.frames, self.frame_bytes)
    }

    /// The negotiated TLS version and suite, or "plain".
    pub(super) fn describe(&self) -> String {
        self.transport.describe()
    }

    /// Whether input may be left in the socket, or output waits for the socket.
    pub(super) fn wants_turn_now(&self) -> bool {
        self.input_left
    }

    /// Whether output waits for the socket to take more (then the push waits for the
    /// socket, not for frames).
    pub(super) fn output_blocked(&self) -> bool {
        self.output_blocked
    }

    /// The stage under way.
    pub(super) fn stage(&self) -> Stage {
        if self.live.is_some() {
            Stage::Live
        } else if !self.tcp_connected {
            Stage::TcpConnect
        } else if self.transport.is_handshaking() {
            Stage::TlsHandshake
        } else if !self.session.handshake_done() {
            Stage::RtmpHandshake
        } else {
            match self.session.step() {
                ClientStep::Connect => Stage::Connect,
                ClientStep::CreateStream => Stage::CreateStream,
                ClientStep::Publish | ClientStep::Publishing => Stage::Publish,
            }
        }
    }

    /// When the next timeout falls, for the poll's sleep.
    pub(super) fn next_deadline(&self) -> Instant {
        match self.live {
            None => self.opened + self.timeout,
            Some(_) => self.last_progress + self.timeout,
        }
    }

    /// One round: connect, read, write, check the clock. `frames` is asked for frames
    /// once live. `bytes_out` is told of every byte handed to the transport.
    pub(super) fn turn(
        &mut self,
        poll: &Poll,
        frames: &mut dyn FrameSource,
        bytes_out: &mut dyn FnMut(usize),
        now: Instant,
    ) -> Result<Turned, PushFailure> {
        if !self.check_tcp(poll)? {
            return self.check_clock(now).map(|()| Turned::Quiet);
        }
        let turned = self.read_input(now)?;
        self.write_output(frames, bytes_out, now)?;
        self.check_clock(now)?;
        Ok(turned)
    }

    /// Whether TCP is connected; moves on to the next address when one fails.
    fn check_tcp(&mut self, poll: &Poll) -> Result<bool, PushFailure> {
        if self.tcp_connected {
            return Ok(true);
        }
        let error = match self.socket.take_error() {
            Ok(Some(error)) | Err(error) => Some(error),
            Ok(None) => match self.socket.peer_addr() {
                Ok(_) => None,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                Err(e) => Some(e),
            },
        };
        let Some(error) = error else {
            self.tcp_connected = true;
            debug!("{}: {} tcp connected", self.label, self.addr());
            return Ok(true);
        };
        let failed = self.addr();
        if self.addr_index + 1 >= self.addrs.len() {
            return Err(PushFailure::Connect {
                addr: failed,
                error,
            });
        }
        debug!(
            "{}: {failed} tcp connect failed ({error}); trying the next address",
            self.label
        );
        let _ = poll.registry().deregister(&mut self.socket);
        let rest = self.addrs.get(self.addr_index + 1..).unwrap_or_default();
        let (skip, socket) = first_connect(poll, self.token, rest)?;
        self.addr_index += 1 + skip;
        self.socket = socket;
        Ok(false)
    }

    fn check_clock(&self, now: Instant) -> Result<(), PushFailure> {
        match self.live {
            None if now >= self.opened + self.timeout => Err(PushFailure::Timeout {
                stage: self.stage(),
                limit: self.timeout,
            }),
            Some(_) if now >= self.last_progress + self.timeout => Err(PushFailure::Stalled {
                limit: self.timeout,
            }),
            Some(_) => match self.ack.overdue(self.bytes_out, now) {
                Some(overdue) => Err(PushFailure::NoAcknowledgement { overdue }),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    fn read_input(&mut self, now: Instant) -> Result<Turned, PushFailure> {
        let mut budget = READ_BUDGET;
        let mut turned = Turned::Quiet;
        self.input_left = false;
        loop {
            if budget == 0 {
                self.input_left = true;
                return Ok(turned);
            }
            let free = self.input.get_mut(self.input_len..).unwrap_or_default();
            let n = match self.transport.read(&mut self.socket, free) {
                Ok(ReadOutcome::Data(0)) => return Ok(turned),
                Ok(ReadOutcome::Data(n)) => n,
                Ok(ReadOutcome::Closed) => {
                    return Err(PushFailure::Closed {
                        stage: self.stage(),
                    });
                }
                Err(TransportError::Tls(e)) => return Err(PushFailure::Tls(e)),
                Err(TransportError::PlainOnTlsPort) => {
                    return Err(PushFailure::Io {
                        op: "read",
                        error: io::Error::other("upstream answered tls with plain rtmp"),
                    });
                }
                Err(TransportError::Io(error)) if peer_went_away(&error) => {
                    return Err(PushFailure::Gone {
                        stage: self.stage(),
                        error,
                    });
                }
                Err(TransportError::Io(error)) => {
                    return Err(PushFailure::Io { op: "read", error });
                }
            };
            self.input_len += n;
            budget = budget.saturating_sub(n);
            if self.handle_input(now)? == Turned::BecameLive {
                turned = Turned::BecameLive;
            }
        }
    }

    /// Feeds the input buffer to the session until it needs more bytes.
    fn handle_input(&mut self, now: Instant) -> Result<Turned, PushFailure> {
        let mut pos = 0;
        let mut turned = Turned::Quiet;
        let addr = self.addr();
        let label = &self.label;
        loop {
            let rest = self.input.get(pos..self.input_len).unwrap_or_default();
            let fed = self.session.feed(rest).map_err(PushFailure::Protocol)?;
            pos += fed.consumed;
            match fed.event {
                Some(ClientEvent::HandshakeDone { digest }) => debug!(
                    "{label}: {addr} rtmp handshake done ({}, {})",
                    if digest { "digest" } else { "plain" },
                    self.transport.describe()
                ),
                Some(ClientEvent::Connected) => {
                    debug!("{label}: {addr} accepted connect");
                }
                Some(ClientEvent::Publishing { stream_id }) => {
                    self.live = Some((now, stream_id));
                    self.last_progress = now;
                    turned = Turned::BecameLive;
                }
                Some(ClientEvent::Refused { step, status }) => {
                    return Err(PushFailure::refused(step, &status, &self.key));
                }
                Some(ClientEvent::Status(status)) => debug!(
                    "{label}: {addr} status {:?}: {:?}",
                    upstream_text(status.code, &self.key),
                    upstream_text(status.description, &self.key)
                ),
                Some(ClientEvent::Acknowledged { sequence }) => {
                    if !self.ack.armed() {
                        debug!(
                            "{label}: {addr} acknowledges what it gets ({sequence} bytes so far)"
                        );
                    }
                    self.ack.acknowledged(self.bytes_out, now);
                }
                None if fed.consumed == 0 => break,
                None => {}
            }
        }
        self.input.copy_within(pos..self.input_len, 0);
        self.input_len -= pos;
        Ok(turned)
    }

    /// Moves output into the transport and on to the socket.
    fn write_output(
        &mut self,
        frames: &mut dyn FrameSource,
        bytes_out: &mut dyn FnMut(usize),
        now: Instant,
    ) -> Result<(), PushFailure> {
        loop {
            let full = self.fill_transport(frames, bytes_out, now)?;
            let blocked = self
                .transport
                .flush(&mut self.socket)
                .map_err(|error| self.write_error(error))?;
            self.output_blocked = blocked;
            if !blocked && self.batch.is_empty() {
                self.last_progress = now;
            }
            if blocked || !full {
                return Ok(());
            }
        }
    }

    fn write_error(&self, error: io::Error) -> PushFailure {
        if peer_went_away(&error) {
            PushFailure::Gone {
                stage: self.stage(),
                error,
            }
        } else {
            PushFailure::Io { op: "write", error }
        }
    }

    /// Hands batches to the transport until it is full (true) or nothing is left (false).
    fn fill_transport(
        &mut self,
        frames: &mut dyn FrameSource,
        bytes_out: &mut dyn FnMut(usize),
        now: Instant,
    ) -> Result<bool, PushFailure> {
        loop {
            if !self.batch.is_empty() {
                let n = self
                    .transport
                    .queue(self.batch.pending())
                    .map_err(|error| PushFailure::Io { op: "write", error })?;
                if n > 0 {
                    self.last_progress = now;
                    self.bytes_out += n as u64;
                    bytes_out(n);
                }
                self.batch.sent(n);
                if !self.batch.is_empty() {
                    return Ok(true);
                }
            }
            if !self.fill_batch(frames) {
                return Ok(false);
            }
        }
    }

    /// Adds what is ready (a frame part-way out, session output, then frames once live) to
    /// the batch until it is full; returns whether it added any.
    fn fill_batch(&mut self, frames: &mut dyn FrameSource) -> bool {
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
                self.frames += 1;
                self.frame_bytes += progress.frame.len() as u64;
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
            let Some((_, stream_id)) = self.live else {
                break;
            };
            let Some(frame) = frames.next_frame() else {
                break;
            };
            self.writing = Some(FrameInProgress::new(frame, stream_id, &writer));
        }
        added
    }

    /// Ends the connection: `FCUnpublish` and `deleteStream` when live (`goodbye`), what is
    /// batched, close_notify; waits at most `CLOSE_TIME` for it to leave.
    pub(super) fn close(mut self, poll: &mut Poll, goodbye: bool) {
        if goodbye && self.live.is_some() {
            let _ = self.session.unpublish();
        }
        if self.tcp_connected {
            // A frame part-way out would be cut; the rest of it is sent, then the goodbye.
            if self.writing.is_some() {
                let mut none = NoFrames;
                let _ = self.fill_transport(&mut none, &mut |_| {}, Instant::now());
            }
            if self.writing.is_none() {
                let _ = self.transport.queue(self.batch.pending());
                let _ = self.transport.queue(self.session.pending_output());
            }
            self.transport.close();
            let deadline = Instant::now() + CLOSE_TIME;
            let mut events = Events::with_capacity(4);
            while let Ok(true) = self.transport.flush(&mut self.socket) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() || poll.poll(&mut events, Some(left)).is_err() {
                    break;
                }
            }
        }
        let _ = poll.registry().deregister(&mut self.socket);
    }
}

/// A source with nothing in it.
struct NoFrames;

impl FrameSource for NoFrames {
    fn next_frame(&mut self) -> Option<Frame> {
        None
    }
}

/// Starts a non-blocking connect to the first of `addrs` that takes one, registered on
/// `poll` under `token`; returns its index and socket.
fn first_connect(
    poll: &Poll,
    token: Token,
    addrs: &[SocketAddr],
) -> Result<(usize, TcpStream), PushFailure> {
    let mut last = PushFailure::NoAddress;
    for (index, &addr) in addrs.iter().enumerate() {
        match TcpStream::connect(addr) {
            Ok(mut socket) => {
                let _ = socket.set_nodelay(true);
                poll.registry()
                    .register(&mut socket, token, Interest::READABLE | Interest::WRITABLE)
                    .map_err(|error| PushFailure::Io {
                        op: "poll register",
                        error,
                    })?;
                return Ok((index, socket));
            }
            Err(error) => last = PushFailure::Connect { addr, error },
        }
    }
    Err(last)
}
