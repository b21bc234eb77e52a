//! The stream the fan-out benchmark publishes: an H.264 + AAC FLV made once with ffmpeg
//! (or a synthetic stand-in), replayed in real time in a loop, each video frame carrying
//! its index and the publisher's send time in an SEI NAL unit.
//!
//! The stamp is a `user_data_unregistered` SEI (payload type 5) put in front of the frame's
//! own NAL units, so the stream stays decodable; its numbers are ASCII hex, so it needs no
//! emulation-prevention bytes. Send times are `CLOCK_MONOTONIC` nanoseconds, which every
//! process on the machine shares: players in another process subtract them from their own
//! receive time.

use std::path::{Path, PathBuf};
use std::process::Command;

use rtmpsd::rtmp::message::type_id;

/// Identifies our stamp among SEI messages (16 bytes, no zero byte).
const STAMP_UUID: [u8; 16] = *b"rtmpsd-fanout-01";
/// SEI payload bytes: UUID, 8 hex digits of frame index, 16 hex digits of nanoseconds.
const STAMP_PAYLOAD: usize = 16 + 8 + 16;
/// The NAL unit: type byte, payload type, payload size, payload, rbsp trailing bits.
const STAMP_NAL: usize = 3 + STAMP_PAYLOAD + 1;
/// Video tag header: frame type/codec, AVC packet type, composition time (3 bytes).
const VIDEO_HEADER: usize = 5;
/// Bytes the stamp adds to a video frame: a 4-byte NAL length and the NAL unit.
pub const STAMP_LEN: usize = 4 + STAMP_NAL;

/// Now on `CLOCK_MONOTONIC`, in nanoseconds: comparable across processes on this machine.
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the pointer we own.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// One message of the stream.
#[derive(Debug, Clone)]
pub struct Tag {
    /// RTMP message type (audio, video, data).
    pub type_id: u8,
    /// Milliseconds from the start of the clip.
    pub ms: u32,
    /// The payload (for video frames, with room for the stamp already in place).
    pub payload: Vec<u8>,
    /// A video frame that gets a stamp (AVC NALU packet).
    pub stamped: bool,
}

/// The clip: headers sent once, then frames replayed in a loop.
#[derive(Debug, Clone)]
pub struct Clip {
    /// Metadata and sequence headers.
    pub headers: Vec<Tag>,
    /// Frames, in send order.
    pub frames: Vec<Tag>,
    /// Length of one pass, in milliseconds (the loop period).
    pub period_ms: u32,
    /// Where it came from, for the report.
    pub description: String,
}

impl Clip {
    /// Video frames in one pass.
    pub fn video_frames(&self) -> usize {
        self.frames.iter().filter(|t| t.stamped).count()
    }

    /// Media payload bits a second (stamps included).
    pub fn bitrate(&self) -> f64 {
        let bytes: usize = self.frames.iter().map(|t| t.payload.len()).sum();
        bytes as f64 * 8.0 * 1000.0 / f64::from(self.period_ms.max(1))
    }

    /// Largest and average keyframe, and average other video frame, in bytes.
    pub fn frame_sizes(&self) -> (usize, usize, usize) {
        let key: Vec<usize> = self
            .frames
            .iter()
            .filter(|t| t.stamped && is_keyframe(&t.payload))
            .map(|t| t.payload.len())
            .collect();
        let other: Vec<usize> = self
            .frames
            .iter()
            .filter(|t| t.stamped && !is_keyframe(&t.payload))
            .map(|t| t.payload.len())
            .collect();
        let avg = |v: &[usize]| v.iter().sum::<usize>() / v.len().max(1);
        (
            key.iter().copied().max().unwrap_or(0),
            avg(&key),
            avg(&other),
        )
    }
}

/// Whether a video payload is an AVC keyframe with picture data (not a sequence header).
pub fn is_keyframe(payload: &[u8]) -> bool {
    matches!(payload, [b0, 1, ..] if b0 >> 4 == 1)
}

/// Writes index and send time into a frame made with room for the stamp.
pub fn stamp(payload: &mut [u8], index: u32, send_ns: u64) {
    let at = VIDEO_HEADER + 4 + 3 + 16;
    if let Some(digits) = payload.get_mut(at..at + 24) {
        hex(&mut digits[..8], u64::from(index));
        hex(&mut digits[8..], send_ns);
    }
}

/// Reads a stamp: the frame index and the send time.
pub fn read_stamp(payload: &[u8]) -> Option<(u32, u64)> {
    let nal = payload.get(VIDEO_HEADER + 4..VIDEO_HEADER + 4 + STAMP_NAL)?;
    if nal[..3] != [0x06, 0x05, STAMP_PAYLOAD as u8] || nal[3..19] != STAMP_UUID {
        return None;
    }
    let index = unhex(&nal[19..27])?;
    let ns = unhex(&nal[27..43])?;
    Some((u32::try_from(index).ok()?, ns))
}

