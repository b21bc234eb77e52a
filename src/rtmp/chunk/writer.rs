//! Cuts messages into chunks: fmt 0 first, fmt 3 continuations.

use super::{ChunkError, MessageHeader};

/// Writes messages as chunks at a fixed outgoing chunk size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkWriter {}

impl ChunkWriter {
    /// A writer cutting payloads into chunks of `chunk_size` bytes.
    pub fn new(chunk_size: u32) -> Self {
        let _ = chunk_size;
        todo!()
    }

    /// The outgoing chunk size.
    pub fn chunk_size(&self) -> u32 {
        todo!()
    }

    /// Bytes `write` needs for a message of `payload_len` bytes under `header`.
    pub fn encoded_len(&self, header: &MessageHeader, payload_len: usize) -> usize {
        let _ = (header, payload_len);
        todo!()
    }

    /// Writes one message into `out`; returns the bytes written.
    pub fn write(
        &self,
        header: &MessageHeader,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, ChunkError> {
        let _ = (header, payload, out);
        todo!()
    }

    /// Appends one message to `out`.
    pub fn write_to_vec(&self, header: &MessageHeader, payload: &[u8], out: &mut Vec<u8>) {
        let _ = (header, payload, out);
        todo!()
    }
}
