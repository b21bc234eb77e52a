//! Arbitrary bytes into a `ChunkReader` with small limits, in pieces whose size the first
//! byte picks. Every call must consume bytes, yield a message, or ask for more with fewer
//! than `MAX_HEADER_LEN` bytes left over.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmpsd::rtmp::chunk::{ChunkLimits, ChunkRead, ChunkReader, MAX_HEADER_LEN};

const LIMITS: ChunkLimits = ChunkLimits {
    max_chunk_size: 64 * 1024,
    max_message_len: 64 * 1024,
    max_chunk_streams: 8,
    max_buffered_bytes: 128 * 1024,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(selector) + 1;
    let mut reader = ChunkReader::new(LIMITS);
    let mut pending: Vec<u8> = Vec::new();
    for piece in stream.chunks(step) {
        pending.extend_from_slice(piece);
        loop {
            match reader.read(&pending) {
                Err(_) => return,
                Ok(ChunkRead::Message { consumed, message }) => {
                    assert!(consumed <= pending.len());
                    assert!(message.payload.len() <= LIMITS.max_message_len as usize);
                    pending.drain(..consumed);
                }
                Ok(ChunkRead::NeedMore { consumed }) => {
                    assert!(consumed <= pending.len());
                    pending.drain(..consumed);
                    if consumed == 0 {
                        assert!(
                            pending.len() < MAX_HEADER_LEN,
                            "no progress with {} bytes pending",
                            pending.len()
                        );
                        break;
                    }
                }
            }
        }
    }
});
