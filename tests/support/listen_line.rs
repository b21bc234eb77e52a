//! The line a starting rtmpsd logs for each listener, `listening rtmps on ADDR` (and
//! `listening rtmp on ADDR (plain, unencrypted)`): how a test or benchmark that started it on
//! port 0 learns the port.
//!
//! Included as a module by `tests/support` and `benches/common` (`#[path = ...]`).

use std::net::SocketAddr;

/// Log marker of the TLS listener; the socket address follows it.
pub const RTMPS_LISTEN_MARKER: &str = "listening rtmps on ";
/// Log marker of the plain listener; the socket address follows it.
pub const RTMP_LISTEN_MARKER: &str = "listening rtmp on ";

/// The socket address that follows `marker` in `line`, without trailing punctuation
/// (`127.0.0.1:1935,` or `[::1]:443.`); `None` if the marker or a valid address is missing.
pub fn addr_after(line: &str, marker: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(marker)? + marker.len()..];
    let token = rest.split_whitespace().next()?;
    token
        .trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != ']')
        .parse()
        .ok()
}
