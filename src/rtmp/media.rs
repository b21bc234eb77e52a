//! Reading the first bytes of audio and video messages: codec, frame kind, sequence headers.
//!
//! Covers legacy FLV tags (AVC codec id 7, and the de-facto HEVC id 12) and enhanced RTMP
//! (Veovera: `IsExHeader` bit, FourCC `avc1`, `hvc1`, `av01`, `vp09`, and the enhanced
//! audio FourCCs). Only the headers are looked at; payloads pass through untouched.
//!
//! Contract: no function here panics or allocates, whatever the bytes; every length read from
//! the input is checked against the slice before use, and loops (ModEx chains, parameter sets)
//! consume input on each turn, so their work is bounded by the message length.

/// Video codecs rtmpsd recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// H.264 / AVC (legacy codec id 7, or FourCC `avc1`).
    Avc,
    /// H.265 / HEVC (legacy id 12, or FourCC `hvc1`).
    Hevc,
    /// AV1 (FourCC `av01`).
    Av1,
    /// VP9 (FourCC `vp09`).
    Vp9,
    /// A legacy FLV codec id rtmpsd does not inspect further (Sorenson, VP6, ...).
    Legacy(u8),
}

/// What kind of packet a video message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoPacket {
    /// Decoder configuration (AVC/HEVC/AV1/VP9 sequence header).
    SequenceHeader,
    /// Coded frames.
    Frame,
    /// End of sequence.
    EndOfSequence,
    /// Anything else (metadata, multitrack, ...), passed through.
    Other,
}

/// The header of one video message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoTag {
    /// Codec.
    pub codec: VideoCodec,
    /// Whether the frame is a keyframe (frame type 1).
    pub keyframe: bool,
    /// Packet kind.
    pub packet: VideoPacket,
    /// Whether the tag used the enhanced-RTMP header.
    pub enhanced: bool,
}

/// Audio codecs rtmpsd recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioCodec {
    /// AAC (legacy sound format 10, or FourCC `mp4a`).
    Aac,
    /// Opus (FourCC `Opus`).
    Opus,
    /// Any other legacy sound format (MP3 = 2, ...), or an enhanced FourCC not listed.
    Other(u8),
}

/// The header of one audio message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioTag {
    /// Codec.
    pub codec: AudioCodec,
    /// Whether this is the decoder configuration (AAC AudioSpecificConfig, enhanced SequenceStart).
    pub sequence_header: bool,
}

/// Why a media header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaError {
    /// The message is shorter than its header.
    TooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        seen: usize,
    },
    /// An enhanced-RTMP video FourCC that is not known.
    UnknownFourCc {
        /// The FourCC as a big-endian u32.
        fourcc: u32,
    },
    /// A decoder configuration record whose counts or lengths run past its end.
    BadConfigRecord {
        /// Offset where it went wrong.
        offset: usize,
    },
}

impl core::fmt::Display for MediaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            MediaError::TooShort { needed, seen } => {
                write!(
                    f,
                    "media header too short: needed {needed} bytes, saw {seen}"
                )
            }
            MediaError::UnknownFourCc { fourcc } => {
                f.write_str("unknown video fourcc \"")?;
                for byte in fourcc.to_be_bytes() {
                    let shown = if byte.is_ascii_graphic() || byte == b' ' {
                        char::from(byte)
                    } else {
                        '?'
                    };
                    write!(f, "{shown}")?;
                }
                write!(f, "\" ({fourcc:#010x})")
            }
            MediaError::BadConfigRecord { offset } => {
                write!(f, "bad decoder configuration record at offset {offset}")
            }
        }
    }
}

impl std::error::Error for MediaError {}

/// Legacy FLV frame type 1: a seekable frame.
const FRAME_KEY: u8 = 1;
/// Frame type 5: a video info / command frame, carrying a one-byte command instead of video.
const FRAME_COMMAND: u8 = 5;

/// Legacy FLV video codec id for H.264.
const CODEC_ID_AVC: u8 = 7;
/// De-facto legacy FLV video codec id for H.265 (not in Adobe's spec, widely deployed).
const CODEC_ID_HEVC: u8 = 12;

/// Legacy AVCPacketType / enhanced VideoPacketType 0: decoder configuration.
const AVC_SEQUENCE_HEADER: u8 = 0;
/// Legacy AVCPacketType 1: NAL units.
const AVC_NALU: u8 = 1;
/// Legacy AVCPacketType 2: end of sequence.
const AVC_END_OF_SEQUENCE: u8 = 2;

/// Bit 7 of an enhanced video tag's first byte.
const IS_EX_HEADER: u8 = 0x80;

/// Enhanced VideoPacketType values.
const VIDEO_SEQUENCE_START: u8 = 0;
const VIDEO_CODED_FRAMES: u8 = 1;
const VIDEO_SEQUENCE_END: u8 = 2;
const VIDEO_CODED_FRAMES_X: u8 = 3;
const VIDEO_METADATA: u8 = 4;
const VIDEO_MULTITRACK: u8 = 6;
const VIDEO_MOD_EX: u8 = 7;

/// Legacy sound format 9: enhanced audio (ExAudioTagHeader follows).
const SOUND_FORMAT_EX_HEADER: u8 = 9;
/// Legacy sound format 10: AAC.
const SOUND_FORMAT_AAC: u8 = 10;
/// AACPacketType 0: AudioSpecificConfig.
const AAC_SEQUENCE_HEADER: u8 = 0;

/// Enhanced AudioPacketType values.
const AUDIO_SEQUENCE_START: u8 = 0;
const AUDIO_MULTITRACK: u8 = 5;
const AUDIO_MOD_EX: u8 = 7;

