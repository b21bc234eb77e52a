//! rtmpsd-probe: publish, play, or round-trip a synthetic stream with the in-repo client.
//!
//! Used by the ARM smoke test, the benchmarks and operators checking a box. Exit status 0
//! means what was asked for worked; the last line says what was seen.
//!
//! It connects as an enhanced-RTMP client (every v2 FourCC, capsEx Reconnect and the rest)
//! unless `--legacy-connect`; a publisher asked to reconnect does so at its next keyframe
//! and publishes on.

use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use argh::FromArgs;

use rtmpsd::client::{Client, ClientOptions, RtmpUrl, SyntheticStream, frame_index};
use rtmpsd::rtmp::enhanced::SERVER_CAPS_EX;
use rtmpsd::rtmp::message::type_id;

/// Publish, play or round-trip a synthetic stream through an RTMP(S) server.
#[derive(FromArgs)]
struct Args {
    /// accept any server certificate (self-signed boxes)
    #[argh(switch)]
    insecure: bool,
    /// seconds to run (default 3)
    #[argh(option, default = "3")]
    seconds: u64,
    /// video frames per second (default 25)
    #[argh(option, default = "25")]
    fps: u32,
    /// video bitrate in kbit/s (default 1000)
    #[argh(option, default = "1000")]
    kbps: u32,
    /// connect as a legacy client: no enhanced-RTMP capabilities, no reconnect requests
    #[argh(switch)]
    legacy_connect: bool,
    /// roundtrip: where to play (default: the URL without its `?key=` query, for a URL of
    /// the form rtmps://HOST/APP/NAME?key=PUBLISH-KEY)
    #[argh(option)]
    play_url: Option<String>,
    /// what to do: roundtrip, publish or play
    #[argh(positional)]
    mode: String,
    /// rtmp:// or rtmps:// URL ending in /app/stream (roundtrip: where to publish)
    #[argh(positional)]
    url: String,
}

/// Where a roundtrip plays: `--play-url`, or the publish URL `.../NAME?key=KEY` as `.../NAME`.
fn roundtrip_play_url(publish: &RtmpUrl, play_url: Option<&str>) -> Result<RtmpUrl, String> {
    if let Some(play) = play_url {
        return RtmpUrl::parse(play);
    }
    match publish.name.split_once('?') {
        Some((name, query)) if query.split('&').any(|p| p.starts_with("key=")) => Ok(RtmpUrl {
            name: name.to_string(),
            ..publish.clone()
        }),
        _ => Err(
            "roundtrip plays the stream's name, not its key: publish to \
                  rtmps://HOST/APP/NAME?key=PUBLISH-KEY, or give --play-url"
                .to_string(),
        ),
    }
}

