//! When a segment starts, what goes in it and when it ends, decided frame by frame.
//!
//! No I/O and no clock: the recorder offers each frame and does what the `Step` says.
//!
//! - A segment starts on a keyframe of the anchor video track, the lowest track id seen
//!   (track 0 for a legacy stream; the default track of an Enhanced RTMP multitrack one, as
//!   in the hub's start cache), or, in a stream with no video, on audio. It begins with the
//!   stream's metadata and the configuration of every track (sequence headers, video
//!   Metadata, audio MultichannelConfig), all at timestamp 0, so each segment plays alone.
//!   Timestamps in it are the stream's, moved so its first frame is at 0. Another video
//!   track's frames enter the segment from that track's own first keyframe in it.
//! - It ends at the first anchor keyframe after `segment_ms` of media or `max_bytes` of
//!   file, where the next one starts; when the publisher leaves or a new one comes; when a
//!   track's sequence header changes (a new picture size or codec); or when the timestamps
//!   jump (backwards, or forward by more than `MAX_JUMP`).
//! - Configurations are kept per track, like the start cache keeps them: a newer one of the
//!   same kind replaces those it covers. One identical to what is kept (a camera that
//!   reconnected with the same settings) changes nothing; a new track's, or a new video
//!   Metadata or channel layout, goes into the open segment.

use crate::rtmp::Timestamp;
use crate::rtmp::media::TrackSet;
use crate::server::frame::{Frame, FrameKind};
use crate::server::hub::{FrameTracks, TrackConfig};

/// Most configuration frames kept (each may cover several tracks), as in the start cache.
const MAX_CONFIGS: usize = 32;
/// A forward jump in the timestamps this large (ms) ends the segment.
const MAX_JUMP: i64 = 60_000;

/// How long a segment gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRules {
    /// Milliseconds of media.
    pub segment_ms: u32,
    /// Bytes of file.
    pub max_bytes: u64,
}

/// Why a segment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentEnd {
    /// It reached the segment length.
    Length,
    /// It reached the most bytes a segment may take.
    Size,
    /// The publisher left.
    PublisherLeft,
    /// A new publisher came.
    NewPublisher,
    /// A sequence header changed.
    HeadersChanged,
    /// The timestamps jumped.
    TimestampJump,
    /// The recorder fell so far behind that the hub cut it off.
    Evicted,
    /// The server is stopping.
    Shutdown,
}

impl SegmentEnd {
    /// How the log says it.
    pub fn describe(self) -> &'static str {
        match self {
            SegmentEnd::Length => "segment length reached",
            SegmentEnd::Size => "segment size reached",
            SegmentEnd::PublisherLeft => "publisher left",
            SegmentEnd::NewPublisher => "new publisher",
            SegmentEnd::HeadersChanged => "sequence headers changed",
            SegmentEnd::TimestampJump => "timestamps jumped",
            SegmentEnd::Evicted => "recorder fell too far behind",
            SegmentEnd::Shutdown => "server stopping",
        }
    }
}

/// What to do with one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing: no segment open and none starts here, or the frame is not for the file.
    Skip,
    /// Write the frame to the open segment at this timestamp.
    Write {
        /// Milliseconds since the segment's start.
        timestamp: u32,
    },
    /// Close the open segment, if `closing` says one is open, and start a new one with the
    /// `start_frames` and then this frame, all at timestamp 0.
    Start {
        /// Why the open one ends, if one is open.
        closing: Option<SegmentEnd>,
    },
    /// Close the open segment; the frame is not written (the next segment will have it).
    Close(SegmentEnd),
}

/// One configuration frame and the tracks it configures.
struct ConfigEntry {
    kind: FrameKind,
    config: TrackConfig,
    tracks: TrackSet,
    frame: Frame,
}

/// The open segment, as far as deciding goes.
struct OpenSegment {
    base: Timestamp,
    last: i64,
    bytes: u64,
    /// Video tracks that had a keyframe in this segment: their frames can be decoded.
    keyed: TrackSet,
}

/// One stream's segmenting state.
pub struct Segmenter {
    segment_ms: u32,
    max_bytes: u64,
    metadata: Option<Frame>,
    /// Configuration frames in arrival order.
    configs: Vec<ConfigEntry>,
    /// The lowest video track id seen: segments start on its keyframes.
    anchor: Option<u8>,
    has_video: bool,
    has_audio: bool,
    open: Option<OpenSegment>,
}

