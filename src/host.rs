//! This box's names and addresses, from gethostname(2) and getifaddrs(3): the names the
//! default certificate lists, and the addresses the start lines print.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The host name gethostname(2) reports, if there is one and it is UTF-8.
pub fn hostname() -> Option<String> {
    // POSIX caps host names at 255 bytes (Linux at 64); one more for the NUL.
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for `buf.len()` bytes, and gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    // A name cut short has no NUL; take none rather than a wrong one.
    let end = buf.iter().position(|&b| b == 0)?;
    let name = std::str::from_utf8(&buf[..end]).ok()?.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// The addresses of every interface that is up (loopback too), without IPv6 link-local
/// ones: those need a zone (`%eth0`) and fit neither a URL nor a certificate.
pub fn interface_addresses() -> Vec<IpAddr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: on success getifaddrs points `head` at a list we own until freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut addresses = Vec::new();
    let mut node = head;
    while !node.is_null() {
        // SAFETY: `node` is a live entry of the list getifaddrs made; it is freed only below.
        let entry = unsafe { &*node };
        node = entry.ifa_next;
        let up = entry.ifa_flags & (libc::IFF_UP as libc::c_uint) != 0;
        if !up || entry.ifa_addr.is_null() {
            continue;
        }
        // SAFETY: `ifa_addr` is non-null and points at a sockaddr whose family field says
        // which sockaddr type it is; read_unaligned needs no alignment.
        let ip = unsafe {
            match i32::from((*entry.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = entry.ifa_addr.cast::<libc::sockaddr_in>().read_unaligned();
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
                }
                libc::AF_INET6 => {
                    let sin6 = entry.ifa_addr.cast::<libc::sockaddr_in6>().read_unaligned();
                    IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
                }
                _ => continue,
            }
        };
        let link_local = matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local());
        if !link_local && !addresses.contains(&ip) {
            addresses.push(ip);
        }
    }
    // SAFETY: `head` came from getifaddrs and is freed once; no reference into it is left.
    unsafe { libc::freeifaddrs(head) };
    addresses
}

/// The names a box called `hostname` answers to: `localhost`, the name, and `name.local`
/// (mDNS, which Pi OS and most desktops resolve).
pub fn names_for(hostname: Option<&str>) -> Vec<String> {
    let mut names = vec!["localhost".to_string()];
    if let Some(host) = hostname.filter(|h| !h.is_empty() && *h != "localhost") {
        names.push(host.to_string());
        if !host.ends_with(".local") {
            names.push(format!("{host}.local"));
        }
    }
    names
}

/// The names and addresses this box answers to, for a certificate: [`names_for`] this
/// host, and every interface address plus both loopback addresses, sorted.
pub fn local_names() -> (Vec<String>, Vec<IpAddr>) {
    let names = names_for(hostname().as_deref());
    let mut ips = interface_addresses();
    ips.extend([
        IpAddr::from(Ipv4Addr::LOCALHOST),
        Ipv6Addr::LOCALHOST.into(),
    ]);
    ips.sort();
    ips.dedup();
    (names, ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_localhost_the_hostname_and_its_mdns_name() {
        assert_eq!(names_for(Some("pi")), ["localhost", "pi", "pi.local"]);
        assert_eq!(names_for(Some("cam.local")), ["localhost", "cam.local"]);
        assert_eq!(names_for(Some("localhost")), ["localhost"]);
        assert_eq!(names_for(None), ["localhost"]);
    }

    #[test]
    fn hostname_is_the_kernels() {
        let kernel = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("procfs");
        assert_eq!(hostname().as_deref(), Some(kernel.trim()));
    }

    /// Local IPv4 addresses as the kernel's FIB lists them (a line before "/32 host LOCAL").
    fn fib_trie_ipv4() -> Vec<IpAddr> {
        let trie = std::fs::read_to_string("/proc/net/fib_trie").expect("procfs");
        let lines: Vec<&str> = trie.lines().collect();
        lines
            .windows(2)
            .filter(|pair| pair[1].trim() == "/32 host LOCAL")
            .filter_map(|pair| pair[0].rsplit(' ').next()?.parse().ok())
            .collect()
    }

    /// IPv6 addresses from /proc/net/if_inet6, without link-local ones.
    fn if_inet6() -> Vec<IpAddr> {
        let text = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
        text.lines()
            .filter_map(|line| u128::from_str_radix(line.split_whitespace().next()?, 16).ok())
            .map(Ipv6Addr::from)
            .filter(|ip| !ip.is_unicast_link_local())
            .map(IpAddr::from)
            .collect()
    }

    #[test]
    fn interface_addresses_are_the_ones_the_kernel_lists() {
        let found = interface_addresses();
        assert!(
            found.contains(&IpAddr::from(Ipv4Addr::LOCALHOST)),
            "{found:?}"
        );
        for ip in fib_trie_ipv4().into_iter().chain(if_inet6()) {
            assert!(found.contains(&ip), "{ip} missing from {found:?}");
        }
        assert!(
            !found
                .iter()
                .any(|ip| matches!(ip, IpAddr::V6(v6) if v6.is_unicast_link_local())),
            "{found:?}"
        );
    }

    #[test]
    fn local_names_include_both_loopbacks_once_and_sorted() {
        let (names, ips) = local_names();
        assert_eq!(names[0], "localhost");
        let v4 = IpAddr::from(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::from(Ipv6Addr::LOCALHOST);
        assert_eq!(ips.iter().filter(|ip| **ip == v4).count(), 1);
        assert_eq!(ips.iter().filter(|ip| **ip == v6).count(), 1);
        assert!(ips.windows(2).all(|w| w[0] < w[1]), "{ips:?}");
    }
}
