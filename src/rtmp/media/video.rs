//! Video tag headers: legacy FLV `VIDEODATA` and the enhanced-RTMP `ExVideoTagHeader`.
//!
//! ```text
//! byte 0: legacy    UB4 frame type | UB4 codec id   (AVC 7 and HEVC 12: UI8 packet type,
//!                                                    SI24 composition time, body)
//!         enhanced  UB1 1 | UB3 frame type | UB4 packet type
//!                   [ModEx blocks]                   (packet type 7, see `mod_ex`)
//!                   frame type 5 and packet type not Metadata: UI8 command, nothing else
//!                   packet type 6: multitrack        (see `multitrack`)
//!                   otherwise: FOURCC, body
//! body of CodedFrames (1) for avc1, hvc1, vvc1: SI24 composition time, then the NAL units;
//! CodedFramesX (3) is the same without the composition time.
//! ```

use super::codec::{MediaType, VideoCodec};
use super::config_record;
use super::error::MediaError;
use super::mod_ex;
use super::multitrack::{self, Layout, MultitrackType, TrackEntry, TrackWalker};
use super::read::{byte_at, need};
use super::track_set::TrackSet;

/// What kind of packet a video message is (for a multitrack message: every track's kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoPacket {
    /// Decoder configuration (AVC/HEVC/VVC/AV1/VP8/VP9 sequence header).
    SequenceHeader,
    /// Coded frames.
    Frame,
    /// End of sequence.
    EndOfSequence,
    /// Enhanced `Metadata` (AMF `colorInfo`, e.g. HDR): configuration for the frames after it.
    Metadata,
    /// Anything else (command frames, MPEG-2 TS sequence starts, reserved types), passed through.
    Other,
}

/// The header of one video message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoTag {
    /// Codec (of the first track, for a multitrack message).
    pub codec: VideoCodec,
    /// Whether the frames are keyframes (frame type 1, not Metadata); one flag for every track.
    pub keyframe: bool,
    /// Packet kind.
    pub packet: VideoPacket,
    /// Whether the tag used the enhanced-RTMP header.
    pub enhanced: bool,
    /// The multitrack layout, for a multitrack message.
    pub multitrack: Option<MultitrackType>,
    /// The track ids the message carries ({0} for a single-track message).
    pub tracks: TrackSet,
    /// A ModEx TimestampOffsetNano, in nanoseconds to add to the message timestamp.
    pub nano_offset: Option<u32>,
}

/// One track of a video message: id, codec and where its body is in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoTrack {
    /// Track id (0 for a single-track message).
    pub id: u8,
    /// Codec.
    pub codec: VideoCodec,
    /// Offset of its body (a configuration record, or coded data after any composition time).
    pub start: usize,
    /// Offset just past its body.
    pub end: usize,
}

/// Legacy FLV frame type 1: a seekable frame.
const FRAME_KEY: u8 = 1;
/// Frame type 5: a video info / command frame, carrying a one-byte command instead of video.
const FRAME_COMMAND: u8 = 5;

/// Legacy FLV video codec id for H.264.
const CODEC_ID_AVC: u8 = 7;
/// De-facto legacy FLV video codec id for H.265 (not in Adobe's spec, widely deployed).
const CODEC_ID_HEVC: u8 = 12;

/// Legacy AVCPacketType values.
const AVC_SEQUENCE_HEADER: u8 = 0;
const AVC_NALU: u8 = 1;
const AVC_END_OF_SEQUENCE: u8 = 2;

/// Bit 7 of an enhanced video tag's first byte.
const IS_EX_HEADER: u8 = 0x80;

/// Enhanced VideoPacketType values.
const SEQUENCE_START: u8 = 0;
const CODED_FRAMES: u8 = 1;
const SEQUENCE_END: u8 = 2;
const CODED_FRAMES_X: u8 = 3;
const METADATA: u8 = 4;
const MULTITRACK: u8 = 6;

/// Composition time offset (SI24) carried by AVC/HEVC/VVC coded frames.
const COMPOSITION_TIME_LEN: usize = 3;
/// The fixed part of a legacy AVC/HEVC tag: byte 0, packet type, composition time.
const LEGACY_AVC_HEADER_LEN: usize = 2 + COMPOSITION_TIME_LEN;

