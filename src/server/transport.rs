//! The byte pipe under a session: rustls over the socket, or the socket itself.
//!
//! Every rustls call on a connection lives here, so a rustls upgrade touches one file; the
//! server's sessions and the pushes' upstream connections (client side) both use it. Both
//! forms offer the same calls: read plaintext into the caller's buffer, queue plaintext
//! up to a byte limit (a short count means "full, come back after `flush`"), and flush.

use std::io::{self, Read, Write};

use mio::net::TcpStream;
use rustls::Connection;

use crate::rtmp::handshake::RTMP_VERSION;

/// Whether a socket error means the peer went away (a reset, a write after it closed, or a
/// TLS peer that vanished without close_notify) rather than a failure on this side.
pub fn peer_went_away(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe | io::ErrorKind::UnexpectedEof
    )
}

/// What one `read` call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// `n` plaintext bytes were put in the buffer (0: nothing yet, try after the next readable event).
    Data(usize),
    /// The peer closed the connection (TCP FIN or TLS close_notify).
    Closed,
}

/// Why reading from the transport failed.
#[derive(Debug)]
pub enum TransportError {
    /// TLS failed (the alert, if any, was sent).
    Tls(rustls::Error),
    /// The first byte on the TLS port was the RTMP version byte: a plain RTMP client.
    PlainOnTlsPort,
    /// The socket failed (a reset; `UnexpectedEof` when a TLS peer vanished without close_notify).
    Io(io::Error),
}

impl From<io::Error> for TransportError {
    fn from(e: io::Error) -> Self {
        TransportError::Io(e)
    }
}

/// TLS or plain transport for one connection.
pub enum Transport {
    /// RTMPS.
    Tls {
        /// The rustls connection, server or client side.
        conn: Box<Connection>,
        /// The first byte read from the socket, to name a plain-RTMP client on this port.
        first_byte: Option<u8>,
    },
    /// Plain RTMP, with its own bounded send buffer.
    Plain {
        /// Bytes queued and not yet written.
        out: Vec<u8>,
        /// Most bytes `out` may hold.
        limit: usize,
    },
}

impl Transport {
    /// A TLS transport over `conn` (a `ServerConnection` or `ClientConnection`), holding at
    /// most `limit` bytes unsent.
    pub fn tls(conn: impl Into<Connection>, limit: usize) -> Transport {
        let mut conn = conn.into();
        conn.set_buffer_limit(Some(limit));
        Transport::Tls {
            conn: Box::new(conn),
            first_byte: None,
        }
    }

    /// A plain transport holding at most `limit` bytes unsent.
    pub fn plain(limit: usize) -> Transport {
        Transport::Plain {
            out: Vec::with_capacity(16 * 1024),
            limit,
        }
    }

    /// Whether the TLS handshake is still running (always false for plain RTMP).
    pub fn is_handshaking(&self) -> bool {
        match self {
            Transport::Tls { conn, .. } => conn.is_handshaking(),
            Transport::Plain { .. } => false,
        }
    }

    /// Reads from the socket and returns plaintext in `buf`.
    ///
    /// Returns `Data(0)` when the socket has nothing more for now.
    pub fn read(
        &mut self,
        socket: &mut TcpStream,
        buf: &mut [u8],
    ) -> Result<ReadOutcome, TransportError> {
        match self {
            Transport::Plain { .. } => match retry(|| socket.read(buf)) {
                Ok(0) if !buf.is_empty() => Ok(ReadOutcome::Closed),
                Ok(n) => Ok(ReadOutcome::Data(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::Data(0)),
                Err(e) => Err(e.into()),
            },
            Transport::Tls { conn, first_byte } => {
                // Plaintext rustls already holds comes first; then more from the socket.
                loop {
                    match conn.reader().read(buf) {
                        Ok(0) if !buf.is_empty() => return Ok(ReadOutcome::Closed),
                        Ok(n) => return Ok(ReadOutcome::Data(n)),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        // UnexpectedEof: the peer vanished without close_notify.
                        Err(e) => return Err(e.into()),
                    }
                    if !conn.wants_read() {
                        return Ok(ReadOutcome::Data(0));
                    }
                    let mut recording = FirstByte {
                        socket: &mut *socket,
                        first: first_byte,
                    };
                    match retry(|| conn.read_tls(&mut recording)) {
                        // TCP EOF: rustls notes it, and the read at the top of the loop
                        // tells a clean close (close_notify came first, `Ok(0)`) from a
                        // peer that vanished (`UnexpectedEof`).
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            return Ok(ReadOutcome::Data(0));
                        }
                        Err(e) => return Err(e.into()),
                    }
                    if let Err(e) = conn.process_new_packets() {
                        // Get the alert out before the caller closes.
                        let _ = conn.write_tls(socket);
                        // A plain RTMP client starts with the version byte 3, which is no
                        // TLS record type: say so rather than quote the TLS parse error.
                        if *first_byte == Some(RTMP_VERSION) {
                            return Err(TransportError::PlainOnTlsPort);
                        }
                        return Err(TransportError::Tls(e));
                    }
                }
            }
        }
    }

    /// Queues plaintext; returns how many bytes fitted under the limit.
    pub fn queue(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Tls { conn, .. } => conn.writer().write(bytes),
            Transport::Plain { out, limit } => {
                let n = bytes.len().min(limit.saturating_sub(out.len()));
                out.extend_from_slice(bytes.get(..n).unwrap_or_default());
                Ok(n)
            }
        }
    }

    /// Writes queued bytes to the socket until it would block; returns bytes still queued.
    pub fn flush(&mut self, socket: &mut TcpStream) -> io::Result<bool> {
        match self {
            Transport::Tls { conn, .. } => {
                while conn.wants_write() {
                    match retry(|| conn.write_tls(socket)) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                        Err(e) => return Err(e),
                    }
                }
                Ok(false)
            }
            Transport::Plain { out, .. } => {
                let mut written = 0;
                let result = loop {
                    let Some(rest) = out.get(written..).filter(|r| !r.is_empty()) else {
                        break Ok(false);
                    };
                    match retry(|| socket.write(rest)) {
                        Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                        Ok(n) => written += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break Ok(true),
                        Err(e) => break Err(e),
                    }
                };
                out.drain(..written);
                result
            }
        }
    }

    /// Queues a TLS close_notify (nothing for plain RTMP).
    pub fn close(&mut self) {
        if let Transport::Tls { conn, .. } = self {
            conn.send_close_notify();
        }
    }

    /// The negotiated TLS version and cipher suite, for the log.
    pub fn describe(&self) -> String {
        match self {
            Transport::Tls { conn, .. } => {
                match (conn.protocol_version(), conn.negotiated_cipher_suite()) {
                    (Some(v), Some(s)) => format!("{v:?} {:?}", s.suite()),
                    _ => "tls".to_string(),
                }
            }
            Transport::Plain { .. } => "plain".to_string(),
        }
    }
}

/// Runs an I/O call again while it is interrupted by a signal.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A reader over the socket that remembers the first byte ever read through it.
struct FirstByte<'a> {
    socket: &'a mut TcpStream,
    first: &'a mut Option<u8>,
}

impl Read for FirstByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.socket.read(buf)?;
        if self.first.is_none() {
            *self.first = buf.get(..n).and_then(|read| read.first().copied());
        }
        Ok(n)
    }
}
