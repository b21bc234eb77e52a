//! `decode_all` with default limits must never panic; whatever it accepts must survive
//! `Amf0Writer` and decode again to the same values, and re-encode to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmpsd::rtmp::amf0::{Amf0Value, Amf0Writer, AmfLimits, decode_all};

/// Encodes `values` in order; the encoding is never longer than the input plus one
/// object-end (3 bytes) per container left open at the input's end.
fn encode(values: &[Amf0Value<'_>], room: usize) -> Vec<u8> {
    let mut buf = vec![0u8; room];
    let mut writer = Amf0Writer::new(&mut buf);
    for value in values {
        if let Err(e) = writer.value(value) {
            panic!("cannot re-encode {value:?}: {e}");
        }
    }
    let len = writer.len();
    buf.truncate(len);
    buf
}

/// Equality with numbers compared bit for bit, so NaN equals itself.
fn same(a: &Amf0Value<'_>, b: &Amf0Value<'_>) -> bool {
    use Amf0Value as V;
    let props = |x: &[(&str, V<'_>)], y: &[(&str, V<'_>)]| {
        x.len() == y.len() && x.iter().zip(y).all(|(p, q)| p.0 == q.0 && same(&p.1, &q.1))
    };
    match (a, b) {
        (V::Number(x), V::Number(y)) => x.to_bits() == y.to_bits(),
        (
            V::Date {
                millis: x,
                timezone: s,
            },
            V::Date {
                millis: y,
                timezone: t,
            },
        ) => x.to_bits() == y.to_bits() && s == t,
        (V::Object(x), V::Object(y)) | (V::EcmaArray(x), V::EcmaArray(y)) => props(x, y),
        (V::StrictArray(x), V::StrictArray(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = AmfLimits::default();
    let Ok(values) = decode_all(data, &limits) else {
        return;
    };
    // Each level left open at the input's end gains 3 bytes; depth is at most max_depth.
    let room = data.len() + 3 * usize::from(limits.max_depth) + 3;
    let bytes = encode(&values, room);
    let again = match decode_all(&bytes, &limits) {
        Ok(again) => again,
        Err(e) => panic!("re-encoded {values:?} does not decode: {e}"),
    };
    assert_eq!(values.len(), again.len());
    for (a, b) in values.iter().zip(&again) {
        assert!(same(a, b), "{a:?} came back as {b:?}");
    }
    assert_eq!(encode(&again, bytes.len()), bytes);
});
