//! Whole messages from a server, reassembled from a blocking byte stream.

use std::io::{self, Read};
use std::time::{Duration, Instant};

use super::{Message, bad_data};
use crate::rtmp::chunk::{ChunkLimits, ChunkRead, ChunkReader};

/// Bytes read from the connection at most ahead of the chunk reader.
const INPUT_BUFFER: usize = 64 * 1024;

/// The server's chunk stream turned back into messages: a chunk reader and the bytes read
/// from the connection that it has not taken yet (a fixed 64 KiB).
pub struct Inbox {
    reader: ChunkReader,
    input: Vec<u8>,
    input_len: usize,
}

impl Inbox {
    /// An inbox that starts with `leftover`, what the server sent after the handshake.
    pub fn new(leftover: &[u8]) -> Inbox {
        let mut input = vec![0u8; INPUT_BUFFER.max(leftover.len())];
        input[..leftover.len()].copy_from_slice(leftover);
        Inbox {
            reader: ChunkReader::new(ChunkLimits {
                max_message_len: 64 << 20,
                max_chunk_size: 1 << 24,
                max_chunk_streams: 64,
                max_buffered_bytes: 128 << 20,
            }),
            input,
            input_len: leftover.len(),
        }
    }

    /// The next whole message, reading from `io` as needed: `TimedOut` once `timeout` has
    /// passed without one, `UnexpectedEof` if the server closed the connection.
    pub fn recv(
        &mut self,
        io: &mut (impl Read + ?Sized),
        timeout: Duration,
    ) -> io::Result<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut pos = 0;
            let mut found = None;
            while found.is_none() {
                match self
                    .reader
                    .read(&self.input[pos..self.input_len])
                    .map_err(bad_data)?
                {
                    ChunkRead::NeedMore { consumed } => {
                        pos += consumed;
                        if consumed == 0 {
                            break;
                        }
                    }
                    ChunkRead::Message { consumed, message } => {
                        pos += consumed;
                        found = Some(Message {
                            type_id: message.header.type_id,
                            timestamp: message.header.timestamp,
                            stream_id: message.header.stream_id,
                            payload: message.payload.to_vec(),
                        });
                    }
                }
            }
            self.input.copy_within(pos..self.input_len, 0);
            self.input_len -= pos;
            if let Some(message) = found {
                return Ok(message);
            }
            if Instant::now() >= deadline {
                return Err(io::ErrorKind::TimedOut.into());
            }
            let n = io.read(&mut self.input[self.input_len..])?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.input_len += n;
        }
    }

    /// The chunk reader and a copy of the bytes it has not taken yet (not the whole buffer),
    /// for [`super::Client::detach`].
    pub(super) fn into_parts(self) -> (ChunkReader, Vec<u8>) {
        let unread = self.input[..self.input_len].to_vec();
        (self.reader, unread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::Timestamp;
    use crate::rtmp::chunk::{ChunkWriter, DEFAULT_CHUNK_SIZE, MessageHeader};
    use crate::rtmp::message::type_id;

    /// Reads at most `size` bytes at a time.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// A 300-byte video message (three chunks at the default size) and a 2-byte audio one.
    fn messages() -> (Vec<Message>, Vec<u8>) {
        let sent = vec![
            Message {
                type_id: type_id::VIDEO,
                timestamp: Timestamp(40),
                stream_id: 1,
                payload: (0..300).map(|i| i as u8).collect(),
            },
            Message {
                type_id: type_id::AUDIO,
                timestamp: Timestamp(41),
                stream_id: 1,
                payload: vec![0xaf, 0x01],
            },
        ];
        let writer = ChunkWriter::new(DEFAULT_CHUNK_SIZE);
        let mut bytes = Vec::new();
        for (m, chunk_stream_id) in sent.iter().zip([6, 4]) {
            let header = MessageHeader {
                chunk_stream_id,
                timestamp: m.timestamp,
                type_id: m.type_id,
                stream_id: m.stream_id,
            };
            writer.write_to_vec(&header, &m.payload, &mut bytes);
        }
        (sent, bytes)
    }

    #[test]
    fn reassembles_messages_from_the_leftover_and_the_stream_then_reports_eof() {
        let (sent, bytes) = messages();
        for read_size in [1, 7, usize::MAX] {
            let mut inbox = Inbox::new(&bytes[..10]);
            let mut io = Trickle(&bytes[10..], read_size);
            for want in &sent {
                let got = inbox
                    .recv(&mut io, Duration::from_secs(5))
                    .expect("message");
                assert_eq!(&got, want, "read size {read_size}");
            }
            let end = inbox.recv(&mut io, Duration::from_secs(5));
            assert_eq!(end.map_err(|e| e.kind()), Err(io::ErrorKind::UnexpectedEof));
        }
    }

    #[test]
    fn times_out_on_half_a_message() {
        let (_, bytes) = messages();
        let mut inbox = Inbox::new(&bytes[..100]);
        let mut io = Trickle(&[], 0);
        let late = inbox.recv(&mut io, Duration::ZERO);
        assert_eq!(late.map_err(|e| e.kind()), Err(io::ErrorKind::TimedOut));
    }

    #[test]
    fn detaching_hands_over_the_unread_bytes_only() {
        let (sent, bytes) = messages();
        let mut inbox = Inbox::new(&bytes);
        let first = inbox
            .recv(&mut Trickle(&[], 0), Duration::from_secs(5))
            .expect("message");
        assert_eq!(first, sent[0]);
        let (_, unread) = inbox.into_parts();
        assert_eq!(unread.capacity(), unread.len());
        assert_eq!(unread, bytes[bytes.len() - unread.len()..]);
        assert!(!unread.is_empty());
    }
}
