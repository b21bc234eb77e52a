//! A recorder driven through a real hub with made-up frames, writing real files.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::budget::{Budget, BudgetLimits};
use super::segment_file::SegmentFile;
use super::segmenter::{SegmentEnd, SegmentRules};
use super::status::{RecorderState, RecordingRegistry};
use super::stream_recorder::{RecorderSetup, StreamRecorder};
use super::*;
use crate::flv::{PREAMBLE_LEN, TAG_HEADER_LEN, TagHeader, TagType, TagWalk, duration_of};
use crate::rtmp::Timestamp;
use crate::server::frame::{Frame, FrameKind};
use crate::server::hub::{Doorbell, NoWake};
use crate::server::hub::{Hub, HubLimits, Publication, PublisherInfo, Subscription};

struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn folder(tag: &str) -> Folder {
    let dir = std::env::temp_dir().join(format!("rtmpsd-rec-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("live/cam")).unwrap();
    Folder(dir)
}

fn frame(kind: FrameKind, ts: u32, keyframe: bool, header: bool, len: usize) -> Frame {
    Frame {
        kind,
        keyframe,
        sequence_header: header,
        timestamp: Timestamp(ts),
        payload: Arc::from(vec![ts as u8; len]),
    }
}

/// The hub, a publication of `live/cam`, and a recorder subscribed with a queue of `len`.
struct Rig {
    publication: Publication,
    subscription: Subscription,
    recorder: StreamRecorder,
    registry: RecordingRegistry,
    _hub: Hub,
}

fn rig(root: &Path, segment_ms: u32, queue_len: usize) -> Rig {
    let hub = Hub::new(HubLimits {
        gop_cache_bytes: 1 << 20,
        max_players: 4,
    });
    let budget = Arc::new(Mutex::new(Budget::new(BudgetLimits {
        max_bytes: u64::MAX,
        keep: None,
        keep_free: 0,
    })));
    let registry = RecordingRegistry::default();
    registry.set_up(root.to_path_buf(), budget.clone());
    let setup = Arc::new(RecorderSetup {
        root: root.to_path_buf(),
        rules: SegmentRules {
            segment_ms,
            max_bytes: u64::MAX,
        },
        queue: QueueLimits {
            len: queue_len,
            bytes: 1 << 20,
            slow_after: Duration::from_secs(3600),
        },
        budget,
    });
    let counters = registry.register("live/cam");
    let mut recorder = StreamRecorder::new("live/cam", "live/cam", 0, setup, counters);
    let subscription = recorder.subscribe(&hub, 100).unwrap();
    let info = PublisherInfo {
        id: 1,
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], 1935)),
    };
    let (publication, _) = hub
        .publish("live/cam", info, Arc::new(Doorbell::new(NoWake)), false)
        .unwrap();
    Rig {
        publication,
        subscription,
        recorder,
        registry,
        _hub: hub,
    }
}

impl Rig {
    fn push(&self, frame: Frame) {
        self.publication.push(frame, Instant::now());
    }

    /// Metadata and both sequence headers.
    fn headers(&self) {
        self.push(frame(FrameKind::Metadata, 0, false, false, 30));
        self.push(frame(FrameKind::Video, 0, false, true, 20));
        self.push(frame(FrameKind::Audio, 0, false, true, 4));
    }

    /// One second of 25 fps video (a keyframe first) and audio, from `start` ms.
    fn second(&self, start: u32) {
        for i in 0..25 {
            let ts = start + i * 40;
            self.push(frame(FrameKind::Video, ts, i == 0, false, 500));
            self.push(frame(FrameKind::Audio, ts + 5, false, false, 50));
        }
    }

    fn pump(&mut self) {
        self.recorder
            .pump(&mut self.subscription, Instant::now())
            .expect("not evicted");
    }
}

