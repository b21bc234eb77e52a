//! The audio and video tag readers (legacy, enhanced, ModEx, every multitrack type) over
//! arbitrary payloads; the first byte picks audio (odd) or video (even). Nothing may panic,
//! and the track walk must agree with the header summary: the same track ids, in wire order,
//! each body inside the payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmpsd::rtmp::media::{
    TrackSet, for_each_audio_track, for_each_video_track, inspect_audio, inspect_video,
    validate_sequence_header,
};

/// Checks a walk's bodies and returns its track ids.
fn walked(bodies: &[(u8, usize, usize)], len: usize) -> TrackSet {
    let mut ids = TrackSet::EMPTY;
    for &(id, start, end) in bodies {
        assert!(start <= end && end <= len, "body {start}..{end} of {len} bytes");
        ids.insert(id);
    }
    ids
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    if selector & 1 == 1 {
        let tag = inspect_audio(payload);
        let mut bodies = Vec::new();
        let walk = for_each_audio_track(payload, |t| bodies.push((t.id, t.start, t.end)));
        assert_eq!(tag.is_ok(), walk.is_ok(), "{tag:?} but the walk gave {walk:?}");
        if let Ok(tag) = tag {
            let ids = walked(&bodies, payload.len());
            // Silence has no track body; every other message has its tracks.
            if !bodies.is_empty() {
                assert_eq!(ids, tag.tracks);
            }
        }
    } else {
        let tag = inspect_video(payload);
        let mut bodies = Vec::new();
        let walk = for_each_video_track(payload, |t| bodies.push((t.id, t.start, t.end)));
        assert_eq!(tag.is_ok(), walk.is_ok(), "{tag:?} but the walk gave {walk:?}");
        if let Ok(tag) = tag {
            assert_eq!(walked(&bodies, payload.len()), tag.tracks);
            let _ = validate_sequence_header(&tag, payload);
        }
    }
});
