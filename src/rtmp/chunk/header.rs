//! Chunk basic header (1-3 bytes) and message header (fmt 0-3), parse and emit.

/// The longest chunk header: 3-byte basic header, 11-byte fmt 0 header, 4-byte extended timestamp.
pub const MAX_HEADER_LEN: usize = 18;

/// One parsed chunk header, as it appeared on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {}
