//! Hostile input, transport and handshakes (see the table in `hostile/mod.rs`): the wrong protocol on each port, and broken or slow
//! RTMP and TLS handshakes. Each is closed with a logged reason while the live stream flows.

mod hostile;
mod support;

use std::io::{self, Read};
use std::net::Shutdown;
use std::time::Duration;

use hostile::{Fixture, Raw, pseudo_random};
use rtmpsd::client::tls_config;
use rtmpsd::rtmp::handshake::{ClientHandshake, RANDOM_SIZE};
use rustls::ClientConnection;
use rustls::pki_types::ServerName;

const TIMEOUT_FLAGS: [&str; 2] = ["--handshake-timeout-secs", "2"];

/// C0 and C1 of a plain-form client handshake.
fn c0c1() -> Vec<u8> {
    ClientHandshake::new(&[0x21; RANDOM_SIZE], 0)
        .hello()
        .to_vec()
}

/// The bytes a TLS client sends first: its ClientHello record.
fn client_hello() -> Vec<u8> {
    let mut conn = ClientConnection::new(
        tls_config(true),
        ServerName::try_from("localhost").expect("name"),
    )
    .expect("tls client");
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).expect("client hello");
    hello
}

/// Sends `bytes` one at a time, `pace` apart, until the server closes the connection;
/// returns the time from the TCP connect to the close.
fn dribble(raw: &mut Raw, bytes: &[u8], pace: Duration) -> Duration {
    let mut buf = [0u8; 8192];
    for byte in bytes {
        if raw.send(std::slice::from_ref(byte)).is_err() {
            return raw.opened.elapsed();
        }
        // The read doubles as the pause between bytes.
        raw.io.tcp().set_read_timeout(Some(pace)).expect("timeout");
        loop {
            match raw.io.read(&mut buf) {
                Ok(0) => return raw.opened.elapsed(),
                // The server answers the handshake as it goes; keep reading.
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(_) => return raw.opened.elapsed(),
            }
        }
    }
    panic!("{} was never closed while dribbling", raw.local);
}

#[test]
fn plain_rtmp_on_the_tls_port_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("plain rtmp on the tls port", |fx| {
        let mut raw = Raw::tcp(fx.tls_addr());
        let _ = raw.send(&c0c1());
        raw.expect_closed(Duration::from_secs(5));
        fx.assert_closed(
            raw.local,
            &["plain rtmp on the rtmps port", "first byte 0x03"],
        );
    });
    fx.finish();
}

#[test]
fn tls_client_hello_on_the_plain_port_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("tls on the plain port", |fx| {
        let mut raw = Raw::tcp(fx.plain_addr());
        let _ = raw.send(&client_hello());
        raw.expect_closed(Duration::from_secs(5));
        fx.assert_closed(
            raw.local,
            &[
                "protocol error",
                "unsupported rtmp version byte 22 (expected 3)",
            ],
        );
    });
    fx.finish();
}

#[test]
fn random_bytes_instead_of_c0_c1_are_closed() {
    let fx = Fixture::start(&TIMEOUT_FLAGS);
    fx.attack_twice("random bytes for c0c1", |fx| {
        // Inside TLS, random bytes where C0 and C1 belong: the first is not version 3.
        let bytes = pseudo_random(7, 4096);
        let version = bytes[0];
        assert_ne!(version, 3, "pick a seed whose first byte is not 3");
        let mut raw = Raw::tls(fx.tls_addr());
        let _ = raw.send(&bytes);
        raw.expect_closed(Duration::from_secs(5));
        fx.assert_closed(
            raw.local,
            &[&format!(
                "unsupported rtmp version byte {version} (expected 3)"
            )],
        );

        // With a valid C0, random C1 and C2 are a legal handshake (both are random by
        // design, and C2 is not checked, as no real server checks it); the random bytes
        // after them are a broken chunk stream: this seed's first chunk header is a fmt 3
        // continuation on a chunk stream that never started.
        let mut bytes = pseudo_random(11, 1 + 1536 + 1536 + 4096);
        bytes[0] = 3;
        let mut raw = Raw::tcp(fx.plain_addr());
        let _ = raw.send(&bytes);
        raw.expect_closed(Duration::from_secs(5));
        fx.assert_closed(
            raw.local,
            &["protocol error: chunk: fmt 3 chunk on chunk stream 39 with no fmt 0 before it"],
        );
    });
    fx.finish();
}

