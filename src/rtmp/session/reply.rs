//! The AMF0 bodies of the server's replies: `_result`s, `onStatus` and `|RtmpSampleAccess`.
//!
//! Each builder writes one command or data message payload into a caller's buffer and
//! returns its length; the session frames it as chunks.

use crate::rtmp::Error;
use crate::rtmp::amf0::{Amf0Value, Amf0Writer};
use crate::rtmp::enhanced::caps::write_server_caps;

/// Room for the largest reply body built here (the `connect` result with enhanced-RTMP
/// capabilities, about 640 bytes).
pub const MAX_REPLY_LEN: usize = 1024;

/// `_result(txn, {fmsVer, capabilities}, {level, code, description, objectEncoding})`.
///
/// With `enhanced` (the client declared enhanced-RTMP capabilities), the properties object
/// also states rtmpsd's: `fourCcList`, `videoFourCcInfoMap`, `audioFourCcInfoMap`, `capsEx`.
pub fn connect_success(
    buf: &mut [u8],
    transaction_id: f64,
    object_encoding: f64,
    enhanced: bool,
) -> Result<usize, Error> {
    let mut w = Amf0Writer::new(buf);
    w.string("_result")?.number(transaction_id)?;
    w.object_start()?;
    w.property("fmsVer")?.string("FMS/3,0,1,123")?;
    w.property("capabilities")?.number(31.0)?;
    if enhanced {
        write_server_caps(&mut w)?;
    }
    w.object_end()?;
    w.object_start()?;
    w.property("level")?.string("status")?;
    w.property("code")?
        .string("NetConnection.Connect.Success")?;
    w.property("description")?.string("Connection succeeded.")?;
    w.property("objectEncoding")?.number(object_encoding)?;
    w.object_end()?;
    Ok(w.len())
}

/// `_result(txn, null, value)`, with `undefined` when there is no value.
pub fn result(buf: &mut [u8], transaction_id: f64, value: Option<f64>) -> Result<usize, Error> {
    let mut w = Amf0Writer::new(buf);
    w.string("_result")?.number(transaction_id)?.null()?;
    match value {
        Some(v) => w.number(v)?,
        None => w.value(&Amf0Value::Undefined)?,
    };
    Ok(w.len())
}

/// `onStatus(0, null, {level, code, description})`.
pub fn status(buf: &mut [u8], level: &str, code: &str, description: &str) -> Result<usize, Error> {
    let mut w = Amf0Writer::new(buf);
    w.string("onStatus")?.number(0.0)?.null()?;
    w.object_start()?;
    w.property("level")?.string(level)?;
    w.property("code")?.string(code)?;
    w.property("description")?.string(description)?;
    w.object_end()?;
    Ok(w.len())
}

/// The `|RtmpSampleAccess(true, true)` data message players get before media.
pub fn sample_access(buf: &mut [u8]) -> Result<usize, Error> {
    let mut w = Amf0Writer::new(buf);
    w.string("|RtmpSampleAccess")?
        .boolean(true)?
        .boolean(true)?;
    Ok(w.len())
}
