//! The server side of one RTMP connection: handshake, chunks and commands -> events.
//!
//! `Session::feed` takes received bytes and returns how many it consumed and at most one
//! `SessionEvent`; bytes to send accumulate in `pending_output`. Policy (who may publish,
//! which stream a player gets) stays with the caller, which answers `PublishRequested` and
//! `PlayRequested` with `accept_*`/`reject_*`. Time and randomness come in as arguments.

use super::amf0::{self, Amf0Value, Amf0Writer, AmfLimits};
use super::chunk::{ChunkLimits, ChunkRead, ChunkReader, ChunkWriter, MessageHeader, RawMessage};
use super::command::{Command, CommandName};
use super::handshake::{HandshakeStep, RANDOM_SIZE, ServerHandshake};
use super::media::{self, AudioTag, VideoPacket, VideoTag};
use super::message::{ControlMessage, MAX_CONTROL_LEN, UserControlEvent, type_id};
use super::{Error, Timestamp};

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

/// Why a session broke the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// A command message with no values.
    EmptyCommand,
    /// A command whose first value is not a string.
    CommandNameNotString,
    /// A command name longer than the limit.
    CommandNameTooLong {
        /// The limit.
        limit: u32,
        /// The length seen.
        seen: u32,
    },
    /// A type 17 command whose first byte is not the AMF0 selector 0.
    BadAmf3Wrapper {
        /// The byte seen.
        marker: u8,
    },
    /// An argument of the wrong AMF type.
    BadArgument {
        /// The command.
        command: CommandName,
        /// Position of the argument (0 = name).
        index: u8,
    },
    /// A command that needs an earlier step (e.g. `publish` before `connect`).
    OutOfOrder {
        /// The command.
        command: CommandName,
    },
    /// A second `connect`.
    AlreadyConnected,
    /// More message streams than the limit.
    TooManyStreams {
        /// The limit.
        limit: u32,
    },
    /// A command named a message stream that does not exist.
    UnknownStream {
        /// The command.
        command: CommandName,
        /// The stream id seen.
        stream_id: u32,
    },
    /// An app or stream name longer than the limit.
    NameTooLong {
        /// The limit.
        limit: u32,
        /// The length seen.
        seen: u32,
    },
    /// `publish` or `play` on a stream that already publishes or plays.
    StreamBusy {
        /// The stream id.
        stream_id: u32,
    },
    /// The peer made rtmpsd queue more replies than the limit without reading them.
    OutputOverflow {
        /// The limit.
        limit: u32,
        /// The bytes the reply queue would have held.
        seen: u32,
    },
}

impl core::fmt::Display for SessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            SessionError::EmptyCommand => write!(f, "empty command message"),
            SessionError::CommandNameNotString => write!(f, "command name is not a string"),
            SessionError::CommandNameTooLong { limit, seen } => {
                write!(f, "command name of {seen} bytes over the limit {limit}")
            }
            SessionError::BadAmf3Wrapper { marker } => {
                write!(f, "amf3 command wrapper starts with {marker:#04x}, not 0")
            }
            SessionError::BadArgument { command, index } => {
                write!(
                    f,
                    "{} argument {index} has the wrong type",
                    command.as_str()
                )
            }
            SessionError::OutOfOrder { command } => {
                write!(f, "{} before the steps it needs", command.as_str())
            }
            SessionError::AlreadyConnected => write!(f, "second connect"),
            SessionError::TooManyStreams { limit } => {
                // Refused at the first stream over the limit, so that is the count seen.
                let seen = u64::from(limit) + 1;
                write!(f, "{seen} message streams over the limit {limit}")
            }
            SessionError::UnknownStream { command, stream_id } => {
                write!(f, "{} on unknown stream {stream_id}", command.as_str())
            }
            SessionError::NameTooLong { limit, seen } => {
                write!(f, "name of {seen} bytes over the limit {limit}")
            }
            SessionError::StreamBusy { stream_id } => {
                write!(f, "stream {stream_id} already publishes or plays")
            }
            SessionError::OutputOverflow { limit, seen } => {
                write!(f, "{seen} unread reply bytes over the limit {limit}")
            }
        }
    }
}

