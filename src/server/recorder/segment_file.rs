//! One segment being written: a `.flv.part` file, a fixed write buffer, and the syncs that
//! bound what a power cut can take.
//!
//! Writes are few and large, to spare SD cards and USB sticks (whose flash rewrites a whole
//! page, often 16 KiB or more, for any smaller write): tags gather in a 1 MiB buffer that
//! goes to the kernel when it is full, and at least every `SYNC_INTERVAL` it goes to the
//! kernel and then to the card (`fdatasync`). The interval is ext4's own journal commit
//! interval, so the syncs add no journal commits the file's growth would not cause anyway,
//! and each writes seconds of media in one go (at 2 Mbit/s, about 1.2 MiB). A power cut
//! loses at most the last `SYNC_INTERVAL` (plus the sync in progress); a killed process
//! loses at most what was still in the buffer. Without the syncs, the kernel would hold
//! written data for up to 30 s before writing it back.
//!
//! A new segment's start (metadata, sequence headers, first keyframe) is synced at once (the
//! recorder does it), so even the segment a power cut interrupts plays. Closing writes the
//! duration into the `onMetaData` at the start, syncs the file, renames it to `.flv` and
//! syncs the folder, so a closed segment is complete on disk.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use super::layout::{OPEN_EXT, SEGMENT_EXT, free_stem};
use crate::flv::{DURATION_AT, FileHeader, PREAMBLE_LEN, TAG_HEADER_LEN, TagHeader};

/// Bytes gathered before a write.
pub const BUFFER_BYTES: usize = 1 << 20;
/// Longest time written media stays in the buffer or unsynced in the kernel.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(5);

/// A segment that was closed.
#[derive(Debug, Clone)]
pub struct ClosedFile {
    /// Its path (`.flv`).
    pub path: PathBuf,
    /// Its file name.
    pub file_name: String,
    /// Its size.
    pub bytes: u64,
    /// Its last timestamp, in ms from its start.
    pub duration_ms: u32,
}

/// A segment file being written.
pub struct SegmentFile {
    file: File,
    dir: PathBuf,
    stem: String,
    buffer: Box<[u8]>,
    buffered: usize,
    /// Bytes handed to the kernel.
    written: u64,
    last_sync: Instant,
    last_timestamp: u32,
}

/// The path of the segment `stem` in `dir`, open or closed.
fn segment_path(dir: &Path, stem: &str, open: bool) -> PathBuf {
    dir.join(format!(
        "{stem}{}",
        if open { OPEN_EXT } else { SEGMENT_EXT }
    ))
}

