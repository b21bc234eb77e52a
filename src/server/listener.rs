//! The listening sockets: bound first, before anything is made on disk, and dual-stack on
//! `[::]` (IPV6_V6ONLY off, set explicitly rather than left to the host's sysctl).
//!
//! An IPv4 peer of a dual-stack listener arrives as `::ffff:a.b.c.d`; [`plain_peer`] turns it
//! back into `a.b.c.d`, so logs and the per-address connection cap see one address per host.

use std::io;
use std::mem;
use std::net::{Ipv6Addr, SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use log::warn;

/// Pending connections the kernel queues per listener (mio's and std's choice too).
const BACKLOG: libc::c_int = 1024;

/// The server's bound listeners, ready to hand to the accept loop.
#[derive(Debug)]
pub struct Listeners {
    /// The RTMPS listener.
    pub tls: TcpListener,
    /// The plain-RTMP listener, if the operator asked for one.
    pub rtmp: Option<TcpListener>,
}

impl Listeners {
    /// Binds `listen` and `rtmp_listen` with [`bind`]; fails if either cannot be bound.
    pub fn bind(listen: SocketAddr, rtmp_listen: Option<SocketAddr>) -> io::Result<Listeners> {
        let tls = bind(listen).map_err(|e| in_context(e, listen))?;
        let rtmp = match rtmp_listen {
            Some(addr) => Some(bind(addr).map_err(|e| in_context(e, addr))?),
            None => None,
        };
        Ok(Listeners { tls, rtmp })
    }
}

/// `error` with the address it was about, and a hint when the port is taken.
fn in_context(error: io::Error, addr: SocketAddr) -> io::Error {
    let hint = if error.kind() == io::ErrorKind::AddrInUse {
        " (is another rtmpsd running? choose another port with --listen / --rtmp-listen)"
    } else {
        ""
    };
    io::Error::new(
        error.kind(),
        format!("cannot listen on {addr}: {error}{hint}"),
    )
}

/// A non-blocking listener on `addr`. An IPv6 address is bound with IPV6_V6ONLY off, so
/// `[::]:PORT` takes IPv4 peers too; on a host without IPv6, `[::]:PORT` becomes
/// `0.0.0.0:PORT`, with a log line saying so.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    match bind_exactly(addr) {
        Err(e) => match ipv4_fallback(addr, &e) {
            Some(v4) => {
                warn!("no IPv6 on this host ({e}): listening on {v4} instead of {addr}");
                bind_exactly(v4)
            }
            None => Err(e),
        },
        bound => bound,
    }
}

/// Where to listen instead of `addr` after binding it failed with `error`: `0.0.0.0` with
/// the same port when `addr` is `[::]` and the error says the host has no IPv6.
pub fn ipv4_fallback(addr: SocketAddr, error: &io::Error) -> Option<SocketAddr> {
    let no_ipv6 = matches!(
        error.raw_os_error(),
        Some(libc::EAFNOSUPPORT | libc::EPROTONOSUPPORT | libc::EADDRNOTAVAIL)
    );
    let any_v6 = addr.ip() == Ipv6Addr::UNSPECIFIED;
    (no_ipv6 && any_v6).then(|| SocketAddr::from(([0, 0, 0, 0], addr.port())))
}

/// `peer` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) turned into plain IPv4.
pub fn plain_peer(peer: SocketAddr) -> SocketAddr {
    SocketAddr::new(peer.ip().to_canonical(), peer.port())
}

/// Returns `Ok(value)` for a libc return value that is not -1, else the OS error.
fn check(value: libc::c_int) -> io::Result<libc::c_int> {
    if value == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(value)
    }
}

