//! A `Session` past a valid handshake, then arbitrary bytes in pieces whose size the first
//! byte picks. Publish and play requests are accepted, all output is taken as sent, and
//! nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmpsd::rtmp::handshake::{ClientHandshake, HandshakeStep, RANDOM_SIZE};
use rtmpsd::rtmp::session::{Session, SessionConfig, SessionEvent};

/// What the caller must do after an event.
enum Answer {
    None,
    Publish(u32),
    Play(u32),
}

/// A session whose handshake a plain client has completed.
fn handshaken() -> Session {
    let mut session = Session::new(SessionConfig::default(), &[0x5a; RANDOM_SIZE], 1234);
    let mut client = ClientHandshake::new(&[0xa5; RANDOM_SIZE], 0);
    let mut to_server = client.hello().to_vec();
    while !session.handshake_done() {
        let fed = session.feed(&to_server).expect("valid client handshake");
        let progressed = fed.consumed > 0 || fed.event.is_some();
        to_server.drain(..fed.consumed);
        let mut out = session.pending_output();
        while !out.is_empty() {
            match client.feed(out).expect("valid server handshake") {
                HandshakeStep::Reply { consumed, reply } => {
                    to_server.extend_from_slice(reply);
                    out = &out[consumed..];
                }
                HandshakeStep::NeedMore { consumed } | HandshakeStep::Done { consumed } => {
                    out = &out[consumed..];
                    if consumed == 0 {
                        break;
                    }
                }
            }
        }
        let sent = session.pending_output().len();
        session.output_sent(sent);
        assert!(progressed, "handshake stalled");
    }
    session
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(selector) + 1;
    let mut session = handshaken();
    let mut pending: Vec<u8> = Vec::new();
    for piece in stream.chunks(step) {
        pending.extend_from_slice(piece);
        loop {
            let (consumed, had_event, answer) = match session.feed(&pending) {
                Err(_) => return,
                Ok(fed) => {
                    let answer = match fed.event {
                        Some(SessionEvent::PublishRequested { stream_id, .. }) => {
                            Answer::Publish(stream_id)
                        }
                        Some(SessionEvent::PlayRequested { stream_id, .. }) => {
                            Answer::Play(stream_id)
                        }
                        _ => Answer::None,
                    };
                    (fed.consumed, fed.event.is_some(), answer)
                }
            };
            assert!(consumed <= pending.len());
            pending.drain(..consumed);
            let answered = match answer {
                Answer::None => Ok(()),
                Answer::Publish(id) => session.accept_publish(id),
                Answer::Play(id) => session.accept_play(id),
            };
            let sent = session.pending_output().len();
            session.output_sent(sent);
            if answered.is_err() {
                return;
            }
            if consumed == 0 && !had_event {
                break;
            }
        }
    }
});
