//! One HTTP response, followed by closing the connection: a body in memory, or a file sent
//! from disk (`FileBody`).

use std::fmt::Write as _;

use super::file_body::FileBody;

/// The statuses the listener answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 200.
    Ok,
    /// 400: a request that is not HTTP/1.x as expected.
    BadRequest,
    /// 401: no or wrong token.
    Unauthorized,
    /// 404.
    NotFound,
    /// 405: a method other than GET or HEAD.
    MethodNotAllowed,
    /// 408: the request head took too long.
    RequestTimeout,
    /// 431: the request head is too large.
    HeadersTooLarge,
    /// 503: every download slot is busy.
    ServiceUnavailable,
}

impl Status {
    /// The status code.
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::RequestTimeout => 408,
            Status::HeadersTooLarge => 431,
            Status::ServiceUnavailable => 503,
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::Unauthorized => "Unauthorized",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::RequestTimeout => "Request Timeout",
            Status::HeadersTooLarge => "Request Header Fields Too Large",
            Status::ServiceUnavailable => "Service Unavailable",
        }
    }
}

/// What follows a response's head.
#[derive(Debug)]
pub enum Body {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// A file, sent from disk a chunk at a time.
    File(FileBody),
}

impl Body {
    /// Its length: the `Content-Length`.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File(file) => file.len(),
        }
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A response before it is encoded.
#[derive(Debug)]
pub struct Response {
    /// Its status.
    pub status: Status,
    /// Its media type.
    pub content_type: &'static str,
    /// Headers beyond the fixed set.
    pub headers: Vec<(&'static str, String)>,
    /// Its body.
    pub body: Body,
}

/// The page's policy: nothing from outside, inline styles only, no scripts, no framing.
const PAGE_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                           base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

impl Response {
    /// A plain-text response.
    pub fn text(status: Status, body: impl Into<String>) -> Response {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            headers: Vec::new(),
            body: Body::Bytes(body.into().into_bytes()),
        }
    }

    /// A response of `content_type` with `body`.
    pub fn with(content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status: Status::Ok,
            content_type,
            headers: Vec::new(),
            body: Body::Bytes(body.into()),
        }
    }

    /// A response of `content_type` whose body is `file`.
    pub fn file(content_type: &'static str, file: FileBody) -> Response {
        Response {
            status: Status::Ok,
            content_type,
            headers: Vec::new(),
            body: Body::File(file),
        }
    }

    /// Whether its body is a file.
    pub fn is_file(&self) -> bool {
        matches!(self.body, Body::File(_))
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// The bytes on the wire: status line, headers, and the body unless `head_only`; a file
    /// body comes back apart, to be sent after them (`None` for `head_only`).
    pub fn into_wire(self, head_only: bool) -> (Vec<u8>, Option<FileBody>) {
        let mut head = String::with_capacity(256);
        let _ = write!(
            head,
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
             Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
             Referrer-Policy: no-referrer\r\n",
            self.status.code(),
            self.status.reason(),
            self.content_type,
            self.body.len()
        );
        if self.content_type.starts_with("text/html") {
            let _ = write!(head, "Content-Security-Policy: {PAGE_POLICY}\r\n");
        }
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        match self.body {
            _ if head_only => (out, None),
            Body::Bytes(bytes) => {
                out.extend_from_slice(&bytes);
                (out, None)
            }
            Body::File(file) => (out, Some(file)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_says_its_length_and_closes() {
        let (bytes, file) = Response::text(Status::NotFound, "no such page\n").into_wire(false);
        assert!(file.is_none());
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text.contains("Content-Length: 13\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\nno such page\n"));
    }

    #[test]
    fn head_keeps_the_length_but_not_the_body_and_pages_get_a_policy() {
        let (bytes, _) = Response::with("text/html; charset=utf-8", "<p>hi</p>").into_wire(true);
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("Content-Length: 9\r\n"));
        assert!(text.contains("Content-Security-Policy: default-src 'none'"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn a_file_body_follows_its_head_with_its_length_and_head_drops_it() {
        let path = std::env::temp_dir().join(format!("rtmpsd-response-{}", std::process::id()));
        std::fs::write(&path, b"0123456789").unwrap();
        let body = || FileBody::new(std::fs::File::open(&path).unwrap(), 10, "f".into());
        let (head, file) = Response::file("video/x-flv", body()).into_wire(false);
        let head = String::from_utf8(head).unwrap();
        assert!(head.contains("Content-Type: video/x-flv\r\nContent-Length: 10\r\n"));
        assert!(head.ends_with("\r\n\r\n"));
        assert_eq!(file.map(|f| f.len()), Some(10));
        let (head, file) = Response::file("video/x-flv", body()).into_wire(true);
        assert!(
            String::from_utf8(head)
                .unwrap()
                .contains("Content-Length: 10\r\n")
        );
        assert!(file.is_none());
        std::fs::remove_file(&path).unwrap();
    }
}
