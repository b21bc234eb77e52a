//! Hostile input, media (see the table in `hostile/mod.rs`): abuse by a publisher on its own stream.
//!
//! What rtmpsd inspects (the video tag header, and a sequence header's decoder
//! configuration record) must be well formed: a malformed one closes the publisher with a
//! logged reason, since a player could not decode what follows it either. What it does not
//! need to understand is passed on untouched: video without a sequence header, legacy
//! one-byte tags, and any timestamp sequence (backwards, jumps of 2^31, wrapping at 2^32),
//! which players and encoders handle and rtmpsd never does arithmetic on beyond wrapping.

mod hostile;
mod support;

use std::thread;
use std::time::{Duration, Instant};

use hostile::{
    Fixture, avc_sequence_header, basic_header, chunked, collect_frames, fmt2, next_video,
};
use rtmpsd::rtmp::message::type_id;

const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Publishes on the attack stream, sends `payload` as video, and asserts the publisher is
/// closed with `reason`; the attack player sees the stream end and never the message.
fn closes(fx: &Fixture, tls: bool, payload: &[u8], reason: &str) {
    let mut player = fx.attack_player();
    let mut publisher = fx.attack_publisher(tls);
    let _ = publisher.video(0, payload);
    publisher.expect_closed(CLOSE_WAIT);
    fx.assert_closed(
        publisher.local,
        &["publisher of live/att", "protocol error: media: ", reason],
    );
    // Unpublished before anything reached the player.
    loop {
        let message = player.recv().expect("player told the stream ended");
        assert_ne!(
            message.type_id,
            type_id::VIDEO,
            "bad video reached a player"
        );
        if let Some((_, Some(code))) = message.command() {
            if code == "NetStream.Play.UnpublishNotify" {
                break;
            }
        }
    }
}

#[test]
fn video_without_a_sequence_header_is_passed_on() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("no sequence header", |fx| {
        let mut player = fx.attack_player();
        let mut publisher = fx.attack_publisher(true);
        for index in 0..10u32 {
            let frame = hostile::video_frame(index, index % 5 == 0, 200);
            publisher.video(index * 40, &frame).expect("send");
        }
        let (frames, _) = collect_frames(&mut player, 9);
        let expected: Vec<(u32, u32)> = (0..10).map(|i| (i, i * 40)).collect();
        assert_eq!(frames, expected);
        fx.assert_open(publisher.local);
        fx.hang_up(publisher);
    });
    fx.finish();
}

#[test]
fn empty_sequence_headers_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("empty sequence header", |fx| {
        // Legacy AVC: the 5-byte tag header and no decoder configuration record.
        closes(
            fx,
            true,
            &[0x17, 0x00, 0, 0, 0],
            "media header too short: needed 11 bytes, saw 5",
        );
        // Enhanced avc1 and hvc1 SequenceStart with no record.
        closes(
            fx,
            false,
            &[0x90, b'a', b'v', b'c', b'1'],
            "media header too short: needed 11 bytes, saw 5",
        );
        closes(
            fx,
            true,
            &[0x90, b'h', b'v', b'c', b'1'],
            "media header too short: needed 28 bytes, saw 5",
        );
    });
    fx.finish();
}

#[test]
fn lying_decoder_configuration_records_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("lying config records", |fx| {
        // avcC: one SPS declared 300 bytes long, 2 present.
        let sps_too_long = [
            0x17, 0x00, 0, 0, 0, 0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0x01, 0x2c, 0x67, 0x42,
        ];
        closes(
            fx,
            true,
            &sps_too_long,
            "bad decoder configuration record at offset 11",
        );
        // avcC: a good SPS, then 5 PPS declared and none present.
        let mut pps_missing = avc_sequence_header();
        let pps_count_at = pps_missing.len() - 7;
        pps_missing.truncate(pps_count_at);
        pps_missing.push(5);
        closes(
            fx,
            false,
            &pps_missing,
            &format!(
                "bad decoder configuration record at offset {}",
                pps_count_at + 1
            ),
        );
        // avcC: 31 SPS declared (the 5-bit maximum), none present.
        closes(
            fx,
            true,
            &[0x17, 0x00, 0, 0, 0, 0x01, 0x42, 0xc0, 0x1e, 0xff, 0xff],
            "bad decoder configuration record at offset 11",
        );
        // hvcC (legacy codec id 12 and enhanced hvc1): 3 arrays declared, the first
        // holding 1 000 NAL units, none present.
        let mut hvcc = vec![0x01; 22];
        hvcc.push(3);
        hvcc.extend_from_slice(&[0x20, 0x03, 0xe8]);
        let mut legacy = vec![0x1c, 0x00, 0, 0, 0];
        legacy.extend_from_slice(&hvcc);
        closes(
            fx,
            false,
            &legacy,
            "bad decoder configuration record at offset 31",
        );
        let mut enhanced = vec![0x90, b'h', b'v', b'c', b'1'];
        enhanced.extend_from_slice(&hvcc);
        closes(
            fx,
            true,
            &enhanced,
            "bad decoder configuration record at offset 31",
        );
    });
    fx.finish();
}

