//! Hostile input, floods (see the table in `hostile/mod.rs`), and the limits that bound resources rather than bytes: connection
//! caps, idle and slow peers, peers that vanish, unread replies, the GOP cache.
//!
//! (A worker that panics ends alone: `spawn_contained` in src/server/accept.rs, tested
//! there; every test here also checks the server logged no panic at all.)

mod hostile;
mod support;

use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use hostile::{ATTACK_STREAM, Fixture, Raw, chunked, collect_frames, shrink_receive_buffer};
use rtmpsd::rtmp::message::type_id;
use support::{PLAY_KEY, STREAM};

const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Opens `n` connections that send nothing, alternating ports; waits until the server has
/// taken each one on.
fn idle_connections(fx: &Fixture, n: usize) -> Vec<TcpStream> {
    let conns: Vec<TcpStream> = (0..n)
        .map(|i| {
            let addr = if i % 2 == 0 {
                fx.tls_addr()
            } else {
                fx.plain_addr()
            };
            TcpStream::connect(addr).expect("connect")
        })
        .collect();
    for conn in &conns {
        fx.session_id(conn.local_addr().expect("addr"));
    }
    conns
}

/// Connects and returns how long the server took to close the connection unasked.
fn refused_within(addr: std::net::SocketAddr) -> (std::net::SocketAddr, Duration) {
    let mut raw = Raw::tcp(addr);
    let closed = raw.expect_closed(Duration::from_secs(2));
    (raw.local, closed)
}

#[test]
fn connections_up_to_the_limit_stay_and_the_next_is_refused_at_once() {
    let fx = Fixture::start(&["--max-connections", "10"]);
    fx.attack_twice("connection limit", |fx| {
        // The live publisher and player hold 2 of the 10.
        let idle = idle_connections(fx, 8);
        for addr in [fx.tls_addr(), fx.plain_addr()] {
            let (peer, closed) = refused_within(addr);
            assert!(
                closed < Duration::from_millis(500),
                "refused after {closed:?}"
            );
            let line = fx.refused_line(peer);
            assert!(
                line.contains("connection limit reached: 10 open, limit 10"),
                "{line}"
            );
        }
        // The idle ones were kept, and their slots come back when they go.
        for conn in &idle {
            fx.assert_open(conn.local_addr().expect("addr"));
        }
        for conn in idle {
            let peer = conn.local_addr().expect("addr");
            conn.shutdown(Shutdown::Both).expect("shutdown");
            fx.closed_line(peer);
        }
        let mut raw = fx.connected(true);
        raw.create_stream().expect("served once slots are free");
        fx.hang_up(raw);
    });
    fx.finish();
}

#[test]
fn connections_per_address_limit_refuses_the_next() {
    let fx = Fixture::start(&["--max-connections-per-ip", "6"]);
    fx.attack_twice("per-address limit", |fx| {
        // The live publisher and player hold 2 of the 6 from 127.0.0.1.
        let idle = idle_connections(fx, 4);
        let (peer, closed) = refused_within(fx.tls_addr());
        assert!(
            closed < Duration::from_millis(500),
            "refused after {closed:?}"
        );
        let line = fx.refused_line(peer);
        assert!(
            line.contains("connection limit per address reached: 6 open from 127.0.0.1, limit 6"),
            "{line}"
        );
        for conn in idle {
            let peer = conn.local_addr().expect("addr");
            conn.shutdown(Shutdown::Both).expect("shutdown");
            fx.closed_line(peer);
        }
    });
    fx.finish();
}

/// Frames of the attack stream in the slow-player test: 100 KB at 100 a second (10 MB/s).
const BUSY_FRAME: usize = 100_000;

