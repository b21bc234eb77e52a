//! Reading the first bytes of audio and video messages: codec, tracks, frame kind, sequence
//! headers.
//!
//! Covers legacy FLV tags (AVC codec id 7, and the de-facto HEVC id 12) and Enhanced RTMP v2
//! (Veovera, `v2-2026-01-31-r2`): the `IsExHeader` bit and the video FourCCs `avc1`, `hvc1`,
//! `av01`, `vp09`, `vp08`, `vvc1`; the audio FourCCs `mp4a`, `Opus`, `fLaC`, `ac-3`, `ec-3`,
//! `.mp3`; ModEx blocks (`mod_ex`, TimestampOffsetNano); multitrack messages of every
//! `AvMultitrackType` (`multitrack`); video Metadata and audio MultichannelConfig packets.
//! Only the headers are looked at; payloads pass through untouched.
//!
//! Where the specification leaves room, rtmpsd reads it this way:
//! - A message without the Multitrack packet type is track 0, the default track. FFmpeg 8+
//!   muxes a second video or audio stream as OneTrack messages with track id 1, 2, ... and
//!   the first as a plain tag, and OBS does the same for multitrack video.
//! - A multitrack message has one frame type (byte 0) for all of its tracks, so `keyframe` is
//!   one flag for every track it carries.
//! - FFmpeg 9 sends the `colorInfo` Metadata of its track 1 as a plain (track 0) message;
//!   rtmpsd passes it on as what it says it is.
//! - What the specification says must fail in a controlled way fails with a `MediaError`
//!   (and the session closes the publisher): an unknown FourCC, a reserved multitrack type, a
//!   multitrack message nested in another, a track size past the end of the message, a
//!   TimestampOffsetNano shorter than its UI24. Reserved packet types outside multitrack and
//!   unknown ModEx types are passed through, since nothing rtmpsd does depends on their body.
//! - A zero-byte audio message is the "silence" message the specification documents.
//!
//! Contract: no function here panics or allocates, whatever the bytes; every length read from
//! the input is checked against the slice before use, and loops (ModEx chains, tracks,
//! parameter sets) consume input on each turn, so their work is bounded by the message length.

mod audio;
mod codec;
mod config_record;
mod error;
mod mod_ex;
mod multitrack;
mod read;
mod track_set;
mod video;

#[cfg(test)]
mod testdata;

pub use audio::{AudioPacket, AudioTag, AudioTrack, for_each_audio_track, inspect_audio};
pub use codec::{AUDIO_FOURCCS, AudioCodec, Codec, MediaType, VIDEO_FOURCCS, VideoCodec};
pub use error::MediaError;
pub use multitrack::MultitrackType;
pub use track_set::TrackSet;
pub use video::{
    VideoPacket, VideoTag, VideoTrack, for_each_video_track, inspect_video,
    validate_sequence_header,
};