const FOURCC_AVC: u32 = u32::from_be_bytes(*b"avc1");
const FOURCC_HEVC: u32 = u32::from_be_bytes(*b"hvc1");
const FOURCC_AV1: u32 = u32::from_be_bytes(*b"av01");
const FOURCC_VP9: u32 = u32::from_be_bytes(*b"vp09");
const FOURCC_AAC: u32 = u32::from_be_bytes(*b"mp4a");
const FOURCC_OPUS: u32 = u32::from_be_bytes(*b"Opus");

/// Composition time offset (SI24) carried by AVC/HEVC coded frames.
const COMPOSITION_TIME_LEN: usize = 3;

/// Fixed part of an AVCDecoderConfigurationRecord, up to and including numOfSequenceParameterSets.
const AVCC_FIXED_LEN: usize = 6;
/// Fixed part of an HEVCDecoderConfigurationRecord, up to and including numOfArrays.
const HVCC_FIXED_LEN: usize = 23;
/// Fixed part of an AV1CodecConfigurationRecord (marker/version, profile/level, flags, delay).
const AV1C_FIXED_LEN: usize = 4;
/// Fixed part of a VPCodecConfigurationRecord (profile, level, bit depth/chroma/range,
/// primaries, transfer, matrix, codecInitializationDataSize).
const VPCC_FIXED_LEN: usize = 8;

/// Fails with `TooShort` unless `payload` holds at least `needed` bytes.
fn need(payload: &[u8], needed: usize) -> Result<(), MediaError> {
    if payload.len() < needed {
        Err(MediaError::TooShort {
            needed,
            seen: payload.len(),
        })
    } else {
        Ok(())
    }
}

/// The byte at `at`, or `TooShort`.
fn byte_at(payload: &[u8], at: usize) -> Result<u8, MediaError> {
    match payload.get(at) {
        Some(&b) => Ok(b),
        None => Err(MediaError::TooShort {
            needed: at.saturating_add(1),
            seen: payload.len(),
        }),
    }
}

/// The big-endian u16 at `at`, if the payload holds it.
fn u16_at(payload: &[u8], at: usize) -> Option<u16> {
    match payload.get(at..at.checked_add(2)?) {
        Some(&[hi, lo]) => Some(u16::from_be_bytes([hi, lo])),
        _ => None,
    }
}

/// The big-endian FourCC at `at`, or `TooShort`.
fn fourcc_at(payload: &[u8], at: usize) -> Result<u32, MediaError> {
    let end = at.saturating_add(4);
    match payload.get(at..end) {
        Some(&[a, b, c, d]) => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(MediaError::TooShort {
            needed: end,
            seen: payload.len(),
        }),
    }
}

/// Skips one enhanced-RTMP ModEx block starting at `at` (just after the packet-type nibble that
/// said ModEx); returns the offset after it and the packet type it announces next.
///
/// The block is: UI8 size-1 (255 means a UI16 size-1 follows), that many bytes, then one byte
/// whose high nibble is the ModEx type and low nibble the next packet type. Each block consumes
/// at least two bytes, so a chain of them is bounded by the payload length.
fn skip_mod_ex(payload: &[u8], at: usize) -> Result<(usize, u8), MediaError> {
    let short = byte_at(payload, at)?;
    let (data_len, data_start) = if short == u8::MAX {
        let long = u16_at(payload, at + 1).ok_or(MediaError::TooShort {
            needed: at + 3,
            seen: payload.len(),
        })?;
        (usize::from(long) + 1, at + 3)
    } else {
        (usize::from(short) + 1, at + 1)
    };
    let next = data_start + data_len;
    let type_byte = byte_at(payload, next)?;
    Ok((next + 1, type_byte & 0x0f))
}

/// A video header and the offset where the codec data (e.g. the configuration record) begins.
struct VideoHeader {
    tag: VideoTag,
    body: usize,
}

/// Reads a video header, legacy or enhanced.
fn read_video(payload: &[u8]) -> Result<VideoHeader, MediaError> {
    let first = byte_at(payload, 0)?;
    if first & IS_EX_HEADER != 0 {
        read_enhanced_video(payload, first)
    } else {
        read_legacy_video(payload, first)
    }
}

/// Legacy VIDEODATA: frame type, codec id, and for AVC/HEVC the packet type and composition time.
fn read_legacy_video(payload: &[u8], first: u8) -> Result<VideoHeader, MediaError> {
    let frame_type = first >> 4;
    let codec = match first & 0x0f {
        CODEC_ID_AVC => VideoCodec::Avc,
        CODEC_ID_HEVC => VideoCodec::Hevc,
        id => VideoCodec::Legacy(id),
    };
    let keyframe = frame_type == FRAME_KEY;
    let tag = |packet| VideoTag {
        codec,
        keyframe,
        packet,
        enhanced: false,
    };
    if !matches!(codec, VideoCodec::Avc | VideoCodec::Hevc) {
        let packet = if frame_type == FRAME_COMMAND {
            VideoPacket::Other
        } else {
            VideoPacket::Frame
        };
        return Ok(VideoHeader {
            tag: tag(packet),
            body: 1,
        });
    }
    let packet_type = byte_at(payload, 1)?;
    if frame_type == FRAME_COMMAND {
        return Ok(VideoHeader {
            tag: tag(VideoPacket::Other),
            body: 2,
        });
    }
    let packet = match packet_type {
        AVC_SEQUENCE_HEADER => VideoPacket::SequenceHeader,
        AVC_NALU => VideoPacket::Frame,
        AVC_END_OF_SEQUENCE => VideoPacket::EndOfSequence,
        _ => VideoPacket::Other,
    };
    let body = 2 + COMPOSITION_TIME_LEN;
    if matches!(packet, VideoPacket::SequenceHeader | VideoPacket::Frame) {
        need(payload, body)?;
    }
    Ok(VideoHeader {
        tag: tag(packet),
        body,
    })
}

