//! Chunk basic header (1-3 bytes) and message header (fmt 0-3), parse and emit.
//!
//! `ChunkHeader` is the owned form of one chunk header (smoltcp's `Repr`): `parse` reads it
//! from the front of a byte slice without keeping or copying the slice, and `emit` writes it
//! into a caller's slice of `emitted_len()` bytes. Neither panics on any input.
//!
//! Wire layout (RTMP 1.0, section 5.3.1), all multi-byte fields big-endian except the
//! message stream id, which is little-endian:
//!
//! ```text
//! basic header   fmt:2 | csid:6                    csid 2..=63
//!                fmt:2 | 0:6 | csid-64:8           csid 64..=319
//!                fmt:2 | 1:6 | csid-64:16 (LE)     csid 64..=65599
//! message header fmt 0: timestamp:24 length:24 type:8 stream:32(LE)   11 bytes
//!                fmt 1: delta:24 length:24 type:8                      7 bytes
//!                fmt 2: delta:24                                       3 bytes
//!                fmt 3: nothing                                        0 bytes
//! extended       timestamp:32 when the 24-bit field is 0xFFFFFF
//! ```

use super::ChunkError;

/// The longest chunk header: 3-byte basic header, 11-byte fmt 0 header, 4-byte extended timestamp.
pub const MAX_HEADER_LEN: usize = 18;

/// The smallest chunk stream id; 0 and 1 are the escapes to the 2- and 3-byte basic headers.
pub const MIN_CHUNK_STREAM_ID: u32 = 2;

/// The largest chunk stream id the 3-byte basic header can carry.
pub const MAX_CHUNK_STREAM_ID: u32 = 65_599;

/// The 24-bit timestamp field value that says a 4-byte extended timestamp follows.
pub const EXTENDED_TIMESTAMP_MARK: u32 = 0x00FF_FFFF;

/// The largest message length the 24-bit length field can carry.
pub const MAX_MESSAGE_LEN_FIELD: u32 = 0x00FF_FFFF;

/// The outcome of parsing from the front of a byte slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole value was read from the first `consumed` bytes.
    Complete {
        /// The value.
        value: T,
        /// Bytes of the input it took.
        consumed: usize,
    },
    /// The input ends too early; at least `needed` bytes in total are required.
    Incomplete {
        /// A lower bound on the total input length that could complete the value.
        needed: usize,
    },
}

/// One parsed chunk header, as it appeared on the wire.
///
/// Fields a format does not carry are 0 after `parse` and ignored by `emit`. A fmt 3 header
/// never carries an extended timestamp after `parse` (whether the 4 bytes follow depends on
/// the chunk stream's history, which the reader knows); `emit` writes them for fmt 3 when
/// `extended` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkHeader {
    /// Message header format, 0-3.
    pub fmt: u8,
    /// Chunk stream id, 2..=65599.
    pub chunk_stream_id: u32,
    /// Absolute timestamp (fmt 0) or delta (fmt 1, 2), with any extended value already applied.
    pub timestamp: u32,
    /// Message length in bytes (fmt 0, 1); at most 0xFFFFFF.
    pub message_len: u32,
    /// Message type id (fmt 0, 1).
    pub type_id: u8,
    /// Message stream id (fmt 0), little-endian on the wire.
    pub stream_id: u32,
    /// The 24-bit timestamp field was 0xFFFFFF and the 4-byte extended timestamp follows.
    pub extended: bool,
}

/// Byte offsets inside the message header (after the basic header).
mod field {
    use core::ops::Range;

    /// Timestamp or delta, 24-bit big-endian (fmt 0, 1, 2).
    pub const TIMESTAMP: Range<usize> = 0..3;
    /// Message length, 24-bit big-endian (fmt 0, 1).
    pub const LENGTH: Range<usize> = 3..6;
    /// Message type id (fmt 0, 1).
    pub const TYPE_ID: usize = 6;
    /// Message stream id, 32-bit little-endian (fmt 0).
    pub const STREAM_ID: Range<usize> = 7..11;
}

