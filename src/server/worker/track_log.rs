//! A publisher's tracks as its session reports them, so the log names the codec of each
//! track when it first appears or changes (not on every repeated sequence header).

use crate::rtmp::media::{
    AudioPacket, Codec, MediaType, TrackSet, VideoPacket, for_each_audio_track,
    for_each_video_track,
};
use crate::rtmp::session::{Media, MediaKind};

/// The codec last logged for each audio and video track id (at most 512 entries).
#[derive(Debug, Default)]
pub(super) struct TrackLog {
    known: Vec<(MediaType, u8, Codec)>,
    seen_video: TrackSet,
    seen_audio: TrackSet,
}

impl TrackLog {
    /// Calls `log` for each track of `media` that is new or whose codec changed. Only
    /// configuration messages and tracks not seen before are walked; other frames cost a
    /// set comparison.
    pub(super) fn observe(&mut self, media: &Media<'_>, mut log: impl FnMut(MediaType, u8, Codec)) {
        let look = match media.kind {
            MediaKind::Video(tag) => {
                let new = !tag.tracks.is_subset_of(&self.seen_video);
                self.seen_video = self.seen_video.union(tag.tracks);
                new || tag.packet == VideoPacket::SequenceHeader
            }
            MediaKind::Audio(tag) => {
                let new = !tag.tracks.is_subset_of(&self.seen_audio);
                self.seen_audio = self.seen_audio.union(tag.tracks);
                tag.packet != AudioPacket::Silence && (new || tag.is_sequence_header())
            }
            MediaKind::Metadata | MediaKind::Data => false,
        };
        if !look {
            return;
        }
        let known = &mut self.known;
        let mut note = |media_type: MediaType, id: u8, codec: Codec| match known
            .iter_mut()
            .find(|(m, i, _)| *m == media_type && *i == id)
        {
            Some(entry) if entry.2 == codec => {}
            Some(entry) => {
                entry.2 = codec;
                log(media_type, id, codec);
            }
            None => {
                known.push((media_type, id, codec));
                log(media_type, id, codec);
            }
        };
        // The session has checked the header; an error here cannot happen and logs nothing.
        let _ = match media.kind {
            MediaKind::Video(_) => for_each_video_track(media.payload, |t| {
                note(MediaType::Video, t.id, Codec::Video(t.codec))
            }),
            _ => for_each_audio_track(media.payload, |t| {
                note(MediaType::Audio, t.id, Codec::Audio(t.codec))
            }),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::Timestamp;
    use crate::rtmp::media::{inspect_audio, inspect_video};

    fn video(payload: &[u8]) -> Media<'_> {
        Media {
            kind: MediaKind::Video(inspect_video(payload).unwrap()),
            timestamp: Timestamp(0),
            payload,
        }
    }

    fn logged(log: &mut TrackLog, media: &Media<'_>) -> Vec<String> {
        let mut lines = Vec::new();
        log.observe(media, |m, id, codec| {
            lines.push(format!("{m} track {id}: {codec}"))
        });
        lines
    }

    #[test]
    fn names_each_track_once_and_again_when_its_codec_changes() {
        let mut log = TrackLog::default();
        let avc = [0x17, 0, 0, 0, 0, 1, 0x42, 0, 0x1e, 0xff, 0xe0, 0];
        assert_eq!(
            logged(&mut log, &video(&avc)),
            ["video track 0: H.264 (avc1)"]
        );
        assert!(
            logged(&mut log, &video(&avc)).is_empty(),
            "a repeated header"
        );
        let track1 = [0x96, 0x03, b'h', b'v', b'c', b'1', 1, 0];
        assert_eq!(
            logged(&mut log, &video(&track1)),
            ["video track 1: H.265 (hvc1)"]
        );
        assert!(logged(&mut log, &video(&track1)).is_empty());
        let av1 = [0x90, b'a', b'v', b'0', b'1', 0x81, 0, 0, 0];
        assert_eq!(
            logged(&mut log, &video(&av1)),
            ["video track 0: AV1 (av01)"]
        );
        let opus = [0x95, 0x01, b'O', b'p', b'u', b's', 2, 0xf8];
        let media = Media {
            kind: MediaKind::Audio(inspect_audio(&opus).unwrap()),
            timestamp: Timestamp(0),
            payload: &opus,
        };
        assert_eq!(logged(&mut log, &media), ["audio track 2: Opus (Opus)"]);
        let silence = Media {
            kind: MediaKind::Audio(inspect_audio(&[]).unwrap()),
            timestamp: Timestamp(0),
            payload: &[],
        };
        assert!(logged(&mut log, &silence).is_empty());
    }
}