/// Enhanced RTMP ExVideoTagHeader: ModEx chain, command frames, multitrack, FourCC.
fn read_enhanced_video(payload: &[u8], first: u8) -> Result<VideoHeader, MediaError> {
    let frame_type = (first >> 4) & 0x07;
    let mut packet_type = first & 0x0f;
    let mut at = 1;
    while packet_type == VIDEO_MOD_EX {
        (at, packet_type) = skip_mod_ex(payload, at)?;
    }

    if frame_type == FRAME_COMMAND && packet_type != VIDEO_METADATA {
        // A command frame has a UI8 command and no FourCC, so it names no codec.
        byte_at(payload, at)?;
        return Ok(VideoHeader {
            tag: VideoTag {
                codec: VideoCodec::Legacy(0),
                keyframe: false,
                packet: VideoPacket::Other,
                enhanced: true,
            },
            body: at + 1,
        });
    }

    let multitrack = packet_type == VIDEO_MULTITRACK;
    if multitrack {
        // High nibble: AvMultitrackType, low nibble: the tracks' packet type. For every
        // multitrack type the first FourCC comes next: in the header for one-codec types,
        // as the first track's own FourCC for ManyTracksManyCodecs.
        byte_at(payload, at)?;
        at += 1;
    }
    let fourcc = fourcc_at(payload, at)?;
    at += 4;
    let codec = match fourcc {
        FOURCC_AVC => VideoCodec::Avc,
        FOURCC_HEVC => VideoCodec::Hevc,
        FOURCC_AV1 => VideoCodec::Av1,
        FOURCC_VP9 => VideoCodec::Vp9,
        _ => return Err(MediaError::UnknownFourCc { fourcc }),
    };

    let packet = if multitrack {
        VideoPacket::Other
    } else {
        match packet_type {
            VIDEO_SEQUENCE_START => VideoPacket::SequenceHeader,
            VIDEO_CODED_FRAMES | VIDEO_CODED_FRAMES_X => VideoPacket::Frame,
            VIDEO_SEQUENCE_END => VideoPacket::EndOfSequence,
            _ => VideoPacket::Other,
        }
    };
    if !multitrack
        && packet_type == VIDEO_CODED_FRAMES
        && matches!(codec, VideoCodec::Avc | VideoCodec::Hevc)
    {
        at += COMPOSITION_TIME_LEN;
        need(payload, at)?;
    }
    Ok(VideoHeader {
        tag: VideoTag {
            codec,
            keyframe: frame_type == FRAME_KEY && packet_type != VIDEO_METADATA,
            packet,
            enhanced: true,
        },
        body: at,
    })
}

/// Reads the header of a video message payload.
///
/// Legacy tags need 1 byte (2 for AVC/HEVC, 5 for their sequence headers and frames, which
/// carry a composition time); enhanced tags need the first byte, any ModEx blocks, and the
/// FourCC (5 bytes without ModEx), plus 3 for `avc1`/`hvc1` CodedFrames. `keyframe` is frame
/// type 1 only. Command frames (frame type 5) are `Other`; an enhanced one carries no FourCC
/// and reports `Legacy(0)`. ModEx blocks are skipped and the packet type they lead to is
/// reported. Metadata, MPEG-2 TS sequence starts, reserved packet types and every multitrack
/// message are `Other`; a multitrack message reports its first track's codec. FourCCs other
/// than `avc1`, `hvc1`, `av01` and `vp09` (including `vp08` and `vvc1`) are `UnknownFourCc`.
pub fn inspect_video(payload: &[u8]) -> Result<VideoTag, MediaError> {
    read_video(payload).map(|header| header.tag)
}

/// Reads the header of an audio message payload.
///
/// Legacy AAC needs 2 bytes (AACPacketType 0 is the sequence header), other legacy formats 1.
/// Enhanced audio (sound format 9) needs the first byte, any ModEx blocks and the FourCC:
/// `mp4a` is `Aac`, `Opus` is `Opus`, any other FourCC is `Other(9)`. Only a single-track
/// SequenceStart is a sequence header; multitrack messages never are.
pub fn inspect_audio(payload: &[u8]) -> Result<AudioTag, MediaError> {
    let first = byte_at(payload, 0)?;
    let sound_format = first >> 4;
    match sound_format {
        SOUND_FORMAT_AAC => Ok(AudioTag {
            codec: AudioCodec::Aac,
            sequence_header: byte_at(payload, 1)? == AAC_SEQUENCE_HEADER,
        }),
        SOUND_FORMAT_EX_HEADER => inspect_enhanced_audio(payload, first),
        other => Ok(AudioTag {
            codec: AudioCodec::Other(other),
            sequence_header: false,
        }),
    }
}

/// Enhanced RTMP ExAudioTagHeader: ModEx chain, multitrack, FourCC.
fn inspect_enhanced_audio(payload: &[u8], first: u8) -> Result<AudioTag, MediaError> {
    let mut packet_type = first & 0x0f;
    let mut at = 1;
    while packet_type == AUDIO_MOD_EX {
        (at, packet_type) = skip_mod_ex(payload, at)?;
    }
    let multitrack = packet_type == AUDIO_MULTITRACK;
    if multitrack {
        // As for video, the first FourCC follows the multitrack byte for every multitrack type.
        byte_at(payload, at)?;
        at += 1;
    }
    let codec = match fourcc_at(payload, at)? {
        FOURCC_AAC => AudioCodec::Aac,
        FOURCC_OPUS => AudioCodec::Opus,
        _ => AudioCodec::Other(SOUND_FORMAT_EX_HEADER),
    };
    Ok(AudioTag {
        codec,
        sequence_header: !multitrack && packet_type == AUDIO_SEQUENCE_START,
    })
}

