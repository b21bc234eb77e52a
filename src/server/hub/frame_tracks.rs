//! What the hub reads from a frame's own header: the tracks it carries and whether it
//! configures them.
//!
//! A `Frame` carries its kind and keyframe and sequence-header flags; which enhanced-RTMP
//! tracks it belongs to is read again here from its first bytes, once per push, rather than
//! stored in every frame (a 256-bit track set would double the size of each queue slot of
//! every subscriber). The publisher's session has already checked the header, so this never
//! fails on a live stream; a header it cannot read counts as track 0, the legacy track.
//! Recorders read frames the same way (public for them).

use crate::rtmp::media::{
    AudioPacket, TrackSet, VideoPacket, for_each_audio_track, for_each_video_track, inspect_audio,
    inspect_video,
};
use crate::rtmp::media::{Codec, MediaType};
use crate::server::frame::{Frame, FrameKind};

/// What a configuration frame sets up for the frames after it, per track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Config {
    /// A decoder configuration record (video or audio sequence header/start).
    SequenceHeader,
    /// Video `Metadata` (`colorInfo`, e.g. HDR), which holds until the next one.
    VideoMetadata,
    /// Audio `MultichannelConfig` (channel order and count).
    Channels,
}

/// The tracks of one frame and its role for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTracks {
    /// Audio or video track ids it carries (empty for data messages).
    pub tracks: TrackSet,
    /// Set for frames that configure their tracks rather than carry media.
    pub config: Option<Config>,
}

impl FrameTracks {
    /// Reads the tracks of `frame` from its payload.
    pub fn of(frame: &Frame) -> FrameTracks {
        let legacy = TrackSet::single(0);
        let (tracks, read_config) = match frame.kind {
            FrameKind::Video => match inspect_video(&frame.payload) {
                Ok(tag) => (
                    tag.tracks,
                    (tag.packet == VideoPacket::Metadata).then_some(Config::VideoMetadata),
                ),
                Err(_) => (legacy, None),
            },
            FrameKind::Audio => match inspect_audio(&frame.payload) {
                Ok(tag) => (
                    tag.tracks,
                    (tag.packet == AudioPacket::MultichannelConfig).then_some(Config::Channels),
                ),
                Err(_) => (legacy, None),
            },
            FrameKind::Metadata | FrameKind::Data => (TrackSet::EMPTY, None),
        };
        let config = if frame.sequence_header {
            Some(Config::SequenceHeader)
        } else {
            read_config
        };
        FrameTracks { tracks, config }
    }

    /// Whether this is a video frame that carries pictures (not a configuration).
    pub fn is_video_media(&self, frame: &Frame) -> bool {
        frame.kind == FrameKind::Video && self.config.is_none()
    }
}

/// Calls `each` with the media type, id and codec of every track `frame` carries.
pub(super) fn for_each_track(frame: &Frame, mut each: impl FnMut(MediaType, u8, Codec)) {
    // Errors cannot happen for a frame the session passed; if one did, nothing is learnt.
    let _ = match frame.kind {
        FrameKind::Video => for_each_video_track(&frame.payload, |t| {
            each(MediaType::Video, t.id, Codec::Video(t.codec));
        }),
        FrameKind::Audio => for_each_audio_track(&frame.payload, |t| {
            each(MediaType::Audio, t.id, Codec::Audio(t.codec));
        }),
        FrameKind::Metadata | FrameKind::Data => Ok(()),
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::rtmp::Timestamp;

    fn frame(kind: FrameKind, sequence_header: bool, payload: &[u8]) -> Frame {
        Frame {
            kind,
            keyframe: false,
            sequence_header,
            timestamp: Timestamp(0),
            payload: Arc::from(payload),
        }
    }

    #[test]
    fn legacy_frames_are_track_zero() {
        let f = frame(FrameKind::Video, false, &[0x27, 1, 0, 0, 0, 9]);
        assert_eq!(
            FrameTracks::of(&f),
            FrameTracks {
                tracks: TrackSet::single(0),
                config: None
            }
        );
        assert!(FrameTracks::of(&f).is_video_media(&f));
    }

    #[test]
    fn a_one_track_message_is_its_own_track_and_configs_are_recognised() {
        let header = frame(
            FrameKind::Video,
            true,
            &[
                0x96, 0x00, b'v', b'p', b'0', b'9', 2, 1, 0, 0, 0, 0, 0, 0, 0,
            ],
        );
        assert_eq!(
            FrameTracks::of(&header),
            FrameTracks {
                tracks: TrackSet::single(2),
                config: Some(Config::SequenceHeader)
            }
        );
        let color = frame(FrameKind::Video, false, &[0xd4, b'h', b'v', b'c', b'1', 2]);
        assert_eq!(FrameTracks::of(&color).config, Some(Config::VideoMetadata));
        let channels = frame(
            FrameKind::Audio,
            false,
            &[0x95, 0x04, b'O', b'p', b'u', b's', 1, 1, 1, 0, 0, 0, 4],
        );
        assert_eq!(
            FrameTracks::of(&channels),
            FrameTracks {
                tracks: TrackSet::single(1),
                config: Some(Config::Channels)
            }
        );
    }

    #[test]
    fn data_frames_carry_no_tracks_and_unreadable_ones_are_track_zero() {
        let meta = frame(FrameKind::Metadata, false, &[2, 0, 0]);
        assert!(FrameTracks::of(&meta).tracks.is_empty());
        let broken = frame(FrameKind::Video, false, &[0x96]);
        assert_eq!(FrameTracks::of(&broken).tracks, TrackSet::single(0));
    }

    #[test]
    fn lists_each_track_with_its_codec() {
        let mut payload = vec![0x96, 0x21];
        payload.extend_from_slice(b"av01");
        payload.extend_from_slice(&[0, 0, 0, 1, 0xaa]);
        payload.extend_from_slice(b"hvc1");
        payload.extend_from_slice(&[3, 0, 0, 3, 0, 0, 0]);
        let mut seen = Vec::new();
        for_each_track(&frame(FrameKind::Video, false, &payload), |m, id, c| {
            seen.push((m, id, c.name()))
        });
        assert_eq!(
            seen,
            [(MediaType::Video, 0, "AV1"), (MediaType::Video, 3, "H.265")]
        );
    }
}
