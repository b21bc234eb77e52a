//! Reassembles chunks into messages, inside fixed limits.

use super::{ChunkError, ChunkLimits, RawMessage};

/// What one call to `ChunkReader::read` produced.
#[derive(Debug)]
pub enum ChunkRead<'a> {
    /// No message completed; `consumed` bytes were taken. Call again with more input.
    NeedMore {
        /// Bytes of the input taken.
        consumed: usize,
    },
    /// A message completed; `consumed` bytes were taken. Feed the rest of the input next.
    Message {
        /// Bytes of the input taken.
        consumed: usize,
        /// The message, valid until the next call.
        message: RawMessage<'a>,
    },
}

/// Turns the peer's chunk stream back into messages.
///
/// Applies Set Chunk Size (type 1) and Abort (type 2) itself, at the exact point in the
/// stream where they arrive, and also yields them so the caller can log them.
pub struct ChunkReader {}

impl ChunkReader {
    /// A reader at the default chunk size of 128 bytes, enforcing `limits`.
    pub fn new(limits: ChunkLimits) -> Self {
        let _ = limits;
        todo!()
    }

    /// Consumes bytes from `input`; returns at most one message.
    pub fn read(&mut self, input: &[u8]) -> Result<ChunkRead<'_>, ChunkError> {
        let _ = input;
        todo!()
    }

    /// The peer's current chunk size.
    pub fn chunk_size(&self) -> u32 {
        todo!()
    }
}
