//! What a push sends of a stream on one upstream connection, and with which timestamps.
//!
//! A connection starts as OBS's does after a reconnect: metadata and sequence headers first
//! (at timestamp 0), then media from a video keyframe on, its timestamps restarted at 0 from
//! that keyframe (platforms dislike a stream that starts at an old or jumping timestamp).
//! An audio-only stream starts at its first audio frame. Audio and data before that start
//! are dropped, as is video until the keyframe; a timestamp that would fall before the start
//! (audio interleaved a few ms earlier) goes out as the start. After the push fell behind
//! and the hub cut it off, `resume_at_keyframe` keeps the timeline and waits for the next
//! keyframe, dropping anything older than what was sent (the replayed start cache).

use crate::rtmp::Timestamp;
use crate::server::frame::{Frame, FrameKind};

/// The send decisions and timestamp offset of one upstream connection.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Hub timestamp that goes out as 0, once media has started.
    base: Option<Timestamp>,
    /// Media waits for a video keyframe (or, before any video is seen, any audio).
    waiting: bool,
    /// A video sequence header or frame has been seen: the stream has video.
    has_video: bool,
    /// Hub timestamp of the last media frame sent.
    last_in: Option<Timestamp>,
    /// Timestamp of the last message sent.
    last_out: Timestamp,
}

impl Timeline {
    /// A timeline for a new upstream connection.
    pub fn new() -> Self {
        Timeline {
            waiting: true,
            ..Timeline::default()
        }
    }

    /// Whether media has started on this connection.
    pub fn started(&self) -> bool {
        self.base.is_some()
    }

    /// After frames were lost: wait for the next keyframe, keeping the timeline.
    pub fn resume_at_keyframe(&mut self) {
        self.waiting = true;
    }

    /// The timestamp to send `frame` with, or None to drop it.
    pub fn admit(&mut self, frame: &Frame) -> Option<Timestamp> {
        let video = frame.kind == FrameKind::Video;
        self.has_video |= video;
        if frame.kind == FrameKind::Metadata || frame.sequence_header {
            return Some(self.last_out);
        }
        if let Some(last) = self.last_in {
            if frame.timestamp.since(last) < 0 && self.waiting {
                // Older than what was sent: the start cache replayed after a re-subscribe.
                return None;
            }
        }
        if self.waiting {
            let starts = match frame.kind {
                FrameKind::Video => frame.keyframe,
                FrameKind::Audio => !self.has_video,
                FrameKind::Metadata | FrameKind::Data => false,
            };
            if !starts {
                return None;
            }
            self.waiting = false;
            self.base.get_or_insert(frame.timestamp);
        }
        let base = self.base?;
        let out = Timestamp(u32::try_from(frame.timestamp.since(base).max(0)).unwrap_or(0));
        if frame.kind != FrameKind::Data {
            self.last_in = Some(frame.timestamp);
        }
        self.last_out = out;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn frame(kind: FrameKind, ts: u32, keyframe: bool, header: bool) -> Frame {
        Frame {
            kind,
            keyframe,
            sequence_header: header,
            timestamp: Timestamp(ts),
            payload: Arc::from(vec![0u8; 4]),
        }
    }

    fn video(ts: u32, key: bool) -> Frame {
        frame(FrameKind::Video, ts, key, false)
    }

    fn audio(ts: u32) -> Frame {
        frame(FrameKind::Audio, ts, false, false)
    }

    #[test]
    fn starts_with_headers_at_zero_then_media_from_a_keyframe_rebased_to_zero() {
        let mut t = Timeline::new();
        assert_eq!(
            t.admit(&frame(FrameKind::Metadata, 9000, false, false)),
            Some(Timestamp(0))
        );
        assert_eq!(
            t.admit(&frame(FrameKind::Video, 9000, false, true)),
            Some(Timestamp(0))
        );
        assert_eq!(
            t.admit(&frame(FrameKind::Audio, 9000, false, true)),
            Some(Timestamp(0))
        );
        assert_eq!(t.admit(&audio(9990)), None, "audio waits for the keyframe");
        assert_eq!(t.admit(&video(10_000, false)), None);
        assert!(!t.started());
        assert_eq!(t.admit(&video(10_033, true)), Some(Timestamp(0)));
        assert!(t.started());
        assert_eq!(
            t.admit(&audio(10_020)),
            Some(Timestamp(0)),
            "clamped to the start"
        );
        assert_eq!(t.admit(&audio(10_043)), Some(Timestamp(10)));
        assert_eq!(t.admit(&video(10_066, false)), Some(Timestamp(33)));
        assert_eq!(
            t.admit(&frame(FrameKind::Data, 10_070, false, false)),
            Some(Timestamp(37))
        );
    }

    #[test]
    fn an_audio_only_stream_starts_at_its_first_audio_frame() {
        let mut t = Timeline::new();
        assert_eq!(
            t.admit(&frame(FrameKind::Audio, 500, false, true)),
            Some(Timestamp(0))
        );
        assert_eq!(t.admit(&audio(523)), Some(Timestamp(0)));
        assert_eq!(t.admit(&audio(546)), Some(Timestamp(23)));
    }

    #[test]
    fn resuming_keeps_the_timeline_and_skips_the_replayed_cache() {
        let mut t = Timeline::new();
        t.admit(&video(1000, true));
        t.admit(&video(1033, false));
        t.admit(&audio(1040));
        t.resume_at_keyframe();
        // The start cache replayed after re-subscribing: an older keyframe and its GOP.
        assert_eq!(t.admit(&video(1000, true)), None);
        assert_eq!(t.admit(&video(1033, false)), None);
        assert_eq!(t.admit(&video(1500, false)), None, "no keyframe yet");
        assert_eq!(t.admit(&audio(1510)), None);
        assert_eq!(t.admit(&video(2000, true)), Some(Timestamp(1000)));
        assert_eq!(t.admit(&audio(2010)), Some(Timestamp(1010)));
    }

    #[test]
    fn timestamps_rebase_across_the_32_bit_wrap() {
        let mut t = Timeline::new();
        assert_eq!(t.admit(&video(u32::MAX - 9, true)), Some(Timestamp(0)));
        assert_eq!(t.admit(&video(20, false)), Some(Timestamp(30)));
    }
}