impl Segmenter {
    /// A segmenter with no segment open.
    pub fn new(rules: SegmentRules) -> Self {
        Segmenter {
            segment_ms: rules.segment_ms,
            max_bytes: rules.max_bytes,
            metadata: None,
            configs: Vec::new(),
            anchor: None,
            has_video: false,
            has_audio: false,
            open: None,
        }
    }

    /// Whether a segment is open.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Counts `bytes` written to the open segment.
    pub fn wrote(&mut self, bytes: u64) {
        if let Some(open) = &mut self.open {
            open.bytes += bytes;
        }
    }

    /// The frames a new segment starts with before its first frame: the latest metadata
    /// (its body is what `flv::metadata_body` builds on) and every track's configuration.
    pub fn start_frames(&self) -> (Option<&Frame>, impl Iterator<Item = &Frame>) {
        (
            self.metadata.as_ref(),
            self.configs.iter().map(|entry| &entry.frame),
        )
    }

    /// Whether the stream has video and audio, for the file header.
    pub fn has_video_audio(&self) -> (bool, bool) {
        (self.has_video, self.has_audio)
    }

    /// A publisher came or left: the open segment, if any, ends for `end`, and what the
    /// last publisher sent (metadata, configurations) is forgotten; the next one sends its own.
    pub fn publisher_changed(&mut self, end: SegmentEnd) -> Option<SegmentEnd> {
        self.metadata = None;
        self.configs.clear();
        self.anchor = None;
        self.has_video = false;
        self.has_audio = false;
        self.close(end)
    }

    /// Ends the open segment, if any, for `end`.
    pub fn close(&mut self, end: SegmentEnd) -> Option<SegmentEnd> {
        self.open.take().map(|_| end)
    }

    /// Decides what to do with `frame`.
    pub fn offer(&mut self, frame: &Frame) -> Step {
        match frame.kind {
            // New metadata is kept for the next segment; written mid-file, a publisher's
            // `duration: 0` would overrule the segment's own.
            FrameKind::Metadata => {
                self.metadata = Some(frame.clone());
                Step::Skip
            }
            FrameKind::Data => match self.position(frame) {
                Some(timestamp) if timestamp >= 0 => Step::Write {
                    timestamp: timestamp as u32,
                },
                _ => Step::Skip,
            },
            FrameKind::Video | FrameKind::Audio => {
                let tracks = FrameTracks::of(frame);
                if frame.kind == FrameKind::Video {
                    self.has_video = true;
                    if let Some(lowest) = tracks.tracks.first() {
                        if self.anchor.is_none_or(|anchor| lowest < anchor) {
                            self.anchor = Some(lowest);
                        }
                    }
                } else {
                    self.has_audio = true;
                }
                match tracks.config {
                    Some(config) => self.config(frame, config, tracks.tracks),
                    None => self.media(frame, tracks.tracks),
                }
            }
        }
    }

    /// Where `frame` falls in the open segment, in ms from its start.
    fn position(&self, frame: &Frame) -> Option<i64> {
        let open = self.open.as_ref()?;
        Some(i64::from(frame.timestamp.since(open.base)))
    }

    fn config(&mut self, frame: &Frame, config: TrackConfig, tracks: TrackSet) -> Step {
        let same = |entry: &ConfigEntry| entry.kind == frame.kind && entry.config == config;
        let known = self
            .configs
            .iter()
            .any(|e| same(e) && e.tracks == tracks && e.frame.payload == frame.payload);
        if known {
            return Step::Skip;
        }
        let before = self.configs.len();
        self.configs
            .retain(|e| !(same(e) && e.tracks.is_subset_of(&tracks)));
        let replaced = self.configs.len() < before;
        if self.configs.len() == MAX_CONFIGS {
            self.configs.remove(0);
        }
        self.configs.push(ConfigEntry {
            kind: frame.kind,
            config,
            tracks,
            frame: frame.clone(),
        });
        if replaced && config == TrackConfig::SequenceHeader {
            // A track's decoder changed: the open segment cannot carry it.
            return match self.close(SegmentEnd::HeadersChanged) {
                Some(end) => Step::Close(end),
                None => Step::Skip,
            };
        }
        // A new track's configuration, or a new colour or channel layout: it goes into the
        // open segment, before the media it is for.
        match self.position(frame) {
            Some(at) => Step::Write {
                timestamp: at.max(0) as u32,
            },
            None => Step::Skip,
        }
    }

