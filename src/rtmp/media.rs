//! Reading the first bytes of audio and video messages: codec, frame kind, sequence headers.
//!
//! Covers legacy FLV tags (AVC codec id 7, and the de-facto HEVC id 12) and enhanced RTMP
//! (Veovera: `IsExHeader` bit, FourCC `avc1`, `hvc1`, `av01`, `vp09`, and the enhanced
//! audio FourCCs). Only the headers are looked at; payloads pass through untouched.

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
        let _ = f;
        todo!()
    }
}

/// Reads the header of a video message payload.
pub fn inspect_video(payload: &[u8]) -> Result<VideoTag, MediaError> {
    let _ = payload;
    todo!()
}

/// Reads the header of an audio message payload.
pub fn inspect_audio(payload: &[u8]) -> Result<AudioTag, MediaError> {
    let _ = payload;
    todo!()
}

/// Checks an AVC or HEVC sequence-header message: its configuration record's counts and lengths
/// must stay inside the payload.
pub fn validate_sequence_header(tag: &VideoTag, payload: &[u8]) -> Result<(), MediaError> {
    let _ = (tag, payload);
    todo!()
}
