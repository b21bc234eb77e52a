//! Finishing segments a power cut (or a crash, or a failed write) left open: each
//! `.flv.part` is cut after its last whole tag, given its duration, synced and renamed to
//! `.flv`; one with no whole tag is deleted.
//!
//! The walk reads each tag's header and trailer (`flv::TagWalk`), so a segment costs two
//! small reads per tag; a start repairs at most `MAX_REPAIRS` files within `deadline`, and
//! what is left stays `.part` for the next start.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use log::{info, warn};

use super::layout::{FoundSegment, OPEN_EXT, SEGMENT_EXT, SegmentName, free_stem};
use super::segment_file::{sync_dir, write_duration_at_start};
use crate::flv::{TAG_HEADER_LEN, TAG_TRAILER_LEN, TagWalk};

/// Most open segments repaired at one start.
pub const MAX_REPAIRS: usize = 1000;
/// Tags walked between looks at the deadline.
const DEADLINE_EVERY: u64 = 4096;

/// What repairing one file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repaired {
    /// Finished as `path`, keeping `kept` bytes and cutting `cut` after the last whole tag.
    Finished {
        /// The closed segment.
        path: PathBuf,
        /// Bytes kept.
        kept: u64,
        /// Bytes cut off.
        cut: u64,
        /// Its last timestamp, ms.
        duration_ms: u32,
    },
    /// It held no whole tag and was deleted.
    Deleted,
    /// The deadline passed before the walk was done; left as it was.
    OutOfTime,
}

/// Repairs the open segment at `part` (a `.flv.part` file), giving up at `deadline`.
pub fn repair_segment(part: &Path, deadline: Instant) -> io::Result<Repaired> {
    let file = OpenOptions::new().read(true).write(true).open(part)?;
    let len = file.metadata()?.len();
    let mut preamble = vec![0u8; len.min(1028) as usize];
    file.read_exact_at(&mut preamble, 0)?;
    let walk = match TagWalk::new(&preamble, len) {
        Ok(walk) => walk,
        // Not even an FLV header: nothing to keep.
        Err(_) => return delete(part),
    };
    let Some(walk) = walk_file(&file, walk, deadline)? else {
        return Ok(Repaired::OutOfTime);
    };
    if walk.tags() == 0 {
        return delete(part);
    }
    let kept = walk.sound_len();
    if kept < len {
        file.set_len(kept)?;
    }
    let duration_ms = walk.last_timestamp().unwrap_or(0);
    write_duration_at_start(&file, f64::from(duration_ms) / 1000.0)?;
    file.sync_all()?;
    drop(file);
    let path = closed_path(part)?;
    fs::rename(part, &path)?;
    if let Some(dir) = part.parent() {
        sync_dir(dir)?;
    }
    Ok(Repaired::Finished {
        path,
        kept,
        cut: len - kept,
        duration_ms,
    })
}

/// Walks `file`'s tags; `None` when `deadline` passed first.
fn walk_file(file: &File, mut walk: TagWalk, deadline: Instant) -> io::Result<Option<TagWalk>> {
    let mut header = [0u8; TAG_HEADER_LEN];
    let mut trailer = [0u8; TAG_TRAILER_LEN];
    while let Some(at) = walk.next_header_at() {
        if walk.tags() % DEADLINE_EVERY == DEADLINE_EVERY - 1 && Instant::now() > deadline {
            return Ok(None);
        }
        file.read_exact_at(&mut header, at)?;
        let Some(trailer_at) = walk.on_header(&header) else {
            break;
        };
        file.read_exact_at(&mut trailer, trailer_at)?;
        if !walk.on_trailer(&trailer) {
            break;
        }
    }
    Ok(Some(walk))
}

fn delete(part: &Path) -> io::Result<Repaired> {
    fs::remove_file(part)?;
    Ok(Repaired::Deleted)
}

/// `X.flv` for `X.flv.part`, or, if that exists already, the next free name of its start
/// second (`STAMP_01.flv`, ...), which the recorder reads back as a segment.
fn closed_path(part: &Path) -> io::Result<PathBuf> {
    let name = part
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let (Some(stem), Some(segment)) = (name.strip_suffix(OPEN_EXT), SegmentName::parse(name))
    else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a segment left open",
        ));
    };
    let dir = part.parent().unwrap_or(Path::new("."));
    let first = dir.join(format!("{stem}{SEGMENT_EXT}"));
    if !first.exists() {
        return Ok(first);
    }
    let start = UNIX_EPOCH + Duration::from_secs(segment.start);
    Ok(dir.join(format!("{}{SEGMENT_EXT}", free_stem(dir, start)?)))
}