/// What a message stream is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRole {
    /// Created, neither publishing nor playing.
    Idle,
    /// `publish` asked, waiting for the caller's answer.
    PublishPending,
    /// Publishing: its media is handed out as `SessionEvent::Media`.
    Publishing,
    /// `play` asked, waiting for the caller's answer.
    PlayPending,
    /// Playing.
    Playing,
}

/// What kind of media message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// Audio, with its parsed header.
    Audio(AudioTag),
    /// Video, with its parsed header.
    Video(VideoTag),
    /// `onMetaData` (from `@setDataFrame`, which is stripped).
    Metadata,
    /// Any other AMF0 data message.
    Data,
}

/// A media message from a publishing stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Media<'a> {
    /// Kind and parsed header.
    pub kind: MediaKind,
    /// Absolute timestamp.
    pub timestamp: Timestamp,
    /// The payload to pass on (for metadata: without the `@setDataFrame` prefix).
    pub payload: &'a [u8],
}

impl Media<'_> {
    /// The RTMP message type this media travels as.
    pub fn type_id(&self) -> u8 {
        match self.kind {
            MediaKind::Audio(_) => type_id::AUDIO,
            MediaKind::Video(_) => type_id::VIDEO,
            MediaKind::Metadata | MediaKind::Data => type_id::DATA_AMF0,
        }
    }

    /// The chunk stream id this media is sent on.
    pub fn chunk_stream_id(&self) -> u32 {
        match self.kind {
            MediaKind::Audio(_) => csid::AUDIO,
            MediaKind::Video(_) => csid::VIDEO,
            MediaKind::Metadata | MediaKind::Data => csid::STREAM,
        }
    }
}

/// Something the caller must know about or act on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionEvent<'a> {
    /// The RTMP handshake finished (`digest` when C1 carried a valid digest).
    HandshakeDone {
        /// Whether the digest form was used.
        digest: bool,
    },
    /// `connect` succeeded for `app`.
    Connected {
        /// The application name.
        app: &'a str,
    },
    /// The peer asks to publish `name`; answer with `accept_publish` or `reject_publish`.
    PublishRequested {
        /// The message stream.
        stream_id: u32,
        /// The stream name, query included.
        name: &'a str,
    },
    /// The peer asks to play `name`; answer with `accept_play` or `reject_play`.
    PlayRequested {
        /// The message stream.
        stream_id: u32,
        /// The stream name, query included.
        name: &'a str,
    },
    /// Media from a publishing stream.
    Media(Media<'a>),
    /// A publishing or playing stream ended (`deleteStream`, `closeStream`, `FCUnpublish`).
    StreamClosed {
        /// The message stream.
        stream_id: u32,
        /// What it was doing.
        role: StreamRole,
    },
}

