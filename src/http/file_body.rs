//! A response body sent from a file on disk in fixed chunks, never read whole into memory.
//!
//! The listener's thread reads the file `CHUNK_BYTES` at a time and writes to the
//! non-blocking socket what it takes; what the socket refuses stays in the chunk for the next
//! turn. A turn sends at most `TURN_BYTES`, so one fast download cannot keep the listener
//! from its other connections. The reads are ordinary blocking reads: a disk that hangs
//! holds the listener (never a stream: those run on other threads).

use std::fs::File;
use std::io::{self, Read, Write};

/// Bytes read from the file at a time: the body's whole buffer.
pub const CHUNK_BYTES: usize = 64 * 1024;
/// Most bytes sent in one turn before the listener looks at its other connections.
pub const TURN_BYTES: u64 = 512 * 1024;

/// An open file and how much of it has gone out.
#[derive(Debug)]
pub struct FileBody {
    file: File,
    /// What log lines call it (the path it was asked for).
    name: String,
    len: u64,
    /// Bytes read from the file.
    read: u64,
    /// Bytes the socket took.
    sent: u64,
    /// Allocated at the first send (a `HEAD` or a refused download never needs it).
    chunk: Box<[u8]>,
    /// `chunk[at..filled]` is read but not sent yet.
    at: usize,
    filled: usize,
}

/// Where a send left the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Every byte went out.
    Finished,
    /// The socket takes no more for now; its next writable event resumes it.
    Blocked,
    /// The turn's share went out and the socket may take more: resume without an event.
    TurnOver,
}

impl FileBody {
    /// The first `len` bytes of `file` (its size when opened), called `name` in log lines.
    pub fn new(file: File, len: u64, name: String) -> FileBody {
        FileBody {
            file,
            name,
            len,
            read: 0,
            sent: 0,
            chunk: Box::default(),
            at: 0,
            filled: 0,
        }
    }

    /// Its length: the `Content-Length`.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the socket took so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// What log lines call it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes to `out` until it would block, the body is sent, or the turn is over. A file
    /// that ends early (cut short under the listener) is an `UnexpectedEof` error.
    pub fn send(&mut self, out: &mut impl Write) -> io::Result<Progress> {
        let mut this_turn = 0u64;
        loop {
            if self.at == self.filled {
                if self.read == self.len {
                    return Ok(Progress::Finished);
                }
                if this_turn >= TURN_BYTES {
                    return Ok(Progress::TurnOver);
                }
                self.fill()?;
            }
            let pending = self.chunk.get(self.at..self.filled).unwrap_or_default();
            match out.write(pending) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.at += n;
                    self.sent += n as u64;
                    this_turn += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Progress::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the next chunk from the file.
    fn fill(&mut self) -> io::Result<()> {
        if self.chunk.is_empty() {
            self.chunk = vec![0u8; CHUNK_BYTES].into_boxed_slice();
        }
        let want = (self.len - self.read).min(CHUNK_BYTES as u64) as usize;
        loop {
            let Some(room) = self.chunk.get_mut(..want) else {
                return Err(io::ErrorKind::InvalidInput.into());
            };
            match self.file.read(room) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the file ended after {} of {} bytes", self.read, self.len),
                    ));
                }
                Ok(n) => {
                    self.read += n as u64;
                    self.at = 0;
                    self.filled = n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A file of `len` numbered bytes in a fresh temporary folder.
    fn file_of(tag: &str, len: usize) -> (PathBuf, Vec<u8>) {
        let dir =
            std::env::temp_dir().join(format!("rtmpsd-file-body-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let path = dir.join("body.bin");
        std::fs::write(&path, &bytes).unwrap();
        (path, bytes)
    }

    /// A socket that takes `per_write` bytes per write and `budget` bytes before it blocks.
    struct Throttled {
        taken: Vec<u8>,
        per_write: usize,
        budget: usize,
    }

    impl Write for Throttled {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.budget == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.per_write).min(self.budget);
            self.taken.extend_from_slice(&buf[..n]);
            self.budget -= n;
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_file_goes_out_whole_through_a_socket_that_blocks_and_takes_little() {
        let len = 3 * CHUNK_BYTES + 123;
        let (path, bytes) = file_of("whole", len);
        let mut body = FileBody::new(File::open(&path).unwrap(), len as u64, "f".into());
        let mut socket = Throttled {
            taken: Vec::new(),
            per_write: 1000,
            budget: 0,
        };
        let mut turns = 0;
        loop {
            socket.budget = 50_000;
            match body.send(&mut socket).unwrap() {
                Progress::Finished => break,
                Progress::Blocked => turns += 1,
                Progress::TurnOver => panic!("50,000 bytes is less than a turn"),
            }
            assert!(turns < 100);
        }
        assert_eq!(socket.taken, bytes);
        assert_eq!(body.sent(), len as u64);
        assert_eq!(body.chunk.len(), CHUNK_BYTES, "one chunk is all it holds");
    }

    #[test]
    fn a_turn_ends_after_its_share_and_the_next_goes_on() {
        let len = 2 * TURN_BYTES as usize + 10;
        let (path, bytes) = file_of("turns", len);
        let mut body = FileBody::new(File::open(&path).unwrap(), len as u64, "f".into());
        let mut socket = Throttled {
            taken: Vec::new(),
            per_write: usize::MAX,
            budget: usize::MAX,
        };
        assert_eq!(body.send(&mut socket).unwrap(), Progress::TurnOver);
        assert_eq!(body.sent(), TURN_BYTES);
        assert_eq!(body.send(&mut socket).unwrap(), Progress::TurnOver);
        assert_eq!(body.send(&mut socket).unwrap(), Progress::Finished);
        assert_eq!(socket.taken, bytes);
    }

    #[test]
    fn a_file_shorter_than_announced_is_an_error_and_a_longer_one_is_cut_at_its_length() {
        let (path, bytes) = file_of("short", 1000);
        let mut body = FileBody::new(File::open(&path).unwrap(), 2000, "f".into());
        let mut socket = Throttled {
            taken: Vec::new(),
            per_write: usize::MAX,
            budget: usize::MAX,
        };
        let error = body.send(&mut socket).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            error.to_string().contains("after 1000 of 2000 bytes"),
            "{error}"
        );

        let mut body = FileBody::new(File::open(&path).unwrap(), 600, "f".into());
        let mut socket = Throttled {
            taken: Vec::new(),
            per_write: usize::MAX,
            budget: usize::MAX,
        };
        assert_eq!(body.send(&mut socket).unwrap(), Progress::Finished);
        assert_eq!(socket.taken, bytes[..600]);
    }
}