/// Repairs every open segment in `found` (at most `MAX_REPAIRS`, until `deadline`), with a
/// log line each; returns the segments' new names (closed ones for the budget's index).
pub fn repair_all(found: &[FoundSegment], deadline: Instant) -> Vec<PathBuf> {
    let mut finished = Vec::new();
    let open: Vec<&FoundSegment> = found.iter().filter(|f| f.name.open).collect();
    for (i, segment) in open.iter().enumerate() {
        if i == MAX_REPAIRS || Instant::now() > deadline {
            warn!(
                "recording: {} segments left open, to repair at the next start \
                 (each start repairs up to {MAX_REPAIRS} within its time)",
                open.len() - i
            );
            break;
        }
        match repair_segment(&segment.path, deadline) {
            Ok(Repaired::Finished {
                path,
                kept,
                cut,
                duration_ms,
            }) => {
                info!(
                    "recording: repaired {} left open: {:.1} s, {kept} bytes kept, {cut} \
                     bytes of an unfinished tag cut",
                    segment.rel_path,
                    f64::from(duration_ms) / 1000.0
                );
                finished.push(path);
            }
            Ok(Repaired::Deleted) => info!(
                "recording: deleted {} left open: it held no whole tag",
                segment.rel_path
            ),
            Ok(Repaired::OutOfTime) => warn!(
                "recording: out of time repairing {}; it stays open until the next start",
                segment.rel_path
            ),
            Err(e) => warn!("recording: cannot repair {}: {e}", segment.rel_path),
        }
    }
    finished
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::{DURATION_AT, PREAMBLE_LEN, TagHeader, TagType, duration_of, metadata_body};
    use crate::server::recorder::segment_file::SegmentFile;
    use std::time::{Duration, SystemTime};

    fn folder(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rtmpsd-repair-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A segment of metadata and `n` video tags, synced, left open; its path and tag ends.
    fn open_segment(dir: &Path, n: u32) -> (PathBuf, Vec<u64>) {
        let buffer = vec![0; 1 << 16].into_boxed_slice();
        let now = Instant::now();
        let mut seg =
            SegmentFile::create(dir, SystemTime::now(), true, false, buffer, now).unwrap();
        let meta = metadata_body(None);
        seg.append(
            TagHeader::new(TagType::Script, meta.len(), 0).unwrap(),
            &meta,
        )
        .unwrap();
        let mut ends = vec![seg.len()];
        for i in 0..n {
            let body = vec![i as u8; 100 + i as usize];
            seg.append(
                TagHeader::new(TagType::Video, body.len(), i * 40).unwrap(),
                &body,
            )
            .unwrap();
            ends.push(seg.len());
        }
        seg.sync(now).unwrap();
        let path = seg.open_path();
        drop(seg.abandon());
        (path, ends)
    }

    #[test]
    fn a_segment_cut_anywhere_is_finished_up_to_its_last_whole_tag() {
        let dir = folder("cut");
        let (path, ends) = open_segment(&dir, 5);
        let whole = fs::read(&path).unwrap();
        let far = Instant::now() + Duration::from_secs(60);
        for cut in PREAMBLE_LEN..=whole.len() {
            fs::write(&path, &whole[..cut]).unwrap();
            let expected = ends.iter().copied().filter(|&e| e <= cut as u64).max();
            match repair_segment(&path, far).unwrap() {
                Repaired::Finished {
                    path: done, kept, ..
                } => {
                    assert_eq!(Some(kept), expected, "cut at {cut}");
                    // The same bytes, but the duration written into the metadata.
                    let slot = PREAMBLE_LEN + TAG_HEADER_LEN + DURATION_AT;
                    let bytes = fs::read(&done).unwrap();
                    assert_eq!(bytes.len() as u64, kept);
                    assert_eq!(bytes[..slot], whole[..slot]);
                    assert_eq!(bytes[slot + 8..], whole[slot + 8..kept as usize]);
                    fs::remove_file(done).unwrap();
                }
                Repaired::Deleted => assert_eq!(expected, None, "cut at {cut}"),
                Repaired::OutOfTime => panic!("out of time"),
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_repaired_segment_is_renamed_and_knows_its_duration() {
        let dir = folder("dur");
        let (path, _) = open_segment(&dir, 26);
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&[9, 0, 0, 50]); // half a tag header
        fs::write(&path, &bytes).unwrap();
        let far = Instant::now() + Duration::from_secs(60);
        let Repaired::Finished {
            path: done,
            cut,
            duration_ms,
            ..
        } = repair_segment(&path, far).unwrap()
        else {
            panic!("not finished");
        };
        assert_eq!((cut, duration_ms), (4, 1000));
        assert!(!path.exists());
        assert!(done.to_str().unwrap().ends_with(".flv"));
        let bytes = fs::read(&done).unwrap();
        assert_eq!(
            duration_of(&bytes[PREAMBLE_LEN + TAG_HEADER_LEN..]),
            Some(1.0)
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_segment_with_no_whole_tag_or_no_header_is_deleted() {
        let dir = folder("empty");
        let far = Instant::now() + Duration::from_secs(60);
        let part = dir.join("20240501T123000Z.flv.part");
        for content in [&b""[..], b"FLV\x01\x05\0\0\0\x09\0\0\0\0", b"garbage"] {
            fs::write(&part, content).unwrap();
            assert_eq!(repair_segment(&part, far).unwrap(), Repaired::Deleted);
            assert!(!part.exists());
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_repair_never_overwrites_a_closed_segment_of_the_same_name() {
        let dir = folder("clash");
        let (path, _) = open_segment(&dir, 2);
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let closed = dir.join(name.replace(".flv.part", ".flv"));
        fs::write(&closed, b"keep me").unwrap();
        let far = Instant::now() + Duration::from_secs(60);
        let Repaired::Finished { path: done, .. } = repair_segment(&path, far).unwrap() else {
            panic!("not finished");
        };
        assert_ne!(done, closed);
        let done_name = done.file_name().unwrap().to_str().unwrap();
        assert!(
            crate::server::recorder::layout::SegmentName::parse(done_name).is_some(),
            "{done_name} is still a segment name"
        );
        assert_eq!(fs::read(&closed).unwrap(), b"keep me");
        fs::remove_dir_all(&dir).unwrap();
    }
}