/// Sets an integer socket option.
fn set_int_option(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` lives across the call and its size is passed with it; `fd` is open.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// socket, SO_REUSEADDR (as std and mio set it), IPV6_V6ONLY off for IPv6, bind, listen.
fn bind_exactly(addr: SocketAddr) -> io::Result<TcpListener> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket(2) call; the descriptor is owned by `fd` at once.
    let raw = check(unsafe { libc::socket(domain, libc::SOCK_STREAM, 0) })?;
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: fcntl on our open descriptor; no child process is started meanwhile.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    set_int_option(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if addr.is_ipv6() {
        set_int_option(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 0)?;
    }
    match addr {
        SocketAddr::V4(v4) => {
            // SAFETY: all-zero is a valid sockaddr_in; the fields that matter are set next.
            let mut sin: libc::sockaddr_in = unsafe { mem::zeroed() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr.s_addr = u32::from(*v4.ip()).to_be();
            // SAFETY: `sin` is a sockaddr_in of the size passed, alive across the call.
            check(unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&sin as *const libc::sockaddr_in).cast(),
                    mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            })?;
        }
        SocketAddr::V6(v6) => {
            // SAFETY: all-zero is a valid sockaddr_in6; the fields that matter are set next.
            let mut sin6: libc::sockaddr_in6 = unsafe { mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr.s6_addr = v6.ip().octets();
            sin6.sin6_flowinfo = v6.flowinfo();
            sin6.sin6_scope_id = v6.scope_id();
            // SAFETY: `sin6` is a sockaddr_in6 of the size passed, alive across the call.
            check(unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&sin6 as *const libc::sockaddr_in6).cast(),
                    mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            })?;
        }
    }
    // SAFETY: listen(2) on our bound socket.
    check(unsafe { libc::listen(fd.as_raw_fd(), BACKLOG) })?;
    let listener = TcpListener::from(fd);
    listener.set_nonblocking(true)?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{IpAddr, Ipv4Addr, TcpStream};
    use std::time::Duration;

    /// Accepts one connection (the listener is non-blocking), within two seconds.
    fn accept_one(listener: &TcpListener) -> (TcpStream, SocketAddr) {
        for _ in 0..200 {
            match listener.accept() {
                Ok(pair) => return pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        panic!("no connection within 2 s");
    }

    #[test]
    fn any_ipv6_listener_takes_ipv4_and_ipv6_peers() {
        let listener = bind("[::]:0".parse().unwrap()).expect("bind [::]:0");
        let port = listener.local_addr().unwrap().port();
        for client in [
            IpAddr::from(Ipv4Addr::LOCALHOST),
            Ipv6Addr::LOCALHOST.into(),
        ] {
            let mut stream = TcpStream::connect((client, port)).expect("connect");
            let (mut accepted, peer) = accept_one(&listener);
            assert_eq!(plain_peer(peer).ip(), client, "peer as accepted: {peer}");
            stream.write_all(b"x").unwrap();
            let mut byte = [0u8; 1];
            accepted.set_nonblocking(false).unwrap();
            accepted.read_exact(&mut byte).unwrap();
            assert_eq!(&byte, b"x");
        }
    }

    #[test]
    fn ipv4_peers_of_a_dual_stack_listener_arrive_mapped_and_come_out_plain() {
        let listener = bind("[::]:0".parse().unwrap()).expect("bind");
        let port = listener.local_addr().unwrap().port();
        let _client = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
        let (_accepted, peer) = accept_one(&listener);
        assert_eq!(peer.ip(), "::ffff:127.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            plain_peer(peer),
            SocketAddr::from(([127, 0, 0, 1], peer.port()))
        );
    }

    #[test]
    fn plain_peer_leaves_real_ipv6_and_ipv4_alone() {
        for peer in ["[::1]:5", "[2001:db8::1]:6", "192.0.2.1:7", "[::]:8"] {
            let peer: SocketAddr = peer.parse().unwrap();
            assert_eq!(plain_peer(peer), peer);
        }
        let mapped: SocketAddr = "[::ffff:192.0.2.9]:1234".parse().unwrap();
        assert_eq!(plain_peer(mapped), "192.0.2.9:1234".parse().unwrap());
    }

    #[test]
    fn a_busy_port_is_an_error_that_names_the_address() {
        let first = bind("[::]:0".parse().unwrap()).expect("bind");
        let port = first.local_addr().unwrap().port();
        for busy in [format!("[::]:{port}"), format!("127.0.0.1:{port}")] {
            let addr: SocketAddr = busy.parse().unwrap();
            let err = Listeners::bind(addr, None).expect_err("port is taken");
            assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
            assert!(err.to_string().contains(&busy), "{err}");
            assert!(err.to_string().contains("another rtmpsd"), "{err}");
        }
    }

    #[test]
    fn only_any_ipv6_falls_back_to_any_ipv4_and_only_when_ipv6_is_missing() {
        let no_ipv6 = io::Error::from_raw_os_error(libc::EAFNOSUPPORT);
        let any6: SocketAddr = "[::]:1936".parse().unwrap();
        assert_eq!(
            ipv4_fallback(any6, &no_ipv6),
            Some("0.0.0.0:1936".parse().unwrap())
        );
        let no_addr = io::Error::from_raw_os_error(libc::EADDRNOTAVAIL);
        assert!(ipv4_fallback(any6, &no_addr).is_some());
        let busy = io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(ipv4_fallback(any6, &busy), None);
        assert_eq!(ipv4_fallback("[::1]:1936".parse().unwrap(), &no_ipv6), None);
        assert_eq!(
            ipv4_fallback("0.0.0.0:1936".parse().unwrap(), &no_ipv6),
            None
        );
    }
}
