//! Hostile input, commands (see the table in `hostile/mod.rs`), and the name limits: commands out of order, too many message
//! streams, names over their limits, and a second publisher on the live key.

mod hostile;
mod support;

use std::time::Duration;

use hostile::{ATTACK_KEY, Amf, Fixture, Raw};
use rtmpsd::rtmp::message::type_id;

const CLOSE_WAIT: Duration = Duration::from_secs(5);

fn publish(name: Amf) -> Vec<u8> {
    Amf::new()
        .string("publish")
        .number(0.0)
        .null()
        .raw(&name.0)
        .string("live")
        .0
}

fn play(name: Amf) -> Vec<u8> {
    Amf::new()
        .string("play")
        .number(0.0)
        .null()
        .raw(&name.0)
        .number(-2000.0)
        .0
}

#[test]
fn commands_before_connect_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("commands before connect", |fx| {
        let cases = [
            (publish(Amf::new().string(ATTACK_KEY)), "publish"),
            (play(Amf::new().string(ATTACK_KEY)), "play"),
            (
                Amf::new().string("createStream").number(2.0).null().0,
                "createStream",
            ),
        ];
        for (tls, (payload, name)) in [true, false].into_iter().cycle().zip(cases) {
            let mut raw = if tls {
                Raw::tls(fx.tls_addr())
            } else {
                Raw::tcp(fx.plain_addr())
            };
            raw.handshake().expect("handshake");
            let _ = raw.command(1, &payload);
            raw.expect_closed(CLOSE_WAIT);
            fx.assert_closed(
                raw.local,
                &[&format!(
                    "protocol error: session: {name} before the steps it needs"
                )],
            );
        }
        // A second connect on a connected session.
        let mut raw = fx.connected(true);
        let payload = Amf::new()
            .string("connect")
            .number(2.0)
            .object()
            .key("app")
            .string("live")
            .end()
            .0;
        let _ = raw.command(0, &payload);
        raw.expect_closed(CLOSE_WAIT);
        fx.assert_closed(raw.local, &["protocol error: session: second connect"]);
    });
    fx.finish();
}

#[test]
fn play_or_publish_before_create_stream_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("play before createStream", |fx| {
        let cases = [
            (play(Amf::new().string(ATTACK_KEY)), "play", 1),
            (publish(Amf::new().string(ATTACK_KEY)), "publish", 5),
        ];
        for (payload, name, stream_id) in cases {
            let mut raw = fx.connected(stream_id == 1);
            let _ = raw.command(stream_id, &payload);
            raw.expect_closed(CLOSE_WAIT);
            fx.assert_closed(
                raw.local,
                &[&format!(
                    "protocol error: session: {name} on unknown stream {stream_id}"
                )],
            );
        }
    });
    fx.finish();
}

#[test]
fn create_stream_ten_thousand_times_is_closed_at_the_limit() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("createStream x10000", |fx| {
        // All 10 000 sent at once, none deleted: the ninth is one too many.
        let mut raw = fx.connected(true);
        let mut bytes = Vec::new();
        for txn in 0..10_000u32 {
            let payload = Amf::new()
                .string("createStream")
                .number(f64::from(txn + 2))
                .null()
                .0;
            bytes.extend(hostile::chunked(
                3,
                0,
                type_id::COMMAND_AMF0,
                0,
                &payload,
                128,
                true,
            ));
        }
        let _ = raw.send(&bytes);
        raw.expect_closed(CLOSE_WAIT);
        fx.assert_closed(
            raw.local,
            &["protocol error: session: 9 message streams over the limit 8"],
        );
    });
    fx.finish();
}

