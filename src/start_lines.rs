//! The lines printed at start for a newcomer to paste: for each address of the box, the
//! OBS "Server" and "Stream Key", the whole URL for ffmpeg, and the URL to play from.
//!
//! They carry the publish key, so they go to stdout (the operator's terminal) and never to
//! the log. A stream is played by its name and published with its key.

use std::net::IpAddr;

/// Label of the OBS line: `Server URL  Stream Key KEY` follows it.
pub const OBS_LABEL: &str = "publish with OBS:    ";
/// Label of the ffmpeg line: the whole publish URL follows it.
pub const FFMPEG_LABEL: &str = "publish with ffmpeg: ";
/// Label of the play line: the play URL follows it.
pub const PLAY_LABEL: &str = "play from:           ";

/// The addresses to print for a listener on `listen`, out of the box's `interfaces`: the
/// listener's own address if it has one; for `[::]` every address and for `0.0.0.0` every
/// IPv4 one, loopback only when there is no other. IPv4 first, each once.
pub fn hosts_for(listen: IpAddr, interfaces: &[IpAddr]) -> Vec<IpAddr> {
    if !listen.is_unspecified() {
        return vec![listen];
    }
    let mut usable: Vec<IpAddr> = interfaces
        .iter()
        .copied()
        .filter(|ip| listen.is_ipv6() || ip.is_ipv4())
        .filter(|ip| !ip.is_unspecified() && !ip.is_multicast())
        .collect();
    usable.sort();
    usable.dedup();
    if usable.iter().any(|ip| !ip.is_loopback()) {
        usable.retain(|ip| !ip.is_loopback());
    }
    if usable.is_empty() {
        // No interface list at all: the loopback of the listener's family still works.
        usable.push(if listen.is_ipv6() {
            std::net::Ipv6Addr::LOCALHOST.into()
        } else {
            std::net::Ipv4Addr::LOCALHOST.into()
        });
    }
    usable
}

/// `rtmps://HOST:PORT/APP` with an IPv6 host in brackets.
pub fn server_url(host: IpAddr, port: u16, app: &str) -> String {
    match host {
        IpAddr::V4(v4) => format!("rtmps://{v4}:{port}/{app}"),
        IpAddr::V6(v6) => format!("rtmps://[{v6}]:{port}/{app}"),
    }
}

/// The start lines for one stream called `name`, published with `key`, on every one of
/// `hosts`: OBS's two values, ffmpeg's URL and the play URL (with `?key=<play-key>` when
/// players need a key).
///
/// OBS (mbedTLS) matches the host only against the certificate's DNS names, which list each
/// IPv4 address but no IPv6 one (a colon is no DNS character), so OBS gets IPv6 hosts only
/// when the box has no IPv4 address.
pub fn stream_lines(
    hosts: &[IpAddr],
    port: u16,
    app: &str,
    name: &str,
    key: &str,
    play_key_needed: bool,
) -> Vec<String> {
    let play_query = if play_key_needed {
        "?key=<play-key>"
    } else {
        ""
    };
    let any_ipv4 = hosts.iter().any(IpAddr::is_ipv4);
    let mut lines = Vec::with_capacity(hosts.len() * 3);
    for host in hosts {
        let server = server_url(*host, port, app);
        if host.is_ipv4() || !any_ipv4 {
            lines.push(format!("{OBS_LABEL}Server {server}  Stream Key {key}"));
        }
        lines.push(format!("{FFMPEG_LABEL}{server}/{key}"));
        lines.push(format!("{PLAY_LABEL}{server}/{name}{play_query}"));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn any_ipv6_prints_every_address_but_loopback_ipv4_first() {
        let box_ips = ips(&["::1", "fd00::2", "127.0.0.1", "192.0.2.2", "2001:db8::5"]);
        assert_eq!(
            hosts_for("::".parse().unwrap(), &box_ips),
            ips(&["192.0.2.2", "2001:db8::5", "fd00::2"])
        );
    }

    #[test]
    fn any_ipv4_prints_only_ipv4_addresses() {
        let box_ips = ips(&["127.0.0.1", "192.0.2.2", "fd00::2"]);
        assert_eq!(
            hosts_for("0.0.0.0".parse().unwrap(), &box_ips),
            ips(&["192.0.2.2"])
        );
    }

    #[test]
    fn loopback_is_printed_when_there_is_nothing_else() {
        let box_ips = ips(&["::1", "127.0.0.1"]);
        assert_eq!(
            hosts_for("::".parse().unwrap(), &box_ips),
            ips(&["127.0.0.1", "::1"])
        );
        assert_eq!(hosts_for("::".parse().unwrap(), &[]), ips(&["::1"]));
        assert_eq!(
            hosts_for("0.0.0.0".parse().unwrap(), &ips(&["fd00::2"])),
            ips(&["127.0.0.1"])
        );
    }

    #[test]
    fn a_listener_on_one_address_prints_that_address() {
        let box_ips = ips(&["127.0.0.1", "192.0.2.2"]);
        assert_eq!(
            hosts_for("127.0.0.1".parse().unwrap(), &box_ips),
            ips(&["127.0.0.1"])
        );
    }

    #[test]
    fn lines_give_obs_two_values_ffmpeg_one_url_and_the_play_url() {
        let lines = stream_lines(
            &ips(&["192.0.2.2", "fd00::2"]),
            1936,
            "live",
            "K3Y",
            "K3Y",
            false,
        );
        assert_eq!(
            lines,
            [
                "publish with OBS:    Server rtmps://192.0.2.2:1936/live  Stream Key K3Y",
                "publish with ffmpeg: rtmps://192.0.2.2:1936/live/K3Y",
                "play from:           rtmps://192.0.2.2:1936/live/K3Y",
                "publish with ffmpeg: rtmps://[fd00::2]:1936/live/K3Y",
                "play from:           rtmps://[fd00::2]:1936/live/K3Y",
            ]
        );
    }

    #[test]
    fn obs_gets_an_ipv6_host_only_on_a_box_without_ipv4() {
        let lines = stream_lines(&ips(&["fd00::2"]), 1936, "live", "K3Y", "K3Y", false);
        assert_eq!(
            lines[0],
            "publish with OBS:    Server rtmps://[fd00::2]:1936/live  Stream Key K3Y"
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn players_are_told_to_add_their_key_when_one_is_needed() {
        let lines = stream_lines(&ips(&["192.0.2.2"]), 443, "live", "cam", "secret", true);
        assert_eq!(
            lines[2],
            "play from:           rtmps://192.0.2.2:443/live/cam?key=<play-key>"
        );
        // A separate name changes only the play line.
        assert_eq!(
            lines[1],
            "publish with ffmpeg: rtmps://192.0.2.2:443/live/secret"
        );
    }
}