#[test]
fn enhanced_video_tags_shorter_than_their_header_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("short enhanced tags", |fx| {
        // The ExVideoTagHeader is 1 byte plus a FourCC.
        closes(
            fx,
            true,
            &[0x90, b'h', b'v'],
            "media header too short: needed 5 bytes, saw 3",
        );
        closes(
            fx,
            false,
            &[0x91],
            "media header too short: needed 5 bytes, saw 1",
        );
        // avc1 CodedFrames also carry a 3-byte composition time.
        closes(
            fx,
            true,
            &[0x91, b'a', b'v', b'c', b'1', 0],
            "media header too short: needed 8 bytes, saw 6",
        );
    });
    fx.finish();
}

#[test]
fn unknown_fourcc_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("unknown fourcc", |fx| {
        closes(
            fx,
            true,
            &[0x91, b'x', b'y', b'z', b'w', 0, 0, 0, 1, 2, 3],
            "unknown video fourcc \"xyzw\" (0x78797a77)",
        );
        closes(
            fx,
            false,
            &[0x90, 0, 0xff, 0x10, 0x7f, 1, 2, 3],
            "unknown video fourcc \"????\" (0x00ff107f)",
        );
    });
    fx.finish();
}

#[test]
fn malformed_multitrack_and_mod_ex_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("enhanced rtmp v2 headers", |fx| {
        // ManyTracks: track 1 declares 300 bytes with one left.
        closes(
            fx,
            true,
            &[0x96, 0x11, b'a', b'v', b'0', b'1', 1, 0, 1, 0x2c, 0xaa],
            "track 1 at byte 10 declares 300 bytes, 1 left in the message",
        );
        // Multitrack inside multitrack.
        closes(
            fx,
            false,
            &[0x96, 0x06, b'a', b'v', b'0', b'1', 0],
            "video multitrack message whose tracks have packet type 6",
        );
        // A reserved AvMultitrackType.
        closes(
            fx,
            true,
            &[0x96, 0x51, b'a', b'v', b'0', b'1', 0],
            "unknown video multitrack type 5",
        );
        // A TimestampOffsetNano ModEx of one byte, where its UI24 needs three.
        closes(
            fx,
            false,
            &[0x97, 0x00, 0x00, 0x01, b'a', b'v', b'0', b'1'],
            "timestamp offset modex of 1 bytes, needs 3",
        );
    });
    fx.finish();
}

#[test]
fn timestamps_backwards_by_2_31_and_wrapping_are_passed_on() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("timestamps", |fx| {
        let mut player = fx.attack_player();
        let mut publisher = fx.attack_publisher(false);
        let stream_id = publisher.stream_id;
        let frame = |i| hostile::video_frame(i, true, 100);
        let mut bytes = Vec::new();
        let mut expected = Vec::new();
        // Absolute timestamps (fmt 0): forward, backwards, a jump of 2^31, just under 2^32.
        for (index, timestamp) in [
            (0u32, 1000u32),
            (1, 500),
            (2, 500 + (1 << 31)),
            (3, 0xFFFF_FFF0),
        ] {
            bytes.extend(chunked(
                6,
                timestamp,
                type_id::VIDEO,
                stream_id,
                &frame(index),
                128,
                true,
            ));
            expected.push((index, timestamp));
        }
        // A delta (fmt 2) of 0x20 past 0xFFFFFFF0 wraps to 0x10; a fmt 3 message adds it again.
        bytes.extend(fmt2(6, 0x20));
        bytes.extend(frame(4));
        expected.push((4, 0x10));
        bytes.extend(basic_header(3, 6));
        bytes.extend(frame(5));
        expected.push((5, 0x30));
        // A delta of 2^32 - 16 (extended, fmt 2) is 16 ms backwards.
        bytes.extend(fmt2(6, 0xFFFF_FFF0));
        bytes.extend(frame(6));
        expected.push((6, 0x20));
        // And the largest delta a fmt 2 header can carry, forwards from 0x20.
        bytes.extend(fmt2(6, u32::MAX));
        bytes.extend(frame(7));
        expected.push((7, 0x1F));
        publisher.send(&bytes).expect("send");
        let (frames, _) = collect_frames(&mut player, 7);
        assert_eq!(frames, expected);
        fx.assert_open(publisher.local);
        fx.hang_up(publisher);
    });
    fx.finish();
}