#[test]
fn create_and_delete_stream_ten_thousand_times_is_served() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("createStream/deleteStream x10000", |fx| {
        // Deleting frees the id again: 10 000 pairs in batches of 500 never hold more
        // than one stream, and every createStream gets stream 1.
        let mut raw = fx.connected(false);
        for batch in 0..20u32 {
            let mut bytes = Vec::new();
            for i in 0..500u32 {
                let txn = f64::from(batch * 500 + i + 2);
                let create = Amf::new().string("createStream").number(txn).null().0;
                let delete = Amf::new()
                    .string("deleteStream")
                    .number(0.0)
                    .null()
                    .number(1.0)
                    .0;
                for payload in [create, delete] {
                    bytes.extend(hostile::chunked(
                        3,
                        0,
                        type_id::COMMAND_AMF0,
                        0,
                        &payload,
                        128,
                        true,
                    ));
                }
            }
            raw.send(&bytes).expect("send");
            let mut results = 0;
            while results < 500 {
                let message = raw.recv().expect("createStream result");
                if let Some((name, _, id)) = message.command() {
                    assert_eq!(name, "_result");
                    assert_eq!(id, Some(1.0), "createStream after deleteStream reuses id 1");
                    results += 1;
                }
            }
        }
        fx.assert_open(raw.local);
        fx.hang_up(raw);
    });
    fx.finish();
}

#[test]
fn stream_and_app_names_over_the_limit_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("long names", |fx| {
        // A 64 KiB publish name (a long string, as a short one cannot hold it) and a
        // 65 535-byte play name: both over the 256-byte name limit.
        let long = "k".repeat(64 * 1024);
        let cases = [
            (publish(Amf::new().long_string(&long)), 65_536),
            (play(Amf::new().string(&long[..65_535])), 65_535),
        ];
        for (payload, len) in cases {
            let mut raw = fx.connected(len % 2 == 0);
            let stream_id = raw.create_stream().expect("createStream");
            let _ = raw.command(stream_id, &payload);
            raw.expect_closed(CLOSE_WAIT);
            fx.assert_closed(
                raw.local,
                &[&format!(
                    "protocol error: session: name of {len} bytes over the limit 256"
                )],
            );
        }
        // An app name one byte over the limit in connect.
        let mut raw = Raw::tls(fx.tls_addr());
        raw.handshake().expect("handshake");
        let payload = Amf::new()
            .string("connect")
            .number(1.0)
            .object()
            .key("app")
            .string(&"a".repeat(257))
            .end()
            .0;
        let _ = raw.command(0, &payload);
        raw.expect_closed(CLOSE_WAIT);
        fx.assert_closed(
            raw.local,
            &["protocol error: session: name of 257 bytes over the limit 256"],
        );
    });
    fx.finish();
}

#[test]
fn command_name_over_the_limit_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("long command name", |fx| {
        // Unknown commands are ignored, but their names are still bounded (64 bytes).
        let mut raw = fx.connected(true);
        raw.command(0, &Amf::new().string(&"c".repeat(64)).number(2.0).null().0)
            .expect("send");
        raw.create_stream()
            .expect("a 64-byte unknown command is ignored");
        let _ = raw.command(0, &Amf::new().string(&"c".repeat(65)).number(3.0).null().0);
        raw.expect_closed(CLOSE_WAIT);
        fx.assert_closed(
            raw.local,
            &["protocol error: session: command name of 65 bytes over the limit 64"],
        );
    });
    fx.finish();
}

#[test]
fn second_publisher_on_the_live_key_is_refused_when_takeover_is_off() {
    let fx = Fixture::start(&["--publisher-takeover", "off"]);
    fx.attack_twice("second publisher on the live key", |fx| {
        // The live stream's own key, from another connection: refused, the live stream
        // keeps its publisher (checked by `finish`).
        let mut raw = fx.connected(true);
        let code = raw.publish(support::PUBLISH_KEY).expect("publish answer");
        assert_eq!(code, "NetStream.Publish.BadName");
        raw.expect_closed(CLOSE_WAIT);
        fx.assert_closed(raw.local, &["publish refused: stream is already live"]);
        fx.line(
            &format!("{} publish refused: live/test is already live", raw.local),
            Duration::from_secs(1),
        );
    });
    fx.finish();
}
