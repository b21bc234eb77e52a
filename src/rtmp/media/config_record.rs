//! Decoder configuration records in video sequence headers: the counts and lengths of the
//! AVC and HEVC records are walked, the others are checked for their fixed length.

use super::codec::VideoCodec;
use super::error::MediaError;
use super::read::{byte_at, need, u16_at};

/// Fixed part of an AVCDecoderConfigurationRecord, up to and including numOfSequenceParameterSets.
const AVCC_FIXED_LEN: usize = 6;
/// Fixed part of an HEVCDecoderConfigurationRecord, up to and including numOfArrays.
const HVCC_FIXED_LEN: usize = 23;
/// Fixed part of an AV1CodecConfigurationRecord (marker/version, profile/level, flags, delay).
const AV1C_FIXED_LEN: usize = 4;
/// Fixed part of a VPCodecConfigurationRecord (profile, level, bit depth/chroma/range,
/// primaries, transfer, matrix, codecInitializationDataSize), for VP8 and VP9.
const VPCC_FIXED_LEN: usize = 8;
/// A VVCDecoderConfigurationRecord starts with a byte of flags; its optional parts vary, so
/// only its presence is checked.
const VVCC_MIN_LEN: usize = 1;

/// Checks the record of `codec` that starts at `start` and ends with `payload`.
pub(super) fn check(codec: VideoCodec, payload: &[u8], start: usize) -> Result<(), MediaError> {
    match codec {
        VideoCodec::Avc => check_avc_record(payload, start),
        VideoCodec::Hevc => check_hevc_record(payload, start),
        VideoCodec::Av1 => need(payload, start + AV1C_FIXED_LEN),
        VideoCodec::Vp9 | VideoCodec::Vp8 => need(payload, start + VPCC_FIXED_LEN),
        VideoCodec::Vvc => need(payload, start + VVCC_MIN_LEN),
        VideoCodec::Legacy(_) => Ok(()),
    }
}

/// Skips one u16-length-prefixed NAL unit at `at`; returns the offset after it.
fn skip_nal_unit(payload: &[u8], at: usize) -> Result<usize, MediaError> {
    let bad = MediaError::BadConfigRecord { offset: at };
    let len = u16_at(payload, at).map_err(|_| bad)?;
    let end = at + 2 + usize::from(len);
    if end > payload.len() {
        return Err(bad);
    }
    Ok(end)
}

/// AVCDecoderConfigurationRecord (ISO/IEC 14496-15, 5.3.3.1) starting at `start`.
fn check_avc_record(payload: &[u8], start: usize) -> Result<(), MediaError> {
    need(payload, start + AVCC_FIXED_LEN)?;
    if byte_at(payload, start)? != 1 {
        return Err(MediaError::BadConfigRecord { offset: start });
    }
    let mut at = start + AVCC_FIXED_LEN - 1;
    let sps_count = byte_at(payload, at)? & 0x1f;
    at += 1;
    for _ in 0..sps_count {
        at = skip_nal_unit(payload, at)?;
    }
    let pps_count = byte_at(payload, at).map_err(|_| MediaError::BadConfigRecord { offset: at })?;
    at += 1;
    for _ in 0..pps_count {
        at = skip_nal_unit(payload, at)?;
    }
    Ok(())
}

/// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15, 8.3.3.1) starting at `start`.
fn check_hevc_record(payload: &[u8], start: usize) -> Result<(), MediaError> {
    need(payload, start + HVCC_FIXED_LEN)?;
    let mut at = start + HVCC_FIXED_LEN - 1;
    let array_count = byte_at(payload, at)?;
    at += 1;
    for _ in 0..array_count {
        // One byte of completeness flag and NAL unit type, then a u16 count of NAL units.
        let unit_count =
            u16_at(payload, at + 1).map_err(|_| MediaError::BadConfigRecord { offset: at })?;
        at += 3;
        for _ in 0..unit_count {
            at = skip_nal_unit(payload, at)?;
        }
    }
    Ok(())
}