    fn media(&mut self, frame: &Frame, tracks: TrackSet) -> Step {
        let video = frame.kind == FrameKind::Video;
        let may_start = if video {
            frame.keyframe && self.anchor.is_some_and(|a| tracks.contains(a))
        } else {
            !self.has_video
        };
        let (segment_ms, max_bytes) = (i64::from(self.segment_ms), self.max_bytes);
        let Some(open) = &mut self.open else {
            if may_start {
                self.start(frame, tracks);
                return Step::Start { closing: None };
            }
            return Step::Skip;
        };
        let at = i64::from(frame.timestamp.since(open.base));
        let jumped = at < 0 || at - open.last > MAX_JUMP;
        if jumped && !video && at < 0 && at > -MAX_JUMP {
            // Audio from just before the segment's first keyframe: the last one had it.
            return Step::Skip;
        }
        let ending = if jumped {
            Some(SegmentEnd::TimestampJump)
        } else if may_start && at >= segment_ms {
            Some(SegmentEnd::Length)
        } else if may_start && open.bytes >= max_bytes {
            Some(SegmentEnd::Size)
        } else {
            None
        };
        match ending {
            Some(end) if may_start => {
                self.start(frame, tracks);
                Step::Start { closing: Some(end) }
            }
            Some(end) => {
                self.open = None;
                Step::Close(end)
            }
            None => {
                if video {
                    if frame.keyframe {
                        open.keyed = open.keyed.union(tracks);
                    } else if !tracks.is_subset_of(&open.keyed) {
                        // A track not yet keyed in this segment: not decodable here.
                        return Step::Skip;
                    }
                }
                open.last = open.last.max(at);
                Step::Write {
                    timestamp: at as u32,
                }
            }
        }
    }

