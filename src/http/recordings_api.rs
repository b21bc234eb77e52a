//! `/api/v1/recordings`: the recorders, the disk budget and the newest segments, as JSON.
//!
//! ```text
//! {"recording": bool,
//!  "budget": {"max_bytes", "used_bytes", "segments", "deleted_segments", "deleted_bytes",
//!             "keep_hours"} | null,
//!  "recorders": [{"stream", "state", "current_segment", "bytes_written", "frames_written",
//!                 "segments_closed", "frames_dropped", "write_errors"}],
//!  "segments": [{"stream", "path", "file", "start", "bytes", "duration_seconds", "open",
//!                "download"}],
//!  "segments_limit"}
//! ```
//! `recording` is false and the rest empty without `--record-dir`. `segments` lists the
//! newest `segments_limit` (200) files across streams, newest first: the open ones, then the
//! closed ones. `stream` is the public name (`live/cam`, never a key), or the folder for
//! segments no recorder of this run writes. `start` is UTC (ISO 8601); `duration_seconds`
//! is `null` when unknown (open segments, and those found on disk at start); `download` is
//! the path to fetch a closed segment from (`null` while it is open). `budget.segments`
//! counts every closed segment kept, listed or not.

use std::time::{Duration, UNIX_EPOCH};

use super::json::{JsonWriter, Scalar};
use super::recordings::{RecordingsView, SegmentView};
use crate::logging::utc_timestamp;
use crate::server::recorder::RecorderSnapshot;

/// Renders `view` as the recordings document.
pub fn recordings(view: &RecordingsView) -> String {
    let mut w = JsonWriter::default();
    w.begin_object();
    w.field("recording", Scalar::Bool(view.is_on()));
    w.key("budget");
    match &view.snapshot.budget {
        Some(b) => {
            w.begin_object();
            w.field("max_bytes", Scalar::Uint(b.max_bytes));
            w.field("used_bytes", Scalar::Uint(b.used_bytes));
            w.field("segments", Scalar::Uint(b.segments as u64));
            w.field("deleted_segments", Scalar::Uint(b.deleted_segments));
            w.field("deleted_bytes", Scalar::Uint(b.deleted_bytes));
            w.field(
                "keep_hours",
                b.keep
                    .map_or(Scalar::Null, |k| Scalar::Uint(k.as_secs() / 3600)),
            );
            w.end_object();
        }
        None => {
            w.value(Scalar::Null);
        }
    }
    w.key("recorders").begin_array();
    for recorder in &view.snapshot.recorders {
        write_recorder(&mut w, recorder);
    }
    w.end_array();
    w.key("segments").begin_array();
    for segment in &view.segments {
        write_segment(&mut w, segment);
    }
    w.end_array();
    w.field("segments_limit", Scalar::Uint(view.limit as u64));
    w.end_object();
    let mut text = w.finish();
    text.push('\n');
    text
}

fn write_recorder(w: &mut JsonWriter, r: &RecorderSnapshot) {
    w.begin_object();
    w.field("stream", Scalar::Str(&r.stream));
    w.field("state", Scalar::Str(r.state.name()));
    w.field(
        "current_segment",
        r.current_segment
            .as_deref()
            .map_or(Scalar::Null, Scalar::Str),
    );
    w.field("bytes_written", Scalar::Uint(r.bytes_written));
    w.field("frames_written", Scalar::Uint(r.frames_written));
    w.field("segments_closed", Scalar::Uint(r.segments_closed));
    w.field("frames_dropped", Scalar::Uint(r.frames_dropped));
    w.field("write_errors", Scalar::Uint(r.write_errors));
    w.end_object();
}

fn write_segment(w: &mut JsonWriter, s: &SegmentView) {
    let start = utc_timestamp(UNIX_EPOCH + Duration::from_secs(s.start));
    let download = s.download();
    w.begin_object();
    w.field("stream", Scalar::Str(&s.stream));
    w.field("path", Scalar::Str(&s.path));
    w.field("file", Scalar::Str(s.file()));
    w.field("start", Scalar::Str(&start));
    w.field("bytes", Scalar::Uint(s.bytes));
    w.field(
        "duration_seconds",
        s.duration_ms
            .map_or(Scalar::Null, |ms| Scalar::Float(f64::from(ms) / 1000.0)),
    );
    w.field("open", Scalar::Bool(s.open));
    w.field(
        "download",
        download.as_deref().map_or(Scalar::Null, Scalar::Str),
    );
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::recorder::{BudgetSnapshot, RecorderState, RecordingsSnapshot};

    #[test]
    fn recorders_budget_and_segments_are_listed_and_open_ones_have_no_download() {
        let view = RecordingsView {
            snapshot: RecordingsSnapshot {
                dir: Some("/rec".into()),
                budget: Some(BudgetSnapshot {
                    max_bytes: 1000,
                    used_bytes: 350,
                    segments: 1,
                    deleted_segments: 0,
                    deleted_bytes: 0,
                    keep: Some(Duration::from_secs(48 * 3600)),
                }),
                recorders: vec![RecorderSnapshot {
                    stream: "live/cam".into(),
                    state: RecorderState::Recording,
                    current_segment: Some("live/cam/20240501T121000Z.flv.part".into()),
                    bytes_written: 350,
                    frames_written: 20,
                    segments_closed: 1,
                    frames_dropped: 0,
                    drop_events: 0,
                    write_errors: 0,
                }],
            },
            segments: vec![
                SegmentView {
                    stream: "live/cam".into(),
                    path: "live/cam/20240501T121000Z.flv.part".into(),
                    start: 1_714_565_400,
                    bytes: 50,
                    duration_ms: None,
                    open: true,
                },
                SegmentView {
                    stream: "live/cam".into(),
                    path: "live/cam/20240501T120000Z.flv".into(),
                    start: 1_714_564_800,
                    bytes: 300,
                    duration_ms: Some(599_960),
                    open: false,
                },
            ],
            limit: 200,
        };
        let text = recordings(&view);
        assert!(
            text.starts_with(
                r#"{"recording":true,"budget":{"max_bytes":1000,"used_bytes":350,"segments":1,"deleted_segments":0,"deleted_bytes":0,"keep_hours":48},"recorders":[{"stream":"live/cam","state":"recording","current_segment":"live/cam/20240501T121000Z.flv.part","#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"{"stream":"live/cam","path":"live/cam/20240501T121000Z.flv.part","file":"20240501T121000Z.flv.part","start":"2024-05-01T12:10:00.000Z","bytes":50,"duration_seconds":null,"open":true,"download":null}"#),
            "{text}"
        );
        assert!(
            text.contains(r#""start":"2024-05-01T12:00:00.000Z","bytes":300,"duration_seconds":599.96,"open":false,"download":"/recordings/live/cam/20240501T120000Z.flv"}],"segments_limit":200}"#),
            "{text}"
        );
    }

    #[test]
    fn recording_off_says_so() {
        let text = recordings(&RecordingsView {
            limit: 200,
            ..RecordingsView::default()
        });
        assert_eq!(
            text,
            "{\"recording\":false,\"budget\":null,\"recorders\":[],\"segments\":[],\"segments_limit\":200}\n"
        );
    }
}