#[test]
fn one_byte_video_messages() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("one-byte video", |fx| {
        // Legacy codecs other than AVC/HEVC have a one-byte header: a Sorenson H.263
        // keyframe and inter frame of one byte each are passed on as they are.
        let mut player = fx.attack_player();
        let mut publisher = fx.attack_publisher(true);
        publisher.video(0, &[0x12]).expect("send");
        publisher.video(40, &[0x22]).expect("send");
        for expected in [[0x12u8], [0x22]] {
            let message = next_video(&mut player).expect("one-byte video");
            assert_eq!(message.payload, expected);
        }
        fx.assert_open(publisher.local);
        fx.hang_up(publisher);
        drop(player);
        // AVC needs its packet type byte: one byte is too short, and so is none.
        closes(
            fx,
            false,
            &[0x17],
            "media header too short: needed 2 bytes, saw 1",
        );
        closes(
            fx,
            true,
            &[],
            "media header too short: needed 1 bytes, saw 0",
        );
    });
    fx.finish();
}

/// Bytes of one flood frame.
const FLOOD_FRAME: usize = 1 << 20;

#[test]
fn hundred_mb_per_second_publisher_is_bounded_and_others_flow() {
    // Small caches, so the bound below is tight: 2 MiB messages, 2 MiB of GOP, 4 MiB
    // queued per player.
    let flags = [
        "--max-message-kib",
        "2048",
        "--gop-cache-kib",
        "2048",
        "--player-queue-kib",
        "4096",
        "--player-queue",
        "64",
    ];
    let fx = Fixture::start(&flags);
    fx.attack_twice("100 MB/s publisher", |fx| {
        let before = fx.rss_kib();
        let mut player = fx.attack_player();
        let mut publisher = fx.attack_publisher(false);
        publisher
            .send(&hostile::control(type_id::SET_CHUNK_SIZE, 1 << 16))
            .expect("chunk size");
        // A player reading as fast as it can: its frames are checked to arrive in order,
        // skipping to keyframes when it falls behind.
        let reader = thread::spawn(move || {
            let mut last = None;
            let mut received = 0usize;
            let mut out_of_order = 0;
            let mut published = false;
            while let Ok(message) = player.recv() {
                // It joined before the publisher: UnpublishNotify, PublishNotify, frames,
                // then UnpublishNotify again when the publisher hangs up.
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
                if message.type_id != type_id::VIDEO {
                    continue;
                }
                let index = hostile_index(&message.payload);
                if last.is_some_and(|l| index <= l) {
                    out_of_order += 1;
                }
                last = Some(index);
                received += message.payload.len();
            }
            (received, out_of_order)
        });
        // 1 MiB frames, a keyframe every 8, paced at 100 per second (100 MB/s) for 2 s; TCP
        // backpressure paces it further if the server takes less.
        // One message made once; each send patches its timestamp, frame type and index
        // (all in the first chunk), so the test spends its time sending, not copying.
        let mut bytes = chunked(
            6,
            0,
            type_id::VIDEO,
            publisher.stream_id,
            &hostile::video_frame(0, true, FLOOD_FRAME),
            1 << 16,
            true,
        );
        let payload_at = 12;
        let start = Instant::now();
        let mut sent = 0usize;
        let mut peak = 0u64;
        let mut index = 0u32;
        while start.elapsed() < Duration::from_secs(2) {
            bytes[1..4].copy_from_slice(&(index * 10).to_be_bytes()[1..]);
            bytes[payload_at] = if index % 8 == 0 { 0x17 } else { 0x27 };
            bytes[payload_at + 9..payload_at + 13].copy_from_slice(&index.to_be_bytes());
            publisher.send(&bytes).expect("the server keeps reading");
            sent += FLOOD_FRAME + 9;
            index += 1;
            if index % 8 == 0 {
                peak = peak.max(fx.rss_kib());
            }
            let due = start + Duration::from_millis(10) * index;
            thread::sleep(due.saturating_duration_since(Instant::now()));
        }
        let took = start.elapsed();
        fx.assert_open(publisher.local);
        fx.hang_up(publisher);
        let (received, out_of_order) = reader.join().expect("reader");
        let rate = sent as f64 / took.as_secs_f64() / 1e6;
        eprintln!(
            "flood: sent {sent} bytes in {took:?} ({rate:.0} MB/s), player received \
             {received}, peak rss growth {} KiB",
            peak.saturating_sub(before)
        );
        assert_eq!(out_of_order, 0, "player frames out of order");
        assert!(received > 0, "the player got nothing");
        // Bound: a message being reassembled (at most 2 MiB) + one being encoded for
        // fan-out (2 MiB) + the GOP cache (2 MiB) + the player's queue (4 MiB) + its TLS
        // buffer (256 KiB), plus 4 MiB for the frames between them and malloc slack.
        let bound = (2 + 2 + 2 + 4 + 4) * 1024 + 256;
        assert!(
            peak <= before + bound,
            "rss peaked at {peak} KiB, {} KiB over {before} KiB (bound {bound} KiB)",
            peak - before
        );
    });
    fx.finish();
}

/// The index of a flood or synthetic frame.
fn hostile_index(payload: &[u8]) -> u32 {
    rtmpsd::client::frame_index(payload).unwrap_or(u32::MAX)
}
