//! The client side of the RTMP handshake over a blocking byte stream.

use std::io::{self, Read, Write};

use super::bad_data;
use crate::rtmp::handshake::{ClientHandshake, HandshakeStep, RANDOM_SIZE};

/// Runs the client side of the RTMP handshake over `io`: C0+C1 (digest form, as librtmp and
/// OBS send, or the plain form), then C2 once S0+S1 are in. Returns what the server sent
/// after S2, the start of its chunk stream.
pub fn handshake(io: &mut (impl Read + Write + ?Sized), digest: bool) -> io::Result<Vec<u8>> {
    let mut random = [0u8; RANDOM_SIZE];
    for (i, b) in random.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(7);
    }
    let mut handshake = if digest {
        ClientHandshake::new_digest(&random, 0)
    } else {
        ClientHandshake::new(&random, 0)
    };
    io.write_all(handshake.hello())?;
    io.flush()?;
    let mut buf = vec![0u8; 4096];
    let mut held = 0;
    loop {
        let n = io.read(&mut buf[held..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        held += n;
        let mut pos = 0;
        let done = loop {
            match handshake.feed(&buf[pos..held]).map_err(bad_data)? {
                HandshakeStep::NeedMore { consumed } => {
                    pos += consumed;
                    break false;
                }
                HandshakeStep::Reply { consumed, reply } => {
                    pos += consumed;
                    io.write_all(reply)?;
                    io.flush()?;
                }
                HandshakeStep::Done { consumed } => {
                    pos += consumed;
                    break true;
                }
            }
        };
        buf.copy_within(pos..held, 0);
        held -= pos;
        if done {
            buf.truncate(held);
            return Ok(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::handshake::ServerHandshake;

    /// The server's chunk stream starts with these bytes, right after S2.
    const AFTER_S2: &[u8] = &[0x02, 0x00, 0x00, 0x00];

    /// A server end in memory: answers what the client writes and hands back at most
    /// `read_size` bytes a read.
    struct Loopback {
        server: ServerHandshake,
        to_client: Vec<u8>,
        read_at: usize,
        read_size: usize,
    }

    impl Loopback {
        fn new(read_size: usize) -> Loopback {
            Loopback {
                server: ServerHandshake::new(&[0x33; RANDOM_SIZE], 0),
                to_client: Vec::new(),
                read_at: 0,
                read_size,
            }
        }
    }

    impl Read for Loopback {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let left = &self.to_client[self.read_at..];
            let n = left.len().min(buf.len()).min(self.read_size);
            buf[..n].copy_from_slice(&left[..n]);
            self.read_at += n;
            Ok(n)
        }
    }

    impl Write for Loopback {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut pos = 0;
            while pos < buf.len() {
                match self.server.feed(&buf[pos..]).map_err(bad_data)? {
                    // The server takes whatever it is given; nothing is left over.
                    HandshakeStep::NeedMore { .. } => break,
                    HandshakeStep::Reply { consumed, reply } => {
                        pos += consumed;
                        self.to_client.extend_from_slice(reply);
                        self.to_client.extend_from_slice(AFTER_S2);
                    }
                    HandshakeStep::Done { consumed } => pos += consumed,
                }
            }
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn completes_with_a_server_in_both_forms_and_keeps_what_follows_s2() {
        for digest in [true, false] {
            let mut io = Loopback::new(usize::MAX);
            let leftover = handshake(&mut io, digest).expect("handshake");
            assert!(io.server.is_done());
            assert_eq!(io.server.used_digest(), digest);
            assert_eq!(leftover, AFTER_S2);
        }
    }

    #[test]
    fn byte_at_a_time_reads_take_nothing_past_s2() {
        let mut io = Loopback::new(1);
        let leftover = handshake(&mut io, true).expect("handshake");
        assert!(io.server.is_done());
        let mut rest = leftover;
        rest.extend_from_slice(&io.to_client[io.read_at..]);
        assert_eq!(rest, AFTER_S2);
    }

    #[test]
    fn a_server_that_closes_mid_handshake_is_unexpected_eof() {
        // S0 and 99 bytes of S1, then the connection ends.
        let mut cut = Cut(io::Cursor::new(vec![3; 100]));
        let err = handshake(&mut cut, true).expect_err("cut short");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    /// A server that sends a fixed few bytes, whatever the client writes.
    struct Cut(io::Cursor<Vec<u8>>);

    impl Read for Cut {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for Cut {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