    fn start(&mut self, frame: &Frame, tracks: TrackSet) {
        let keyed = if frame.kind == FrameKind::Video {
            tracks
        } else {
            TrackSet::EMPTY
        };
        self.open = Some(OpenSegment {
            base: frame.timestamp,
            last: 0,
            bytes: 0,
            keyed,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn frame(kind: FrameKind, ts: u32, keyframe: bool, header: bool, tag: u8) -> Frame {
        Frame {
            kind,
            keyframe,
            sequence_header: header,
            timestamp: Timestamp(ts),
            payload: Arc::from(vec![tag; 8]),
        }
    }

    fn key(ts: u32) -> Frame {
        frame(FrameKind::Video, ts, true, false, 1)
    }

    fn inter(ts: u32) -> Frame {
        frame(FrameKind::Video, ts, false, false, 2)
    }

    fn audio(ts: u32) -> Frame {
        frame(FrameKind::Audio, ts, false, false, 3)
    }

    fn video_header(tag: u8) -> Frame {
        frame(FrameKind::Video, 0, false, true, tag)
    }

    fn audio_header(tag: u8) -> Frame {
        frame(FrameKind::Audio, 0, false, true, tag)
    }

    fn segmenter(segment_ms: u32) -> Segmenter {
        Segmenter::new(SegmentRules {
            segment_ms,
            max_bytes: u64::MAX,
        })
    }

    fn write(ts: u32) -> Step {
        Step::Write { timestamp: ts }
    }

    const START: Step = Step::Start { closing: None };

    #[test]
    fn a_segment_starts_on_the_first_keyframe_with_headers_first_and_time_from_zero() {
        let mut s = segmenter(10_000);
        assert_eq!(
            s.offer(&frame(FrameKind::Metadata, 0, false, false, 9)),
            Step::Skip
        );
        assert_eq!(s.offer(&video_header(10)), Step::Skip);
        assert_eq!(s.offer(&audio_header(20)), Step::Skip);
        assert_eq!(s.offer(&inter(900)), Step::Skip, "no picture to start from");
        assert_eq!(
            s.offer(&audio(950)),
            Step::Skip,
            "audio waits for the video"
        );
        assert_eq!(s.offer(&key(1000)), START);
        let (metadata, headers) = s.start_frames();
        assert!(metadata.is_some());
        let tags: Vec<u8> = headers.map(|h| h.payload[0]).collect();
        assert_eq!(tags, [10, 20]);
        assert_eq!(s.offer(&audio(1010)), write(10));
        assert_eq!(s.offer(&inter(1040)), write(40));
        assert_eq!(s.has_video_audio(), (true, true));
    }

    #[test]
    fn the_next_segment_starts_at_the_first_keyframe_after_the_length() {
        let mut s = segmenter(2_000);
        s.offer(&video_header(10));
        assert_eq!(s.offer(&key(0)), START);
        assert_eq!(s.offer(&inter(1960)), write(1960));
        assert_eq!(
            s.offer(&inter(2000)),
            write(2000),
            "only a keyframe starts one"
        );
        assert_eq!(s.offer(&key(1999)), write(1999));
        assert_eq!(
            s.offer(&key(2040)),
            Step::Start {
                closing: Some(SegmentEnd::Length)
            }
        );
        assert_eq!(
            s.offer(&inter(2080)),
            write(40),
            "the new one counts from 0"
        );
        assert_eq!(
            s.offer(&audio(2030)),
            Step::Skip,
            "audio from before its start"
        );
    }

    #[test]
    fn a_segment_that_reached_its_size_ends_at_the_next_keyframe() {
        let mut s = Segmenter::new(SegmentRules {
            segment_ms: u32::MAX,
            max_bytes: 1000,
        });
        assert_eq!(s.offer(&key(0)), START);
        s.wrote(999);
        assert_eq!(s.offer(&key(40)), write(40));
        s.wrote(1);
        assert_eq!(
            s.offer(&key(80)),
            Step::Start {
                closing: Some(SegmentEnd::Size)
            }
        );
    }

    #[test]
    fn a_stream_without_video_starts_and_rotates_on_audio() {
        let mut s = segmenter(1_000);
        s.offer(&audio_header(20));
        assert_eq!(s.offer(&audio(500)), START);
        assert_eq!(s.has_video_audio(), (false, true));
        assert_eq!(s.offer(&audio(1400)), write(900));
        assert_eq!(
            s.offer(&audio(1500)),
            Step::Start {
                closing: Some(SegmentEnd::Length)
            }
        );
    }

    #[test]
    fn a_changed_header_ends_the_segment_and_the_next_starts_with_it() {
        let mut s = segmenter(60_000);
        s.offer(&video_header(10));
        s.offer(&audio_header(20));
        assert_eq!(s.offer(&key(0)), START);
        assert_eq!(s.offer(&audio(20)), write(20));
        // The same headers again (a camera that reconnected as it was): nothing changes.
        assert_eq!(s.offer(&video_header(10)), Step::Skip);
        assert_eq!(s.offer(&audio_header(20)), Step::Skip);
        assert_eq!(s.offer(&key(1000)), write(1000));
        // A new picture size.
        assert_eq!(
            s.offer(&video_header(11)),
            Step::Close(SegmentEnd::HeadersChanged)
        );
        assert_eq!(s.offer(&inter(1040)), Step::Skip);
        assert_eq!(s.offer(&key(2000)), START);
        let tags: Vec<u8> = s.start_frames().1.map(|h| h.payload[0]).collect();
        assert_eq!(
            tags,
            [20, 11],
            "the audio header kept, the new video header"
        );
    }

    #[test]
    fn a_late_audio_header_goes_into_the_open_segment() {
        let mut s = segmenter(60_000);
        s.offer(&video_header(10));
        assert_eq!(s.offer(&key(100)), START);
        assert_eq!(s.offer(&audio_header(20)), write(0));
        assert_eq!(s.offer(&audio(120)), write(20));
    }

    /// Enhanced RTMP multitrack (OneTrack) VP9 messages of track `track`.
    fn vp9(ts: u32, track: u8, packet: Vp9) -> Frame {
        let (first, second, header, keyframe) = match packet {
            Vp9::Header(_) => (0x96, 0x00, true, false),
            Vp9::Key => (0x96, 0x01, false, true),
            Vp9::Inter => (0xA6, 0x01, false, false),
        };
        let mut payload = vec![first, second, b'v', b'p', b'0', b'9', track];
        match packet {
            Vp9::Header(version) => payload.extend_from_slice(&[1, version, 0, 0, 0, 0, 0, 0]),
            _ => payload.push(0xAA),
        }
        let frame = Frame {
            kind: FrameKind::Video,
            keyframe,
            sequence_header: header,
            timestamp: Timestamp(ts),
            payload: Arc::from(payload),
        };
        assert_eq!(FrameTracks::of(&frame).tracks, TrackSet::single(track));
        frame
    }

    #[derive(Clone, Copy)]
    enum Vp9 {
        Header(u8),
        Key,
        Inter,
    }

    #[test]
    fn multitrack_segments_start_on_the_default_track_and_take_each_track_from_its_keyframe() {
        let mut s = segmenter(60_000);
        assert_eq!(s.offer(&vp9(0, 0, Vp9::Header(1))), Step::Skip);
        assert_eq!(s.offer(&vp9(0, 1, Vp9::Header(1))), Step::Skip);
        assert_eq!(
            s.offer(&vp9(0, 1, Vp9::Key)),
            Step::Skip,
            "not the default track"
        );
        assert_eq!(s.offer(&vp9(40, 0, Vp9::Key)), START);
        assert_eq!(s.start_frames().1.count(), 2, "both tracks' headers");
        assert_eq!(
            s.offer(&vp9(80, 1, Vp9::Inter)),
            Step::Skip,
            "track 1 not keyed yet"
        );
        assert_eq!(s.offer(&vp9(80, 0, Vp9::Inter)), write(40));
        assert_eq!(s.offer(&vp9(120, 1, Vp9::Key)), write(80));
        assert_eq!(s.offer(&vp9(160, 1, Vp9::Inter)), write(120));
        // Track 1's header again as it was: nothing changes; changed: a new segment.
        assert_eq!(s.offer(&vp9(200, 1, Vp9::Header(1))), Step::Skip);
        assert_eq!(
            s.offer(&vp9(200, 1, Vp9::Header(2))),
            Step::Close(SegmentEnd::HeadersChanged)
        );
        assert_eq!(s.offer(&vp9(240, 0, Vp9::Key)), START);
        let versions: Vec<(u8, u8)> = s
            .start_frames()
            .1
            .map(|h| (h.payload[6], h.payload[8]))
            .collect();
        assert_eq!(versions, [(0, 1), (1, 2)], "track 0's kept, track 1's new");
    }

    #[test]
    fn a_configuration_for_a_new_track_goes_into_the_open_segment() {
        let mut s = segmenter(60_000);
        s.offer(&vp9(0, 0, Vp9::Header(1)));
        assert_eq!(s.offer(&vp9(0, 0, Vp9::Key)), START);
        assert_eq!(s.offer(&vp9(500, 3, Vp9::Header(1))), write(500));
        assert_eq!(s.offer(&vp9(540, 3, Vp9::Key)), write(540));
    }

    #[test]
    fn a_new_publisher_ends_the_segment_and_its_headers_start_over() {
        let mut s = segmenter(60_000);
        s.offer(&video_header(10));
        s.offer(&key(0));
        assert_eq!(
            s.publisher_changed(SegmentEnd::NewPublisher),
            Some(SegmentEnd::NewPublisher)
        );
        assert_eq!(s.publisher_changed(SegmentEnd::PublisherLeft), None);
        assert_eq!(s.offer(&video_header(12)), Step::Skip);
        assert_eq!(s.offer(&key(5000)), START);
        let tags: Vec<u8> = s.start_frames().1.map(|h| h.payload[0]).collect();
        assert_eq!(tags, [12]);
    }

    #[test]
    fn timestamps_that_jump_end_the_segment() {
        let mut s = segmenter(600_000);
        s.offer(&key(10_000));
        assert_eq!(
            s.offer(&inter(9_000)),
            Step::Close(SegmentEnd::TimestampJump)
        );
        assert_eq!(s.offer(&key(9_040)), START);
        assert_eq!(
            s.offer(&key(9_040 + 61_000)),
            Step::Start {
                closing: Some(SegmentEnd::TimestampJump)
            }
        );
    }

    #[test]
    fn timestamps_wrap_within_a_segment() {
        let mut s = segmenter(600_000);
        assert_eq!(s.offer(&key(u32::MAX - 10)), START);
        assert_eq!(s.offer(&inter(29)), write(40));
    }

    #[test]
    fn data_messages_go_into_an_open_segment_only() {
        let mut s = segmenter(60_000);
        let cue = frame(FrameKind::Data, 50, false, false, 7);
        assert_eq!(s.offer(&cue), Step::Skip);
        s.offer(&key(0));
        assert_eq!(s.offer(&cue), write(50));
    }
}
