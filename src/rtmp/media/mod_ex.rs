//! Enhanced-RTMP ModEx blocks: packet modifiers between the first byte and the FourCC.
//!
//! ```text
//! packet type nibble = 7 (ModEx), then per block:
//!   UI8 size-1            255 means a UI16 size-1 follows (so 1..=65536 data bytes)
//!   [UI16 size-1]
//!   data[size]
//!   UB4 ModEx type | UB4 next packet type      (7 again: another block follows)
//! ModEx type 0, TimestampOffsetNano: data starts with a UI24 of nanoseconds (0..=999_999)
//! to add to the message's millisecond timestamp; the data MUST be at least 3 bytes.
//! ```
//!
//! rtmpsd never rewrites a message, so a ModEx block is passed on untouched; it is read so
//! the packet type after it (and with it the frame kind and the keyframe flag) is the right
//! one, and so the nanosecond offset can be reported. Unknown ModEx types (1..=15, reserved)
//! are skipped by their size, which is the graceful path the specification allows.

use super::error::MediaError;
use super::read::{byte_at, u16_at, u24_at};

/// The packet-type value (audio and video alike) that announces a ModEx block.
pub(super) const PACKET_TYPE_MOD_EX: u8 = 7;
/// ModEx type 0: TimestampOffsetNano.
const MOD_EX_TIMESTAMP_OFFSET_NANO: u8 = 0;
/// Bytes of TimestampOffsetNano's UI24.
const NANO_OFFSET_LEN: usize = 3;

/// What a chain of ModEx blocks led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ModExChain {
    /// Offset of the first byte after the chain.
    pub(super) end: usize,
    /// The packet type the last block announced.
    pub(super) packet_type: u8,
    /// The last TimestampOffsetNano in the chain, in nanoseconds.
    pub(super) nano_offset: Option<u32>,
}

/// Reads every ModEx block from `at` while `packet_type` says one follows.
///
/// Each block consumes at least two bytes, so a chain is bounded by the payload length.
pub(super) fn read_chain(
    payload: &[u8],
    mut at: usize,
    mut packet_type: u8,
) -> Result<ModExChain, MediaError> {
    let mut nano_offset = None;
    while packet_type == PACKET_TYPE_MOD_EX {
        let short = byte_at(payload, at)?;
        let (data_len, data_start) = if short == u8::MAX {
            (usize::from(u16_at(payload, at + 1)?) + 1, at + 3)
        } else {
            (usize::from(short) + 1, at + 1)
        };
        let next = data_start + data_len;
        let type_byte = byte_at(payload, next)?;
        if type_byte >> 4 == MOD_EX_TIMESTAMP_OFFSET_NANO {
            if data_len < NANO_OFFSET_LEN {
                return Err(MediaError::ModExTooShort {
                    needed: NANO_OFFSET_LEN,
                    seen: data_len,
                });
            }
            nano_offset = Some(u24_at(payload, data_start)?);
        }
        packet_type = type_byte & 0x0f;
        at = next + 1;
    }
    Ok(ModExChain {
        end: at,
        packet_type,
        nano_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_timestamp_offset_nano_and_the_packet_type_after_it() {
        // Size-1 = 2: three data bytes 0x0f4240 = 1_000_000, then type 0 / packet type 3.
        let bytes = [0x97, 0x02, 0x0f, 0x42, 0x3f, 0x03, b'h'];
        assert_eq!(
            read_chain(&bytes, 1, PACKET_TYPE_MOD_EX),
            Ok(ModExChain {
                end: 6,
                packet_type: 3,
                nano_offset: Some(999_999)
            })
        );
    }

    #[test]
    fn a_sixteen_bit_size_carries_up_to_65536_bytes() {
        let mut bytes = vec![0x97, 0xff, 0xff, 0xff];
        bytes.extend_from_slice(&[0u8; 65536]);
        bytes.push(0x01);
        let chain = read_chain(&bytes, 1, PACKET_TYPE_MOD_EX).unwrap();
        assert_eq!(chain.end, 4 + 65536 + 1);
        assert_eq!(chain.packet_type, 1);
        assert_eq!(chain.nano_offset, Some(0));
        // One byte short of the data is TooShort, naming the type byte's position.
        bytes.truncate(4 + 65535);
        assert_eq!(
            read_chain(&bytes, 1, PACKET_TYPE_MOD_EX),
            Err(MediaError::TooShort {
                needed: 4 + 65536 + 1,
                seen: 4 + 65535
            })
        );
    }

    #[test]
    fn chains_blocks_and_keeps_the_last_offset() {
        // Nano 1, then an unknown ModEx type 5 of one byte, then nano 2, then CodedFrames.
        let bytes = [
            0x97, 0x02, 0, 0, 1, 0x07, 0x00, 0xaa, 0x57, 0x02, 0, 0, 2, 0x01,
        ];
        assert_eq!(
            read_chain(&bytes, 1, PACKET_TYPE_MOD_EX),
            Ok(ModExChain {
                end: 14,
                packet_type: 1,
                nano_offset: Some(2)
            })
        );
    }

    #[test]
    fn an_unknown_mod_ex_type_is_skipped_whatever_its_size() {
        let bytes = [0x97, 0x00, 0x42, 0xf0];
        assert_eq!(
            read_chain(&bytes, 1, PACKET_TYPE_MOD_EX),
            Ok(ModExChain {
                end: 4,
                packet_type: 0,
                nano_offset: None
            })
        );
    }

    #[test]
    fn a_nano_offset_shorter_than_three_bytes_is_refused() {
        for (size_byte, seen) in [(0u8, 1usize), (1, 2)] {
            let mut bytes = vec![0x97, size_byte];
            bytes.extend(std::iter::repeat_n(0u8, seen));
            bytes.push(0x01);
            assert_eq!(
                read_chain(&bytes, 1, PACKET_TYPE_MOD_EX),
                Err(MediaError::ModExTooShort { needed: 3, seen })
            );
        }
    }

    #[test]
    fn no_mod_ex_is_an_empty_chain() {
        assert_eq!(
            read_chain(&[0x91], 1, 1),
            Ok(ModExChain {
                end: 1,
                packet_type: 1,
                nano_offset: None
            })
        );
    }

    #[test]
    fn every_truncation_is_too_short() {
        let bytes = [0x97, 0x02, 0, 0, 1, 0x07, 0x00, 0xaa, 0x51];
        assert!(read_chain(&bytes, 1, PACKET_TYPE_MOD_EX).is_ok());
        for cut in 1..bytes.len() {
            assert!(
                matches!(
                    read_chain(&bytes[..cut], 1, PACKET_TYPE_MOD_EX),
                    Err(MediaError::TooShort { .. })
                ),
                "cut at {cut}"
            );
        }
    }
}
