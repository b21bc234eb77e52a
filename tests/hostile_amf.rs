//! Hostile input, AMF (see the table in `hostile/mod.rs`): AMF0 in commands and data messages. Wrong types, broken
//! encodings and values over the AMF limits close the connection with a logged reason.

mod hostile;
mod support;

use std::time::Duration;

use hostile::{Amf, Fixture, Raw};
use rtmpsd::rtmp::message::type_id;

const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Sends `payload` as a command on a fresh connection after the handshake (and after
/// `connect` unless `before_connect`); asserts the connection is closed and the close line
/// has every one of `parts`.
fn closes(fx: &Fixture, before_connect: bool, type_id: u8, payload: &[u8], parts: &[&str]) {
    // Alternate between the two ports, so both transports see every attack.
    let tls = payload.len() % 2 == 0;
    let mut raw = if before_connect {
        let mut raw = if tls {
            Raw::tls(fx.tls_addr())
        } else {
            Raw::tcp(fx.plain_addr())
        };
        raw.handshake().expect("handshake");
        raw
    } else {
        fx.connected(tls)
    };
    let stream_id = if before_connect {
        0
    } else {
        raw.create_stream().expect("createStream")
    };
    let _ = raw.message(3, type_id, stream_id, 0, payload);
    raw.expect_closed(CLOSE_WAIT);
    fx.assert_closed(raw.local, parts);
}

fn connect_with(object: Amf) -> Vec<u8> {
    Amf::new().string("connect").number(1.0).raw(&object.0).0
}

#[test]
fn arguments_of_the_wrong_type_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("wrong argument types", |fx| {
        let cases: Vec<(bool, Vec<u8>, &str)> = vec![
            // An object where the transaction id (a number) belongs.
            (
                true,
                Amf::new()
                    .string("connect")
                    .object()
                    .end()
                    .object()
                    .key("app")
                    .string("live")
                    .end()
                    .0,
                "connect argument 1 has the wrong type",
            ),
            // A number where the command object belongs.
            (
                true,
                connect_with(Amf::new().number(5.0)),
                "connect argument 2 has the wrong type",
            ),
            // A number where the app name (a string) belongs.
            (
                true,
                connect_with(Amf::new().object().key("app").number(5.0).end()),
                "connect argument 2 has the wrong type",
            ),
            // A number where the stream name belongs.
            (
                false,
                Amf::new()
                    .string("publish")
                    .number(0.0)
                    .null()
                    .number(5.0)
                    .string("live")
                    .0,
                "publish argument 3 has the wrong type",
            ),
            // Null where the stream name belongs.
            (
                false,
                Amf::new().string("play").number(0.0).null().null().0,
                "play argument 3 has the wrong type",
            ),
            // A number where connect's command object belongs. (deleteStream with a string
            // for the stream id is no error: GStreamer's rtmp2sink sends the stream name.)
            (
                true,
                Amf::new().string("connect").number(1.0).number(5.0).0,
                "connect argument 2 has the wrong type",
            ),
            // An object where createStream's transaction id belongs.
            (
                false,
                Amf::new().string("createStream").object().end().null().0,
                "createStream argument 1 has the wrong type",
            ),
        ];
        for (before_connect, payload, reason) in &cases {
            closes(
                fx,
                *before_connect,
                type_id::COMMAND_AMF0,
                payload,
                &["protocol error: session: ", reason],
            );
        }
    });
    fx.finish();
}

#[test]
fn truncated_object_end_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("truncated object end", |fx| {
        // The command object stops after its last value, with no empty key and 0x09.
        let payload = connect_with(Amf::new().object().key("app").string("live"));
        closes(
            fx,
            true,
            type_id::COMMAND_AMF0,
            &payload,
            &[&format!(
                "protocol error: amf0: input ends inside a value at byte {}",
                payload.len()
            )],
        );
        // Cut inside the end marker itself.
        let mut payload = connect_with(Amf::new().object().key("app").string("live").end());
        payload.pop();
        closes(
            fx,
            true,
            type_id::COMMAND_AMF0,
            &payload,
            &["protocol error: amf0: input ends inside a value"],
        );
    });
    fx.finish();
}

#[test]
fn nesting_ten_thousand_deep_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("nesting 10 000 deep", |fx| {
        let reason = "protocol error: amf0: nesting depth 17 over the limit 16";
        // Objects inside objects, as connect's command object.
        let mut object = Amf::new();
        for _ in 0..10_000 {
            object = object.object().key("a");
        }
        closes(
            fx,
            true,
            type_id::COMMAND_AMF0,
            &connect_with(object),
            &[reason],
        );
        // Strict arrays of one element, inside a command after connect.
        let mut arrays = Amf::new().string("FCPublish").number(2.0).null();
        for _ in 0..10_000 {
            arrays = arrays.strict(1);
        }
        closes(fx, false, type_id::COMMAND_AMF0, &arrays.0, &[reason]);
        // ECMA arrays, in a publisher's data message.
        let mut publisher = fx.attack_publisher(true);
        let mut data = Amf::new().string("@setDataFrame").string("onMetaData");
        for _ in 0..10_000 {
            data = data.ecma(1).key("a");
        }
        let _ = publisher.message(5, type_id::DATA_AMF0, publisher.stream_id, 0, &data.0);
        publisher.expect_closed(CLOSE_WAIT);
        fx.assert_closed(publisher.local, &["publisher of live/att", reason]);
    });
    fx.finish();
}