/// Checks an AVC or HEVC sequence-header message: its configuration record's counts and lengths
/// must stay inside the payload.
///
/// `tag` is what [`inspect_video`] returned for `payload`; anything but a sequence header is
/// `Ok`. The header is read again to find where the record starts. A record shorter than its
/// fixed part is `TooShort`; a bad version (AVC) or a count or length that runs past the end is
/// `BadConfigRecord` with the offset (from the start of `payload`) of the field at fault.
/// Bytes after the last parameter set are allowed. AV1 and VP9 records are checked for their
/// fixed length only (4 and 8 bytes).
pub fn validate_sequence_header(tag: &VideoTag, payload: &[u8]) -> Result<(), MediaError> {
    if tag.packet != VideoPacket::SequenceHeader {
        return Ok(());
    }
    let header = read_video(payload)?;
    if header.tag.packet != VideoPacket::SequenceHeader {
        return Ok(());
    }
    let record = header.body;
    match header.tag.codec {
        VideoCodec::Avc => check_avc_record(payload, record),
        VideoCodec::Hevc => check_hevc_record(payload, record),
        VideoCodec::Av1 => need(payload, record + AV1C_FIXED_LEN),
        VideoCodec::Vp9 => need(payload, record + VPCC_FIXED_LEN),
        VideoCodec::Legacy(_) => Ok(()),
    }
}

