//! The disk budget of the recording folder: every closed segment, oldest first, with the
//! bytes they take, and the deletions that keep them within the limits.
//!
//! Segments are deleted oldest first (by start time) when the closed and open segments
//! together take more than `max_bytes`, when there are more than `MAX_SEGMENTS`, when one
//! ended longer ago than `keep`, or when the disk has less than `keep_free` bytes free.
//! An open segment is never deleted: it is not in the list until it is closed. Only files
//! named like segments count and are ever deleted; anything else in the folder is left alone.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Most segments indexed; beyond it the oldest are deleted (a year of 10-minute segments).
pub const MAX_SEGMENTS: usize = 60_000;

/// The limits the recording folder is kept within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLimits {
    /// Bytes of closed and open segments together.
    pub max_bytes: u64,
    /// How long after its end a segment is kept, if limited.
    pub keep: Option<Duration>,
    /// Bytes the disk keeps free whatever the budget says.
    pub keep_free: u64,
}

/// A closed segment in the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedSegment {
    /// `app/stream/file.flv`, relative to the recording folder.
    pub rel_path: String,
    /// Its full path.
    pub path: PathBuf,
    /// Its name's stem: sorts in start-time order.
    pub stem: String,
    /// Seconds since 1970 of its start.
    pub start: u64,
    /// Its size.
    pub bytes: u64,
    /// When it was last written.
    pub ended: SystemTime,
}

/// Why a segment was deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// The recordings took more than the budget.
    OverBudget,
    /// More segments than `MAX_SEGMENTS`.
    TooMany,
    /// Older than `--record-keep-hours`.
    Expired,
    /// The disk had less free space than it keeps.
    DiskLow,
}

impl DeleteReason {
    /// How the log says it.
    pub fn describe(self) -> &'static str {
        match self {
            DeleteReason::OverBudget => "over the budget",
            DeleteReason::TooMany => "too many segments",
            DeleteReason::Expired => "older than --record-keep-hours",
            DeleteReason::DiskLow => "the disk is nearly full",
        }
    }
}

/// One deletion, for the log.
#[derive(Debug)]
pub struct Deletion {
    /// The segment.
    pub segment: ClosedSegment,
    /// Why.
    pub reason: DeleteReason,
    /// The error if the file could not be removed (it leaves the budget all the same).
    pub error: Option<io::Error>,
}

/// Free and total bytes of a filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes an unprivileged process may still write.
    pub free: u64,
    /// Size of the filesystem.
    pub total: u64,
}

/// The free and total space of the filesystem holding `path`.
pub fn disk_space(path: &Path) -> io::Result<DiskSpace> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path with a NUL byte"))?;
    // SAFETY: statvfs only writes into the struct we pass, which is plain old data; the
    // path is a valid NUL-terminated string that outlives the call.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let unit = stat.f_frsize as u64;
    Ok(DiskSpace {
        free: (stat.f_bavail as u64).saturating_mul(unit),
        total: (stat.f_blocks as u64).saturating_mul(unit),
    })
}

/// What a disk keeps free: 5% of it, at least 64 MiB and at most 1 GiB.
pub fn keep_free_for(total: u64) -> u64 {
    (total / 20).clamp(64 << 20, 1 << 30)
}

/// The closed segments, their bytes, the open segments' bytes, and what was deleted.
#[derive(Debug)]
pub struct Budget {
    limits: BudgetLimits,
    /// Oldest first.
    closed: Vec<ClosedSegment>,
    closed_bytes: u64,
    /// (recorder id, bytes) of each open segment.
    open: Vec<(u64, u64)>,
    deleted_segments: u64,
    deleted_bytes: u64,
}

impl Budget {
    /// An empty budget.
    pub fn new(limits: BudgetLimits) -> Self {
        Budget {
            limits,
            closed: Vec::new(),
            closed_bytes: 0,
            open: Vec::new(),
            deleted_segments: 0,
            deleted_bytes: 0,
        }
    }

    /// The limits.
    pub fn limits(&self) -> BudgetLimits {
        self.limits
    }

    /// Adds a closed segment in start-time order.
    pub fn add_closed(&mut self, segment: ClosedSegment) {
        let key = |s: &ClosedSegment| (s.start, s.stem.clone(), s.rel_path.clone());
        let at = self.closed.partition_point(|s| key(s) <= key(&segment));
        self.closed_bytes += segment.bytes;
        self.closed.insert(at, segment);
    }

    /// Records the size of recorder `id`'s open segment (0: none open).
    pub fn set_open(&mut self, id: u64, bytes: u64) {
        self.open.retain(|(other, _)| *other != id);
        if bytes > 0 {
            self.open.push((id, bytes));
        }
    }

    /// Bytes of the closed and open segments.
    pub fn used_bytes(&self) -> u64 {
        self.closed_bytes + self.open.iter().map(|(_, b)| b).sum::<u64>()
    }

    /// The closed segments, oldest first.
    pub fn closed(&self) -> &[ClosedSegment] {
        &self.closed
    }

    /// Segments and bytes deleted so far.
    pub fn deleted(&self) -> (u64, u64) {
        (self.deleted_segments, self.deleted_bytes)
    }

