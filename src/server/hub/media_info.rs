//! What a stream carries (codecs, picture size, declared frame rate, audio format), read from
//! its sequence headers and `onMetaData` as they pass, and kept in atomics so a metrics reader
//! never takes the stream's lock and the publisher never waits for a reader.
//!
//! Only sequence headers and metadata are looked at: a handful of messages per stream, so
//! the per-frame data path gains nothing but a flag test.

use std::sync::atomic::{AtomicU32, Ordering};

use crate::rtmp::amf0::{self, Amf0Value, AmfLimits};
use crate::rtmp::media::{AudioCodec, VideoCodec, inspect_audio, inspect_video};
use crate::server::frame::{Frame, FrameKind};

/// Largest picture side taken from `onMetaData`; larger values are ignored as bogus.
const MAX_SIDE: f64 = 65_535.0;
/// Highest frame rate taken from `onMetaData`.
const MAX_FRAME_RATE: f64 = 1_000.0;
/// Highest audio sample rate taken from `onMetaData`.
const MAX_SAMPLE_RATE: f64 = 768_000.0;
/// Most audio channels taken from `onMetaData`.
const MAX_CHANNELS: f64 = 64.0;
/// Codec code for "not known yet"; 0 is also "absent" for every other field.
const UNKNOWN: u32 = 0;
/// Bit marking a codec code taken from `onMetaData` rather than from a header.
const LEGACY_BIT: u32 = 0x100;

/// The media description of one stream, updated by its publisher.
#[derive(Default)]
pub struct MediaInfo {
    video_codec: AtomicU32,
    width: AtomicU32,
    height: AtomicU32,
    frame_rate_milli: AtomicU32,
    audio_codec: AtomicU32,
    sample_rate: AtomicU32,
    channels: AtomicU32,
}

/// A copy of a stream's media description at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MediaSummary {
    /// Video codec, from the video sequence header.
    pub video_codec: Option<VideoCodec>,
    /// Picture width in pixels, from `onMetaData`.
    pub width: Option<u32>,
    /// Picture height in pixels, from `onMetaData`.
    pub height: Option<u32>,
    /// Frames per second the publisher declared in `onMetaData`.
    pub declared_frame_rate: Option<f64>,
    /// Audio codec, from the audio sequence header (or `onMetaData` for formats without one).
    pub audio_codec: Option<AudioCodec>,
    /// Audio sample rate in Hz, from `onMetaData`.
    pub sample_rate: Option<u32>,
    /// Audio channels, from `onMetaData`.
    pub channels: Option<u32>,
}

fn video_code(codec: VideoCodec) -> u32 {
    match codec {
        VideoCodec::Avc => 1,
        VideoCodec::Hevc => 2,
        VideoCodec::Av1 => 3,
        VideoCodec::Vp9 => 4,
        VideoCodec::Vp8 => 5,
        VideoCodec::Vvc => 6,
        VideoCodec::Legacy(id) => LEGACY_BIT | u32::from(id),
    }
}

fn video_from_code(code: u32) -> Option<VideoCodec> {
    match code {
        UNKNOWN => None,
        1 => Some(VideoCodec::Avc),
        2 => Some(VideoCodec::Hevc),
        3 => Some(VideoCodec::Av1),
        4 => Some(VideoCodec::Vp9),
        5 => Some(VideoCodec::Vp8),
        6 => Some(VideoCodec::Vvc),
        other => Some(VideoCodec::Legacy((other & 0xff) as u8)),
    }
}

fn audio_code(codec: AudioCodec) -> u32 {
    match codec {
        AudioCodec::Aac => 1,
        AudioCodec::Opus => 2,
        AudioCodec::Flac => 3,
        AudioCodec::Ac3 => 4,
        AudioCodec::Eac3 => 5,
        AudioCodec::Mp3 => 6,
        AudioCodec::Legacy(id) => LEGACY_BIT | u32::from(id),
    }
}

fn audio_from_code(code: u32) -> Option<AudioCodec> {
    match code {
        UNKNOWN => None,
        1 => Some(AudioCodec::Aac),
        2 => Some(AudioCodec::Opus),
        3 => Some(AudioCodec::Flac),
        4 => Some(AudioCodec::Ac3),
        5 => Some(AudioCodec::Eac3),
        6 => Some(AudioCodec::Mp3),
        other => Some(AudioCodec::Legacy((other & 0xff) as u8)),
    }
}

