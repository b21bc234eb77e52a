//! The tracks of a live stream and the codec of each, for stream info and metrics.

use crate::rtmp::media::{Codec, MediaType, TrackSet};
use crate::server::frame::{Frame, FrameKind};

use super::frame_tracks::{FrameTracks, for_each_track};

/// One track of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackInfo {
    /// Audio or video.
    pub media: MediaType,
    /// Track id (0 is the default track, and the only one of a legacy stream).
    pub id: u8,
    /// Its codec, from its latest sequence header (or first frame, for codecs without one).
    pub codec: Codec,
}

/// The tracks seen since the publisher started, at most 256 audio and 256 video (one per id).
#[derive(Debug, Default)]
pub(super) struct TrackTable {
    tracks: Vec<TrackInfo>,
    seen_video: TrackSet,
    seen_audio: TrackSet,
}

impl TrackTable {
    /// Learns from `frame`: the codec of a track seen for the first time, or configured anew;
    /// returns whether the list changed. Cheap for every other frame (a set comparison).
    pub(super) fn observe(&mut self, frame: &Frame, info: &FrameTracks) -> bool {
        let seen = match frame.kind {
            FrameKind::Video => &mut self.seen_video,
            FrameKind::Audio => &mut self.seen_audio,
            FrameKind::Metadata | FrameKind::Data => return false,
        };
        let new = !info.tracks.is_subset_of(seen);
        if !new && info.config.is_none() {
            return false;
        }
        *seen = seen.union(info.tracks);
        let tracks = &mut self.tracks;
        let mut changed = false;
        for_each_track(frame, |media, id, codec| {
            match tracks.iter_mut().find(|t| t.media == media && t.id == id) {
                Some(track) if track.codec == codec => {}
                Some(track) => {
                    track.codec = codec;
                    changed = true;
                }
                None => {
                    tracks.push(TrackInfo { media, id, codec });
                    changed = true;
                }
            }
        });
        changed
    }

    /// The tracks, video first, each kind by id.
    pub(super) fn list(&self) -> Vec<TrackInfo> {
        let mut list = self.tracks.clone();
        list.sort_by_key(|t| (t.media != MediaType::Video, t.id));
        list
    }

    /// Forgets every track (a publisher left or a new one came).
    pub(super) fn clear(&mut self) {
        *self = TrackTable::default();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::rtmp::Timestamp;
    use crate::rtmp::media::{AudioCodec, VideoCodec};

    fn frame(kind: FrameKind, sequence_header: bool, payload: &[u8]) -> Frame {
        Frame {
            kind,
            keyframe: false,
            sequence_header,
            timestamp: Timestamp(0),
            payload: Arc::from(payload),
        }
    }

    fn observe(table: &mut TrackTable, frame: &Frame) -> bool {
        table.observe(frame, &FrameTracks::of(frame))
    }

    #[test]
    fn lists_every_track_of_a_multitrack_stream_with_its_codec() {
        let mut table = TrackTable::default();
        observe(
            &mut table,
            &frame(FrameKind::Audio, true, &[0xaf, 0, 0x12, 0x10]),
        );
        observe(
            &mut table,
            &frame(
                FrameKind::Video,
                true,
                &[0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x28, 0xff, 0xe0, 0],
            ),
        );
        // Track 1 first shows up in a coded frame: its codec is known from its FourCC.
        observe(
            &mut table,
            &frame(
                FrameKind::Video,
                false,
                &[0xa6, 0x03, b'h', b'v', b'c', b'1', 1, 0],
            ),
        );
        observe(
            &mut table,
            &frame(
                FrameKind::Audio,
                false,
                &[0x95, 0x01, b'O', b'p', b'u', b's', 1, 0xf8],
            ),
        );
        assert_eq!(
            table.list(),
            [
                TrackInfo {
                    media: MediaType::Video,
                    id: 0,
                    codec: Codec::Video(VideoCodec::Avc)
                },
                TrackInfo {
                    media: MediaType::Video,
                    id: 1,
                    codec: Codec::Video(VideoCodec::Hevc)
                },
                TrackInfo {
                    media: MediaType::Audio,
                    id: 0,
                    codec: Codec::Audio(AudioCodec::Aac)
                },
                TrackInfo {
                    media: MediaType::Audio,
                    id: 1,
                    codec: Codec::Audio(AudioCodec::Opus)
                },
            ]
        );
        // A new sequence header changes the codec of its track; plain frames change nothing.
        observe(
            &mut table,
            &frame(
                FrameKind::Video,
                true,
                &[0x90, b'a', b'v', b'0', b'1', 0x81, 0, 0, 0],
            ),
        );
        assert_eq!(table.list()[0].codec, Codec::Video(VideoCodec::Av1));
        assert!(!observe(
            &mut table,
            &frame(FrameKind::Video, false, &[0x27, 1, 0, 0, 0]),
        ));
        assert_eq!(table.list()[0].codec, Codec::Video(VideoCodec::Av1));
        table.clear();
        assert!(table.list().is_empty());
    }
}
