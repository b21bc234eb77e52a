//! Media messages from a publishing stream, classified for the caller.

use crate::rtmp::amf0::{self, Amf0Value, AmfLimits};
use crate::rtmp::chunk::MessageHeader;
use crate::rtmp::media::{self, AudioTag, VideoPacket, VideoTag};
use crate::rtmp::message::type_id;
use crate::rtmp::{Error, Timestamp};

use super::csid;

/// What kind of media message arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// Audio, with its parsed header.
    Audio(AudioTag),
    /// Video, with its parsed header.
    Video(VideoTag),
    /// `onMetaData` (from `@setDataFrame`, which is stripped).
    Metadata,
    /// Any other AMF0 data message.
    Data,
}

/// A media message from a publishing stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Media<'a> {
    /// Kind and parsed header.
    pub kind: MediaKind,
    /// Absolute timestamp.
    pub timestamp: Timestamp,
    /// The payload to pass on (for metadata: without the `@setDataFrame` prefix).
    pub payload: &'a [u8],
}

impl<'a> Media<'a> {
    /// Classifies an audio, video or AMF0 data message of a publishing stream.
    ///
    /// Returns `None` for a data message that carries no name (dropped).
    pub fn classify(
        header: MessageHeader,
        payload: &'a [u8],
        amf: &AmfLimits,
    ) -> Result<Option<Media<'a>>, Error> {
        let (kind, payload) = match header.type_id {
            type_id::AUDIO => (MediaKind::Audio(media::inspect_audio(payload)?), payload),
            type_id::VIDEO => {
                let tag = media::inspect_video(payload)?;
                if tag.packet == VideoPacket::SequenceHeader {
                    media::validate_sequence_header(&tag, payload)?;
                }
                (MediaKind::Video(tag), payload)
            }
            _ => match data_message(payload, amf)? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        Ok(Some(Media {
            kind,
            timestamp: header.timestamp,
            payload,
        }))
    }

    /// The RTMP message type this media travels as.
    pub fn type_id(&self) -> u8 {
        match self.kind {
            MediaKind::Audio(_) => type_id::AUDIO,
            MediaKind::Video(_) => type_id::VIDEO,
            MediaKind::Metadata | MediaKind::Data => type_id::DATA_AMF0,
        }
    }

    /// The chunk stream id this media is sent on.
    pub fn chunk_stream_id(&self) -> u32 {
        match self.kind {
            MediaKind::Audio(_) => csid::AUDIO,
            MediaKind::Video(_) => csid::VIDEO,
            MediaKind::Metadata | MediaKind::Data => csid::STREAM,
        }
    }
}

/// Classifies an AMF0 data message: `@setDataFrame` is stripped and `onMetaData` singled out.
///
/// Returns `None` for a data message that carries no name (dropped).
fn data_message<'a>(
    payload: &'a [u8],
    limits: &AmfLimits,
) -> Result<Option<(MediaKind, &'a [u8])>, Error> {
    let values = amf0::decode_all(payload, limits)?;
    let Some(Amf0Value::String(first)) = values.first() else {
        return Ok(None);
    };
    if *first == "@setDataFrame" {
        // The first value is a short string: marker, u16 length, bytes.
        let rest = payload.get(3 + first.len()..).unwrap_or_default();
        let is_metadata = matches!(values.get(1), Some(Amf0Value::String("onMetaData")));
        let kind = if is_metadata {
            MediaKind::Metadata
        } else {
            MediaKind::Data
        };
        return Ok(Some((kind, rest)));
    }
    let kind = if *first == "onMetaData" {
        MediaKind::Metadata
    } else {
        MediaKind::Data
    };
    Ok(Some((kind, payload)))
}
