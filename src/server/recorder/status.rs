//! Recordings as operators see them: a registry the recorders update through atomics and
//! the metrics, the JSON API and the status page read without touching a recorder's data
//! path.
//!
//! `RecordingRegistry::snapshot` gives the counters per stream and the disk budget;
//! `segments` lists the segment files (newest first) with paths relative to the recording
//! folder, for download links; `file` maps such a path back to a file, and only for a
//! segment in the list, so a request can never name anything else.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use super::budget::Budget;

/// Where one stream's recorder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecorderState {
    /// No segment open: the stream is not live, or it waits for a keyframe.
    Waiting,
    /// Writing a segment.
    Recording,
    /// A write failed; it tries again at the next segment.
    Failed,
}

impl RecorderState {
    /// Every state, in code order.
    pub const ALL: [RecorderState; 3] = [
        RecorderState::Waiting,
        RecorderState::Recording,
        RecorderState::Failed,
    ];

    /// The name used in metrics labels, the JSON and the page.
    pub fn name(self) -> &'static str {
        match self {
            RecorderState::Waiting => "waiting",
            RecorderState::Recording => "recording",
            RecorderState::Failed => "failed",
        }
    }

    fn from_code(code: u8) -> RecorderState {
        RecorderState::ALL
            .get(usize::from(code))
            .copied()
            .unwrap_or(RecorderState::Failed)
    }
}

/// The counters of one stream's recorder.
pub struct RecorderCounters {
    stream: String,
    state: AtomicU8,
    bytes_written: AtomicU64,
    frames_written: AtomicU64,
    segments_closed: AtomicU64,
    frames_dropped: AtomicU64,
    drop_events: AtomicU64,
    write_errors: AtomicU64,
    current: Mutex<Option<(String, u64)>>,
}

impl RecorderCounters {
    fn new(stream: &str) -> Self {
        RecorderCounters {
            stream: stream.to_string(),
            state: AtomicU8::new(RecorderState::Waiting as u8),
            bytes_written: AtomicU64::new(0),
            frames_written: AtomicU64::new(0),
            segments_closed: AtomicU64::new(0),
            frames_dropped: AtomicU64::new(0),
            drop_events: AtomicU64::new(0),
            write_errors: AtomicU64::new(0),
            current: Mutex::new(None),
        }
    }

    /// Records where the recorder stands.
    pub fn set_state(&self, state: RecorderState) {
        self.state.store(state as u8, Ordering::Relaxed);
    }

    /// Counts bytes handed to the disk.
    pub fn add_bytes(&self, n: u64) {
        self.bytes_written.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a frame written.
    pub fn add_frame(&self) {
        self.frames_written.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a closed segment.
    pub fn segment_closed(&self) {
        self.segments_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one spell of falling behind, in which `frames` were lost.
    pub fn dropped(&self, frames: u64) {
        self.drop_events.fetch_add(1, Ordering::Relaxed);
        self.frames_dropped.fetch_add(frames, Ordering::Relaxed);
    }

    /// Counts a failed write (or a segment that could not be made).
    pub fn write_failed(&self) {
        self.write_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The open segment (relative path, bytes so far), if any.
    pub fn set_current(&self, current: Option<(String, u64)>) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = current;
    }

    fn current(&self) -> Option<(String, u64)> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// A copy of one recorder's status at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderSnapshot {
    /// The hub name of the stream (`live/cam`).
    pub stream: String,
    /// Where it stands.
    pub state: RecorderState,
    /// The segment being written, relative to the recording folder.
    pub current_segment: Option<String>,
    /// Bytes handed to the disk since start.
    pub bytes_written: u64,
    /// Frames written since start.
    pub frames_written: u64,
    /// Segments closed since start.
    pub segments_closed: u64,
    /// Frames lost because the disk was too slow (the hub dropped them from its queue).
    pub frames_dropped: u64,
    /// Spells of falling behind.
    pub drop_events: u64,
    /// Writes that failed (each stopped a segment).
    pub write_errors: u64,
}

/// A copy of the disk budget at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetSnapshot {
    /// Bytes the recordings may take.
    pub max_bytes: u64,
    /// Bytes they take now (closed and open segments).
    pub used_bytes: u64,
    /// Closed segments on disk.
    pub segments: usize,
    /// Segments deleted since start.
    pub deleted_segments: u64,
    /// Bytes deleted since start.
    pub deleted_bytes: u64,
    /// How long segments are kept, if limited.
    pub keep: Option<Duration>,
}

/// A copy of the recordings' status at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingsSnapshot {
    /// The recording folder; `None` when recording is off (everything else is empty).
    pub dir: Option<PathBuf>,
    /// The disk budget.
    pub budget: Option<BudgetSnapshot>,
    /// One per recorded stream, by stream name.
    pub recorders: Vec<RecorderSnapshot>,
}

/// One segment file, for lists and download links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSnapshot {
    /// `app/stream/file.flv` (or `.flv.part` while open), relative to the recording folder.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Seconds since 1970 of its start (UTC).
    pub start: u64,
    /// Still being written.
    pub open: bool,
}

