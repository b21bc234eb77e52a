//! Audio tag headers: legacy FLV `AUDIODATA` and the enhanced-RTMP `ExAudioTagHeader`.
//!
//! ```text
//! byte 0: legacy    UB4 sound format | UB2 rate | UB1 size | UB1 type
//!                   (AAC, format 10: UI8 AACPacketType, 0 = AudioSpecificConfig)
//!         enhanced  UB4 9 (ExHeader) | UB4 packet type
//!                   [ModEx blocks]                   (packet type 7, see `mod_ex`)
//!                   packet type 5: multitrack        (see `multitrack`)
//!                   otherwise: FOURCC, body
//! MultichannelConfig (4) body: UI8 channel order, UI8 channel count, then for order Custom
//! (2) one UI8 per channel, for order Native (1) a UI32 of channel flags.
//! An audio message of zero bytes is the "silence" message the specification documents.
//! ```

use super::codec::{AudioCodec, MediaType};
use super::error::MediaError;
use super::mod_ex;
use super::multitrack::{self, Layout, MultitrackType, TrackEntry, TrackWalker};
use super::read::{byte_at, need};
use super::track_set::TrackSet;

/// What kind of packet an audio message is (for a multitrack message: every track's kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioPacket {
    /// Decoder configuration (AAC AudioSpecificConfig, enhanced SequenceStart).
    SequenceStart,
    /// Coded frames (legacy formats' only kind).
    CodedFrames,
    /// End of sequence.
    SequenceEnd,
    /// Channel order and count: configuration for the frames after it.
    MultichannelConfig,
    /// A zero-byte audio message: silence until audio resumes.
    Silence,
    /// A reserved packet type, passed through.
    Other,
}

/// The header of one audio message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioTag {
    /// Codec (of the first track, for a multitrack message; `Legacy(0)` for silence).
    pub codec: AudioCodec,
    /// Packet kind.
    pub packet: AudioPacket,
    /// Whether the tag used the enhanced-RTMP header.
    pub enhanced: bool,
    /// The multitrack layout, for a multitrack message.
    pub multitrack: Option<MultitrackType>,
    /// The track ids the message carries ({0} for a single-track message).
    pub tracks: TrackSet,
    /// A ModEx TimestampOffsetNano, in nanoseconds to add to the message timestamp.
    pub nano_offset: Option<u32>,
}

impl AudioTag {
    /// Whether this is a decoder configuration (sequence start), for any track.
    pub fn is_sequence_header(&self) -> bool {
        self.packet == AudioPacket::SequenceStart
    }
}

/// One track of an audio message: id, codec and where its body is in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioTrack {
    /// Track id (0 for a single-track message).
    pub id: u8,
    /// Codec.
    pub codec: AudioCodec,
    /// Offset of its body.
    pub start: usize,
    /// Offset just past its body.
    pub end: usize,
}

/// Legacy sound format 2: MP3.
const SOUND_FORMAT_MP3: u8 = 2;
/// Legacy sound format 9: enhanced audio (ExAudioTagHeader follows).
const SOUND_FORMAT_EX_HEADER: u8 = 9;
/// Legacy sound format 10: AAC.
const SOUND_FORMAT_AAC: u8 = 10;
/// Legacy sound format 14: MP3 at 8 kHz.
const SOUND_FORMAT_MP3_8K: u8 = 14;
/// AACPacketType 0: AudioSpecificConfig.
const AAC_SEQUENCE_HEADER: u8 = 0;

/// Enhanced AudioPacketType values.
const SEQUENCE_START: u8 = 0;
const CODED_FRAMES: u8 = 1;
const SEQUENCE_END: u8 = 2;
const MULTICHANNEL_CONFIG: u8 = 4;
const MULTITRACK: u8 = 5;

/// AudioChannelOrder values of a MultichannelConfig.
const CHANNEL_ORDER_NATIVE: u8 = 1;
const CHANNEL_ORDER_CUSTOM: u8 = 2;

/// What the first bytes of an audio message say.
#[derive(Debug, Clone, Copy)]
enum Header {
    /// Zero bytes: silence.
    Silence,
    /// A legacy tag: one track, id 0.
    Legacy {
        codec: AudioCodec,
        packet: AudioPacket,
        body: usize,
    },
    /// An enhanced tag with its track list.
    Tracks {
        packet_type: u8,
        layout: Layout,
        nano_offset: Option<u32>,
    },
}

fn read_header(payload: &[u8]) -> Result<Header, MediaError> {
    let Some(&first) = payload.first() else {
        return Ok(Header::Silence);
    };
    let sound_format = first >> 4;
    let (codec, packet, body) = match sound_format {
        SOUND_FORMAT_EX_HEADER => return read_enhanced(payload, first),
        SOUND_FORMAT_AAC => {
            let packet = if byte_at(payload, 1)? == AAC_SEQUENCE_HEADER {
                AudioPacket::SequenceStart
            } else {
                AudioPacket::CodedFrames
            };
            (AudioCodec::Aac, packet, 2)
        }
        SOUND_FORMAT_MP3 | SOUND_FORMAT_MP3_8K => (AudioCodec::Mp3, AudioPacket::CodedFrames, 1),
        other => (AudioCodec::Legacy(other), AudioPacket::CodedFrames, 1),
    };
    Ok(Header::Legacy {
        codec,
        packet,
        body,
    })
}

