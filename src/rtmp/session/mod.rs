//! The server side of one RTMP connection: handshake, chunks and commands -> events.
//!
//! `Session::feed` takes received bytes and returns how many it consumed and at most one
//! `SessionEvent`; bytes to send accumulate in `pending_output`. Policy (who may publish,
//! which stream a player gets) stays with the caller, which answers `PublishRequested` and
//! `PlayRequested` with `accept_*`/`reject_*`. Time and randomness come in as arguments.

mod event;
mod media_message;
mod reply;

pub use event::{Fed, SessionEvent, StreamRole};
pub use media_message::{Media, MediaKind};

use super::Error;
use super::amf0::AmfLimits;
use super::chunk::{ChunkLimits, ChunkRead, ChunkReader, ChunkWriter, MessageHeader, RawMessage};
use super::command::{Command, CommandName};
use super::enhanced::{ConnectCaps, write_reconnect_request};
use super::handshake::{HandshakeStep, RANDOM_SIZE, ServerHandshake};
use super::message::{ControlMessage, MAX_CONTROL_LEN, UserControlEvent, type_id};
use super::outgoing::queue_message;
use super::session_error::SessionError;

/// The message stream id every played stream uses, so fan-out bytes are the same for all players.
pub const FANOUT_STREAM_ID: u32 = 1;

/// Chunk stream ids rtmpsd sends on.
pub mod csid {
    /// Protocol control and user control messages.
    pub const PROTOCOL: u32 = 2;
    /// NetConnection commands and their results.
    pub const COMMAND: u32 = 3;
    /// NetStream status messages and data messages.
    pub const STREAM: u32 = 5;
    /// Audio.
    pub const AUDIO: u32 = 6;
    /// Video.
    pub const VIDEO: u32 = 7;
}

/// Limits and settings of one session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionConfig {
    /// What the chunk reader accepts.
    pub chunk: ChunkLimits,
    /// What the AMF0 decoder accepts in commands and data messages.
    pub amf: AmfLimits,
    /// Chunk size rtmpsd sends with, announced right after `connect`.
    pub out_chunk_size: u32,
    /// Window acknowledgement size announced to the peer.
    pub window_ack_size: u32,
    /// Message streams one connection may have open at once.
    pub max_streams: u32,
    /// Longest app or stream name, query included.
    pub max_name_len: usize,
    /// Most reply bytes that may wait unsent before the peer is cut off.
    pub max_pending_output: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            chunk: ChunkLimits::default(),
            amf: AmfLimits::default(),
            out_chunk_size: 4096,
            window_ack_size: 2_500_000,
            max_streams: 8,
            max_name_len: 256,
            max_pending_output: 64 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshake,
    AwaitConnect,
    Connected,
}

/// The server side of one RTMP connection.
pub struct Session {
    handshake: Option<Box<ServerHandshake>>,
    reader: ChunkReader,
    state: State,
}

/// Everything but the reader, so a message borrowed from the reader can be handled
/// while this part is mutated.
struct State {
    config: SessionConfig,
    phase: Phase,
    writer: ChunkWriter,
    streams: Vec<(u32, StreamRole)>,
    out: Vec<u8>,
    bytes_received: u64,
    bytes_acked: u64,
    peer_window: u32,
    /// What the client declared in `connect` (enhanced RTMP).
    client_caps: ConnectCaps,
}

impl Session {
    /// A session whose handshake sends `random` and `epoch_ms` in S1.
    pub fn new(config: SessionConfig, random: &[u8; RANDOM_SIZE], epoch_ms: u32) -> Self {
        Session {
            handshake: Some(Box::new(ServerHandshake::new(random, epoch_ms))),
            reader: ChunkReader::new(config.chunk),
            state: State {
                config,
                phase: Phase::Handshake,
                writer: ChunkWriter::new(super::chunk::DEFAULT_CHUNK_SIZE),
                streams: Vec::with_capacity(config.max_streams as usize),
                out: Vec::with_capacity(4096),
                bytes_received: 0,
                bytes_acked: 0,
                peer_window: 0,
                client_caps: ConnectCaps::default(),
            },
        }
    }

    /// Whether the handshake has finished.
    pub fn handshake_done(&self) -> bool {
        self.state.phase != Phase::Handshake
    }

    /// Whether `connect` has succeeded.
    pub fn is_connected(&self) -> bool {
        self.state.phase == Phase::Connected
    }

    /// Total bytes fed so far.
    pub fn bytes_received(&self) -> u64 {
        self.state.bytes_received
    }

    /// Bytes waiting to be sent to the peer.
    pub fn pending_output(&self) -> &[u8] {
        &self.state.out
    }