/// Skips one u16-length-prefixed NAL unit at `at`; returns the offset after it.
fn skip_nal_unit(payload: &[u8], at: usize) -> Result<usize, MediaError> {
    let bad = MediaError::BadConfigRecord { offset: at };
    let len = u16_at(payload, at).ok_or(bad)?;
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
    let pps_count = payload
        .get(at)
        .copied()
        .ok_or(MediaError::BadConfigRecord { offset: at })?;
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
            u16_at(payload, at + 1).ok_or(MediaError::BadConfigRecord { offset: at })?;
        at += 3;
        for _ in 0..unit_count {
            at = skip_nal_unit(payload, at)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An x264 High-profile 4.0 SPS (1280x720), as FFmpeg puts it in its avcC.
    const AVC_SPS: &[u8] = &[
        0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03,
        0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
    ];
    /// The matching PPS.
    const AVC_PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

    /// An avcC with one SPS and one PPS, without the High-profile extension bytes.
    fn avc_record() -> Vec<u8> {
        let mut record = vec![0x01, 0x64, 0x00, 0x28, 0xff, 0xe1];
        record.extend_from_slice(&(AVC_SPS.len() as u16).to_be_bytes());
        record.extend_from_slice(AVC_SPS);
        record.push(0x01);
        record.extend_from_slice(&(AVC_PPS.len() as u16).to_be_bytes());
        record.extend_from_slice(AVC_PPS);
        record
    }

    /// The legacy sequence-header message FFmpeg sends for H.264: 0x17 0x00, a zero
    /// composition time, then the avcC with High-profile extension bytes (4:2:0, 8-bit, no
    /// SPS extensions).
    fn ffmpeg_avc_sequence_header() -> Vec<u8> {
        let mut message = vec![0x17, 0x00, 0x00, 0x00, 0x00];
        message.extend_from_slice(&avc_record());
        message.extend_from_slice(&[0xfd, 0xf8, 0xf8, 0x00]);
        message
    }

    /// An hvcC: Main profile, level 3.1, 4:2:0 8-bit, 4-byte lengths, one VPS, SPS and PPS.
    fn hevc_record() -> Vec<u8> {
        let mut record = vec![
            0x01, // configurationVersion
            0x01, // profile space 0, tier 0, profile idc 1 (Main)
            0x60, 0x00, 0x00, 0x00, // profile compatibility flags
            0x90, 0x00, 0x00, 0x00, 0x00, 0x00, // constraint indicator flags
            0x5d, // level idc 93 (3.1)
            0xf0, 0x00, // min spatial segmentation
            0xfc, // parallelism type
            0xfd, // chroma format 4:2:0
            0xf8, // bit depth luma 8
            0xf8, // bit depth chroma 8
            0x00, 0x00, // average frame rate
            0x0f, // one temporal layer, nested, lengthSizeMinusOne 3
            0x03, // numOfArrays
        ];
        let vps: &[u8] = &[
            0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00,
            0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5d, 0x95, 0x98, 0x09,
        ];
        let sps: &[u8] = &[
            0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00,
            0x00, 0x03, 0x00, 0x5d, 0xa0, 0x02, 0x80, 0x80, 0x2d, 0x16, 0x59, 0x59, 0xa4, 0x93,
            0x2b, 0xc0, 0x40, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x07, 0x82,
        ];
        let pps: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40];
        for (nal_type, unit) in [(0xa0u8, vps), (0xa1, sps), (0xa2, pps)] {
            record.push(nal_type);
            record.extend_from_slice(&1u16.to_be_bytes());
            record.extend_from_slice(&(unit.len() as u16).to_be_bytes());
            record.extend_from_slice(unit);
        }
        record
    }

    /// An av1C: marker+version 1, Main profile level 4.0, 4:2:0, then a sequence header OBU.
    const AV1_RECORD: &[u8] = &[
        0x81, 0x08, 0x0c, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x24, 0xcf, 0x7f, 0x0d, 0xbf, 0xff,
        0x30, 0x08,
    ];

    /// A vpcC as FFmpeg writes it: FullBox version 1 and flags, profile 0, level 3.1, 8-bit
    /// 4:2:0, BT.709 colour, no initialization data.
    const VP9_RECORD: &[u8] = &[
        0x01, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x80, 0x01, 0x01, 0x01, 0x00, 0x00,
    ];

    /// An enhanced video message: first byte, FourCC, then `rest`.
    fn enhanced(first: u8, fourcc: &[u8; 4], rest: &[u8]) -> Vec<u8> {
        let mut message = vec![first];
        message.extend_from_slice(fourcc);
        message.extend_from_slice(rest);
        message
    }

    fn video(codec: VideoCodec, keyframe: bool, packet: VideoPacket, enhanced: bool) -> VideoTag {
        VideoTag {
            codec,
            keyframe,
            packet,
            enhanced,
        }
    }

    /// A deterministic xorshift64 generator for the no-panic tests.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
    }

    /// Runs every entry point over `payload`; only panics matter.
    fn inspect_everything(payload: &[u8]) {
        let _ = inspect_audio(payload);
        if let Ok(tag) = inspect_video(payload) {
            let _ = validate_sequence_header(&tag, payload);
        }
        let any_header = video(VideoCodec::Avc, true, VideoPacket::SequenceHeader, false);
        let _ = validate_sequence_header(&any_header, payload);
    }

    #[test]
    fn reads_ffmpeg_avc_sequence_header_and_accepts_its_record() {
        let message = ffmpeg_avc_sequence_header();
        let tag = inspect_video(&message).unwrap();
        assert_eq!(
            tag,
            video(VideoCodec::Avc, true, VideoPacket::SequenceHeader, false)
        );
        assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
    }

    #[test]
    fn reads_avc_keyframe_and_inter_frame() {
        let keyframe = [0x17, 0x01, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00, 0x01, 0x65];
        assert_eq!(
            inspect_video(&keyframe),
            Ok(video(VideoCodec::Avc, true, VideoPacket::Frame, false))
        );
        let inter = [0x27, 0x01, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00, 0x01, 0x41];
        assert_eq!(
            inspect_video(&inter),
            Ok(video(VideoCodec::Avc, false, VideoPacket::Frame, false))
        );
    }

    #[test]
    fn reads_avc_end_of_sequence_with_and_without_composition_time() {
        let eos = video(VideoCodec::Avc, true, VideoPacket::EndOfSequence, false);
        assert_eq!(inspect_video(&[0x17, 0x02, 0x00, 0x00, 0x00]), Ok(eos));
        assert_eq!(inspect_video(&[0x17, 0x02]), Ok(eos));
    }

    #[test]
    fn frames_and_sequence_headers_need_their_composition_time() {
        for packet_type in [0x00, 0x01] {
            assert_eq!(
                inspect_video(&[0x17, packet_type, 0x00, 0x00]),
                Err(MediaError::TooShort { needed: 5, seen: 4 })
            );
        }
    }

    #[test]
    fn reads_legacy_hevc_sequence_header_and_frames() {
        let mut message = vec![0x1c, 0x00, 0x00, 0x00, 0x00];
        message.extend_from_slice(&hevc_record());
        let tag = inspect_video(&message).unwrap();
        assert_eq!(
            tag,
            video(VideoCodec::Hevc, true, VideoPacket::SequenceHeader, false)
        );
        assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
        assert_eq!(
            inspect_video(&[0x1c, 0x01, 0x00, 0x00, 0x00, 0x26]),
            Ok(video(VideoCodec::Hevc, true, VideoPacket::Frame, false))
        );
        assert_eq!(
            inspect_video(&[0x2c, 0x01, 0x00, 0x00, 0x00, 0x02]),
            Ok(video(VideoCodec::Hevc, false, VideoPacket::Frame, false))
        );
    }

    #[test]
    fn other_legacy_codecs_need_one_byte_and_pass_as_frames() {
        assert_eq!(
            inspect_video(&[0x12]),
            Ok(video(
                VideoCodec::Legacy(2),
                true,
                VideoPacket::Frame,
                false
            ))
        );
        assert_eq!(
            inspect_video(&[0x24, 0x00, 0x55]),
            Ok(video(
                VideoCodec::Legacy(4),
                false,
                VideoPacket::Frame,
                false
            ))
        );
    }

    #[test]
    fn legacy_command_frames_are_other_and_not_keyframes() {
        assert_eq!(
            inspect_video(&[0x57, 0x01]),
            Ok(video(VideoCodec::Avc, false, VideoPacket::Other, false))
        );
        assert_eq!(
            inspect_video(&[0x52, 0x00]),
            Ok(video(
                VideoCodec::Legacy(2),
                false,
                VideoPacket::Other,
                false
            ))
        );
    }

    #[test]
    fn generated_keyframes_are_not_reported_as_keyframes() {
        assert_eq!(
            inspect_video(&[0x47, 0x01, 0x00, 0x00, 0x00]),
            Ok(video(VideoCodec::Avc, false, VideoPacket::Frame, false))
        );
    }

    #[test]
    fn reads_enhanced_sequence_starts_for_every_codec() {
        let cases: [(&[u8; 4], VideoCodec, Vec<u8>); 4] = [
            (b"avc1", VideoCodec::Avc, avc_record()),
            (b"hvc1", VideoCodec::Hevc, hevc_record()),
            (b"av01", VideoCodec::Av1, AV1_RECORD.to_vec()),
            (b"vp09", VideoCodec::Vp9, VP9_RECORD.to_vec()),
        ];
        for (fourcc, codec, record) in cases {
            let message = enhanced(0x90, fourcc, &record);
            let tag = inspect_video(&message).unwrap();
            assert_eq!(tag, video(codec, true, VideoPacket::SequenceHeader, true));
            assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
        }
    }

    #[test]
    fn reads_enhanced_coded_frames_keyframe_and_inter() {
        for (fourcc, codec) in [
            (b"hvc1", VideoCodec::Hevc),
            (b"avc1", VideoCodec::Avc),
            (b"av01", VideoCodec::Av1),
            (b"vp09", VideoCodec::Vp9),
        ] {
            // CodedFrames: a composition time for AVC/HEVC, then data.
            let frame = enhanced(0x91, fourcc, &[0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x01]);
            assert_eq!(
                inspect_video(&frame),
                Ok(video(codec, true, VideoPacket::Frame, true))
            );
            let inter = enhanced(0xa1, fourcc, &[0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x01]);
            assert_eq!(
                inspect_video(&inter),
                Ok(video(codec, false, VideoPacket::Frame, true))
            );
            // CodedFramesX: no composition time.
            let frame_x = enhanced(0x93, fourcc, &[0x12, 0x00]);
            assert_eq!(
                inspect_video(&frame_x),
                Ok(video(codec, true, VideoPacket::Frame, true))
            );
            let inter_x = enhanced(0xa3, fourcc, &[0x32, 0x00]);
            assert_eq!(
                inspect_video(&inter_x),
                Ok(video(codec, false, VideoPacket::Frame, true))
            );
        }
    }

    #[test]
    fn enhanced_avc_and_hevc_coded_frames_need_their_composition_time() {
        assert_eq!(
            inspect_video(&enhanced(0x91, b"hvc1", &[0x00, 0x00])),
            Err(MediaError::TooShort { needed: 8, seen: 7 })
        );
        assert_eq!(
            inspect_video(&enhanced(0x91, b"av01", &[])),
            Ok(video(VideoCodec::Av1, true, VideoPacket::Frame, true))
        );
    }

    #[test]
    fn reads_enhanced_sequence_end_and_metadata() {
        assert_eq!(
            inspect_video(&enhanced(0x92, b"av01", &[])),
            Ok(video(
                VideoCodec::Av1,
                true,
                VideoPacket::EndOfSequence,
                true
            ))
        );
        // Metadata ignores the frame type, even a command frame type.
        for first in [0x94, 0xd4] {
            assert_eq!(
                inspect_video(&enhanced(first, b"hvc1", &[0x02, 0x00, 0x09])),
                Ok(video(VideoCodec::Hevc, false, VideoPacket::Other, true))
            );
        }
    }

    #[test]
    fn enhanced_mpeg2ts_sequence_start_and_reserved_types_are_other() {
        for first in [0x95, 0x98, 0x9f] {
            assert_eq!(
                inspect_video(&enhanced(first, b"av01", &[0x80])),
                Ok(video(VideoCodec::Av1, true, VideoPacket::Other, true))
            );
        }
    }

    #[test]
    fn enhanced_command_frame_has_no_fourcc() {
        assert_eq!(
            inspect_video(&[0xd1, 0x00]),
            Ok(video(
                VideoCodec::Legacy(0),
                false,
                VideoPacket::Other,
                true
            ))
        );
        assert_eq!(
            inspect_video(&[0xd1]),
            Err(MediaError::TooShort { needed: 2, seen: 1 })
        );
    }

    #[test]
    fn enhanced_multitrack_reports_first_track_codec_as_other() {
        // OneTrack of CodedFrames: FourCC, track id, then the frame.
        let one_track = [0x96, 0x01, b'a', b'v', b'0', b'1', 0x00, 0x12, 0x00, 0x0a];
        assert_eq!(
            inspect_video(&one_track),
            Ok(video(VideoCodec::Av1, true, VideoPacket::Other, true))
        );
        // ManyTracksManyCodecs of SequenceStart: each track starts with its own FourCC.
        let many_codecs = [
            0x96, 0x20, b'h', b'v', b'c', b'1', 0x00, 0x00, 0x00, 0x01, 0xff, b'a', b'v', b'0',
            b'1', 0x01, 0x00, 0x00, 0x01, 0x81,
        ];
        assert_eq!(
            inspect_video(&many_codecs),
            Ok(video(VideoCodec::Hevc, true, VideoPacket::Other, true))
        );
        let tag = inspect_video(&many_codecs).unwrap();
        assert_eq!(validate_sequence_header(&tag, &many_codecs), Ok(()));
    }

    #[test]
    fn enhanced_mod_ex_is_skipped_to_the_packet_it_modifies() {
        // ModEx with 3 bytes of TimestampOffsetNano, then CodedFramesX hvc1.
        let message = [
            0x97, 0x02, 0x00, 0x01, 0x00, 0x03, b'h', b'v', b'c', b'1', 0x26,
        ];
        assert_eq!(
            inspect_video(&message),
            Ok(video(VideoCodec::Hevc, true, VideoPacket::Frame, true))
        );
        // A ModEx with a 16-bit size (256 bytes), leading to a SequenceStart with an avcC.
        let mut long = vec![0x97, 0xff, 0x00, 0xff];
        long.extend_from_slice(&[0u8; 256]);
        long.push(0x00);
        long.extend_from_slice(b"avc1");
        long.extend_from_slice(&avc_record());
        let tag = inspect_video(&long).unwrap();
        assert_eq!(
            tag,
            video(VideoCodec::Avc, true, VideoPacket::SequenceHeader, true)
        );
        assert_eq!(validate_sequence_header(&tag, &long), Ok(()));
        // The record is found after the ModEx block, so a bad one is still caught.
        let record_start = long.len() - avc_record().len();
        long[record_start] = 0x00;
        assert_eq!(
            validate_sequence_header(&tag, &long),
            Err(MediaError::BadConfigRecord {
                offset: record_start
            })
        );
    }

    #[test]
    fn enhanced_mod_ex_running_past_the_end_is_too_short() {
        assert_eq!(
            // Size byte 5 means 6 data bytes (offsets 2..8), then the type byte at 8.
            inspect_video(&[0x97, 0x05, 0x00]),
            Err(MediaError::TooShort { needed: 9, seen: 3 })
        );
        assert_eq!(
            inspect_video(&[0x97, 0xff, 0x00]),
            Err(MediaError::TooShort { needed: 4, seen: 3 })
        );
    }

    #[test]
    fn rejects_unknown_enhanced_fourcc() {
        for fourcc in [b"vp08", b"vvc1", b"xxxx"] {
            assert_eq!(
                inspect_video(&enhanced(0x91, fourcc, &[0x00, 0x00, 0x00])),
                Err(MediaError::UnknownFourCc {
                    fourcc: u32::from_be_bytes(*fourcc)
                })
            );
        }
    }

    #[test]
    fn rejects_enhanced_tag_of_four_bytes() {
        assert_eq!(
            inspect_video(&[0x90, b'h', b'v', b'c']),
            Err(MediaError::TooShort { needed: 5, seen: 4 })
        );
    }

    #[test]
    fn rejects_empty_and_one_byte_avc_hevc_and_enhanced_video() {
        assert_eq!(
            inspect_video(&[]),
            Err(MediaError::TooShort { needed: 1, seen: 0 })
        );
        for first in [0x17, 0x27, 0x1c, 0x90, 0x91, 0x96, 0x97] {
            assert!(
                matches!(
                    inspect_video(&[first]),
                    Err(MediaError::TooShort { seen: 1, .. })
                ),
                "first byte {first:#04x}"
            );
        }
    }

    #[test]
    fn rejects_zero_byte_sequence_header_record() {
        for message in [
            vec![0x17, 0x00, 0x00, 0x00, 0x00],
            vec![0x1c, 0x00, 0x00, 0x00, 0x00],
            enhanced(0x90, b"avc1", &[]),
            enhanced(0x90, b"hvc1", &[]),
            enhanced(0x90, b"av01", &[]),
            enhanced(0x90, b"vp09", &[]),
        ] {
            let tag = inspect_video(&message).unwrap();
            assert!(
                matches!(
                    validate_sequence_header(&tag, &message),
                    Err(MediaError::TooShort { seen: 5, .. })
                ),
                "{message:02x?}"
            );
        }
    }

    #[test]
    fn av1_and_vp9_records_need_their_fixed_length() {
        let av1 = enhanced(0x90, b"av01", &AV1_RECORD[..3]);
        let tag = inspect_video(&av1).unwrap();
        assert_eq!(
            validate_sequence_header(&tag, &av1),
            Err(MediaError::TooShort { needed: 9, seen: 8 })
        );
        let vp9 = enhanced(0x90, b"vp09", &VP9_RECORD[..7]);
        let tag = inspect_video(&vp9).unwrap();
        assert_eq!(
            validate_sequence_header(&tag, &vp9),
            Err(MediaError::TooShort {
                needed: 13,
                seen: 12
            })
        );
    }

    #[test]
    fn rejects_avc_record_whose_sps_runs_past_the_end() {
        // One SPS claiming 0x40 bytes, with 4 present.
        let message = [
            0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x28, 0xff, 0xe1, 0x00, 0x40, 0x67,
            0x64, 0x00, 0x28,
        ];
        let tag = inspect_video(&message).unwrap();
        assert_eq!(
            validate_sequence_header(&tag, &message),
            Err(MediaError::BadConfigRecord { offset: 11 })
        );
    }

    #[test]
    fn rejects_avc_record_whose_sps_count_runs_past_the_end() {
        // 31 SPS announced, one present, then a PPS count.
        let mut message = vec![0x17, 0x00, 0x00, 0x00, 0x00];
        let mut record = avc_record();
        record[5] = 0xff;
        message.extend_from_slice(&record);
        let tag = inspect_video(&message).unwrap();
        assert!(matches!(
            validate_sequence_header(&tag, &message),
            Err(MediaError::BadConfigRecord { .. })
        ));
    }

    #[test]
    fn rejects_avc_record_with_wrong_version() {
        let mut message = ffmpeg_avc_sequence_header();
        message[5] = 0x00;
        let tag = inspect_video(&message).unwrap();
        assert_eq!(
            validate_sequence_header(&tag, &message),
            Err(MediaError::BadConfigRecord { offset: 5 })
        );
    }

    #[test]
    fn every_truncation_of_avc_and_hevc_records_is_an_error() {
        let records = [
            (vec![0x17, 0x00, 0x00, 0x00, 0x00], avc_record()),
            (vec![0x1c, 0x00, 0x00, 0x00, 0x00], hevc_record()),
            (enhanced(0x90, b"avc1", &[]), avc_record()),
            (enhanced(0x90, b"hvc1", &[]), hevc_record()),
        ];
        for (header, record) in records {
            let mut message = header.clone();
            message.extend_from_slice(&record);
            let tag = inspect_video(&message).unwrap();
            assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
            for cut in header.len()..message.len() {
                let truncated = &message[..cut];
                assert!(
                    validate_sequence_header(&tag, truncated).is_err(),
                    "{:02x?} accepted at {cut} of {}",
                    header,
                    message.len()
                );
            }
        }
    }

    #[test]
    fn rejects_hevc_record_whose_nal_count_runs_past_the_end() {
        let mut message = vec![0x1c, 0x00, 0x00, 0x00, 0x00];
        let mut record = hevc_record();
        // The first array (VPS) announces 0x100 units.
        record[24] = 0x01;
        message.extend_from_slice(&record);
        let tag = inspect_video(&message).unwrap();
        assert!(matches!(
            validate_sequence_header(&tag, &message),
            Err(MediaError::BadConfigRecord { .. })
        ));
    }

    #[test]
    fn non_sequence_headers_validate_without_looking() {
        let frame = [0x17, 0x01, 0x00, 0x00, 0x00, 0xff];
        let tag = inspect_video(&frame).unwrap();
        assert_eq!(validate_sequence_header(&tag, &frame), Ok(()));
        let sorenson = video(VideoCodec::Legacy(2), true, VideoPacket::Frame, false);
        assert_eq!(validate_sequence_header(&sorenson, &[]), Ok(()));
    }

    #[test]
    fn reads_aac_sequence_header_and_raw_frames() {
        assert_eq!(
            inspect_audio(&[0xaf, 0x00, 0x12, 0x10]),
            Ok(AudioTag {
                codec: AudioCodec::Aac,
                sequence_header: true
            })
        );
        assert_eq!(
            inspect_audio(&[0xaf, 0x01, 0x21, 0x00, 0x49]),
            Ok(AudioTag {
                codec: AudioCodec::Aac,
                sequence_header: false
            })
        );
        assert_eq!(
            inspect_audio(&[0xaf]),
            Err(MediaError::TooShort { needed: 2, seen: 1 })
        );
    }

    #[test]
    fn reads_mp3_and_other_legacy_sound_formats() {
        assert_eq!(
            inspect_audio(&[0x2f, 0xff, 0xfb, 0x90]),
            Ok(AudioTag {
                codec: AudioCodec::Other(2),
                sequence_header: false
            })
        );
        assert_eq!(
            inspect_audio(&[0xb6]),
            Ok(AudioTag {
                codec: AudioCodec::Other(11),
                sequence_header: false
            })
        );
    }

    #[test]
    fn rejects_empty_audio() {
        assert_eq!(
            inspect_audio(&[]),
            Err(MediaError::TooShort { needed: 1, seen: 0 })
        );
    }

    #[test]
    fn reads_enhanced_audio_fourccs() {
        let cases: [(&[u8; 4], AudioCodec); 6] = [
            (b"mp4a", AudioCodec::Aac),
            (b"Opus", AudioCodec::Opus),
            (b"ac-3", AudioCodec::Other(9)),
            (b"ec-3", AudioCodec::Other(9)),
            (b"fLaC", AudioCodec::Other(9)),
            (b".mp3", AudioCodec::Other(9)),
        ];
        for (fourcc, codec) in cases {
            let start = enhanced(0x90, fourcc, &[0x12, 0x10]);
            assert_eq!(
                inspect_audio(&start),
                Ok(AudioTag {
                    codec,
                    sequence_header: true
                })
            );
            let coded = enhanced(0x91, fourcc, &[0x21, 0x00]);
            assert_eq!(
                inspect_audio(&coded),
                Ok(AudioTag {
                    codec,
                    sequence_header: false
                })
            );
        }
    }

    #[test]
    fn enhanced_audio_mod_ex_and_multitrack() {
        let mod_ex = [
            0x97, 0x02, 0x00, 0x01, 0x00, 0x00, b'O', b'p', b'u', b's', 0x4f,
        ];
        assert_eq!(
            inspect_audio(&mod_ex),
            Ok(AudioTag {
                codec: AudioCodec::Opus,
                sequence_header: true
            })
        );
        let multitrack = [0x95, 0x00, b'm', b'p', b'4', b'a', 0x00, 0x12, 0x10];
        assert_eq!(
            inspect_audio(&multitrack),
            Ok(AudioTag {
                codec: AudioCodec::Aac,
                sequence_header: false
            })
        );
    }

    #[test]
    fn rejects_enhanced_audio_shorter_than_its_fourcc() {
        assert_eq!(
            inspect_audio(&[0x90, b'm', b'p']),
            Err(MediaError::TooShort { needed: 5, seen: 3 })
        );
    }

    #[test]
    fn display_is_one_lowercase_phrase() {
        assert_eq!(
            MediaError::TooShort { needed: 5, seen: 4 }.to_string(),
            "media header too short: needed 5 bytes, saw 4"
        );
        assert_eq!(
            MediaError::UnknownFourCc {
                fourcc: u32::from_be_bytes(*b"vp08")
            }
            .to_string(),
            "unknown video fourcc \"vp08\" (0x76703038)"
        );
        assert_eq!(
            MediaError::UnknownFourCc {
                fourcc: 0x0001_ff41
            }
            .to_string(),
            "unknown video fourcc \"???A\" (0x0001ff41)"
        );
        assert_eq!(
            MediaError::BadConfigRecord { offset: 11 }.to_string(),
            "bad decoder configuration record at offset 11"
        );
    }

    #[test]
    fn no_prefix_of_real_messages_panics() {
        let mut long_mod_ex = vec![0x97, 0xff, 0x00, 0xff];
        long_mod_ex.extend_from_slice(&[0u8; 256]);
        long_mod_ex.push(0x00);
        long_mod_ex.extend_from_slice(b"hvc1");
        long_mod_ex.extend_from_slice(&hevc_record());
        let mut legacy_hevc = vec![0x1c, 0x00, 0x00, 0x00, 0x00];
        legacy_hevc.extend_from_slice(&hevc_record());
        let messages = [
            ffmpeg_avc_sequence_header(),
            legacy_hevc,
            enhanced(0x90, b"av01", AV1_RECORD),
            enhanced(0x90, b"vp09", VP9_RECORD),
            long_mod_ex,
            vec![0x96, 0x20, b'h', b'v', b'c', b'1', 0x00, 0x00, 0x00, 0x01],
            vec![0x95, 0x00, b'm', b'p', b'4', b'a', 0x00, 0x12, 0x10],
            vec![0xaf, 0x00, 0x12, 0x10],
        ];
        for message in &messages {
            for cut in 0..=message.len() {
                inspect_everything(&message[..cut]);
            }
        }
    }

    #[test]
    fn no_pseudo_random_input_panics() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut buffer = [0u8; 96];
        for round in 0..10_000 {
            let len = (rng.next() % buffer.len() as u64) as usize;
            for byte in buffer.iter_mut().take(len) {
                *byte = rng.next() as u8;
            }
            // Steer half the inputs into the interesting headers.
            if len > 0 && round % 2 == 0 {
                buffer[0] = [0x17, 0x1c, 0x90, 0x97, 0x96, 0x9f, 0xaf][round % 7];
            }
            if len > 5 && round % 4 == 0 {
                buffer[1..5].copy_from_slice([b"avc1", b"hvc1", b"av01", b"vp09"][round % 3]);
            }
            inspect_everything(&buffer[..len]);
        }
    }
}
