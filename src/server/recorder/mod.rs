//! Local recording: every recorded stream kept on the box as segmented FLV, within a disk
//! budget, safe across power loss.
//!
//! `prepare` runs before the server starts: it refuses a folder it cannot write (with the
//! reason), finishes segments a power cut left open, and indexes what is there for the
//! budget. `PreparedRecording::start` then starts one recorder thread per stream, each a
//! hub subscriber (`SubscriberKind::Recorder`) with its own bounded queue, so a slow disk
//! never stalls a publisher or a player. `Recorders::stop` closes and syncs every open
//! segment.
//!
//! - `layout`: file and folder names (`DIR/<app>/<stream>/<UTC start>.flv`).
//! - `segmenter`: when segments start and end and what goes in them (no I/O, no clock).
//! - `segment_file`: one open segment: the write buffer, syncs, closing.
//! - `repair`: finishing segments left open.
//! - `budget`: the disk budget, deleting the oldest segments first.
//! - `stream_recorder`: one stream's thread.
//! - `status`: the registry the metrics and the status page read.

pub mod budget;
pub mod layout;
pub mod repair;
pub mod segment_file;
pub mod segmenter;
pub mod status;
pub mod stream_recorder;

#[cfg(test)]
mod tests;

pub use status::{
    BudgetSnapshot, RecorderSnapshot, RecorderState, RecordingRegistry, RecordingsSnapshot,
    SegmentSnapshot,
};

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use log::{error, info, warn};

use crate::config::RecordConfig;
use crate::server::hub::QueueLimits;
use crate::server::shared::Shared;
use budget::{Budget, BudgetLimits, ClosedSegment, disk_space, keep_free_for};
use layout::{find_segments, stream_rel_dir};
use segmenter::SegmentRules;
use stream_recorder::{RecorderSetup, StreamRecorder, log_deletions};

/// Directory entries looked at when listing the recording folder at start.
const MAX_LISTED_ENTRIES: usize = 200_000;
/// Time allowed at start for finishing segments left open.
const REPAIR_TIME: Duration = Duration::from_secs(60);
/// The smallest budget recording starts with.
const MIN_BUDGET: u64 = 16 << 20;
/// The smallest segment size limit (a quarter of the budget otherwise).
const MIN_SEGMENT_BYTES: u64 = 64 << 10;
/// How long stopping waits for each recorder to close its segment.
const STOP_TIME: Duration = Duration::from_secs(10);
/// Stack size of a recorder thread.
const RECORDER_STACK: usize = 256 << 10;
/// A recorder's queue: enough for a card's write stalls of seconds at any common bitrate.
pub const RECORDER_QUEUE: QueueLimits = QueueLimits {
    len: 2048,
    bytes: 16 << 20,
    slow_after: Duration::from_secs(30),
};

/// What is recorded, where, and within what.
#[derive(Debug, Clone)]
pub struct RecordSettings {
    /// The recording folder.
    pub dir: PathBuf,
    /// Media time per segment.
    pub segment: Duration,
    /// Bytes of recordings kept; `None`: what the disk holds, less what it keeps free.
    pub max_bytes: Option<u64>,
    /// How long a segment is kept, if limited.
    pub keep: Option<Duration>,
    /// The hub names (`app/name`) of the streams recorded.
    pub streams: Vec<String>,
    /// Each recorder's queue in the hub.
    pub queue: QueueLimits,
}

impl RecordSettings {
    /// Settings from the configuration, recording `streams` (hub names).
    pub fn new(config: &RecordConfig, streams: Vec<String>) -> Self {
        RecordSettings {
            dir: config.dir.clone(),
            segment: config.segment,
            max_bytes: config.max_bytes,
            keep: config.keep,
            streams,
            queue: RECORDER_QUEUE,
        }
    }
}