#[test]
fn string_length_past_the_end_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("string past the end", |fx| {
        // A short string declaring 65 535 bytes with 4 present.
        let mut payload = Amf::new().string("publish").number(0.0).null().0;
        let at = payload.len();
        payload.extend_from_slice(&[0x02, 0xff, 0xff, b'c', b'a', b'm', b'1']);
        closes(
            fx,
            false,
            type_id::COMMAND_AMF0,
            &payload,
            &[&format!(
                "protocol error: amf0: input ends inside a value at byte {}",
                at + 3
            )],
        );
        // A long string declaring 4 GiB: over the string limit before any bytes are looked at.
        let mut payload = Amf::new().string("publish").number(0.0).null().0;
        payload.extend_from_slice(&[0x0c, 0xff, 0xff, 0xff, 0xff, b'x']);
        closes(
            fx,
            false,
            type_id::COMMAND_AMF0,
            &payload,
            &["protocol error: amf0: string of 4294967295 bytes over the 65536-byte limit"],
        );
    });
    fx.finish();
}

#[test]
fn reference_to_an_object_never_sent_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("dangling reference", |fx| {
        // Reference 5 when one complex value (the command object) has been seen.
        let payload = connect_with(
            Amf::new()
                .object()
                .key("app")
                .string("live")
                .end()
                .reference(5),
        );
        closes(
            fx,
            true,
            type_id::COMMAND_AMF0,
            &payload,
            &["protocol error: amf0: reference to complex value 5 with 1 seen"],
        );
        // An object referring to itself while still open.
        let payload = connect_with(
            Amf::new()
                .object()
                .key("app")
                .string("live")
                .key("self")
                .reference(0)
                .end(),
        );
        closes(
            fx,
            true,
            type_id::COMMAND_AMF0,
            &payload,
            &["protocol error: amf0: reference to complex value 0 with 1 seen"],
        );
    });
    fx.finish();
}

#[test]
fn object_with_a_million_keys_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("a million keys", |fx| {
        // An ECMA array declaring 1 000 000 properties (the count is only a hint, so nothing
        // is reserved for it), 2 000 of which follow.
        let mut payload = Amf::new()
            .string("FCPublish")
            .number(2.0)
            .null()
            .ecma(1_000_000);
        for i in 0..2_000 {
            payload = payload.key(&format!("k{i}")).null();
        }
        closes(
            fx,
            false,
            type_id::COMMAND_AMF0,
            &payload.0,
            &["protocol error: amf0: 1025 values over the limit 1024"],
        );
        // A strict array declaring 1 000 000 values: refused before any is read.
        let payload = Amf::new()
            .string("FCPublish")
            .number(2.0)
            .null()
            .strict(1_000_000)
            .0;
        closes(
            fx,
            false,
            type_id::COMMAND_AMF0,
            &payload,
            &["protocol error: amf0: 1000004 values over the limit 1024"],
        );
        // An object with 1 000 000 real keys: a 4 MB message, reassembled within the message
        // limit, then refused at the 1 025th value.
        let mut payload = Amf::new().string("FCPublish").number(2.0).null().object().0;
        for _ in 0..1_000_000 {
            payload.extend_from_slice(&[0, 1, b'k', 0x05]);
        }
        payload.extend_from_slice(&[0, 0, 0x09]);
        closes(
            fx,
            false,
            type_id::COMMAND_AMF0,
            &payload,
            &["protocol error: amf0: 1025 values over the limit 1024"],
        );
    });
    fx.finish();
}

#[test]
fn unknown_markers_are_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("unknown markers", |fx| {
        // 0x0d (unsupported), 0x11 (switch to AMF3, not allowed inside AMF0), 0x42 (no such).
        for marker in [0x0du8, 0x11, 0x42] {
            let mut payload = Amf::new().string("FCPublish").number(2.0).null().0;
            let at = payload.len();
            payload.extend_from_slice(&[marker, 1, 2, 3]);
            closes(
                fx,
                false,
                type_id::COMMAND_AMF0,
                &payload,
                &[&format!(
                    "protocol error: amf0: unknown marker {marker:#04x} at byte {at}"
                )],
            );
        }
    });
    fx.finish();
}

#[test]
fn amf3_command_wrapper_with_junk_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("amf3 wrapper junk", |fx| {
        // Type 17 must start with the AMF0 selector 0.
        closes(
            fx,
            true,
            type_id::COMMAND_AMF3,
            &[0x11, 0x06, 0x0f, b'c'],
            &["protocol error: session: amf3 command wrapper starts with 0x11, not 0"],
        );
        // The selector, then an AMF3 value where AMF0 must follow.
        closes(
            fx,
            false,
            type_id::COMMAND_AMF3,
            &[0x00, 0x11, 0x06, 0x0f],
            &["protocol error: amf0: unknown marker 0x11 at byte 0"],
        );
        // An empty type 17 message, and one with nothing after the selector.
        closes(
            fx,
            false,
            type_id::COMMAND_AMF3,
            &[],
            &["protocol error: session: empty command message"],
        );
        closes(
            fx,
            true,
            type_id::COMMAND_AMF3,
            &[0x00],
            &["protocol error: session: empty command message"],
        );
    });
    fx.finish();
}
