//! Cuts messages into chunks: fmt 0 first, fmt 3 continuations.
//!
//! Stateless: each message starts with a fmt 0 chunk carrying the absolute timestamp, so the
//! same bytes can go to every receiver. A timestamp at or above 0xFFFFFF travels as an
//! extended timestamp, repeated on every fmt 3 continuation chunk (as FFmpeg expects).

use super::header::{ChunkHeader, MAX_MESSAGE_LEN_FIELD, is_valid_chunk_stream_id};
use super::{ChunkError, MAX_HEADER_LEN, MAX_PROTOCOL_CHUNK_SIZE, MessageHeader};

/// Writes messages as chunks at a fixed outgoing chunk size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkWriter {
    /// Payload bytes per chunk, 1..=0x7FFFFFFF.
    chunk_size: u32,
}

impl ChunkWriter {
    /// A writer cutting payloads into chunks of `chunk_size` bytes.
    ///
    /// The size is clamped to 1..=0x7FFFFFFF, the range Set Chunk Size can announce.
    pub fn new(chunk_size: u32) -> Self {
        ChunkWriter {
            chunk_size: chunk_size.clamp(1, MAX_PROTOCOL_CHUNK_SIZE),
        }
    }

    /// The outgoing chunk size.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Bytes `write` needs for a message of `payload_len` bytes under `header`.
    pub fn encoded_len(&self, header: &MessageHeader, payload_len: usize) -> usize {
        let (first, continuation) = self.chunk_headers(header, payload_len);
        let chunk = usize::try_from(self.chunk_size).unwrap_or(usize::MAX);
        let continuations = payload_len.div_ceil(chunk).saturating_sub(1);
        first
            .emitted_len()
            .saturating_add(continuations.saturating_mul(continuation.emitted_len()))
            .saturating_add(payload_len)
    }

