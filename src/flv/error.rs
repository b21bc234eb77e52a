//! Why FLV bytes could not be read or a tag could not be written.

/// A bad FLV field: which one, and the value seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlvError {
    /// The file does not start with `FLV`.
    NotFlv {
        /// The first three bytes.
        seen: [u8; 3],
    },
    /// A file version other than 1.
    Version {
        /// The version byte.
        seen: u8,
    },
    /// A data offset below the 9-byte header or above the limit.
    DataOffset {
        /// The largest offset accepted.
        limit: u32,
        /// The offset in the header.
        seen: u32,
    },
    /// A tag type other than audio (8), video (9) or script (18).
    UnknownTagType {
        /// The type byte (filter bit included).
        seen: u8,
    },
    /// A tag with the filter (encryption) bit set.
    Filtered,
    /// A tag whose stream id is not 0.
    StreamIdNotZero {
        /// The stream id.
        seen: u32,
    },
    /// A tag body longer than the 24-bit size field can carry.
    DataTooLong {
        /// The largest body size.
        limit: u32,
        /// The body size given.
        seen: usize,
    },
}

impl core::fmt::Display for FlvError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            FlvError::NotFlv { seen: [a, b, c] } => write!(
                f,
                "not an flv file (starts with 0x{:06x})",
                u32::from_be_bytes([0, a, b, c])
            ),
            FlvError::Version { seen } => write!(f, "flv version {seen}, not 1"),
            FlvError::DataOffset { limit, seen } => {
                write!(f, "flv data offset {seen} not in 9..={limit}")
            }
            FlvError::UnknownTagType { seen } => write!(f, "unknown flv tag type {seen}"),
            FlvError::Filtered => write!(f, "encrypted (filtered) flv tag"),
            FlvError::StreamIdNotZero { seen } => write!(f, "flv tag stream id {seen}, not 0"),
            FlvError::DataTooLong { limit, seen } => {
                write!(f, "flv tag body of {seen} bytes over the limit {limit}")
            }
        }
    }
}
