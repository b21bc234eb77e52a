//! The client side of one RTMP connection that publishes: handshake, chunks and commands
//! -> events, for a push to an upstream server (YouTube, Facebook, Twitch, nginx-rtmp, another
//! rtmpsd).
//!
//! Sans-IO like the server's `session`: `ClientSession::feed` takes received bytes and returns
//! how many it consumed and at most one `ClientEvent`; bytes to send accumulate in
//! `pending_output`, starting with C0+C1. The caller supplies the handshake's random bytes and
//! epoch, and keeps every timeout itself (time is not seen here).
//!
//! The conversation follows OBS (librtmp), which every platform's ingest accepts:
//! Set Chunk Size and `connect` right after the handshake, then on `connect`'s `_result`
//! `releaseStream`, `FCPublish` and `createStream` together, then `publish(name, "live")` on
//! the created stream, and media once NetStream.Publish.Start arrives. Unlike OBS, it also
//! announces a Window Acknowledgement Size, so that the server acknowledges what it gets
//! (servers ack by the window their peer announced: nginx-rtmp, SRS, rtmpsd), and the caller
//! can tell a server that stopped reading. Replies to `releaseStream` and `FCPublish`,
//! `onBWDone`, `onFCPublish` and other notices are ignored, as OBS ignores them: FMS answers
//! `releaseStream` of a stream that is not live with `_error`.

mod event;
mod request;
mod server_command;

pub use event::{ClientEvent, ClientFed, ClientStep, Status};
pub use server_command::ServerCommand;

use super::Error;
use super::amf0::AmfLimits;
use super::chunk::{ChunkLimits, ChunkRead, ChunkReader, ChunkWriter, RawMessage};
use super::command::CommandName;
use super::handshake::{ClientHandshake, HandshakeStep, RANDOM_SIZE};
use super::message::{ControlMessage, MAX_CONTROL_LEN, UserControlEvent, type_id};
use super::outgoing::queue_message;
use super::session::csid;
use super::session_error::SessionError;

/// Longest application name a plan may carry.
pub const MAX_APP_LEN: usize = 256;
/// Longest `tcUrl` a plan may carry.
pub const MAX_TC_URL_LEN: usize = 512;
/// Longest stream name (the upstream's stream key, query included) a plan may carry.
pub const MAX_STREAM_NAME_LEN: usize = 1024;
/// Longest `flashVer` a plan may carry.
pub const MAX_FLASH_VER_LEN: usize = 128;

/// Limits and settings of one client session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    /// What the chunk reader accepts from the server (commands and control messages only).
    pub chunk: ChunkLimits,
    /// What the AMF0 decoder accepts in the server's commands.
    pub amf: AmfLimits,
    /// Chunk size to send with, announced right after the handshake.
    pub out_chunk_size: u32,
    /// Window acknowledgement size announced to the server.
    pub window_ack_size: u32,
    /// Most command and control bytes that may wait unsent.
    pub max_pending_output: usize,
    /// Send C1 in digest form (as FFmpeg does; servers accept both).
    pub digest_handshake: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            chunk: ChunkLimits {
                max_chunk_size: 1 << 24,
                max_message_len: 64 * 1024,
                max_chunk_streams: 16,
                max_buffered_bytes: 256 * 1024,
            },
            amf: AmfLimits::default(),
            // OBS's outgoing chunk size.
            out_chunk_size: 4096,
            // Small enough that a server acknowledges a few times a second at stream
            // bitrates, so a server that stops reading shows within seconds; an
            // acknowledgement is 16 bytes.
            window_ack_size: 256 * 1024,
            max_pending_output: 64 * 1024,
            digest_handshake: true,
        }
    }
}

/// What to publish where: the fields of `connect` and `publish`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublishPlan {
    /// The application (`live2` for YouTube, `rtmp` for Facebook).
    pub app: String,
    /// `connect`'s `tcUrl`: scheme, host, port and app, without the stream key.
    pub tc_url: String,
    /// The stream name to publish: the upstream's stream key. Never logged.
    pub stream_name: String,
    /// `connect`'s `flashVer`.
    pub flash_ver: String,
}

impl core::fmt::Debug for PublishPlan {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the stream name: it is the upstream's key.
        f.debug_struct("PublishPlan")
            .field("app", &self.app)
            .field("tc_url", &self.tc_url)
            .field("stream_name_len", &self.stream_name.len())
            .field("flash_ver", &self.flash_ver)
            .finish()
    }
}

impl PublishPlan {
    /// Checks every field against its length limit.
    fn check(&self) -> Result<(), Error> {
        for (value, limit) in [
            (&self.app, MAX_APP_LEN),
            (&self.tc_url, MAX_TC_URL_LEN),
            (&self.stream_name, MAX_STREAM_NAME_LEN),
            (&self.flash_ver, MAX_FLASH_VER_LEN),
        ] {
            if value.len() > limit {
                return Err(SessionError::NameTooLong {
                    limit: limit as u32,
                    seen: u32::try_from(value.len()).unwrap_or(u32::MAX),
                }
                .into());
            }
        }
        Ok(())
    }
}

