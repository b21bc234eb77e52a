//! A publishing `ClientSession` fed arbitrary server bytes (S0+S1+S2 onward) in pieces whose
//! size the first byte picks. It unpublishes once publishing, all output is taken as sent,
//! and nothing may panic; after each piece, what it left unconsumed is part of one chunk
//! header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmpsd::rtmp::chunk::MAX_HEADER_LEN;
use rtmpsd::rtmp::client_session::{ClientConfig, ClientEvent, ClientSession, PublishPlan};
use rtmpsd::rtmp::handshake::RANDOM_SIZE;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(selector) + 1;
    let plan = PublishPlan {
        app: "live2".into(),
        tc_url: "rtmps://a.rtmps.youtube.com:443/live2".into(),
        stream_name: "fuzz-key".into(),
        flash_ver: "FMLE/3.0 (compatible; rtmpsd)".into(),
    };
    let mut client = ClientSession::new(ClientConfig::default(), plan, &[0x5a; RANDOM_SIZE], 0)
        .expect("the plan fits");
    let mut pending: Vec<u8> = Vec::new();
    for piece in stream.chunks(step) {
        pending.extend_from_slice(piece);
        loop {
            let (consumed, had_event, publishing) = match client.feed(&pending) {
                Err(_) => return,
                Ok(fed) => (
                    fed.consumed,
                    fed.event.is_some(),
                    matches!(fed.event, Some(ClientEvent::Publishing { .. })),
                ),
            };
            assert!(consumed <= pending.len());
            pending.drain(..consumed);
            if publishing && client.unpublish().is_err() {
                return;
            }
            let sent = client.pending_output().len();
            client.output_sent(sent);
            if consumed == 0 && !had_event {
                break;
            }
        }
        if client.handshake_done() {
            assert!(pending.len() < MAX_HEADER_LEN, "{} bytes left", pending.len());
        }
    }
});
