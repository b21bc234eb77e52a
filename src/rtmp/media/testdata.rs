//! Shared test inputs for the media parsers: configuration records, message builders, and
//! a real multitrack FLV.

/// An FLV file written by FFmpeg 9.0.2 (imageio-ffmpeg 0.8.1) with two video streams (H.264
/// 128x96, HEVC 64x64) and three audio streams (AAC, Opus, FLAC), 0.2 s:
///
/// ```text
/// ffmpeg -f lavfi -i testsrc=size=128x96:rate=25 -f lavfi -i sine=frequency=440:sample_rate=48000 \
///   -filter_complex "[0:v]split=2[a][b];[b]scale=64x64[c];[1:a]asplit=3[x][y][z]" \
///   -map "[a]" -map "[c]" -map "[x]" -map "[y]" -map "[z]" -c:v:0 libx264 -c:v:1 libx265 \
///   -g 25 -preset ultrafast -pix_fmt yuv420p -c:a:0 aac -c:a:1 libopus -c:a:2 flac -t 0.2 \
///   -flvflags no_duration_filesize ffmpeg9-multitrack.flv
/// ```
///
/// The first streams of each kind are plain tags (legacy H.264 and AAC); the others are
/// OneTrack multitrack messages with track ids 1 and 2, exactly as FFmpeg sends them over RTMP.
pub(super) const FFMPEG9_MULTITRACK_FLV: &[u8] =
    include_bytes!("../testdata/ffmpeg9-multitrack.flv");

/// The tags of an FLV file: (tag type, timestamp, body).
pub(super) fn flv_tags(flv: &[u8]) -> Vec<(u8, u32, &[u8])> {
    let mut tags = Vec::new();
    let mut at = 9 + 4;
    while at + 11 <= flv.len() {
        let kind = flv[at];
        let size = u32::from_be_bytes([0, flv[at + 1], flv[at + 2], flv[at + 3]]) as usize;
        let timestamp = u32::from_be_bytes([flv[at + 7], flv[at + 4], flv[at + 5], flv[at + 6]]);
        let Some(body) = flv.get(at + 11..at + 11 + size) else {
            break;
        };
        tags.push((kind, timestamp, body));
        at += 11 + size + 4;
    }
    tags
}

/// An x264 High-profile 4.0 SPS (1280x720), as FFmpeg puts it in its avcC.
pub(super) const AVC_SPS: &[u8] = &[
    0x67, 0x64, 0x00, 0x28, 0xac, 0xd9, 0x40, 0x50, 0x05, 0xbb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
    0x10, 0x00, 0x00, 0x03, 0x03, 0xc0, 0xf1, 0x83, 0x19, 0x60,
];
/// The matching PPS.
pub(super) const AVC_PPS: &[u8] = &[0x68, 0xeb, 0xe3, 0xcb, 0x22, 0xc0];

/// An avcC with one SPS and one PPS, without the High-profile extension bytes.
pub(super) fn avc_record() -> Vec<u8> {
    let mut record = vec![0x01, 0x64, 0x00, 0x28, 0xff, 0xe1];
    record.extend_from_slice(&(AVC_SPS.len() as u16).to_be_bytes());
    record.extend_from_slice(AVC_SPS);
    record.push(0x01);
    record.extend_from_slice(&(AVC_PPS.len() as u16).to_be_bytes());
    record.extend_from_slice(AVC_PPS);
    record
}

/// The legacy sequence-header message FFmpeg sends for H.264: 0x17 0x00, a zero
/// composition time, then the avcC with High-profile extension bytes (4:2:0, 8-bit, no
/// SPS extensions).
pub(super) fn ffmpeg_avc_sequence_header() -> Vec<u8> {
    let mut message = vec![0x17, 0x00, 0x00, 0x00, 0x00];
    message.extend_from_slice(&avc_record());
    message.extend_from_slice(&[0xfd, 0xf8, 0xf8, 0x00]);
    message
}

/// An hvcC: Main profile, level 3.1, 4:2:0 8-bit, 4-byte lengths, one VPS, SPS and PPS.
pub(super) fn hevc_record() -> Vec<u8> {
    let mut record = vec![
        0x01, // configurationVersion
        0x01, // profile space 0, tier 0, profile idc 1 (Main)
        0x60, 0x00, 0x00, 0x00, // profile compatibility flags
        0x90, 0x00, 0x00, 0x00, 0x00, 0x00, // constraint indicator flags
        0x5d, // level idc 93 (3.1)
        0xf0, 0x00, // min spatial segmentation
        0xfc, // parallelism type
        0xfd, // chroma format 4:2:0
        0xf8, // bit depth luma 8
        0xf8, // bit depth chroma 8
        0x00, 0x00, // average frame rate
        0x0f, // one temporal layer, nested, lengthSizeMinusOne 3
        0x03, // numOfArrays
    ];
    let vps: &[u8] = &[
        0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
        0x03, 0x00, 0x00, 0x03, 0x00, 0x5d, 0x95, 0x98, 0x09,
    ];
    let sps: &[u8] = &[
        0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00,
        0x03, 0x00, 0x5d, 0xa0, 0x02, 0x80, 0x80, 0x2d, 0x16, 0x59, 0x59, 0xa4, 0x93, 0x2b, 0xc0,
        0x40, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x07, 0x82,
    ];
    let pps: &[u8] = &[0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40];
    for (nal_type, unit) in [(0xa0u8, vps), (0xa1, sps), (0xa2, pps)] {
        record.push(nal_type);
        record.extend_from_slice(&1u16.to_be_bytes());
        record.extend_from_slice(&(unit.len() as u16).to_be_bytes());
        record.extend_from_slice(unit);
    }
    record
}

/// An av1C: marker+version 1, Main profile level 4.0, 4:2:0, then a sequence header OBU.
pub(super) const AV1_RECORD: &[u8] = &[
    0x81, 0x08, 0x0c, 0x00, 0x0a, 0x0b, 0x00, 0x00, 0x00, 0x24, 0xcf, 0x7f, 0x0d, 0xbf, 0xff, 0x30,
    0x08,
];

/// A vpcC as FFmpeg writes it: FullBox version 1 and flags, profile 0, level 3.1, 8-bit
/// 4:2:0, BT.709 colour, no initialization data.
pub(super) const VP9_RECORD: &[u8] = &[
    0x01, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x80, 0x01, 0x01, 0x01, 0x00, 0x00,
];

/// An enhanced message: first byte, FourCC, then `rest`.
pub(super) fn enhanced(first: u8, fourcc: &[u8; 4], rest: &[u8]) -> Vec<u8> {
    let mut message = vec![first];
    message.extend_from_slice(fourcc);
    message.extend_from_slice(rest);
    message
}

/// One track of a ManyTracks message: id, UI24 size, body.
pub(super) fn sized_track(id: u8, body: &[u8]) -> Vec<u8> {
    let mut track = vec![id];
    track.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    track.extend_from_slice(body);
    track
}

/// A deterministic xorshift64 generator for the no-panic tests.
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}
