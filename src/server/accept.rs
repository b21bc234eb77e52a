//! The accept loop: one mio `Poll` over the listeners and the signal pipes; each accepted
//! connection goes to its own named, small-stack worker thread. Between connections the
//! loop also does the few things that must not race with each other: a reload on SIGHUP,
//! the certificate files' check, and systemd's readiness and watchdog notes.

use std::io::{self, Read};
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use log::{debug, error, info, warn};
use mio::net::{TcpListener, UnixStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::connection_slot::ConnectionSlot;
use super::hub::{Hub, HubLimits};
use super::listener::{Listeners, plain_peer};
use super::reload::Reloader;
use super::settings::Settings;
use super::shared::Shared;
use super::worker::{RECONNECT_WAIT, Worker};
use crate::sd_notify::{self, Notifier};

const TLS_LISTENER: Token = Token(0);
const RTMP_LISTENER: Token = Token(1);
const SIGNALS: Token = Token(2);
const STOP: Token = Token(3);
const HANGUP: Token = Token(4);
/// How long shutdown waits for sessions to say goodbye.
const DRAIN_TIME: Duration = Duration::from_millis(800);
/// How long it waits when clients were asked to reconnect (enhanced RTMP): they stream on to
/// their next keyframe first. Sessions that were not asked close at once, as before.
const RECONNECT_DRAIN_TIME: Duration = DRAIN_TIME.saturating_add(RECONNECT_WAIT);

/// A bound server, ready to run.
pub struct Server {
    poll: Poll,
    tls_listener: TcpListener,
    rtmp_listener: Option<TcpListener>,
    signals: Option<UnixStream>,
    hangup: Option<UnixStream>,
    reloader: Option<Reloader>,
    notifier: Option<Notifier>,
    stop_waker: Arc<Waker>,
    shared: Arc<Shared>,
}

/// Stops a running server from another thread.
#[derive(Clone)]
pub struct Stopper {
    shared: Arc<Shared>,
    waker: Arc<Waker>,
}

impl Stopper {
    /// Asks the server to stop; `run` returns soon after.
    pub fn stop(&self) {
        self.shared.begin_stopping();
        let _ = self.waker.wake();
    }
}

impl Server {
    /// Binds the listeners and builds the server; see [`Server::new`].
    pub fn bind(
        listen: SocketAddr,
        rtmp_listen: Option<SocketAddr>,
        settings: Settings,
    ) -> io::Result<Server> {
        Server::new(Listeners::bind(listen, rtmp_listen)?, settings)
    }

    /// A server on listeners bound beforehand; logs `listening rtmps on ADDR` (and
    /// `listening rtmp on ADDR`), which says it is ready.
    pub fn new(listeners: Listeners, settings: Settings) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut tls_listener = TcpListener::from_std(listeners.tls);
        poll.registry()
            .register(&mut tls_listener, TLS_LISTENER, Interest::READABLE)?;
        info!("listening rtmps on {}", tls_listener.local_addr()?);
        let rtmp_listener = match listeners.rtmp {
            Some(listener) => {
                let mut listener = TcpListener::from_std(listener);
                poll.registry()
                    .register(&mut listener, RTMP_LISTENER, Interest::READABLE)?;
                info!(
                    "listening rtmp on {} (plain, unencrypted)",
                    listener.local_addr()?
                );
                Some(listener)
            }
            None => None,
        };
        let stop_waker = Arc::new(Waker::new(poll.registry(), STOP)?);
        let hub = Hub::new(HubLimits {
            gop_cache_bytes: settings.limits.gop_cache_bytes,
            max_players: settings.limits.max_players_per_stream,
        });
        let shared = Arc::new(Shared::new(hub, settings));
        // Under systemd (Type=notify): told READY=1 when `run` starts accepting.
        let notifier = Notifier::from_env().unwrap_or_else(|e| {
            warn!("systemd notification off: {e}");
            None
        });
        Ok(Server {
            poll,
            tls_listener,
            rtmp_listener,
            signals: None,
            hangup: None,
            reloader: None,
            notifier,
            stop_waker,
            shared,
        })
    }

    /// Stops the server on SIGINT and SIGTERM.
    pub fn stop_on_signals(&mut self) -> io::Result<()> {
        let pipe = self.signal_pipe(
            &[signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM],
            SIGNALS,
        )?;
        self.signals = Some(pipe);
        Ok(())
    }

    /// Reloads with `reloader` on SIGHUP, and checks the certificate files every few seconds.
    pub fn reload_on_hangup(&mut self, reloader: Reloader) -> io::Result<()> {
        let pipe = self.signal_pipe(&[signal_hook::consts::SIGHUP], HANGUP)?;
        self.hangup = Some(pipe);
        self.reloader = Some(reloader);
        Ok(())
    }

    /// A pipe that `signals` write to, registered with the poll as `token`.
    fn signal_pipe(&mut self, signals: &[i32], token: Token) -> io::Result<UnixStream> {
        let (read_end, write_end) = std::os::unix::net::UnixStream::pair()?;
        read_end.set_nonblocking(true)?;
        write_end.set_nonblocking(true)?;
        let mut read_end = UnixStream::from_std(read_end);
        for signal in signals {
            signal_hook::low_level::pipe::register(*signal, write_end.try_clone()?)?;
        }
        self.poll
            .registry()
            .register(&mut read_end, token, Interest::READABLE)?;
        Ok(read_end)
    }

    /// The RTMPS listener's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tls_listener.local_addr()
    }

    /// The plain-RTMP listener's address, if there is one.
    pub fn rtmp_addr(&self) -> Option<SocketAddr> {
        self.rtmp_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// A handle that stops `run` from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            shared: self.shared.clone(),
            waker: self.stop_waker.clone(),
        }
    }

    /// The state every session shares: hub, settings and counters.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Accepts connections until stopped, then closes every session (within a second).
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        self.notify("READY=1\nSTATUS=accepting connections");
        let watchdog_every = self.notifier.as_ref().and_then(Notifier::watchdog_every);
        let mut next_watchdog = watchdog_every.map(|every| Instant::now() + every);
        while !self.shared.is_stopping() {
            let wake_at = [
                next_watchdog,
                self.reloader.as_ref().map(Reloader::next_check),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = wake_at.map(|at| at.saturating_duration_since(Instant::now()));
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut hangup = false;
            for event in events.iter() {
                match event.token() {
                    TLS_LISTENER => accept_all(&self.tls_listener, true, &self.shared),
                    RTMP_LISTENER => {
                        if let Some(listener) = &self.rtmp_listener {
                            accept_all(listener, false, &self.shared);
                        }
                    }
                    SIGNALS => {
                        drain(self.signals.as_mut());
                        info!("signal received: stopping");
                        self.shared.begin_stopping();
                    }
                    HANGUP => {
                        drain(self.hangup.as_mut());
                        hangup = true;
                    }
                    _ => {}
                }
            }
            if hangup && !self.shared.is_stopping() {
                self.reload();
            }
            let now = Instant::now();
            if let (Some(at), Some(every)) = (next_watchdog, watchdog_every) {
                if now >= at {
                    self.notify("WATCHDOG=1");
                    next_watchdog = Some(now + every);
                }
            }
            if let Some(reloader) = self.reloader.as_mut() {
                reloader.check_certificate(&self.shared, now);
            }
        }
        self.notify("STOPPING=1");
        info!("stopping: closing {} sessions", self.shared.connections());
        // Close the listeners first: a client asked to reconnect gets a refusal at once and
        // retries, instead of waiting in a backlog nobody will accept from.
        let Server {
            tls_listener,
            rtmp_listener,
            ..
        } = self;
        drop((tls_listener, rtmp_listener));
        self.shared.stop();
        let deadline = Instant::now() + RECONNECT_DRAIN_TIME;
        // Pushes close their upstreams too; each leaves the registry when its thread ends.
        while (self.shared.connections() > 0 || !self.shared.pushes.is_empty())
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(10));
        }
        let left = self.shared.connections();
        if left > 0 {
            warn!("stopped with {left} sessions still closing");
        } else {
            info!("stopped");
        }
        Ok(())
    }
}