/// Where the conversation stands.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Handshake,
    /// `connect` sent as transaction `txn`.
    AwaitConnect {
        txn: f64,
    },
    /// `createStream` sent as transaction `txn`.
    AwaitStream {
        txn: f64,
    },
    /// `publish` sent on `stream_id`.
    AwaitPublish {
        stream_id: u32,
    },
    /// NetStream.Publish.Start received.
    Publishing {
        stream_id: u32,
    },
    /// Refused, or unpublished: nothing more is sent.
    Finished,
}

impl Phase {
    /// The step a refusal in this phase answers.
    fn step(self) -> ClientStep {
        match self {
            Phase::Handshake | Phase::AwaitConnect { .. } => ClientStep::Connect,
            Phase::AwaitStream { .. } => ClientStep::CreateStream,
            Phase::AwaitPublish { .. } => ClientStep::Publish,
            Phase::Publishing { .. } | Phase::Finished => ClientStep::Publishing,
        }
    }
}

/// The client side of one RTMP connection that publishes one stream.
pub struct ClientSession {
    handshake: Option<Box<ClientHandshake>>,
    reader: ChunkReader,
    state: State,
}

/// Everything but the reader, so a message borrowed from the reader can be handled while
/// this part is mutated.
struct State {
    config: ClientConfig,
    plan: PublishPlan,
    phase: Phase,
    writer: ChunkWriter,
    out: Vec<u8>,
    next_txn: f64,
    bytes_received: u64,
    bytes_acked: u64,
    peer_window: u32,
}

impl ClientSession {
    /// A session that will publish `plan`; its C0+C1 (carrying `random` and `epoch_ms`) is
    /// the first pending output. Fails when a field of `plan` is over its limit.
    pub fn new(
        config: ClientConfig,
        plan: PublishPlan,
        random: &[u8; RANDOM_SIZE],
        epoch_ms: u32,
    ) -> Result<Self, Error> {
        plan.check()?;
        let handshake = if config.digest_handshake {
            ClientHandshake::new_digest(random, epoch_ms)
        } else {
            ClientHandshake::new(random, epoch_ms)
        };
        let mut out = Vec::with_capacity(4096);
        out.extend_from_slice(handshake.hello());
        Ok(ClientSession {
            handshake: Some(Box::new(handshake)),
            reader: ChunkReader::new(config.chunk),
            state: State {
                config,
                plan,
                phase: Phase::Handshake,
                writer: ChunkWriter::new(super::chunk::DEFAULT_CHUNK_SIZE),
                out,
                next_txn: 1.0,
                bytes_received: 0,
                bytes_acked: 0,
                peer_window: 0,
            },
        })
    }

    /// Whether the handshake has finished.
    pub fn handshake_done(&self) -> bool {
        self.handshake.is_none()
    }

    /// The step under way or refused last (`Publishing` once media may flow).
    pub fn step(&self) -> ClientStep {
        self.state.phase.step()
    }

    /// The message stream media goes on, once NetStream.Publish.Start has arrived.
    pub fn publishing_stream(&self) -> Option<u32> {
        match self.state.phase {
            Phase::Publishing { stream_id } => Some(stream_id),
            _ => None,
        }
    }

    /// The chunk size to write media with once publishing (announced after the handshake).
    pub fn out_chunk_size(&self) -> u32 {
        self.state.config.out_chunk_size
    }

    /// Total bytes fed so far.
    pub fn bytes_received(&self) -> u64 {
        self.state.bytes_received
    }

    /// Bytes waiting to be sent to the server.
    pub fn pending_output(&self) -> &[u8] {
        &self.state.out
    }

    /// Drops the first `n` bytes of `pending_output`, which the caller has sent.
    pub fn output_sent(&mut self, n: usize) {
        let n = n.min(self.state.out.len());
        self.state.out.drain(..n);
    }

