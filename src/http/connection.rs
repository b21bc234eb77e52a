//! One HTTP connection: read a request head into a fixed buffer, answer once, close.
//!
//! Driven by the listener's poll loop and never blocking on the socket: reading stops at
//! `WouldBlock`, a full buffer or the request deadline; writing stops at `WouldBlock`, the end
//! of a turn (a file body sends `file_body::TURN_BYTES` per turn) or the response deadline.
//! Whatever goes wrong, the connection ends (`Phase::Done`) and its slot is freed.
//!
//! Deadlines. A response in memory (a page, the metrics) must be taken within
//! `response_time`. A file (a recording, hundreds of MiB) cannot be held to that: it must
//! make progress, the client taking some bytes at least every `download_stall_time`, and it
//! must average `download_min_rate`, so it ends at the latest `response_time` plus its length
//! at that rate after it started. A stalled or crawling download thus frees its slot, while
//! a phone on a fair Wi-Fi link gets a whole segment.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use log::{debug, info};
use mio::net::TcpStream;

use super::file_body::{FileBody, Progress};
use super::rates::RateSampler;
use super::request::{Method, Parsed, RequestError, parse};
use super::response::{Response, Status};
use super::routes::Routes;
use super::server::HttpLimits;

/// A file being sent after the head, and the time limits on it.
struct Download {
    body: FileBody,
    started: Instant,
    /// The latest it may end: `response_time` plus its length at `download_min_rate`.
    give_up: Instant,
}