/// Syncs a folder, so a rename in it is on disk.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl SegmentFile {
    /// Creates a new segment in `dir`, named for `start`, with the file header for a stream
    /// with `video` and `audio`. `buffer` is the write buffer (`BUFFER_BYTES`), reused.
    pub fn create(
        dir: &Path,
        start: SystemTime,
        video: bool,
        audio: bool,
        buffer: Box<[u8]>,
        now: Instant,
    ) -> io::Result<SegmentFile> {
        let stem = free_stem(dir, start)?;
        // Readable too: closing reads the metadata back to write the duration into it.
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(segment_path(dir, &stem, true))?;
        let mut segment = SegmentFile::on_file(file, dir, &stem, buffer, now);
        let mut preamble = [0; PREAMBLE_LEN];
        FileHeader { audio, video }.emit(&mut preamble);
        segment.put(&preamble)?;
        Ok(segment)
    }

    /// A segment `stem` of `dir` written through `file` (which `create` opens; a test may
    /// pass another), with nothing written yet.
    pub(super) fn on_file(
        file: File,
        dir: &Path,
        stem: &str,
        buffer: Box<[u8]>,
        now: Instant,
    ) -> SegmentFile {
        SegmentFile {
            file,
            dir: dir.to_path_buf(),
            stem: stem.to_string(),
            buffer,
            buffered: 0,
            written: 0,
            last_sync: now,
            last_timestamp: 0,
        }
    }

    /// The file name while open (`<stem>.flv.part`).
    pub fn open_name(&self) -> String {
        format!("{}{OPEN_EXT}", self.stem)
    }

    /// Its path while open.
    pub fn open_path(&self) -> PathBuf {
        segment_path(&self.dir, &self.stem, true)
    }

    /// Bytes in the file once the buffer is written.
    pub fn len(&self) -> u64 {
        self.written + self.buffered as u64
    }

    /// Whether nothing at all was written (not even the header).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one tag: its header, `body` and its trailer.
    pub fn append(&mut self, header: TagHeader, body: &[u8]) -> io::Result<()> {
        let mut head = [0; TAG_HEADER_LEN];
        header.emit(&mut head);
        self.put(&head)?;
        self.put(body)?;
        self.put(&header.trailer())?;
        self.last_timestamp = self.last_timestamp.max(header.timestamp);
        Ok(())
    }

    /// Copies `bytes` into the buffer, writing the buffer out when full; what is larger than
    /// the buffer goes straight to the kernel.
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.buffered + bytes.len() > self.buffer.len() {
            self.drain()?;
        }
        if bytes.len() > self.buffer.len() {
            self.file.write_all(bytes)?;
            self.written += bytes.len() as u64;
            return Ok(());
        }
        self.buffer[self.buffered..self.buffered + bytes.len()].copy_from_slice(bytes);
        self.buffered += bytes.len();
        Ok(())
    }

    /// Hands the buffer to the kernel.
    fn drain(&mut self) -> io::Result<()> {
        if self.buffered > 0 {
            self.file.write_all(&self.buffer[..self.buffered])?;
            self.written += self.buffered as u64;
            self.buffered = 0;
        }
        Ok(())
    }

    /// Whether `SYNC_INTERVAL` has passed since the last sync at `now`.
    pub fn sync_due(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_sync) >= SYNC_INTERVAL
    }

    /// Writes the buffer and syncs the file's data to the disk.
    pub fn sync(&mut self, now: Instant) -> io::Result<()> {
        self.drain()?;
        self.file.sync_data()?;
        // From when the sync ended: a card that takes seconds to sync must not be asked to
        // sync again at once (a recorder that only syncs would never catch up).
        self.last_sync = now.max(Instant::now());
        // Written once and read rarely: drop it from the page cache, where it would push out
        // what the box needs (a no-op on filesystems that ignore it).
        let len = libc::off_t::try_from(self.written).unwrap_or(libc::off_t::MAX);
        // SAFETY: posix_fadvise only takes a file descriptor we own and two offsets.
        unsafe {
            libc::posix_fadvise(self.file.as_raw_fd(), 0, len, libc::POSIX_FADV_DONTNEED);
        }
        Ok(())
    }

    /// Finishes the segment: buffer written, duration set, synced, renamed to `.flv`, the
    /// folder synced. Returns the write buffer for the next segment with the outcome.
    pub fn finish(mut self) -> (io::Result<ClosedFile>, Box<[u8]>) {
        let outcome = self.finish_file();
        (outcome, std::mem::take(&mut self.buffer))
    }

    fn finish_file(&mut self) -> io::Result<ClosedFile> {
        self.drain()?;
        let seconds = f64::from(self.last_timestamp) / 1000.0;
        write_duration_at_start(&self.file, seconds)?;
        self.file.sync_all()?;
        let closed = segment_path(&self.dir, &self.stem, false);
        fs::rename(self.open_path(), &closed)?;
        sync_dir(&self.dir)?;
        Ok(ClosedFile {
            path: closed,
            file_name: format!("{}{SEGMENT_EXT}", self.stem),
            bytes: self.written,
            duration_ms: self.last_timestamp,
        })
    }

    /// Gives up on the segment after a failed write: the file is left as it is, for
    /// `repair` to finish. Returns the write buffer.
    pub fn abandon(mut self) -> Box<[u8]> {
        std::mem::take(&mut self.buffer)
    }
}