/// What one `feed` call did.
#[derive(Debug)]
pub struct Fed<'a> {
    /// Bytes of the input consumed.
    pub consumed: usize,
    /// An event, if one happened; feed the rest of the input after handling it.
    pub event: Option<SessionEvent<'a>>,
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
        let mut buf = [0u8; 64];
        let mut w = Amf0Writer::new(&mut buf);
        w.string("|RtmpSampleAccess")?
            .boolean(true)?
            .boolean(true)?;
        let len = w.len();
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

    /// Queues a Ping Request carrying `now_ms`, to keep an idle peer's path alive.
    pub fn ping(&mut self, now_ms: u32) -> Result<(), Error> {
        self.state
            .send_control(ControlMessage::UserControl(UserControlEvent::PingRequest(
                now_ms,
            )))
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
        let (kind, payload) = match header.type_id {
            type_id::AUDIO => (MediaKind::Audio(media::inspect_audio(payload)?), payload),
            type_id::VIDEO => {
                let tag = media::inspect_video(payload)?;
                if tag.packet == VideoPacket::SequenceHeader {
                    media::validate_sequence_header(&tag, payload)?;
                }
                (MediaKind::Video(tag), payload)
            }
            _ => match data_message(payload, &self.config.amf)? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        Ok(Some(SessionEvent::Media(Media {
            kind,
            timestamp: header.timestamp,
            payload,
        })))
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
            } => {
                if self.phase == Phase::Connected {
                    return Err(SessionError::AlreadyConnected.into());
                }
                self.check_name(app)?;
                self.connect_result(transaction_id, object_encoding)?;
                self.phase = Phase::Connected;
                Ok(Some(SessionEvent::Connected { app }))
            }
            Command::ReleaseStream { transaction_id }
            | Command::FcPublish { transaction_id }
            | Command::GetStreamLength { transaction_id } => {
                self.result(transaction_id, None)?;
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
            Command::DeleteStream { stream_id } => Ok(self.close_stream(stream_id as u32, true)),
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
        let mut buf = [0u8; 512];
        let mut w = Amf0Writer::new(&mut buf);
        w.string("_result")?.number(transaction_id)?;
        w.object_start()?;
        w.property("fmsVer")?.string("FMS/3,0,1,123")?;
        w.property("capabilities")?.number(31.0)?;
        w.object_end()?;
        w.object_start()?;
        w.property("level")?.string("status")?;
        w.property("code")?
            .string("NetConnection.Connect.Success")?;
        w.property("description")?.string("Connection succeeded.")?;
        w.property("objectEncoding")?.number(object_encoding)?;
        w.object_end()?;
        let len = w.len();
        self.send(csid::COMMAND, type_id::COMMAND_AMF0, 0, &buf[..len])
    }

    fn result(&mut self, transaction_id: f64, value: Option<f64>) -> Result<(), Error> {
        let mut buf = [0u8; 64];
        let mut w = Amf0Writer::new(&mut buf);
        w.string("_result")?.number(transaction_id)?.null()?;
        match value {
            Some(v) => w.number(v)?,
            None => w.value(&Amf0Value::Undefined)?,
        };
        let len = w.len();
        self.send(csid::COMMAND, type_id::COMMAND_AMF0, 0, &buf[..len])
    }

    fn send_status(
        &mut self,
        stream_id: u32,
        level: &str,
        code: &str,
        description: &str,
    ) -> Result<(), Error> {
        let mut buf = [0u8; 512];
        let mut w = Amf0Writer::new(&mut buf);
        w.string("onStatus")?.number(0.0)?.null()?;
        w.object_start()?;
        w.property("level")?.string(level)?;
        w.property("code")?.string(code)?;
        w.property("description")?.string(description)?;
        w.object_end()?;
        let len = w.len();
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
        let limit = self.config.max_pending_output;
        let header = MessageHeader {
            chunk_stream_id,
            timestamp: Timestamp::ZERO,
            type_id,
            stream_id,
        };
        let queued = self.out.len() + self.writer.encoded_len(&header, payload.len());
        if queued > limit {
            return Err(SessionError::OutputOverflow {
                limit: u32::try_from(limit).unwrap_or(u32::MAX),
                seen: u32::try_from(queued).unwrap_or(u32::MAX),
            }
            .into());
        }
        self.writer.write_to_vec(&header, payload, &mut self.out);
        Ok(())
    }
}

