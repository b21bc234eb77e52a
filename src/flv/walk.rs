//! A walk over a file's tags from the first, checking each header and each trailer, that
//! finds how much of a file cut off mid-write is sound: everything up to the end of the
//! last whole tag.
//!
//! The walk does no I/O: it says where to read next (`next_header_at`, then the offset
//! `on_header` returns), the caller reads 11 or 4 bytes there and hands them back. A tag is
//! whole when its header parses, its body and trailer lie inside the file, and the trailer
//! equals 11 + its body size. The first tag that is not whole ends the walk: nothing after
//! a broken tag can be trusted, whatever it looks like.

use super::{FileHeader, FlvError, Parsed, TAG_HEADER_LEN, TAG_TRAILER_LEN, TagHeader, trailer};

/// Where a walk over one file stands.
#[derive(Debug, Clone)]
pub struct TagWalk {
    file_len: u64,
    /// The end of the last whole tag (its trailer included): where the next header starts.
    sound: u64,
    /// The header read whose trailer is not checked yet.
    pending: Option<TagHeader>,
    stopped: bool,
    tags: u64,
    last_timestamp: Option<u32>,
}

impl TagWalk {
    /// A walk over a file of `file_len` bytes starting with `preamble` (at least its header
    /// and `previous tag size 0`).
    pub fn new(preamble: &[u8], file_len: u64) -> Result<TagWalk, FlvError> {
        let sound = match FileHeader::parse(preamble)? {
            Parsed::Complete { consumed, .. } => consumed as u64,
            // A file too short for its own header has nothing sound in it.
            Parsed::Incomplete { .. } => 0,
        };
        Ok(TagWalk {
            file_len,
            sound,
            pending: None,
            stopped: sound == 0 || sound > file_len,
            tags: 0,
            last_timestamp: None,
        })
    }

    /// Where the next tag header is to be read, unless the walk is over.
    pub fn next_header_at(&self) -> Option<u64> {
        let room = (TAG_HEADER_LEN + TAG_TRAILER_LEN) as u64;
        (!self.stopped && self.pending.is_none() && self.sound + room <= self.file_len)
            .then_some(self.sound)
    }

    /// Takes the header bytes read at `next_header_at`; returns where its trailer is to be
    /// read, or `None` when the tag is broken or runs past the end (the walk is then over).
    pub fn on_header(&mut self, bytes: &[u8]) -> Option<u64> {
        let header = match TagHeader::parse(bytes) {
            Ok(Parsed::Complete { value, .. }) => value,
            _ => {
                self.stopped = true;
                return None;
            }
        };
        let end = self.sound + header.total_len();
        if end > self.file_len {
            self.stopped = true;
            return None;
        }
        self.pending = Some(header);
        Some(end - TAG_TRAILER_LEN as u64)
    }

    /// Takes the trailer bytes read where `on_header` said; returns whether the tag is whole
    /// (the walk goes on after it) or not (the walk is over).
    pub fn on_trailer(&mut self, bytes: &[u8]) -> bool {
        let Some(header) = self.pending.take() else {
            self.stopped = true;
            return false;
        };
        if bytes != trailer(header.data_size) {
            self.stopped = true;
            return false;
        }
        self.sound += header.total_len();
        self.tags += 1;
        self.last_timestamp = Some(
            self.last_timestamp
                .map_or(header.timestamp, |t| t.max(header.timestamp)),
        );
        true
    }

    /// The length of the sound part: up to the end of the last whole tag.
    pub fn sound_len(&self) -> u64 {
        self.sound
    }

    /// Whole tags so far.
    pub fn tags(&self) -> u64 {
        self.tags
    }

    /// The latest timestamp of the whole tags, in milliseconds.
    pub fn last_timestamp(&self) -> Option<u32> {
        self.last_timestamp
    }

    /// Walks a whole file held in memory (tests and small files).
    pub fn over(file: &[u8]) -> Result<TagWalk, FlvError> {
        let mut walk = TagWalk::new(file, file.len() as u64)?;
        while let Some(at) = walk.next_header_at() {
            let at = at as usize;
            let Some(trailer_at) = walk.on_header(&file[at..at + TAG_HEADER_LEN]) else {
                break;
            };
            let t = trailer_at as usize;
            if !walk.on_trailer(&file[t..t + TAG_TRAILER_LEN]) {
                break;
            }
        }
        Ok(walk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flv::{PREAMBLE_LEN, TagType};

    /// A file of `n` tags with bodies of 1, 2, 3, ... bytes, and the offset after each tag.
    fn file(n: usize) -> (Vec<u8>, Vec<usize>) {
        let mut out = vec![0; PREAMBLE_LEN];
        let mut preamble = [0; PREAMBLE_LEN];
        FileHeader {
            audio: true,
            video: true,
        }
        .emit(&mut preamble);
        out.copy_from_slice(&preamble);
        let mut ends = vec![out.len()];
        for i in 0..n {
            let kind = [TagType::Video, TagType::Audio, TagType::Script][i % 3];
            let header = TagHeader::new(kind, i + 1, 40 * i as u32).unwrap();
            let mut bytes = [0; TAG_HEADER_LEN];
            header.emit(&mut bytes);
            out.extend_from_slice(&bytes);
            out.extend(std::iter::repeat_n(0xAB, i + 1));
            out.extend_from_slice(&header.trailer());
            ends.push(out.len());
        }
        (out, ends)
    }

    #[test]
    fn a_whole_file_is_sound_to_its_end() {
        let (bytes, ends) = file(5);
        let walk = TagWalk::over(&bytes).unwrap();
        assert_eq!(walk.sound_len(), bytes.len() as u64);
        assert_eq!(walk.tags(), 5);
        assert_eq!(walk.last_timestamp(), Some(160));
        assert_eq!(*ends.last().unwrap(), bytes.len());
    }

    #[test]
    fn a_file_cut_anywhere_is_sound_up_to_the_last_whole_tag_before_the_cut() {
        let (bytes, ends) = file(6);
        for cut in PREAMBLE_LEN..=bytes.len() {
            let walk = TagWalk::over(&bytes[..cut]).unwrap();
            let expected = ends.iter().copied().filter(|&e| e <= cut).max().unwrap();
            assert_eq!(walk.sound_len(), expected as u64, "cut at {cut}");
        }
    }

    #[test]
    fn garbage_after_the_last_tag_ends_the_walk_there() {
        let (mut bytes, ends) = file(3);
        let sound = bytes.len();
        // A power cut can leave zeros where data was due.
        bytes.extend_from_slice(&[0; 64]);
        assert_eq!(TagWalk::over(&bytes).unwrap().sound_len(), sound as u64);
        // A wrong trailer makes its tag unsound, and everything after it.
        let (mut bytes, _) = file(3);
        let last_trailer = ends[2] + TAG_HEADER_LEN + 3;
        bytes[last_trailer + 3] ^= 1;
        assert_eq!(TagWalk::over(&bytes).unwrap().sound_len(), ends[2] as u64);
    }

    #[test]
    fn a_file_shorter_than_its_header_has_nothing_sound() {
        let (bytes, _) = file(1);
        for cut in 0..PREAMBLE_LEN {
            let walk = TagWalk::over(&bytes[..cut]).unwrap();
            assert_eq!(walk.sound_len(), 0, "cut at {cut}");
            assert_eq!(walk.next_header_at(), None);
        }
        assert!(TagWalk::over(b"not an flv file at all").is_err());
    }
}
