//! What a peer says in enhanced RTMP's commands: the capabilities of a `connect` command
//! object and a ReconnectRequest status, read from any AMF0 the decoder accepts. Nothing may
//! panic; the capabilities must describe themselves, and a request's tcUrl must resolve.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmpsd::rtmp::amf0::{AmfLimits, decode_all};
use rtmpsd::rtmp::enhanced::{ConnectCaps, ReconnectRequest, resolve_tc_url};

fuzz_target!(|data: &[u8]| {
    let Ok(values) = decode_all(data, &AmfLimits::default()) else {
        return;
    };
    for value in &values {
        let caps = ConnectCaps::from_command_object(value);
        let described = caps.to_string();
        assert!(!described.is_empty());
        if !caps.declared {
            assert!(!caps.supports_reconnect());
        }
    }
    if let Some(request) = ReconnectRequest::from_values(&values) {
        if let Some(reference) = request.tc_url {
            let resolved = resolve_tc_url("rtmps://127.0.0.1:1936/live", reference);
            assert!(resolved.contains("://"), "{reference:?} -> {resolved:?}");
        }
    }
});