#[test]
fn wrong_version_byte_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("wrong version byte", |fx| {
        // Version 6 is RTMPE (encrypted RTMP), which rtmpsd does not speak.
        let mut hello = c0c1();
        hello[0] = 6;
        for tls in [false, true] {
            let mut raw = if tls {
                Raw::tls(fx.tls_addr())
            } else {
                Raw::tcp(fx.plain_addr())
            };
            let _ = raw.send(&hello);
            raw.expect_closed(Duration::from_secs(5));
            fx.assert_closed(
                raw.local,
                &["protocol error", "unsupported rtmp version byte 6"],
            );
        }
    });
    fx.finish();
}

#[test]
fn handshake_cut_short_is_closed() {
    let fx = Fixture::start(&[]);
    fx.attack_twice("handshake cut short", |fx| {
        // C0 and part of C1, then the client closes its side.
        let hello = c0c1();
        let mut raw = Raw::tcp(fx.plain_addr());
        raw.send(&hello[..700]).expect("send");
        raw.io.tcp().shutdown(Shutdown::Write).expect("shutdown");
        raw.expect_closed(Duration::from_secs(5));
        fx.assert_closed(
            raw.local,
            &[
                "peer closed the connection during the rtmp handshake",
                "700 bytes in",
            ],
        );
        // The same inside TLS, with the TLS session ended properly by close_notify.
        let mut raw = Raw::tls(fx.tls_addr());
        raw.send(&hello[..1000]).expect("send");
        raw.close_notify();
        raw.expect_closed(Duration::from_secs(5));
        fx.assert_closed(
            raw.local,
            &[
                "peer closed the connection during the rtmp handshake",
                "1000 bytes in",
            ],
        );
    });
    fx.finish();
}

#[test]
fn slowloris_rtmp_handshake_is_closed_at_the_timeout() {
    let fx = Fixture::start(&TIMEOUT_FLAGS);
    fx.attack_twice("slowloris rtmp handshake", |fx| {
        let mut raw = Raw::tcp(fx.plain_addr());
        let closed = dribble(&mut raw, &c0c1(), Duration::from_secs(1));
        fx.assert_closed(
            raw.local,
            &["handshake timeout: rtmp handshake not done after 2s"],
        );
        assert!(
            closed >= Duration::from_millis(1950) && closed < Duration::from_millis(3500),
            "closed after {closed:?}, not at the 2 s timeout"
        );
    });
    fx.finish();
}

#[test]
fn slowloris_tls_handshake_is_closed_at_the_timeout() {
    let fx = Fixture::start(&TIMEOUT_FLAGS);
    fx.attack_twice("slowloris tls handshake", |fx| {
        let mut raw = Raw::tcp(fx.tls_addr());
        let closed = dribble(&mut raw, &client_hello(), Duration::from_secs(1));
        fx.assert_closed(
            raw.local,
            &["handshake timeout: tls handshake not done after 2s"],
        );
        assert!(
            closed >= Duration::from_millis(1950) && closed < Duration::from_millis(3500),
            "closed after {closed:?}, not at the 2 s timeout"
        );
    });
    fx.finish();
}

#[test]
fn handshake_timeout_covers_tls_and_rtmp_together() {
    let fx = Fixture::start(&TIMEOUT_FLAGS);
    fx.attack_twice("slow tls then slow rtmp", |fx| {
        // The TLS handshake takes 1.2 s of the 2 s, then the RTMP handshake dribbles: the
        // connection is closed 2 s after it was accepted, not 2 s after TLS finished.
        let tcp = std::net::TcpStream::connect(fx.tls_addr()).expect("connect");
        let opened = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(1200));
        let mut raw = Raw::tls_over(tcp);
        raw.opened = opened;
        let closed = dribble(&mut raw, &c0c1(), Duration::from_millis(250));
        fx.assert_closed(
            raw.local,
            &["handshake timeout: rtmp handshake not done after 2s"],
        );
        assert!(
            closed >= Duration::from_millis(1950) && closed < Duration::from_millis(3000),
            "closed after {closed:?}, not 2 s after the TCP connection"
        );
    });
    fx.finish();
}
