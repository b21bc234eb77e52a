//! The recordings as the listener shows them: the registry read once, the newest segments
//! each named by its stream, with the path to download it.
//!
//! Segments are listed by folder (`APP/STREAM`); a folder is shown as the public name of
//! the stream recorded into it, or as itself when no recorder of this run writes there
//! (segments of a stream no longer configured stay on disk until the budget takes them).

use super::download;
use crate::server::recorder::layout::stream_rel_dir;
use crate::server::recorder::{RecordingRegistry, RecordingsSnapshot};

/// Most segments a listing shows (the JSON and the page), newest first.
pub const LISTED_SEGMENTS: usize = 200;

/// One segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentView {
    /// The stream's public name (`live/cam`), or its folder when no recorder writes there.
    pub stream: String,
    /// `APP/STREAM/FILE`, relative to the recording folder.
    pub path: String,
    /// Seconds since 1970 of its start (UTC).
    pub start: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its media duration in ms, when known.
    pub duration_ms: Option<u32>,
    /// Still being written (no download).
    pub open: bool,
}

impl SegmentView {
    /// Its file name.
    pub fn file(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// Where to download it (no query); `None` while it is open.
    pub fn download(&self) -> Option<String> {
        (!self.open).then(|| format!("{}{}", download::PREFIX, self.path))
    }
}

/// The recordings at one moment.
#[derive(Debug, Clone, Default)]
pub struct RecordingsView {
    /// The counters and the budget.
    pub snapshot: RecordingsSnapshot,
    /// The newest segments, newest first, at most `limit`.
    pub segments: Vec<SegmentView>,
    /// The most segments listed.
    pub limit: usize,
}

impl RecordingsView {
    /// Whether recording is on.
    pub fn is_on(&self) -> bool {
        self.snapshot.budget.is_some()
    }
}

/// Reads `registry`: its counters, budget and newest `limit` segments.
pub fn gather(registry: &RecordingRegistry, limit: usize) -> RecordingsView {
    let snapshot = registry.snapshot();
    let folders: Vec<(String, &str)> = snapshot
        .recorders
        .iter()
        .map(|r| (stream_rel_dir(&r.stream), r.stream.as_str()))
        .collect();
    let segments = registry
        .segments(limit)
        .into_iter()
        .map(|s| {
            let folder = s.path.rsplit_once('/').map_or("", |(folder, _)| folder);
            let stream = folders
                .iter()
                .find(|(dir, _)| dir == folder)
                .map_or(folder, |(_, stream)| stream);
            SegmentView {
                stream: stream.to_string(),
                path: s.path,
                start: s.start,
                bytes: s.bytes,
                duration_ms: s.duration_ms,
                open: s.open,
            }
        })
        .collect();
    RecordingsView {
        snapshot,
        segments,
        limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_segment_has_a_download_path_and_an_open_one_none() {
        let mut segment = SegmentView {
            stream: "live/cam".into(),
            path: "live/cam/20240501T120000Z.flv".into(),
            start: 1_714_564_800,
            bytes: 10,
            duration_ms: None,
            open: false,
        };
        assert_eq!(segment.file(), "20240501T120000Z.flv");
        assert_eq!(
            segment.download().as_deref(),
            Some("/recordings/live/cam/20240501T120000Z.flv")
        );
        segment.open = true;
        assert_eq!(segment.download(), None);
    }

    #[test]
    fn recording_off_lists_nothing() {
        let view = gather(&RecordingRegistry::default(), LISTED_SEGMENTS);
        assert!(!view.is_on());
        assert!(view.segments.is_empty());
    }
}