    /// Drops the first `n` bytes of `pending_output`, which the caller has sent.
    pub fn output_sent(&mut self, n: usize) {
        let n = n.min(self.state.out.len());
        self.state.out.drain(..n);
    }

    /// The role of message stream `stream_id`, if it exists.
    pub fn stream_role(&self, stream_id: u32) -> Option<StreamRole> {
        self.state.role(stream_id)
    }

    /// Takes received bytes; returns how many were consumed and at most one event.
    ///
    /// Call again with the unconsumed rest until a call consumes nothing and has no event.
    pub fn feed(&mut self, input: &[u8]) -> Result<Fed<'_>, Error> {
        let mut pos = 0;
        if let Some(handshake) = self.handshake.as_mut() {
            loop {
                let rest = input.get(pos..).unwrap_or_default();
                match handshake.feed(rest)? {
                    HandshakeStep::NeedMore { consumed } => {
                        pos += consumed;
                        self.state.bytes_received += consumed as u64;
                        return Ok(Fed {
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
                        self.state.phase = Phase::AwaitConnect;
                        return Ok(Fed {
                            consumed: pos,
                            event: Some(SessionEvent::HandshakeDone { digest }),
                        });
                    }
                }
            }
        }
        // One chunk-layer step per call: a message that yields no event still returns, so
        // the borrow of the reader's buffer never has to outlive a loop iteration.
        match self.reader.read(input)? {
            ChunkRead::NeedMore { consumed } => {
                self.state.count_received(consumed)?;
                Ok(Fed {
                    consumed,
                    event: None,
                })
            }
            ChunkRead::Message { consumed, message } => {
                self.state.count_received(consumed)?;
                let event = self.state.handle(message)?;
                Ok(Fed { consumed, event })
            }
        }
    }

    /// Accepts a pending `publish`: Stream Begin and NetStream.Publish.Start.
    pub fn accept_publish(&mut self, stream_id: u32) -> Result<(), Error> {
        self.state.set_role(stream_id, StreamRole::Publishing);
        self.state
            .send_control(ControlMessage::UserControl(UserControlEvent::StreamBegin(
                stream_id,
            )))?;
        self.state.send_status(
            stream_id,
            "status",
            "NetStream.Publish.Start",
            "Start publishing.",
        )
    }

    /// Refuses a pending `publish` with NetStream.Publish.BadName; the caller then closes.
    pub fn reject_publish(&mut self, stream_id: u32, description: &str) -> Result<(), Error> {
        self.state.set_role(stream_id, StreamRole::Idle);
        self.state
            .send_status(stream_id, "error", "NetStream.Publish.BadName", description)
    }

    /// Accepts a pending `play`: Stream Begin, Play.Reset, Play.Start, `|RtmpSampleAccess`.
    ///
    /// Media for the player must then be sent on `FANOUT_STREAM_ID`, which is what
    /// `play` is only accepted on.
    pub fn accept_play(&mut self, stream_id: u32) -> Result<(), Error> {
        self.state.set_role(stream_id, StreamRole::Playing);
        let state = &mut self.state;
        state.send_control(ControlMessage::UserControl(
            UserControlEvent::StreamIsRecorded(stream_id),
        ))?;
        state.send_control(ControlMessage::UserControl(UserControlEvent::StreamBegin(
            stream_id,
        )))?;
        state.send_status(
            stream_id,
            "status",
            "NetStream.Play.Reset",
            "Playing and resetting.",
        )?;
        state.send_status(
            stream_id,
            "status",
            "NetStream.Play.Start",
            "Started playing.",
        )?;
        let mut buf = [0u8; reply::MAX_REPLY_LEN];
        let len = reply::sample_access(&mut buf)?;
        state.send(csid::STREAM, type_id::DATA_AMF0, stream_id, &buf[..len])
    }

    /// Refuses a pending `play` with `code` (e.g. NetStream.Play.StreamNotFound).
    pub fn reject_play(
        &mut self,
        stream_id: u32,
        code: &str,
        description: &str,
    ) -> Result<(), Error> {
        self.state.set_role(stream_id, StreamRole::Idle);
        self.state
            .send_status(stream_id, "error", code, description)
    }

    /// Tells a player its stream's publisher left: Stream EOF and NetStream.Play.UnpublishNotify.
    pub fn notify_unpublish(&mut self, stream_id: u32) -> Result<(), Error> {
        self.state.send_status(
            stream_id,
            "status",
            "NetStream.Play.UnpublishNotify",
            "The stream was unpublished.",
        )?;
        self.state
            .send_control(ControlMessage::UserControl(UserControlEvent::StreamEof(
                stream_id,
            )))
    }

    /// Tells a player its stream is published again: Stream Begin and NetStream.Play.PublishNotify.
    pub fn notify_publish(&mut self, stream_id: u32) -> Result<(), Error> {
        self.state
            .send_control(ControlMessage::UserControl(UserControlEvent::StreamBegin(
                stream_id,
            )))?;
        self.state.send_status(
            stream_id,
            "status",
            "NetStream.Play.PublishNotify",
            "The stream was published.",
        )
    }

    /// What the client declared in `connect`: enhanced-RTMP codecs and `capsEx`.
    pub fn client_caps(&self) -> &ConnectCaps {
        &self.state.client_caps
    }

    /// Asks the client to reconnect (NetConnection.Connect.ReconnectRequest), to `tc_url` if
    /// given, else to the same server; returns whether it was sent.
    ///
    /// Sent only to a connected client whose `connect` declared `capsEx` Reconnect; for any
    /// other this does nothing and returns false, and the caller just closes. After sending,
    /// keep serving the client until it leaves (bounded by the caller's own limit).
    pub fn request_reconnect(
        &mut self,
        tc_url: Option<&str>,
        description: &str,
    ) -> Result<bool, Error> {
        let state = &mut self.state;
        if state.phase != Phase::Connected || !state.client_caps.supports_reconnect() {
            return Ok(false);
        }
        let mut buf = [0u8; reply::MAX_REPLY_LEN];
        let len = write_reconnect_request(&mut buf, tc_url, description)?;
        state.send(csid::COMMAND, type_id::COMMAND_AMF0, 0, &buf[..len])?;
        Ok(true)
    }

    /// The chunk size rtmpsd sends with once connected.
    pub fn out_chunk_size(&self) -> u32 {
        self.state.config.out_chunk_size
    }
}

impl State {
    fn role(&self, stream_id: u32) -> Option<StreamRole> {
        self.streams
            .iter()
            .find(|(id, _)| *id == stream_id)
            .map(|(_, role)| *role)
    }

