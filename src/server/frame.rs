//! A media message as every subscriber receives it: kind, timestamp, flags and the shared
//! payload (an FLV tag body), with no chunk headers.
//!
//! The publisher's worker makes one `Frame` per message and the hub hands clones (a pointer
//! copy) to every subscriber. Each subscriber frames it its own way: a player writes chunk
//! headers for its own message stream and chunk size, a push for the upstream's, a recorder
//! an FLV tag header.

use std::sync::Arc;

use crate::rtmp::Timestamp;
use crate::rtmp::chunk::MessageHeader;
use crate::rtmp::media::VideoPacket;
use crate::rtmp::message::type_id;
use crate::rtmp::session::{Media, MediaKind, csid};

/// What a frame carries, as far as the hub cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Audio.
    Audio,
    /// Video.
    Video,
    /// `onMetaData`.
    Metadata,
    /// Other data messages.
    Data,
}

/// One media message, shared by every subscriber.
#[derive(Debug, Clone)]
pub struct Frame {
    /// What it carries.
    pub kind: FrameKind,
    /// A video keyframe (not a sequence header).
    pub keyframe: bool,
    /// A decoder configuration (AVC/HEVC/AV1/VP9 or AAC sequence header).
    pub sequence_header: bool,
    /// Its timestamp.
    pub timestamp: Timestamp,
    /// The message payload (for metadata, without `@setDataFrame`), shared.
    pub payload: Arc<[u8]>,
}

impl Frame {
    /// Copies `media`'s payload once into a shared frame.
    pub fn from_media(media: &Media<'_>) -> Frame {
        let (kind, keyframe, sequence_header) = match media.kind {
            MediaKind::Audio(tag) => (FrameKind::Audio, false, tag.is_sequence_header()),
            MediaKind::Video(tag) => {
                let header = tag.packet == VideoPacket::SequenceHeader;
                (
                    FrameKind::Video,
                    tag.keyframe && tag.packet == VideoPacket::Frame,
                    header,
                )
            }
            MediaKind::Metadata => (FrameKind::Metadata, false, false),
            MediaKind::Data => (FrameKind::Data, false, false),
        };
        Frame {
            kind,
            keyframe,
            sequence_header,
            timestamp: media.timestamp,
            payload: Arc::from(media.payload),
        }
    }

    /// The RTMP message type it travels as.
    pub fn type_id(&self) -> u8 {
        match self.kind {
            FrameKind::Audio => type_id::AUDIO,
            FrameKind::Video => type_id::VIDEO,
            FrameKind::Metadata | FrameKind::Data => type_id::DATA_AMF0,
        }
    }

    /// The header to send it under on message stream `stream_id`, on rtmpsd's chunk streams.
    pub fn message_header(&self, stream_id: u32) -> MessageHeader {
        let chunk_stream_id = match self.kind {
            FrameKind::Audio => csid::AUDIO,
            FrameKind::Video => csid::VIDEO,
            FrameKind::Metadata | FrameKind::Data => csid::STREAM,
        };
        MessageHeader {
            chunk_stream_id,
            timestamp: self.timestamp,
            type_id: self.type_id(),
            stream_id,
        }
    }

    /// Its payload size in bytes.
    pub fn len(&self) -> usize {
        self.payload.len()
    }

    /// Whether its payload is empty.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::media::{AudioTag, VideoTag};

    fn media(kind: MediaKind, payload: &[u8]) -> Media<'_> {
        Media {
            kind,
            timestamp: Timestamp(1234),
            payload,
        }
    }

    #[test]
    fn a_keyframe_is_flagged_and_keeps_its_payload_and_timestamp() {
        let tag = crate::rtmp::media::inspect_video(&[0x17, 1, 0, 0, 0, 0xAA]).unwrap();
        let frame = Frame::from_media(&media(MediaKind::Video(tag), &[0x17, 1, 0, 0, 0, 0xAA]));
        assert_eq!(frame.kind, FrameKind::Video);
        assert!(frame.keyframe && !frame.sequence_header);
        assert_eq!(frame.timestamp, Timestamp(1234));
        assert_eq!(&frame.payload[..], &[0x17, 1, 0, 0, 0, 0xAA]);
        let header = frame.message_header(1);
        assert_eq!((header.chunk_stream_id, header.type_id), (csid::VIDEO, 9));
    }

    #[test]
    fn sequence_headers_are_not_keyframes() {
        let video: VideoTag = crate::rtmp::media::inspect_video(&[0x17, 0, 0, 0, 0]).unwrap();
        let frame = Frame::from_media(&media(MediaKind::Video(video), &[0x17, 0, 0, 0, 0]));
        assert!(frame.sequence_header && !frame.keyframe);
        let audio: AudioTag = crate::rtmp::media::inspect_audio(&[0xAF, 0, 0x12, 0x10]).unwrap();
        let frame = Frame::from_media(&media(MediaKind::Audio(audio), &[0xAF, 0, 0x12, 0x10]));
        assert!(frame.sequence_header);
        assert_eq!(frame.message_header(1).chunk_stream_id, csid::AUDIO);
    }

    #[test]
    fn data_travels_on_the_stream_chunk_stream_as_amf0_data() {
        let frame = Frame::from_media(&media(MediaKind::Metadata, &[2, 0, 0]));
        let header = frame.message_header(5);
        assert_eq!(header.chunk_stream_id, csid::STREAM);
        assert_eq!(header.type_id, type_id::DATA_AMF0);
        assert_eq!(header.stream_id, 5);
    }
}
