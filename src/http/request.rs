//! One HTTP/1.x request head, parsed by httparse straight from the connection's fixed buffer.
//!
//! Only `GET` and `HEAD` without a body are served: the listener reads, answers once and
//! closes. Parsing borrows from the buffer and never allocates; the header slots are a
//! fixed array, so too many headers is an error, not growth.

/// Most request headers read; more is `TooManyHeaders`.
pub const MAX_HEADERS: usize = 32;

/// The methods the listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the `GET` response without its body.
    Head,
}

impl Method {
    /// The method as it is written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
        }
    }
}

/// What the handlers need from a request head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method.
    pub method: Method,
    /// The path, without the query.
    pub path: &'a str,
    /// The query after `?`, if any.
    pub query: Option<&'a str>,
    /// The `Authorization` header's value, if any.
    pub authorization: Option<&'a [u8]>,
    /// The `Host` header's value, if any.
    pub host: Option<&'a str>,
}

/// A parse that may need more bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The head is complete.
    Complete(T),
    /// More bytes are needed.
    Incomplete,
}

/// Why a request is refused before any handler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// Not HTTP/1.x as httparse reads it.
    Malformed(httparse::Error),
    /// The head did not fit in the request buffer.
    TooLarge {
        /// The buffer's size.
        limit: usize,
    },
    /// A method other than `GET` or `HEAD`.
    MethodNotAllowed,
    /// A request that announces a body.
    BodyNotAllowed,
    /// The head was not complete within the time allowed.
    Timeout {
        /// The time allowed, in milliseconds.
        limit_ms: u64,
    },
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Malformed(e) => write!(f, "malformed request: {e}"),
            RequestError::TooLarge { limit } => {
                write!(f, "request head longer than {limit} bytes")
            }
            RequestError::MethodNotAllowed => f.write_str("method not allowed: only GET and HEAD"),
            RequestError::BodyNotAllowed => f.write_str("request with a body"),
            RequestError::Timeout { limit_ms } => {
                write!(f, "request head not complete within {limit_ms} ms")
            }
        }
    }
}

/// Parses a request head from `buf`; bytes after the head are ignored.
pub fn parse(buf: &[u8]) -> Result<Parsed<Request<'_>>, RequestError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Ok(Parsed::Incomplete),
        Err(e) => return Err(RequestError::Malformed(e)),
    }
    let method = match request.method {
        Some("GET") => Method::Get,
        Some("HEAD") => Method::Head,
        _ => return Err(RequestError::MethodNotAllowed),
    };
    let target = request.path.unwrap_or("/");
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let mut authorization = None;
    let mut host = None;
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("authorization") {
            authorization = Some(header.value);
        } else if name.eq_ignore_ascii_case("host") {
            host = std::str::from_utf8(header.value).ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || (name.eq_ignore_ascii_case("content-length")
                && header.value.iter().any(|b| *b != b'0'))
        {
            return Err(RequestError::BodyNotAllowed);
        }
    }
    Ok(Parsed::Complete(Request {
        method,
        path,
        query,
        authorization,
        host,
    }))
}

/// The value of `name` in a URL query (`a=1&name=value`), still percent-encoded.
pub fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then_some(value)
    })
}

/// Percent-decodes `text` into `out` (`+` is a space); returns the decoded length, or `None`
/// when it does not fit or an escape is broken.
pub fn percent_decode(text: &str, out: &mut [u8]) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut at = 0;
    let mut len = 0;
    while at < bytes.len() {
        let byte = match bytes[at] {
            b'%' => {
                let hex = bytes.get(at + 1..at + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                at += 2;
                u8::from_str_radix(hex, 16).ok()?
            }
            b'+' => b' ',
            other => other,
        };
        *out.get_mut(len)? = byte;
        len += 1;
        at += 1;
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(raw: &[u8]) -> Request<'_> {
        match parse(raw) {
            Ok(Parsed::Complete(r)) => r,
            other => panic!("expected a complete request, got {other:?}"),
        }
    }

    #[test]
    fn a_get_with_query_token_and_host_is_read() {
        let r = complete(b"GET /metrics?x=1&token=abc HTTP/1.1\r\nHost: box.local:8080\r\n\r\n");
        assert_eq!(r.method, Method::Get);
        assert_eq!(r.path, "/metrics");
        assert_eq!(r.query, Some("x=1&token=abc"));
        assert_eq!(query_value(r.query.unwrap(), "token"), Some("abc"));
        assert_eq!(r.host, Some("box.local:8080"));
        assert_eq!(r.authorization, None);
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let r = complete(b"HEAD / HTTP/1.0\r\nauthorization: Bearer t\r\n\r\n");
        assert_eq!(r.method, Method::Head);
        assert_eq!(r.authorization, Some(&b"Bearer t"[..]));
    }

    #[test]
    fn a_head_in_pieces_is_incomplete_until_its_blank_line() {
        let raw = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for cut in 0..raw.len() {
            assert_eq!(parse(&raw[..cut]), Ok(Parsed::Incomplete), "cut at {cut}");
        }
        assert!(matches!(parse(raw), Ok(Parsed::Complete(_))));
    }

    #[test]
    fn other_methods_bodies_and_garbage_are_refused() {
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\n\r\n"),
            Err(RequestError::MethodNotAllowed)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n"),
            Err(RequestError::BodyNotAllowed)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(RequestError::BodyNotAllowed)
        );
        assert!(parse(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n").is_ok());
        assert!(matches!(
            parse(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
            Err(RequestError::Malformed(_))
        ));
    }

    #[test]
    fn more_headers_than_the_slots_is_an_error() {
        let mut raw = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            raw.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        assert_eq!(
            parse(&raw),
            Err(RequestError::Malformed(httparse::Error::TooManyHeaders))
        );
    }

    #[test]
    fn percent_decoding_is_bounded_and_strict() {
        let mut out = [0u8; 8];
        let n = percent_decode("a%2Fb+c", &mut out).unwrap();
        assert_eq!(&out[..n], b"a/b c");
        assert_eq!(percent_decode("123456789", &mut out), None, "too long");
        assert_eq!(percent_decode("%4", &mut out), None);
        assert_eq!(percent_decode("%zz", &mut out), None);
        assert_eq!(percent_decode("12345678", &mut out), Some(8));
    }
}
