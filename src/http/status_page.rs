//! `/`: the status page. Plain HTML with inline CSS (no scripts, nothing fetched from
//! elsewhere), laid out for a phone, reloading itself every few seconds.
//!
//! Every text that comes from outside (names, addresses, the Host header, the token echoed
//! into links) is HTML-escaped.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::codec_names;
use super::site::Site;
use super::view::{ServerView, StreamView};
use crate::logging::utc_timestamp;

/// Seconds between reloads.
pub const REFRESH_SECS: u32 = 5;

/// What the page needs from the request.
pub struct PageRequest<'a> {
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// The token as given in the query (still percent-encoded), to carry into links.
    pub token: Option<&'a str>,
}

/// Appends `text` HTML-escaped.
#[inline(never)]
fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape(&mut out, text);
    out
}

/// `1.25 Mbit/s`, `640 kbit/s`.
pub fn bitrate(bits_per_second: f64) -> String {
    if bits_per_second >= 1_000_000.0 {
        format!("{:.2} Mbit/s", bits_per_second / 1_000_000.0)
    } else {
        format!("{:.0} kbit/s", bits_per_second / 1_000.0)
    }
}

/// `2d 03h`, `1h 02m`, `3m 05s`, `12s`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {:02}m", s / 3600, s / 60 % 60),
        _ => format!("{}d {:02}h", s / 86_400, s / 3600 % 24),
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

