//! Reassembles chunks into messages, inside fixed limits.
//!
//! State per chunk stream lives in a fixed table of `ChunkLimits::max_chunk_streams` slots,
//! allocated by the first fmt 0 chunk on each chunk stream id and never freed. Each slot keeps
//! the previous header (for the delta-compressed fmt 1, 2 and 3 headers) and one reassembly
//! buffer that is reused from message to message.
//!
//! Choices where the specification is loose, following FFmpeg and SRS:
//! - a fmt 0 header's timestamp also becomes the chunk stream's delta, so a fmt 3 chunk that
//!   starts a new message right after a fmt 0 one adds that timestamp again;
//! - a fmt 3 chunk on a chunk stream whose last fmt 0-2 header had an extended timestamp may
//!   or may not repeat the 4 bytes (Adobe and FFmpeg do, librtmp does not): when the next 4
//!   bytes equal the stored value they are taken as the repeat, otherwise as payload;
//! - a fmt 0, 1 or 2 header on a chunk stream with a partial message drops that message and
//!   starts a new one.

use super::header::{ChunkHeader, MAX_CHUNK_STREAM_ID, MIN_CHUNK_STREAM_ID, Parsed};
use super::{
    ChunkError, ChunkLimits, DEFAULT_CHUNK_SIZE, MAX_PROTOCOL_CHUNK_SIZE, MessageHeader, RawMessage,
};
use crate::rtmp::Timestamp;
use crate::rtmp::message::type_id;

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
#[derive(Debug)]
pub struct ChunkReader {
    /// Bounds on what the peer may send.
    limits: ChunkLimits,
    /// How many slots the table may hold (the limit, capped at the number of valid ids).
    max_slots: usize,
    /// The peer's current chunk size.
    chunk_size: u32,
    /// One slot per chunk stream id seen, in order of first use; never longer than `max_slots`.
    slots: Vec<Slot>,
    /// The chunk whose payload is being read, if its header has been taken.
    in_chunk: Option<InChunk>,
    /// Capacity held by all slots' reassembly buffers together.
    buffered: usize,
}

/// A chunk whose header has been read and whose payload is still arriving.
#[derive(Debug, Clone, Copy)]
struct InChunk {
    /// Index of its chunk stream's slot.
    slot: usize,
    /// Payload bytes of this chunk not yet read; always above 0.
    remaining: u32,
}

/// The state of one chunk stream.
#[derive(Debug)]
struct Slot {
    /// Header of the current (or last) message, with its absolute timestamp.
    header: MessageHeader,
    /// Declared length of the current (or last) message.
    message_len: u32,
    /// Delta a fmt 3 chunk starting a new message adds to the timestamp.
    delta: u32,
    /// The raw extended timestamp of the last fmt 0-2 header, if it had one.
    extended: Option<u32>,
    /// A message has started and not all of its bytes have arrived.
    partial: bool,
    /// Reassembly buffer; never holds more than `message_len` bytes, keeps its capacity.
    payload: Vec<u8>,
}

/// The header of a chunk has been taken: where it went and how many bytes it used.
struct Started {
    /// Index of its chunk stream's slot.
    slot: usize,
    /// Input bytes used by the header (with any repeated extended timestamp).
    len: usize,
    /// The message is already complete (it is empty).
    completes: bool,
}

impl Slot {
    /// A fresh slot for `chunk_stream_id`; allocates nothing until payload arrives.
    fn new(chunk_stream_id: u32) -> Slot {
        Slot {
            header: MessageHeader {
                chunk_stream_id,
                timestamp: Timestamp::ZERO,
                type_id: 0,
                stream_id: 0,
            },
            message_len: 0,
            delta: 0,
            extended: None,
            partial: false,
            payload: Vec::new(),
        }
    }

    /// Starts a new message, dropping any partial one.
    fn begin(&mut self) {
        self.payload.clear();
        self.partial = true;
    }

    /// Drops the partial message, if there is one (Abort).
    fn abort(&mut self) {
        if self.partial {
            self.payload.clear();
            self.partial = false;
        }
    }

    /// Payload bytes of the current message still to come.
    fn missing(&self) -> u32 {
        let have = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        self.message_len.saturating_sub(have)
    }

    /// Appends chunk payload, growing the buffer geometrically but never past `message_len`,
    /// and never past what `buffered` (capacity held by all slots) may still grow by.
    fn append(
        &mut self,
        bytes: &[u8],
        buffered: &mut usize,
        budget: usize,
    ) -> Result<(), ChunkError> {
        let needed = self.payload.len().saturating_add(bytes.len());
        if needed > self.payload.capacity() {
            let before = self.payload.capacity();
            let declared = usize::try_from(self.message_len).unwrap_or(usize::MAX);
            let target = self
                .payload
                .capacity()
                .saturating_mul(2)
                .min(declared)
                .max(needed);
            let total = buffered.saturating_sub(before).saturating_add(target);
            if total > budget {
                return Err(ChunkError::ReassemblyOverBudget {
                    limit: u32::try_from(budget).unwrap_or(u32::MAX),
                    seen: u32::try_from(total).unwrap_or(u32::MAX),
                });
            }
            self.payload.reserve_exact(target - self.payload.len());
            *buffered = buffered
                .saturating_sub(before)
                .saturating_add(self.payload.capacity());
        }
        self.payload.extend_from_slice(bytes);
        Ok(())
    }
}