/// Classifies an AMF0 data message: `@setDataFrame` is stripped and `onMetaData` singled out.
///
/// Returns `None` for a data message that carries no name (dropped).
fn data_message<'a>(
    payload: &'a [u8],
    limits: &AmfLimits,
) -> Result<Option<(MediaKind, &'a [u8])>, Error> {
    let values = amf0::decode_all(payload, limits)?;
    let Some(Amf0Value::String(first)) = values.first() else {
        return Ok(None);
    };
    if *first == "@setDataFrame" {
        // The first value is a short string: marker, u16 length, bytes.
        let rest = payload.get(3 + first.len()..).unwrap_or_default();
        let is_metadata = matches!(values.get(1), Some(Amf0Value::String("onMetaData")));
        let kind = if is_metadata {
            MediaKind::Metadata
        } else {
            MediaKind::Data
        };
        return Ok(Some((kind, rest)));
    }
    let kind = if *first == "onMetaData" {
        MediaKind::Metadata
    } else {
        MediaKind::Data
    };
    Ok(Some((kind, payload)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::amf0::AmfError;
    use crate::rtmp::chunk::ChunkLimits;
    use crate::rtmp::handshake::ClientHandshake;

    /// A scripted client: makes the bytes a publisher or player sends and reads the replies.
    struct Peer {
        session: Session,
        writer: ChunkWriter,
        reader: ChunkReader,
        replies: Vec<u8>,
    }

    fn command(
        name: &str,
        txn: f64,
        args: impl FnOnce(&mut Amf0Writer<'_>) -> Result<(), AmfError>,
    ) -> Vec<u8> {
        let mut buf = [0u8; 1024];
        let mut w = Amf0Writer::new(&mut buf);
        w.string(name).unwrap().number(txn).unwrap();
        args(&mut w).unwrap();
        let len = w.len();
        buf[..len].to_vec()
    }

    impl Peer {
        fn new(config: SessionConfig) -> Peer {
            let mut session = Session::new(config, &[7; RANDOM_SIZE], 0);
            let mut client = ClientHandshake::new(&[9; RANDOM_SIZE], 0);
            let mut to_server = client.hello().to_vec();
            let mut events = Vec::new();
            // Drive both handshakes to the end.
            for _ in 0..4 {
                let fed = session.feed(&to_server).unwrap();
                if let Some(SessionEvent::HandshakeDone { .. }) = fed.event {
                    events.push(());
                }
                to_server.drain(..fed.consumed);
                let out = session.pending_output().to_vec();
                session.output_sent(out.len());
                let mut pos = 0;
                while pos < out.len() {
                    match client.feed(&out[pos..]).unwrap() {
                        HandshakeStep::Reply { consumed, reply } => {
                            to_server.extend_from_slice(reply);
                            pos += consumed;
                        }
                        HandshakeStep::NeedMore { consumed } | HandshakeStep::Done { consumed } => {
                            pos += consumed;
                            if consumed == 0 {
                                break;
                            }
                        }
                    }
                }
            }
            assert!(session.handshake_done(), "handshake did not finish");
            assert_eq!(events.len(), 1);
            Peer {
                session,
                writer: ChunkWriter::new(128),
                reader: ChunkReader::new(ChunkLimits::default()),
                replies: Vec::new(),
            }
        }

        /// Sends one message; returns the events it caused, as owned descriptions.
        fn send(
            &mut self,
            type_id: u8,
            stream_id: u32,
            payload: &[u8],
        ) -> Result<Vec<String>, Error> {
            let header = MessageHeader {
                chunk_stream_id: 3,
                timestamp: Timestamp(40),
                type_id,
                stream_id,
            };
            let mut bytes = Vec::new();
            self.writer.write_to_vec(&header, payload, &mut bytes);
            let mut events = Vec::new();
            let mut pos = 0;
            loop {
                let fed = self.session.feed(&bytes[pos..])?;
                pos += fed.consumed;
                match fed.event {
                    Some(event) => events.push(format!("{event:?}")),
                    None if fed.consumed == 0 => break,
                    None => {}
                }
            }
            assert_eq!(pos, bytes.len());
            let out = self.session.pending_output().to_vec();
            self.session.output_sent(out.len());
            self.replies.extend_from_slice(&out);
            Ok(events)
        }

        fn connect(&mut self) -> Vec<String> {
            let payload = command("connect", 1.0, |w| {
                w.object_start()?
                    .property("app")?
                    .string("live")?
                    .object_end()?;
                Ok(())
            });
            self.send(type_id::COMMAND_AMF0, 0, &payload).unwrap()
        }

        fn create_stream(&mut self, txn: f64) -> Result<Vec<String>, Error> {
            let payload = command("createStream", txn, |w| {
                w.null()?;
                Ok(())
            });
            self.send(type_id::COMMAND_AMF0, 0, &payload)
        }

        /// Every message the session sent, as (type id, stream id, first AMF string or "").
        fn read_replies(&mut self) -> Vec<(u8, u32, String, Option<String>)> {
            let mut seen = Vec::new();
            let mut pos = 0;
            loop {
                match self.reader.read(&self.replies[pos..]).unwrap() {
                    ChunkRead::NeedMore { consumed } => {
                        pos += consumed;
                        if consumed == 0 {
                            break;
                        }
                    }
                    ChunkRead::Message { consumed, message } => {
                        pos += consumed;
                        let values = amf0::decode_all(message.payload, &AmfLimits::default())
                            .unwrap_or_default();
                        let name = values
                            .first()
                            .and_then(|v| v.as_str())
                            .unwrap_or_default()
                            .to_string();
                        let code = values
                            .iter()
                            .find_map(|v| v.get("code").and_then(|c| c.as_str()))
                            .map(String::from);
                        seen.push((message.header.type_id, message.header.stream_id, name, code));
                    }
                }
            }
            self.replies.drain(..pos);
            seen
        }
    }

    #[test]
    fn connect_answers_window_bandwidth_chunk_size_and_success() {
        let mut peer = Peer::new(SessionConfig::default());
        assert_eq!(peer.connect(), vec![r#"Connected { app: "live" }"#]);
        let replies = peer.read_replies();
        let types: Vec<u8> = replies.iter().map(|r| r.0).collect();
        assert_eq!(types, vec![5, 6, 1, 20]);
        assert_eq!(replies[3].2, "_result");
        assert_eq!(
            replies[3].3.as_deref(),
            Some("NetConnection.Connect.Success")
        );
        assert!(peer.session.is_connected());
    }

    #[test]
    fn pipelined_publish_flow_gives_one_publish_request_then_media() {
        let mut peer = Peer::new(SessionConfig::default());
        peer.connect();
        for name in ["releaseStream", "FCPublish"] {
            let payload = command(name, 2.0, |w| {
                w.null()?.string("key")?;
                Ok(())
            });
            assert!(
                peer.send(type_id::COMMAND_AMF0, 0, &payload)
                    .unwrap()
                    .is_empty()
            );
        }
        peer.create_stream(4.0).unwrap();
        let publish = command("publish", 5.0, |w| {
            w.null()?.string("key?x=1")?.string("live")?;
            Ok(())
        });
        let events = peer.send(type_id::COMMAND_AMF0, 1, &publish).unwrap();
        assert_eq!(
            events,
            vec![r#"PublishRequested { stream_id: 1, name: "key?x=1" }"#]
        );
        // Media before the caller accepts is dropped, not an error.
        assert!(
            peer.send(type_id::AUDIO, 1, &[0xaf, 0x01, 0x21])
                .unwrap()
                .is_empty()
        );
        peer.session.accept_publish(1).unwrap();
        let events = peer.send(type_id::AUDIO, 1, &[0xaf, 0x01, 0x21]).unwrap();
        assert_eq!(events.len(), 1);
        assert!(
            events[0].starts_with("Media(Media { kind: Audio"),
            "{events:?}"
        );
        let replies = peer.read_replies();
        let codes: Vec<_> = replies.iter().filter_map(|r| r.3.clone()).collect();
        assert_eq!(
            codes,
            vec!["NetConnection.Connect.Success", "NetStream.Publish.Start"]
        );
    }

    #[test]
    fn set_data_frame_is_stripped_and_marked_as_metadata() {
        let mut peer = Peer::new(SessionConfig::default());
        peer.connect();
        peer.create_stream(2.0).unwrap();
        let publish = command("publish", 3.0, |w| {
            w.null()?.string("k")?;
            Ok(())
        });
        peer.send(type_id::COMMAND_AMF0, 1, &publish).unwrap();
        peer.session.accept_publish(1).unwrap();
        let mut buf = [0u8; 128];
        let mut w = Amf0Writer::new(&mut buf);
        w.string("@setDataFrame")
            .unwrap()
            .string("onMetaData")
            .unwrap();
        w.ecma_array_start(1)
            .unwrap()
            .property("width")
            .unwrap()
            .number(320.0)
            .unwrap()
            .object_end()
            .unwrap();
        let len = w.len();
        let header = MessageHeader {
            chunk_stream_id: 4,
            timestamp: Timestamp(0),
            type_id: type_id::DATA_AMF0,
            stream_id: 1,
        };
        let mut bytes = Vec::new();
        peer.writer.write_to_vec(&header, &buf[..len], &mut bytes);
        let fed = peer.session.feed(&bytes).unwrap();
        let Some(SessionEvent::Media(media)) = fed.event else {
            panic!("no media event")
        };
        assert_eq!(media.kind, MediaKind::Metadata);
        assert_eq!(media.payload, &buf[16..len]);
    }

    #[test]
    fn publish_before_connect_is_an_error() {
        let mut peer = Peer::new(SessionConfig::default());
        let publish = command("publish", 1.0, |w| {
            w.null()?.string("k")?;
            Ok(())
        });
        let err = peer.send(type_id::COMMAND_AMF0, 1, &publish).unwrap_err();
        assert_eq!(
            err,
            Error::Session(SessionError::OutOfOrder {
                command: CommandName::Publish
            })
        );
    }

    #[test]
    fn play_before_create_stream_names_the_unknown_stream() {
        let mut peer = Peer::new(SessionConfig::default());
        peer.connect();
        let play = command("play", 2.0, |w| {
            w.null()?.string("k")?;
            Ok(())
        });
        let err = peer.send(type_id::COMMAND_AMF0, 1, &play).unwrap_err();
        assert_eq!(
            err,
            Error::Session(SessionError::UnknownStream {
                command: CommandName::Play,
                stream_id: 1
            })
        );
    }

    #[test]
    fn create_stream_stops_at_the_stream_limit() {
        let config = SessionConfig {
            max_streams: 3,
            ..SessionConfig::default()
        };
        let mut peer = Peer::new(config);
        peer.connect();
        for txn in 0..3 {
            peer.create_stream(f64::from(txn)).unwrap();
        }
        assert_eq!(
            peer.create_stream(9.0).unwrap_err(),
            Error::Session(SessionError::TooManyStreams { limit: 3 })
        );
    }

    #[test]
    fn publish_with_a_number_for_a_name_is_a_typed_error() {
        let mut peer = Peer::new(SessionConfig::default());
        peer.connect();
        peer.create_stream(2.0).unwrap();
        let publish = command("publish", 3.0, |w| {
            w.null()?.number(5.0)?;
            Ok(())
        });
        let err = peer.send(type_id::COMMAND_AMF0, 1, &publish).unwrap_err();
        assert_eq!(
            err,
            Error::Session(SessionError::BadArgument {
                command: CommandName::Publish,
                index: 3
            })
        );
    }

    #[test]
    fn stream_name_one_over_the_limit_is_refused() {
        let config = SessionConfig {
            max_name_len: 8,
            ..SessionConfig::default()
        };
        let mut peer = Peer::new(config);
        peer.connect();
        peer.create_stream(2.0).unwrap();
        for (name, ok) in [("1234567", true), ("12345678", true), ("123456789", false)] {
            let publish = command("publish", 3.0, |w| {
                w.null()?.string(name)?;
                Ok(())
            });
            let result = peer.send(type_id::COMMAND_AMF0, 1, &publish);
            assert_eq!(result.is_ok(), ok, "{name}");
            peer.session.reject_publish(1, "test").unwrap();
        }
    }

    #[test]
    fn ping_request_gets_a_ping_response_echoing_its_time() {
        let mut peer = Peer::new(SessionConfig::default());
        peer.connect();
        peer.read_replies();
        let mut buf = [0u8; MAX_CONTROL_LEN];
        let len = ControlMessage::UserControl(UserControlEvent::PingRequest(1234)).encode(&mut buf);
        peer.send(type_id::USER_CONTROL, 0, &buf[..len]).unwrap();
        let replies = peer.read_replies();
        assert_eq!(replies.len(), 1);
        assert_eq!(replies[0].0, type_id::USER_CONTROL);
    }

    #[test]
    fn acknowledgement_is_sent_after_the_peer_window() {
        let mut peer = Peer::new(SessionConfig::default());
        peer.connect();
        let mut buf = [0u8; MAX_CONTROL_LEN];
        let len = ControlMessage::WindowAckSize(1000).encode(&mut buf);
        peer.send(type_id::WINDOW_ACK_SIZE, 0, &buf[..len]).unwrap();
        peer.read_replies();
        peer.send(type_id::DATA_AMF3, 0, &[0u8; 1200]).unwrap();
        let replies = peer.read_replies();
        assert!(
            replies.iter().any(|r| r.0 == type_id::ACKNOWLEDGEMENT),
            "{replies:?}"
        );
    }

    #[test]
    fn amf3_command_wrapper_must_start_with_zero() {
        let mut peer = Peer::new(SessionConfig::default());
        let mut payload = vec![0u8];
        payload.extend(command("connect", 1.0, |w| {
            w.object_start()?
                .property("app")?
                .string("live")?
                .object_end()?;
            Ok(())
        }));
        assert_eq!(
            peer.send(type_id::COMMAND_AMF3, 0, &payload).unwrap().len(),
            1
        );
        payload[0] = 0x11;
        let err = peer.send(type_id::COMMAND_AMF3, 0, &payload).unwrap_err();
        assert_eq!(
            err,
            Error::Session(SessionError::BadAmf3Wrapper { marker: 0x11 })
        );
    }

    #[test]
    fn pending_output_is_capped() {
        let config = SessionConfig {
            max_pending_output: 200,
            ..SessionConfig::default()
        };
        let mut peer = Peer::new(config);
        let payload = command("connect", 1.0, |w| {
            w.object_start()?
                .property("app")?
                .string("live")?
                .object_end()?;
            Ok(())
        });
        // The connect reply alone is over 200 bytes; the peer has not read anything.
        let header = MessageHeader {
            chunk_stream_id: 3,
            timestamp: Timestamp(0),
            type_id: type_id::COMMAND_AMF0,
            stream_id: 0,
        };
        let mut bytes = Vec::new();
        peer.writer.write_to_vec(&header, &payload, &mut bytes);
        let err = peer.session.feed(&bytes).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Session(SessionError::OutputOverflow { limit: 200, seen }) if seen > 200
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("unread reply bytes over the limit 200")
        );
    }

    /// Feeds a captured client byte stream `step` bytes at a time, accepting the publish;
    /// returns a short description of each event.
    fn replay_capture(capture: &[u8], step: usize) -> Vec<String> {
        let mut session = Session::new(SessionConfig::default(), &[3; RANDOM_SIZE], 0);
        let mut events = Vec::new();
        let mut held: Vec<u8> = Vec::new();
        for piece in capture.chunks(step) {
            held.extend_from_slice(piece);
            loop {
                let fed = session.feed(&held).expect("a real client's bytes parse");
                let consumed = fed.consumed;
                let accept = match fed.event {
                    Some(SessionEvent::PublishRequested { stream_id, name }) => {
                        events.push(format!("publish {name}"));
                        Some(stream_id)
                    }
                    Some(SessionEvent::Media(media)) => {
                        let kind = match media.kind {
                            MediaKind::Video(tag) => format!(
                                "video {:?} {:?} key={}",
                                tag.codec, tag.packet, tag.keyframe
                            ),
                            MediaKind::Audio(tag) => {
                                format!("audio {:?} header={}", tag.codec, tag.sequence_header)
                            }
                            other => format!("{other:?}"),
                        };
                        events.push(kind);
                        None
                    }
                    Some(other) => {
                        events.push(format!("{other:?}"));
                        None
                    }
                    None if consumed == 0 => break,
                    None => None,
                };
                held.drain(..consumed);
                if let Some(stream_id) = accept {
                    session.accept_publish(stream_id).unwrap();
                }
                let out = session.pending_output().len();
                session.output_sent(out);
            }
        }
        events
    }

    const FFMPEG51: &[u8] = include_bytes!("../../tests/data/ffmpeg51-publish.c2s.bin");
    const FFMPEG9_HEVC: &[u8] = include_bytes!("../../tests/data/ffmpeg9-publish-hevc.c2s.bin");

    #[test]
    fn captured_ffmpeg_publish_gives_connect_publish_metadata_headers_then_a_keyframe() {
        let events = replay_capture(FFMPEG51, FFMPEG51.len());
        assert_eq!(events[0], "HandshakeDone { digest: true }");
        assert_eq!(events[1], r#"Connected { app: "live" }"#);
        assert!(events[2].starts_with("publish "), "{events:?}");
        assert_eq!(events[3], "Metadata");
        assert_eq!(events[4], "video Avc SequenceHeader key=true");
        assert_eq!(events[5], "audio Aac header=true");
        let first_frame = events
            .iter()
            .find(|e| e.contains("Frame"))
            .expect("a video frame");
        assert_eq!(first_frame, "video Avc Frame key=true");
    }

    #[test]
    fn captured_bytes_fed_one_at_a_time_give_the_same_events() {
        let whole = replay_capture(FFMPEG51, FFMPEG51.len());
        // The capture ends mid-message; both feeds stop at the same place.
        assert_eq!(replay_capture(FFMPEG51, 1), whole);
        assert_eq!(replay_capture(FFMPEG51, 127), whole);
    }

    #[test]
    fn captured_enhanced_rtmp_hevc_publish_is_recognised() {
        let events = replay_capture(FFMPEG9_HEVC, FFMPEG9_HEVC.len());
        assert!(
            events.contains(&"video Hevc SequenceHeader key=true".to_string()),
            "{events:?}"
        );
        let first_frame = events
            .iter()
            .find(|e| e.contains("Frame"))
            .expect("a video frame");
        assert_eq!(first_frame, "video Hevc Frame key=true");
    }
}
