//! NetConnection.Connect.ReconnectRequest: a server asks its client to reconnect.
//!
//! ```text
//! onStatus(0, null, { level: "status", code: "NetConnection.Connect.ReconnectRequest",
//!                     tcUrl?: where to reconnect, description?: why })   message stream 0
//! ```
//!
//! The server sends it before it goes away for a reason the client can recover from (a
//! restart, a reload, a remap), and only to clients whose `connect` said `capsEx` Reconnect.
//! It then keeps serving the client until the client leaves. The client streams on to the
//! next media boundary (a keyframe), connects again, to `tcUrl` resolved against the current
//! tcUrl when there is one, and leaves the old connection.
//!
//! Both sides live here: the server's message builder and the client's recogniser and
//! `tcUrl` resolution, so the in-repo client and a future push client share them.

use crate::rtmp::amf0::{self, Amf0Value, Amf0Writer, AmfError, AmfLimits};

/// The status code of a reconnect request.
pub const RECONNECT_REQUEST_CODE: &str = "NetConnection.Connect.ReconnectRequest";

/// A reconnect request as a client received it, borrowing from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectRequest<'a> {
    /// Where to reconnect (absolute or relative to the current tcUrl); none means the same.
    pub tc_url: Option<&'a str>,
    /// Why, for the log.
    pub description: Option<&'a str>,
}

impl<'a> ReconnectRequest<'a> {
    /// Recognises a reconnect request among a command's decoded values: `onStatus` whose
    /// info object has level `status` and the reconnect code. Anything else is `None`.
    pub fn from_values(values: &[Amf0Value<'a>]) -> Option<ReconnectRequest<'a>> {
        if values.first()?.as_str()? != "onStatus" {
            return None;
        }
        let info = values.iter().skip(2).find(|v| {
            matches!(v, Amf0Value::Object(_) | Amf0Value::EcmaArray(_))
                && v.get("code").and_then(Amf0Value::as_str) == Some(RECONNECT_REQUEST_CODE)
        })?;
        if info.get("level").and_then(Amf0Value::as_str) != Some("status") {
            return None;
        }
        Some(ReconnectRequest {
            tc_url: info.get("tcUrl").and_then(Amf0Value::as_str),
            description: info.get("description").and_then(Amf0Value::as_str),
        })
    }

    /// Decodes an AMF0 command payload and recognises a reconnect request in it.
    pub fn parse(
        payload: &'a [u8],
        limits: &AmfLimits,
    ) -> Result<Option<ReconnectRequest<'a>>, AmfError> {
        let values = amf0::decode_all(payload, limits)?;
        Ok(Self::from_values(&values))
    }
}

/// Writes the `onStatus` body of a reconnect request into `buf`; returns its length.
pub fn write_reconnect_request(
    buf: &mut [u8],
    tc_url: Option<&str>,
    description: &str,
) -> Result<usize, AmfError> {
    let mut w = Amf0Writer::new(buf);
    w.string("onStatus")?.number(0.0)?.null()?;
    w.object_start()?;
    w.property("level")?.string("status")?;
    w.property("code")?.string(RECONNECT_REQUEST_CODE)?;
    w.property("description")?.string(description)?;
    if let Some(url) = tc_url {
        w.property("tcUrl")?.string(url)?;
    }
    w.object_end()?;
    Ok(w.len())
}

/// Resolves a reconnect request's `tcUrl` against the current one, as a URI reference
/// (RFC 3986, section 5.2, without dot segments): `rtmps://host/app` stands as it is,
/// `//host/app` takes the current scheme, `/app` the current scheme and authority, and `app`
/// replaces the last path segment.
pub fn resolve_tc_url(current: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let (scheme, rest) = current.split_once("://").unwrap_or(("rtmp", current));
    if let Some(network_path) = reference.strip_prefix("//") {
        return format!("{scheme}://{network_path}");
    }
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if reference.starts_with('/') {
        return format!("{scheme}://{authority}{reference}");
    }
    let directory = match path.rfind('/') {
        Some(at) => &path[..=at],
        None => "/",
    };
    format!("{scheme}://{authority}{directory}{reference}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_bytes(tc_url: Option<&str>) -> Vec<u8> {
        let mut buf = [0u8; 512];
        let len = write_reconnect_request(&mut buf, tc_url, "The server is restarting.").unwrap();
        buf[..len].to_vec()
    }

    #[test]
    fn writes_the_spec_layout_and_reads_it_back() {
        let bytes = request_bytes(Some("rtmps://b.example:1936/live"));
        // onStatus, transaction 0, null command object, then the info object.
        assert_eq!(bytes[..11], *b"\x02\x00\x08onStatus");
        assert_eq!(bytes[11..20], [0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(bytes[20], 0x05);
        assert_eq!(bytes[21], 0x03);
        let limits = AmfLimits::default();
        assert_eq!(
            ReconnectRequest::parse(&bytes, &limits),
            Ok(Some(ReconnectRequest {
                tc_url: Some("rtmps://b.example:1936/live"),
                description: Some("The server is restarting.")
            }))
        );
        let bytes = request_bytes(None);
        assert_eq!(
            ReconnectRequest::parse(&bytes, &limits)
                .unwrap()
                .unwrap()
                .tc_url,
            None
        );
    }

    #[test]
    fn other_status_codes_and_levels_are_not_requests() {
        let status = |level: &str, code: &str| {
            let mut buf = [0u8; 256];
            let mut w = Amf0Writer::new(&mut buf);
            w.string("onStatus")
                .unwrap()
                .number(0.0)
                .unwrap()
                .null()
                .unwrap();
            w.object_start().unwrap();
            w.property("level").unwrap().string(level).unwrap();
            w.property("code").unwrap().string(code).unwrap();
            w.object_end().unwrap();
            let len = w.len();
            buf[..len].to_vec()
        };
        let limits = AmfLimits::default();
        for bytes in [
            status("status", "NetStream.Play.UnpublishNotify"),
            status("error", RECONNECT_REQUEST_CODE),
        ] {
            assert_eq!(ReconnectRequest::parse(&bytes, &limits), Ok(None));
        }
        assert_eq!(
            ReconnectRequest::parse(&status("status", RECONNECT_REQUEST_CODE), &limits)
                .unwrap()
                .map(|r| r.tc_url),
            Some(None)
        );
        // A `_result` carrying the code is no request either.
        let mut bytes = status("status", RECONNECT_REQUEST_CODE);
        bytes[3..11].copy_from_slice(b"_result!");
        assert_eq!(ReconnectRequest::parse(&bytes, &limits), Ok(None));
    }

    #[test]
    fn resolves_every_form_of_reference_from_the_spec() {
        let current = "rtmps://a.example:1936/live";
        for (reference, resolved) in [
            (
                "rtmp://foo.mydomain.com:1935/realtimeapp",
                "rtmp://foo.mydomain.com:1935/realtimeapp",
            ),
            (
                "rtmp://127.0.0.1/realtimeapp",
                "rtmp://127.0.0.1/realtimeapp",
            ),
            ("//192.0.2.0/realtimeapp", "rtmps://192.0.2.0/realtimeapp"),
            ("/realtimeapp", "rtmps://a.example:1936/realtimeapp"),
            ("realtimeapp", "rtmps://a.example:1936/realtimeapp"),
        ] {
            assert_eq!(resolve_tc_url(current, reference), resolved, "{reference}");
        }
        assert_eq!(resolve_tc_url("rtmp://h", "app"), "rtmp://h/app");
        assert_eq!(resolve_tc_url("rtmp://h/a/b", "c"), "rtmp://h/a/c");
    }
}
