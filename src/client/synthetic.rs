//! A synthetic H.264 + AAC stream: valid headers, numbered frames, a set bitrate.
//!
//! Video frames carry their index in the first bytes of their NAL unit so a receiver can
//! check order and gaps without decoding. The bytes are not decodable video.

use crate::rtmp::Timestamp;
use crate::rtmp::amf0::Amf0Writer;
use crate::rtmp::message::type_id;

/// Generates the messages of a fake live stream.
#[derive(Debug, Clone)]
pub struct SyntheticStream {
    fps: u32,
    gop: u32,
    frame_bytes: usize,
    index: u32,
    audio_index: u32,
}

/// One message to publish: type id, timestamp, payload.
pub type SyntheticMessage = (u8, Timestamp, Vec<u8>);

/// Offset of the frame index inside a video payload.
pub const INDEX_OFFSET: usize = 9;

impl SyntheticStream {
    /// A stream at `fps` frames a second, a keyframe every `gop` frames, `video_kbps` of video.
    pub fn new(fps: u32, gop: u32, video_kbps: u32) -> Self {
        let fps = fps.max(1);
        let frame_bytes = ((video_kbps as usize * 1000 / 8) / fps as usize).max(16);
        SyntheticStream {
            fps,
            gop: gop.max(1),
            frame_bytes,
            index: 0,
            audio_index: 0,
        }
    }

    /// Metadata, the AVC sequence header and the AAC sequence header.
    pub fn headers(&self) -> Vec<SyntheticMessage> {
        let mut meta = [0u8; 512];
        let mut w = Amf0Writer::new(&mut meta);
        let len = (|| {
            w.string("@setDataFrame")?
                .string("onMetaData")?
                .ecma_array_start(4)?;
            w.property("width")?.number(320.0)?;
            w.property("height")?.number(240.0)?;
            w.property("videocodecid")?.number(7.0)?;
            w.property("audiocodecid")?.number(10.0)?;
            w.object_end()?;
            Ok::<usize, crate::rtmp::amf0::AmfError>(w.len())
        })()
        .unwrap_or(0);
        let sps = [0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xbf, 0xe5];
        let pps = [0x68, 0xce, 0x3c, 0x80];
        let mut avc = vec![0x17, 0x00, 0, 0, 0, 1, sps[1], sps[2], sps[3], 0xff, 0xe1];
        avc.extend_from_slice(&(sps.len() as u16).to_be_bytes());
        avc.extend_from_slice(&sps);
        avc.push(1);
        avc.extend_from_slice(&(pps.len() as u16).to_be_bytes());
        avc.extend_from_slice(&pps);
        vec![
            (type_id::DATA_AMF0, Timestamp::ZERO, meta[..len].to_vec()),
            (type_id::VIDEO, Timestamp::ZERO, avc),
            (
                type_id::AUDIO,
                Timestamp::ZERO,
                vec![0xaf, 0x00, 0x12, 0x10],
            ),
        ]
    }

    /// The next video frame's index.
    pub fn next_index(&self) -> u32 {
        self.index
    }

    /// Whether the next video frame is a keyframe (a media boundary to reconnect at).
    pub fn next_is_keyframe(&self) -> bool {
        self.index % self.gop == 0
    }

    /// The next video frame, followed by one audio frame.
    pub fn next_frames(&mut self) -> [SyntheticMessage; 2] {
        let index = self.index;
        self.index += 1;
        let ts = Timestamp((u64::from(index) * 1000 / u64::from(self.fps)) as u32);
        let key = index % self.gop == 0;
        let mut video = Vec::with_capacity(self.frame_bytes + 9);
        video.extend_from_slice(&[if key { 0x17 } else { 0x27 }, 0x01, 0, 0, 0]);
        let nal_len = self.frame_bytes as u32;
        video.extend_from_slice(&nal_len.to_be_bytes());
        video.extend_from_slice(&index.to_be_bytes());
        video.resize(9 + self.frame_bytes, 0x5a);
        video[13] = if key { 0x65 } else { 0x41 };
        let audio_ts = Timestamp((u64::from(self.audio_index) * 1000 / u64::from(self.fps)) as u32);
        self.audio_index += 1;
        let audio = vec![0xaf, 0x01, 0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c];
        [
            (type_id::VIDEO, ts, video),
            (type_id::AUDIO, audio_ts, audio),
        ]
    }
}

/// Reads the index a synthetic video payload carries.
pub fn frame_index(payload: &[u8]) -> Option<u32> {
    let bytes = payload.get(INDEX_OFFSET..INDEX_OFFSET + 4)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}
