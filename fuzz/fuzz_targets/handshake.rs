//! Arbitrary bytes into the server handshake, in two feeds split where the first byte
//! says: it must never panic, and every step must stay inside the input it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmpsd::rtmp::handshake::{HandshakeStep, RANDOM_SIZE, S0S1S2_LEN, ServerHandshake};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    // 13 * 255 > 3073, so a split can fall anywhere in C0+C1+C2 and just past it.
    let (first, second) = stream.split_at((usize::from(selector) * 13).min(stream.len()));
    let mut handshake = ServerHandshake::new(&[0x5a; RANDOM_SIZE], 1234);
    for mut part in [first, second] {
        loop {
            let consumed = match handshake.feed(part) {
                Err(_) => return,
                Ok(HandshakeStep::Reply { consumed, reply }) => {
                    assert_eq!(reply.len(), S0S1S2_LEN);
                    consumed
                }
                Ok(HandshakeStep::NeedMore { consumed }) => {
                    assert_eq!(consumed, part.len(), "need more with input left");
                    consumed
                }
                Ok(HandshakeStep::Done { consumed }) => {
                    assert!(handshake.is_done());
                    consumed
                }
            };
            part = &part[consumed..];
            if part.is_empty() || handshake.is_done() {
                break;
            }
        }
    }
});
