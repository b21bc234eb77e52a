//! Codec names as operators read them (`h264`, `aac`, ...), for the metrics, JSON and page.
//!
//! The same names serve every track of an Enhanced RTMP multitrack stream (`Stream::tracks`).

use crate::rtmp::media::{AudioCodec, VideoCodec};

/// The name of a video codec.
pub fn video(codec: VideoCodec) -> String {
    let name = match codec {
        VideoCodec::Avc => "h264",
        VideoCodec::Hevc => "h265",
        VideoCodec::Av1 => "av1",
        VideoCodec::Vp9 => "vp9",
        VideoCodec::Vp8 => "vp8",
        VideoCodec::Vvc => "h266",
        VideoCodec::Legacy(2) => "sorenson-h263",
        VideoCodec::Legacy(3) => "screen-video",
        VideoCodec::Legacy(4) => "vp6",
        VideoCodec::Legacy(5) => "vp6-alpha",
        VideoCodec::Legacy(6) => "screen-video-2",
        VideoCodec::Legacy(id) => return format!("flv-video-{id}"),
    };
    name.to_string()
}

/// The name of an audio codec.
pub fn audio(codec: AudioCodec) -> String {
    let name = match codec {
        AudioCodec::Aac => "aac",
        AudioCodec::Opus => "opus",
        AudioCodec::Flac => "flac",
        AudioCodec::Ac3 => "ac3",
        AudioCodec::Eac3 => "eac3",
        AudioCodec::Mp3 => "mp3",
        AudioCodec::Legacy(0 | 3) => "pcm",
        AudioCodec::Legacy(1) => "adpcm",
        AudioCodec::Legacy(2 | 14) => "mp3",
        AudioCodec::Legacy(4..=6) => "nellymoser",
        AudioCodec::Legacy(7) => "g711-alaw",
        AudioCodec::Legacy(8) => "g711-mulaw",
        AudioCodec::Legacy(11) => "speex",
        AudioCodec::Legacy(id) => return format!("flv-audio-{id}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_codecs_have_their_usual_names() {
        assert_eq!(video(VideoCodec::Avc), "h264");
        assert_eq!(video(VideoCodec::Hevc), "h265");
        assert_eq!(video(VideoCodec::Legacy(9)), "flv-video-9");
        assert_eq!(audio(AudioCodec::Aac), "aac");
        assert_eq!(audio(AudioCodec::Mp3), "mp3");
        assert_eq!(audio(AudioCodec::Legacy(9)), "flv-audio-9");
        assert_eq!(video(VideoCodec::Vvc), "h266");
        assert_eq!(audio(AudioCodec::Eac3), "eac3");
    }
}
