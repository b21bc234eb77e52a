//! The 9-byte FLV file header and the `previous tag size 0` field after it.

use super::{FlvError, Parsed};

/// Length of the file header proper.
pub const FILE_HEADER_LEN: usize = 9;
/// Length of what comes before the first tag: the header and `previous tag size 0`.
pub const PREAMBLE_LEN: usize = FILE_HEADER_LEN + 4;
/// Largest data offset accepted when parsing (some writers pad the header; none by much).
const MAX_DATA_OFFSET: u32 = 1024;

/// Byte offsets inside the file header.
mod field {
    use core::ops::Range;

    /// `FLV`.
    pub const SIGNATURE: Range<usize> = 0..3;
    /// Version, 1.
    pub const VERSION: usize = 3;
    /// Flags: audio 0x04, video 0x01.
    pub const FLAGS: usize = 4;
    /// Offset of the first `previous tag size`, 32-bit.
    pub const DATA_OFFSET: Range<usize> = 5..9;
}

const AUDIO_FLAG: u8 = 0x04;
const VIDEO_FLAG: u8 = 0x01;

/// What the file header says the file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileHeader {
    /// Audio tags follow.
    pub audio: bool,
    /// Video tags follow.
    pub video: bool,
}

impl FileHeader {
    /// Writes the header and `previous tag size 0`.
    pub fn emit(&self, out: &mut [u8; PREAMBLE_LEN]) {
        out[field::SIGNATURE].copy_from_slice(b"FLV");
        out[field::VERSION] = 1;
        let mut flags = 0;
        if self.audio {
            flags |= AUDIO_FLAG;
        }
        if self.video {
            flags |= VIDEO_FLAG;
        }
        out[field::FLAGS] = flags;
        out[field::DATA_OFFSET].copy_from_slice(&(FILE_HEADER_LEN as u32).to_be_bytes());
        out[FILE_HEADER_LEN..].copy_from_slice(&[0; 4]);
    }

    /// Reads the header; `consumed` covers it, any padding and `previous tag size 0`.
    pub fn parse(buf: &[u8]) -> Result<Parsed<FileHeader>, FlvError> {
        let Some(header) = buf.get(..FILE_HEADER_LEN) else {
            return Ok(Parsed::Incomplete {
                needed: PREAMBLE_LEN,
            });
        };
        if &header[field::SIGNATURE] != b"FLV" {
            let mut seen = [0; 3];
            seen.copy_from_slice(&header[field::SIGNATURE]);
            return Err(FlvError::NotFlv { seen });
        }
        if header[field::VERSION] != 1 {
            return Err(FlvError::Version {
                seen: header[field::VERSION],
            });
        }
        let mut offset = [0; 4];
        offset.copy_from_slice(&header[field::DATA_OFFSET]);
        let offset = u32::from_be_bytes(offset);
        if !(FILE_HEADER_LEN as u32..=MAX_DATA_OFFSET).contains(&offset) {
            return Err(FlvError::DataOffset {
                limit: MAX_DATA_OFFSET,
                seen: offset,
            });
        }
        let consumed = offset as usize + 4;
        if buf.len() < consumed {
            return Ok(Parsed::Incomplete { needed: consumed });
        }
        let flags = header[field::FLAGS];
        Ok(Parsed::Complete {
            value: FileHeader {
                audio: flags & AUDIO_FLAG != 0,
                video: flags & VIDEO_FLAG != 0,
            },
            consumed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_with_its_flags() {
        for (audio, video, flags) in [(true, true, 5), (true, false, 4), (false, true, 1)] {
            let mut out = [0; PREAMBLE_LEN];
            FileHeader { audio, video }.emit(&mut out);
            assert_eq!(out, [b'F', b'L', b'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0]);
            assert_eq!(
                FileHeader::parse(&out),
                Ok(Parsed::Complete {
                    value: FileHeader { audio, video },
                    consumed: PREAMBLE_LEN
                })
            );
        }
    }

    #[test]
    fn a_short_header_is_incomplete_byte_by_byte() {
        let mut out = [0; PREAMBLE_LEN];
        FileHeader::default().emit(&mut out);
        for len in 0..PREAMBLE_LEN {
            assert!(
                matches!(
                    FileHeader::parse(&out[..len]),
                    Ok(Parsed::Incomplete { .. })
                ),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn foreign_files_and_bad_offsets_are_refused() {
        assert_eq!(
            FileHeader::parse(b"RIFF\x01\x05\0\0\0\x09\0\0\0\0"),
            Err(FlvError::NotFlv { seen: *b"RIF" })
        );
        assert_eq!(
            FileHeader::parse(b"FLV\x02\x05\0\0\0\x09\0\0\0\0"),
            Err(FlvError::Version { seen: 2 })
        );
        assert_eq!(
            FileHeader::parse(b"FLV\x01\x05\0\0\0\x08\0\0\0\0"),
            Err(FlvError::DataOffset {
                limit: 1024,
                seen: 8
            })
        );
        assert!(FileHeader::parse(b"FLV\x01\x05\0\0\x04\x00\0\0\0\0").is_ok());
        assert!(FileHeader::parse(b"FLV\x01\x05\0\0\x04\x01\0\0\0\0").is_err());
    }
}
