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
    /// Command message, AMF3 wrapper (a leading 0 byte, then AMF0).
    pub const COMMAND_AMF3: u8 = 17;
    /// Data message, AMF0.
    pub const DATA_AMF0: u8 = 18;
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
            ControlError::TooShort {
                type_id,
                needed,
                seen,
            } => write!(
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

/// User Control event type numbers (RTMP 1.0 section 7.1.7).
mod event {
    pub const STREAM_BEGIN: u16 = 0;
    pub const STREAM_EOF: u16 = 1;
    pub const STREAM_DRY: u16 = 2;
    pub const SET_BUFFER_LENGTH: u16 = 3;
    pub const STREAM_IS_RECORDED: u16 = 4;
    pub const PING_REQUEST: u16 = 6;
    pub const PING_RESPONSE: u16 = 7;
}

/// Reads a big-endian u32 at `at`, or says how short the payload is.
fn be_u32(type_id: u8, payload: &[u8], at: usize) -> Result<u32, ControlError> {
    let needed = at + 4;
    match payload.get(at..needed) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(ControlError::TooShort {
            type_id,
            needed,
            seen: payload.len(),
        }),
    }
}

impl UserControlEvent {
    /// The event type number.
    pub fn event_type(&self) -> u16 {
        match *self {
            UserControlEvent::StreamBegin(_) => event::STREAM_BEGIN,
            UserControlEvent::StreamEof(_) => event::STREAM_EOF,
            UserControlEvent::StreamDry(_) => event::STREAM_DRY,
            UserControlEvent::SetBufferLength { .. } => event::SET_BUFFER_LENGTH,
            UserControlEvent::StreamIsRecorded(_) => event::STREAM_IS_RECORDED,
            UserControlEvent::PingRequest(_) => event::PING_REQUEST,
            UserControlEvent::PingResponse(_) => event::PING_RESPONSE,
            UserControlEvent::Other { event_type } => event_type,
        }
    }

    /// Parses the event from a User Control Message payload (u16 type, then event data).
    fn parse(payload: &[u8]) -> Result<UserControlEvent, ControlError> {
        let kind = type_id::USER_CONTROL;
        let event_type = match payload.get(..2) {
            Some(&[high, low]) => u16::from_be_bytes([high, low]),
            _ => {
                return Err(ControlError::TooShort {
                    type_id: kind,
                    needed: 2,
                    seen: payload.len(),
                });
            }
        };
        let data = || be_u32(kind, payload, 2);
        Ok(match event_type {
            event::STREAM_BEGIN => UserControlEvent::StreamBegin(data()?),
            event::STREAM_EOF => UserControlEvent::StreamEof(data()?),
            event::STREAM_DRY => UserControlEvent::StreamDry(data()?),
            event::SET_BUFFER_LENGTH => UserControlEvent::SetBufferLength {
                stream_id: data()?,
                buffer_ms: be_u32(kind, payload, 6)?,
            },
            event::STREAM_IS_RECORDED => UserControlEvent::StreamIsRecorded(data()?),
            event::PING_REQUEST => UserControlEvent::PingRequest(data()?),
            event::PING_RESPONSE => UserControlEvent::PingResponse(data()?),
            event_type => UserControlEvent::Other { event_type },
        })
    }
}

impl ControlMessage {
    /// Parses a control message of type 1-6 from its payload.
    ///
    /// Bytes past what the type needs are ignored. Values are reported as sent: a Set Chunk
    /// Size with its top bit set is not masked (the chunk reader rejects it).
    pub fn parse(type_id: u8, payload: &[u8]) -> Result<ControlMessage, ControlError> {
        let first = || be_u32(type_id, payload, 0);
        Ok(match type_id {
            type_id::SET_CHUNK_SIZE => ControlMessage::SetChunkSize(first()?),
            type_id::ABORT => ControlMessage::Abort(first()?),
            type_id::ACKNOWLEDGEMENT => ControlMessage::Acknowledgement(first()?),
            type_id::USER_CONTROL => ControlMessage::UserControl(UserControlEvent::parse(payload)?),
            type_id::WINDOW_ACK_SIZE => ControlMessage::WindowAckSize(first()?),
            type_id::SET_PEER_BANDWIDTH => {
                let window = first()?;
                let limit_type = *payload.get(4).ok_or(ControlError::TooShort {
                    type_id,
                    needed: 5,
                    seen: payload.len(),
                })?;
                ControlMessage::SetPeerBandwidth { window, limit_type }
            }
            _ => return Err(ControlError::NotControl { type_id }),
        })
    }