fn hex(out: &mut [u8], mut value: u64) {
    for b in out.iter_mut().rev() {
        *b = b"0123456789abcdef"[(value & 15) as usize];
        value >>= 4;
    }
}

fn unhex(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |acc, &d| {
        let v = (d as char).to_digit(16)?;
        Some((acc << 4) | u64::from(v))
    })
}

/// Puts an empty stamp after the 5-byte header of an AVC NALU packet.
fn with_stamp_room(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + STAMP_LEN);
    out.extend_from_slice(&payload[..VIDEO_HEADER]);
    out.extend_from_slice(&(STAMP_NAL as u32).to_be_bytes());
    out.extend_from_slice(&[0x06, 0x05, STAMP_PAYLOAD as u8]);
    out.extend_from_slice(&STAMP_UUID);
    out.extend_from_slice(&[b'0'; 24]);
    out.push(0x80);
    out.extend_from_slice(&payload[VIDEO_HEADER..]);
    out
}

/// Turns one FLV tag into a clip entry.
fn tag(type_id: u8, ms: u32, data: &[u8]) -> Tag {
    let stamped = type_id == type_id::VIDEO
        && data.len() > VIDEO_HEADER
        && data[1] == 1
        && data[0] & 0x0f == 7;
    let payload = if stamped {
        with_stamp_room(data)
    } else if type_id == type_id::DATA_AMF0 {
        // A file's onMetaData goes out as `@setDataFrame onMetaData {...}`, as ffmpeg sends it.
        let mut p = vec![0x02, 0x00, 13];
        p.extend_from_slice(b"@setDataFrame");
        p.extend_from_slice(data);
        p
    } else {
        data.to_vec()
    };
    Tag {
        type_id,
        ms,
        payload,
        stamped,
    }
}

/// Reads an FLV file's audio, video and script tags.
pub fn read_flv(path: &Path) -> Result<Clip, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.get(..3) != Some(b"FLV") {
        return Err(format!("{}: not an FLV file", path.display()));
    }
    let header_len = bytes
        .get(5..9)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or("short FLV header")?;
    let mut at = header_len + 4;
    let mut headers = Vec::new();
    let mut frames = Vec::new();
    let mut last_video_ms = 0;
    let mut video_ms = Vec::new();
    while let Some(h) = bytes.get(at..at + 11) {
        let kind = h[0] & 0x1f;
        let size = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        let ms = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        let Some(data) = bytes.get(at + 11..at + 11 + size) else {
            break;
        };
        at += 11 + size + 4;
        if !matches!(kind, type_id::AUDIO | type_id::VIDEO | type_id::DATA_AMF0) || data.is_empty()
        {
            continue;
        }
        let is_header = kind == type_id::DATA_AMF0
            || (kind == type_id::VIDEO && data.get(1) == Some(&0))
            || (kind == type_id::AUDIO && data[0] >> 4 == 10 && data.get(1) == Some(&0));
        let t = tag(kind, ms, data);
        if is_header {
            headers.push(Tag { ms: 0, ..t });
        } else {
            if t.stamped {
                video_ms.push(ms);
                last_video_ms = last_video_ms.max(ms);
            }
            frames.push(t);
        }
    }
    if video_ms.len() < 2
        || !frames
            .first()
            .is_some_and(|t| is_keyframe(&t.payload) || t.type_id == type_id::AUDIO)
    {
        return Err(format!(
            "{}: needs H.264 video starting on a keyframe",
            path.display()
        ));
    }
    // One pass lasts until the next frame after the last: the average frame interval on.
    let interval = last_video_ms / (video_ms.len() as u32 - 1).max(1);
    Ok(Clip {
        headers,
        frames,
        period_ms: last_video_ms + interval,
        description: format!("{}", path.display()),
    })
}

/// How to make the FLV: size, rate, bitrate, GOP, length.
#[derive(Debug, Clone, Copy)]
pub struct FlvRecipe {
    /// Total media bitrate (video plus 128 kbit/s AAC), kbit/s.
    pub kbps: u32,
    /// Frames a second.
    pub fps: u32,
    /// Seconds between keyframes.
    pub gop_secs: u32,
    /// Clip length in seconds.
    pub secs: u32,
}

