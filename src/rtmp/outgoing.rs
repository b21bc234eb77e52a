//! Replies and control messages a session queues for its peer, within a byte limit.

use super::Timestamp;
use super::chunk::{ChunkWriter, MessageHeader};
use super::session_error::SessionError;

/// Chunks one message (timestamp 0) onto `out` with `writer`, or refuses it with
/// `OutputOverflow` when `out` would then hold more than `limit` bytes.
pub(crate) fn queue_message(
    writer: &ChunkWriter,
    out: &mut Vec<u8>,
    limit: usize,
    chunk_stream_id: u32,
    type_id: u8,
    stream_id: u32,
    payload: &[u8],
) -> Result<(), SessionError> {
    let header = MessageHeader {
        chunk_stream_id,
        timestamp: Timestamp::ZERO,
        type_id,
        stream_id,
    };
    let queued = out.len() + writer.encoded_len(&header, payload.len());
    if queued > limit {
        return Err(SessionError::OutputOverflow {
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
            seen: u32::try_from(queued).unwrap_or(u32::MAX),
        });
    }
    writer.write_to_vec(&header, payload, out);
    Ok(())
}