/// Where a connection stands.
enum Phase {
    /// Reading the request head, until `deadline`.
    Reading { deadline: Instant },
    /// Writing `bytes` from `sent` on, then `download` if any, until `deadline`.
    Writing {
        bytes: Vec<u8>,
        sent: usize,
        download: Option<Download>,
        deadline: Instant,
        /// A turn ended with more to send: come back without waiting for an event.
        more_ready: bool,
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
    limits: HttpLimits,
    phase: Phase,
}

impl Connection {
    /// Connection number `sequence` (in accept order) from `peer`, held to `limits`: its
    /// request head within `request_time` into `request_bytes`, its response taken as the
    /// module doc says.
    pub fn new(
        socket: TcpStream,
        peer: SocketAddr,
        sequence: u64,
        limits: &HttpLimits,
        now: Instant,
    ) -> Connection {
        Connection {
            socket,
            peer,
            buffer: vec![0u8; limits.request_bytes].into_boxed_slice(),
            len: 0,
            opened: now,
            sequence,
            limits: *limits,
            phase: Phase::Reading {
                deadline: now + limits.request_time,
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

    /// Whether it is sending a file (counted against `max_downloads`).
    pub fn is_downloading(&self) -> bool {
        matches!(
            self.phase,
            Phase::Writing {
                download: Some(_),
                ..
            }
        )
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

    /// Whether it has more to send now, without waiting for the socket to say so.
    pub fn has_more_ready(&self) -> bool {
        matches!(
            self.phase,
            Phase::Writing {
                more_ready: true,
                ..
            }
        )
    }

    /// Reads and writes what the socket allows; answers once the head is in. A file answer
    /// is refused with 503 unless `may_download`.
    pub fn drive(
        &mut self,
        routes: &Routes,
        sampler: &RateSampler,
        may_download: bool,
        now: Instant,
    ) {
        if let Phase::Reading { deadline } = self.phase {
            if now >= deadline {
                let limit_ms = deadline.saturating_duration_since(self.opened).as_millis() as u64;
                self.answer_error(routes, RequestError::Timeout { limit_ms }, now);
            } else {
                self.read(routes, sampler, may_download, now);
            }
        }
        self.send(now);
    }

    /// Writes what the socket takes of the response, or ends the connection if its deadline
    /// passed; `now` times the progress.
    pub fn send(&mut self, now: Instant) {
        if let Phase::Writing { deadline, .. } = self.phase {
            if now >= deadline {
                self.overdue(now);
            } else {
                self.write(now);
            }
        }
    }

    fn read(&mut self, routes: &Routes, sampler: &RateSampler, may_download: bool, now: Instant) {
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
            let (response, head_only) = match parse(head) {
                Ok(Parsed::Incomplete) => continue,
                Ok(Parsed::Complete(request)) => {
                    let head_only = request.method == Method::Head;
                    let mut response = routes.respond(&request, sampler);
                    if response.is_file() && !head_only && !may_download {
                        response = busy(self.limits.max_downloads);
                    }
                    let line = format!(
                        "http {} {} {} {}",
                        self.peer,
                        request.method.as_str(),
                        request.path,
                        response.status.code()
                    );
                    match response.status {
                        Status::Unauthorized => info!("{line}: no valid token"),
                        Status::ServiceUnavailable => info!("{line}: every download slot busy"),
                        _ => debug!("{line}"),
                    }
                    (response, head_only)
                }
                Err(error) => {
                    info!("http {} bad request: {error}", self.peer);
                    (routes.refuse(&error), false)
                }
            };
            self.start_writing(response, head_only, now);
            return;
        }
    }

    fn answer_error(&mut self, routes: &Routes, error: RequestError, now: Instant) {
        info!("http {} bad request: {error}", self.peer);
        self.start_writing(routes.refuse(&error), false, now);
    }

    /// Answers with `response` (its head only if `head_only`).
    pub fn start_writing(&mut self, response: Response, head_only: bool, now: Instant) {
        let (bytes, file) = response.into_wire(head_only);
        let download = file.map(|body| {
            let allowed = body.len() / self.limits.download_min_rate.max(1);
            Download {
                body,
                started: now,
                give_up: now + self.limits.response_time + Duration::from_secs(allowed),
            }
        });
        let deadline = match &download {
            Some(d) => d.give_up.min(now + self.limits.download_stall_time),
            None => now + self.limits.response_time,
        };
        self.phase = Phase::Writing {
            bytes,
            sent: 0,
            download,
            deadline,
            more_ready: false,
        };
    }

    /// The deadline passed while writing: the connection ends, saying why for a download.
    fn overdue(&mut self, now: Instant) {
        let Phase::Writing { download, .. } = &self.phase else {
            return;
        };
        match download {
            None => debug!("http {} closed: response not taken in time", self.peer),
            Some(d) => {
                let why = if now >= d.give_up {
                    format!(
                        "slower than {} KiB/s on average",
                        self.limits.download_min_rate / 1024
                    )
                } else {
                    format!(
                        "no byte taken for {} s",
                        self.limits.download_stall_time.as_secs()
                    )
                };
                info!(
                    "http {} download of {} cut after {} of {} bytes: {why}",
                    self.peer,
                    d.body.name(),
                    d.body.sent(),
                    d.body.len()
                );
            }
        }
        self.phase = Phase::Done;
    }

    /// Writes what the socket takes, within one turn.
    fn write(&mut self, now: Instant) {
        let Phase::Writing {
            bytes,
            sent,
            download,
            deadline,
            more_ready,
        } = &mut self.phase
        else {
            return;
        };
        *more_ready = false;
        while let Some(rest) = bytes.get(*sent..).filter(|r| !r.is_empty()) {
            match self.socket.write(rest) {
                Ok(0) => return self.finish(None),
                Ok(n) => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.finish(Some(e)),
            }
        }
        let Some(d) = download else {
            return self.finish(None);
        };
        let before = d.body.sent();
        let progress = d.body.send(&mut self.socket);
        if d.body.sent() > before {
            *deadline = d.give_up.min(now + self.limits.download_stall_time);
        }
        match progress {
            Ok(Progress::Blocked) => {}
            Ok(Progress::TurnOver) => *more_ready = true,
            Ok(Progress::Finished) => {
                info!(
                    "http {} sent {}: {} bytes in {:.1} s",
                    self.peer,
                    d.body.name(),
                    d.body.len(),
                    now.saturating_duration_since(d.started).as_secs_f64()
                );
                self.finish(None);
            }
            Err(e) => {
                info!(
                    "http {} download of {} failed after {} of {} bytes: {e}",
                    self.peer,
                    d.body.name(),
                    d.body.sent(),
                    d.body.len()
                );
                self.finish(None);
            }
        }
    }

    /// Ends the connection after its response (or a failed write, `error`).
    fn finish(&mut self, error: Option<io::Error>) {
        if let Some(e) = error {
            debug!("http {} write failed: {e}", self.peer);
        }
        let _ = self.socket.shutdown(std::net::Shutdown::Write);
        self.phase = Phase::Done;
    }
}

/// The answer to a download when `max_downloads` are running.
fn busy(max_downloads: usize) -> Response {
    Response::text(
        Status::ServiceUnavailable,
        format!("{max_downloads} downloads are running, the most at once; try again shortly\n"),
    )
    .header("Retry-After", "10")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::unix::io::AsRawFd;
    use std::path::PathBuf;
    use std::thread;

    /// A file of `len` bytes in a fresh temporary folder, removed on drop.
    struct TestFile {
        dir: PathBuf,
        path: PathBuf,
        bytes: Vec<u8>,
    }

    impl TestFile {
        fn new(tag: &str, len: usize) -> TestFile {
            let dir = std::env::temp_dir()
                .join(format!("rtmpsd-connection-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let bytes: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            let path = dir.join("segment.flv");
            std::fs::write(&path, &bytes).unwrap();
            TestFile { dir, path, bytes }
        }

        fn response(&self) -> Response {
            let file = std::fs::File::open(&self.path).unwrap();
            let body = FileBody::new(file, self.bytes.len() as u64, "segment.flv".into());
            Response::file("video/x-flv", body)
        }
    }

    impl Drop for TestFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// Caps a socket's kernel buffer (`option`: SO_SNDBUF or SO_RCVBUF), so a few MiB fill
    /// it instead of the megabytes loopback grows to.
    fn cap_buffer(fd: i32, option: i32) {
        let size: libc::c_int = 32 * 1024;
        // SAFETY: setsockopt reads `size` for the length given; `fd` is an open socket.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "setsockopt");
    }

    /// A connection already answering with `response`, and the client's end of it.
    fn answering(response: Response, limits: &HttpLimits) -> (Connection, std::net::TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        cap_buffer(client.as_raw_fd(), libc::SO_RCVBUF);
        let (server, peer) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        cap_buffer(server.as_raw_fd(), libc::SO_SNDBUF);
        let now = Instant::now();
        let mut connection = Connection::new(TcpStream::from_std(server), peer, 1, limits, now);
        connection.start_writing(response, false, now);
        (connection, client)
    }

    /// Sends as the listener would (every 2 ms, or at once after a turn) until it is done.
    fn serve(mut connection: Connection, limit: Duration) -> Duration {
        let started = Instant::now();
        while !connection.is_done() {
            assert!(started.elapsed() < limit, "still sending after {limit:?}");
            if !connection.has_more_ready() {
                thread::sleep(Duration::from_millis(2));
            }
            connection.send(Instant::now());
        }
        started.elapsed()
    }

    /// Reads `chunk` bytes every `pause` until the server closes; returns the body.
    fn read_slowly(
        mut client: std::net::TcpStream,
        chunk: usize,
        pause: Duration,
    ) -> thread::JoinHandle<Vec<u8>> {
        thread::spawn(move || {
            client
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let mut got = Vec::new();
            let mut buf = vec![0u8; chunk];
            loop {
                match client.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
                thread::sleep(pause);
            }
            let text_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            got.split_off(text_end)
        })
    }

    fn limits() -> HttpLimits {
        HttpLimits {
            response_time: Duration::from_millis(300),
            download_stall_time: Duration::from_millis(700),
            download_min_rate: 1,
            ..HttpLimits::default()
        }
    }

    #[test]
    fn a_download_that_keeps_moving_outlasts_the_response_deadline() {
        let file = TestFile::new("slow", 2 << 20);
        let (connection, client) = answering(file.response(), &limits());
        // 32 KiB every 20 ms: about 1.5 s for 2 MiB, five times the response deadline.
        let reader = read_slowly(client, 32 * 1024, Duration::from_millis(20));
        let took = serve(connection, Duration::from_secs(30));
        let body = reader.join().unwrap();
        assert!(
            body == file.bytes,
            "{} of {} bytes",
            body.len(),
            file.bytes.len()
        );
        assert!(took > Duration::from_millis(900), "took only {took:?}");
    }

    #[test]
    fn a_download_the_client_stops_taking_is_cut_after_the_stall_time() {
        let file = TestFile::new("stalled", 8 << 20);
        let (connection, client) = answering(file.response(), &limits());
        let took = serve(connection, Duration::from_secs(10));
        assert!(
            (Duration::from_millis(650)..Duration::from_secs(3)).contains(&took),
            "cut after {took:?}"
        );
        // What the buffers held arrives, and then the end: far from the whole file.
        let body = read_slowly(client, 64 * 1024, Duration::ZERO)
            .join()
            .unwrap();
        assert!(body.len() < file.bytes.len() / 2, "{} bytes", body.len());
    }

    #[test]
    fn a_download_slower_than_the_minimum_rate_is_cut_when_its_time_is_up() {
        let file = TestFile::new("crawl", 2 << 20);
        // 2 MiB at 2 MiB/s: 1 s + 0.3 s allowed; the client takes 16 KiB every 20 ms.
        let limits = HttpLimits {
            download_min_rate: 2 << 20,
            ..limits()
        };
        let (connection, client) = answering(file.response(), &limits);
        let reader = read_slowly(client, 16 * 1024, Duration::from_millis(20));
        let took = serve(connection, Duration::from_secs(10));
        assert!(
            (Duration::from_millis(1250)..Duration::from_secs(3)).contains(&took),
            "cut after {took:?}"
        );
        let body = reader.join().unwrap();
        assert!(body.len() < file.bytes.len(), "{} bytes", body.len());
        assert_eq!(body[..], file.bytes[..body.len()]);
    }

    #[test]
    fn a_response_in_memory_keeps_the_response_deadline() {
        let (mut connection, _client) = answering(
            Response::with("text/plain", vec![b'x'; 16 << 20]),
            &limits(),
        );
        let took = serve(
            {
                connection.send(Instant::now());
                connection
            },
            Duration::from_secs(5),
        );
        assert!(took < Duration::from_millis(1000), "cut after {took:?}");
    }
}