/// Enhanced RTMP ExAudioTagHeader: ModEx chain, multitrack, FourCC.
fn read_enhanced(payload: &[u8], first: u8) -> Result<Header, MediaError> {
    let chain = mod_ex::read_chain(payload, 1, first & 0x0f)?;
    let (packet_type, layout) = multitrack::read_layout(
        payload,
        MediaType::Audio,
        MULTITRACK,
        chain.packet_type,
        chain.end,
    )?;
    Ok(Header::Tracks {
        packet_type,
        layout,
        nano_offset: chain.nano_offset,
    })
}

fn enhanced_packet(packet_type: u8) -> AudioPacket {
    match packet_type {
        SEQUENCE_START => AudioPacket::SequenceStart,
        CODED_FRAMES => AudioPacket::CodedFrames,
        SEQUENCE_END => AudioPacket::SequenceEnd,
        MULTICHANNEL_CONFIG => AudioPacket::MultichannelConfig,
        _ => AudioPacket::Other,
    }
}

/// The codec of one track; a MultichannelConfig body must hold what its channel order says.
fn track(payload: &[u8], entry: TrackEntry, packet_type: u8) -> Result<AudioTrack, MediaError> {
    let fourcc = entry.fourcc.unwrap_or_default();
    let codec = AudioCodec::from_fourcc(fourcc).ok_or(MediaError::UnknownFourCc {
        media: MediaType::Audio,
        fourcc,
    })?;
    if packet_type == MULTICHANNEL_CONFIG {
        let track_bytes = payload.get(..entry.end).unwrap_or(payload);
        check_multichannel_config(track_bytes, entry.start)?;
    }
    Ok(AudioTrack {
        id: entry.id,
        codec,
        start: entry.start,
        end: entry.end,
    })
}

/// A MultichannelConfig body at `start`: order, count, then the mapping or flags its order
/// calls for (Unspecified, 0, has neither).
fn check_multichannel_config(payload: &[u8], start: usize) -> Result<(), MediaError> {
    let order = byte_at(payload, start)?;
    let count = byte_at(payload, start + 1)?;
    match order {
        CHANNEL_ORDER_CUSTOM => need(payload, start + 2 + usize::from(count)),
        CHANNEL_ORDER_NATIVE => need(payload, start + 2 + 4),
        _ => Ok(()),
    }
}

/// Reads the header of an audio message payload, every track of a multitrack one included.
///
/// An empty message is `Silence` (codec `Legacy(0)`). Legacy AAC needs 2 bytes (AACPacketType
/// 0 is the sequence start), other legacy formats 1 (MP3 is formats 2 and 14). Enhanced audio
/// (sound format 9) needs the first byte, any ModEx blocks and the FourCC, for each track, and
/// a MultichannelConfig the bytes its channel order calls for. A multitrack message reports
/// its tracks' packet type, its first track's codec and every track id; its track sizes must
/// add up to the message. FourCCs other than the six of enhanced RTMP v2 are `UnknownFourCc`.
pub fn inspect_audio(payload: &[u8]) -> Result<AudioTag, MediaError> {
    match read_header(payload)? {
        Header::Silence => Ok(AudioTag {
            codec: AudioCodec::Legacy(0),
            packet: AudioPacket::Silence,
            enhanced: false,
            multitrack: None,
            tracks: TrackSet::single(0),
            nano_offset: None,
        }),
        Header::Legacy { codec, packet, .. } => Ok(AudioTag {
            codec,
            packet,
            enhanced: false,
            multitrack: None,
            tracks: TrackSet::single(0),
            nano_offset: None,
        }),
        Header::Tracks {
            packet_type,
            layout,
            nano_offset,
        } => {
            let mut tracks = TrackSet::EMPTY;
            let mut first = None;
            for entry in TrackWalker::new(payload, layout) {
                let track = track(payload, entry?, packet_type)?;
                tracks.insert(track.id);
                first.get_or_insert(track.codec);
            }
            Ok(AudioTag {
                codec: first.unwrap_or(AudioCodec::Legacy(0)),
                packet: enhanced_packet(packet_type),
                enhanced: true,
                multitrack: layout.multitrack,
                tracks,
                nano_offset,
            })
        }
    }
}

/// Calls `each` with every track of an audio message, in wire order.
///
/// A legacy tag is one track, id 0; silence has none. Errors are those of [`inspect_audio`].
pub fn for_each_audio_track(
    payload: &[u8],
    mut each: impl FnMut(AudioTrack),
) -> Result<(), MediaError> {
    match read_header(payload)? {
        Header::Silence => {}
        Header::Legacy { codec, body, .. } => each(AudioTrack {
            id: 0,
            codec,
            start: body.min(payload.len()),
            end: payload.len(),
        }),
        Header::Tracks {
            packet_type,
            layout,
            ..
        } => {
            for entry in TrackWalker::new(payload, layout) {
                each(track(payload, entry?, packet_type)?);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