    /// Writes one message into `out`; returns the bytes written.
    ///
    /// Fails, writing nothing, when the chunk stream id is outside 2..=65599, the payload is
    /// longer than the 24-bit length field allows, or `out` is shorter than `encoded_len`.
    pub fn write(
        &self,
        header: &MessageHeader,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, ChunkError> {
        check_writable(header, payload.len())?;
        let needed = self.encoded_len(header, payload.len());
        let Some(out) = out.get_mut(..needed) else {
            return Err(ChunkError::OutputTooSmall {
                needed,
                available: out.len(),
            });
        };
        let mut written = 0usize;
        self.for_each_piece(header, payload, |piece| {
            let end = written + piece.len();
            if let Some(target) = out.get_mut(written..end) {
                target.copy_from_slice(piece);
            }
            written = end;
        });
        Ok(written)
    }

    /// Appends one message to `out`.
    ///
    /// A message `write` would refuse (bad chunk stream id, payload over 0xFFFFFF bytes) is a
    /// bug in the caller: nothing is appended, and debug builds panic.
    pub fn write_to_vec(&self, header: &MessageHeader, payload: &[u8], out: &mut Vec<u8>) {
        if let Err(error) = check_writable(header, payload.len()) {
            debug_assert!(false, "ChunkWriter::write_to_vec: {error}");
            return;
        }
        out.reserve(self.encoded_len(header, payload.len()));
        self.for_each_piece(header, payload, |piece| out.extend_from_slice(piece));
    }

    /// Writes the part of one message's encoding that starts `from` bytes in, as much as fits
    /// in `out`; returns the bytes written. Called again with `from` advanced by that count,
    /// it continues where it stopped, so a message can be spread over several output
    /// buffers. The whole encoding is `encoded_len` bytes long.
    ///
    /// A message `write` would refuse is a bug in the caller: nothing is written, and debug
    /// builds panic.
    pub fn write_part(
        &self,
        header: &MessageHeader,
        payload: &[u8],
        from: usize,
        out: &mut [u8],
    ) -> usize {
        let mut written = 0usize;
        self.for_each_piece_of_part(header, payload, from, out.len(), |piece| {
            if let Some(target) = out.get_mut(written..written + piece.len()) {
                target.copy_from_slice(piece);
            }
            written += piece.len();
        });
        written
    }

    /// Appends at most `max` bytes of the part of one message's encoding that starts `from`
    /// bytes in to `out`; returns the bytes appended. Like `write_part`, for a caller whose
    /// buffer is a `Vec` (nothing is zeroed first).
    pub fn append_part(
        &self,
        header: &MessageHeader,
        payload: &[u8],
        from: usize,
        max: usize,
        out: &mut Vec<u8>,
    ) -> usize {
        let before = out.len();
        self.for_each_piece_of_part(header, payload, from, max, |piece| {
            out.extend_from_slice(piece);
        });
        out.len() - before
    }

    /// Calls `f` with the pieces of the encoding's part that starts `from` bytes in and is
    /// at most `max` bytes long.
    fn for_each_piece_of_part(
        &self,
        header: &MessageHeader,
        payload: &[u8],
        from: usize,
        max: usize,
        mut f: impl FnMut(&[u8]),
    ) {
        if let Err(error) = check_writable(header, payload.len()) {
            debug_assert!(false, "ChunkWriter: {error}");
            return;
        }
        let mut pos = 0usize;
        let mut written = 0usize;
        self.for_each_piece(header, payload, |piece| {
            let end = pos + piece.len();
            if end > from && written < max {
                let skip = from.saturating_sub(pos);
                let rest = piece.get(skip..).unwrap_or_default();
                let n = rest.len().min(max - written);
                f(rest.get(..n).unwrap_or_default());
                written += n;
            }
            pos = end;
        });
    }

    /// The fmt 0 header of the first chunk and the fmt 3 header of the others.
    fn chunk_headers(
        &self,
        header: &MessageHeader,
        payload_len: usize,
    ) -> (ChunkHeader, ChunkHeader) {
        let timestamp = header.timestamp.millis();
        let first = ChunkHeader {
            fmt: 0,
            chunk_stream_id: header.chunk_stream_id,
            timestamp,
            message_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
            type_id: header.type_id,
            stream_id: header.stream_id,
            extended: timestamp >= super::EXTENDED_TIMESTAMP_MARK,
        };
        let continuation = ChunkHeader {
            fmt: 3,
            message_len: 0,
            type_id: 0,
            stream_id: 0,
            ..first
        };
        (first, continuation)
    }

    /// Hands the message's bytes to `sink` in wire order: headers and payload pieces.
    fn for_each_piece(&self, header: &MessageHeader, payload: &[u8], mut sink: impl FnMut(&[u8])) {
        let (first, continuation) = self.chunk_headers(header, payload.len());
        let mut first_bytes = [0u8; MAX_HEADER_LEN];
        let mut continuation_bytes = [0u8; MAX_HEADER_LEN];
        let first_len = first.emit(&mut first_bytes);
        let continuation_len = continuation.emit(&mut continuation_bytes);
        let chunk = usize::try_from(self.chunk_size).unwrap_or(usize::MAX);
        sink(first_bytes.get(..first_len).unwrap_or_default());
        for (index, piece) in payload.chunks(chunk).enumerate() {
            if index > 0 {
                sink(
                    continuation_bytes
                        .get(..continuation_len)
                        .unwrap_or_default(),
                );
            }
            sink(piece);
        }
    }
}

/// Checks that a message can be framed at all.
fn check_writable(header: &MessageHeader, payload_len: usize) -> Result<(), ChunkError> {
    if !is_valid_chunk_stream_id(header.chunk_stream_id) {
        return Err(ChunkError::BadChunkStreamId {
            seen: header.chunk_stream_id,
        });
    }
    let limit = usize::try_from(MAX_MESSAGE_LEN_FIELD).unwrap_or(usize::MAX);
    if payload_len > limit {
        return Err(ChunkError::MessageTooLong {
            limit: MAX_MESSAGE_LEN_FIELD,
            seen: u32::try_from(payload_len).unwrap_or(u32::MAX),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::Timestamp;

    fn header(csid: u32, timestamp: u32) -> MessageHeader {
        MessageHeader {
            chunk_stream_id: csid,
            timestamp: Timestamp(timestamp),
            type_id: 9,
            stream_id: 1,
        }
    }

    fn write_vec(writer: ChunkWriter, header: &MessageHeader, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        writer.write_to_vec(header, payload, &mut out);
        out
    }

    #[test]
    fn writes_fmt0_then_fmt3_chunks() {
        let payload: Vec<u8> = (0..10).collect();
        let bytes = write_vec(ChunkWriter::new(4), &header(4, 1000), &payload);
        let mut expected = vec![
            0x04, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x0A, 0x09, 0x01, 0x00, 0x00, 0x00,
        ];
        expected.extend_from_slice(&[0, 1, 2, 3, 0xC4, 4, 5, 6, 7, 0xC4, 8, 9]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn extended_timestamp_is_repeated_on_every_continuation() {
        let bytes = write_vec(ChunkWriter::new(2), &header(3, 0xFF_FFFF), &[1, 2, 3, 4, 5]);
        let mut expected = vec![
            0x03, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x05, 0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0xFF,
            0xFF, 0xFF,
        ];
        expected.extend_from_slice(&[1, 2]);
        expected.extend_from_slice(&[0xC3, 0x00, 0xFF, 0xFF, 0xFF, 3, 4]);
        expected.extend_from_slice(&[0xC3, 0x00, 0xFF, 0xFF, 0xFF, 5]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn timestamp_just_under_the_mark_is_not_extended() {
        let bytes = write_vec(ChunkWriter::new(128), &header(3, 0xFF_FFFE), &[7]);
        assert_eq!(bytes.len(), 12 + 1);
        assert_eq!(&bytes[1..4], &[0xFF, 0xFF, 0xFE]);
    }

    #[test]
    fn empty_payload_is_one_header() {
        let writer = ChunkWriter::new(128);
        let bytes = write_vec(writer, &header(3, 0), &[]);
        assert_eq!(bytes.len(), 12);
        assert_eq!(writer.encoded_len(&header(3, 0), 0), 12);
    }

    #[test]
    fn continuation_headers_use_the_same_basic_header_form() {
        for (csid, basic) in [
            (2u32, 1usize),
            (63, 1),
            (64, 2),
            (319, 2),
            (320, 3),
            (65_599, 3),
        ] {
            let bytes = write_vec(ChunkWriter::new(1), &header(csid, 0), &[1, 2]);
            assert_eq!(bytes.len(), basic + 11 + 1 + basic + 1, "csid {csid}");
            assert_eq!(bytes[basic + 11 + 1] >> 6, 3);
        }
    }

    #[test]
    fn encoded_len_is_exact() {
        for chunk_size in [1u32, 2, 128, 4096] {
            let writer = ChunkWriter::new(chunk_size);
            for len in [0usize, 1, 127, 128, 129, 4096, 4097, 65_536] {
                for (csid, ts) in [(3u32, 0u32), (64, 0xFF_FFFF), (7000, u32::MAX)] {
                    let head = header(csid, ts);
                    let payload = vec![0xAB; len];
                    let mut out = vec![0; writer.encoded_len(&head, len) + 3];
                    let written = writer.write(&head, &payload, &mut out).unwrap();
                    assert_eq!(written, writer.encoded_len(&head, len));
                    assert_eq!(out[..written], write_vec(writer, &head, &payload)[..]);
                }
            }
        }
    }

    #[test]
    fn output_one_byte_short_is_refused_and_exact_fits() {
        let writer = ChunkWriter::new(128);
        let head = header(3, 0);
        let payload = [0u8; 300];
        let needed = writer.encoded_len(&head, payload.len());
        assert_eq!(needed, 12 + 300 + 2);
        let mut out = vec![0u8; needed];
        assert_eq!(
            writer.write(&head, &payload, &mut out[..needed - 1]),
            Err(ChunkError::OutputTooSmall {
                needed,
                available: needed - 1
            })
        );
        assert_eq!(writer.write(&head, &payload, &mut out), Ok(needed));
    }

    #[test]
    fn unwritable_chunk_stream_ids_and_lengths_are_refused() {
        let writer = ChunkWriter::new(128);
        let mut out = vec![0u8; 64];
        for csid in [0u32, 1, 65_600] {
            assert_eq!(
                writer.write(&header(csid, 0), &[], &mut out),
                Err(ChunkError::BadChunkStreamId { seen: csid })
            );
        }
        let big = vec![0u8; 0x0100_0000];
        let mut out = vec![0u8; writer.encoded_len(&header(3, 0), big.len())];
        assert_eq!(
            writer.write(&header(3, 0), &big, &mut out),
            Err(ChunkError::MessageTooLong {
                limit: 0xFF_FFFF,
                seen: 0x0100_0000
            })
        );
        assert!(writer.write(&header(3, 0), &big[1..], &mut out).is_ok());
    }

    #[test]
    fn write_part_in_any_pieces_gives_the_whole_encoding() {
        let writer = ChunkWriter::new(128);
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        for timestamp in [40, 0x0100_0000] {
            let header = header(6, timestamp);
            let whole = write_vec(writer, &header, &payload);
            for step in [1, 7, 128, 129, 4096] {
                let mut parts = Vec::new();
                let mut out = vec![0u8; step];
                loop {
                    let n = writer.write_part(&header, &payload, parts.len(), &mut out);
                    if n == 0 {
                        break;
                    }
                    parts.extend_from_slice(&out[..n]);
                }
                assert_eq!(
                    parts, whole,
                    "pieces of {step} bytes, timestamp {timestamp}"
                );
            }
        }
    }

    #[test]
    fn append_part_in_any_pieces_gives_the_whole_encoding() {
        let writer = ChunkWriter::new(128);
        let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        for timestamp in [40, 0x0100_0000] {
            let header = header(6, timestamp);
            let whole = write_vec(writer, &header, &payload);
            for step in [1, 7, 128, 129, 4096] {
                let mut parts = vec![0xEE];
                loop {
                    let from = parts.len() - 1;
                    if writer.append_part(&header, &payload, from, step, &mut parts) == 0 {
                        break;
                    }
                }
                assert_eq!(parts[0], 0xEE, "what was there stays");
                assert_eq!(
                    parts[1..],
                    whole[..],
                    "pieces of {step} bytes, timestamp {timestamp}"
                );
            }
        }
    }

    #[test]
    fn chunk_size_is_clamped_to_the_protocol_range() {
        assert_eq!(ChunkWriter::new(0).chunk_size(), 1);
        assert_eq!(
            ChunkWriter::new(u32::MAX).chunk_size(),
            MAX_PROTOCOL_CHUNK_SIZE
        );
        assert_eq!(ChunkWriter::new(4096).chunk_size(), 4096);
    }
}