/// Length of the message header for `fmt` (fmt above 3 has none: it cannot occur on the wire).
pub(crate) fn message_header_len(fmt: u8) -> usize {
    match fmt {
        0 => 11,
        1 => 7,
        2 => 3,
        _ => 0,
    }
}

/// Length of the shortest basic header that carries `chunk_stream_id`.
pub(crate) fn basic_header_len(chunk_stream_id: u32) -> usize {
    if chunk_stream_id < 64 {
        1
    } else if chunk_stream_id < 320 {
        2
    } else {
        3
    }
}

/// Whether `chunk_stream_id` can be written in a basic header.
pub fn is_valid_chunk_stream_id(chunk_stream_id: u32) -> bool {
    (MIN_CHUNK_STREAM_ID..=MAX_CHUNK_STREAM_ID).contains(&chunk_stream_id)
}

/// Reads a 24-bit big-endian value from a 3-byte slice (0 if the slice is not 3 bytes).
fn be24(bytes: &[u8]) -> u32 {
    match *bytes {
        [a, b, c] => u32::from_be_bytes([0, a, b, c]),
        _ => 0,
    }
}

/// Parses the basic header: (fmt, chunk stream id, bytes used).
fn parse_basic(buf: &[u8]) -> Parsed<(u8, u32)> {
    let Some(&first) = buf.first() else {
        return Parsed::Incomplete { needed: 1 };
    };
    let fmt = first >> 6;
    match first & 0x3F {
        0 => match buf.get(1) {
            Some(&low) => Parsed::Complete {
                value: (fmt, 64 + u32::from(low)),
                consumed: 2,
            },
            None => Parsed::Incomplete { needed: 2 },
        },
        1 => match buf.get(1..3) {
            Some(&[low, high]) => Parsed::Complete {
                value: (fmt, 64 + u32::from(u16::from_le_bytes([low, high]))),
                consumed: 3,
            },
            _ => Parsed::Incomplete { needed: 3 },
        },
        csid => Parsed::Complete {
            value: (fmt, u32::from(csid)),
            consumed: 1,
        },
    }
}

impl ChunkHeader {
    /// Parses one chunk header from the front of `buf`; never fails today (every byte pattern
    /// is a header), the `Result` keeps the layer's parse signature uniform.
    pub fn parse(buf: &[u8]) -> Result<Parsed<ChunkHeader>, ChunkError> {
        let (fmt, chunk_stream_id, basic_len) = match parse_basic(buf) {
            Parsed::Complete {
                value: (fmt, csid),
                consumed,
            } => (fmt, csid, consumed),
            Parsed::Incomplete { needed } => {
                // Every chunk header has at least the basic header plus, for fmt 0, 11 bytes;
                // we only know the basic header's own length here.
                return Ok(Parsed::Incomplete { needed });
            }
        };
        let header_end = basic_len + message_header_len(fmt);
        let Some(message_header) = buf.get(basic_len..header_end) else {
            return Ok(Parsed::Incomplete { needed: header_end });
        };
        let mut header = ChunkHeader {
            fmt,
            chunk_stream_id,
            ..ChunkHeader::default()
        };
        if fmt <= 2 {
            header.timestamp = message_header.get(field::TIMESTAMP).map_or(0, be24);
        }
        if fmt <= 1 {
            header.message_len = message_header.get(field::LENGTH).map_or(0, be24);
            header.type_id = message_header.get(field::TYPE_ID).copied().unwrap_or(0);
        }
        if fmt == 0 {
            if let Some(&[a, b, c, d]) = message_header.get(field::STREAM_ID) {
                header.stream_id = u32::from_le_bytes([a, b, c, d]);
            }
        }
        if fmt <= 2 && header.timestamp == EXTENDED_TIMESTAMP_MARK {
            let end = header_end + 4;
            let Some(&[a, b, c, d]) = buf.get(header_end..end) else {
                return Ok(Parsed::Incomplete { needed: end });
            };
            header.timestamp = u32::from_be_bytes([a, b, c, d]);
            header.extended = true;
            return Ok(Parsed::Complete {
                value: header,
                consumed: end,
            });
        }
        Ok(Parsed::Complete {
            value: header,
            consumed: header_end,
        })
    }