    /// Takes received bytes; returns how many were consumed and at most one event.
    ///
    /// Call again with the unconsumed rest until a call consumes nothing and has no event.
    /// After an error the connection is unusable and should close.
    pub fn feed(&mut self, input: &[u8]) -> Result<ClientFed<'_>, Error> {
        let mut pos = 0;
        if let Some(handshake) = self.handshake.as_mut() {
            loop {
                let rest = input.get(pos..).unwrap_or_default();
                match handshake.feed(rest)? {
                    HandshakeStep::NeedMore { consumed } => {
                        pos += consumed;
                        self.state.bytes_received += consumed as u64;
                        return Ok(ClientFed {
                            consumed: pos,
                            event: None,
                        });
                    }
                    HandshakeStep::Reply { consumed, reply } => {
                        pos += consumed;
                        self.state.bytes_received += consumed as u64;
                        self.state.out.extend_from_slice(reply);
                    }
                    HandshakeStep::Done { consumed } => {
                        pos += consumed;
                        self.state.bytes_received += consumed as u64;
                        let digest = handshake.used_digest();
                        self.handshake = None;
                        self.state.start_connect()?;
                        return Ok(ClientFed {
                            consumed: pos,
                            event: Some(ClientEvent::HandshakeDone { digest }),
                        });
                    }
                }
            }
        }
        // One chunk-layer step per call, as in the server session.
        match self.reader.read(input)? {
            ChunkRead::NeedMore { consumed } => {
                self.state.count_received(consumed)?;
                Ok(ClientFed {
                    consumed,
                    event: None,
                })
            }
            ChunkRead::Message { consumed, message } => {
                self.state.count_received(consumed)?;
                let event = self.state.handle(message)?;
                Ok(ClientFed { consumed, event })
            }
        }
    }

    /// Ends the publish as OBS does: `FCUnpublish` and `deleteStream`. Nothing is queued
    /// unless a `publish` was sent; after this the session sends nothing more.
    pub fn unpublish(&mut self) -> Result<(), Error> {
        let stream_id = match self.state.phase {
            Phase::AwaitPublish { stream_id } | Phase::Publishing { stream_id } => stream_id,
            _ => {
                self.state.phase = Phase::Finished;
                return Ok(());
            }
        };
        self.state.phase = Phase::Finished;
        let state = &mut self.state;
        let mut buf = [0u8; request::MAX_REQUEST_LEN];
        let txn = state.take_txn();
        let len = request::about_stream(&mut buf, "FCUnpublish", txn, &state.plan.stream_name)?;
        state.send_command(0, &buf[..len])?;
        let txn = state.take_txn();
        let len = request::delete_stream(&mut buf, txn, stream_id)?;
        state.send_command(0, &buf[..len])
    }
}

impl State {
    fn take_txn(&mut self) -> f64 {
        let txn = self.next_txn;
        self.next_txn += 1.0;
        txn
    }

    /// After the handshake: Set Chunk Size, Window Acknowledgement Size, `connect`.
    fn start_connect(&mut self) -> Result<(), Error> {
        self.send_control(ControlMessage::SetChunkSize(self.config.out_chunk_size))?;
        self.writer = ChunkWriter::new(self.config.out_chunk_size);
        self.send_control(ControlMessage::WindowAckSize(self.config.window_ack_size))?;
        let mut buf = [0u8; request::MAX_REQUEST_LEN];
        let txn = self.take_txn();
        let plan = &self.plan;
        let len = request::connect(&mut buf, txn, &plan.app, &plan.tc_url, &plan.flash_ver)?;
        self.send_command(0, &buf[..len])?;
        self.phase = Phase::AwaitConnect { txn };
        Ok(())
    }

    /// After `connect`'s `_result`: `releaseStream`, `FCPublish`, `createStream` together.
    fn start_stream(&mut self) -> Result<(), Error> {
        let mut buf = [0u8; request::MAX_REQUEST_LEN];
        for name in ["releaseStream", "FCPublish"] {
            let txn = self.take_txn();
            let len = request::about_stream(&mut buf, name, txn, &self.plan.stream_name)?;
            self.send_command(0, &buf[..len])?;
        }
        let txn = self.take_txn();
        let len = request::create_stream(&mut buf, txn)?;
        self.send_command(0, &buf[..len])?;
        self.phase = Phase::AwaitStream { txn };
        Ok(())
    }

    /// After `createStream`'s `_result`: `publish` on the new stream.
    fn start_publish(&mut self, stream_id: u32) -> Result<(), Error> {
        let mut buf = [0u8; request::MAX_REQUEST_LEN];
        let txn = self.take_txn();
        let len = request::publish(&mut buf, txn, &self.plan.stream_name)?;
        self.send_command(stream_id, &buf[..len])?;
        self.phase = Phase::AwaitPublish { stream_id };
        Ok(())
    }

    fn count_received(&mut self, n: usize) -> Result<(), Error> {
        self.bytes_received += n as u64;
        let window = u64::from(self.peer_window);
        if window > 0 && self.bytes_received - self.bytes_acked >= window {
            self.bytes_acked = self.bytes_received;
            self.send_control(ControlMessage::Acknowledgement(self.bytes_received as u32))?;
        }
        Ok(())
    }