struct Setup {
    dir: PathBuf,
    budget: Arc<Mutex<Budget>>,
}

#[derive(Default)]
struct Inner {
    setup: OnceLock<Setup>,
    recorders: Mutex<Vec<Arc<RecorderCounters>>>,
}

/// The recordings: set up once when recording starts, empty when it is off.
#[derive(Default, Clone)]
pub struct RecordingRegistry {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RecordingRegistry {
    /// Records the folder and its budget (once; later calls are ignored).
    pub(super) fn set_up(&self, dir: PathBuf, budget: Arc<Mutex<Budget>>) {
        let _ = self.inner.setup.set(Setup { dir, budget });
    }

    /// Adds the counters of a recorder of hub stream `stream`.
    pub(super) fn register(&self, stream: &str) -> Arc<RecorderCounters> {
        let counters = Arc::new(RecorderCounters::new(stream));
        let mut recorders = lock(&self.inner.recorders);
        let at = recorders.partition_point(|r| r.stream.as_str() <= stream);
        recorders.insert(at, counters.clone());
        counters
    }

    /// Whether recording is on.
    pub fn is_on(&self) -> bool {
        self.inner.setup.get().is_some()
    }

    /// The counters and the budget now.
    pub fn snapshot(&self) -> RecordingsSnapshot {
        let Some(setup) = self.inner.setup.get() else {
            return RecordingsSnapshot {
                dir: None,
                budget: None,
                recorders: Vec::new(),
            };
        };
        let budget = {
            let budget = lock(&setup.budget);
            let (deleted_segments, deleted_bytes) = budget.deleted();
            BudgetSnapshot {
                max_bytes: budget.limits().max_bytes,
                used_bytes: budget.used_bytes(),
                segments: budget.closed().len(),
                deleted_segments,
                deleted_bytes,
                keep: budget.limits().keep,
            }
        };
        let recorders = lock(&self.inner.recorders)
            .iter()
            .map(|r| RecorderSnapshot {
                stream: r.stream.clone(),
                state: RecorderState::from_code(r.state.load(Ordering::Relaxed)),
                current_segment: r.current().map(|(path, _)| path),
                bytes_written: r.bytes_written.load(Ordering::Relaxed),
                frames_written: r.frames_written.load(Ordering::Relaxed),
                segments_closed: r.segments_closed.load(Ordering::Relaxed),
                frames_dropped: r.frames_dropped.load(Ordering::Relaxed),
                drop_events: r.drop_events.load(Ordering::Relaxed),
                write_errors: r.write_errors.load(Ordering::Relaxed),
            })
            .collect();
        RecordingsSnapshot {
            dir: Some(setup.dir.clone()),
            budget: Some(budget),
            recorders,
        }
    }