/// Why recording could not start.
#[derive(Debug)]
pub enum RecordError {
    /// The folder (or one of its stream folders) cannot be made or written.
    NotWritable {
        /// The folder.
        dir: PathBuf,
        /// What failed.
        doing: &'static str,
        /// How.
        error: io::Error,
    },
    /// The disk has too little room for a budget of at least `MIN_BUDGET`.
    NoRoom {
        /// The folder.
        dir: PathBuf,
        /// Bytes free.
        free: u64,
        /// Bytes the disk keeps free.
        keep_free: u64,
    },
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mib = |b: u64| b >> 20;
        match self {
            RecordError::NotWritable { dir, doing, error } => write!(
                f,
                "--record-dir {} is not writable: cannot {doing}: {error}",
                dir.display()
            ),
            RecordError::NoRoom {
                dir,
                free,
                keep_free,
            } => write!(
                f,
                "--record-dir {}: no room to record: {} MiB free, of which {} MiB is kept \
                 free (5% of the disk, at most 1 GiB), and recording needs at least {} MiB; \
                 free some space or set --record-max-mib",
                dir.display(),
                mib(*free),
                mib(*keep_free),
                mib(MIN_BUDGET)
            ),
        }
    }
}

/// A checked recording folder, with segments left open finished and the budget indexed.
pub struct PreparedRecording {
    settings: RecordSettings,
    budget: Budget,
}

/// Refuses a folder that cannot be written with the reason, with a file written, synced and
/// removed (which also fails for root on a read-only filesystem).
fn check_writable(dir: &Path) -> Result<(), RecordError> {
    let not_writable = |doing, error| RecordError::NotWritable {
        dir: dir.to_path_buf(),
        doing,
        error,
    };
    fs::create_dir_all(dir).map_err(|e| not_writable("make the folder", e))?;
    let probe = dir.join(".rtmpsd-write-test");
    let written =
        File::create(&probe).and_then(|mut f| f.write_all(b"rtmpsd\n").and_then(|()| f.sync_all()));
    let removed = fs::remove_file(&probe);
    written.map_err(|e| not_writable("write a file in it", e))?;
    removed.map_err(|e| not_writable("remove a file from it", e))
}

/// Checks and prepares the recording folder: see the module doc.
pub fn prepare(settings: RecordSettings) -> Result<PreparedRecording, RecordError> {
    let dir = &settings.dir;
    check_writable(dir)?;
    for stream in &settings.streams {
        let stream_dir = dir.join(stream_rel_dir(stream));
        fs::create_dir_all(&stream_dir).map_err(|error| RecordError::NotWritable {
            dir: dir.clone(),
            doing: "make a stream's folder in it",
            error,
        })?;
    }
    let listing = |what| {
        move |error| RecordError::NotWritable {
            dir: dir.clone(),
            doing: what,
            error,
        }
    };
    let (found, cut_short) =
        find_segments(dir, MAX_LISTED_ENTRIES).map_err(listing("list its files"))?;
    if cut_short {
        warn!(
            "recording: {} holds more than {MAX_LISTED_ENTRIES} entries; only the first \
             are counted in the budget",
            dir.display()
        );
    }
    repair::repair_all(&found, Instant::now() + REPAIR_TIME);
    // The repairs renamed files: list again for the budget.
    let (found, _) = find_segments(dir, MAX_LISTED_ENTRIES).map_err(listing("list its files"))?;
    let space = disk_space(dir).map_err(listing("read its free space"))?;
    let keep_free = keep_free_for(space.total);
    let mut closed = Vec::new();
    for segment in found.into_iter().filter(|s| !s.name.open) {
        let Ok(meta) = fs::metadata(&segment.path) else {
            continue;
        };
        closed.push(ClosedSegment {
            rel_path: segment.rel_path,
            path: segment.path,
            stem: segment.name.stem,
            start: segment.name.start,
            bytes: meta.len(),
            ended: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        });
    }
    let recorded: u64 = closed.iter().map(|s| s.bytes).sum();
    let max_bytes = match settings.max_bytes {
        Some(max) => max,
        None => {
            let room = (recorded + space.free).saturating_sub(keep_free);
            if room < MIN_BUDGET {
                return Err(RecordError::NoRoom {
                    dir: dir.clone(),
                    free: space.free,
                    keep_free,
                });
            }
            room
        }
    };
    let mut budget = Budget::new(BudgetLimits {
        max_bytes,
        keep: settings.keep,
        keep_free,
    });
    let count = closed.len();
    for segment in closed {
        budget.add_closed(segment);
    }
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    info!(
        "recording into {}: segments of {} s, budget {:.0} MiB{}{}, {count} segments \
         ({:.1} MiB) there already",
        dir.display(),
        settings.segment.as_secs(),
        mib(max_bytes),
        if settings.max_bytes.is_none() {
            " (what the disk holds, less what it keeps free)"
        } else {
            ""
        },
        settings
            .keep
            .map(|k| format!(", kept {} h", k.as_secs() / 3600))
            .unwrap_or_default(),
        mib(recorded)
    );
    if space.free < keep_free {
        warn!(
            "recording: the disk of {} has {:.0} MiB free, under the {:.0} MiB it keeps free: \
             the oldest recordings are deleted to make room",
            dir.display(),
            mib(space.free),
            mib(keep_free)
        );
    }
    let deletions = budget.enforce(SystemTime::now(), Some(space.free));
    log_deletions(&deletions, &budget);
    Ok(PreparedRecording { settings, budget })
}