fn main() -> ExitCode {
    let args: Args = argh::from_env();
    let result = RtmpUrl::parse(&args.url).and_then(|url| {
        let options = ClientOptions {
            insecure: args.insecure,
            caps_ex: (!args.legacy_connect).then_some(SERVER_CAPS_EX),
            ..ClientOptions::default()
        };
        let run = Duration::from_secs(args.seconds);
        match args.mode.as_str() {
            "publish" => publish(&url, &options, run, args.fps, args.kbps)
                .map(|n| format!("published {n} frames")),
            "play" => play(&url, &options, run, None).map(|r| r.summary()),
            "roundtrip" => roundtrip_play_url(&url, args.play_url.as_deref())
                .and_then(|play| roundtrip(&url, &play, &options, run, args.fps, args.kbps)),
            other => Err(format!(
                "unknown mode {other:?}: use roundtrip, publish or play"
            )),
        }
    });
    match result {
        Ok(line) => {
            println!("ok: {line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn publish(
    url: &RtmpUrl,
    options: &ClientOptions,
    run: Duration,
    fps: u32,
    kbps: u32,
) -> Result<u32, String> {
    let mut stream = SyntheticStream::new(fps, fps, kbps);
    let mut client = start_publishing(
        Client::connect(url, options).map_err(|e| format!("connect: {e}"))?,
        &stream,
    )?;
    let started = Instant::now();
    let interval = Duration::from_secs(1) / fps.max(1);
    while started.elapsed() < run {
        let due = started + interval * stream.next_index();
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        client
            .poll_incoming()
            .map_err(|e| format!("receive: {e}"))?;
        if client.reconnect_request().is_some() && stream.next_is_keyframe() {
            let target = client.reconnect_request().cloned();
            println!("reconnect requested: {target:?}");
            let fresh = client
                .reconnect(options, Duration::from_secs(30))
                .map_err(|e| format!("reconnect: {e}"))?;
            client = start_publishing(fresh, &stream)?;
            println!("reconnected at frame {}", stream.next_index());
        }
        for (kind, ts, payload) in stream.next_frames() {
            client
                .send_media(kind, ts, &payload)
                .map_err(|e| format!("send: {e}"))?;
        }
    }
    Ok(stream.next_index())
}

/// Sends `publish` and the stream's headers on a connected client.
fn start_publishing(mut client: Client, stream: &SyntheticStream) -> Result<Client, String> {
    client.publish().map_err(|e| format!("publish: {e}"))?;
    for (kind, ts, payload) in stream.headers() {
        client
            .send_media(kind, ts, &payload)
            .map_err(|e| format!("send: {e}"))?;
    }
    Ok(client)
}

/// What a player saw.
struct PlayReport {
    video: u32,
    audio: u32,
    first_index: Option<u32>,
    last_index: Option<u32>,
    gaps: u32,
    first_video_is_header: bool,
    first_frame_is_key: bool,
}

impl PlayReport {
    fn summary(&self) -> String {
        format!(
            "played {} video and {} audio messages, indices {:?}..{:?}, {} gaps, first video a sequence header: {}, first frame a keyframe: {}",
            self.video,
            self.audio,
            self.first_index,
            self.last_index,
            self.gaps,
            self.first_video_is_header,
            self.first_frame_is_key
        )
    }
}

fn play(
    url: &RtmpUrl,
    options: &ClientOptions,
    run: Duration,
    until: Option<u32>,
) -> Result<PlayReport, String> {
    let mut client = Client::connect(url, options).map_err(|e| format!("connect: {e}"))?;
    client.play().map_err(|e| format!("play: {e}"))?;
    let mut report = PlayReport {
        video: 0,
        audio: 0,
        first_index: None,
        last_index: None,
        gaps: 0,
        first_video_is_header: false,
        first_frame_is_key: false,
    };
    let started = Instant::now();
    while started.elapsed() < run + Duration::from_secs(2) {
        let message = match client.recv_media() {
            Ok(m) => m,
            Err(e) if report.video > 0 => {
                if until.is_none() {
                    break;
                }
                return Err(format!(
                    "receive after {} video messages: {e}",
                    report.video
                ));
            }
            Err(e) => return Err(format!("receive: {e}")),
        };
        match message.type_id {
            type_id::VIDEO => {
                let header = message.payload.get(1) == Some(&0);
                if report.video == 0 {
                    report.first_video_is_header = header;
                }
                report.video += 1;
                if header {
                    continue;
                }
                let index = frame_index(&message.payload);
                if report.first_index.is_none() {
                    report.first_frame_is_key = message.payload.first() == Some(&0x17);
                    report.first_index = index;
                } else if let (Some(last), Some(now)) = (report.last_index, index) {
                    if now != last + 1 {
                        report.gaps += 1;
                    }
                }
                report.last_index = index;
                if until.is_some_and(|u| index.is_some_and(|i| i + 1 >= u)) {
                    break;
                }
            }
            type_id::AUDIO => report.audio += 1,
            _ => {}
        }
    }
    Ok(report)
}

fn roundtrip(
    url: &RtmpUrl,
    play_url: &RtmpUrl,
    options: &ClientOptions,
    run: Duration,
    fps: u32,
    kbps: u32,
) -> Result<String, String> {
    let publisher = {
        let (url, options) = (url.clone(), options.clone());
        thread::spawn(move || publish(&url, &options, run, fps, kbps))
    };
    // Join after the first GOP has started, as a late viewer does.
    thread::sleep(Duration::from_millis(300));
    let expected_last = (run.as_millis() as u64 * u64::from(fps) / 1000) as u32;
    let report = play(
        play_url,
        options,
        run,
        Some(expected_last.saturating_sub(2)),
    )?;
    let sent = publisher
        .join()
        .map_err(|_| "publisher panicked".to_string())??;
    let line = format!("sent {sent} frames; {}", report.summary());
    if !report.first_video_is_header
        || !report.first_frame_is_key
        || report.gaps > 0
        || report.video < sent / 2
    {
        return Err(line);
    }
    Ok(line)
}
