//! One HTTP connection: read a request head into a fixed buffer, answer once, close.
//!
//! Driven by the listener's poll loop and never blocking: reading stops at `WouldBlock`, a
//! full buffer or the request deadline; writing stops at `WouldBlock` or the response
//! deadline. Whatever goes wrong, the connection ends (`Phase::Done`) and its slot is freed.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::{debug, info};
use mio::net::TcpStream;

use super::rates::RateSampler;
use super::request::{Method, Parsed, RequestError, parse};
use super::response::Status;
use super::routes::Routes;

/// Where a connection stands.
enum Phase {
    /// Reading the request head, until `deadline`.
    Reading { deadline: Instant },
    /// Writing `bytes` from `sent` on, until `deadline`.
    Writing {
        bytes: Vec<u8>,
        sent: usize,
        deadline: Instant,
    },
    /// Finished or failed: the slot may be freed.
    Done,
}

/// One accepted connection.
pub struct Connection {
    socket: TcpStream,
    peer: SocketAddr,
    buffer: Box<[u8]>,
    len: usize,
    opened: Instant,
    /// Accept order: tells apart connections accepted in the same instant.
    sequence: u64,
    response_time: Duration,
    phase: Phase,
}

impl Connection {
    /// Connection number `sequence` (in accept order) from `peer`, that must send its request
    /// head within `request_time`, into `buffer_len` bytes, and take its response within
    /// `response_time`.
    pub fn new(
        socket: TcpStream,
        peer: SocketAddr,
        sequence: u64,
        buffer_len: usize,
        request_time: Duration,
        response_time: Duration,
        now: Instant,
    ) -> Connection {
        Connection {
            socket,
            peer,
            buffer: vec![0u8; buffer_len].into_boxed_slice(),
            len: 0,
            opened: now,
            sequence,
            response_time,
            phase: Phase::Reading {
                deadline: now + request_time,
            },
        }
    }

    /// The socket, for registering with the poll.
    pub fn socket(&mut self) -> &mut TcpStream {
        &mut self.socket
    }

    /// Its place in accept order.
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// Whether it is still reading its request (a candidate to make room for a new one).
    pub fn is_reading(&self) -> bool {
        matches!(self.phase, Phase::Reading { .. })
    }

    /// Whether it is finished.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// When it must have made progress.
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Reading { deadline } | Phase::Writing { deadline, .. } => Some(deadline),
            Phase::Done => None,
        }
    }

    /// Reads and writes what the socket allows; answers once the head is in.
    pub fn drive(&mut self, routes: &Routes, sampler: &RateSampler, now: Instant) {
        if let Phase::Reading { deadline } = self.phase {
            if now >= deadline {
                let limit_ms = deadline.saturating_duration_since(self.opened).as_millis() as u64;
                self.answer_error(routes, RequestError::Timeout { limit_ms }, now);
            } else {
                self.read(routes, sampler, now);
            }
        }
        if let Phase::Writing { deadline, .. } = self.phase {
            if now >= deadline {
                debug!("http {} closed: response not taken in time", self.peer);
                self.phase = Phase::Done;
            } else {
                self.write();
            }
        }
    }

    fn read(&mut self, routes: &Routes, sampler: &RateSampler, now: Instant) {
        loop {
            let Some(free) = self.buffer.get_mut(self.len..).filter(|f| !f.is_empty()) else {
                let limit = self.buffer.len();
                self.answer_error(routes, RequestError::TooLarge { limit }, now);
                return;
            };
            match self.socket.read(free) {
                Ok(0) => {
                    debug!("http {} closed before a whole request", self.peer);
                    self.phase = Phase::Done;
                    return;
                }
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    debug!("http {} read failed: {e}", self.peer);
                    self.phase = Phase::Done;
                    return;
                }
            }
            let head = self.buffer.get(..self.len).unwrap_or_default();
            let response = match parse(head) {
                Ok(Parsed::Incomplete) => continue,
                Ok(Parsed::Complete(request)) => {
                    let response = routes.respond(&request, sampler);
                    let line = format!(
                        "http {} {} {} {}",
                        self.peer,
                        request.method.as_str(),
                        request.path,
                        response.status.code()
                    );
                    if response.status == Status::Unauthorized {
                        info!("{line}: no valid token");
                    } else {
                        debug!("{line}");
                    }
                    response.encode(request.method == Method::Head)
                }
                Err(error) => {
                    info!("http {} bad request: {error}", self.peer);
                    routes.refuse(&error).encode(false)
                }
            };
            self.start_writing(response, now);
            return;
        }
    }

    fn answer_error(&mut self, routes: &Routes, error: RequestError, now: Instant) {
        info!("http {} bad request: {error}", self.peer);
        let bytes = routes.refuse(&error).encode(false);
        self.start_writing(bytes, now);
    }

    fn start_writing(&mut self, bytes: Vec<u8>, now: Instant) {
        self.phase = Phase::Writing {
            bytes,
            sent: 0,
            deadline: now + self.response_time,
        };
    }

    fn write(&mut self) {
        let Phase::Writing { bytes, sent, .. } = &mut self.phase else {
            return;
        };
        while let Some(rest) = bytes.get(*sent..).filter(|r| !r.is_empty()) {
            match self.socket.write(rest) {
                Ok(0) => break,
                Ok(n) => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    debug!("http {} write failed: {e}", self.peer);
                    break;
                }
            }
        }
        let _ = self.socket.shutdown(std::net::Shutdown::Write);
        self.phase = Phase::Done;
    }
}
