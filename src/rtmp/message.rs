//! Typed RTMP messages: type ids, protocol control and user control messages.

/// RTMP message type ids.
pub mod type_id {
    /// Set Chunk Size (protocol control).
    pub const SET_CHUNK_SIZE: u8 = 1;
    /// Abort Message (protocol control).
    pub const ABORT: u8 = 2;
    /// Acknowledgement (protocol control).
    pub const ACKNOWLEDGEMENT: u8 = 3;
    /// User Control Message.
    pub const USER_CONTROL: u8 = 4;
    /// Window Acknowledgement Size (protocol control).
    pub const WINDOW_ACK_SIZE: u8 = 5;
    /// Set Peer Bandwidth (protocol control).
    pub const SET_PEER_BANDWIDTH: u8 = 6;
    /// Audio data.
    pub const AUDIO: u8 = 8;
    /// Video data.
    pub const VIDEO: u8 = 9;
    /// Data message, AMF3.
    pub const DATA_AMF3: u8 = 15;
    /// Shared object, AMF3.
    pub const SHARED_OBJECT_AMF3: u8 = 16;
    /// Command message, AMF3 wrapper (a leading 0 byte, then AMF0).
    pub const COMMAND_AMF3: u8 = 17;
    /// Data message, AMF0.
    pub const DATA_AMF0: u8 = 18;
    /// Shared object, AMF0.
    pub const SHARED_OBJECT_AMF0: u8 = 19;
    /// Command message, AMF0.
    pub const COMMAND_AMF0: u8 = 20;
    /// Aggregate message.
    pub const AGGREGATE: u8 = 22;
}

/// A User Control Message event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserControlEvent {
    /// Stream Begin (0) for a message stream id.
    StreamBegin(u32),
    /// Stream EOF (1) for a message stream id.
    StreamEof(u32),
    /// Stream Dry (2) for a message stream id.
    StreamDry(u32),
    /// Set Buffer Length (3): stream id and buffer length in ms.
    SetBufferLength {
        /// Message stream id.
        stream_id: u32,
        /// Buffer length in milliseconds.
        buffer_ms: u32,
    },
    /// Stream Is Recorded (4) for a message stream id.
    StreamIsRecorded(u32),
    /// Ping Request (6) with the sender's timestamp.
    PingRequest(u32),
    /// Ping Response (7) echoing the request's timestamp.
    PingResponse(u32),
    /// Any other event type, ignored.
    Other {
        /// The event type.
        event_type: u16,
    },
}

/// A protocol control or user control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlMessage {
    /// Set Chunk Size: the sender's new chunk size.
    SetChunkSize(u32),
    /// Abort: drop the partial message on this chunk stream.
    Abort(u32),
    /// Acknowledgement: bytes received so far.
    Acknowledgement(u32),
    /// Window Acknowledgement Size.
    WindowAckSize(u32),
    /// Set Peer Bandwidth: window size and limit type (0 hard, 1 soft, 2 dynamic).
    SetPeerBandwidth {
        /// Window size in bytes.
        window: u32,
        /// Limit type.
        limit_type: u8,
    },
    /// A User Control Message.
    UserControl(UserControlEvent),
}

/// Why a control message could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlError {
    /// The payload is shorter than the message type needs.
    TooShort {
        /// Message type id.
        type_id: u8,
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        seen: usize,
    },
    /// The type id is not a control message.
    NotControl {
        /// Message type id.
        type_id: u8,
    },
}

impl core::fmt::Display for ControlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            ControlError::TooShort { type_id, needed, seen } => write!(
                f,
                "control message type {type_id} has {seen} bytes, needs {needed}"
            ),
            ControlError::NotControl { type_id } => {
                write!(f, "message type {type_id} is not a control message")
            }
        }
    }
}

/// The longest encoded control message payload (Set Peer Bandwidth, User Control with 8 bytes).
pub const MAX_CONTROL_LEN: usize = 10;

impl ControlMessage {
    /// Parses a control message of type 1-6 from its payload.
    pub fn parse(type_id: u8, payload: &[u8]) -> Result<ControlMessage, ControlError> {
        let _ = (type_id, payload);
        todo!()
    }

    /// The message type id this message travels as.
    pub fn type_id(&self) -> u8 {
        todo!()
    }

    /// Writes the payload into `out` and returns its length (at most `MAX_CONTROL_LEN`).
    pub fn encode(&self, out: &mut [u8; MAX_CONTROL_LEN]) -> usize {
        let _ = out;
        todo!()
    }
}