/// Writes `seconds` as the duration in the `onMetaData` a segment starts with; does nothing
/// to a file that does not start with one made by `flv::metadata_body`.
pub fn write_duration_at_start(file: &File, seconds: f64) -> io::Result<()> {
    let body_at = (PREAMBLE_LEN + TAG_HEADER_LEN) as u64;
    let mut body = [0u8; DURATION_AT + 8];
    if file.read_exact_at(&mut body, body_at).is_err() {
        return Ok(());
    }
    if crate::flv::write_duration(&mut body, seconds) {
        file.write_all_at(&body[DURATION_AT..], body_at + DURATION_AT as u64)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::{TagType, TagWalk, duration_of, metadata_body};
    use std::time::UNIX_EPOCH;

    fn folder(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rtmpsd-segfile-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn tag(kind: TagType, len: usize, ts: u32) -> (TagHeader, Vec<u8>) {
        (TagHeader::new(kind, len, ts).unwrap(), vec![0x5A; len])
    }

    #[test]
    fn a_closed_segment_is_whole_named_flv_and_knows_its_duration() {
        let dir = folder("close");
        let start = UNIX_EPOCH + Duration::from_secs(1_714_566_600);
        let now = Instant::now();
        let buffer = vec![0; 4096].into_boxed_slice();
        let mut seg = SegmentFile::create(&dir, start, true, true, buffer, now).unwrap();
        assert_eq!(seg.open_name(), "20240501T123000Z.flv.part");
        let meta = metadata_body(None);
        seg.append(
            TagHeader::new(TagType::Script, meta.len(), 0).unwrap(),
            &meta,
        )
        .unwrap();
        for i in 0..20u32 {
            // Some tags bigger than the buffer, to go around it.
            let (h, body) = tag(TagType::Video, if i % 7 == 0 { 9000 } else { 300 }, i * 40);
            seg.append(h, &body).unwrap();
        }
        let len = seg.len();
        let (closed, buffer) = seg.finish();
        let closed = closed.unwrap();
        assert_eq!(buffer.len(), 4096, "the buffer comes back");
        assert_eq!(closed.file_name, "20240501T123000Z.flv");
        assert_eq!((closed.bytes, closed.duration_ms), (len, 760));
        assert!(!dir.join("20240501T123000Z.flv.part").exists());
        let bytes = fs::read(&closed.path).unwrap();
        assert_eq!(bytes.len() as u64, len);
        let walk = TagWalk::over(&bytes).unwrap();
        assert_eq!((walk.sound_len(), walk.tags()), (len, 21));
        let body = &bytes[PREAMBLE_LEN + TAG_HEADER_LEN..];
        assert_eq!(duration_of(body), Some(0.76));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn what_is_synced_is_in_the_file_and_the_rest_waits_in_the_buffer() {
        let dir = folder("sync");
        let now = Instant::now();
        let buffer = vec![0; BUFFER_BYTES].into_boxed_slice();
        let mut seg =
            SegmentFile::create(&dir, SystemTime::now(), true, false, buffer, now).unwrap();
        let (h, body) = tag(TagType::Video, 1000, 0);
        seg.append(h, &body).unwrap();
        let on_disk = || fs::metadata(dir.join(seg_name(&dir))).unwrap().len();
        assert_eq!(on_disk(), 0, "small tags wait in the buffer");
        assert!(!seg.sync_due(now + Duration::from_secs(4)));
        assert!(seg.sync_due(now + SYNC_INTERVAL));
        seg.sync(now + SYNC_INTERVAL).unwrap();
        assert_eq!(on_disk(), seg.len());
        assert!(!seg.sync_due(now + SYNC_INTERVAL));
        drop(seg.abandon());
        fs::remove_dir_all(&dir).unwrap();
    }

    fn seg_name(dir: &Path) -> String {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .find(|n| n.ends_with(OPEN_EXT))
            .unwrap()
    }
}
