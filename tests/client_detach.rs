//! The client's detach path, which the fan-out benchmark's players use: set up with the
//! blocking client, send `play`, take the connection out, and read the stream from the
//! socket, rustls connection and chunk reader state handed back.

mod harness;

use std::io::{self, Read};
use std::time::{Duration, Instant};

use harness::{KEY, NAME, Setup, TestServer, connect, options};
use rtmpsd::client::{
    Client, Detached, RtmpUrl, SyntheticStream, frame_index, tls_config_with_suites,
};
use rtmpsd::rtmp::amf0::{self, AmfLimits};
use rtmpsd::rtmp::chunk::ChunkRead;
use rtmpsd::rtmp::message::type_id;
use rustls::crypto::ring::cipher_suite;

/// What a detached player read: the onStatus codes and the video frame indices.
#[derive(Debug, Default)]
struct PlayerRead {
    statuses: Vec<String>,
    first_frame_was_key: Option<bool>,
    indices: Vec<u32>,
}

/// Reads from a detached connection into `seen` until `done` or 10 s passed; `buf` holds
/// plaintext not yet given to the chunk reader (start it with `conn.unread`).
fn read_detached(
    conn: &mut Detached,
    buf: &mut Vec<u8>,
    seen: &mut PlayerRead,
    done: impl Fn(&PlayerRead) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    conn.tcp
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    while !done(seen) && Instant::now() < deadline {
        let mut pos = 0;
        loop {
            match conn.reader.read(&buf[pos..]).expect("chunk stream") {
                ChunkRead::NeedMore { consumed } => {
                    pos += consumed;
                    break;
                }
                ChunkRead::Message { consumed, message } => {
                    pos += consumed;
                    let payload = message.payload;
                    match message.header.type_id {
                        type_id::COMMAND_AMF0 => {
                            let values = amf0::decode_all(payload, &AmfLimits::default())
                                .expect("command decodes");
                            if let Some(code) = values
                                .iter()
                                .find_map(|v| v.get("code").and_then(|c| c.as_str()))
                            {
                                seen.statuses.push(code.to_string());
                            }
                        }
                        type_id::VIDEO if payload.get(1) == Some(&1) => {
                            seen.first_frame_was_key.get_or_insert(payload[0] == 0x17);
                            seen.indices.extend(frame_index(payload));
                        }
                        _ => {}
                    }
                }
            }
        }
        buf.drain(..pos);
        let mut more = [0u8; 16 * 1024];
        let n = match conn.tls.as_mut() {
            Some(tls) => match tls.reader().read(&mut more) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match tls.read_tls(&mut conn.tcp) {
                        Ok(0) => break,
                        Ok(_) => {
                            tls.process_new_packets().expect("tls records");
                            0
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => 0,
                        Err(e) => panic!("read: {e}"),
                    }
                }
                Err(e) => panic!("tls read: {e}"),
            },
            None => match conn.tcp.read(&mut more) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    0
                }
                Err(e) => panic!("read: {e}"),
            },
        };
        buf.extend_from_slice(&more[..n]);
    }
}

/// Reads until NetStream.Play.Start (the server has added the player to the stream), then
/// has the publisher send `frames` more and reads until they all arrived.
fn play_start_then_frames(
    mut conn: Detached,
    publisher: &mut Client,
    stream: &mut SyntheticStream,
    frames: u32,
) -> PlayerRead {
    let mut buf = std::mem::take(&mut conn.unread);
    let mut seen = PlayerRead::default();
    let started = |s: &PlayerRead| s.statuses.iter().any(|c| c == "NetStream.Play.Start");
    read_detached(&mut conn, &mut buf, &mut seen, started);
    assert!(started(&seen), "no NetStream.Play.Start: {seen:?}");
    let last = stream.next_index() + frames - 1;
    for _ in 0..frames {
        for (kind, ts, payload) in stream.next_frames() {
            publisher.send_media(kind, ts, &payload).expect("frame");
        }
    }
    read_detached(&mut conn, &mut buf, &mut seen, |s| {
        s.indices.last().is_some_and(|&i| i >= last)
    });
    seen
}

fn publish(server: &TestServer) -> (Client, SyntheticStream) {
    let mut stream = SyntheticStream::new(25, 5, 500);
    let mut publisher = connect(&server.url(KEY));
    publisher.publish().expect("publish");
    for (kind, ts, payload) in stream.headers() {
        publisher.send_media(kind, ts, &payload).expect("headers");
    }
    for _ in 0..5 {
        for (kind, ts, payload) in stream.next_frames() {
            publisher.send_media(kind, ts, &payload).expect("frame");
        }
    }
    (publisher, stream)
}

fn detached_player(url: &RtmpUrl, suites: Vec<rustls::SupportedCipherSuite>) -> Detached {
    let tls = tls_config_with_suites(true, suites).expect("tls config");
    let (mut client, handle) = Client::connect_detachable(url, &options(), tls).expect("connect");
    client.send_play().expect("play");
    client.detach(handle).expect("detach")
}

#[test]
fn detached_player_reads_play_start_and_frames_with_the_offered_cipher() {
    let server = TestServer::start();
    let (mut publisher, mut stream) = publish(&server);
    let conn = detached_player(
        &server.url(NAME),
        vec![cipher_suite::TLS13_CHACHA20_POLY1305_SHA256],
    );
    let suite = conn
        .tls
        .as_ref()
        .and_then(|t| t.negotiated_cipher_suite())
        .map(|s| s.suite());
    assert_eq!(
        suite,
        Some(rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256)
    );
    let last = stream.next_index() + 9;
    let seen = play_start_then_frames(conn, &mut publisher, &mut stream, 10);
    // The GOP cache starts it on a keyframe; from there every frame, in order, to the last.
    assert_eq!(seen.first_frame_was_key, Some(true), "{seen:?}");
    assert_eq!(seen.indices.last(), Some(&last), "{seen:?}");
    assert!(seen.indices.len() >= 10, "{seen:?}");
    assert!(
        seen.indices.windows(2).all(|w| w[1] == w[0] + 1),
        "{seen:?}"
    );
}

#[test]
fn detached_plain_player_reads_frames() {
    let server = TestServer::with(Setup {
        plain: true,
        ..Setup::default()
    });
    let (mut publisher, mut stream) = publish(&server);
    let conn = detached_player(
        &server.plain_url(NAME),
        vec![cipher_suite::TLS13_AES_128_GCM_SHA256],
    );
    assert!(conn.tls.is_none());
    let last = stream.next_index() + 9;
    let seen = play_start_then_frames(conn, &mut publisher, &mut stream, 10);
    assert_eq!(seen.indices.last(), Some(&last), "{seen:?}");
    assert!(
        seen.indices.windows(2).all(|w| w[1] == w[0] + 1),
        "{seen:?}"
    );
}
