//! Why a media tag header could not be read.

use super::codec::MediaType;

/// Why a media header could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaError {
    /// The message is shorter than its header.
    TooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        seen: usize,
    },
    /// An enhanced-RTMP FourCC that is not known.
    UnknownFourCc {
        /// Audio or video.
        media: MediaType,
        /// The FourCC as a big-endian u32.
        fourcc: u32,
    },
    /// A decoder configuration record whose counts or lengths run past its end.
    BadConfigRecord {
        /// Offset where it went wrong.
        offset: usize,
    },
    /// An `AvMultitrackType` the specification does not define (3..=15).
    UnknownMultitrackType {
        /// Audio or video.
        media: MediaType,
        /// The value seen.
        value: u8,
    },
    /// A multitrack message whose tracks' packet type is Multitrack or ModEx again.
    NestedMultitrack {
        /// Audio or video.
        media: MediaType,
        /// The packet type seen.
        packet_type: u8,
    },
    /// A track of a many-track message whose size runs past the end of the message.
    TrackPastEnd {
        /// The track id.
        track: u8,
        /// Offset of its first byte.
        offset: usize,
        /// The size it declares.
        size: u32,
        /// Bytes left in the message from `offset`.
        left: usize,
    },
    /// A ModEx TimestampOffsetNano whose data is shorter than the 3 bytes of its UI24.
    ModExTooShort {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        seen: usize,
    },
}

impl core::fmt::Display for MediaError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            MediaError::TooShort { needed, seen } => {
                write!(
                    f,
                    "media header too short: needed {needed} bytes, saw {seen}"
                )
            }
            MediaError::UnknownFourCc { media, fourcc } => {
                write!(f, "unknown {media} fourcc \"")?;
                for byte in fourcc.to_be_bytes() {
                    let shown = if byte.is_ascii_graphic() || byte == b' ' {
                        char::from(byte)
                    } else {
                        '?'
                    };
                    write!(f, "{shown}")?;
                }
                write!(f, "\" ({fourcc:#010x})")
            }
            MediaError::BadConfigRecord { offset } => {
                write!(f, "bad decoder configuration record at offset {offset}")
            }
            MediaError::UnknownMultitrackType { media, value } => {
                write!(f, "unknown {media} multitrack type {value}")
            }
            MediaError::NestedMultitrack { media, packet_type } => write!(
                f,
                "{media} multitrack message whose tracks have packet type {packet_type}"
            ),
            MediaError::TrackPastEnd {
                track,
                offset,
                size,
                left,
            } => write!(
                f,
                "track {track} at byte {offset} declares {size} bytes, {left} left in the message"
            ),
            MediaError::ModExTooShort { needed, seen } => {
                write!(f, "timestamp offset modex of {seen} bytes, needs {needed}")
            }
        }
    }
}

impl std::error::Error for MediaError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_lowercase_phrase() {
        assert_eq!(
            MediaError::TooShort { needed: 5, seen: 4 }.to_string(),
            "media header too short: needed 5 bytes, saw 4"
        );
        assert_eq!(
            MediaError::UnknownFourCc {
                media: MediaType::Video,
                fourcc: u32::from_be_bytes(*b"vp07")
            }
            .to_string(),
            "unknown video fourcc \"vp07\" (0x76703037)"
        );
        assert_eq!(
            MediaError::UnknownFourCc {
                media: MediaType::Audio,
                fourcc: 0x0001_ff41
            }
            .to_string(),
            "unknown audio fourcc \"???A\" (0x0001ff41)"
        );
        assert_eq!(
            MediaError::BadConfigRecord { offset: 11 }.to_string(),
            "bad decoder configuration record at offset 11"
        );
        assert_eq!(
            MediaError::UnknownMultitrackType {
                media: MediaType::Video,
                value: 3
            }
            .to_string(),
            "unknown video multitrack type 3"
        );
        assert_eq!(
            MediaError::NestedMultitrack {
                media: MediaType::Audio,
                packet_type: 5
            }
            .to_string(),
            "audio multitrack message whose tracks have packet type 5"
        );
        assert_eq!(
            MediaError::TrackPastEnd {
                track: 2,
                offset: 9,
                size: 300,
                left: 12
            }
            .to_string(),
            "track 2 at byte 9 declares 300 bytes, 12 left in the message"
        );
        assert_eq!(
            MediaError::ModExTooShort { needed: 3, seen: 2 }.to_string(),
            "timestamp offset modex of 2 bytes, needs 3"
        );
    }
}