    /// Whether `emit` writes the 4-byte extended timestamp for this header.
    ///
    /// For fmt 0-2 that is when `extended` is set or the timestamp does not fit in 24 bits;
    /// for fmt 3 only when `extended` is set.
    pub fn writes_extended(&self) -> bool {
        match self.fmt {
            0..=2 => self.extended || self.timestamp >= EXTENDED_TIMESTAMP_MARK,
            _ => self.extended,
        }
    }

    /// Bytes `emit` writes for this header.
    pub fn emitted_len(&self) -> usize {
        basic_header_len(self.chunk_stream_id)
            + message_header_len(self.fmt)
            + if self.writes_extended() { 4 } else { 0 }
    }

    /// Writes this header into the front of `out` and returns the bytes written.
    ///
    /// Writes nothing and returns 0 when `out` is shorter than `emitted_len()`, `fmt` is
    /// above 3, the chunk stream id is outside 2..=65599, or (fmt 0, 1) the message length
    /// does not fit in 24 bits.
    pub fn emit(&self, out: &mut [u8]) -> usize {
        let len = self.emitted_len();
        if self.fmt > 3
            || !is_valid_chunk_stream_id(self.chunk_stream_id)
            || (self.fmt <= 1 && self.message_len > MAX_MESSAGE_LEN_FIELD)
        {
            return 0;
        }
        let Some(out) = out.get_mut(..len) else {
            return 0;
        };
        let fmt_bits = self.fmt << 6;
        let basic_len = basic_header_len(self.chunk_stream_id);
        let (basic, rest) = out.split_at_mut(basic_len);
        let id = self.chunk_stream_id;
        match basic {
            [only] => *only = fmt_bits | (id as u8),
            [first, low] => {
                *first = fmt_bits;
                *low = (id - 64) as u8;
            }
            [first, low, high] => {
                let [l, h] = ((id - 64) as u16).to_le_bytes();
                *first = fmt_bits | 1;
                *low = l;
                *high = h;
            }
            _ => return 0,
        }
        let extended = self.writes_extended();
        let timestamp_field = if extended {
            EXTENDED_TIMESTAMP_MARK
        } else {
            self.timestamp
        };
        let (message_header, extended_bytes) = rest.split_at_mut(message_header_len(self.fmt));
        if self.fmt <= 2 {
            put_be24(message_header, field::TIMESTAMP, timestamp_field);
        }
        if self.fmt <= 1 {
            put_be24(message_header, field::LENGTH, self.message_len);
            if let Some(byte) = message_header.get_mut(field::TYPE_ID) {
                *byte = self.type_id;
            }
        }
        if self.fmt == 0 {
            if let Some(bytes) = message_header.get_mut(field::STREAM_ID) {
                bytes.copy_from_slice(&self.stream_id.to_le_bytes());
            }
        }
        if extended {
            if let Some(bytes) = extended_bytes.get_mut(..4) {
                bytes.copy_from_slice(&self.timestamp.to_be_bytes());
            }
        }
        len
    }
}