const STYLE: &str = "
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--fg:#1d2330;--dim:#5b6475;--ok:#11804a;--warn:#a35c00;--line:#d9dce3}
@media (prefers-color-scheme:dark){:root{--bg:#14161b;--card:#1e2129;--fg:#e6e8ee;--dim:#9aa3b5;--ok:#3ecf82;--warn:#f0a540;--line:#2e323d}}
*{box-sizing:border-box}
body{margin:0;padding:12px;background:var(--bg);color:var(--fg);font:16px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
main{max-width:760px;margin:0 auto}
h1{font-size:1.35em;margin:.2em 0}
h2{font-size:1.05em;margin:1.2em 0 .4em;color:var(--dim);text-transform:uppercase;letter-spacing:.04em}
.sub{color:var(--dim);margin:0 0 .6em}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 14px;margin:0 0 10px}
.card h3{margin:0 0 .3em;font-size:1.1em;word-break:break-all}
.badge{display:inline-block;font-size:.75em;font-weight:700;padding:1px 8px;border-radius:99px;vertical-align:middle;margin-left:6px}
.live{background:var(--ok);color:#fff}.waiting{background:var(--warn);color:#fff}
dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}
dt{color:var(--dim)}dd{margin:0;word-break:break-word}
code{font:14px/1.4 ui-monospace,'SFMono-Regular',Menlo,monospace;word-break:break-all}
a{color:inherit}
.btn{display:inline-block;margin-top:8px;padding:8px 14px;border:1px solid var(--line);border-radius:8px;text-decoration:none;font-weight:600}
footer{color:var(--dim);font-size:.85em;margin:1.5em 0 .5em}
";

/// Renders the page.
pub fn render(view: &ServerView, site: &Site, request: &PageRequest<'_>) -> String {
    let mut o = String::with_capacity(8192 + view.streams.len() * 1024);
    let live = view.streams.iter().filter(|s| s.live).count();
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <title>rtmpsd: {}</title><style>{STYLE}</style></head><body><main>\
         <h1>rtmpsd</h1><p class=\"sub\">{} · {} · up {}{}</p>",
        plural(live, "live stream", "live streams"),
        plural(live, "live stream", "live streams"),
        plural(view.stats.open[2], "player", "players"),
        duration(view.uptime),
        view.resident_bytes
            .map(|b| format!(" · {:.1} MiB memory", b as f64 / (1024.0 * 1024.0)))
            .unwrap_or_default(),
    );

    o.push_str("<h2>Streams</h2>");
    if view.streams.is_empty() {
        o.push_str(
            "<div class=\"card\">No streams yet. Point a camera or OBS at the address below.</div>",
        );
    }
    for stream in &view.streams {
        stream_card(&mut o, stream);
    }

    camera_section(&mut o, site, request);
    certificate_section(&mut o, site, request);

    let _ = writeln!(
        o,
        "<footer>Reloads every {REFRESH_SECS} s. {} open, {} TLS handshake failures. \
         Machine-readable: <a href=\"/metrics{q}\">/metrics</a> · \
         <a href=\"/api/v1/streams{q}\">/api/v1/streams</a></footer></main></body></html>",
        plural(view.stats.open.iter().sum(), "connection", "connections"),
        view.stats.tls_handshake_failures,
        q = token_query(request),
    );
    o
}

/// `?token=...` to carry the caller's query token into links, escaped for an attribute.
fn token_query(request: &PageRequest<'_>) -> String {
    request
        .token
        .map(|t| format!("?token={}", escaped(t)))
        .unwrap_or_default()
}

fn stream_card(o: &mut String, s: &StreamView) {
    let _ = write!(
        o,
        "<div class=\"card\"><h3>{}<span class=\"badge {}\">{}</span></h3><dl>",
        escaped(&s.name),
        if s.live { "live" } else { "waiting" },
        if s.live { "LIVE" } else { "waiting" },
    );
    let mut row = |label: &str, value: &str| {
        let _ = write!(o, "<dt>{label}</dt><dd>{}</dd>", escaped(value));
    };
    if s.live {
        let m = &s.media;
        let mut video = m
            .video_codec
            .map(codec_names::video)
            .unwrap_or_else(|| "unknown".into());
        if let (Some(w), Some(h)) = (m.width, m.height) {
            let _ = write!(video, " {w}×{h}");
        }
        if let Some(fps) = s.rates.frames_per_second.or(m.declared_frame_rate) {
            let _ = write!(video, " · {fps:.1} fps");
        }
        row("Video", &video);
        if let Some(codec) = m.audio_codec {
            let mut audio = codec_names::audio(codec);
            if let Some(rate) = m.sample_rate {
                let _ = write!(audio, " {:.1} kHz", f64::from(rate) / 1000.0);
            }
            match m.channels {
                Some(1) => audio.push_str(" mono"),
                Some(2) => audio.push_str(" stereo"),
                Some(n) => {
                    let _ = write!(audio, " {n} channels");
                }
                None => {}
            }
            row("Audio", &audio);
        }
        let rate = s
            .rates
            .bits_per_second
            .map_or_else(|| "measuring…".to_string(), bitrate);
        row("Bitrate", &rate);
        if let Some(uptime) = s.uptime {
            row("Live for", &duration(uptime));
        }
        if let Some(address) = s.publisher {
            row("From", &address.to_string());
        }
    }
    row("Watching", &plural(s.counts.players, "player", "players"));
    if s.counts.frames_dropped > 0 || s.counts.evictions > 0 {
        row(
            "Slow players",
            &format!(
                "{} frames dropped, {} disconnected",
                s.counts.frames_dropped, s.counts.evictions
            ),
        );
    }
    let pushes = if s.pushes.is_empty() {
        "none".to_string()
    } else {
        s.pushes
            .iter()
            .map(|p| format!("{}: {} ({} retries)", p.target, p.state.name(), p.retries))
            .collect::<Vec<_>>()
            .join("; ")
    };
    row("Push targets", &pushes);
    o.push_str("</dl></div>");
}

fn camera_section(o: &mut String, site: &Site, request: &PageRequest<'_>) {
    let host = escaped(&site.camera_host(request.host));
    let app = escaped(&site.app);
    let port = site.rtmps.port();
    let _ = write!(
        o,
        "<h2>Connect a camera</h2><div class=\"card\"><dl>\
         <dt>Server</dt><dd><code>rtmps://{host}:{port}/{app}</code></dd>"
    );
    for entry in &site.key_hints {
        let _ = write!(
            o,
            "<dt>Stream key</dt><dd><code>{}</code> for <b>{}</b> (the full key is in {})</dd>",
            escaped(&entry.hint),
            escaped(&entry.stream),
            escaped(&site.key_source),
        );
    }
    if let Some(plain) = site.rtmp {
        let _ = write!(
            o,
            "<dt>Plain RTMP</dt><dd><code>rtmp://{host}:{}/{app}</code> (unencrypted: key and \
             video cross the network in the clear)</dd>",
            plain.port()
        );
    }
    for entry in &site.key_hints {
        let _ = write!(
            o,
            "<dt>Play</dt><dd><code>rtmps://{host}:{port}/{app}/{}{}</code></dd>",
            escaped(&entry.stream),
            if site.play_key_required {
                "?key=PLAY-KEY"
            } else {
                ""
            }
        );
    }
    o.push_str("</dl></div>");
}

fn certificate_section(o: &mut String, site: &Site, request: &PageRequest<'_>) {
    o.push_str("<h2>Certificate</h2><div class=\"card\">");
    let Some(cert) = &site.certificate else {
        o.push_str("The certificate could not be read.</div>");
        return;
    };
    let expiry = match cert.not_after {
        Some(at) => {
            let date = utc_timestamp(at);
            let date = date.get(..10).unwrap_or(&date);
            match at.duration_since(SystemTime::now()) {
                Ok(left) => format!("{date} (in {} days)", left.as_secs() / 86_400),
                Err(_) => format!("{date} (EXPIRED)"),
            }
        }
        None => "unknown".into(),
    };
    let _ = write!(
        o,
        "<dl><dt>SHA-256</dt><dd><code>{}</code></dd><dt>Expires</dt><dd>{}</dd></dl>\
         <a class=\"btn\" href=\"/cert.pem{}\" download=\"rtmpsd-cert.pem\">Download certificate</a>\
         <p class=\"sub\">Trust it in OBS or the camera, then check the fingerprint above.</p></div>",
        escaped(&cert.fingerprint),
        escaped(&expiry),
        token_query(request),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_durations_read_naturally() {
        assert_eq!(bitrate(1_250_000.0), "1.25 Mbit/s");
        assert_eq!(bitrate(640_400.0), "640 kbit/s");
        assert_eq!(duration(Duration::from_secs(12)), "12s");
        assert_eq!(duration(Duration::from_secs(185)), "3m 05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h 02m");
        assert_eq!(
            duration(Duration::from_secs(2 * 86_400 + 3 * 3600)),
            "2d 03h"
        );
    }

    #[test]
    fn outside_text_is_escaped() {
        assert_eq!(
            escaped("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
