//! One stream's recorder: a hub subscriber on a thread of its own that writes what the
//! hub hands it into segment files.
//!
//! It has its own bounded queue like a player, so a slow disk never stalls the publisher or
//! the players: when the recorder falls behind, the hub drops frames for it alone (video up
//! to the next keyframe) and the recorder logs how much it lost once it writes again; when it
//! stays behind too long the hub cuts it off, and it subscribes again and starts a new
//! segment. A failed write (a full disk, a card pulled out) ends the segment with a log line;
//! the recorder tries again when the next segment is due.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use log::{debug, info, warn};

use super::budget::{Budget, ClosedSegment, Deletion, disk_space};
use super::layout::SegmentName;
use super::repair::{Repaired, repair_segment};
use super::segment_file::{BUFFER_BYTES, SegmentFile, sync_dir};
use super::segmenter::{SegmentEnd, SegmentRules, Segmenter, Step};
use super::status::{RecorderCounters, RecorderState};
use crate::flv::{TagHeader, TagType, metadata_body};
use crate::rtmp::Timestamp;
use crate::server::frame::{Frame, FrameKind};
use crate::server::hub::{
    Delivery, Doorbell, Ended, Hub, JoinError, QueueLimits, SubscriberKind, Subscription, Wake,
};

/// How long the recorder sleeps with nothing queued before it looks at its sync timer and
/// the stop flag again.
const TICK: Duration = Duration::from_millis(250);
/// Time allowed to finish a segment a failed write left open.
const REPAIR_TIME: Duration = Duration::from_secs(10);
/// How often an idle recorder keeps the budget (`--record-keep-hours` while nothing records).
const IDLE_BUDGET_EVERY: Duration = Duration::from_secs(60);

/// What every recorder shares.
pub struct RecorderSetup {
    /// The recording folder.
    pub root: PathBuf,
    /// When segments end.
    pub rules: SegmentRules,
    /// Each recorder's queue in the hub.
    pub queue: QueueLimits,
    /// The disk budget.
    pub budget: Arc<Mutex<Budget>>,
}

impl RecorderSetup {
    fn budget(&self) -> MutexGuard<'_, Budget> {
        self.budget.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Frames lost while the recorder was behind, not yet logged.
struct Loss {
    frames: u64,
    /// The timestamp of the last frame the hub dropped: the loss is over once a keyframe
    /// after it is written.
    until: Option<Timestamp>,
}

/// One stream's recorder.
pub struct StreamRecorder {
    stream: String,
    rel_dir: String,
    dir: PathBuf,
    id: u64,
    setup: Arc<RecorderSetup>,
    counters: Arc<RecorderCounters>,
    segmenter: Segmenter,
    file: Option<SegmentFile>,
    buffer: Option<Box<[u8]>>,
    /// The subscription's drop count already accounted for.
    dropped_seen: u64,
    loss: Option<Loss>,
    /// The last frame written, and the last video frame written, in this segment.
    last_written: Option<Timestamp>,
    last_video: Option<Timestamp>,
    /// A frame too long for an FLV tag was reported.
    too_long_logged: bool,
    /// When the budget was last kept while idle.
    idle_budget_at: Instant,
}

impl StreamRecorder {
    /// A recorder of hub stream `stream` (`app/name`) into `rel_dir` of the recording
    /// folder, counted as budget user `id`.
    pub fn new(
        stream: &str,
        rel_dir: &str,
        id: u64,
        setup: Arc<RecorderSetup>,
        counters: Arc<RecorderCounters>,
    ) -> Self {
        StreamRecorder {
            stream: stream.to_string(),
            rel_dir: rel_dir.to_string(),
            dir: setup.root.join(rel_dir),
            id,
            segmenter: Segmenter::new(setup.rules),
            setup,
            counters,
            file: None,
            buffer: None,
            dropped_seen: 0,
            loss: None,
            last_written: None,
            last_video: None,
            too_long_logged: false,
            idle_budget_at: Instant::now(),
        }
    }

    /// Subscribes to the stream in `hub` as subscriber `id`, woken on the calling thread.
    pub fn subscribe(&mut self, hub: &Hub, id: u64) -> Result<Subscription, JoinError> {
        self.dropped_seen = 0;
        let doorbell = Arc::new(Doorbell::new(Unpark(thread::current())));
        hub.subscribe(
            &self.stream,
            id,
            SubscriberKind::Recorder,
            self.setup.queue,
            doorbell,
        )
    }

