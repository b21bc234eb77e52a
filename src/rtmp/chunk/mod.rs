//! The RTMP chunk stream: messages cut into chunks and put back together.
//!
//! Contract: `ChunkReader::read` takes any prefix of the byte stream, consumes what it can
//! and never needs the caller to hold more than `MAX_HEADER_LEN` unconsumed bytes, whatever
//! the peer's chunk size: after `NeedMore`, what is left over is part of one chunk header.
//! Every quantity the peer controls is checked against `ChunkLimits` before it is used;
//! nothing here panics on input or grows past a limit. `ChunkHeader::parse` and `emit`
//! never panic either: `parse` returns `Parsed::Incomplete` on a short slice and `emit`
//! writes nothing into a slice shorter than `emitted_len()`.
//! `ChunkWriter` is stateless: every message starts with a fmt 0 chunk carrying its absolute
//! timestamp, so the bytes it writes are the same for every receiver.

mod error;
mod header;
mod reader;
mod writer;

pub use error::ChunkError;
pub use header::{
    ChunkHeader, EXTENDED_TIMESTAMP_MARK, MAX_CHUNK_STREAM_ID, MAX_HEADER_LEN,
    MAX_MESSAGE_LEN_FIELD, MIN_CHUNK_STREAM_ID, Parsed, is_valid_chunk_stream_id,
};
pub use reader::{ChunkRead, ChunkReader};
pub use writer::ChunkWriter;

use crate::rtmp::Timestamp;

/// The chunk size every RTMP peer starts with.
pub const DEFAULT_CHUNK_SIZE: u32 = 128;
/// The largest chunk size the protocol allows (31 bits).
pub const MAX_PROTOCOL_CHUNK_SIZE: u32 = 0x7FFF_FFFF;

/// Bounds the chunk reader enforces on what the peer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkLimits {
    /// Largest chunk size a Set Chunk Size may announce.
    pub max_chunk_size: u32,
    /// Largest message length a message header may declare.
    pub max_message_len: u32,
    /// How many distinct chunk stream ids may be live at once.
    pub max_chunk_streams: usize,
    /// Reassembly buffer bytes all chunk streams of one connection may hold together.
    pub max_buffered_bytes: usize,
}

impl Default for ChunkLimits {
    fn default() -> Self {
        ChunkLimits {
            max_chunk_size: 1 << 24,
            max_message_len: 8 << 20,
            max_chunk_streams: 16,
            // One largest message plus room for the other streams' small ones.
            max_buffered_bytes: (8 << 20) + (1 << 20),
        }
    }
}

/// The header fields of one whole RTMP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader {
    /// Chunk stream the message travels on.
    pub chunk_stream_id: u32,
    /// Absolute timestamp of the message.
    pub timestamp: Timestamp,
    /// Message type id (see `message::type_id`).
    pub type_id: u8,
    /// Message stream id (little-endian on the wire).
    pub stream_id: u32,
}

/// A complete message, borrowed from the reader's reassembly buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMessage<'a> {
    /// Its header.
    pub header: MessageHeader,
    /// Its payload bytes.
    pub payload: &'a [u8],
}