impl Server {
    /// SIGHUP: reloads, telling systemd around it; logs one line either way.
    fn reload(&mut self) {
        if self.reloader.is_none() {
            return;
        }
        self.notify(&format!(
            "RELOADING=1\nMONOTONIC_USEC={}",
            sd_notify::monotonic_usec()
        ));
        let Some(reloader) = self.reloader.as_mut() else {
            return;
        };
        let status = match reloader.reload(&self.shared) {
            Ok(line) => {
                info!("{line}");
                "STATUS=reloaded".to_string()
            }
            Err(why) => {
                warn!("{why}");
                "STATUS=reload rejected (see the log); running settings kept".to_string()
            }
        };
        self.notify(&format!("READY=1\n{status}"));
    }

    /// Tells systemd `state`, when it runs the server as a notify service.
    fn notify(&self, state: &str) {
        if let Some(notifier) = &self.notifier {
            if let Err(e) = notifier.notify(state) {
                debug!("systemd notification {state:?} not sent: {e}");
            }
        }
    }
}

/// Empties a signal pipe (one byte per signal received).
fn drain(pipe: Option<&mut UnixStream>) {
    let mut buf = [0u8; 16];
    if let Some(pipe) = pipe {
        while matches!(pipe.read(&mut buf), Ok(n) if n > 0) {}
    }
}