    fn handle<'a>(&mut self, message: RawMessage<'a>) -> Result<Option<ClientEvent<'a>>, Error> {
        let header = message.header;
        match header.type_id {
            type_id::SET_CHUNK_SIZE | type_id::ABORT | type_id::SET_PEER_BANDWIDTH => {
                // The reader applied chunk size and abort; peer bandwidth needs no answer
                // from a publisher.
                ControlMessage::parse(header.type_id, message.payload)?;
                Ok(None)
            }
            type_id::ACKNOWLEDGEMENT => {
                match ControlMessage::parse(header.type_id, message.payload)? {
                    ControlMessage::Acknowledgement(sequence) => {
                        Ok(Some(ClientEvent::Acknowledged { sequence }))
                    }
                    _ => Ok(None),
                }
            }
            type_id::WINDOW_ACK_SIZE => {
                if let ControlMessage::WindowAckSize(size) =
                    ControlMessage::parse(header.type_id, message.payload)?
                {
                    self.peer_window = size;
                }
                Ok(None)
            }
            type_id::USER_CONTROL => {
                if let ControlMessage::UserControl(UserControlEvent::PingRequest(t)) =
                    ControlMessage::parse(header.type_id, message.payload)?
                {
                    self.send_control(ControlMessage::UserControl(
                        UserControlEvent::PingResponse(t),
                    ))?;
                }
                Ok(None)
            }
            type_id::COMMAND_AMF0 | type_id::COMMAND_AMF3 => {
                let amf3 = header.type_id == type_id::COMMAND_AMF3;
                let command = ServerCommand::parse(message.payload, amf3, &self.config.amf)?;
                self.command(command)
            }
            // Media, data and shared objects: nothing a publishing client acts on.
            _ => Ok(None),
        }
    }

    fn command<'a>(
        &mut self,
        command: ServerCommand<'a>,
    ) -> Result<Option<ClientEvent<'a>>, Error> {
        let phase = self.phase;
        match (command, phase) {
            (ServerCommand::Result { transaction_id, .. }, Phase::AwaitConnect { txn })
                if transaction_id == txn =>
            {
                self.start_stream()?;
                Ok(Some(ClientEvent::Connected))
            }
            (
                ServerCommand::Result {
                    transaction_id,
                    value,
                },
                Phase::AwaitStream { txn },
            ) if transaction_id == txn => {
                let stream_id = value
                    .filter(|v| v.fract() == 0.0 && *v >= 1.0 && *v <= f64::from(u32::MAX))
                    .ok_or(SessionError::BadArgument {
                        command: CommandName::CreateStream,
                        index: 3,
                    })?;
                self.start_publish(stream_id as u32)?;
                Ok(None)
            }
            (
                ServerCommand::Error {
                    transaction_id,
                    status,
                },
                Phase::AwaitConnect { txn } | Phase::AwaitStream { txn },
            ) if transaction_id == txn => {
                self.phase = Phase::Finished;
                Ok(Some(ClientEvent::Refused {
                    step: phase.step(),
                    status,
                }))
            }
            (ServerCommand::OnStatus(status), Phase::AwaitPublish { stream_id })
                if status.code == "NetStream.Publish.Start" =>
            {
                self.phase = Phase::Publishing { stream_id };
                Ok(Some(ClientEvent::Publishing { stream_id }))
            }
            (ServerCommand::OnStatus(status), Phase::Finished) => {
                Ok(Some(ClientEvent::Status(status)))
            }
            (ServerCommand::OnStatus(status), _) if status.is_error() => {
                self.phase = Phase::Finished;
                Ok(Some(ClientEvent::Refused {
                    step: phase.step(),
                    status,
                }))
            }
            (ServerCommand::OnStatus(status), _) => Ok(Some(ClientEvent::Status(status))),
            // Results and errors of other transactions (releaseStream, FCPublish, FCUnpublish,
            // deleteStream) and notices such as onBWDone.
            _ => Ok(None),
        }
    }

    fn send_command(&mut self, stream_id: u32, payload: &[u8]) -> Result<(), Error> {
        let chunk_stream_id = if stream_id == 0 {
            csid::COMMAND
        } else {
            csid::STREAM
        };
        self.send(chunk_stream_id, type_id::COMMAND_AMF0, stream_id, payload)
    }

    fn send_control(&mut self, message: ControlMessage) -> Result<(), Error> {
        let mut buf = [0u8; MAX_CONTROL_LEN];
        let len = message.encode(&mut buf);
        self.send(csid::PROTOCOL, message.type_id(), 0, &buf[..len])
    }

    fn send(
        &mut self,
        chunk_stream_id: u32,
        type_id: u8,
        stream_id: u32,
        payload: &[u8],
    ) -> Result<(), Error> {
        Ok(queue_message(
            &self.writer,
            &mut self.out,
            self.config.max_pending_output,
            chunk_stream_id,
            type_id,
            stream_id,
            payload,
        )?)
    }
}

#[cfg(test)]
mod tests;