    fn set_role(&mut self, stream_id: u32, role: StreamRole) {
        if let Some(slot) = self.streams.iter_mut().find(|(id, _)| *id == stream_id) {
            slot.1 = role;
        }
    }

    fn count_received(&mut self, n: usize) -> Result<(), Error> {
        self.bytes_received += n as u64;
        let window = u64::from(self.peer_window);
        if window > 0 && self.bytes_received - self.bytes_acked >= window {
            self.bytes_acked = self.bytes_received;
            // The sequence number wraps at 2^32 like every RTMP counter.
            self.send_control(ControlMessage::Acknowledgement(self.bytes_received as u32))?;
        }
        Ok(())
    }

    fn handle<'a>(&mut self, message: RawMessage<'a>) -> Result<Option<SessionEvent<'a>>, Error> {
        let header = message.header;
        match header.type_id {
            type_id::SET_CHUNK_SIZE
            | type_id::ABORT
            | type_id::ACKNOWLEDGEMENT
            | type_id::SET_PEER_BANDWIDTH => {
                // The reader applied chunk size and abort; the rest needs no answer.
                ControlMessage::parse(header.type_id, message.payload)?;
                Ok(None)
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
                let command = Command::parse(message.payload, amf3, &self.config.amf)?;
                self.command(header, command)
            }
            type_id::AUDIO | type_id::VIDEO | type_id::DATA_AMF0 => {
                self.media(header, message.payload)
            }
            // AMF3 data, shared objects and aggregates: not used by live encoders; dropped.
            _ => Ok(None),
        }
    }

    fn media<'a>(
        &mut self,
        header: MessageHeader,
        payload: &'a [u8],
    ) -> Result<Option<SessionEvent<'a>>, Error> {
        if self.role(header.stream_id) != Some(StreamRole::Publishing) {
            return Ok(None);
        }
        Ok(Media::classify(header, payload, &self.config.amf)?.map(SessionEvent::Media))
    }

    fn command<'a>(
        &mut self,
        header: MessageHeader,
        command: Command<'a>,
    ) -> Result<Option<SessionEvent<'a>>, Error> {
        let name = command.name();
        if self.phase != Phase::Connected && name != CommandName::Connect {
            if name == CommandName::Other {
                return Ok(None);
            }
            return Err(SessionError::OutOfOrder { command: name }.into());
        }
        match command {
            Command::Connect {
                transaction_id,
                app,
                object_encoding,
                caps,
            } => {
                if self.phase == Phase::Connected {
                    return Err(SessionError::AlreadyConnected.into());
                }
                self.check_name(app)?;
                self.client_caps = caps;
                self.connect_result(transaction_id, object_encoding)?;
                self.phase = Phase::Connected;
                Ok(Some(SessionEvent::Connected { app }))
            }
            Command::ReleaseStream { transaction_id } | Command::FcPublish { transaction_id } => {
                self.result(transaction_id, None)?;
                Ok(None)
            }
            // A number, as FFmpeg expects (it warns on anything else): 0 for a live stream.
            Command::GetStreamLength { transaction_id } => {
                self.result(transaction_id, Some(0.0))?;
                Ok(None)
            }
            Command::FcUnpublish { transaction_id } => {
                self.result(transaction_id, None)?;
                Ok(None)
            }
            Command::CreateStream { transaction_id } => {
                let limit = self.config.max_streams;
                if self.streams.len() >= limit as usize {
                    return Err(SessionError::TooManyStreams { limit }.into());
                }
                let id = (1..=limit)
                    .find(|id| self.role(*id).is_none())
                    .ok_or(SessionError::TooManyStreams { limit })?;
                self.streams.push((id, StreamRole::Idle));
                self.result(transaction_id, Some(f64::from(id)))?;
                Ok(None)
            }
            Command::DeleteStream { stream_id } => {
                let stream_id = stream_id.map_or(header.stream_id, |id| id as u32);
                Ok(self.close_stream(stream_id, true))
            }
            Command::CloseStream => Ok(self.close_stream(header.stream_id, false)),
            Command::Publish { name, .. } => {
                self.check_name(name)?;
                self.begin(
                    header.stream_id,
                    name,
                    CommandName::Publish,
                    StreamRole::PublishPending,
                )?;
                Ok(Some(SessionEvent::PublishRequested {
                    stream_id: header.stream_id,
                    name,
                }))
            }
            Command::Play { name, .. } => {
                self.check_name(name)?;
                self.begin(
                    header.stream_id,
                    name,
                    CommandName::Play,
                    StreamRole::PlayPending,
                )?;
                Ok(Some(SessionEvent::PlayRequested {
                    stream_id: header.stream_id,
                    name,
                }))
            }
            Command::Other { .. } => Ok(None),
        }
    }

    fn check_name(&self, name: &str) -> Result<(), Error> {
        let limit = self.config.max_name_len;
        if name.len() > limit {
            return Err(SessionError::NameTooLong {
                limit: limit as u32,
                seen: name.len() as u32,
            }
            .into());
        }
        Ok(())
    }

    fn begin(
        &mut self,
        stream_id: u32,
        _name: &str,
        command: CommandName,
        role: StreamRole,
    ) -> Result<(), Error> {
        match self.role(stream_id) {
            None => Err(SessionError::UnknownStream { command, stream_id }.into()),
            Some(StreamRole::Idle) => {
                self.set_role(stream_id, role);
                Ok(())
            }
            Some(_) => Err(SessionError::StreamBusy { stream_id }.into()),
        }
    }

    /// Ends a stream; `delete` also frees its id. Closing an idle or unknown stream is quiet.
    fn close_stream<'a>(&mut self, stream_id: u32, delete: bool) -> Option<SessionEvent<'a>> {
        let index = self.streams.iter().position(|(id, _)| *id == stream_id)?;
        let role = self.streams.get(index).map(|(_, role)| *role)?;
        if delete {
            self.streams.swap_remove(index);
        } else {
            self.set_role(stream_id, StreamRole::Idle);
        }
        match role {
            StreamRole::Idle => None,
            role => Some(SessionEvent::StreamClosed { stream_id, role }),
        }
    }

    fn connect_result(&mut self, transaction_id: f64, object_encoding: f64) -> Result<(), Error> {
        self.send_control(ControlMessage::WindowAckSize(self.config.window_ack_size))?;
        self.send_control(ControlMessage::SetPeerBandwidth {
            window: self.config.window_ack_size,
            limit_type: 2,
        })?;
        self.send_control(ControlMessage::SetChunkSize(self.config.out_chunk_size))?;
        self.writer = ChunkWriter::new(self.config.out_chunk_size);
        let mut buf = [0u8; reply::MAX_REPLY_LEN];
        let enhanced = self.client_caps.declared;
        let len = reply::connect_success(&mut buf, transaction_id, object_encoding, enhanced)?;
        self.send(csid::COMMAND, type_id::COMMAND_AMF0, 0, &buf[..len])
    }

    fn result(&mut self, transaction_id: f64, value: Option<f64>) -> Result<(), Error> {
        let mut buf = [0u8; reply::MAX_REPLY_LEN];
        let len = reply::result(&mut buf, transaction_id, value)?;
        self.send(csid::COMMAND, type_id::COMMAND_AMF0, 0, &buf[..len])
    }

    fn send_status(
        &mut self,
        stream_id: u32,
        level: &str,
        code: &str,
        description: &str,
    ) -> Result<(), Error> {
        let mut buf = [0u8; reply::MAX_REPLY_LEN];
        let len = reply::status(&mut buf, level, code, description)?;
        self.send(csid::STREAM, type_id::COMMAND_AMF0, stream_id, &buf[..len])
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
