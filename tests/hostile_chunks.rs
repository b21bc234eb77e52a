//! Hostile input, the chunk stream (see the table in `hostile/mod.rs`): after a valid handshake, Limits are closed with a
//! logged reason; odd but legal chunking (every basic-header form, extended timestamps with
//! and without librtmp's omission, Abort) is read correctly and passed on.

mod hostile;
mod support;

use std::time::Duration;

use hostile::{
    Fixture, basic_header, basic_header_long, chunked, collect_frames, control, fmt0, fmt1, fmt2,
    video_frame,
};
use rtmpsd::rtmp::message::type_id;

const CLOSE_WAIT: Duration = Duration::from_secs(5);

#[test]
fn message_longer_than_the_limit_is_closed() {
    let fx = Fixture::start(&["--max-message-kib", "1024"]);
    fx.attack_twice("message over the limit", |fx| {
        // Exactly at the limit is fine: a 1 MiB data message on stream 0 is read and
        // dropped, and the connection still answers createStream.
        let mut raw = fx.connected(true);
        let at_limit = vec![0x05u8; 1 << 20];
        raw.message(5, type_id::DATA_AMF0, 0, 0, &at_limit)
            .expect("send");
        raw.create_stream()
            .expect("still served after a message at the limit");
        // One byte over: closed as soon as the header is read.
        let mut header = fmt0(6, 0, (1 << 20) + 1, type_id::VIDEO, 1);
        header.extend_from_slice(&[0x17; 64]);
        let _ = raw.send(&header);
        raw.expect_closed(CLOSE_WAIT);
        fx.assert_closed(
            raw.local,
            &["protocol error: chunk: message length 1048577 over the limit 1048576"],
        );
    });
    fx.finish();
}

#[test]
fn bad_set_chunk_sizes_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("bad set chunk size", |fx| {
        // 0, the top bit set ("negative"), and the protocol's largest value, which is over
        // rtmpsd's own limit of 16 MiB (no message is larger than 8 MiB anyway).
        for value in [0u32, 0x8000_0000, 0x7FFF_FFFF, (1 << 24) + 1] {
            let mut raw = fx.connected(false);
            let _ = raw.send(&control(type_id::SET_CHUNK_SIZE, value));
            raw.expect_closed(CLOSE_WAIT);
            fx.assert_closed(
                raw.local,
                &[&format!(
                    "protocol error: chunk: chunk size {value} not in 1..=16777216"
                )],
            );
        }
        // The limit itself is accepted, and a message then travels in one chunk.
        let mut raw = fx.connected(false);
        raw.send(&control(type_id::SET_CHUNK_SIZE, 1 << 24))
            .expect("send");
        let payload = hostile::Amf::new()
            .string("createStream")
            .number(7.0)
            .null()
            .0;
        let mut bytes = fmt0(3, 0, payload.len() as u32, type_id::COMMAND_AMF0, 0);
        bytes.extend_from_slice(&payload);
        raw.send(&bytes).expect("send");
        let reply = raw
            .recv()
            .expect("createStream answered at chunk size 16 MiB");
        assert_eq!(
            reply.command().map(|c| c.0).as_deref(),
            Some("_result"),
            "{reply:?}"
        );
        fx.assert_open(raw.local);
    });
    fx.finish();
}

#[test]
fn chunks_without_a_fmt_0_header_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("fmt 1/2/3 first", |fx| {
        for fmt in 1..=3u8 {
            let mut raw = fx.connected(true);
            let mut bytes = match fmt {
                1 => fmt1(9, 40, 10, type_id::VIDEO),
                2 => fmt2(9, 40),
                _ => basic_header(3, 9),
            };
            bytes.extend_from_slice(&[0x17; 10]);
            let _ = raw.send(&bytes);
            raw.expect_closed(CLOSE_WAIT);
            fx.assert_closed(
                raw.local,
                &[&format!(
                    "protocol error: chunk: fmt {fmt} chunk on chunk stream 9 with no fmt 0 before it"
                )],
            );
        }
    });
    fx.finish();
}

#[test]
fn flood_of_chunk_stream_ids_is_closed_at_the_limit() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("chunk stream id flood", |fx| {
        // 60 000 distinct chunk stream ids, each with a complete 4-byte Window Ack Size.
        // `connect` used chunk stream 3, so ids 10..=24 fill the table of 16 and 25 is one
        // too many.
        let mut raw = fx.connected(true);
        let mut bytes = Vec::new();
        for csid in 10..60_010u32 {
            bytes.extend(basic_header(0, csid));
            bytes.extend(hostile::fmt0_fields(0, 4, type_id::WINDOW_ACK_SIZE, 0));
            bytes.extend_from_slice(&2_500_000u32.to_be_bytes());
        }
        let _ = raw.send(&bytes);
        raw.expect_closed(CLOSE_WAIT);
        fx.assert_closed(
            raw.local,
            &["protocol error: chunk: chunk stream 25 over the limit of 16 chunk streams"],
        );
    });
    fx.finish();
}