/// What the first bytes of a video message say.
#[derive(Debug, Clone, Copy)]
enum Header {
    /// A legacy tag: one track, id 0; its body (record or NAL units) starts at `body`.
    Legacy {
        codec: VideoCodec,
        frame_type: u8,
        packet: VideoPacket,
        body: usize,
    },
    /// An enhanced command frame: no FourCC, no body.
    Command { nano_offset: Option<u32> },
    /// An enhanced tag with its track list.
    Tracks {
        frame_type: u8,
        packet_type: u8,
        layout: Layout,
        nano_offset: Option<u32>,
    },
}

fn read_header(payload: &[u8]) -> Result<Header, MediaError> {
    let first = byte_at(payload, 0)?;
    if first & IS_EX_HEADER == 0 {
        return read_legacy(payload, first);
    }
    let frame_type = (first >> 4) & 0x07;
    let chain = mod_ex::read_chain(payload, 1, first & 0x0f)?;
    let (packet_type, at) = (chain.packet_type, chain.end);
    if frame_type == FRAME_COMMAND && packet_type != METADATA {
        // A command frame has a UI8 command and no FourCC, so it names no codec.
        byte_at(payload, at)?;
        return Ok(Header::Command {
            nano_offset: chain.nano_offset,
        });
    }
    let (packet_type, layout) =
        multitrack::read_layout(payload, MediaType::Video, MULTITRACK, packet_type, at)?;
    Ok(Header::Tracks {
        frame_type,
        packet_type,
        layout,
        nano_offset: chain.nano_offset,
    })
}

/// Legacy VIDEODATA: frame type, codec id, and for AVC/HEVC the packet type and composition time.
fn read_legacy(payload: &[u8], first: u8) -> Result<Header, MediaError> {
    let frame_type = first >> 4;
    let codec = match first & 0x0f {
        CODEC_ID_AVC => VideoCodec::Avc,
        CODEC_ID_HEVC => VideoCodec::Hevc,
        id => VideoCodec::Legacy(id),
    };
    if !matches!(codec, VideoCodec::Avc | VideoCodec::Hevc) {
        let packet = if frame_type == FRAME_COMMAND {
            VideoPacket::Other
        } else {
            VideoPacket::Frame
        };
        return Ok(Header::Legacy {
            codec,
            frame_type,
            packet,
            body: 1,
        });
    }
    let packet_type = byte_at(payload, 1)?;
    if frame_type == FRAME_COMMAND {
        return Ok(Header::Legacy {
            codec,
            frame_type,
            packet: VideoPacket::Other,
            body: 2,
        });
    }
    let packet = match packet_type {
        AVC_SEQUENCE_HEADER => VideoPacket::SequenceHeader,
        AVC_NALU => VideoPacket::Frame,
        AVC_END_OF_SEQUENCE => VideoPacket::EndOfSequence,
        _ => VideoPacket::Other,
    };
    if matches!(packet, VideoPacket::SequenceHeader | VideoPacket::Frame) {
        need(payload, LEGACY_AVC_HEADER_LEN)?;
    }
    Ok(Header::Legacy {
        codec,
        frame_type,
        packet,
        body: LEGACY_AVC_HEADER_LEN,
    })
}

fn enhanced_packet(packet_type: u8) -> VideoPacket {
    match packet_type {
        SEQUENCE_START => VideoPacket::SequenceHeader,
        CODED_FRAMES | CODED_FRAMES_X => VideoPacket::Frame,
        SEQUENCE_END => VideoPacket::EndOfSequence,
        METADATA => VideoPacket::Metadata,
        _ => VideoPacket::Other,
    }
}

/// The codec of one track, and its body past any composition time.
fn track(entry: TrackEntry, packet_type: u8) -> Result<VideoTrack, MediaError> {
    let fourcc = entry.fourcc.unwrap_or_default();
    let codec = VideoCodec::from_fourcc(fourcc).ok_or(MediaError::UnknownFourCc {
        media: MediaType::Video,
        fourcc,
    })?;
    let mut start = entry.start;
    if packet_type == CODED_FRAMES && codec.has_composition_time() {
        start += COMPOSITION_TIME_LEN;
        if start > entry.end {
            return Err(MediaError::TooShort {
                needed: start,
                seen: entry.end,
            });
        }
    }
    Ok(VideoTrack {
        id: entry.id,
        codec,
        start,
        end: entry.end,
    })
}

