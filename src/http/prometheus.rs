//! `/metrics`: the server in Prometheus text exposition format (version 0.0.4).
//!
//! Every family has `# HELP` and `# TYPE`; counters end in `_total`; label values are
//! escaped (backslash, double quote, newline). Per-stream series carry the stream's public
//! name only, and exist while the stream does.

use std::fmt::Display;
use std::fmt::Write as _;

use super::codec_names;
use super::view::ServerView;
use crate::server::close_reason::CloseReason;
use crate::server::push_status::PushState;
use crate::server::stats::{ConnectionRole, Limit};

/// The media type of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Text being built, one family at a time.
struct Exposition {
    out: String,
}

impl Exposition {
    #[inline(never)]
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    #[inline(never)]
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"");
                escape_label(&mut self.out, value);
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// Appends `value` escaped for a label value.
fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A float as the format writes it: integral values without a fraction.
fn float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.3}")
    }
}

/// Renders `view`.
pub fn render(view: &ServerView) -> String {
    let mut e = Exposition {
        out: String::with_capacity(4096 + view.streams.len() * 2048),
    };
    let s = &view.stats;

    e.family(
        "rtmpsd_uptime_seconds",
        "gauge",
        "Seconds since rtmpsd started.",
    );
    e.sample(
        "rtmpsd_uptime_seconds",
        &[],
        float(view.uptime.as_secs_f64()),
    );
    if let Some(rss) = view.resident_bytes {
        e.family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
        );
        e.sample("process_resident_memory_bytes", &[], rss);
    }

    e.family(
        "rtmpsd_connections",
        "gauge",
        "Open connections by what they do.",
    );
    for (role, open) in ConnectionRole::ALL.iter().zip(s.open) {
        e.sample("rtmpsd_connections", &[("role", role.name())], open);
    }
    e.family(
        "rtmpsd_connections_accepted_total",
        "counter",
        "Connections accepted since start.",
    );
    e.sample("rtmpsd_connections_accepted_total", &[], s.accepted);
    e.family(
        "rtmpsd_connections_closed_total",
        "counter",
        "Connections closed, by reason.",
    );
    for (kind, n) in CloseReason::KINDS.iter().zip(s.closes) {
        e.sample("rtmpsd_connections_closed_total", &[("reason", kind)], n);
    }
    e.family(
        "rtmpsd_tls_handshake_failures_total",
        "counter",
        "Connections that failed their TLS handshake.",
    );
    e.sample(
        "rtmpsd_tls_handshake_failures_total",
        &[],
        s.tls_handshake_failures,
    );
    e.family(
        "rtmpsd_limit_hits_total",
        "counter",
        "Times a configured or protocol limit was enforced, by limit.",
    );
    for (limit, n) in Limit::ALL.iter().zip(s.limit_hits) {
        e.sample("rtmpsd_limit_hits_total", &[("limit", limit.name())], n);
    }
    e.family(
        "rtmpsd_received_bytes_total",
        "counter",
        "Plaintext bytes received on every connection.",
    );
    e.sample("rtmpsd_received_bytes_total", &[], s.bytes_in);
    e.family(
        "rtmpsd_sent_bytes_total",
        "counter",
        "Plaintext bytes sent on every connection.",
    );
    e.sample("rtmpsd_sent_bytes_total", &[], s.bytes_out);

    let live = view.streams.iter().filter(|st| st.live).count();
    e.family(
        "rtmpsd_streams",
        "gauge",
        "Streams: live (published) or waiting (players but no publisher).",
    );
    e.sample("rtmpsd_streams", &[("state", "live")], live);
    e.sample(
        "rtmpsd_streams",
        &[("state", "waiting")],
        view.streams.len() - live,
    );

    render_streams(&mut e, view);
    render_pushes(&mut e, view);
    e.out
}

fn render_streams(e: &mut Exposition, view: &ServerView) {
    type Gauge = fn(&super::view::StreamView) -> Option<String>;
    let per_stream: [(&str, &str, &str, Gauge); 9] = [
        (
            "rtmpsd_stream_live",
            "gauge",
            "Whether a publisher is live on the stream.",
            |st| Some(u8::from(st.live).to_string()),
        ),
        (
            "rtmpsd_stream_players",
            "gauge",
            "Players of the stream.",
            |st| Some(st.counts.players.to_string()),
        ),
        (
            "rtmpsd_stream_bitrate_bits_per_second",
            "gauge",
            "Payload bits per second received from the publisher, over the last seconds.",
            |st| st.rates.bits_per_second.map(float),
        ),
        (
            "rtmpsd_stream_frame_rate",
            "gauge",
            "Video frames per second received from the publisher, over the last seconds.",
            |st| st.rates.frames_per_second.map(float),
        ),
        (
            "rtmpsd_stream_uptime_seconds",
            "gauge",
            "Seconds the current publisher has been live.",
            |st| st.uptime.map(|u| float(u.as_secs_f64())),
        ),
        (
            "rtmpsd_stream_received_frames_total",
            "counter",
            "Media messages received from the stream's publishers.",
            |st| Some(st.counts.frames_in.to_string()),
        ),
        (
            "rtmpsd_stream_received_bytes_total",
            "counter",
            "Payload bytes received from the stream's publishers.",
            |st| Some(st.counts.bytes_in.to_string()),
        ),
        (
            "rtmpsd_stream_dropped_frames_total",
            "counter",
            "Frames not queued for a subscriber that fell behind.",
            |st| Some(st.counts.frames_dropped.to_string()),
        ),
        (
            "rtmpsd_stream_evictions_total",
            "counter",
            "Subscribers disconnected for staying behind (slow players).",
            |st| Some(st.counts.evictions.to_string()),
        ),
    ];
    for (name, kind, help, value) in per_stream {
        e.family(name, kind, help);
        for st in &view.streams {
            if let Some(v) = value(st) {
                e.sample(name, &[("stream", &st.name)], v);
            }
        }
    }
    e.family(
        "rtmpsd_stream_info",
        "gauge",
        "What a live stream carries, as labels (value 1).",
    );
    for st in view.streams.iter().filter(|st| st.live) {
        let m = &st.media;
        let video = m.video_codec.map(codec_names::video).unwrap_or_default();
        let audio = m.audio_codec.map(codec_names::audio).unwrap_or_default();
        let size = match (m.width, m.height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => String::new(),
        };
        let labels = [
            ("stream", st.name.as_str()),
            ("video_codec", video.as_str()),
            ("audio_codec", audio.as_str()),
            ("resolution", size.as_str()),
        ];
        e.sample("rtmpsd_stream_info", &labels, 1);
    }
}

