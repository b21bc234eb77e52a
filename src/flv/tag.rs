//! The 11-byte FLV tag header and the 4-byte `previous tag size` after each tag.

use super::{FlvError, Parsed};

/// Length of a tag header.
pub const TAG_HEADER_LEN: usize = 11;
/// Length of the `previous tag size` field after each tag's body.
pub const TAG_TRAILER_LEN: usize = 4;
/// Largest tag body: the size field has 24 bits.
pub const MAX_DATA_SIZE: u32 = 0x00FF_FFFF;

/// Byte offsets inside a tag header.
mod field {
    use core::ops::Range;

    /// Reserved:2, filter:1, tag type:5.
    pub const TYPE: usize = 0;
    /// Body size, 24-bit.
    pub const DATA_SIZE: Range<usize> = 1..4;
    /// Low 24 bits of the timestamp in milliseconds.
    pub const TIMESTAMP: Range<usize> = 4..7;
    /// High 8 bits of the timestamp.
    pub const TIMESTAMP_EXTENDED: usize = 7;
    /// Stream id, 24-bit, always 0.
    pub const STREAM_ID: Range<usize> = 8..11;
}

const FILTER_BIT: u8 = 0x20;

/// What a tag carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagType {
    /// An audio message body.
    Audio = 8,
    /// A video message body.
    Video = 9,
    /// An AMF0 data message body (`onMetaData`, cue points, text).
    Script = 18,
}

/// One tag header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagHeader {
    /// What the body is.
    pub tag_type: TagType,
    /// Body length in bytes, at most `MAX_DATA_SIZE`.
    pub data_size: u32,
    /// Milliseconds, all 32 bits (24 in the timestamp field, 8 in the extension).
    pub timestamp: u32,
}

/// Reads a 24-bit big-endian value from a 3-byte slice (0 if the slice is not 3 bytes).
fn be24(bytes: &[u8]) -> u32 {
    match *bytes {
        [a, b, c] => u32::from_be_bytes([0, a, b, c]),
        _ => 0,
    }
}

/// The `previous tag size` written after a tag with a body of `data_size` bytes.
pub fn trailer(data_size: u32) -> [u8; TAG_TRAILER_LEN] {
    (data_size + TAG_HEADER_LEN as u32).to_be_bytes()
}

impl TagHeader {
    /// A header for a body of `data_size` bytes; refused when the size field cannot carry it.
    pub fn new(tag_type: TagType, data_size: usize, timestamp: u32) -> Result<Self, FlvError> {
        match u32::try_from(data_size) {
            Ok(size) if size <= MAX_DATA_SIZE => Ok(TagHeader {
                tag_type,
                data_size: size,
                timestamp,
            }),
            _ => Err(FlvError::DataTooLong {
                limit: MAX_DATA_SIZE,
                seen: data_size,
            }),
        }
    }

    /// Header, body and trailer: the bytes this tag takes in a file.
    pub fn total_len(&self) -> u64 {
        TAG_HEADER_LEN as u64 + u64::from(self.data_size) + TAG_TRAILER_LEN as u64
    }

    /// The `previous tag size` that must follow this tag's body.
    pub fn trailer(&self) -> [u8; TAG_TRAILER_LEN] {
        trailer(self.data_size)
    }

    /// Writes the header.
    pub fn emit(&self, out: &mut [u8; TAG_HEADER_LEN]) {
        out[field::TYPE] = self.tag_type as u8;
        out[field::DATA_SIZE].copy_from_slice(&self.data_size.to_be_bytes()[1..]);
        let ts = self.timestamp.to_be_bytes();
        out[field::TIMESTAMP].copy_from_slice(&ts[1..]);
        out[field::TIMESTAMP_EXTENDED] = ts[0];
        out[field::STREAM_ID].copy_from_slice(&[0; 3]);
    }

