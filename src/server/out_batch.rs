//! Outgoing plaintext gathered into one batch before it is sealed: session replies and
//! frames, each connection writing the chunk headers for its own message stream and chunk
//! size. Many small messages (audio, a burst of replies) then share one TLS record and one
//! socket write, and a large frame is cut into record-sized batches.
//!
//! The buffer is taken from the allocator when the batch gets its first byte and can be
//! given back (`release`) once it is sent: a player spends nearly all its time asleep with
//! nothing to send, so connections need not hold 16 KiB each, only those writing at the
//! moment. Nothing is zeroed: bytes are appended.

use crate::rtmp::chunk::{ChunkWriter, MessageHeader};
use crate::server::frame::Frame;

/// Plaintext bytes of one TLS record (the most a record carries).
pub const BATCH_BYTES: usize = 16 * 1024;

/// A fixed-capacity batch of outgoing plaintext.
pub struct OutBatch {
    /// The bytes gathered, at most `BATCH_BYTES`; no capacity while released.
    buf: Vec<u8>,
    sent: usize,
}

/// A frame part-way into the batch: how many bytes of its chunked encoding are written.
pub struct FrameInProgress {
    /// The frame.
    pub frame: Frame,
    header: MessageHeader,
    done: usize,
    total: usize,
}

impl FrameInProgress {
    /// Bytes of its chunked encoding in all.
    pub fn encoded_len(&self) -> usize {
        self.total
    }

    /// Starts `frame` on message stream `stream_id` at `writer`'s chunk size.
    pub fn new(frame: Frame, stream_id: u32, writer: &ChunkWriter) -> Self {
        let header = frame.message_header(stream_id);
        let total = writer.encoded_len(&header, frame.len());
        FrameInProgress {
            frame,
            header,
            done: 0,
            total,
        }
    }
}

impl OutBatch {
    /// An empty batch of `BATCH_BYTES`, its buffer not yet taken.
    pub fn new() -> Self {
        OutBatch {
            buf: Vec::new(),
            sent: 0,
        }
    }

    /// Bytes that still fit.
    pub fn room(&self) -> usize {
        BATCH_BYTES - self.buf.len()
    }

    /// Whether nothing waits to be sent.
    pub fn is_empty(&self) -> bool {
        self.sent == self.buf.len()
    }

    /// The bytes waiting to be sent.
    pub fn pending(&self) -> &[u8] {
        self.buf.get(self.sent..).unwrap_or_default()
    }

    /// Marks `n` pending bytes as sent; an emptied batch starts over at the front.
    pub fn sent(&mut self, n: usize) {
        self.sent = (self.sent + n).min(self.buf.len());
        if self.sent == self.buf.len() {
            self.sent = 0;
            self.buf.clear();
        }
    }

    /// Gives the buffer back to the allocator if nothing waits to be sent; the next byte
    /// added takes one again.
    pub fn release(&mut self) {
        if self.is_empty() {
            self.buf = Vec::new();
        }
    }

    /// Copies as much of `bytes` as fits; returns how many.
    pub fn extend(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.room());
        if n > 0 {
            self.take_buffer();
            self.buf
                .extend_from_slice(bytes.get(..n).unwrap_or_default());
        }
        n
    }

    /// Writes as much of `frame`'s chunked encoding as fits; returns true once all of it is in.
    pub fn write_frame(&mut self, frame: &mut FrameInProgress, writer: &ChunkWriter) -> bool {
        let room = self.room();
        if room > 0 && frame.done < frame.total {
            self.take_buffer();
            let payload = &frame.frame.payload;
            frame.done +=
                writer.append_part(&frame.header, payload, frame.done, room, &mut self.buf);
        }
        frame.done >= frame.total
    }

    /// Takes the buffer from the allocator if the batch has none.
    fn take_buffer(&mut self) {
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(BATCH_BYTES);
        }
    }
}

impl Default for OutBatch {
    fn default() -> Self {
        OutBatch::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::Timestamp;
    use crate::server::frame::FrameKind;
    use std::sync::Arc;

    fn frame(len: usize) -> Frame {
        Frame {
            kind: FrameKind::Video,
            keyframe: true,
            sequence_header: false,
            timestamp: Timestamp(10),
            payload: Arc::from(vec![0x17u8; len]),
        }
    }

    #[test]
    fn a_large_frame_spans_batches_and_matches_the_whole_encoding() {
        let writer = ChunkWriter::new(4096);
        let f = frame(40_000);
        let mut whole = Vec::new();
        writer.write_to_vec(&f.message_header(1), &f.payload, &mut whole);
        let mut batch = OutBatch::new();
        let mut progress = FrameInProgress::new(f, 1, &writer);
        let mut out = Vec::new();
        let mut batches = 0;
        loop {
            let finished = batch.write_frame(&mut progress, &writer);
            out.extend_from_slice(batch.pending());
            let n = batch.pending().len();
            batch.sent(n);
            batches += 1;
            if finished {
                break;
            }
        }
        assert_eq!(out, whole);
        assert_eq!(batches, whole.len().div_ceil(BATCH_BYTES));
    }

    #[test]
    fn small_messages_share_a_batch_and_a_partial_send_keeps_the_rest() {
        let writer = ChunkWriter::new(4096);
        let mut batch = OutBatch::new();
        for _ in 0..10 {
            let mut progress = FrameInProgress::new(frame(100), 1, &writer);
            assert!(batch.write_frame(&mut progress, &writer));
        }
        assert_eq!(batch.extend(b"reply"), 5);
        let total = batch.pending().len();
        assert_eq!(total, 10 * (12 + 100) + 5);
        batch.sent(1000);
        assert_eq!(batch.pending().len(), total - 1000);
        batch.sent(total);
        assert!(batch.is_empty());
        assert_eq!(batch.room(), BATCH_BYTES);
    }

    #[test]
    fn a_released_batch_holds_no_buffer_until_it_is_written_to() {
        let writer = ChunkWriter::new(4096);
        let mut batch = OutBatch::new();
        assert_eq!((batch.buf.capacity(), batch.room()), (0, BATCH_BYTES));
        assert_eq!(batch.extend(b"reply"), 5);
        batch.release();
        assert_eq!(batch.pending(), b"reply", "not released while bytes wait");
        batch.sent(5);
        assert!(batch.buf.capacity() >= BATCH_BYTES);
        batch.release();
        assert_eq!(batch.buf.capacity(), 0);
        let mut progress = FrameInProgress::new(frame(100), 1, &writer);
        assert!(batch.write_frame(&mut progress, &writer));
        assert_eq!(batch.pending().len(), 112);
        assert_eq!(
            batch.buf.capacity(),
            BATCH_BYTES,
            "one allocation, never grown"
        );
    }
}
