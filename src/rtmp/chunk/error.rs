//! Errors of the chunk layer.

/// Why the chunk stream could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkError {
    /// A message header declared a length above the limit.
    MessageTooLong {
        /// The configured limit.
        limit: u32,
        /// The declared length.
        seen: u32,
    },
    /// Set Chunk Size announced 0, a value with the top bit set, or one above the limit.
    BadChunkSize {
        /// The configured limit.
        limit: u32,
        /// The announced value.
        seen: u32,
    },
    /// More distinct chunk stream ids than the limit were opened.
    TooManyChunkStreams {
        /// The configured limit.
        limit: usize,
        /// The chunk stream id that did not fit.
        seen: u32,
    },
    /// A fmt 1, 2 or 3 chunk arrived on a chunk stream that never had a fmt 0 chunk.
    NoPreviousHeader {
        /// The chunk stream id.
        chunk_stream_id: u32,
        /// The fmt that was seen.
        fmt: u8,
    },
    /// The chunk streams' reassembly buffers together would grow past the budget.
    ReassemblyOverBudget {
        /// The budget in bytes.
        limit: u32,
        /// The total the growth would have reached.
        seen: u32,
    },
    /// A protocol control message had the wrong length.
    BadControlMessage {
        /// The message type id.
        type_id: u8,
        /// Its payload length.
        len: usize,
    },
    /// A chunk stream id outside 2..=65599 was given to the writer.
    BadChunkStreamId {
        /// The chunk stream id.
        seen: u32,
    },
    /// The output slice was too small for the message.
    OutputTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
}

impl core::fmt::Display for ChunkError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            ChunkError::MessageTooLong { limit, seen } => {
                write!(f, "message length {seen} over the limit {limit}")
            }
            ChunkError::BadChunkSize { limit, seen } => {
                write!(f, "chunk size {seen} not in 1..={limit}")
            }
            ChunkError::TooManyChunkStreams { limit, seen } => {
                write!(
                    f,
                    "chunk stream {seen} over the limit of {limit} chunk streams"
                )
            }
            ChunkError::NoPreviousHeader {
                chunk_stream_id,
                fmt,
            } => {
                write!(
                    f,
                    "fmt {fmt} chunk on chunk stream {chunk_stream_id} with no fmt 0 before it"
                )
            }
            ChunkError::ReassemblyOverBudget { limit, seen } => {
                write!(
                    f,
                    "reassembly buffers of {seen} bytes over the budget {limit}"
                )
            }
            ChunkError::BadControlMessage { type_id, len } => {
                write!(f, "control message type {type_id} with bad length {len}")
            }
            ChunkError::BadChunkStreamId { seen } => {
                write!(f, "chunk stream id {seen} not in 2..=65599")
            }
            ChunkError::OutputTooSmall { needed, available } => {
                write!(f, "output needs {needed} bytes, has {available}")
            }
        }
    }
}

impl std::error::Error for ChunkError {}