    /// The message type id this message travels as.
    pub fn type_id(&self) -> u8 {
        match self {
            ControlMessage::SetChunkSize(_) => type_id::SET_CHUNK_SIZE,
            ControlMessage::Abort(_) => type_id::ABORT,
            ControlMessage::Acknowledgement(_) => type_id::ACKNOWLEDGEMENT,
            ControlMessage::WindowAckSize(_) => type_id::WINDOW_ACK_SIZE,
            ControlMessage::SetPeerBandwidth { .. } => type_id::SET_PEER_BANDWIDTH,
            ControlMessage::UserControl(_) => type_id::USER_CONTROL,
        }
    }

    /// Writes the payload into `out` and returns its length (at most `MAX_CONTROL_LEN`).
    ///
    /// A User Control `Other` event is written as its 2-byte event type alone.
    pub fn encode(&self, out: &mut [u8; MAX_CONTROL_LEN]) -> usize {
        let mut len = 0usize;
        let mut put = |bytes: &[u8]| {
            let end = len + bytes.len();
            if let Some(target) = out.get_mut(len..end) {
                target.copy_from_slice(bytes);
                len = end;
            }
        };
        match *self {
            ControlMessage::SetChunkSize(value)
            | ControlMessage::Abort(value)
            | ControlMessage::Acknowledgement(value)
            | ControlMessage::WindowAckSize(value) => put(&value.to_be_bytes()),
            ControlMessage::SetPeerBandwidth { window, limit_type } => {
                put(&window.to_be_bytes());
                put(&[limit_type]);
            }
            ControlMessage::UserControl(event) => {
                put(&event.event_type().to_be_bytes());
                match event {
                    UserControlEvent::StreamBegin(value)
                    | UserControlEvent::StreamEof(value)
                    | UserControlEvent::StreamDry(value)
                    | UserControlEvent::StreamIsRecorded(value)
                    | UserControlEvent::PingRequest(value)
                    | UserControlEvent::PingResponse(value) => put(&value.to_be_bytes()),
                    UserControlEvent::SetBufferLength {
                        stream_id,
                        buffer_ms,
                    } => {
                        put(&stream_id.to_be_bytes());
                        put(&buffer_ms.to_be_bytes());
                    }
                    UserControlEvent::Other { .. } => {}
                }
            }
        }
        len
    }
}