#[test]
fn every_basic_header_form_is_read() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("basic header forms", |fx| {
        // Chunk stream ids at the edges of each basic-header form: one byte (2..=63), two
        // bytes (6-bit field 0: 64..=319) and three bytes (6-bit field 1: 64..=65599),
        // including ids the three-byte form can carry although a shorter one exists.
        let mut player = fx.attack_player();
        let mut publisher = fx.attack_publisher(false);
        let stream_id = publisher.stream_id;
        let forms: [(u32, bool); 8] = [
            (2, false),
            (63, false),
            (64, false),
            (64, true),
            (319, false),
            (319, true),
            (320, false),
            (65_599, false),
        ];
        let mut bytes = Vec::new();
        for (index, (csid, long)) in forms.iter().enumerate() {
            let payload = video_frame(index as u32, true, 90);
            bytes.extend(if *long {
                basic_header_long(0, *csid)
            } else {
                basic_header(0, *csid)
            });
            bytes.extend(hostile::fmt0_fields(
                index as u32 * 40,
                payload.len() as u32,
                type_id::VIDEO,
                stream_id,
            ));
            bytes.extend_from_slice(&payload);
        }
        // Two messages longer than a chunk, whose fmt 3 continuations use the two- and
        // three-byte forms.
        for (index, csid) in [(8u32, 319u32), (9, 65_599)] {
            let payload = video_frame(index, true, 300);
            bytes.extend(chunked(
                csid,
                index * 40,
                type_id::VIDEO,
                stream_id,
                &payload,
                128,
                true,
            ));
        }
        publisher.send(&bytes).expect("send");
        let (frames, _) = collect_frames(&mut player, 9);
        let expected: Vec<(u32, u32)> = (0..10).map(|i| (i, i * 40)).collect();
        assert_eq!(frames, expected);
        fx.assert_open(publisher.local);
        fx.hang_up(publisher);
    });
    fx.finish();
}

#[test]
fn extended_timestamps_with_and_without_fmt3_repeats_are_read() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("extended timestamps", |fx| {
        // Messages of three chunks with timestamps past 24 bits: Adobe and FFmpeg repeat the
        // extended timestamp on each fmt 3 continuation, librtmp leaves it out. Both forms
        // alternate on one chunk stream.
        let mut player = fx.attack_player();
        let mut publisher = fx.attack_publisher(true);
        let stream_id = publisher.stream_id;
        let base = 0x0100_0000u32;
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        for index in 0..8u32 {
            let timestamp = base + index * 40;
            let payload = video_frame(index, true, 300);
            bytes.extend(chunked(
                6,
                timestamp,
                type_id::VIDEO,
                stream_id,
                &payload,
                128,
                index % 2 == 0,
            ));
            expected.push((index, timestamp));
        }
        // A fmt 1 header with an extended delta, continued without the repeat (librtmp).
        let payload = video_frame(8, true, 300);
        let delta = 0x0100_0000u32;
        bytes.extend(fmt1(6, delta, payload.len() as u32, type_id::VIDEO));
        bytes.extend_from_slice(&payload[..128]);
        bytes.extend(basic_header(3, 6));
        bytes.extend_from_slice(&payload[128..256]);
        bytes.extend(basic_header(3, 6));
        bytes.extend_from_slice(&payload[256..]);
        expected.push((8, base + 7 * 40 + delta));
        publisher.send(&bytes).expect("send");
        let (frames, _) = collect_frames(&mut player, 8);
        assert_eq!(frames, expected);
        fx.assert_open(publisher.local);
        fx.hang_up(publisher);
    });
    fx.finish();
}

#[test]
fn abort_of_unknown_and_partial_messages_is_handled() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("abort", |fx| {
        let mut player = fx.attack_player();
        let mut publisher = fx.attack_publisher(true);
        let stream_id = publisher.stream_id;
        let mut bytes = Vec::new();
        // Abort for chunk streams that never existed: nothing to drop, nothing to complain about.
        bytes.extend(control(type_id::ABORT, 77));
        bytes.extend(control(type_id::ABORT, 65_599));
        let frame = |i| video_frame(i, true, 300);
        bytes.extend(chunked(
            6,
            0,
            type_id::VIDEO,
            stream_id,
            &frame(0),
            128,
            true,
        ));
        // Frame 1 stops after its first chunk and is aborted; frame 2 starts afresh.
        let partial = chunked(6, 40, type_id::VIDEO, stream_id, &frame(1), 128, true);
        bytes.extend_from_slice(&partial[..12 + 128]);
        bytes.extend(control(type_id::ABORT, 6));
        bytes.extend(chunked(
            6,
            80,
            type_id::VIDEO,
            stream_id,
            &frame(2),
            128,
            true,
        ));
        bytes.extend(chunked(
            6,
            120,
            type_id::VIDEO,
            stream_id,
            &frame(3),
            128,
            true,
        ));
        publisher.send(&bytes).expect("send");
        let (frames, _) = collect_frames(&mut player, 3);
        assert_eq!(frames, vec![(0, 0), (2, 80), (3, 120)]);
        fx.assert_open(publisher.local);
        fx.hang_up(publisher);
    });
    fx.finish();
}

#[test]
fn message_that_never_completes_is_closed_at_the_idle_timeout() {
    let fx = Fixture::start(&["--idle-timeout-secs", "2"]);
    fx.attack_twice("message never completes", |fx| {
        let mut publisher = fx.attack_publisher(true);
        let stream_id = publisher.stream_id;
        // 100 000 bytes declared, 1 000 sent, then silence.
        let mut bytes = fmt0(6, 0, 100_000, type_id::VIDEO, stream_id);
        bytes.extend(video_frame(0, true, 991));
        let mut rest = &bytes[..];
        let first = rest.len().min(12 + 128);
        publisher.send(&rest[..first]).expect("send");
        rest = &rest[first..];
        for piece in rest.chunks(128) {
            let mut chunk = basic_header(3, 6);
            chunk.extend_from_slice(piece);
            publisher.send(&chunk).expect("send");
        }
        let sent = std::time::Instant::now();
        publisher.expect_closed(CLOSE_WAIT);
        let waited = sent.elapsed();
        fx.assert_closed(
            publisher.local,
            &[
                "idle timeout: nothing received for 2s",
                "publisher of live/att",
            ],
        );
        assert!(
            waited >= Duration::from_millis(1900) && waited < Duration::from_millis(3500),
            "closed {waited:?} after the last byte"
        );
    });
    fx.finish();
}
