//! `/api/v1/streams`: every stream with what it carries, its rates and its audience, as JSON.
//!
//! ```text
//! {"server": {"version", "uptime_seconds", "connections": {"connecting", "publisher", "player"}},
//!  "streams": [{"name", "live", "uptime_seconds", "publisher": {"address", "since"} | null,
//!               "video": {"codec", "width", "height", "frame_rate", "declared_frame_rate"} | null,
//!               "audio": {"codec", "sample_rate", "channels"} | null,
//!               "tracks": [{"kind": "video" | "audio", "id", "codec"}],
//!               "bitrate_bps", "players", "subscribers", "frames_in", "bytes_in",
//!               "frames_dropped", "evictions",
//!               "push_targets": [{"target", "state", "retries", "bytes_out"}]}]}
//! ```
//! Unknown values are `null`. `name` is the public name, never a key. `video` and `audio`
//! describe the default tracks; `tracks` lists every track of an Enhanced RTMP multitrack
//! stream (one of each kind for a legacy stream), video first, by id.

use super::codec_names;
use super::json::{JsonWriter, Scalar};
use super::view::{ServerView, StreamView};
use crate::logging::utc_timestamp;
use crate::rtmp::media::{Codec, MediaType};
use crate::server::push_status::PushSnapshot;
use crate::server::stats::ConnectionRole;

/// Renders `view` as the streams document.
pub fn streams(view: &ServerView) -> String {
    let mut w = JsonWriter::default();
    w.begin_object().key("server").begin_object();
    w.field("version", Scalar::Str(env!("CARGO_PKG_VERSION")));
    w.field("uptime_seconds", Scalar::Uint(view.uptime.as_secs()));
    w.key("connections").begin_object();
    for (role, open) in ConnectionRole::ALL.iter().zip(view.stats.open) {
        w.field(role.name(), Scalar::Uint(open as u64));
    }
    w.end_object().end_object();
    w.key("streams").begin_array();
    for stream in &view.streams {
        write_stream(&mut w, stream);
    }
    w.end_array().end_object();
    let mut text = w.finish();
    text.push('\n');
    text
}

fn optional_uint(value: Option<u32>) -> Scalar<'static> {
    value.map_or(Scalar::Null, |v| Scalar::Uint(u64::from(v)))
}

fn optional_float(value: Option<f64>) -> Scalar<'static> {
    value.map_or(Scalar::Null, Scalar::Float)
}

fn write_stream(w: &mut JsonWriter, s: &StreamView) {
    w.begin_object();
    w.field("name", Scalar::Str(&s.name));
    w.field("live", Scalar::Bool(s.live));
    w.field(
        "uptime_seconds",
        s.uptime.map_or(Scalar::Null, |u| Scalar::Uint(u.as_secs())),
    );
    w.key("publisher");
    if s.live {
        let address = s.publisher.map(|a| a.to_string());
        let since = s.since.map(utc_timestamp);
        w.begin_object();
        w.field(
            "address",
            address.as_deref().map_or(Scalar::Null, Scalar::Str),
        );
        w.field("since", since.as_deref().map_or(Scalar::Null, Scalar::Str));
        w.end_object();
    } else {
        w.value(Scalar::Null);
    }
    let m = &s.media;
    w.key("video");
    match m.video_codec {
        Some(codec) => {
            let name = codec_names::video(codec);
            w.begin_object();
            w.field("codec", Scalar::Str(&name));
            w.field("width", optional_uint(m.width));
            w.field("height", optional_uint(m.height));
            w.field("frame_rate", optional_float(s.rates.frames_per_second));
            w.field("declared_frame_rate", optional_float(m.declared_frame_rate));
            w.end_object();
        }
        None => {
            w.value(Scalar::Null);
        }
    }
    w.key("audio");
    match m.audio_codec {
        Some(codec) => {
            let name = codec_names::audio(codec);
            w.begin_object();
            w.field("codec", Scalar::Str(&name));
            w.field("sample_rate", optional_uint(m.sample_rate));
            w.field("channels", optional_uint(m.channels));
            w.end_object();
        }
        None => {
            w.value(Scalar::Null);
        }
    }
    w.key("tracks").begin_array();
    for track in &s.tracks {
        let codec = match track.codec {
            Codec::Video(codec) => codec_names::video(codec),
            Codec::Audio(codec) => codec_names::audio(codec),
        };
        let kind = match track.media {
            MediaType::Video => "video",
            MediaType::Audio => "audio",
        };
        w.begin_object();
        w.field("kind", Scalar::Str(kind));
        w.field("id", Scalar::Uint(u64::from(track.id)));
        w.field("codec", Scalar::Str(&codec));
        w.end_object();
    }
    w.end_array();
    w.field(
        "bitrate_bps",
        s.rates
            .bits_per_second
            .map_or(Scalar::Null, |b| Scalar::Uint(b.round() as u64)),
    );
    let c = &s.counts;
    w.field("players", Scalar::Uint(c.players as u64));
    w.field("subscribers", Scalar::Uint(c.subscribers as u64));
    w.field("frames_in", Scalar::Uint(c.frames_in));
    w.field("bytes_in", Scalar::Uint(c.bytes_in));
    w.field("frames_dropped", Scalar::Uint(c.frames_dropped));
    w.field("evictions", Scalar::Uint(c.evictions));
    w.key("push_targets").begin_array();
    for push in &s.pushes {
        write_push(w, push);
    }
    w.end_array();
    w.end_object();
}