fn render_pushes(e: &mut Exposition, view: &ServerView) {
    e.family(
        "rtmpsd_push_targets",
        "gauge",
        "Pushes to upstream servers, by state.",
    );
    for state in PushState::ALL {
        let n = view.pushes.iter().filter(|p| p.state == state).count();
        e.sample("rtmpsd_push_targets", &[("state", state.name())], n);
    }
    e.family(
        "rtmpsd_push_state",
        "gauge",
        "State of each push (1 for the state it is in).",
    );
    for p in &view.pushes {
        for state in PushState::ALL {
            let labels = [
                ("stream", p.stream.as_str()),
                ("target", p.target.as_str()),
                ("state", state.name()),
            ];
            e.sample("rtmpsd_push_state", &labels, u8::from(p.state == state));
        }
    }
    e.family(
        "rtmpsd_push_retries_total",
        "counter",
        "Reconnection attempts of each push.",
    );
    for p in &view.pushes {
        let labels = [("stream", p.stream.as_str()), ("target", p.target.as_str())];
        e.sample("rtmpsd_push_retries_total", &labels, p.retries);
    }
    e.family(
        "rtmpsd_push_sent_bytes_total",
        "counter",
        "Bytes each push sent upstream.",
    );
    for p in &view.pushes {
        let labels = [("stream", p.stream.as_str()), ("target", p.target.as_str())];
        e.sample("rtmpsd_push_sent_bytes_total", &labels, p.bytes_out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::rates::Rates;
    use crate::http::view::StreamView;
    use crate::rtmp::media::{AudioCodec, VideoCodec};
    use crate::server::hub::{MediaSummary, StreamCounts};
    use crate::server::push_status::PushSnapshot;
    use crate::server::stats::StatsSnapshot;
    use std::time::Duration;

    fn view() -> ServerView {
        let stream = StreamView {
            name: "live/ab\"c\\d\n...(9 chars)".into(),
            live: true,
            publisher: Some("127.0.0.1:4000".parse().unwrap()),
            since: None,
            uptime: Some(Duration::from_secs(12)),
            media: MediaSummary {
                video_codec: Some(VideoCodec::Avc),
                audio_codec: Some(AudioCodec::Aac),
                width: Some(320),
                height: Some(240),
                ..MediaSummary::default()
            },
            tracks: Vec::new(),
            rates: Rates {
                bits_per_second: Some(123_456.5),
                frames_per_second: Some(25.0),
            },
            counts: StreamCounts {
                players: 3,
                live: true,
                ..StreamCounts::default()
            },
            pushes: Vec::new(),
        };
        ServerView {
            streams: vec![stream],
            pushes: vec![PushSnapshot {
                stream: "live/x".into(),
                target: "rtmp://up/app/k...(5 chars)".into(),
                state: PushState::Retrying,
                retries: 4,
                bytes_out: 10,
            }],
            stats: StatsSnapshot::default(),
            uptime: Duration::from_millis(1500),
            resident_bytes: Some(4096),
        }
    }

    #[test]
    fn labels_are_escaped_and_values_written_plainly() {
        let text = render(&view());
        assert!(
            text.contains(r#"rtmpsd_stream_players{stream="live/ab\"c\\d\n...(9 chars)"} 3"#),
            "{text}"
        );
        assert!(text.contains("rtmpsd_stream_bitrate_bits_per_second{stream=\"live/ab"));
        assert!(text.contains("} 123456.500\n"));
        assert!(text.contains("rtmpsd_uptime_seconds 1.500\n"));
        assert!(text.contains("process_resident_memory_bytes 4096\n"));
        assert!(text.contains(
            "rtmpsd_stream_info{stream=\"live/ab\\\"c\\\\d\\n...(9 chars)\",video_codec=\"h264\",\
             audio_codec=\"aac\",resolution=\"320x240\"} 1\n"
        ));
    }

    #[test]
    fn every_family_has_help_and_type_and_pushes_show_one_state() {
        let text = render(&view());
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!(types, helps);
        assert!(types >= 20, "{types}");
        assert!(text.contains("rtmpsd_push_targets{state=\"retrying\"} 1\n"));
        assert!(text.contains("rtmpsd_push_targets{state=\"live\"} 0\n"));
        assert!(text.contains(
            "rtmpsd_push_state{stream=\"live/x\",target=\"rtmp://up/app/k...(5 chars)\",\
             state=\"retrying\"} 1\n"
        ));
        assert!(text.contains("rtmpsd_push_retries_total{stream=\"live/x\""));
        for (i, kind) in CloseReason::KINDS.iter().enumerate() {
            assert!(
                text.contains(&format!(
                    "rtmpsd_connections_closed_total{{reason=\"{kind}\"}} 0"
                )),
                "close kind {i}"
            );
        }
    }
}