/// Writes the low 24 bits of `value` big-endian into `out[range]` (if it is 3 bytes).
fn put_be24(out: &mut [u8], range: core::ops::Range<usize>, value: u32) {
    let [_, a, b, c] = value.to_be_bytes();
    if let Some(bytes) = out.get_mut(range) {
        if bytes.len() == 3 {
            bytes.copy_from_slice(&[a, b, c]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_complete(buf: &[u8]) -> (ChunkHeader, usize) {
        match ChunkHeader::parse(buf) {
            Ok(Parsed::Complete { value, consumed }) => (value, consumed),
            other => panic!("expected a complete header, got {other:?}"),
        }
    }

    fn emit_vec(header: &ChunkHeader) -> Vec<u8> {
        let mut out = [0u8; MAX_HEADER_LEN];
        let len = header.emit(&mut out);
        assert_eq!(len, header.emitted_len(), "emit wrote a different length");
        out[..len].to_vec()
    }

    /// fmt 0 on csid 3, timestamp 1000, length 32, type 20 (command), stream 1.
    const FMT0_CSID3: [u8; 12] = [
        0x03, 0x00, 0x03, 0xE8, 0x00, 0x00, 0x20, 0x14, 0x01, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn parses_fmt0_header_with_one_byte_basic_header() {
        let (header, consumed) = parse_complete(&FMT0_CSID3);
        assert_eq!(consumed, 12);
        assert_eq!(
            header,
            ChunkHeader {
                fmt: 0,
                chunk_stream_id: 3,
                timestamp: 1000,
                message_len: 32,
                type_id: 20,
                stream_id: 1,
                extended: false,
            }
        );
    }

    #[test]
    fn message_stream_id_is_little_endian() {
        let bytes = [
            0x03, 0, 0, 0, 0, 0, 0, 0x09, 0x01, 0x02, 0x03, 0x04, // stream 0x04030201
        ];
        assert_eq!(parse_complete(&bytes).0.stream_id, 0x0403_0201);
    }

    #[test]
    fn parses_fmt1_header_with_delta_length_and_type() {
        let bytes = [0x44, 0x00, 0x00, 0x21, 0x00, 0x01, 0x00, 0x09];
        let (header, consumed) = parse_complete(&bytes);
        assert_eq!(consumed, 8);
        assert_eq!(
            header,
            ChunkHeader {
                fmt: 1,
                chunk_stream_id: 4,
                timestamp: 33,
                message_len: 256,
                type_id: 9,
                ..ChunkHeader::default()
            }
        );
    }

    #[test]
    fn parses_fmt2_header_with_delta_only() {
        let bytes = [0x84, 0x00, 0x00, 0x28];
        let (header, consumed) = parse_complete(&bytes);
        assert_eq!(consumed, 4);
        assert_eq!(
            (header.fmt, header.chunk_stream_id, header.timestamp),
            (2, 4, 40)
        );
        assert_eq!(
            (header.message_len, header.type_id, header.stream_id),
            (0, 0, 0)
        );
    }

    #[test]
    fn parses_fmt3_header_as_basic_header_only() {
        let (header, consumed) = parse_complete(&[0xC4, 0xFF, 0xFF]);
        assert_eq!(consumed, 1);
        assert_eq!(
            header,
            ChunkHeader {
                fmt: 3,
                chunk_stream_id: 4,
                ..ChunkHeader::default()
            }
        );
    }

    #[test]
    fn parses_chunk_stream_id_2_reserved_for_control() {
        assert_eq!(parse_complete(&[0xC2]).0.chunk_stream_id, 2);
    }

    #[test]
    fn parses_every_basic_header_form_at_its_edges() {
        let cases: [(&[u8], u32, usize); 8] = [
            (&[0xC2], 2, 1),
            (&[0xC3], 3, 1),
            (&[0xFF], 63, 1),
            (&[0xC0, 0x00], 64, 2),
            (&[0xC0, 0xFF], 319, 2),
            (&[0xC1, 0x00, 0x01], 320, 3),
            (&[0xC1, 0xFF, 0xFF], 65_599, 3),
            (&[0xC1, 0x00, 0x00], 64, 3),
        ];
        for (bytes, csid, len) in cases {
            let (header, consumed) = parse_complete(bytes);
            assert_eq!(
                (header.chunk_stream_id, consumed),
                (csid, len),
                "{bytes:02x?}"
            );
        }
    }

    #[test]
    fn emits_the_shortest_basic_header_for_each_chunk_stream_id() {
        let cases: [(u32, &[u8]); 7] = [
            (2, &[0xC2]),
            (3, &[0xC3]),
            (63, &[0xFF]),
            (64, &[0xC0, 0x00]),
            (319, &[0xC0, 0xFF]),
            (320, &[0xC1, 0x00, 0x01]),
            (65_599, &[0xC1, 0xFF, 0xFF]),
        ];
        for (csid, bytes) in cases {
            let header = ChunkHeader {
                fmt: 3,
                chunk_stream_id: csid,
                ..ChunkHeader::default()
            };
            assert_eq!(emit_vec(&header), bytes, "csid {csid}");
        }
    }

    #[test]
    fn parses_fmt0_extended_timestamp() {
        let bytes = [
            0x03, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x01, 0x08, 0x01, 0x00, 0x00, 0x00, 0x01, 0x02,
            0x03, 0x04,
        ];
        let (header, consumed) = parse_complete(&bytes);
        assert_eq!(consumed, 16);
        assert!(header.extended);
        assert_eq!(header.timestamp, 0x0102_0304);
    }

    #[test]
    fn parses_fmt1_extended_delta() {
        let bytes = [
            0x45, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x05, 0x09, 0x01, 0x00, 0x00, 0x00,
        ];
        let (header, consumed) = parse_complete(&bytes);
        assert_eq!(consumed, 12);
        assert!(header.extended);
        assert_eq!(header.timestamp, 0x0100_0000);
    }

    #[test]
    fn extended_value_below_the_mark_is_kept_as_sent() {
        let bytes = [0x86, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x10];
        let (header, _) = parse_complete(&bytes);
        assert!(header.extended);
        assert_eq!(header.timestamp, 16);
        assert_eq!(emit_vec(&header), bytes);
    }

    #[test]
    fn every_short_prefix_is_incomplete_with_a_growing_need() {
        let extended = [
            0x41, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x05, 0x09, 0x01, 0x00, 0x00, 0x00,
        ];
        for full in [&FMT0_CSID3[..], &extended[..]] {
            let (_, len) = parse_complete(full);
            assert_eq!(len, full.len());
            for cut in 0..len {
                match ChunkHeader::parse(&full[..cut]) {
                    Ok(Parsed::Incomplete { needed }) => {
                        assert!(needed > cut && needed <= len, "cut {cut} needed {needed}")
                    }
                    other => panic!("cut {cut}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn emit_then_parse_round_trips_every_format_and_form() {
        for fmt in 0..=2u8 {
            for csid in [2, 3, 63, 64, 319, 320, 65_599] {
                for timestamp in [0, 1, 0xFF_FFFE, 0xFF_FFFF, 0x0100_0000, u32::MAX] {
                    let mut header = ChunkHeader {
                        fmt,
                        chunk_stream_id: csid,
                        timestamp,
                        extended: timestamp >= EXTENDED_TIMESTAMP_MARK,
                        ..ChunkHeader::default()
                    };
                    if fmt <= 1 {
                        header.message_len = 0xFF_FFFF;
                        header.type_id = 9;
                    }
                    if fmt == 0 {
                        header.stream_id = 0xDEAD_BEEF;
                    }
                    let bytes = emit_vec(&header);
                    assert_eq!(parse_complete(&bytes), (header, bytes.len()));
                }
            }
        }
    }

    #[test]
    fn fmt3_header_emits_extended_timestamp_only_when_flagged() {
        let mut header = ChunkHeader {
            fmt: 3,
            chunk_stream_id: 6,
            timestamp: 0x0100_0000,
            ..ChunkHeader::default()
        };
        assert_eq!(emit_vec(&header), [0xC6]);
        header.extended = true;
        assert_eq!(emit_vec(&header), [0xC6, 0x01, 0x00, 0x00, 0x00]);
    }

    #[test]
    fn emit_refuses_short_output_and_unwritable_fields() {
        let header = parse_complete(&FMT0_CSID3).0;
        let mut out = [0u8; 11];
        assert_eq!(header.emit(&mut out), 0);
        assert_eq!(out, [0u8; 11]);
        let mut out = [0u8; MAX_HEADER_LEN];
        for bad in [
            ChunkHeader {
                chunk_stream_id: 1,
                ..header
            },
            ChunkHeader {
                chunk_stream_id: 65_600,
                ..header
            },
            ChunkHeader { fmt: 4, ..header },
            ChunkHeader {
                message_len: 0x0100_0000,
                ..header
            },
        ] {
            assert_eq!(bad.emit(&mut out), 0, "{bad:?}");
        }
    }

    #[test]
    fn longest_header_is_max_header_len() {
        let header = ChunkHeader {
            fmt: 0,
            chunk_stream_id: 65_599,
            timestamp: u32::MAX,
            ..ChunkHeader::default()
        };
        assert_eq!(header.emitted_len(), MAX_HEADER_LEN);
    }
}
