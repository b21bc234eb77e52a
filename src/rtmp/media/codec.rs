//! The codecs rtmpsd recognises, by legacy FLV id or enhanced-RTMP FourCC, and their names.

use core::fmt;

/// Audio or video, for errors and track lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaType {
    /// Audio messages (type 8).
    Audio,
    /// Video messages (type 9).
    Video,
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MediaType::Audio => "audio",
            MediaType::Video => "video",
        })
    }
}

/// Video codecs rtmpsd recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// H.264 / AVC (legacy codec id 7, or FourCC `avc1`).
    Avc,
    /// H.265 / HEVC (legacy id 12, or FourCC `hvc1`).
    Hevc,
    /// AV1 (FourCC `av01`).
    Av1,
    /// VP9 (FourCC `vp09`).
    Vp9,
    /// VP8 (FourCC `vp08`).
    Vp8,
    /// H.266 / VVC (FourCC `vvc1`).
    Vvc,
    /// A legacy FLV codec id rtmpsd does not inspect further (Sorenson, VP6, ...); 0 for an
    /// enhanced command frame, which names no codec.
    Legacy(u8),
}

/// The video FourCCs of enhanced RTMP v2, each with its codec.
pub const VIDEO_FOURCCS: [([u8; 4], VideoCodec); 6] = [
    (*b"avc1", VideoCodec::Avc),
    (*b"hvc1", VideoCodec::Hevc),
    (*b"av01", VideoCodec::Av1),
    (*b"vp09", VideoCodec::Vp9),
    (*b"vp08", VideoCodec::Vp8),
    (*b"vvc1", VideoCodec::Vvc),
];

impl VideoCodec {
    /// The codec of an enhanced video FourCC, if it is one of [`VIDEO_FOURCCS`].
    pub fn from_fourcc(fourcc: u32) -> Option<VideoCodec> {
        VIDEO_FOURCCS
            .iter()
            .find(|(code, _)| u32::from_be_bytes(*code) == fourcc)
            .map(|(_, codec)| *codec)
    }

    /// Its enhanced-RTMP FourCC, if it has one.
    pub fn fourcc(self) -> Option<&'static str> {
        Some(match self {
            VideoCodec::Avc => "avc1",
            VideoCodec::Hevc => "hvc1",
            VideoCodec::Av1 => "av01",
            VideoCodec::Vp9 => "vp09",
            VideoCodec::Vp8 => "vp08",
            VideoCodec::Vvc => "vvc1",
            VideoCodec::Legacy(_) => return None,
        })
    }

    /// Its common name (`H.264`, `AV1`, `Sorenson H.263`, ...).
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::Avc => "H.264",
            VideoCodec::Hevc => "H.265",
            VideoCodec::Av1 => "AV1",
            VideoCodec::Vp9 => "VP9",
            VideoCodec::Vp8 => "VP8",
            VideoCodec::Vvc => "H.266",
            VideoCodec::Legacy(0) => "command frame",
            VideoCodec::Legacy(2) => "Sorenson H.263",
            VideoCodec::Legacy(3) => "Screen video",
            VideoCodec::Legacy(4) => "VP6",
            VideoCodec::Legacy(5) => "VP6 with alpha",
            VideoCodec::Legacy(6) => "Screen video 2",
            VideoCodec::Legacy(_) => "legacy video",
        }
    }

    /// Whether its coded frames carry a composition time offset (SI24) before the data.
    pub fn has_composition_time(self) -> bool {
        matches!(self, VideoCodec::Avc | VideoCodec::Hevc | VideoCodec::Vvc)
    }
}

/// `H.264 (avc1)`, or `VP6 (FLV id 4)` for legacy codecs.
impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.fourcc(), self) {
            (Some(code), _) => write!(f, "{} ({code})", self.name()),
            (None, VideoCodec::Legacy(id)) => write!(f, "{} (FLV id {id})", self.name()),
            (None, _) => f.write_str(self.name()),
        }
    }
}

/// Audio codecs rtmpsd recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AudioCodec {
    /// AAC (legacy sound format 10, or FourCC `mp4a`).
    Aac,
    /// Opus (FourCC `Opus`).
    Opus,
    /// FLAC (FourCC `fLaC`).
    Flac,
    /// AC-3 (FourCC `ac-3`).
    Ac3,
    /// E-AC-3 (FourCC `ec-3`).
    Eac3,
    /// MP3 (legacy sound formats 2 and 14, or FourCC `.mp3`).
    Mp3,
    /// Any other legacy sound format (PCM, Nellymoser, G.711, Speex, ...).
    Legacy(u8),
}

