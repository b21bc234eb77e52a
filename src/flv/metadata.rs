//! The `onMetaData` script tag a recording starts with: the publisher's metadata with a
//! `duration` of our own in front, at a fixed place, so closing or repairing a file can
//! write the real duration into it without moving a byte.
//!
//! ```text
//! 0x02 0x000A "onMetaData"        13 bytes   AMF0 string
//! 0x08 count:32                    5 bytes   ECMA array
//! 0x0008 "duration" 0x00 f64      19 bytes   the duration, at DURATION_AT
//! ... the publisher's properties but its own duration and filesize ...
//! 0x0000 0x09                      3 bytes   end of the array
//! ```

use crate::rtmp::amf0::{Amf0Value, Amf0Writer, AmfLimits, decode_all};

/// The start of every body `metadata_body` makes, up to the duration number.
const PREFIX: &[u8] = b"\x02\x00\x0AonMetaData\x08";
/// Offset of the `duration` property name in the body.
const DURATION_KEY_AT: usize = PREFIX.len() + 4;
/// The `duration` property name and the number marker after it.
const DURATION_KEY: &[u8] = b"\x00\x08duration\x00";
/// Offset of the duration's 8-byte number in a body made by `metadata_body`.
pub const DURATION_AT: usize = DURATION_KEY_AT + DURATION_KEY.len();

/// Properties of the publisher's metadata that describe a whole file, which a recording
/// segment is not: they are left out (ours is written in front instead).
fn describes_a_file(key: &str) -> bool {
    key == "duration" || key.eq_ignore_ascii_case("filesize")
}

/// An `onMetaData` body with a zero duration at `DURATION_AT`, then the properties of
/// `publisher` (a data message body starting with the string `onMetaData`) if there is one
/// and it decodes within `AmfLimits::default()`.
pub fn metadata_body(publisher: Option<&[u8]>) -> Vec<u8> {
    let props = publisher.and_then(publisher_properties);
    let extra = publisher.map_or(0, <[u8]>::len);
    // Ours adds the duration property and at most 4 bytes (object -> ECMA array) to theirs.
    let mut out = vec![0; DURATION_AT + 8 + extra + 64];
    let written = props
        .as_deref()
        .and_then(|props| write_body(&mut out, props).ok())
        .or_else(|| write_body(&mut out, &[]).ok())
        .unwrap_or(0);
    out.truncate(written);
    out
}

/// The properties of the publisher's `onMetaData`, but those that describe a whole file.
fn publisher_properties(body: &[u8]) -> Option<Vec<(&str, Amf0Value<'_>)>> {
    let mut values = decode_all(body, &AmfLimits::default()).ok()?.into_iter();
    if values.next()?.as_str()? != "onMetaData" {
        return None;
    }
    match values.next()? {
        Amf0Value::EcmaArray(props) | Amf0Value::Object(props) => Some(
            props
                .into_iter()
                .filter(|(key, _)| !describes_a_file(key))
                .collect(),
        ),
        _ => None,
    }
}