/// The first 4 bytes of `payload` as a big-endian u32, if there are 4.
fn leading_u32(payload: &[u8]) -> Option<u32> {
    match payload.get(..4) {
        Some(&[a, b, c, d]) => Some(u32::from_be_bytes([a, b, c, d])),
        _ => None,
    }
}

impl ChunkReader {
    /// A reader at the default chunk size of 128 bytes, enforcing `limits`.
    pub fn new(limits: ChunkLimits) -> Self {
        // There are only 65598 chunk stream ids; a larger limit cannot be reached.
        let id_count = (MAX_CHUNK_STREAM_ID - MIN_CHUNK_STREAM_ID + 1) as usize;
        let max_slots = limits.max_chunk_streams.min(id_count);
        ChunkReader {
            limits,
            max_slots,
            chunk_size: DEFAULT_CHUNK_SIZE,
            slots: Vec::with_capacity(max_slots),
            in_chunk: None,
            buffered: 0,
        }
    }

    /// Consumes bytes from `input`; returns at most one message.
    ///
    /// Takes every byte it can: after `NeedMore { consumed }`, the bytes left over are part of
    /// a chunk header, fewer than `MAX_HEADER_LEN`; keep them and append more input. After
    /// an error the stream is unusable and the connection should close.
    pub fn read(&mut self, input: &[u8]) -> Result<ChunkRead<'_>, ChunkError> {
        let mut consumed = 0usize;
        loop {
            let rest = input.get(consumed..).unwrap_or_default();
            if let Some(chunk) = self.in_chunk {
                if rest.is_empty() {
                    return Ok(ChunkRead::NeedMore { consumed });
                }
                let take = rest
                    .len()
                    .min(usize::try_from(chunk.remaining).unwrap_or(usize::MAX));
                let Some(slot) = self.slots.get_mut(chunk.slot) else {
                    // Unreachable: slots are never removed. Drop the chunk rather than panic.
                    self.in_chunk = None;
                    continue;
                };
                slot.append(
                    rest.get(..take).unwrap_or_default(),
                    &mut self.buffered,
                    self.limits.max_buffered_bytes,
                )?;
                consumed += take;
                let remaining = chunk
                    .remaining
                    .saturating_sub(u32::try_from(take).unwrap_or(u32::MAX));
                if remaining > 0 {
                    self.in_chunk = Some(InChunk { remaining, ..chunk });
                    return Ok(ChunkRead::NeedMore { consumed });
                }
                self.in_chunk = None;
                if slot.missing() == 0 {
                    return self.finish(chunk.slot, consumed);
                }
                continue;
            }
            let (header, header_len) = match ChunkHeader::parse(rest)? {
                Parsed::Complete { value, consumed } => (value, consumed),
                Parsed::Incomplete { .. } => return Ok(ChunkRead::NeedMore { consumed }),
            };
            let Some(started) = self.start_chunk(&header, rest, header_len)? else {
                return Ok(ChunkRead::NeedMore { consumed });
            };
            consumed += started.len;
            if started.completes {
                return self.finish(started.slot, consumed);
            }
        }
    }

    /// The peer's current chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// The limits this reader enforces.
    pub fn limits(&self) -> ChunkLimits {
        self.limits
    }

    /// Applies a parsed chunk header to its slot and sets up reading its payload.
    ///
    /// `rest` is the input from the header on. Returns `None`, having changed nothing, when
    /// a fmt 3 header needs to see 4 more bytes to tell a repeated extended timestamp from
    /// payload.
    fn start_chunk(
        &mut self,
        header: &ChunkHeader,
        rest: &[u8],
        header_len: usize,
    ) -> Result<Option<Started>, ChunkError> {
        let chunk_stream_id = header.chunk_stream_id;
        let found = self
            .slots
            .iter()
            .position(|slot| slot.header.chunk_stream_id == chunk_stream_id);
        let no_previous = ChunkError::NoPreviousHeader {
            chunk_stream_id,
            fmt: header.fmt,
        };
        let mut len = header_len;
        let index = match header.fmt {
            0 => {
                self.check_message_len(header.message_len)?;
                let index = match found {
                    Some(index) => index,
                    None => self.add_slot(chunk_stream_id)?,
                };
                let slot = self.slots.get_mut(index).ok_or(no_previous)?;
                slot.header.timestamp = Timestamp(header.timestamp);
                slot.header.type_id = header.type_id;
                slot.header.stream_id = header.stream_id;
                slot.message_len = header.message_len;
                slot.delta = header.timestamp;
                slot.extended = header.extended.then_some(header.timestamp);
                slot.begin();
                index
            }
            1 | 2 => {
                let index = found.ok_or(no_previous)?;
                if header.fmt == 1 {
                    self.check_message_len(header.message_len)?;
                }
                let slot = self.slots.get_mut(index).ok_or(no_previous)?;
                if header.fmt == 1 {
                    slot.header.type_id = header.type_id;
                    slot.message_len = header.message_len;
                }
                slot.header.timestamp = slot.header.timestamp.wrapping_add(header.timestamp);
                slot.delta = header.timestamp;
                slot.extended = header.extended.then_some(header.timestamp);
                slot.begin();
                index
            }
            _ => {
                let index = found.ok_or(no_previous)?;
                let slot = self.slots.get_mut(index).ok_or(no_previous)?;
                if let Some(stored) = slot.extended {
                    let Some(next) = leading_u32(rest.get(header_len..).unwrap_or_default()) else {
                        return Ok(None);
                    };
                    if next == stored {
                        len += 4;
                    }
                }
                if !slot.partial {
                    slot.header.timestamp = slot.header.timestamp.wrapping_add(slot.delta);
                    slot.begin();
                }
                index
            }
        };
        let missing = self.slots.get(index).map_or(0, Slot::missing);
        let chunk_len = missing.min(self.chunk_size);
        if chunk_len > 0 {
            self.in_chunk = Some(InChunk {
                slot: index,
                remaining: chunk_len,
            });
        }
        Ok(Some(Started {
            slot: index,
            len,
            completes: chunk_len == 0,
        }))
    }

    /// Rejects a declared message length above the limit, before anything is reserved.
    fn check_message_len(&self, len: u32) -> Result<(), ChunkError> {
        if len > self.limits.max_message_len {
            return Err(ChunkError::MessageTooLong {
                limit: self.limits.max_message_len,
                seen: len,
            });
        }
        Ok(())
    }

    /// Takes a new slot for `chunk_stream_id`, if the table has room.
    fn add_slot(&mut self, chunk_stream_id: u32) -> Result<usize, ChunkError> {
        if self.slots.len() >= self.max_slots {
            return Err(ChunkError::TooManyChunkStreams {
                limit: self.limits.max_chunk_streams,
                seen: chunk_stream_id,
            });
        }
        self.slots.push(Slot::new(chunk_stream_id));
        Ok(self.slots.len() - 1)
    }

    /// Ends the message in slot `index`: applies Set Chunk Size or Abort, then yields it.
    fn finish(&mut self, index: usize, consumed: usize) -> Result<ChunkRead<'_>, ChunkError> {
        let Some(slot) = self.slots.get_mut(index) else {
            // Unreachable: slots are never removed.
            return Ok(ChunkRead::NeedMore { consumed });
        };
        slot.partial = false;
        let message_type = slot.header.type_id;
        if message_type == type_id::SET_CHUNK_SIZE || message_type == type_id::ABORT {
            let value = leading_u32(&slot.payload).ok_or(ChunkError::BadControlMessage {
                type_id: message_type,
                len: slot.payload.len(),
            })?;
            if message_type == type_id::SET_CHUNK_SIZE {
                let limit = self.limits.max_chunk_size.min(MAX_PROTOCOL_CHUNK_SIZE);
                if value == 0 || value > limit {
                    return Err(ChunkError::BadChunkSize { limit, seen: value });
                }
                self.chunk_size = value;
            } else if let Some(aborted) = self
                .slots
                .iter_mut()
                .find(|slot| slot.header.chunk_stream_id == value)
            {
                aborted.abort();
            }
        }
        let (header, payload) = match self.slots.get(index) {
            Some(slot) => (slot.header, slot.payload.as_slice()),
            None => return Ok(ChunkRead::NeedMore { consumed }),
        };
        Ok(ChunkRead::Message {
            consumed,
            message: RawMessage { header, payload },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::{ChunkWriter, MAX_HEADER_LEN};
    use super::*;

    type Owned = (MessageHeader, Vec<u8>);

    /// Feeds `input` in pieces of `step` bytes the way a socket loop would, keeping the
    /// unconsumed bytes, and collects owned copies of the messages.
    fn feed(reader: &mut ChunkReader, input: &[u8], step: usize) -> Result<Vec<Owned>, ChunkError> {
        let mut pending: Vec<u8> = Vec::new();
        let mut messages = Vec::new();
        for piece in input.chunks(step.max(1)) {
            pending.extend_from_slice(piece);
            loop {
                match reader.read(&pending)? {
                    ChunkRead::NeedMore { consumed } => {
                        pending.drain(..consumed);
                        assert!(pending.len() < MAX_HEADER_LEN, "kept {}", pending.len());
                        break;
                    }
                    ChunkRead::Message { consumed, message } => {
                        assert!(consumed > 0, "a message must consume bytes");
                        messages.push((message.header, message.payload.to_vec()));
                        pending.drain(..consumed);
                    }
                }
            }
        }
        Ok(messages)
    }

    fn feed_all(input: &[u8]) -> Result<Vec<Owned>, ChunkError> {
        feed(
            &mut ChunkReader::new(ChunkLimits::default()),
            input,
            input.len(),
        )
    }

    fn header(csid: u32, timestamp: u32, type_id: u8, stream_id: u32) -> MessageHeader {
        MessageHeader {
            chunk_stream_id: csid,
            timestamp: Timestamp(timestamp),
            type_id,
            stream_id,
        }
    }

    fn chunk_header(fmt: u8, csid: u32, timestamp: u32, len: u32, type_id: u8) -> Vec<u8> {
        let header = ChunkHeader {
            fmt,
            chunk_stream_id: csid,
            timestamp,
            message_len: len,
            type_id,
            stream_id: 1,
            extended: false,
        };
        let mut out = [0u8; MAX_HEADER_LEN];
        let len = header.emit(&mut out);
        assert!(len > 0);
        out[..len].to_vec()
    }

    /// A whole message written by `ChunkWriter` at `chunk_size`.
    fn written(chunk_size: u32, header: &MessageHeader, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        ChunkWriter::new(chunk_size).write_to_vec(header, payload, &mut out);
        out
    }

    fn set_chunk_size(value: u32) -> Vec<u8> {
        written(
            128,
            &header(2, 0, type_id::SET_CHUNK_SIZE, 0),
            &value.to_be_bytes(),
        )
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn reads_a_single_chunk_message() {
        let mut input = vec![
            0x03, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x04, 0x14, 0x01, 0x00, 0x00, 0x00,
        ];
        input.extend_from_slice(b"abcd");
        let messages = feed_all(&input).unwrap();
        assert_eq!(messages, vec![(header(3, 1000, 20, 1), b"abcd".to_vec())]);
    }

    #[test]
    fn spec_example_one_audio_with_fmt2_and_fmt3_headers() {
        // RTMP 1.0 section 5.3.2.1, example 1: four 32-byte audio messages 20 ms apart.
        let mut input = chunk_header(0, 3, 1000, 32, 8);
        input.extend_from_slice(&[1; 32]);
        input.extend(chunk_header(2, 3, 20, 0, 0));
        input.extend_from_slice(&[2; 32]);
        input.extend(chunk_header(3, 3, 0, 0, 0));
        input.extend_from_slice(&[3; 32]);
        input.extend(chunk_header(3, 3, 0, 0, 0));
        input.extend_from_slice(&[4; 32]);
        let messages = feed_all(&input).unwrap();
        let stamps: Vec<u32> = messages.iter().map(|(h, _)| h.timestamp.millis()).collect();
        assert_eq!(stamps, [1000, 1020, 1040, 1060]);
        for (i, (h, payload)) in messages.iter().enumerate() {
            assert_eq!((h.type_id, h.stream_id, h.chunk_stream_id), (8, 1, 3));
            assert_eq!(payload, &vec![i as u8 + 1; 32]);
        }
    }

    #[test]
    fn spec_example_two_message_split_into_three_chunks() {
        // RTMP 1.0 section 5.3.2.2, example 2: a 307-byte video message at chunk size 128.
        let payload = pattern(307);
        let mut input = chunk_header(0, 4, 1000, 307, 9);
        input.extend_from_slice(&payload[..128]);
        input.push(0xC4);
        input.extend_from_slice(&payload[128..256]);
        input.push(0xC4);
        input.extend_from_slice(&payload[256..]);
        assert_eq!(
            feed_all(&input).unwrap(),
            vec![(header(4, 1000, 9, 1), payload)]
        );
    }

    #[test]
    fn fmt1_header_changes_length_and_type_and_adds_delta() {
        let mut input = chunk_header(0, 5, 100, 2, 8);
        input.extend_from_slice(b"ab");
        input.extend(chunk_header(1, 5, 40, 3, 9));
        input.extend_from_slice(b"cde");
        let messages = feed_all(&input).unwrap();
        assert_eq!(messages[1], (header(5, 140, 9, 1), b"cde".to_vec()));
    }

    #[test]
    fn fmt3_new_message_after_fmt0_adds_the_fmt0_timestamp_as_delta() {
        let mut input = chunk_header(0, 6, 40, 1, 8);
        input.push(1);
        input.push(0xC6);
        input.push(2);
        let messages = feed_all(&input).unwrap();
        assert_eq!(messages[1].0.timestamp, Timestamp(80));
    }

    #[test]
    fn message_spanning_chunks_interleaves_with_another_chunk_stream() {
        let video = pattern(300);
        let mut input = chunk_header(0, 6, 0, 300, 9);
        input.extend_from_slice(&video[..128]);
        input.extend(chunk_header(0, 4, 10, 5, 8));
        input.extend_from_slice(b"audio");
        input.push(0xC6);
        input.extend_from_slice(&video[128..256]);
        input.extend(chunk_header(2, 4, 23, 0, 0));
        input.extend_from_slice(b"AUDIO");
        input.push(0xC6);
        input.extend_from_slice(&video[256..]);
        let messages = feed_all(&input).unwrap();
        assert_eq!(
            messages,
            vec![
                (header(4, 10, 8, 1), b"audio".to_vec()),
                (header(4, 33, 8, 1), b"AUDIO".to_vec()),
                (header(6, 0, 9, 1), video),
            ]
        );
    }

    #[test]
    fn empty_message_is_yielded_at_once() {
        let mut input = chunk_header(0, 3, 7, 0, 18);
        input.extend(chunk_header(3, 3, 0, 0, 0));
        let messages = feed_all(&input).unwrap();
        assert_eq!(
            messages,
            vec![
                (header(3, 7, 18, 1), vec![]),
                (header(3, 14, 18, 1), vec![])
            ]
        );
    }

    #[test]
    fn fmt1_fmt2_fmt3_without_fmt0_are_rejected() {
        for (fmt, bytes) in [
            (1u8, chunk_header(1, 9, 0, 1, 8)),
            (2, vec![0x89, 0, 0, 0]),
            (3, vec![0xC9]),
        ] {
            assert_eq!(
                feed_all(&bytes),
                Err(ChunkError::NoPreviousHeader {
                    chunk_stream_id: 9,
                    fmt
                })
            );
        }
    }

    fn extended_fmt0(csid: u32, timestamp: u32, len: u32) -> Vec<u8> {
        let header = ChunkHeader {
            fmt: 0,
            chunk_stream_id: csid,
            timestamp,
            message_len: len,
            type_id: 9,
            stream_id: 1,
            extended: true,
        };
        let mut out = [0u8; MAX_HEADER_LEN];
        let len = header.emit(&mut out);
        out[..len].to_vec()
    }

    #[test]
    fn type3_chunk_with_repeated_extended_timestamp_skips_the_four_bytes() {
        let payload = pattern(200);
        let mut input = extended_fmt0(3, 0x0123_4567, 200);
        input.extend_from_slice(&payload[..128]);
        input.extend_from_slice(&[0xC3, 0x01, 0x23, 0x45, 0x67]);
        input.extend_from_slice(&payload[128..]);
        let messages = feed_all(&input).unwrap();
        assert_eq!(messages, vec![(header(3, 0x0123_4567, 9, 1), payload)]);
    }

    #[test]
    fn type3_chunk_without_repeated_extended_timestamp_keeps_payload() {
        let payload = pattern(200);
        let mut input = extended_fmt0(3, 0x0123_4567, 200);
        input.extend_from_slice(&payload[..128]);
        input.push(0xC3);
        input.extend_from_slice(&payload[128..]);
        let messages = feed_all(&input).unwrap();
        assert_eq!(messages, vec![(header(3, 0x0123_4567, 9, 1), payload)]);
    }

    #[test]
    fn type3_chunk_reuses_previous_extended_timestamp_for_a_new_message() {
        let mut input = extended_fmt0(3, 0x0100_0000, 1);
        input.push(0xAA);
        input.extend_from_slice(&[0xC3, 0x01, 0x00, 0x00, 0x00, 0xBB]);
        let messages = feed_all(&input).unwrap();
        assert_eq!(messages[1], (header(3, 0x0200_0000, 9, 1), vec![0xBB]));
    }

    #[test]
    fn extended_delta_on_fmt1_is_added_and_then_cleared_by_a_short_one() {
        let mut input = chunk_header(0, 3, 10, 1, 9);
        input.push(1);
        let fmt1 = ChunkHeader {
            fmt: 1,
            chunk_stream_id: 3,
            timestamp: 0x0100_0000,
            message_len: 1,
            type_id: 9,
            extended: true,
            ..ChunkHeader::default()
        };
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = fmt1.emit(&mut out);
        input.extend_from_slice(&out[..n]);
        input.push(2);
        input.extend(chunk_header(2, 3, 5, 0, 0));
        input.push(3);
        // The fmt 2 header had no extended timestamp, so fmt 3 reads payload straight away.
        input.extend(chunk_header(3, 3, 0, 0, 0));
        input.push(4);
        let messages = feed_all(&input).unwrap();
        let stamps: Vec<u32> = messages.iter().map(|(h, _)| h.timestamp.millis()).collect();
        assert_eq!(stamps, [10, 0x0100_000A, 0x0100_000F, 0x0100_0014]);
        assert_eq!(messages[3].1, vec![4]);
    }

    #[test]
    fn fmt3_waits_for_four_bytes_before_deciding_on_an_extended_timestamp() {
        let mut reader = ChunkReader::new(ChunkLimits::default());
        let mut input = extended_fmt0(3, 0x0100_0000, 130);
        input.extend_from_slice(&[0; 128]);
        input.extend_from_slice(&[0xC3, 0x01, 0x00]);
        match reader.read(&input).unwrap() {
            ChunkRead::NeedMore { consumed } => assert_eq!(consumed, input.len() - 3),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timestamp_wraps_past_2_pow_32_through_fmt1_deltas() {
        let mut input = chunk_header(0, 3, 0xFF_FFF0, 1, 8);
        input.push(0);
        let step = 0x00FF_FFF0u32;
        for _ in 0..300 {
            input.extend(chunk_header(1, 3, step, 1, 8));
            input.push(0);
        }
        let messages = feed_all(&input).unwrap();
        let mut expected = 0xFF_FFF0u32;
        let mut wraps = 0;
        for (h, _) in &messages[1..] {
            let next = expected.wrapping_add(step);
            if next < expected {
                wraps += 1;
            }
            expected = next;
            assert_eq!(h.timestamp, Timestamp(expected));
        }
        assert_eq!(wraps, 1, "the timestamps must cross 2^32 once");
    }

    #[test]
    fn set_chunk_size_applies_to_the_very_next_chunk() {
        let mut input = set_chunk_size(200);
        let payload = pattern(200);
        input.extend(chunk_header(0, 3, 0, 200, 9));
        input.extend_from_slice(&payload);
        let mut reader = ChunkReader::new(ChunkLimits::default());
        let messages = feed(&mut reader, &input, input.len()).unwrap();
        assert_eq!(
            messages[0],
            (header(2, 0, 1, 0), 200u32.to_be_bytes().to_vec())
        );
        assert_eq!(messages[1].1, payload);
        assert_eq!(reader.chunk_size(), 200);
    }

    #[test]
    fn set_chunk_size_mid_message_on_another_stream_changes_its_next_chunk() {
        let payload = pattern(400);
        let mut input = chunk_header(0, 6, 0, 400, 9);
        input.extend_from_slice(&payload[..128]);
        input.extend(set_chunk_size(272));
        input.push(0xC6);
        input.extend_from_slice(&payload[128..]);
        let messages = feed_all(&input).unwrap();
        assert_eq!(messages[1], (header(6, 0, 9, 1), payload));
    }

    #[test]
    fn set_chunk_size_limit_is_enforced_under_at_and_over() {
        let limits = ChunkLimits {
            max_chunk_size: 4096,
            ..ChunkLimits::default()
        };
        for (value, ok) in [
            (4095, true),
            (4096, true),
            (4097, false),
            (1, true),
            (0, false),
        ] {
            let mut reader = ChunkReader::new(limits);
            let result = feed(&mut reader, &set_chunk_size(value), 1000);
            if ok {
                assert!(result.is_ok(), "{value}");
                assert_eq!(reader.chunk_size(), value);
            } else {
                assert_eq!(
                    result,
                    Err(ChunkError::BadChunkSize {
                        limit: 4096,
                        seen: value
                    })
                );
            }
        }
    }

    #[test]
    fn set_chunk_size_with_top_bit_is_rejected_even_under_a_huge_limit() {
        let limits = ChunkLimits {
            max_chunk_size: u32::MAX,
            ..ChunkLimits::default()
        };
        let mut reader = ChunkReader::new(limits);
        assert_eq!(
            feed(&mut reader, &set_chunk_size(0x8000_0080), 1000),
            Err(ChunkError::BadChunkSize {
                limit: MAX_PROTOCOL_CHUNK_SIZE,
                seen: 0x8000_0080
            })
        );
    }

    #[test]
    fn short_control_payloads_are_rejected() {
        for kind in [type_id::SET_CHUNK_SIZE, type_id::ABORT] {
            let input = written(128, &header(2, 0, kind, 0), &[0, 0, 1]);
            assert_eq!(
                feed_all(&input),
                Err(ChunkError::BadControlMessage {
                    type_id: kind,
                    len: 3
                })
            );
        }
    }

    #[test]
    fn abort_discards_the_partial_message_on_its_chunk_stream() {
        let first = pattern(300);
        let mut input = chunk_header(0, 6, 0, 300, 9);
        input.extend_from_slice(&first[..128]);
        input.extend(written(
            128,
            &header(2, 0, type_id::ABORT, 0),
            &6u32.to_be_bytes(),
        ));
        // The next fmt 3 on csid 6 starts a new message of the same shape.
        input.push(0xC6);
        input.extend_from_slice(&[5; 128]);
        input.push(0xC6);
        input.extend_from_slice(&[5; 128]);
        input.push(0xC6);
        input.extend_from_slice(&[5; 44]);
        let messages = feed_all(&input).unwrap();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0], (header(2, 0, 2, 0), vec![0, 0, 0, 6]));
        assert_eq!(messages[1].1, vec![5; 300]);
    }

    #[test]
    fn abort_of_an_unknown_chunk_stream_is_ignored() {
        let input = written(128, &header(2, 0, type_id::ABORT, 0), &77u32.to_be_bytes());
        assert_eq!(feed_all(&input).unwrap().len(), 1);
    }

    #[test]
    fn new_header_mid_message_drops_the_partial_message() {
        let mut input = chunk_header(0, 6, 0, 300, 9);
        input.extend_from_slice(&[1; 128]);
        input.extend(chunk_header(1, 6, 10, 2, 8));
        input.extend_from_slice(b"ok");
        assert_eq!(
            feed_all(&input).unwrap(),
            vec![(header(6, 10, 8, 1), b"ok".to_vec())]
        );
    }

    #[test]
    fn message_length_limit_is_enforced_under_at_and_over() {
        let limits = ChunkLimits {
            max_message_len: 1000,
            ..ChunkLimits::default()
        };
        for (len, ok) in [(999u32, true), (1000, true), (1001, false)] {
            for fmt in [0u8, 1] {
                let mut input = chunk_header(0, 3, 0, 0, 9);
                if fmt == 1 {
                    input.extend(chunk_header(1, 3, 0, len, 9));
                } else {
                    input = chunk_header(0, 3, 0, len, 9);
                }
                input.extend(vec![0; len as usize + 10]);
                let result = feed(&mut ChunkReader::new(limits), &input, 4096);
                if ok {
                    assert!(result.is_ok(), "fmt {fmt} len {len}");
                } else {
                    assert_eq!(
                        result,
                        Err(ChunkError::MessageTooLong {
                            limit: 1000,
                            seen: len
                        }),
                        "fmt {fmt}"
                    );
                }
            }
        }
    }

    #[test]
    fn reassembly_buffer_never_grows_past_the_declared_length() {
        let mut reader = ChunkReader::new(ChunkLimits::default());
        let payload = pattern(1000);
        let input = written(128, &header(3, 0, 9, 1), &payload);
        feed(&mut reader, &input, 7).unwrap();
        assert!(reader.slots[0].payload.capacity() <= 1000);
        // A smaller message reuses the buffer without shrinking it.
        let input = written(128, &header(3, 0, 9, 1), &payload[..10]);
        let messages = feed(&mut reader, &input, 7).unwrap();
        assert_eq!(messages[0].1, payload[..10]);
        assert!(reader.slots[0].payload.capacity() >= 1000);
    }

    #[test]
    fn chunk_stream_limit_is_enforced_under_at_and_over() {
        for limit in [0usize, 1, 4] {
            let mut reader = ChunkReader::new(ChunkLimits {
                max_chunk_streams: limit,
                ..ChunkLimits::default()
            });
            let mut result = Ok(Vec::new());
            for csid in 3..3 + limit as u32 + 1 {
                let mut input = chunk_header(0, csid, 0, 1, 8);
                input.push(0);
                result = feed(&mut reader, &input, 100);
                if (csid - 3) < limit as u32 {
                    assert!(result.is_ok(), "csid {csid} under limit {limit}");
                }
            }
            assert_eq!(
                result,
                Err(ChunkError::TooManyChunkStreams {
                    limit,
                    seen: 3 + limit as u32
                })
            );
        }
    }

    #[test]
    fn reusing_known_chunk_streams_never_hits_the_limit() {
        let mut reader = ChunkReader::new(ChunkLimits {
            max_chunk_streams: 2,
            ..ChunkLimits::default()
        });
        for round in 0..50u32 {
            let mut input = chunk_header(0, 3 + round % 2, round, 1, 8);
            input.push(0);
            assert_eq!(feed(&mut reader, &input, 100).unwrap().len(), 1);
        }
    }

    #[test]
    fn flood_of_distinct_chunk_stream_ids_stops_at_the_table_size() {
        let limits = ChunkLimits::default();
        let mut reader = ChunkReader::new(limits);
        let capacity = reader.slots.capacity();
        let mut input = Vec::new();
        for csid in [2u32, 3, 63, 64, 319, 320, 1000, 65_599]
            .into_iter()
            .chain(4000..5000)
        {
            input.extend(chunk_header(0, csid, 0, 0, 8));
        }
        let result = feed(&mut reader, &input, 512);
        assert!(matches!(
            result,
            Err(ChunkError::TooManyChunkStreams { limit: 16, .. })
        ));
        assert_eq!(reader.slots.len(), 16);
        assert_eq!(reader.slots.capacity(), capacity);
    }

    #[test]
    fn reads_every_chunk_stream_id_form() {
        for csid in [2u32, 3, 63, 64, 319, 320, 65_599] {
            let input = written(128, &header(csid, 5, 9, 1), &pattern(300));
            assert_eq!(
                feed_all(&input).unwrap(),
                vec![(header(csid, 5, 9, 1), pattern(300))]
            );
        }
    }

    #[test]
    fn writer_to_reader_round_trips_sizes_and_chunk_sizes() {
        for chunk_size in [128u32, 4096] {
            for len in [0usize, 1, 127, 128, 129, 4096, 65_536] {
                for timestamp in [0u32, 0xFF_FFFE, 0xFF_FFFF, u32::MAX] {
                    let mut input = Vec::new();
                    if chunk_size != 128 {
                        input.extend(set_chunk_size(chunk_size));
                    }
                    let head = header(70, timestamp, 9, 1);
                    let payload = pattern(len);
                    input.extend(written(chunk_size, &head, &payload));
                    input.extend(written(chunk_size, &head, &payload));
                    let messages = feed_all(&input).unwrap();
                    let media: Vec<&Owned> = messages.iter().filter(|m| m.0.type_id == 9).collect();
                    assert_eq!(media.len(), 2, "len {len} chunk size {chunk_size}");
                    for message in media {
                        assert_eq!(
                            message,
                            &(head, payload.clone()),
                            "len {len} ts {timestamp}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn byte_at_a_time_feed_matches_one_shot() {
        let mut input = set_chunk_size(300);
        input.extend(written(300, &header(3, 0x0100_0000, 9, 1), &pattern(1000)));
        input.extend(chunk_header(0, 4, 10, 3, 8));
        input.extend_from_slice(b"xyz");
        input.extend(chunk_header(2, 4, 0xFF_FFFF, 0, 0));
        input.extend_from_slice(b"abc");
        input.extend(written(300, &header(320, 1, 20, 0), &pattern(700)));
        let whole = feed_all(&input).unwrap();
        assert_eq!(whole.len(), 5);
        for step in [1usize, 2, 3, 17, 18, 127] {
            let mut reader = ChunkReader::new(ChunkLimits::default());
            assert_eq!(
                feed(&mut reader, &input, step).unwrap(),
                whole,
                "step {step}"
            );
        }
    }

    #[test]
    fn partial_payload_is_consumed_without_waiting_for_the_whole_chunk() {
        let mut reader = ChunkReader::new(ChunkLimits::default());
        let mut input = chunk_header(0, 3, 0, 100, 9);
        input.extend_from_slice(&[1; 10]);
        match reader.read(&input).unwrap() {
            ChunkRead::NeedMore { consumed } => assert_eq!(consumed, input.len()),
            other => panic!("{other:?}"),
        }
        match reader.read(&[2; 90]).unwrap() {
            ChunkRead::Message { consumed, message } => {
                assert_eq!(consumed, 90);
                assert_eq!(&message.payload[..10], &[1; 10]);
                assert_eq!(&message.payload[10..], &[2; 90][..]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn returns_one_message_per_call() {
        let mut input = chunk_header(0, 3, 0, 1, 8);
        input.push(1);
        input.extend(chunk_header(3, 3, 0, 0, 0));
        input.push(2);
        let mut reader = ChunkReader::new(ChunkLimits::default());
        let first = match reader.read(&input).unwrap() {
            ChunkRead::Message { consumed, message } => {
                assert_eq!(message.payload, [1]);
                consumed
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(first, 13);
        match reader.read(&input[first..]).unwrap() {
            ChunkRead::Message { consumed, message } => {
                assert_eq!((consumed, message.payload), (2, &[2u8][..]));
            }
            other => panic!("{other:?}"),
        }
    }

    /// xorshift64: a small deterministic generator for the no-panic test.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    /// A byte stream that is mostly chunk-shaped, so the reader gets past the first header.
    fn noisy_stream(rng: &mut XorShift) -> Vec<u8> {
        let mut out = Vec::new();
        let csids = [2u32, 3, 4, 63, 64, 300, 320, 65_599];
        for _ in 0..rng.below(12) + 1 {
            match rng.below(6) {
                0 => {
                    let len = rng.below(64) as usize;
                    out.extend((0..len).map(|_| rng.next() as u8));
                }
                1 => {
                    let value = [0u32, 1, 4, 100, 0x7FFF_FFFF, 0x8000_0000][rng.below(6) as usize];
                    out.extend(set_chunk_size(value));
                }
                2 => {
                    let target = csids[rng.below(8) as usize];
                    out.extend(written(128, &header(2, 0, 2, 0), &target.to_be_bytes()));
                }
                _ => {
                    let fmt = if rng.below(3) == 0 {
                        rng.below(4) as u8
                    } else {
                        0
                    };
                    let header = ChunkHeader {
                        fmt,
                        chunk_stream_id: csids[rng.below(8) as usize],
                        timestamp: if rng.below(3) == 0 {
                            0xFF_FFFF
                        } else {
                            rng.next() as u32 & 0xFF_FFFF
                        },
                        message_len: rng.below(400) as u32,
                        type_id: [1u8, 2, 8, 9, 20][rng.below(5) as usize],
                        stream_id: rng.next() as u32,
                        extended: rng.below(4) == 0,
                    };
                    let mut bytes = [0u8; MAX_HEADER_LEN];
                    let n = header.emit(&mut bytes);
                    out.extend_from_slice(&bytes[..n]);
                    let len = rng.below(300) as usize;
                    out.extend((0..len).map(|_| rng.next() as u8));
                }
            }
        }
        out
    }

    #[test]
    fn half_sent_messages_on_many_streams_stop_at_the_reassembly_budget() {
        let limits = ChunkLimits {
            max_chunk_size: 1 << 16,
            max_message_len: 1000,
            max_chunk_streams: 16,
            max_buffered_bytes: 2500,
        };
        let mut reader = ChunkReader::new(limits);
        let mut input = set_chunk_size(600);
        // Each stream declares 1000 bytes and sends 600 of them, never finishing.
        for csid in 3..8 {
            input.extend(chunk_header(0, csid, 0, 1000, 9));
            input.extend_from_slice(&[0u8; 600]);
        }
        let mut pos = 0;
        let err = loop {
            match reader.read(&input[pos..]) {
                Ok(ChunkRead::NeedMore { consumed }) => {
                    assert!(consumed > 0, "stalled before the budget was hit");
                    pos += consumed;
                }
                Ok(ChunkRead::Message { consumed, .. }) => pos += consumed,
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, ChunkError::ReassemblyOverBudget { limit: 2500, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn pseudo_random_input_never_panics_and_always_progresses() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let limits = ChunkLimits {
            max_chunk_size: 1 << 16,
            max_message_len: 300,
            max_chunk_streams: 4,
            max_buffered_bytes: 1000,
        };
        let mut outcomes = [0usize; 2];
        for round in 0..10_000 {
            let input = if round % 4 == 0 {
                let len = rng.below(600) as usize;
                (0..len).map(|_| rng.next() as u8).collect()
            } else {
                noisy_stream(&mut rng)
            };
            let step = 1 + rng.below(64) as usize;
            let mut reader = ChunkReader::new(limits);
            match feed(&mut reader, &input, step) {
                Ok(_) => outcomes[0] += 1,
                Err(_) => outcomes[1] += 1,
            }
            assert!(reader.slots.len() <= 4);
            assert!(reader.slots.iter().all(|s| s.payload.capacity() <= 300));
        }
        assert!(outcomes[0] > 100 && outcomes[1] > 100, "{outcomes:?}");
    }
}
