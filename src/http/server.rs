//! The listener's thread: one mio poll over the listening socket and a fixed table of
//! connections, plus the once-a-second rate sampling.
//!
//! A new connection when every slot is taken replaces the oldest one still sending its
//! request (a slow or idle client cannot hold the page hostage); when all are busy writing,
//! the new one is closed at once.

use std::io;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};

use super::connection::Connection;
use super::rates::RateSampler;
use super::routes::Routes;
use crate::server::shared::Shared;

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
/// Connection slot `i` has token `FIRST_CONNECTION + i`.
const FIRST_CONNECTION: usize = 2;
/// Stack of the listener's thread.
const STACK: usize = 256 * 1024;

/// The listener's bounds.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Bytes of one request head.
    pub request_bytes: usize,
    /// Time to send the request head, from accept.
    pub request_time: Duration,
    /// Time to take the response.
    pub response_time: Duration,
    /// Time between rate samples.
    pub sample_every: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 8,
            request_bytes: 8 * 1024,
            request_time: Duration::from_secs(5),
            response_time: Duration::from_secs(10),
            sample_every: Duration::from_secs(1),
        }
    }
}

/// A running HTTP listener; `stop` ends it (it also ends when the server stops).
pub struct HttpServer {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

/// What the thread owns.
struct Listener {
    poll: Poll,
    listener: TcpListener,
    slots: Vec<Option<Connection>>,
    accepted: u64,
    routes: Routes,
    sampler: RateSampler,
    shared: Arc<Shared>,
    limits: HttpLimits,
    stopping: Arc<AtomicBool>,
}

impl HttpServer {
    /// Binds `addr` and serves `routes` on a thread named `http`; logs `listening http on ADDR`.
    pub fn start(
        addr: SocketAddr,
        routes: Routes,
        shared: Arc<Shared>,
        limits: HttpLimits,
    ) -> io::Result<HttpServer> {
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let addr = listener.local_addr()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let stopping = Arc::new(AtomicBool::new(false));
        let mut state = Listener {
            poll,
            listener,
            slots: (0..limits.max_connections).map(|_| None).collect(),
            accepted: 0,
            routes,
            sampler: RateSampler::default(),
            shared,
            limits,
            stopping: stopping.clone(),
        };
        info!("listening http on {addr}");
        let thread = thread::Builder::new()
            .name("http".into())
            .stack_size(STACK)
            .spawn(move || {
                // A bug here must not pass silently: the streams go on, the log says why
                // the page is gone.
                match catch_unwind(AssertUnwindSafe(|| state.run())) {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => error!("http listener stopped: {e}"),
                    Err(_) => error!("http listener stopped: it panicked"),
                }
            })?;
        Ok(HttpServer {
            addr,
            stopping,
            waker,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the listener and waits for its thread.
    pub fn stop(mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Listener {
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(32);
        let mut next_sample = Instant::now();
        while !self.stopping.load(Ordering::SeqCst) && !self.shared.is_stopping() {
            let now = Instant::now();
            if now >= next_sample {
                self.sampler.sample(&self.shared.hub.streams(), now);
                next_sample = now + self.limits.sample_every;
            }
            let wake_at = self
                .slots
                .iter()
                .flatten()
                .filter_map(Connection::deadline)
                .fold(next_sample, Instant::min);
            let timeout = wake_at.saturating_duration_since(now);
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Instant::now();
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept_all(now),
                    WAKER => {}
                    Token(t) => self.drive(t.wrapping_sub(FIRST_CONNECTION), now),
                }
            }
            // Deadlines pass without any event.
            for slot in 0..self.slots.len() {
                if self.slots[slot]
                    .as_ref()
                    .and_then(Connection::deadline)
                    .is_some_and(|d| now >= d)
                {
                    self.drive(slot, now);
                }
            }
        }
        debug!("http listener stopping");
        Ok(())
    }

    fn accept_all(&mut self, now: Instant) {
        loop {
            let (socket, peer) = match self.listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("http accept failed: {e}");
                    return;
                }
            };
            let Some(slot) = self.free_slot(peer) else {
                debug!("http {peer} refused: every connection is busy answering");
                continue;
            };
            self.accepted += 1;
            let limits = &self.limits;
            let mut connection = Connection::new(
                socket,
                peer,
                self.accepted,
                limits.request_bytes,
                limits.request_time,
                limits.response_time,
                now,
            );
            let token = Token(FIRST_CONNECTION + slot);
            if let Err(e) = self.poll.registry().register(
                connection.socket(),
                token,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                warn!("http {peer} refused: {e}");
                continue;
            }
            self.slots[slot] = Some(connection);
            self.drive(slot, now);
        }
    }

    /// A free slot, or the one of the oldest connection still reading, closed for `peer`.
    fn free_slot(&mut self, peer: SocketAddr) -> Option<usize> {
        if let Some(free) = self.slots.iter().position(Option::is_none) {
            return Some(free);
        }
        let oldest = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.as_ref()
                    .filter(|c| c.is_reading())
                    .map(|c| (i, c.sequence()))
            })
            .min_by_key(|(_, sequence)| *sequence)
            .map(|(i, _)| i)?;
        debug!("http: every slot taken; the oldest unfinished request makes room for {peer}");
        self.close(oldest);
        Some(oldest)
    }

    fn drive(&mut self, slot: usize, now: Instant) {
        let Some(Some(connection)) = self.slots.get_mut(slot) else {
            return;
        };
        connection.drive(&self.routes, &self.sampler, now);
        if connection.is_done() {
            self.close(slot);
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut connection) = self.slots.get_mut(slot).and_then(Option::take) {
            let _ = self.poll.registry().deregister(connection.socket());
        }
    }
}
