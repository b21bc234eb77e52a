//! A newcomer's first minutes with the `rtmpsd` binary: help and version, the start lines
//! they paste into OBS and ffmpeg, the dual-stack default listener, and a busy port.

mod support;

use std::net::{Ipv4Addr, Ipv6Addr, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{
    Ffmpeg, PUBLISH_KEY, PlayOpts, Player, PublishOpts, Publisher, ServerProcess, TempDir,
};

fn rtmpsd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rtmpsd"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rtmpsd")
}

#[test]
fn dash_h_and_help_print_usage_and_exit_zero() {
    for flag in ["-h", "--help"] {
        let out = rtmpsd(&[flag]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{flag}: {:?} {text}", out.status);
        assert!(text.starts_with("Usage: rtmpsd"), "{flag}: {text}");
        assert!(text.contains("--listen"), "{flag}: {text}");
    }
}

#[test]
fn version_and_dash_capital_v_print_the_crate_version_and_exit_zero() {
    for flag in ["--version", "-V"] {
        let out = rtmpsd(&[flag]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{flag}: {:?} {text}", out.status);
        assert_eq!(
            text,
            format!("rtmpsd {}\n", env!("CARGO_PKG_VERSION")),
            "{flag}"
        );
    }
}

/// The port of a server started with `--listen [::]:0`.
fn any_port(server: &ServerProcess) -> u16 {
    let addr = server.addr();
    assert_eq!(addr.ip(), Ipv6Addr::UNSPECIFIED, "listening on {addr}");
    addr.port()
}

#[test]
fn a_dual_stack_listener_takes_an_ipv4_publisher_and_an_ipv6_player() {
    let state = TempDir::new("dual-stack");
    let dir = state.path().to_str().unwrap();
    let server = ServerProcess::start(&[
        "--listen",
        "[::]:0",
        "--state-dir",
        dir,
        "--publish-key",
        PUBLISH_KEY,
    ]);
    let port = any_port(&server);
    let player = Player::start_with(
        Ffmpeg::Modern,
        &format!("rtmps://[::1]:{port}/live/{PUBLISH_KEY}"),
        &PlayOpts {
            seconds: 30.0,
            ..PlayOpts::default()
        },
    );
    assert!(
        server.wait_for_log("playing live/", Duration::from_secs(10)),
        "the IPv6 player never reached the server"
    );
    let mut publisher = Publisher::start(
        Ffmpeg::Debian,
        &format!("rtmps://127.0.0.1:{port}/live/{PUBLISH_KEY}"),
        &PublishOpts {
            seconds: 3.0,
            ..PublishOpts::default()
        },
    );
    let status = publisher
        .wait(Duration::from_secs(30))
        .expect("publisher finished");
    assert!(status.success(), "publisher failed: {:?}", publisher.logs());
    let report = player.wait();
    let summary = report.summary();
    assert_eq!(report.video_codec.as_deref(), Some("h264"), "{summary}");
    assert!(report.first_frame_is_key(), "{summary}");
    assert!(report.frame_count() >= 3 * 25 * 95 / 100, "{summary}");
    // Each peer is logged as itself: IPv4 plainly, never as ::ffff:127.0.0.1.
    let logs = server.logs();
    let connected = |prefix: &str| {
        logs.iter()
            .any(|l| l.contains(&format!(" {prefix}")) && l.contains(" connected (rtmps)"))
    };
    assert!(connected("127.0.0.1:"), "no IPv4 peer in {logs:#?}");
    assert!(connected("[::1]:"), "no IPv6 peer in {logs:#?}");
    assert!(!logs.iter().any(|l| l.contains("::ffff:")), "{logs:#?}");
}

#[test]
fn the_per_address_cap_counts_an_ipv4_peer_of_the_dual_stack_listener_as_ipv4() {
    let state = TempDir::new("per-ip");
    let dir = state.path().to_str().unwrap();
    let server = ServerProcess::start(&[
        "--listen",
        "[::]:0",
        "--rtmp-listen",
        "127.0.0.1:0",
        "--max-connections-per-ip",
        "1",
        "--state-dir",
        dir,
        "--publish-key",
        PUBLISH_KEY,
    ]);
    let port = any_port(&server);
    // 127.0.0.1's one connection, on the IPv4-only plain listener.
    let _held = TcpStream::connect(server.rtmp_addr().unwrap()).expect("connect plain");
    assert!(
        server.wait_for_log("connected (rtmp)", Duration::from_secs(5)),
        "the first connection was not taken"
    );
    // The same host through the dual-stack listener arrives as ::ffff:127.0.0.1.
    let _second = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect rtmps");
    let refused = "refused: connection limit per address reached: 1 open from 127.0.0.1, limit 1";
    assert!(
        server.wait_for_log(refused, Duration::from_secs(5)),
        "the mapped IPv4 peer was not counted as 127.0.0.1: {:#?}",
        server.logs()
    );
    // ::1 is another address, with a slot of its own.
    let _v6 = TcpStream::connect((Ipv6Addr::LOCALHOST, port)).expect("connect [::1]");
    assert!(
        server.wait_for_log("connected (rtmps)", Duration::from_secs(5)),
        "::1 was refused: {:#?}",
        server.logs()
    );
    let logs = server.logs();
    assert!(
        logs.iter()
            .any(|l| l.contains(" [::1]:") && l.contains("connected (rtmps)")),
        "{logs:#?}"
    );
    assert!(!logs.iter().any(|l| l.contains("::ffff:")), "{logs:#?}");
}
