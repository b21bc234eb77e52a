//! Enhanced-RTMP multitrack: the track list of one audio or video message.
//!
//! ```text
//! packet type nibble = Multitrack (audio 5, video 6), then
//!   UB4 AvMultitrackType | UB4 packet type of every track (never Multitrack or ModEx again)
//!   OneTrack, ManyTracks:   FOURCC shared by the tracks
//! then the tracks, until the message ends:
//!   ManyTracksManyCodecs:   FOURCC of this track
//!   UI8 track id
//!   ManyTracks*:            UI24 size of the rest of this track
//!   the track's body        (OneTrack: the rest of the message)
//! ```
//!
//! A message without the Multitrack packet type is one track with id 0, the default track.
//! That is also how FFmpeg 8+ muxes: the first stream of a kind as a plain (legacy or
//! enhanced) tag, every further one as a OneTrack message with its own id (1, 2, ...), one
//! track per message. OBS's multitrack video does the same with OneTrack messages; the
//! ManyTracks forms are read to the specification, from its byte layouts.

use super::codec::MediaType;
use super::error::MediaError;
use super::mod_ex::PACKET_TYPE_MOD_EX;
use super::read::{byte_at, fourcc_at, u24_at};

/// How a multitrack message lays out its tracks (`AvMultitrackType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultitrackType {
    /// One track, with its id; the body is the rest of the message.
    OneTrack,
    /// Several tracks sharing one FourCC, each with an id and a size.
    ManyTracks,
    /// Several tracks, each with its own FourCC, id and size.
    ManyTracksManyCodecs,
}

impl MultitrackType {
    /// The type of a UB4 value, or `UnknownMultitrackType`.
    pub(super) fn from_nibble(media: MediaType, value: u8) -> Result<Self, MediaError> {
        match value {
            0 => Ok(MultitrackType::OneTrack),
            1 => Ok(MultitrackType::ManyTracks),
            2 => Ok(MultitrackType::ManyTracksManyCodecs),
            value => Err(MediaError::UnknownMultitrackType { media, value }),
        }
    }
}

/// Where the tracks of a message are and how to walk them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// `None` for a single-track (non-multitrack) message: one track, id 0.
    pub(super) multitrack: Option<MultitrackType>,
    /// The FourCC shared by every track (none for legacy tags and ManyTracksManyCodecs).
    pub(super) fourcc: Option<u32>,
    /// Offset of the first track entry, or of the body of a single-track message.
    pub(super) start: usize,
}

/// Reads what follows an enhanced tag's packet type at `at`: the multitrack byte when
/// `packet_type` is `multitrack_packet` (the Multitrack packet type of `media`), then the
/// FourCC the tracks share unless each track has its own. Returns the tracks' packet type
/// and their layout.
pub(super) fn read_layout(
    payload: &[u8],
    media: MediaType,
    multitrack_packet: u8,
    mut packet_type: u8,
    mut at: usize,
) -> Result<(u8, Layout), MediaError> {
    let mut multitrack = None;
    if packet_type == multitrack_packet {
        let byte = byte_at(payload, at)?;
        multitrack = Some(MultitrackType::from_nibble(media, byte >> 4)?);
        packet_type = byte & 0x0f;
        if packet_type == multitrack_packet || packet_type == PACKET_TYPE_MOD_EX {
            return Err(MediaError::NestedMultitrack { media, packet_type });
        }
        at += 1;
    }
    let fourcc = if multitrack == Some(MultitrackType::ManyTracksManyCodecs) {
        None
    } else {
        let fourcc = fourcc_at(payload, at)?;
        at += 4;
        Some(fourcc)
    };
    let layout = Layout {
        multitrack,
        fourcc,
        start: at,
    };
    Ok((packet_type, layout))
}

/// One track of a message: its id, FourCC, and where its body lies in the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TrackEntry {
    pub(super) id: u8,
    pub(super) fourcc: Option<u32>,
    /// Offset of the body's first byte.
    pub(super) start: usize,
    /// Offset just past the body.
    pub(super) end: usize,
}

/// Walks the tracks of one message in wire order.
///
/// Every entry consumes at least 4 bytes (id and size) past its start, so a walk is bounded by
/// the message length; after an error it yields nothing more.
pub(super) struct TrackWalker<'a> {
    payload: &'a [u8],
    layout: Layout,
    at: usize,
    finished: bool,
}

impl<'a> TrackWalker<'a> {
    pub(super) fn new(payload: &'a [u8], layout: Layout) -> Self {
        TrackWalker {
            payload,
            layout,
            at: layout.start,
            finished: false,
        }
    }

    fn entry(&mut self) -> Result<TrackEntry, MediaError> {
        let payload = self.payload;
        let len = payload.len();
        let at = self.at;
        let (fourcc, id_at) = match self.layout.multitrack {
            None => {
                self.finished = true;
                return Ok(TrackEntry {
                    id: 0,
                    fourcc: self.layout.fourcc,
                    start: at,
                    end: len,
                });
            }
            Some(MultitrackType::ManyTracksManyCodecs) => (Some(fourcc_at(payload, at)?), at + 4),
            Some(_) => (self.layout.fourcc, at),
        };
        let id = byte_at(payload, id_at)?;
        if self.layout.multitrack == Some(MultitrackType::OneTrack) {
            self.finished = true;
            return Ok(TrackEntry {
                id,
                fourcc,
                start: id_at + 1,
                end: len,
            });
        }
        let size = u24_at(payload, id_at + 1)?;
        let start = id_at + 4;
        let end = start + size as usize;
        if end > len {
            return Err(MediaError::TrackPastEnd {
                track: id,
                offset: start,
                size,
                left: len - start,
            });
        }
        self.at = end;
        self.finished = end == len;
        Ok(TrackEntry {
            id,
            fourcc,
            start,
            end,
        })
    }
}