/// FLV `videocodecid` (a number, or an enhanced-RTMP FourCC string) as a codec.
fn video_codec_id(value: &Amf0Value<'_>) -> Option<VideoCodec> {
    match value {
        Amf0Value::Number(n) => match *n as u32 {
            7 => Some(VideoCodec::Avc),
            12 => Some(VideoCodec::Hevc),
            id @ 1..=15 => Some(VideoCodec::Legacy(id as u8)),
            // Enhanced RTMP: the FourCC as a big-endian UI32 ("av01" == 1635135537).
            fourcc => VideoCodec::from_fourcc(fourcc),
        },
        Amf0Value::String(code) => VideoCodec::from_fourcc(fourcc_of(code)?),
        _ => None,
    }
}

/// FLV `audiocodecid` (a sound format number, or a FourCC string) as a codec.
fn audio_codec_id(value: &Amf0Value<'_>) -> Option<AudioCodec> {
    match value {
        Amf0Value::Number(n) => match *n as u32 {
            10 => Some(AudioCodec::Aac),
            2 | 14 => Some(AudioCodec::Mp3),
            id @ 0..=15 => Some(AudioCodec::Legacy(id as u8)),
            fourcc => AudioCodec::from_fourcc(fourcc),
        },
        Amf0Value::String(code) => AudioCodec::from_fourcc(fourcc_of(code)?),
        _ => None,
    }
}

/// A four-character code as the big-endian u32 enhanced RTMP compares.
fn fourcc_of(code: &str) -> Option<u32> {
    <[u8; 4]>::try_from(code.as_bytes())
        .ok()
        .map(u32::from_be_bytes)
}

/// A number property within `0 < n <= max`.
fn positive(props: &Amf0Value<'_>, key: &str, max: f64) -> Option<f64> {
    let n = props.get(key)?.as_number()?;
    (n > 0.0 && n <= max).then_some(n)
}

impl MediaInfo {
    /// Learns from `frame` if it is a sequence header or `onMetaData`; other frames are ignored.
    pub fn take(&self, frame: &Frame) {
        match frame.kind {
            // The summary describes the default track (0); `Stream::tracks` lists them all.
            FrameKind::Video if frame.sequence_header => {
                if let Ok(tag) = inspect_video(&frame.payload) {
                    if tag.tracks.contains(0) {
                        self.video_codec
                            .store(video_code(tag.codec), Ordering::Relaxed);
                    }
                }
            }
            FrameKind::Audio if frame.sequence_header => {
                if let Ok(tag) = inspect_audio(&frame.payload) {
                    if tag.tracks.contains(0) {
                        self.audio_codec
                            .store(audio_code(tag.codec), Ordering::Relaxed);
                    }
                }
            }
            FrameKind::Metadata => self.take_metadata(&frame.payload),
            _ => {}
        }
    }