fn accept_all(listener: &TcpListener, tls: bool, shared: &Arc<Shared>) {
    loop {
        let (socket, peer) = match listener.accept() {
            // An IPv4 peer of the dual-stack listener counts and logs as its IPv4 address.
            Ok((socket, peer)) => (socket, plain_peer(peer)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE and friends: log, and let the next readiness event try again.
                warn!("accept failed: {e}");
                return;
            }
        };
        let slot = match ConnectionSlot::take(shared, peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                warn!("{peer} refused: {why}");
                drop(socket);
                continue;
            }
        };
        let id = shared.next_id();
        let _ = socket.set_nodelay(true);
        info!(
            "{id} {peer} connected ({})",
            if tls { "rtmps" } else { "rtmp" }
        );
        let shared = shared.clone();
        let stack = shared.settings.load().limits.worker_stack;
        let spawned = spawn_contained(id, peer, stack, move || {
            match Worker::new(id, peer, socket, tls, shared, slot) {
                Ok(worker) => worker.run(),
                Err(e) => warn!("{id} {peer} closed: session setup failed: {e}"),
            }
        });
        if let Err(e) = spawned {
            warn!("{id} {peer} closed: no thread for it: {e}");
        }
    }
}

/// Runs `work` on a thread named `sess-{id}` with `stack` bytes of stack; a panic in it is
/// caught at the thread boundary and logged with the session's peer, and ends only it.
///
/// Whatever `work` owns (hub membership, the connection slot) is released by its `Drop`
/// while the panic unwinds, so the release profile must keep `panic = "unwind"`.
pub fn spawn_contained(
    id: u64,
    peer: SocketAddr,
    stack: usize,
    work: impl FnOnce() + Send + 'static,
) -> io::Result<thread::JoinHandle<()>> {
    thread::Builder::new()
        .name(format!("sess-{id}"))
        .stack_size(stack)
        .spawn(move || {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(work)) {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                error!("{id} {peer} closed: session panicked: {what}");
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};

    struct SetOnDrop(Arc<AtomicBool>);

    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn a_panicking_session_ends_alone_and_releases_what_it_held() {
        let released = Arc::new(AtomicBool::new(false));
        let held = SetOnDrop(released.clone());
        let peer = SocketAddr::from(([127, 0, 0, 1], 9));
        let handle = spawn_contained(7, peer, 128 * 1024, move || {
            let _held = held;
            panic!("deliberate");
        })
        .expect("spawn");
        // The thread itself ends normally: the panic did not escape it.
        assert!(handle.join().is_ok());
        assert!(released.load(Ordering::SeqCst));
    }

    #[test]
    fn session_threads_are_named_within_fifteen_bytes() {
        let peer = SocketAddr::from(([127, 0, 0, 1], 9));
        let seen = Arc::new(Mutex::new(String::new()));
        let out = seen.clone();
        let handle = spawn_contained(123_456_789, peer, 64 * 1024, move || {
            let name = thread::current()
                .name()
                .map(str::to_string)
                .unwrap_or_default();
            *out.lock().unwrap() = name;
        })
        .expect("spawn");
        handle.join().expect("thread");
        let name = seen.lock().unwrap().clone();
        assert_eq!(name, "sess-123456789");
        assert!(name.len() <= 15);
    }
}