/// Reads the header of a video message payload, every track of a multitrack one included.
///
/// Legacy tags need 1 byte (2 for AVC/HEVC, 5 for their sequence headers and frames, which
/// carry a composition time); enhanced tags need the first byte, any ModEx blocks, and the
/// FourCC (5 bytes without ModEx), plus 3 for `avc1`/`hvc1`/`vvc1` CodedFrames, for each track.
/// `keyframe` is frame type 1 only. Command frames (frame type 5) are `Other`; an enhanced one
/// carries no FourCC and reports `Legacy(0)`. ModEx blocks are read and the packet type they
/// lead to is reported. MPEG-2 TS sequence starts and reserved packet types are `Other`. A
/// multitrack message reports its tracks' packet type, its first track's codec and every
/// track id; its track sizes must add up to the message. FourCCs other than the six of
/// enhanced RTMP v2 are `UnknownFourCc`.
pub fn inspect_video(payload: &[u8]) -> Result<VideoTag, MediaError> {
    match read_header(payload)? {
        Header::Legacy {
            codec,
            frame_type,
            packet,
            ..
        } => Ok(VideoTag {
            codec,
            keyframe: frame_type == FRAME_KEY,
            packet,
            enhanced: false,
            multitrack: None,
            tracks: TrackSet::single(0),
            nano_offset: None,
        }),
        Header::Command { nano_offset } => Ok(VideoTag {
            codec: VideoCodec::Legacy(0),
            keyframe: false,
            packet: VideoPacket::Other,
            enhanced: true,
            multitrack: None,
            tracks: TrackSet::single(0),
            nano_offset,
        }),
        Header::Tracks {
            frame_type,
            packet_type,
            layout,
            nano_offset,
        } => {
            let mut tracks = TrackSet::EMPTY;
            let mut first = None;
            for entry in TrackWalker::new(payload, layout) {
                let track = track(entry?, packet_type)?;
                tracks.insert(track.id);
                first.get_or_insert(track.codec);
            }
            let packet = enhanced_packet(packet_type);
            Ok(VideoTag {
                codec: first.unwrap_or(VideoCodec::Legacy(0)),
                keyframe: frame_type == FRAME_KEY && packet != VideoPacket::Metadata,
                packet,
                enhanced: true,
                multitrack: layout.multitrack,
                tracks,
                nano_offset,
            })
        }
    }
}

/// Calls `each` with every track of a video message, in wire order.
///
/// A legacy tag or an enhanced command frame is one track, id 0. Errors are those of
/// [`inspect_video`].
pub fn for_each_video_track(
    payload: &[u8],
    mut each: impl FnMut(VideoTrack),
) -> Result<(), MediaError> {
    match read_header(payload)? {
        Header::Legacy { codec, body, .. } => each(VideoTrack {
            id: 0,
            codec,
            start: body.min(payload.len()),
            end: payload.len(),
        }),
        Header::Command { .. } => each(VideoTrack {
            id: 0,
            codec: VideoCodec::Legacy(0),
            start: payload.len(),
            end: payload.len(),
        }),
        Header::Tracks {
            packet_type,
            layout,
            ..
        } => {
            for entry in TrackWalker::new(payload, layout) {
                each(track(entry?, packet_type)?);
            }
        }
    }
    Ok(())
}

/// Checks the decoder configuration record of every track of a sequence-header message:
/// its counts and lengths must stay inside the track.
///
/// `tag` is what [`inspect_video`] returned for `payload`; anything but a sequence header is
/// `Ok`. A record shorter than its fixed part is `TooShort`; a bad version (AVC) or a count or
/// length that runs past the track is `BadConfigRecord` with the offset (from the start of
/// `payload`) of the field at fault. Bytes after the last parameter set are allowed. AV1, VP8,
/// VP9 and VVC records are checked for their fixed length only (4, 8, 8 and 1 bytes).
pub fn validate_sequence_header(tag: &VideoTag, payload: &[u8]) -> Result<(), MediaError> {
    if tag.packet != VideoPacket::SequenceHeader {
        return Ok(());
    }
    let mut result = Ok(());
    for_each_video_track(payload, |track| {
        if result.is_ok() {
            let track_bytes = payload.get(..track.end).unwrap_or(payload);
            result = config_record::check(track.codec, track_bytes, track.start);
        }
    })?;
    result
}

#[cfg(test)]
mod tests;
