//! FLV files, sans-IO: the file header, tag headers, the `onMetaData` tag a recording starts
//! with, and a walk over a file's tags that finds where its last whole tag ends.
//!
//! An RTMP audio, video or data message body is exactly an FLV tag body, so a recording is
//! the file header followed by each message behind an 11-byte tag header and before a 4-byte
//! size; nothing is transcoded, and Enhanced RTMP payloads (FourCC codecs, multitrack) are
//! kept as they came.
//!
//! ```text
//! file      "FLV" 0x01 | flags:8 (audio 0x04, video 0x01) | data offset:32 (= 9)
//!           previous tag size 0:32 (= 0)
//! tag       type:8 (8 audio, 9 video, 18 script) | data size:24
//!           timestamp:24 (low bits, ms) | timestamp extended:8 (high bits)
//!           stream id:24 (= 0) | data (data size bytes)
//!           previous tag size:32 (= 11 + data size)
//! ```
//!
//! All fields are big-endian. Contract: nothing here does I/O, reads a clock or panics on
//! any input; `parse` functions return `Parsed::Incomplete` on a short slice and an
//! `FlvError` naming the field and the value seen on a bad one.

mod error;
mod file_header;
mod metadata;
mod tag;
mod walk;

pub use crate::rtmp::chunk::Parsed;
pub use error::FlvError;
pub use file_header::{FILE_HEADER_LEN, FileHeader, PREAMBLE_LEN};
pub use metadata::{DURATION_AT, duration_of, metadata_body, write_duration};
pub use tag::{MAX_DATA_SIZE, TAG_HEADER_LEN, TAG_TRAILER_LEN, TagHeader, TagType, trailer};
pub use walk::TagWalk;
