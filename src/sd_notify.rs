//! systemd's notify protocol (`Type=notify`): a few datagrams to `$NOTIFY_SOCKET`.
//!
//! READY=1 once the listeners take connections, WATCHDOG=1 from the accept loop while it
//! runs, RELOADING=1 then READY=1 around a reload, STOPPING=1 on the way out. The protocol
//! is one `KEY=VALUE` text per datagram to a Unix socket named by a path or, with a leading
//! `@`, an abstract name; std's `UnixDatagram` does it in a few lines, so no crate.
//! Without `$NOTIFY_SOCKET` (not under systemd) nothing is sent.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// A connection to systemd's notify socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    to: SocketAddr,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// The notifier systemd's environment describes, if it runs this process as a
    /// `Type=notify` service; an unusable `$NOTIFY_SOCKET` is an error naming it.
    pub fn from_env() -> io::Result<Option<Notifier>> {
        let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
            return Ok(None);
        };
        let socket = socket.to_string_lossy();
        let usec = std::env::var("WATCHDOG_USEC").ok();
        let pid = std::env::var("WATCHDOG_PID").ok();
        Notifier::new(&socket, usec.as_deref(), pid.as_deref(), std::process::id()).map(Some)
    }

    /// A notifier for socket `name` (`/path` or `@abstract`). The watchdog is on when
    /// `watchdog_usec` is a positive number and `watchdog_pid`, if given, is `own_pid`.
    pub fn new(
        name: &str,
        watchdog_usec: Option<&str>,
        watchdog_pid: Option<&str>,
        own_pid: u32,
    ) -> io::Result<Notifier> {
        let to = if let Some(abstract_name) = name.strip_prefix('@') {
            SocketAddr::from_abstract_name(abstract_name.as_bytes())?
        } else if name.starts_with('/') {
            SocketAddr::from_pathname(name)?
        } else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("NOTIFY_SOCKET {name:?} is neither a path nor an @abstract name"),
            ));
        };
        let for_us = watchdog_pid.is_none_or(|pid| pid.trim() == own_pid.to_string());
        let watchdog = watchdog_usec
            .and_then(|usec| usec.trim().parse::<u64>().ok())
            .filter(|usec| *usec > 0 && for_us)
            .map(Duration::from_micros);
        Ok(Notifier {
            socket: UnixDatagram::unbound()?,
            to,
            watchdog,
        })
    }

    /// Sends `state` (`READY=1`, `STATUS=...`; several separated by newlines).
    pub fn notify(&self, state: &str) -> io::Result<()> {
        self.socket
            .send_to_addr(state.as_bytes(), &self.to)
            .map(|_| ())
    }

    /// How often to send `WATCHDOG=1`: half the watchdog time, if systemd set one.
    pub fn watchdog_every(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }
}

/// `MONOTONIC_USEC=` of now, for `RELOADING=1` (systemd's `Type=notify-reload` wants it).
pub fn monotonic_usec() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into the timespec we pass.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } == 0;
    if !ok {
        return 0;
    }
    (now.tv_sec as u64) * 1_000_000 + (now.tv_nsec as u64) / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 256];
        let n = socket.recv(&mut buf).expect("a datagram");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn sends_to_a_socket_path() {
        let path = std::env::temp_dir().join(format!("rtmpsd-notify-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let systemd = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::new(path.to_str().unwrap(), None, None, 1).unwrap();
        notifier.notify("READY=1\nSTATUS=up").unwrap();
        assert_eq!(receive(&systemd), "READY=1\nSTATUS=up");
        assert_eq!(notifier.watchdog_every(), None);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn sends_to_an_abstract_name() {
        let name = format!("rtmpsd-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let systemd = UnixDatagram::bind_addr(&addr).unwrap();
        let notifier = Notifier::new(&format!("@{name}"), None, None, 1).unwrap();
        notifier.notify("WATCHDOG=1").unwrap();
        assert_eq!(receive(&systemd), "WATCHDOG=1");
    }

    #[test]
    fn the_watchdog_runs_at_half_its_time_and_only_for_its_pid() {
        let every = |usec, pid| Notifier::new("@x", usec, pid, 42).unwrap().watchdog_every();
        assert_eq!(every(Some("30000000"), None), Some(Duration::from_secs(15)));
        assert_eq!(
            every(Some("30000000"), Some("42")),
            Some(Duration::from_secs(15))
        );
        assert_eq!(every(Some("30000000"), Some("43")), None);
        assert_eq!(every(Some("0"), None), None);
        assert_eq!(every(Some("soon"), None), None);
        assert_eq!(every(None, None), None);
    }

    #[test]
    fn other_socket_names_are_refused() {
        assert!(Notifier::new("vsock:2:1234", None, None, 1).is_err());
        assert!(Notifier::new("", None, None, 1).is_err());
    }

    #[test]
    fn the_monotonic_clock_moves_forward() {
        let a = monotonic_usec();
        std::thread::sleep(Duration::from_millis(2));
        assert!(monotonic_usec() > a);
    }
}