/// Closed segments of `live/cam`, oldest first.
fn closed_segments(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(root.join("live/cam"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(".flv"))
        .collect();
    files.sort();
    files
}

/// Every tag of a file: (type, timestamp).
fn tags(file: &[u8]) -> Vec<(TagType, u32)> {
    let mut out = Vec::new();
    let mut at = PREAMBLE_LEN;
    while at < file.len() {
        let crate::flv::Parsed::Complete { value, .. } = TagHeader::parse(&file[at..]).unwrap()
        else {
            panic!("short tag");
        };
        out.push((value.tag_type, value.timestamp));
        at += value.total_len() as usize;
    }
    out
}

#[test]
fn a_stream_becomes_a_segment_that_starts_with_its_headers_at_zero() {
    let dir = folder("one");
    let mut rig = rig(&dir.0, 60_000, 1000);
    rig.headers();
    rig.second(5000);
    rig.second(6000);
    rig.pump();
    assert_eq!(
        rig.registry.snapshot().recorders[0].state,
        RecorderState::Recording
    );
    rig.recorder
        .end_segment(SegmentEnd::Shutdown, Instant::now());
    let files = closed_segments(&dir.0);
    assert_eq!(files.len(), 1);
    let bytes = fs::read(&files[0]).unwrap();
    let walk = TagWalk::over(&bytes).unwrap();
    assert_eq!(walk.sound_len(), bytes.len() as u64);
    let tags = tags(&bytes);
    assert_eq!(
        &tags[..4],
        &[
            (TagType::Script, 0),
            (TagType::Video, 0),
            (TagType::Audio, 0),
            (TagType::Video, 0)
        ],
        "metadata, headers, then the keyframe, all at 0"
    );
    assert_eq!(tags.len(), 3 + 100);
    assert!(tags.windows(2).all(|w| w[0].1 <= w[1].1), "monotonic");
    assert_eq!(tags.last().unwrap().1, 1965);
    assert_eq!(
        duration_of(&bytes[PREAMBLE_LEN + TAG_HEADER_LEN..]),
        Some(1.965)
    );
    let snapshot = rig.registry.snapshot();
    let rec = &snapshot.recorders[0];
    assert_eq!((rec.segments_closed, rec.frames_written), (1, 100));
    assert_eq!(rec.bytes_written, bytes.len() as u64);
    assert_eq!(snapshot.budget.unwrap().segments, 1);
}

#[test]
fn segments_rotate_at_the_first_keyframe_after_their_length_and_each_plays_alone() {
    let dir = folder("rotate");
    let mut rig = rig(&dir.0, 2000, 1000);
    rig.headers();
    for s in 0..5 {
        rig.second(s * 1000);
        rig.pump();
    }
    rig.recorder
        .end_segment(SegmentEnd::Shutdown, Instant::now());
    let files = closed_segments(&dir.0);
    // 0-1960, 2000-3960, 4000-4960; in the same second, so named STAMP, STAMP_01, STAMP_02.
    assert_eq!(files.len(), 3, "{files:?}");
    for file in &files {
        let tags = tags(&fs::read(file).unwrap());
        assert_eq!(tags[0], (TagType::Script, 0));
        assert_eq!(
            tags[3],
            (TagType::Video, 0),
            "{file:?} starts on its keyframe"
        );
    }
}

#[test]
fn a_recorder_that_falls_behind_loses_video_to_the_next_keyframe_and_counts_it() {
    let dir = folder("behind");
    let mut rig = rig(&dir.0, 60_000, 64);
    rig.headers();
    rig.second(0);
    rig.pump();
    // The disk stalls: three seconds arrive while the recorder writes nothing.
    rig.second(1000);
    rig.second(2000);
    rig.second(3000);
    rig.pump();
    rig.second(4000);
    rig.pump();
    rig.recorder
        .end_segment(SegmentEnd::Shutdown, Instant::now());
    let rec = rig.registry.snapshot().recorders[0].clone();
    assert!(rec.frames_dropped > 50, "{rec:?}");
    assert_eq!(rec.drop_events, 1);
    let bytes = fs::read(&closed_segments(&dir.0)[0]).unwrap();
    let tags = tags(&bytes);
    assert!(tags.windows(2).all(|w| w[0].1 <= w[1].1), "monotonic");
    // After the gap, video goes on from a keyframe (every 1000 ms).
    let video: Vec<u32> = tags
        .iter()
        .filter(|(t, _)| *t == TagType::Video)
        .map(|(_, ts)| *ts)
        .collect();
    let gap = video.windows(2).find(|w| w[1] - w[0] > 40).unwrap();
    assert_eq!(gap[1] % 1000, 0, "resumed on a keyframe: {gap:?}");
}

#[test]
fn a_publisher_that_leaves_and_comes_back_gets_a_new_segment() {
    let dir = folder("again");
    let mut rig = rig(&dir.0, 60_000, 1000);
    rig.headers();
    rig.second(0);
    rig.pump();
    let Rig {
        publication,
        mut subscription,
        mut recorder,
        registry,
        _hub: hub,
    } = rig;
    drop(publication);
    recorder
        .pump(&mut subscription, Instant::now())
        .expect("not evicted");
    assert_eq!(
        registry.snapshot().recorders[0].state,
        RecorderState::Waiting
    );
    assert_eq!(
        closed_segments(&dir.0).len(),
        1,
        "closed when the publisher left"
    );
    let info = PublisherInfo {
        id: 2,
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], 1936)),
    };
    let (publication, _) = hub
        .publish("live/cam", info, Arc::new(Doorbell::new(NoWake)), false)
        .unwrap();
    let rig = Rig {
        publication,
        subscription,
        recorder,
        registry,
        _hub: hub,
    };
    let mut rig = rig;
    rig.headers();
    rig.second(0);
    rig.pump();
    rig.recorder
        .end_segment(SegmentEnd::Shutdown, Instant::now());
    assert_eq!(closed_segments(&dir.0).len(), 2);
}