#[test]
fn player_that_never_reads_is_dropped_and_others_flow() {
    // A player that stops reading fills the kernel's send buffer (which grows to a few
    // MB on loopback), its 32 KiB TLS buffer and its queue, then falls behind and is cut
    // off after 1 s. A busy 10 MB/s stream gets there in a few seconds; a second player
    // of that stream and the live stream must not notice.
    let flags = [
        "--slow-player-secs",
        "1",
        "--player-queue",
        "64",
        "--player-queue-kib",
        "4096",
        "--tls-out-kib",
        "32",
    ];
    let fx = Fixture::start(&flags);
    fx.attack_twice("player that never reads", |fx| {
        let mut reader = fx.attack_player();
        let reading = thread::spawn(move || {
            let mut indices = Vec::new();
            let mut published = false;
            loop {
                let message = match reader.recv() {
                    Ok(m) => m,
                    Err(e) => {
                        eprintln!("reader: {e}");
                        break;
                    }
                };
                match message.command() {
                    Some((_, Some(code))) if code == "NetStream.Play.PublishNotify" => {
                        published = true;
                    }
                    Some((_, Some(code)))
                        if published && code == "NetStream.Play.UnpublishNotify" =>
                    {
                        break;
                    }
                    _ => {}
                }
                if message.type_id == type_id::VIDEO {
                    indices.push(rtmpsd::client::frame_index(&message.payload).unwrap_or(0));
                }
            }
            indices
        });
        let tcp = TcpStream::connect(fx.tls_addr()).expect("connect");
        shrink_receive_buffer(&tcp, 4096);
        let mut stalled = Raw::tls_over(tcp);
        stalled.handshake().expect("handshake");
        stalled.connect().expect("connect");
        let code = stalled
            .play(&format!("{ATTACK_STREAM}?key={PLAY_KEY}"))
            .expect("play");
        assert_eq!(code, "NetStream.Play.Start");
        // From here on `stalled` reads nothing at all.
        let stalled_id = fx.session_id(stalled.local);
        let closed = format!("] {stalled_id} {} closed ", stalled.local);
        let mut publisher = fx.attack_publisher(false);
        publisher
            .send(&hostile::control(type_id::SET_CHUNK_SIZE, 4096))
            .expect("chunk size");
        let mut bytes = chunked(
            6,
            0,
            type_id::VIDEO,
            publisher.stream_id,
            &hostile::video_frame(0, true, BUSY_FRAME),
            4096,
            true,
        );
        // Each frame patches timestamp, frame type and index in its first chunk.
        let start = Instant::now();
        let mut index = 0u32;
        let mut longest_send = Duration::ZERO;
        let mut dropped_after = None;
        while start.elapsed() < Duration::from_secs(12) {
            bytes[1..4].copy_from_slice(&(index * 10).to_be_bytes()[1..]);
            bytes[12] = if index % 10 == 0 { 0x17 } else { 0x27 };
            bytes[12 + 9..12 + 13].copy_from_slice(&index.to_be_bytes());
            let sending = Instant::now();
            publisher.send(&bytes).expect("send");
            longest_send = longest_send.max(sending.elapsed());
            index += 1;
            if dropped_after.is_none() && index % 10 == 0 && fx.server.log_contains(&closed) {
                dropped_after = Some(start.elapsed());
            }
            // Half a second more after the drop, to see the others carry on.
            if dropped_after.is_some_and(|d| start.elapsed() > d + Duration::from_millis(500)) {
                break;
            }
            let due = start + Duration::from_millis(10) * index;
            thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let line = fx.closed_line(stalled.local);
        let dropped_after = dropped_after.expect("the stalled player was never dropped");
        eprintln!("stalled player dropped {dropped_after:?} after the stream started");
        assert!(line.contains("player of live/att"), "{line}");
        assert!(line.contains("slow player: behind for "), "{line}");
        assert!(
            line.contains("ms, over the limit 1000ms (queue limits 64 messages, 4194304 bytes; "),
            "{line}"
        );
        fx.hang_up(publisher);
        let indices = reading.join().expect("reader");
        assert_eq!(indices.first(), Some(&0));
        assert_eq!(
            indices.last(),
            Some(&(index - 1)),
            "the reading player missed the end"
        );
        assert!(
            indices.windows(2).all(|w| w[1] == w[0] + 1),
            "the reading player had gaps"
        );
        assert!(
            longest_send < Duration::from_millis(500),
            "the publisher was held up for {longest_send:?}"
        );
        drop(stalled);
    });
    fx.finish();
}

#[test]
fn publisher_that_disconnects_mid_message_ends_its_stream_cleanly() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("publisher gone mid-message", |fx| {
        let mut player = fx.attack_player();
        let mut publisher = fx.attack_publisher(false);
        let stream_id = publisher.stream_id;
        for index in 0..4u32 {
            let frame = hostile::video_frame(index, index == 0, 300);
            publisher.video(index * 40, &frame).expect("send");
        }
        // Frame 4 stops after its first chunk, and the publisher closes its socket.
        let partial = chunked(
            6,
            160,
            type_id::VIDEO,
            stream_id,
            &hostile::video_frame(4, false, 300),
            128,
            true,
        );
        publisher.send(&partial[..12 + 128]).expect("send");
        publisher
            .io
            .tcp()
            .shutdown(Shutdown::Write)
            .expect("shutdown");
        publisher.expect_closed(CLOSE_WAIT);
        fx.assert_closed(
            publisher.local,
            &[
                "publisher of live/att",
                "(4 frames)",
                "peer closed the connection",
            ],
        );
        // The player joined before the publisher: skip the first UnpublishNotify.
        assert!(hostile::wait_status(
            &mut player,
            "NetStream.Play.PublishNotify"
        ));
        let (indices, ended) =
            hostile::frames_until_status(&mut player, "NetStream.Play.UnpublishNotify");
        assert_eq!(
            indices,
            vec![0, 1, 2, 3],
            "the partial frame must not arrive"
        );
        assert!(ended, "the player was not told the stream ended");
        // The key is free again at once, and the waiting player gets the new stream.
        let mut again = fx.attack_publisher(true);
        again
            .video(0, &hostile::video_frame(10, true, 300))
            .expect("send");
        let (frames, statuses) = collect_frames(&mut player, 10);
        assert_eq!(frames, vec![(10, 0)]);
        assert!(
            statuses.iter().any(|s| s == "NetStream.Play.PublishNotify"),
            "{statuses:?}"
        );
        fx.hang_up(again);
    });
    fx.finish();
}