fn write_body(out: &mut [u8], props: &[(&str, Amf0Value<'_>)]) -> Result<usize, ()> {
    let count = u32::try_from(props.len() + 1).map_err(|_| ())?;
    let mut w = Amf0Writer::new(out);
    w.string("onMetaData")
        .and_then(|w| w.ecma_array_start(count))
        .and_then(|w| w.property("duration"))
        .and_then(|w| w.number(0.0))
        .map_err(|_| ())?;
    for (key, value) in props {
        w.property(key)
            .and_then(|w| w.value(value))
            .map_err(|_| ())?;
    }
    w.object_end().map_err(|_| ())?;
    Ok(w.len())
}

/// Whether `body` starts the way `metadata_body` makes it.
fn has_duration_slot(body: &[u8]) -> bool {
    body.starts_with(PREFIX)
        && body.get(DURATION_KEY_AT..DURATION_AT) == Some(DURATION_KEY)
        && body.len() >= DURATION_AT + 8
}

/// Writes `seconds` as the duration of a body made by `metadata_body` (or the start of a
/// file's first tag body); false, writing nothing, when `body` was not made that way.
pub fn write_duration(body: &mut [u8], seconds: f64) -> bool {
    if !has_duration_slot(body) {
        return false;
    }
    body[DURATION_AT..DURATION_AT + 8].copy_from_slice(&seconds.to_be_bytes());
    true
}

/// The duration in a body made by `metadata_body`.
pub fn duration_of(body: &[u8]) -> Option<f64> {
    if !has_duration_slot(body) {
        return None;
    }
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&body[DURATION_AT..DURATION_AT + 8]);
    Some(f64::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What ffmpeg 5.1 sends with `-flvflags no_duration_filesize` (shortened): an ECMA array.
    fn ffmpeg_metadata() -> Vec<u8> {
        let mut out = vec![0; 512];
        let mut w = Amf0Writer::new(&mut out);
        w.string("onMetaData").unwrap();
        w.ecma_array_start(4).unwrap();
        w.property("width").unwrap().number(320.0).unwrap();
        w.property("videocodecid").unwrap().number(7.0).unwrap();
        w.property("encoder")
            .unwrap()
            .string("Lavf59.27.100")
            .unwrap();
        w.property("fileSize").unwrap().number(0.0).unwrap();
        w.object_end().unwrap();
        let len = w.len();
        out.truncate(len);
        out
    }

    fn props(body: &[u8]) -> Vec<(String, Amf0Value<'static>)> {
        let values = decode_all(body, &AmfLimits::default()).unwrap();
        assert_eq!(values[0], Amf0Value::String("onMetaData"));
        match &values[1] {
            Amf0Value::EcmaArray(p) => p
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Amf0Value::Number(n) => Amf0Value::Number(*n),
                        Amf0Value::String(s) => Amf0Value::String(s.to_string().leak()),
                        other => panic!("unexpected {other:?}"),
                    };
                    (k.to_string(), v)
                })
                .collect(),
            other => panic!("not an ECMA array: {other:?}"),
        }
    }

    #[test]
    fn publisher_properties_follow_our_duration_and_file_totals_are_left_out() {
        let body = metadata_body(Some(&ffmpeg_metadata()));
        let props = props(&body);
        let keys: Vec<&str> = props.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["duration", "width", "videocodecid", "encoder"]);
        assert_eq!(duration_of(&body), Some(0.0));
    }

    #[test]
    fn the_duration_is_written_in_place() {
        let mut body = metadata_body(Some(&ffmpeg_metadata()));
        let len = body.len();
        assert!(write_duration(&mut body, 12.5));
        assert_eq!(body.len(), len);
        assert_eq!(duration_of(&body), Some(12.5));
        assert_eq!(props(&body)[0].1, Amf0Value::Number(12.5));
    }

    #[test]
    fn without_usable_publisher_metadata_only_the_duration_is_written() {
        for publisher in [None, Some(&b"\x02\x00\x03abc"[..]), Some(&b"\xff\xff"[..])] {
            let body = metadata_body(publisher);
            let keys: Vec<String> = props(&body).into_iter().map(|(k, _)| k).collect();
            assert_eq!(keys, ["duration"], "{publisher:?}");
        }
    }

    #[test]
    fn an_object_becomes_an_ecma_array() {
        let mut input = vec![0; 128];
        let mut w = Amf0Writer::new(&mut input);
        w.string("onMetaData").unwrap();
        w.object_start().unwrap();
        w.property("duration").unwrap().number(99.0).unwrap();
        w.property("height").unwrap().number(240.0).unwrap();
        w.object_end().unwrap();
        let len = w.len();
        input.truncate(len);
        let body = metadata_body(Some(&input));
        let keys: Vec<String> = props(&body).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["duration", "height"]);
        assert_eq!(
            duration_of(&body),
            Some(0.0),
            "the publisher's 99 is not kept"
        );
    }

    #[test]
    fn other_bodies_are_not_written_into() {
        let mut body = ffmpeg_metadata();
        let before = body.clone();
        assert!(!write_duration(&mut body, 1.0));
        assert_eq!(body, before);
        assert!(!write_duration(&mut body[..DURATION_AT], 1.0));
        assert_eq!(duration_of(&body), None);
    }
}