/// The cached FLV for `recipe` under `dir`, made with ffmpeg (libx264 veryfast, AAC) if missing.
pub fn ffmpeg_flv(dir: &Path, recipe: FlvRecipe) -> Result<PathBuf, String> {
    let FlvRecipe {
        kbps,
        fps,
        gop_secs,
        secs,
    } = recipe;
    let path = dir.join(format!("h264-720p{fps}-{kbps}k-gop{gop_secs}s-{secs}s.flv"));
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let video = kbps.saturating_sub(128).max(100);
    let gop = (fps * gop_secs).to_string();
    let partial = path.with_extension("part.flv");
    // Film-grain noise keeps x264 at the bitrate, with the I/P size ratio of a camera.
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            &format!("testsrc2=size=1280x720:rate={fps}"),
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args(["-t", &secs.to_string(), "-vf", "noise=alls=12:allf=t"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .args([
            "-b:v",
            &format!("{video}k"),
            "-maxrate",
            &format!("{video}k"),
        ])
        .args([
            "-bufsize",
            &format!("{video}k"),
            "-g",
            &gop,
            "-keyint_min",
            &gop,
        ])
        .args([
            "-sc_threshold",
            "0",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-ac",
            "2",
        ])
        .arg(&partial)
        .status()
        .map_err(|e| format!("cannot run ffmpeg ({e}); install it: apt-get install ffmpeg"))?;
    if !status.success() {
        return Err(format!(
            "ffmpeg failed ({status}) making {}",
            path.display()
        ));
    }
    std::fs::rename(&partial, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// A synthetic clip with the frame-size pattern of the ffmpeg one (keyframes about 8.7 times
/// a P-frame), for machines without ffmpeg. Not decodable.
pub fn synthetic(kbps: u32, fps: u32, gop_secs: u32) -> Clip {
    let gop = (fps * gop_secs).max(1);
    let audio_bytes_per_sec = 128_000 / 8;
    let video_bytes_per_gop =
        (u64::from(kbps) * 1000 / 8).saturating_sub(audio_bytes_per_sec) * u64::from(gop_secs);
    let p_frame = (video_bytes_per_gop as f64 / (f64::from(gop) - 1.0 + 8.7)) as usize;
    let key_frame = (p_frame as f64 * 8.7) as usize;
    let seq = vec![
        0x17, 0, 0, 0, 0, 1, 0x42, 0xc0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x42, 0xc0, 0x1f, 1, 0, 4,
        0x68, 0xce, 0x3c, 0x80,
    ];
    let headers = vec![
        tag(type_id::VIDEO, 0, &seq),
        tag(type_id::AUDIO, 0, &[0xaf, 0x00, 0x11, 0x90]),
    ];
    let mut frames = Vec::new();
    let secs = 10;
    let aac_frame_ms = 1024.0 * 1000.0 / 48_000.0;
    let aac_bytes = (audio_bytes_per_sec as f64 * aac_frame_ms / 1000.0) as usize;
    let mut audio_ms = 0.0f64;
    for i in 0..fps * secs {
        let ms = i * 1000 / fps;
        while audio_ms <= f64::from(ms) {
            let mut a = vec![0xaf, 0x01];
            a.resize(2 + aac_bytes, 0x21);
            frames.push(tag(type_id::AUDIO, audio_ms as u32, &a));
            audio_ms += aac_frame_ms;
        }
        let key = i % gop == 0;
        let size = if key { key_frame } else { p_frame };
        let mut v = vec![if key { 0x17 } else { 0x27 }, 1, 0, 0, 0];
        v.extend_from_slice(&(size as u32).to_be_bytes());
        v.push(if key { 0x65 } else { 0x41 });
        v.resize(VIDEO_HEADER + 4 + size, 0x5a);
        frames.push(tag(type_id::VIDEO, ms, &v));
    }
    Clip {
        headers,
        frames,
        period_ms: secs * 1000,
        description: format!("synthetic {kbps} kbit/s, {fps} fps, GOP {gop_secs} s"),
    }
}

/// Checks that a stamp reads back and leaves the frame after it untouched.
pub fn self_check() -> Result<(), String> {
    let frame = [0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x9a];
    let mut t = tag(type_id::VIDEO, 0, &frame);
    stamp(&mut t.payload, 0x1234_5678, 0x0123_4567_89ab_cdef);
    if read_stamp(&t.payload) != Some((0x1234_5678, 0x0123_4567_89ab_cdef)) {
        return Err("stamp does not read back".into());
    }
    if t.payload[STAMP_LEN + VIDEO_HEADER..] != frame[VIDEO_HEADER..] {
        return Err("stamp changed the frame".into());
    }
    if t.payload[9..9 + STAMP_NAL].windows(2).any(|w| w == [0, 0]) {
        return Err("stamp needs emulation prevention".into());
    }
    Ok(())
}