#[test]
fn tls_peers_that_vanish_without_close_notify_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("tls peer vanishes", |fx| {
        // A publisher in the middle of a message.
        let mut publisher = fx.attack_publisher(true);
        let stream_id = publisher.stream_id;
        let partial = chunked(
            6,
            0,
            type_id::VIDEO,
            stream_id,
            &hostile::video_frame(0, true, 1000),
            128,
            true,
        );
        publisher.send(&partial[..500]).expect("send");
        let peer = publisher.local;
        publisher.vanish();
        fx.assert_closed(
            peer,
            &[
                "publisher of live/att",
                "peer went away: closed without a tls close_notify",
            ],
        );
        // A player of the live stream.
        let mut player = Raw::tls(fx.tls_addr());
        player.handshake().expect("handshake");
        player.connect().expect("connect");
        let code = player
            .play(&format!("{STREAM}?key={PLAY_KEY}"))
            .expect("play");
        assert_eq!(code, "NetStream.Play.Start");
        let peer = player.local;
        player.vanish();
        // Seen as the end of its input or, when its backlog was being written at that moment,
        // as a broken pipe: either way the peer went away (not a write failure).
        fx.assert_closed(peer, &["player of live/tes", "peer went away: c"]);
    });
    fx.finish();
}

#[test]
fn silent_publishers_and_connections_are_closed_at_the_idle_timeout() {
    let fx = Fixture::start(&["--idle-timeout-secs", "2"]);
    fx.attack_twice("idle timeout", |fx| {
        // A publisher that goes quiet after three frames, and a connection that does
        // nothing after connect; both at once.
        let mut publisher = fx.attack_publisher(true);
        for index in 0..3u32 {
            let frame = hostile::video_frame(index, index == 0, 300);
            publisher.video(index * 40, &frame).expect("send");
        }
        let quiet = Instant::now();
        let mut idle = fx.connected(false);
        publisher.expect_closed(CLOSE_WAIT);
        let waited = quiet.elapsed();
        fx.assert_closed(
            publisher.local,
            &[
                "publisher of live/att",
                "(3 frames)",
                "idle timeout: nothing received for 2s",
            ],
        );
        assert!(
            waited >= Duration::from_millis(1900) && waited < Duration::from_millis(3500),
            "closed {waited:?} after going quiet"
        );
        idle.expect_closed(CLOSE_WAIT);
        fx.assert_closed(
            idle.local,
            &["closed connection", "idle timeout: nothing received for 2s"],
        );
    });
    fx.finish();
}