#[test]
fn a_failed_write_ends_the_segment_keeps_what_was_whole_and_the_next_segment_tries_again() {
    let dir = folder("fail");
    let mut rig = rig(&dir.0, 2000, 1000);
    rig.headers();
    rig.second(0);
    rig.pump();
    rig.recorder.sync_now_for_test();
    // The disk fills: from now on every write fails with ENOSPC.
    let part = fs::read_dir(dir.0.join("live/cam"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_str().unwrap().ends_with(".flv.part"))
        .unwrap();
    let stem = part
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .replace(".flv.part", "");
    let full = fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let small = vec![0; 1024].into_boxed_slice();
    let broken = SegmentFile::on_file(full, &dir.0.join("live/cam"), &stem, small, Instant::now());
    rig.recorder.replace_file_for_test(broken);
    rig.second(1000);
    rig.pump();
    let snapshot = rig.registry.snapshot();
    let rec = &snapshot.recorders[0];
    assert_eq!(rec.state, RecorderState::Failed);
    assert_eq!(rec.write_errors, 1);
    // What reached the disk before the failure was finished as a segment of its own.
    let files = closed_segments(&dir.0);
    assert_eq!(files.len(), 1);
    assert!(!part.exists());
    // The next segment is due at 2000 ms: recording goes on there.
    rig.second(2000);
    rig.second(3000);
    rig.pump();
    assert_eq!(
        rig.registry.snapshot().recorders[0].state,
        RecorderState::Recording
    );
    rig.recorder
        .end_segment(SegmentEnd::Shutdown, Instant::now());
    let files = closed_segments(&dir.0);
    assert_eq!(files.len(), 2);
    let tags = tags(&fs::read(&files[1]).unwrap());
    assert_eq!(tags[3], (TagType::Video, 0));
    assert_eq!(tags.last().unwrap().1, 1965);
}

#[test]
fn a_folder_that_cannot_be_made_is_refused_with_the_reason() {
    let dir = folder("refuse");
    let file = dir.0.join("not-a-folder");
    fs::write(&file, b"").unwrap();
    let settings = RecordSettings {
        dir: file.join("rec"),
        segment: Duration::from_secs(600),
        max_bytes: Some(1 << 20),
        keep: None,
        streams: vec!["live/cam".into()],
        queue: RECORDER_QUEUE,
    };
    let Err(error) = prepare(settings) else {
        panic!("a folder under a file was accepted");
    };
    let text = error.to_string();
    assert!(
        text.contains("is not writable: cannot make the folder"),
        "{text}"
    );
}

#[test]
fn prepare_finishes_open_segments_and_counts_what_is_there() {
    let dir = folder("prepare");
    let mut rig = rig(&dir.0, 60_000, 1000);
    rig.headers();
    rig.second(0);
    rig.pump();
    rig.recorder.sync_now_for_test();
    // A power cut: the recorder never closes its segment.
    drop(rig);
    let settings = RecordSettings {
        dir: dir.0.clone(),
        segment: Duration::from_secs(600),
        max_bytes: Some(64 << 20),
        keep: None,
        streams: vec!["live/cam".into()],
        queue: RECORDER_QUEUE,
    };
    let prepared = prepare(settings).unwrap();
    assert_eq!(prepared.budget.closed().len(), 1);
    let files = closed_segments(&dir.0);
    assert_eq!(files.len(), 1);
    let bytes = fs::read(&files[0]).unwrap();
    assert_eq!(
        duration_of(&bytes[PREAMBLE_LEN + TAG_HEADER_LEN..]),
        Some(0.965)
    );
}