    /// Deletes the oldest closed segments while a limit is passed, at `now`, with `free`
    /// bytes free on the disk if known; returns the deletions, oldest first.
    pub fn enforce(&mut self, now: SystemTime, mut free: Option<u64>) -> Vec<Deletion> {
        let mut deletions = Vec::new();
        while let Some(oldest) = self.closed.first() {
            let reason =
                if self.used_bytes() > self.limits.max_bytes {
                    DeleteReason::OverBudget
                } else if self.closed.len() > MAX_SEGMENTS {
                    DeleteReason::TooMany
                } else if self.limits.keep.is_some_and(|keep| {
                    now.duration_since(oldest.ended).is_ok_and(|age| age > keep)
                }) {
                    DeleteReason::Expired
                } else if free.is_some_and(|f| f < self.limits.keep_free) {
                    DeleteReason::DiskLow
                } else {
                    break;
                };
            let segment = self.closed.remove(0);
            self.closed_bytes -= segment.bytes;
            let error = match fs::remove_file(&segment.path) {
                Ok(()) => None,
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => Some(e),
            };
            if error.is_none() {
                self.deleted_segments += 1;
                self.deleted_bytes += segment.bytes;
                free = free.map(|f| f.saturating_add(segment.bytes));
            }
            deletions.push(Deletion {
                segment,
                reason,
                error,
            });
        }
        deletions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Folder(PathBuf);

    impl Drop for Folder {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn folder(tag: &str) -> Folder {
        let dir = std::env::temp_dir().join(format!("rtmpsd-budget-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Folder(dir)
    }

    fn segment(dir: &Path, start: u64, bytes: u64, ended: SystemTime) -> ClosedSegment {
        let stem =
            super::super::layout::utc_stamp(SystemTime::UNIX_EPOCH + Duration::from_secs(start));
        let path = dir.join(format!("{stem}.flv"));
        fs::write(&path, vec![0u8; bytes as usize]).unwrap();
        ClosedSegment {
            rel_path: format!("live/cam/{stem}.flv"),
            path,
            stem,
            start,
            bytes,
            ended,
        }
    }

    fn limits(max_bytes: u64) -> BudgetLimits {
        BudgetLimits {
            max_bytes,
            keep: None,
            keep_free: 0,
        }
    }

    #[test]
    fn the_oldest_segments_go_first_and_the_open_one_counts_but_stays() {
        let dir = folder("oldest");
        let now = SystemTime::now();
        let mut budget = Budget::new(limits(250));
        // Added out of order: the budget orders by start time.
        for start in [300, 100, 200] {
            budget.add_closed(segment(&dir.0, start, 100, now));
        }
        assert_eq!(budget.used_bytes(), 300);
        budget.set_open(7, 60);
        let deleted = budget.enforce(now, None);
        let starts: Vec<u64> = deleted.iter().map(|d| d.segment.start).collect();
        assert_eq!(
            starts,
            [100, 200],
            "oldest first, until 100 + 60 fit in 250"
        );
        assert!(deleted.iter().all(|d| d.reason == DeleteReason::OverBudget));
        assert!(!deleted[0].segment.path.exists());
        assert_eq!(budget.used_bytes(), 160);
        assert_eq!(budget.deleted(), (2, 200));
        // Only the open segment is left over the budget: it is never deleted.
        budget.set_open(7, 1000);
        let deleted = budget.enforce(now, None);
        assert_eq!(deleted.len(), 1);
        assert!(budget.closed().is_empty());
        assert!(budget.enforce(now, None).is_empty());
        assert_eq!(budget.used_bytes(), 1000);
    }

    #[test]
    fn segments_older_than_keep_are_deleted_and_newer_ones_stay() {
        let dir = folder("keep");
        let now = SystemTime::now();
        let mut budget = Budget::new(BudgetLimits {
            keep: Some(Duration::from_secs(3600)),
            ..limits(u64::MAX)
        });
        budget.add_closed(segment(&dir.0, 100, 1, now - Duration::from_secs(7200)));
        budget.add_closed(segment(&dir.0, 200, 1, now - Duration::from_secs(60)));
        let deleted = budget.enforce(now, None);
        assert_eq!(deleted.len(), 1);
        assert_eq!(
            (deleted[0].segment.start, deleted[0].reason),
            (100, DeleteReason::Expired)
        );
        assert_eq!(budget.closed().len(), 1);
    }

    #[test]
    fn a_nearly_full_disk_frees_what_it_keeps_free() {
        let dir = folder("disk");
        let now = SystemTime::now();
        let mut budget = Budget::new(BudgetLimits {
            keep_free: 150,
            ..limits(u64::MAX)
        });
        for start in [1, 2, 3] {
            budget.add_closed(segment(&dir.0, start, 100, now));
        }
        let deleted = budget.enforce(now, Some(0));
        assert_eq!(deleted.len(), 2, "0 + 100 + 100 reaches 150 free");
        assert!(deleted.iter().all(|d| d.reason == DeleteReason::DiskLow));
        assert!(budget.enforce(now, Some(1_000)).is_empty());
    }

    #[test]
    fn a_file_that_is_already_gone_leaves_the_budget_quietly() {
        let dir = folder("gone");
        let now = SystemTime::now();
        let mut budget = Budget::new(limits(0));
        let seg = segment(&dir.0, 1, 10, now);
        fs::remove_file(&seg.path).unwrap();
        budget.add_closed(seg);
        let deleted = budget.enforce(now, None);
        assert!(deleted[0].error.is_none());
        assert_eq!(budget.used_bytes(), 0);
    }

    #[test]
    fn what_a_disk_keeps_free_is_five_percent_within_bounds() {
        assert_eq!(keep_free_for(0), 64 << 20);
        assert_eq!(keep_free_for(8 << 30), (8 << 30) / 20);
        assert_eq!(keep_free_for(256 << 30), 1 << 30);
        let space = disk_space(&std::env::temp_dir()).unwrap();
        assert!(space.total > 0 && space.free <= space.total);
    }
}