    /// Reads a header from the front of `buf`.
    pub fn parse(buf: &[u8]) -> Result<Parsed<TagHeader>, FlvError> {
        let Some(header) = buf.get(..TAG_HEADER_LEN) else {
            return Ok(Parsed::Incomplete {
                needed: TAG_HEADER_LEN,
            });
        };
        let type_byte = header[field::TYPE];
        if type_byte & FILTER_BIT != 0 {
            return Err(FlvError::Filtered);
        }
        let tag_type = match type_byte {
            8 => TagType::Audio,
            9 => TagType::Video,
            18 => TagType::Script,
            seen => return Err(FlvError::UnknownTagType { seen }),
        };
        let stream_id = be24(&header[field::STREAM_ID]);
        if stream_id != 0 {
            return Err(FlvError::StreamIdNotZero { seen: stream_id });
        }
        let low = be24(&header[field::TIMESTAMP]);
        let high = u32::from(header[field::TIMESTAMP_EXTENDED]);
        Ok(Parsed::Complete {
            value: TagHeader {
                tag_type,
                data_size: be24(&header[field::DATA_SIZE]),
                timestamp: high << 24 | low,
            },
            consumed: TAG_HEADER_LEN,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted(header: TagHeader) -> [u8; TAG_HEADER_LEN] {
        let mut out = [0; TAG_HEADER_LEN];
        header.emit(&mut out);
        out
    }

    fn parsed(buf: &[u8]) -> TagHeader {
        match TagHeader::parse(buf) {
            Ok(Parsed::Complete { value, consumed }) => {
                assert_eq!(consumed, TAG_HEADER_LEN);
                value
            }
            other => panic!("not a header: {other:?}"),
        }
    }

    #[test]
    fn a_video_tag_header_round_trips() {
        let header = TagHeader::new(TagType::Video, 0x01_0203, 0x0004_0506).unwrap();
        let bytes = emitted(header);
        assert_eq!(bytes, [9, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0]);
        assert_eq!(parsed(&bytes), header);
        assert_eq!(header.trailer(), (0x01_0203u32 + 11).to_be_bytes());
        assert_eq!(header.total_len(), 11 + 0x01_0203 + 4);
    }

    #[test]
    fn timestamps_past_24_bits_go_to_the_extension_byte() {
        for ts in [0x00FF_FFFE, 0x00FF_FFFF, 0x0100_0000, 0x1234_5678, u32::MAX] {
            let header = TagHeader::new(TagType::Audio, 10, ts).unwrap();
            let bytes = emitted(header);
            assert_eq!(bytes[7], (ts >> 24) as u8, "{ts:#x}");
            assert_eq!(parsed(&bytes).timestamp, ts);
        }
    }

    #[test]
    fn body_size_stops_at_what_24_bits_carry() {
        assert!(TagHeader::new(TagType::Script, MAX_DATA_SIZE as usize - 1, 0).is_ok());
        assert!(TagHeader::new(TagType::Script, MAX_DATA_SIZE as usize, 0).is_ok());
        assert_eq!(
            TagHeader::new(TagType::Script, MAX_DATA_SIZE as usize + 1, 0),
            Err(FlvError::DataTooLong {
                limit: MAX_DATA_SIZE,
                seen: MAX_DATA_SIZE as usize + 1
            })
        );
    }

    #[test]
    fn a_short_header_is_incomplete_at_every_length() {
        let bytes = emitted(TagHeader::new(TagType::Audio, 1, 1).unwrap());
        for len in 0..TAG_HEADER_LEN {
            assert_eq!(
                TagHeader::parse(&bytes[..len]),
                Ok(Parsed::Incomplete {
                    needed: TAG_HEADER_LEN
                })
            );
        }
    }

    #[test]
    fn unknown_types_filtered_tags_and_stream_ids_are_refused() {
        let mut bytes = emitted(TagHeader::new(TagType::Audio, 1, 1).unwrap());
        bytes[0] = 0;
        assert_eq!(
            TagHeader::parse(&bytes),
            Err(FlvError::UnknownTagType { seen: 0 })
        );
        bytes[0] = 9 | 0x20;
        assert_eq!(TagHeader::parse(&bytes), Err(FlvError::Filtered));
        bytes[0] = 9;
        bytes[10] = 1;
        assert_eq!(
            TagHeader::parse(&bytes),
            Err(FlvError::StreamIdNotZero { seen: 1 })
        );
    }
}
