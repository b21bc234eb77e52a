//! A media message encoded once as chunk bytes, shared by every player.

use std::sync::Arc;

use crate::rtmp::Timestamp;
use crate::rtmp::chunk::{ChunkWriter, MessageHeader};
use crate::rtmp::media::VideoPacket;
use crate::rtmp::session::{FANOUT_STREAM_ID, Media, MediaKind};

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

/// One media message as subscriber-independent chunk bytes: fmt 0 first chunk with the
/// absolute timestamp, message stream `FANOUT_STREAM_ID`, the server's outgoing chunk size.
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
    /// The chunk bytes, shared.
    pub bytes: Arc<[u8]>,
}

impl Frame {
    /// Encodes `media` once at `chunk_size`.
    pub fn encode(media: &Media<'_>, chunk_size: u32) -> Frame {
        let (kind, keyframe, sequence_header) = match media.kind {
            MediaKind::Audio(tag) => (FrameKind::Audio, false, tag.sequence_header),
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
        let writer = ChunkWriter::new(chunk_size);
        let header = MessageHeader {
            chunk_stream_id: media.chunk_stream_id(),
            timestamp: media.timestamp,
            type_id: media.type_id(),
            stream_id: FANOUT_STREAM_ID,
        };
        let len = writer.encoded_len(&header, media.payload.len());
        // Collecting from a sized iterator allocates the Arc once; the writer then fills it.
        let mut bytes: Arc<[u8]> = std::iter::repeat_n(0u8, len).collect();
        if let Some(out) = Arc::get_mut(&mut bytes) {
            // encoded_len is exact, so the write cannot run out of room.
            let _ = writer.write(&header, media.payload, out);
        }
        Frame {
            kind,
            keyframe,
            sequence_header,
            timestamp: media.timestamp,
            bytes,
        }
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it has no bytes (never, for an encoded frame).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}