fn write_push(w: &mut JsonWriter, p: &PushSnapshot) {
    w.begin_object();
    w.field("target", Scalar::Str(&p.target));
    w.field("state", Scalar::Str(p.state.name()));
    w.field("retries", Scalar::Uint(p.retries));
    w.field("bytes_out", Scalar::Uint(p.bytes_out));
    w.end_object();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::rates::Rates;
    use crate::rtmp::media::VideoCodec;
    use crate::server::hub::{MediaSummary, StreamCounts, TrackInfo};
    use crate::server::push_status::PushState;
    use crate::server::stats::StatsSnapshot;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_live_stream_carries_its_fields_and_unknowns_are_null() {
        let view = ServerView {
            streams: vec![StreamView {
                name: "live/abc...(10 chars)".into(),
                live: true,
                publisher: Some("10.0.0.2:5000".parse().unwrap()),
                since: Some(UNIX_EPOCH + Duration::from_secs(86_400)),
                uptime: Some(Duration::from_secs(61)),
                media: MediaSummary {
                    video_codec: Some(VideoCodec::Avc),
                    width: Some(1920),
                    ..MediaSummary::default()
                },
                tracks: vec![
                    TrackInfo {
                        media: MediaType::Video,
                        id: 0,
                        codec: Codec::Video(VideoCodec::Avc),
                    },
                    TrackInfo {
                        media: MediaType::Video,
                        id: 1,
                        codec: Codec::Video(VideoCodec::Hevc),
                    },
                ],
                rates: Rates {
                    bits_per_second: Some(2_500_000.4),
                    frames_per_second: Some(30.0),
                },
                counts: StreamCounts {
                    players: 2,
                    ..StreamCounts::default()
                },
                pushes: vec![PushSnapshot {
                    stream: "live/abc...(10 chars)".into(),
                    target: "rtmp://up/live/k...(4 chars)".into(),
                    state: PushState::Live,
                    retries: 1,
                    bytes_out: 99,
                }],
            }],
            pushes: Vec::new(),
            stats: StatsSnapshot::default(),
            uptime: Duration::from_secs(100),
            resident_bytes: None,
        };
        let text = streams(&view);
        assert!(
            text.contains(
                r#""publisher":{"address":"10.0.0.2:5000","since":"1970-01-02T00:00:00.000Z"}"#
            ),
            "{text}"
        );
        assert!(text.contains(r#""video":{"codec":"h264","width":1920,"height":null,"frame_rate":30,"declared_frame_rate":null}"#), "{text}");
        assert!(
            text.contains(r#""audio":null,"tracks":[{"kind":"video","id":0,"codec":"h264"},{"kind":"video","id":1,"codec":"h265"}],"bitrate_bps":2500000,"players":2"#),
            "{text}"
        );
        assert!(text.contains(r#""push_targets":[{"target":"rtmp://up/live/k...(4 chars)","state":"live","retries":1,"bytes_out":99}]"#), "{text}");
        assert!(text.contains(r#""uptime_seconds":61"#));
    }
}