    /// Reads `onMetaData`'s properties; what is missing or out of range stays as it was.
    fn take_metadata(&self, payload: &[u8]) {
        let Ok(values) = amf0::decode_all(payload, &AmfLimits::default()) else {
            return;
        };
        // `onMetaData` then its properties (an ECMA array, or an object from some encoders).
        let Some(props) = values
            .iter()
            .skip(1)
            .find(|v| matches!(v, Amf0Value::EcmaArray(_) | Amf0Value::Object(_)))
        else {
            return;
        };
        let store = |cell: &AtomicU32, value: Option<f64>| {
            if let Some(v) = value {
                cell.store(v.round() as u32, Ordering::Relaxed);
            }
        };
        store(&self.width, positive(props, "width", MAX_SIDE));
        store(&self.height, positive(props, "height", MAX_SIDE));
        let rate = positive(props, "framerate", MAX_FRAME_RATE)
            .or_else(|| positive(props, "videoframerate", MAX_FRAME_RATE));
        store(&self.frame_rate_milli, rate.map(|r| r * 1000.0));
        store(
            &self.sample_rate,
            positive(props, "audiosamplerate", MAX_SAMPLE_RATE),
        );
        let channels = positive(props, "audiochannels", MAX_CHANNELS).or_else(|| {
            props
                .get("stereo")
                .and_then(Amf0Value::as_bool)
                .map(|stereo| if stereo { 2.0 } else { 1.0 })
        });
        store(&self.channels, channels);
        // Headers name the codec better; metadata fills in for formats without a header.
        if let Some(codec) = props.get("videocodecid").and_then(video_codec_id) {
            let _ = self.video_codec.compare_exchange(
                UNKNOWN,
                video_code(codec),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        if let Some(codec) = props.get("audiocodecid").and_then(audio_codec_id) {
            let _ = self.audio_codec.compare_exchange(
                UNKNOWN,
                audio_code(codec),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }

    /// Forgets everything (a publisher came or went).
    pub fn clear(&self) {
        for cell in [
            &self.video_codec,
            &self.width,
            &self.height,
            &self.frame_rate_milli,
            &self.audio_codec,
            &self.sample_rate,
            &self.channels,
        ] {
            cell.store(UNKNOWN, Ordering::Relaxed);
        }
    }

    /// Reads the description.
    pub fn summary(&self) -> MediaSummary {
        let some = |cell: &AtomicU32| Some(cell.load(Ordering::Relaxed)).filter(|v| *v != 0);
        MediaSummary {
            video_codec: video_from_code(self.video_codec.load(Ordering::Relaxed)),
            width: some(&self.width),
            height: some(&self.height),
            declared_frame_rate: some(&self.frame_rate_milli).map(|m| f64::from(m) / 1000.0),
            audio_codec: audio_from_code(self.audio_codec.load(Ordering::Relaxed)),
            sample_rate: some(&self.sample_rate),
            channels: some(&self.channels),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::Timestamp;
    use crate::rtmp::amf0::Amf0Writer;
    use std::sync::Arc;

    fn frame(kind: FrameKind, sequence_header: bool, payload: &[u8]) -> Frame {
        Frame {
            kind,
            keyframe: false,
            sequence_header,
            timestamp: Timestamp(0),
            payload: Arc::from(payload),
        }
    }

    fn metadata(props: &[(&str, Amf0Value<'_>)]) -> Frame {
        let mut out = [0u8; 512];
        let mut w = Amf0Writer::new(&mut out);
        w.string("onMetaData").unwrap();
        w.ecma_array_start(props.len() as u32).unwrap();
        for (key, value) in props {
            w.property(key).unwrap().value(value).unwrap();
        }
        w.object_end().unwrap();
        let len = w.len();
        frame(FrameKind::Metadata, false, &out[..len])
    }

    #[test]
    fn ffmpeg_style_metadata_gives_size_rate_and_audio_format() {
        let info = MediaInfo::default();
        info.take(&metadata(&[
            ("width", Amf0Value::Number(1280.0)),
            ("height", Amf0Value::Number(720.0)),
            ("framerate", Amf0Value::Number(29.97)),
            ("videocodecid", Amf0Value::Number(7.0)),
            ("audiosamplerate", Amf0Value::Number(44100.0)),
            ("stereo", Amf0Value::Boolean(true)),
            ("audiocodecid", Amf0Value::Number(10.0)),
        ]));
        let s = info.summary();
        assert_eq!((s.width, s.height), (Some(1280), Some(720)));
        assert_eq!(s.declared_frame_rate, Some(29.97));
        assert_eq!(s.video_codec, Some(VideoCodec::Avc));
        assert_eq!(s.audio_codec, Some(AudioCodec::Aac));
        assert_eq!((s.sample_rate, s.channels), (Some(44100), Some(2)));
    }

    #[test]
    fn sequence_headers_name_the_codec_over_metadata() {
        let info = MediaInfo::default();
        // An enhanced-RTMP HEVC sequence start: IsExHeader | keyframe, packet type 0, "hvc1".
        info.take(&frame(
            FrameKind::Video,
            true,
            &[0x90, b'h', b'v', b'c', b'1'],
        ));
        info.take(&metadata(&[("videocodecid", Amf0Value::Number(7.0))]));
        info.take(&frame(FrameKind::Audio, true, &[0xAF, 0, 0x12, 0x10]));
        let s = info.summary();
        assert_eq!(s.video_codec, Some(VideoCodec::Hevc));
        assert_eq!(s.audio_codec, Some(AudioCodec::Aac));
    }

    #[test]
    fn bogus_or_missing_metadata_values_are_ignored_and_clear_forgets() {
        let info = MediaInfo::default();
        info.take(&metadata(&[
            ("width", Amf0Value::Number(-5.0)),
            ("height", Amf0Value::Number(1e12)),
            ("framerate", Amf0Value::String("fast")),
        ]));
        info.take(&frame(FrameKind::Metadata, false, &[0xff, 0x00]));
        assert_eq!(info.summary(), MediaSummary::default());
        info.take(&metadata(&[("width", Amf0Value::Number(640.0))]));
        assert_eq!(info.summary().width, Some(640));
        info.clear();
        assert_eq!(info.summary(), MediaSummary::default());
    }

    #[test]
    fn codec_codes_round_trip() {
        for codec in [
            VideoCodec::Avc,
            VideoCodec::Hevc,
            VideoCodec::Av1,
            VideoCodec::Vp9,
            VideoCodec::Legacy(2),
            VideoCodec::Legacy(0),
        ] {
            assert_eq!(video_from_code(video_code(codec)), Some(codec));
        }
        for codec in [AudioCodec::Aac, AudioCodec::Opus, AudioCodec::Mp3] {
            assert_eq!(audio_from_code(audio_code(codec)), Some(codec));
        }
    }
}