    /// The newest `limit` segment files, newest first: open ones, then closed ones.
    pub fn segments(&self, limit: usize) -> Vec<SegmentSnapshot> {
        let Some(setup) = self.inner.setup.get() else {
            return Vec::new();
        };
        let mut list: Vec<SegmentSnapshot> = Vec::new();
        for (path, bytes) in lock(&self.inner.recorders)
            .iter()
            .filter_map(|r| r.current())
        {
            let file = path.rsplit('/').next().unwrap_or_default();
            let Some(name) = super::layout::SegmentName::parse(file) else {
                continue;
            };
            // Newest first, kept in order as they go in (a handful: one per stream).
            let at = list.partition_point(|s| s.start >= name.start);
            list.insert(
                at,
                SegmentSnapshot {
                    path,
                    bytes,
                    start: name.start,
                    open: true,
                },
            );
        }
        let budget = lock(&setup.budget);
        let closed = budget.closed().iter().rev().map(|s| SegmentSnapshot {
            path: s.rel_path.clone(),
            bytes: s.bytes,
            start: s.start,
            open: false,
        });
        list.extend(closed);
        list.truncate(limit);
        list
    }

    /// The file of a segment in the list, by its relative path; `None` for any other path.
    pub fn file(&self, rel_path: &str) -> Option<PathBuf> {
        let setup = self.inner.setup.get()?;
        let open = lock(&self.inner.recorders)
            .iter()
            .any(|r| r.current().is_some_and(|(path, _)| path == rel_path));
        let closed = lock(&setup.budget)
            .closed()
            .iter()
            .any(|s| s.rel_path == rel_path);
        (open || closed).then(|| setup.dir.join(rel_path))
    }
}

#[cfg(test)]
mod tests {
    use super::super::budget::{BudgetLimits, ClosedSegment};
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn an_unused_registry_shows_recording_off() {
        let registry = RecordingRegistry::default();
        assert!(!registry.is_on());
        let snapshot = registry.snapshot();
        assert_eq!((snapshot.dir, snapshot.budget), (None, None));
        assert!(registry.segments(10).is_empty());
        assert_eq!(registry.file("live/cam/20240501T123000Z.flv"), None);
    }

    #[test]
    fn counters_segments_and_files_are_shown_and_only_listed_files_resolve() {
        let registry = RecordingRegistry::default();
        let mut budget = Budget::new(BudgetLimits {
            max_bytes: 1000,
            keep: None,
            keep_free: 0,
        });
        budget.add_closed(ClosedSegment {
            rel_path: "live/cam/20240501T120000Z.flv".into(),
            path: PathBuf::from("/rec/live/cam/20240501T120000Z.flv"),
            stem: "20240501T120000Z".into(),
            start: 1_714_564_800,
            bytes: 300,
            ended: SystemTime::now(),
        });
        budget.set_open(1, 50);
        registry.set_up(PathBuf::from("/rec"), Arc::new(Mutex::new(budget)));
        let cam = registry.register("live/cam");
        cam.set_state(RecorderState::Recording);
        cam.add_bytes(350);
        cam.dropped(12);
        cam.set_current(Some(("live/cam/20240501T121000Z.flv.part".into(), 50)));
        let snapshot = registry.snapshot();
        assert_eq!(snapshot.dir, Some(PathBuf::from("/rec")));
        let budget = snapshot.budget.unwrap();
        assert_eq!(
            (budget.max_bytes, budget.used_bytes, budget.segments),
            (1000, 350, 1)
        );
        let rec = &snapshot.recorders[0];
        assert_eq!(rec.state, RecorderState::Recording);
        assert_eq!(
            (rec.bytes_written, rec.frames_dropped, rec.drop_events),
            (350, 12, 1)
        );
        let segments = registry.segments(10);
        let paths: Vec<(&str, bool)> = segments.iter().map(|s| (s.path.as_str(), s.open)).collect();
        assert_eq!(
            paths,
            [
                ("live/cam/20240501T121000Z.flv.part", true),
                ("live/cam/20240501T120000Z.flv", false)
            ]
        );
        assert_eq!(registry.segments(1).len(), 1);
        assert_eq!(
            registry.file("live/cam/20240501T120000Z.flv"),
            Some(PathBuf::from("/rec/live/cam/20240501T120000Z.flv"))
        );
        assert!(
            registry
                .file("live/cam/20240501T121000Z.flv.part")
                .is_some()
        );
        assert_eq!(registry.file("../etc/passwd"), None);
        assert_eq!(registry.file("live/cam/20240501T000000Z.flv"), None);
    }
}