impl Iterator for TrackWalker<'_> {
    type Item = Result<TrackEntry, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let entry = self.entry();
        if entry.is_err() {
            self.finished = true;
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(payload: &[u8], layout: Layout) -> Result<Vec<TrackEntry>, MediaError> {
        TrackWalker::new(payload, layout).collect()
    }

    fn entry(id: u8, fourcc: Option<&[u8; 4]>, start: usize, end: usize) -> TrackEntry {
        TrackEntry {
            id,
            fourcc: fourcc.map(|f| u32::from_be_bytes(*f)),
            start,
            end,
        }
    }

    #[test]
    fn a_single_track_message_is_track_zero_to_the_end() {
        let layout = Layout {
            multitrack: None,
            fourcc: Some(u32::from_be_bytes(*b"av01")),
            start: 5,
        };
        let payload = [0x91, b'a', b'v', b'0', b'1', 1, 2, 3];
        assert_eq!(
            walk(&payload, layout),
            Ok(vec![entry(0, Some(b"av01"), 5, 8)])
        );
    }

    #[test]
    fn one_track_has_an_id_and_no_size() {
        // 0x96 0x03 "avc1" id 1, then the body: as FFmpeg 9 sends its second video stream.
        let payload = [
            0x96, 0x03, b'a', b'v', b'c', b'1', 0x01, 0, 0, 0, 2, 0x41, 0x9a,
        ];
        let layout = Layout {
            multitrack: Some(MultitrackType::OneTrack),
            fourcc: Some(u32::from_be_bytes(*b"avc1")),
            start: 6,
        };
        assert_eq!(
            walk(&payload, layout),
            Ok(vec![entry(1, Some(b"avc1"), 7, 13)])
        );
        assert_eq!(
            walk(&payload[..6], layout),
            Err(MediaError::TooShort { needed: 7, seen: 6 })
        );
    }

    #[test]
    fn many_tracks_share_the_fourcc_and_carry_sizes() {
        // Track 0: 2 bytes, track 3: 0 bytes, track 1: 1 byte.
        let mut payload = vec![0x96, 0x13, b'h', b'v', b'c', b'1'];
        payload.extend_from_slice(&[0, 0, 0, 2, 0xaa, 0xbb]);
        payload.extend_from_slice(&[3, 0, 0, 0]);
        payload.extend_from_slice(&[1, 0, 0, 1, 0xcc]);
        let layout = Layout {
            multitrack: Some(MultitrackType::ManyTracks),
            fourcc: Some(u32::from_be_bytes(*b"hvc1")),
            start: 6,
        };
        assert_eq!(
            walk(&payload, layout),
            Ok(vec![
                entry(0, Some(b"hvc1"), 10, 12),
                entry(3, Some(b"hvc1"), 16, 16),
                entry(1, Some(b"hvc1"), 20, 21),
            ])
        );
    }

    #[test]
    fn many_tracks_many_codecs_carry_a_fourcc_each() {
        let mut payload = vec![0x96, 0x21];
        payload.extend_from_slice(b"avc1");
        payload.extend_from_slice(&[0, 0, 0, 1, 0xaa]);
        payload.extend_from_slice(b"av01");
        payload.extend_from_slice(&[7, 0, 0, 2, 0xbb, 0xcc]);
        let layout = Layout {
            multitrack: Some(MultitrackType::ManyTracksManyCodecs),
            fourcc: None,
            start: 2,
        };
        assert_eq!(
            walk(&payload, layout),
            Ok(vec![
                entry(0, Some(b"avc1"), 10, 11),
                entry(7, Some(b"av01"), 19, 21),
            ])
        );
    }

    #[test]
    fn a_size_past_the_end_is_refused_with_the_track_and_sizes() {
        let payload = [0x96, 0x11, b'v', b'p', b'0', b'9', 2, 0, 0, 9, 0xaa, 0xbb];
        let layout = Layout {
            multitrack: Some(MultitrackType::ManyTracks),
            fourcc: Some(u32::from_be_bytes(*b"vp09")),
            start: 6,
        };
        assert_eq!(
            walk(&payload, layout),
            Err(MediaError::TrackPastEnd {
                track: 2,
                offset: 10,
                size: 9,
                left: 2
            })
        );
        // After an error the walk stops.
        let mut walker = TrackWalker::new(&payload, layout);
        assert!(walker.next().is_some_and(|e| e.is_err()));
        assert!(walker.next().is_none());
    }

    #[test]
    fn many_tracks_need_at_least_one_track_and_whole_headers() {
        let layout = Layout {
            multitrack: Some(MultitrackType::ManyTracks),
            fourcc: Some(u32::from_be_bytes(*b"vp09")),
            start: 6,
        };
        let head = [0x96, 0x11, b'v', b'p', b'0', b'9'];
        assert_eq!(
            walk(&head, layout),
            Err(MediaError::TooShort { needed: 7, seen: 6 })
        );
        let mut cut = head.to_vec();
        cut.extend_from_slice(&[0, 0, 0]);
        assert_eq!(
            walk(&cut, layout),
            Err(MediaError::TooShort {
                needed: 10,
                seen: 9
            })
        );
    }

    #[test]
    fn reserved_multitrack_types_are_refused() {
        for value in 3..=15 {
            assert_eq!(
                MultitrackType::from_nibble(MediaType::Audio, value),
                Err(MediaError::UnknownMultitrackType {
                    media: MediaType::Audio,
                    value
                })
            );
        }
    }
}