/// The audio FourCCs of enhanced RTMP v2, each with its codec.
pub const AUDIO_FOURCCS: [([u8; 4], AudioCodec); 6] = [
    (*b"mp4a", AudioCodec::Aac),
    (*b"Opus", AudioCodec::Opus),
    (*b"fLaC", AudioCodec::Flac),
    (*b"ac-3", AudioCodec::Ac3),
    (*b"ec-3", AudioCodec::Eac3),
    (*b".mp3", AudioCodec::Mp3),
];

impl AudioCodec {
    /// The codec of an enhanced audio FourCC, if it is one of [`AUDIO_FOURCCS`].
    pub fn from_fourcc(fourcc: u32) -> Option<AudioCodec> {
        AUDIO_FOURCCS
            .iter()
            .find(|(code, _)| u32::from_be_bytes(*code) == fourcc)
            .map(|(_, codec)| *codec)
    }

    /// Its enhanced-RTMP FourCC, if it has one.
    pub fn fourcc(self) -> Option<&'static str> {
        Some(match self {
            AudioCodec::Aac => "mp4a",
            AudioCodec::Opus => "Opus",
            AudioCodec::Flac => "fLaC",
            AudioCodec::Ac3 => "ac-3",
            AudioCodec::Eac3 => "ec-3",
            AudioCodec::Mp3 => ".mp3",
            AudioCodec::Legacy(_) => return None,
        })
    }

    /// Its common name (`AAC`, `Opus`, `G.711 A-law`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AudioCodec::Aac => "AAC",
            AudioCodec::Opus => "Opus",
            AudioCodec::Flac => "FLAC",
            AudioCodec::Ac3 => "AC-3",
            AudioCodec::Eac3 => "E-AC-3",
            AudioCodec::Mp3 => "MP3",
            AudioCodec::Legacy(0 | 3) => "PCM",
            AudioCodec::Legacy(1) => "ADPCM",
            AudioCodec::Legacy(4..=6) => "Nellymoser",
            AudioCodec::Legacy(7) => "G.711 A-law",
            AudioCodec::Legacy(8) => "G.711 mu-law",
            AudioCodec::Legacy(11) => "Speex",
            AudioCodec::Legacy(15) => "device-specific audio",
            AudioCodec::Legacy(_) => "legacy audio",
        }
    }
}

/// `Opus (Opus)`, or `AAC (FLV id 10)` for legacy sound formats.
impl fmt::Display for AudioCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.fourcc(), self) {
            (Some(code), _) => write!(f, "{} ({code})", self.name()),
            (None, AudioCodec::Legacy(id)) => write!(f, "{} (FLV id {id})", self.name()),
            (None, _) => f.write_str(self.name()),
        }
    }
}

/// A video or an audio codec, for track lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// A video codec.
    Video(VideoCodec),
    /// An audio codec.
    Audio(AudioCodec),
}

impl Codec {
    /// Its common name.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Video(codec) => codec.name(),
            Codec::Audio(codec) => codec.name(),
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Codec::Video(codec) => codec.fmt(f),
            Codec::Audio(codec) => codec.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fourcc_maps_to_its_codec_and_back() {
        for (code, codec) in VIDEO_FOURCCS {
            assert_eq!(
                VideoCodec::from_fourcc(u32::from_be_bytes(code)),
                Some(codec)
            );
            assert_eq!(codec.fourcc().map(str::as_bytes), Some(&code[..]));
        }
        for (code, codec) in AUDIO_FOURCCS {
            assert_eq!(
                AudioCodec::from_fourcc(u32::from_be_bytes(code)),
                Some(codec)
            );
            assert_eq!(codec.fourcc().map(str::as_bytes), Some(&code[..]));
        }
        assert_eq!(VideoCodec::from_fourcc(u32::from_be_bytes(*b"mp4a")), None);
        assert_eq!(AudioCodec::from_fourcc(u32::from_be_bytes(*b"avc1")), None);
    }

    #[test]
    fn display_names_the_codec_and_its_code() {
        assert_eq!(VideoCodec::Hevc.to_string(), "H.265 (hvc1)");
        assert_eq!(VideoCodec::Legacy(4).to_string(), "VP6 (FLV id 4)");
        assert_eq!(AudioCodec::Eac3.to_string(), "E-AC-3 (ec-3)");
        assert_eq!(AudioCodec::Legacy(7).to_string(), "G.711 A-law (FLV id 7)");
        assert_eq!(Codec::Audio(AudioCodec::Opus).to_string(), "Opus (Opus)");
    }

    #[test]
    fn only_avc_hevc_and_vvc_frames_carry_a_composition_time() {
        let with: Vec<VideoCodec> = VIDEO_FOURCCS
            .iter()
            .map(|(_, c)| *c)
            .filter(|c| c.has_composition_time())
            .collect();
        assert_eq!(with, [VideoCodec::Avc, VideoCodec::Hevc, VideoCodec::Vvc]);
    }
}