    /// Records until `stop` is set, then closes the open segment. `next_id` gives the
    /// subscriber id for each subscription.
    pub fn run(mut self, hub: &Hub, stop: &AtomicBool, next_id: impl Fn() -> u64) {
        info!("recording {} into {}", self.stream, self.dir.display());
        while !stop.load(Ordering::SeqCst) {
            let mut subscription = match self.subscribe(hub, next_id()) {
                Ok(subscription) => subscription,
                Err(JoinError::TooManyPlayers { .. }) => {
                    // Recorders are not players, so this cannot happen; wait and try again.
                    warn!("recording {}: the hub refused it", self.stream);
                    thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            let ended = self.follow(&mut subscription, stop);
            drop(subscription);
            match ended {
                Some(Ended::Evicted(eviction)) => {
                    // Its losses are counted already; the segment's end reports the last.
                    self.end_segment(SegmentEnd::Evicted, Instant::now());
                    warn!(
                        "recording {}: behind for {:.1} s ({} frames lost since it joined), the \
                         hub cut the recorder off; starting over at the next keyframe",
                        self.stream,
                        eviction.behind.as_secs_f64(),
                        eviction.dropped
                    );
                }
                Some(Ended::Removed) => self.end_segment(SegmentEnd::Evicted, Instant::now()),
                None => {}
            }
        }
        self.end_segment(SegmentEnd::Shutdown, Instant::now());
        info!("recording {} stopped", self.stream);
    }

    /// Takes deliveries until `stop` is set or the hub ends the subscription; with nothing
    /// queued, the thread sleeps until the hub rings its doorbell or `TICK` passes.
    fn follow(&mut self, subscription: &mut Subscription, stop: &AtomicBool) -> Option<Ended> {
        while !stop.load(Ordering::SeqCst) {
            match subscription.try_next() {
                Ok(Some(delivery)) => {
                    let now = Instant::now();
                    self.take(delivery, now);
                    self.note_drops(subscription);
                    self.sync_if_due(now);
                    continue;
                }
                Ok(None) => {}
                Err(ended) => {
                    self.note_drops(subscription);
                    return Some(ended);
                }
            }
            subscription.doorbell().arm();
            // Once more after arming: a delivery between the look and the arming rang nobody.
            if subscription.is_empty() && subscription.eviction().is_none() {
                thread::park_timeout(TICK);
            }
            subscription.doorbell().disarm();
            let now = Instant::now();
            self.note_drops(subscription);
            self.sync_if_due(now);
            self.idle(now);
        }
        None
    }

    /// Nothing came for a while: a recorder with no segment open still keeps the budget now
    /// and then, so segments expire while no stream is live.
    fn idle(&mut self, now: Instant) {
        if self.file.is_none() && now.duration_since(self.idle_budget_at) >= IDLE_BUDGET_EVERY {
            self.idle_budget_at = now;
            self.enforce_budget();
        }
    }

    /// Takes every delivery queued now, without waiting.
    pub fn pump(&mut self, subscription: &mut Subscription, now: Instant) -> Result<(), Ended> {
        while let Some(delivery) = subscription.try_next()? {
            self.take(delivery, now);
            self.note_drops(subscription);
        }
        self.sync_if_due(now);
        Ok(())
    }

    /// Ends the open segment, if any, for `end`.
    pub fn end_segment(&mut self, end: SegmentEnd, now: Instant) {
        if self.segmenter.close(end).is_some() || self.file.is_some() {
            self.close_file(end, now);
        }
        self.counters.set_state(RecorderState::Waiting);
    }

    fn take(&mut self, delivery: Delivery, now: Instant) {
        let changed = match delivery {
            Delivery::Frame(frame) => return self.frame(&frame, now),
            Delivery::Published => self.segmenter.publisher_changed(SegmentEnd::NewPublisher),
            Delivery::Unpublished => self.segmenter.publisher_changed(SegmentEnd::PublisherLeft),
        };
        if let Some(end) = changed {
            self.close_file(end, now);
            self.counters.set_state(RecorderState::Waiting);
        }
    }

    fn frame(&mut self, frame: &Frame, now: Instant) {
        match self.segmenter.offer(frame) {
            Step::Skip => {}
            Step::Write { timestamp } => self.write(frame, timestamp, now),
            Step::Start { closing } => {
                if let Some(end) = closing {
                    self.close_file(end, now);
                }
                self.open_file(now);
                self.write(frame, 0, now);
                self.sync_start(now);
            }
            Step::Close(end) => {
                self.close_file(end, now);
                self.counters.set_state(RecorderState::Waiting);
            }
        }
    }

    /// Counts frames the hub dropped for this recorder since the last look.
    fn note_drops(&mut self, subscription: &Subscription) {
        let dropped = subscription.frames_dropped();
        let new = dropped.saturating_sub(self.dropped_seen);
        self.dropped_seen = dropped;
        if new == 0 {
            return;
        }
        let loss = self.loss.get_or_insert(Loss {
            frames: 0,
            until: None,
        });
        loss.frames += new;
        loss.until = subscription.last_dropped().or(loss.until);
    }

    /// Whether writing `frame` ends the loss: it is past the last frame dropped and decodes
    /// on its own (a keyframe, or any frame of a stream without video).
    fn resumes(&self, frame: &Frame) -> bool {
        let Some(loss) = &self.loss else {
            return false;
        };
        let past = loss
            .until
            .is_none_or(|until| frame.timestamp.since(until) > 0);
        let whole = frame.keyframe || (frame.kind == FrameKind::Audio && self.last_video.is_none());
        past && whole
    }

    /// Logs the loss, if any: `gap` is the media time between the last frame written before
    /// it and the one writing goes on from (`None`: the segment ended first).
    fn report_loss(&mut self, gap: Option<i32>) {
        let Some(loss) = self.loss.take() else {
            return;
        };
        self.counters.dropped(loss.frames);
        let span = match gap {
            Some(ms) => format!(" ({:.1} s of media)", f64::from(ms.max(0)) / 1000.0),
            None => String::new(),
        };
        warn!(
            "recording {}: the disk fell behind; {} frames lost{span}, {}",
            self.stream,
            loss.frames,
            if gap.is_some() {
                "going on from a keyframe"
            } else {
                "the segment ended"
            }
        );
    }

    fn open_file(&mut self, now: Instant) {
        self.enforce_budget();
        let (video, audio) = self.segmenter.has_video_audio();
        let buffer = self
            .buffer
            .take()
            .unwrap_or_else(|| vec![0; BUFFER_BYTES].into_boxed_slice());
        let start = SystemTime::now();
        let mut file = match SegmentFile::create(&self.dir, start, video, audio, buffer, now) {
            Ok(file) => file,
            Err(e) => {
                warn!(
                    "recording {} stopped: cannot make a segment in {}: {e}; trying again \
                     at the next segment",
                    self.stream,
                    self.dir.display()
                );
                self.counters.write_failed();
                self.counters.set_state(RecorderState::Failed);
                return;
            }
        };
        let (metadata, headers) = self.segmenter.start_frames();
        let body = metadata_body(metadata.map(|m| &m.payload[..]));
        let mut outcome = TagHeader::new(TagType::Script, body.len(), 0)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
            .and_then(|header| file.append(header, &body));
        for header in headers {
            if outcome.is_err() {
                break;
            }
            if let Ok(tag) = TagHeader::new(tag_type(header.kind), header.len(), 0) {
                outcome = file.append(tag, &header.payload);
            }
        }
        let name = file.open_name();
        let len = file.len();
        self.file = Some(file);
        match outcome {
            Ok(()) => {
                self.segmenter.wrote(len);
                self.counters.add_bytes(len);
                self.counters.set_state(RecorderState::Recording);
                self.counters
                    .set_current(Some((format!("{}/{name}", self.rel_dir), len)));
                debug!("recording {} into {}/{name}", self.stream, self.rel_dir);
            }
            Err(e) => self.fail(&e, now),
        }
    }

    fn write(&mut self, frame: &Frame, timestamp: u32, now: Instant) {
        let Some(file) = &mut self.file else {
            return;
        };
        let header = match TagHeader::new(tag_type(frame.kind), frame.len(), timestamp) {
            Ok(header) => header,
            Err(e) => {
                if !self.too_long_logged {
                    self.too_long_logged = true;
                    warn!("recording {}: a frame left out: {e}", self.stream);
                }
                return;
            }
        };
        if let Err(e) = file.append(header, &frame.payload) {
            return self.fail(&e, now);
        }
        self.segmenter.wrote(header.total_len());
        self.counters.add_bytes(header.total_len());
        self.counters.add_frame();
        if self.resumes(frame) {
            let before = match frame.kind {
                FrameKind::Video => self.last_video,
                _ => self.last_written,
            };
            let gap = before.map(|b| frame.timestamp.since(b));
            self.report_loss(Some(gap.unwrap_or(0)));
        }
        self.last_written = Some(frame.timestamp);
        if frame.kind == FrameKind::Video {
            self.last_video = Some(frame.timestamp);
        }
        self.sync_if_due(now);
    }

    fn sync_if_due(&mut self, now: Instant) {
        let Some(file) = &mut self.file else {
            return;
        };
        if !file.sync_due(now) {
            return;
        }
        if let Err(e) = file.sync(now) {
            return self.fail(&e, now);
        }
        let len = file.len();
        let name = file.open_name();
        self.counters
            .set_current(Some((format!("{}/{name}", self.rel_dir), len)));
        self.setup.budget().set_open(self.id, len);
        self.enforce_budget();
    }

    /// Puts a new segment's start (headers and first keyframe) and its name on the disk at
    /// once, so that after a power cut even the last segment plays: one small write and
    /// two syncs per segment.
    fn sync_start(&mut self, now: Instant) {
        let Some(file) = &mut self.file else {
            return;
        };
        if let Err(e) = file.sync(now).and_then(|()| sync_dir(&self.dir)) {
            self.fail(&e, now);
        }
    }

    /// A write failed: the segment ends here, finished as far as it is whole.
    fn fail(&mut self, error: &std::io::Error, now: Instant) {
        let Some(file) = self.file.take() else {
            return;
        };
        let path = file.open_path();
        let name = file.open_name();
        self.buffer = Some(file.abandon());
        let full = error.raw_os_error() == Some(libc::ENOSPC);
        warn!(
            "recording {} stopped: writing {}/{name} failed{}: {error}; trying again at the \
             next segment",
            self.stream,
            self.rel_dir,
            if full { " (the disk is full)" } else { "" }
        );
        self.counters.write_failed();
        self.counters.set_state(RecorderState::Failed);
        self.counters.set_current(None);
        self.setup.budget().set_open(self.id, 0);
        match repair_segment(&path, now + REPAIR_TIME) {
            Ok(Repaired::Finished { path, kept, .. }) => {
                if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                    self.index_closed(name, kept);
                }
            }
            Ok(_) => {}
            Err(e) => warn!(
                "recording {}: {}/{name} stays open: {e}",
                self.stream, self.rel_dir
            ),
        }
    }

    fn close_file(&mut self, end: SegmentEnd, _now: Instant) {
        self.report_loss(None);
        self.last_written = None;
        self.last_video = None;
        let Some(file) = self.file.take() else {
            return;
        };
        let (closed, buffer) = file.finish();
        self.buffer = Some(buffer);
        self.counters.set_current(None);
        self.setup.budget().set_open(self.id, 0);
        match closed {
            Ok(closed) => {
                info!(
                    "recorded {}/{}: {:.1} s, {:.1} MiB ({})",
                    self.rel_dir,
                    closed.file_name,
                    f64::from(closed.duration_ms) / 1000.0,
                    closed.bytes as f64 / f64::from(1 << 20),
                    end.describe()
                );
                self.counters.segment_closed();
                self.index_closed(&closed.file_name, closed.bytes);
            }
            Err(e) => {
                warn!(
                    "recording {}: closing a segment in {} failed: {e}; it is finished at \
                     the next start",
                    self.stream,
                    self.dir.display()
                );
                self.counters.write_failed();
            }
        }
    }

    /// Adds closed segment `file_name` of `bytes` to the budget and keeps the budget.
    fn index_closed(&mut self, file_name: &str, bytes: u64) {
        if let Some(name) = SegmentName::parse(file_name) {
            self.setup.budget().add_closed(ClosedSegment {
                rel_path: format!("{}/{file_name}", self.rel_dir),
                path: self.dir.join(file_name),
                stem: name.stem,
                start: name.start,
                bytes,
                ended: SystemTime::now(),
            });
        }
        self.enforce_budget();
    }

    fn enforce_budget(&self) {
        let free = disk_space(&self.setup.root).ok().map(|d| d.free);
        let mut budget = self.setup.budget();
        let deletions = budget.enforce(SystemTime::now(), free);
        log_deletions(&deletions, &budget);
    }
}

#[cfg(test)]
impl StreamRecorder {
    /// Puts `file` in place of the open segment's file (to make writes fail).
    pub(super) fn replace_file_for_test(&mut self, file: SegmentFile) {
        self.file = Some(file);
    }