impl std::error::Error for ControlError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(message: &ControlMessage) -> Vec<u8> {
        let mut out = [0u8; MAX_CONTROL_LEN];
        let len = message.encode(&mut out);
        out[..len].to_vec()
    }

    #[test]
    fn parses_protocol_control_messages() {
        let cases: [(u8, &[u8], ControlMessage); 5] = [
            (1, &[0, 0, 0x10, 0], ControlMessage::SetChunkSize(4096)),
            (2, &[0, 0, 0, 6], ControlMessage::Abort(6)),
            (
                3,
                &[0, 0x26, 0x25, 0xA0],
                ControlMessage::Acknowledgement(2_500_000),
            ),
            (
                5,
                &[0, 0x26, 0x25, 0xA0],
                ControlMessage::WindowAckSize(2_500_000),
            ),
            (
                6,
                &[0, 0x26, 0x25, 0xA0, 2],
                ControlMessage::SetPeerBandwidth {
                    window: 2_500_000,
                    limit_type: 2,
                },
            ),
        ];
        for (kind, payload, expected) in cases {
            assert_eq!(ControlMessage::parse(kind, payload), Ok(expected));
            assert_eq!(expected.type_id(), kind);
            assert_eq!(encoded(&expected), payload);
        }
    }

    #[test]
    fn set_chunk_size_top_bit_is_reported_as_is() {
        assert_eq!(
            ControlMessage::parse(1, &[0x80, 0, 0, 0x80]),
            Ok(ControlMessage::SetChunkSize(0x8000_0080))
        );
    }

    #[test]
    fn parses_user_control_events() {
        let cases: [(&[u8], UserControlEvent); 8] = [
            (&[0, 0, 0, 0, 0, 1], UserControlEvent::StreamBegin(1)),
            (&[0, 1, 0, 0, 0, 1], UserControlEvent::StreamEof(1)),
            (&[0, 2, 0, 0, 0, 1], UserControlEvent::StreamDry(1)),
            (
                &[0, 3, 0, 0, 0, 1, 0, 0, 0x0B, 0xB8],
                UserControlEvent::SetBufferLength {
                    stream_id: 1,
                    buffer_ms: 3000,
                },
            ),
            (&[0, 4, 0, 0, 0, 1], UserControlEvent::StreamIsRecorded(1)),
            (
                &[0, 6, 0x12, 0x34, 0x56, 0x78],
                UserControlEvent::PingRequest(0x1234_5678),
            ),
            (
                &[0, 7, 0x12, 0x34, 0x56, 0x78],
                UserControlEvent::PingResponse(0x1234_5678),
            ),
            (&[0, 0x1F], UserControlEvent::Other { event_type: 31 }),
        ];
        for (payload, event) in cases {
            let expected = ControlMessage::UserControl(event);
            assert_eq!(ControlMessage::parse(4, payload), Ok(expected));
            assert_eq!(expected.type_id(), 4);
            assert_eq!(encoded(&expected), payload);
        }
    }

    #[test]
    fn unknown_event_ignores_its_data() {
        assert_eq!(
            ControlMessage::parse(4, &[0, 0x1A, 1, 2, 3]),
            Ok(ControlMessage::UserControl(UserControlEvent::Other {
                event_type: 26
            }))
        );
    }

    #[test]
    fn short_payloads_say_what_was_needed() {
        let cases: [(u8, &[u8], usize); 8] = [
            (1, &[0, 0, 1], 4),
            (2, &[], 4),
            (3, &[1], 4),
            (5, &[1, 2], 4),
            (6, &[0, 0, 0, 1], 5),
            (4, &[0], 2),
            (4, &[0, 0, 0, 0, 1], 6),
            (4, &[0, 3, 0, 0, 0, 1, 0, 0, 1], 10),
        ];
        for (kind, payload, needed) in cases {
            assert_eq!(
                ControlMessage::parse(kind, payload),
                Err(ControlError::TooShort {
                    type_id: kind,
                    needed,
                    seen: payload.len()
                }),
                "type {kind} {payload:?}"
            );
        }
    }

    #[test]
    fn longer_payloads_are_accepted() {
        assert_eq!(
            ControlMessage::parse(1, &[0, 0, 0, 128, 9, 9]),
            Ok(ControlMessage::SetChunkSize(128))
        );
    }

    #[test]
    fn non_control_types_are_refused() {
        for kind in [0u8, 7, 8, 9, 20, 255] {
            assert_eq!(
                ControlMessage::parse(kind, &[0; 10]),
                Err(ControlError::NotControl { type_id: kind })
            );
        }
    }

    #[test]
    fn longest_encoding_fits_max_control_len() {
        let message = ControlMessage::UserControl(UserControlEvent::SetBufferLength {
            stream_id: u32::MAX,
            buffer_ms: u32::MAX,
        });
        assert_eq!(encoded(&message).len(), MAX_CONTROL_LEN);
    }
}