#[test]
fn peer_that_never_reads_its_replies_is_closed_at_the_reply_limit() {
    // Ping requests make replies; a peer that sends them without reading fills its TLS
    // buffer (32 KiB), then the session's reply queue (64 KiB), and is closed there.
    let fx = Fixture::start(&["--tls-out-kib", "32"]);
    fx.attack_twice("unread replies", |fx| {
        let tcp = TcpStream::connect(fx.tls_addr()).expect("connect");
        shrink_receive_buffer(&tcp, 4096);
        let mut raw = Raw::tls_over(tcp);
        raw.handshake().expect("handshake");
        raw.connect().expect("connect");
        // One fmt 0 ping, then 300 000 more as 7-byte fmt 3 chunks (same length and type).
        let mut bytes = hostile::fmt0(2, 0, 6, type_id::USER_CONTROL, 0);
        bytes.extend_from_slice(&[0, 6, 0, 0, 0, 1]);
        for _ in 0..300_000 {
            bytes.extend(hostile::basic_header(3, 2));
            bytes.extend_from_slice(&[0, 6, 0, 0, 0, 1]);
        }
        let sender = thread::spawn(move || {
            let _ = raw.send(&bytes);
            raw
        });
        let mut raw = sender.join().expect("sender");
        fx.assert_closed(
            raw.local,
            &[
                "protocol error: session: ",
                "unread reply bytes over the limit 65536",
            ],
        );
        raw.expect_closed(CLOSE_WAIT);
    });
    fx.finish();
}

#[test]
fn gop_longer_than_the_cache_is_not_kept() {
    let fx = Fixture::start(&["--gop-cache-kib", "64"]);
    fx.attack_twice("gop over the cache", |fx| {
        // A 40 KB keyframe and ten 4 KB frames: a 80 KB GOP, over the 64 KiB cache.
        let mut publisher = fx.attack_publisher(true);
        publisher
            .video(0, &hostile::avc_sequence_header())
            .expect("send");
        for index in 0..11u32 {
            let size = if index == 0 { 40_000 } else { 4_000 };
            let frame = hostile::video_frame(index, index == 0, size);
            publisher.video(index * 40, &frame).expect("send");
        }
        let line = fx.line(
            &format!("{} gop of ", publisher.local),
            Duration::from_secs(5),
        );
        assert!(line.contains("over the gop cache limit 65536"), "{line}");
        // A player joining now gets the sequence header but none of that GOP; it starts
        // at the next keyframe.
        let mut player = fx.attack_player();
        publisher
            .video(440, &hostile::video_frame(11, false, 4_000))
            .expect("send");
        publisher
            .video(480, &hostile::video_frame(12, true, 4_000))
            .expect("send");
        let first = hostile::next_video(&mut player).expect("sequence header");
        assert_eq!(first.payload, hostile::avc_sequence_header());
        let (frames, _) = collect_frames(&mut player, 12);
        assert_eq!(frames, vec![(12, 480)]);
        fx.assert_open(publisher.local);
        fx.hang_up(publisher);
    });
    fx.finish();
}
