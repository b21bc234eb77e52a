//! The `connect` command the client opens a session with.

use super::RtmpUrl;
use crate::rtmp::amf0::{Amf0Writer, AmfError};
use crate::rtmp::enhanced::caps::write_client_caps;
use crate::rtmp::enhanced::fourcc_info;

/// Writes the AMF0 payload of `connect` into `out`: transaction `txn`, then the command object
/// with the URL's app and tcUrl (and with `caps_ex`, every enhanced RTMP v2 FourCC and those
/// capsEx bits); returns its length.
pub fn connect_command(
    out: &mut [u8],
    url: &RtmpUrl,
    txn: f64,
    caps_ex: Option<u32>,
) -> Result<usize, AmfError> {
    let mut w = Amf0Writer::new(out);
    w.string("connect")?.number(txn)?.object_start()?;
    w.property("app")?.string(&url.app)?;
    w.property("type")?.string("nonprivate")?;
    w.property("flashVer")?
        .string("FMLE/3.0 (compatible; rtmpsd-client)")?;
    w.property("tcUrl")?.string(&url.tc_url())?;
    if let Some(bits) = caps_ex {
        write_client_caps(&mut w, fourcc_info::CAN_FORWARD, true, bits)?;
    }
    w.object_end()?;
    Ok(w.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::amf0::{self, AmfLimits};
    use crate::rtmp::enhanced::ConnectCaps;

    fn url() -> RtmpUrl {
        RtmpUrl::parse("rtmps://127.0.0.1:8443/live/key").expect("url")
    }

    #[test]
    fn names_the_transaction_app_and_tc_url() {
        let mut out = [0u8; 2048];
        let len = connect_command(&mut out, &url(), 1.0, None).expect("fits");
        let values = amf0::decode_all(&out[..len], &AmfLimits::default()).expect("amf0");
        assert_eq!(values[0].as_str(), Some("connect"));
        assert_eq!(values[1].as_number(), Some(1.0));
        let object = &values[2];
        let field = |k| object.get(k).and_then(|v| v.as_str());
        assert_eq!(field("app"), Some("live"));
        assert_eq!(field("tcUrl"), Some("rtmps://127.0.0.1:8443/live"));
        assert_eq!(
            ConnectCaps::from_command_object(object),
            ConnectCaps::default()
        );
    }

    #[test]
    fn declares_caps_ex_when_asked() {
        let mut out = [0u8; 2048];
        let len = connect_command(&mut out, &url(), 1.0, Some(0x01)).expect("fits");
        let values = amf0::decode_all(&out[..len], &AmfLimits::default()).expect("amf0");
        assert_ne!(
            ConnectCaps::from_command_object(&values[2]),
            ConnectCaps::default()
        );
    }

    #[test]
    fn a_buffer_too_small_is_output_full() {
        let mut out = [0u8; 64];
        let err = connect_command(&mut out, &url(), 1.0, None).expect_err("too small");
        assert!(matches!(err, AmfError::OutputFull { .. }), "{err}");
    }
}