    /// Syncs the open segment now.
    pub(super) fn sync_now_for_test(&mut self) {
        if let Some(file) = &mut self.file {
            file.sync(Instant::now()).expect("sync");
        }
    }
}

/// Wakes a recorder's thread, parked while its queue is empty.
struct Unpark(thread::Thread);

impl Wake for Unpark {
    fn wake(&self) {
        self.0.unpark();
    }
}

/// The FLV tag type a frame is written as.
fn tag_type(kind: FrameKind) -> TagType {
    match kind {
        FrameKind::Audio => TagType::Audio,
        FrameKind::Video => TagType::Video,
        FrameKind::Metadata | FrameKind::Data => TagType::Script,
    }
}

/// One log line per deleted segment.
pub fn log_deletions(deletions: &[Deletion], budget: &Budget) {
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    for deletion in deletions {
        match &deletion.error {
            None => info!(
                "recording budget: deleted {} ({:.1} MiB, {}); {:.1} of {:.1} MiB used",
                deletion.segment.rel_path,
                mib(deletion.segment.bytes),
                deletion.reason.describe(),
                mib(budget.used_bytes()),
                mib(budget.limits().max_bytes)
            ),
            Some(e) => warn!(
                "recording budget: cannot delete {} ({}): {e}; no longer counted",
                deletion.segment.rel_path,
                deletion.reason.describe()
            ),
        }
    }
}
