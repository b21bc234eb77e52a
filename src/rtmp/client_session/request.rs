//! The AMF0 bodies of a publishing client's commands, in the order OBS sends them:
//! `connect`, `releaseStream`, `FCPublish`, `createStream`, `publish`, and at the end
//! `FCUnpublish` and `deleteStream`.
//!
//! Each builder writes one command payload into a caller's buffer and returns its length;
//! the session frames it as chunks.

use crate::rtmp::Error;
use crate::rtmp::amf0::Amf0Writer;

/// Room for the largest command built here: `connect` with the longest app and tcUrl a
/// `PublishPlan` allows, or `publish` with the longest name.
pub const MAX_REQUEST_LEN: usize = 2048;

/// `connect(txn, {app, type: "nonprivate", flashVer, tcUrl})`, as OBS (librtmp) sends it
/// for publishing.
pub fn connect(
    buf: &mut [u8],
    transaction_id: f64,
    app: &str,
    tc_url: &str,
    flash_ver: &str,
) -> Result<usize, Error> {
    let mut w = Amf0Writer::new(buf);
    w.string("connect")?.number(transaction_id)?;
    w.object_start()?;
    w.property("app")?.string(app)?;
    w.property("type")?.string("nonprivate")?;
    w.property("flashVer")?.string(flash_ver)?;
    w.property("tcUrl")?.string(tc_url)?;
    w.object_end()?;
    Ok(w.len())
}

/// `NAME(txn, null, stream_name)`: `releaseStream`, `FCPublish` and `FCUnpublish`.
pub fn about_stream(
    buf: &mut [u8],
    name: &str,
    transaction_id: f64,
    stream_name: &str,
) -> Result<usize, Error> {
    let mut w = Amf0Writer::new(buf);
    w.string(name)?
        .number(transaction_id)?
        .null()?
        .string(stream_name)?;
    Ok(w.len())
}

/// `createStream(txn, null)`.
pub fn create_stream(buf: &mut [u8], transaction_id: f64) -> Result<usize, Error> {
    let mut w = Amf0Writer::new(buf);
    w.string("createStream")?.number(transaction_id)?.null()?;
    Ok(w.len())
}

/// `publish(txn, null, stream_name, "live")`, sent on the created message stream.
pub fn publish(buf: &mut [u8], transaction_id: f64, stream_name: &str) -> Result<usize, Error> {
    let mut w = Amf0Writer::new(buf);
    w.string("publish")?
        .number(transaction_id)?
        .null()?
        .string(stream_name)?
        .string("live")?;
    Ok(w.len())
}

/// `deleteStream(txn, null, stream_id)`.
pub fn delete_stream(buf: &mut [u8], transaction_id: f64, stream_id: u32) -> Result<usize, Error> {
    let mut w = Amf0Writer::new(buf);
    w.string("deleteStream")?
        .number(transaction_id)?
        .null()?
        .number(f64::from(stream_id))?;
    Ok(w.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::amf0::{Amf0Value, AmfLimits, decode_all};

    #[test]
    fn connect_names_app_type_flash_version_and_tc_url() {
        let mut buf = [0u8; MAX_REQUEST_LEN];
        let len = connect(&mut buf, 1.0, "live2", "rtmps://h:443/live2", "FMLE/3.0").unwrap();
        let values = decode_all(&buf[..len], &AmfLimits::default()).unwrap();
        assert_eq!(values[0], Amf0Value::String("connect"));
        assert_eq!(values[1], Amf0Value::Number(1.0));
        let object = &values[2];
        assert_eq!(object.get("app").and_then(|v| v.as_str()), Some("live2"));
        assert_eq!(
            object.get("tcUrl").and_then(|v| v.as_str()),
            Some("rtmps://h:443/live2")
        );
        assert_eq!(
            object.get("type").and_then(|v| v.as_str()),
            Some("nonprivate")
        );
        assert_eq!(
            object.get("flashVer").and_then(|v| v.as_str()),
            Some("FMLE/3.0")
        );
    }

    #[test]
    fn publish_is_live_and_delete_stream_names_the_stream() {
        let mut buf = [0u8; MAX_REQUEST_LEN];
        let len = publish(&mut buf, 5.0, "key").unwrap();
        let values = decode_all(&buf[..len], &AmfLimits::default()).unwrap();
        assert_eq!(
            values,
            [
                Amf0Value::String("publish"),
                Amf0Value::Number(5.0),
                Amf0Value::Null,
                Amf0Value::String("key"),
                Amf0Value::String("live")
            ]
        );
        let len = delete_stream(&mut buf, 7.0, 1).unwrap();
        let values = decode_all(&buf[..len], &AmfLimits::default()).unwrap();
        assert_eq!(values[3], Amf0Value::Number(1.0));
    }

    #[test]
    fn a_command_that_does_not_fit_is_an_error_not_a_panic() {
        let mut small = [0u8; 16];
        assert!(about_stream(&mut small, "releaseStream", 2.0, "k").is_err());
        assert!(connect(&mut small, 1.0, "a", "b", "c").is_err());
    }
}