/// The running recorders; dropping them stops them.
pub struct Recorders {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl PreparedRecording {
    /// Starts one recorder thread per stream, subscribed to `shared`'s hub and shown in
    /// `shared.recordings`.
    pub fn start(self, shared: &Arc<Shared>) -> Recorders {
        let max_bytes = self.budget.limits().max_bytes;
        let segment_ms = u32::try_from(self.settings.segment.as_millis()).unwrap_or(u32::MAX);
        let budget = Arc::new(Mutex::new(self.budget));
        shared
            .recordings
            .set_up(self.settings.dir.clone(), budget.clone());
        let setup = Arc::new(RecorderSetup {
            root: self.settings.dir.clone(),
            rules: SegmentRules {
                segment_ms,
                max_bytes: (max_bytes / 4).max(MIN_SEGMENT_BYTES),
            },
            queue: self.settings.queue,
            budget,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (i, stream) in self.settings.streams.iter().enumerate() {
            let counters = shared.recordings.register(stream);
            let recorder = StreamRecorder::new(
                stream,
                &stream_rel_dir(stream),
                i as u64,
                setup.clone(),
                counters,
            );
            let (shared, stop, name) = (shared.clone(), stop.clone(), stream.clone());
            let spawned = thread::Builder::new()
                .name(format!("rec-{i}"))
                .stack_size(RECORDER_STACK)
                .spawn(move || {
                    let run = std::panic::AssertUnwindSafe(|| {
                        recorder.run(&shared.hub, &stop, || shared.next_id());
                    });
                    if std::panic::catch_unwind(run).is_err() {
                        // Its open segment stays `.part` and is finished at the next start.
                        error!("recording {name} stopped: its thread panicked");
                    }
                });
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => error!("recording {stream}: no thread for it: {e}"),
            }
        }
        Recorders { stop, threads }
    }
}

impl Recorders {
    /// Stops every recorder, closing and syncing its open segment; waits up to `STOP_TIME`
    /// for each (a disk that hangs must not hang the shutdown).
    pub fn stop(mut self) {
        self.stop_all();
    }

    fn stop_all(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for handle in &self.threads {
            handle.thread().unpark();
        }
        let deadline = Instant::now() + STOP_TIME;
        for handle in self.threads.drain(..) {
            while !handle.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(10));
            }
            if handle.is_finished() {
                let _ = handle.join();
            } else {
                warn!(
                    "recording: a recorder did not close its segment within {} s; it is \
                     finished at the next start",
                    STOP_TIME.as_secs()
                );
            }
        }
    }
}

impl Drop for Recorders {
    fn drop(&mut self) {
        self.stop_all();
    }
}
