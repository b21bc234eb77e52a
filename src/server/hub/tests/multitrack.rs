//! Multitrack streams through the hub: the instant-start cache keeps every track's
//! configuration, and a player that falls behind resumes with every track decodable.

use super::super::frame_tracks::FrameTracks;
use super::*;

/// A video message of track `track` as FFmpeg sends it: track 0 as a legacy H.264 tag, any
/// other as an enhanced OneTrack CodedFramesX `avc1` message. The timestamp follows the
/// header so frames can be told apart.
fn video(track: u8, ts: u32, keyframe: bool) -> Frame {
    let mut payload = if track == 0 {
        vec![if keyframe { 0x17 } else { 0x27 }, 0x01, 0, 0, 0]
    } else {
        let mut p = vec![if keyframe { 0x96 } else { 0xa6 }, 0x03];
        p.extend_from_slice(b"avc1");
        p.push(track);
        p
    };
    payload.extend_from_slice(&ts.to_be_bytes());
    payload.resize(100, 0x5a);
    Frame {
        kind: FrameKind::Video,
        keyframe,
        sequence_header: false,
        timestamp: Timestamp(ts),
        payload: Arc::from(payload),
    }
}

/// The sequence header of video track `track` (a minimal avcC).
fn video_header(track: u8, ts: u32) -> Frame {
    let record = [1, 0x42, 0, 0x1e, 0xff, 0xe0, 0];
    let mut payload = if track == 0 {
        vec![0x17, 0x00, 0, 0, 0]
    } else {
        let mut p = vec![0x96, 0x00];
        p.extend_from_slice(b"avc1");
        p.push(track);
        p
    };
    payload.extend_from_slice(&record);
    Frame {
        kind: FrameKind::Video,
        keyframe: true,
        sequence_header: true,
        timestamp: Timestamp(ts),
        payload: Arc::from(payload),
    }
}

/// An audio message of track `track`: legacy AAC for 0, OneTrack Opus otherwise.
fn audio_track(track: u8, ts: u32, header: bool) -> Frame {
    let payload = if track == 0 {
        vec![0xaf, u8::from(!header), 0x12, 0x10]
    } else {
        let mut p = vec![0x95, u8::from(!header)];
        p.extend_from_slice(b"Opus");
        p.push(track);
        p.extend_from_slice(&[0x11, 0x22]);
        p
    };
    Frame {
        kind: FrameKind::Audio,
        keyframe: false,
        sequence_header: header,
        timestamp: Timestamp(ts),
        payload: Arc::from(payload),
    }
}

/// What a subscriber took, as `v<track>@ts` (`K` for keyframes, `H` for headers) or `a<track>@ts`.
fn names(sub: &mut Subscription) -> Vec<String> {
    let mut seen = Vec::new();
    while let Some(delivery) = sub.try_next().expect("not evicted") {
        if let Delivery::Frame(f) = delivery {
            let track = FrameTracks::of(&f).tracks.first().unwrap_or(0);
            let mark = if f.sequence_header {
                "H"
            } else if f.keyframe {
                "K"
            } else {
                ""
            };
            let kind = if f.kind == FrameKind::Video { "v" } else { "a" };
            seen.push(format!("{kind}{track}@{}{mark}", f.timestamp.0));
        }
    }
    seen
}

#[test]
fn a_late_player_gets_the_header_of_every_track_and_each_track_from_its_keyframe() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    for frame in [
        video_header(0, 0),
        video_header(1, 0),
        audio_track(0, 0, true),
        audio_track(1, 0, true),
        video(1, 0, false),  // track 1 before the GOP starts: not cached
        video(0, 40, true),  // the anchor's keyframe starts the GOP
        video(1, 40, false), // track 1 not yet keyed in this GOP: not cached
        audio_track(0, 41, false),
        video(1, 80, true), // track 1's keyframe: cached from here
        video(0, 80, false),
        video(1, 120, false),
        audio_track(1, 121, false),
    ] {
        publication.push(frame, now);
    }
    let mut late = subscribe(&hub, 2, 64);
    assert_eq!(
        names(&mut late),
        [
            "v0@0H", "v1@0H", "a0@0H", "a1@0H", "v0@40K", "a0@41", "v1@80K", "v0@80", "v1@120",
            "a1@121"
        ]
    );
    // Both tracks play on live, without waiting for another keyframe.
    publication.push(video(0, 160, false), now);
    publication.push(video(1, 160, false), now);
    assert_eq!(names(&mut late), ["v0@160", "v1@160"]);
    // The stream lists both tracks of each kind with their codecs.
    let tracks: Vec<String> = publication
        .stream()
        .tracks()
        .iter()
        .map(|t| format!("{} {} {}", t.media, t.id, t.codec.name()))
        .collect();
    assert_eq!(
        tracks,
        [
            "video 0 H.264",
            "video 1 H.264",
            "audio 0 AAC",
            "audio 1 Opus"
        ]
    );
}

#[test]
fn a_newer_header_replaces_only_its_own_tracks_one() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    publication.push(video_header(0, 0), now);
    publication.push(video_header(1, 0), now);
    publication.push(video_header(1, 500), now); // a new configuration of track 1
    publication.push(video(0, 520, true), now);
    let mut late = subscribe(&hub, 2, 64);
    assert_eq!(names(&mut late), ["v0@0H", "v1@500H", "v0@520K"]);
}

#[test]
fn the_config_cache_is_bounded() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    for track in 0..=40u8 {
        publication.push(video_header(track, u32::from(track)), now);
    }
    let mut late = subscribe(&hub, 2, 64);
    let got = names(&mut late);
    assert_eq!(got.len(), super::super::start_cache::MAX_CONFIGS);
    assert_eq!(got.first().map(String::as_str), Some("v9@9H"));
    assert_eq!(got.last().map(String::as_str), Some("v40@40H"));
}

/// Checks what a player took of each video track, against what was pushed: every frame it
/// got must be decodable, i.e. follow a keyframe of its track it also got, with no frame of
/// that track missing in between. Returns how many frames each track lost.
fn assert_every_track_decodable(pushed: &[(u8, u32, bool)], got: &[String]) -> [usize; 2] {
    let mut lost = [0usize; 2];
    for track in 0..2u8 {
        let sent: Vec<(u32, bool)> = pushed
            .iter()
            .filter(|(t, _, _)| *t == track)
            .map(|(_, ts, key)| (*ts, *key))
            .collect();
        let taken: Vec<u32> = got
            .iter()
            .filter_map(|n| n.strip_prefix(&format!("v{track}@")))
            .map(|rest| rest.trim_end_matches('K').parse().unwrap())
            .collect();
        // Walk what was sent; a frame taken after a gap must be a keyframe.
        let mut decodable = false;
        let mut next = taken.iter().peekable();
        for (ts, key) in &sent {
            if next.peek() == Some(&ts) {
                next.next();
                assert!(
                    *key || decodable,
                    "track {track} frame {ts} taken after a gap without its keyframe: {got:?}"
                );
                decodable = true;
            } else {
                decodable = false;
                lost[usize::from(track)] += 1;
            }
        }
        assert!(next.next().is_none(), "track {track} took frames not sent");
    }
    lost
}

#[test]
fn a_player_that_falls_behind_resumes_with_every_track_decodable() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    // Two renditions with keyframes every 4 frames, track 1's keyframe one message after
    // track 0's, as FFmpeg interleaves them.
    let mut pushed = Vec::new();
    let mut push = |track: u8, ts: u32, key: bool| {
        pushed.push((track, ts, key));
        publication.push(video(track, ts, key), now);
    };
    push(0, 0, true);
    push(1, 0, true);
    let mut sub = subscribe(&hub, 2, 3);
    let mut got = names(&mut sub);
    // Frames 1..=20 of each track; the player reads only after frames 6 and 14, so its queue
    // of 3 overflows twice.
    for index in 1..=20u32 {
        let ts = index * 40;
        push(0, ts, index % 4 == 0);
        push(1, ts, index % 4 == 0);
        if index == 6 || index == 14 || index >= 17 {
            got.extend(names(&mut sub));
        }
    }
    got.extend(names(&mut sub));
    let lost = assert_every_track_decodable(&pushed, &got);
    assert!(lost[0] > 0 && lost[1] > 0, "the queue overflowed: {got:?}");
    // Both tracks play again to the end.
    assert!(got.contains(&"v0@800K".to_string()) && got.contains(&"v1@800K".to_string()));
    assert!(
        got.ends_with(&["v0@800K".to_string(), "v1@800K".to_string()]),
        "{got:?}"
    );
}

#[test]
fn a_dropped_frame_of_one_track_leaves_the_other_track_playing() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    publication.push(video(0, 0, true), now);
    publication.push(video(1, 0, true), now);
    let mut sub = subscribe(&hub, 2, 2);
    let _ = names(&mut sub);
    publication.push(video(0, 40, false), now);
    publication.push(video(1, 40, false), now);
    publication.push(video(1, 80, false), now); // queue of 2 full: track 1 waits
    assert_eq!(names(&mut sub), ["v0@40", "v1@40"]);
    publication.push(video(0, 80, false), now); // track 0 lost nothing: it plays on
    publication.push(video(1, 120, false), now); // track 1 still waits
    publication.push(video(1, 160, true), now);
    assert_eq!(names(&mut sub), ["v0@80", "v1@160K"]);
}

#[test]
fn a_message_of_several_tracks_is_one_keyframe_for_all_of_them() {
    // ManyTracks: one message carrying tracks 0 and 1 (VP9, CodedFramesX).
    let many = |ts: u32, keyframe: bool| {
        let mut payload = vec![if keyframe { 0x96 } else { 0xa6 }, 0x13];
        payload.extend_from_slice(b"vp09");
        for track in [0u8, 1] {
            payload.extend_from_slice(&[track, 0, 0, 4]);
            payload.extend_from_slice(&ts.to_be_bytes());
        }
        Frame {
            kind: FrameKind::Video,
            keyframe,
            sequence_header: false,
            timestamp: Timestamp(ts),
            payload: Arc::from(payload),
        }
    };
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    publication.push(many(0, true), now);
    publication.push(many(40, false), now);
    let mut late = subscribe(&hub, 2, 2);
    assert_eq!(drain(&mut late), ["Video@0", "Video@40"]);
    publication.push(many(80, false), now);
    publication.push(many(120, false), now);
    publication.push(many(160, false), now); // dropped: both tracks wait
    publication.push(many(200, false), now);
    assert_eq!(drain(&mut late), ["Video@80", "Video@120"]);
    publication.push(many(240, true), now);
    assert_eq!(drain(&mut late), ["Video@240"]);
}

#[test]
fn pushes_and_recorders_get_every_track_as_players_do() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    for frame in [
        video_header(0, 0),
        video_header(1, 0),
        audio_track(1, 0, true),
        video(0, 40, true),
        video(1, 40, true),
        audio_track(1, 41, false),
    ] {
        publication.push(frame, now);
    }
    let mut player = subscribe(&hub, 2, 64);
    let expected = names(&mut player);
    assert_eq!(
        expected,
        ["v0@0H", "v1@0H", "a1@0H", "v0@40K", "v1@40K", "a1@41"]
    );
    for (id, kind) in [(3, SubscriberKind::Push), (4, SubscriberKind::Recorder)] {
        let mut sub = hub
            .subscribe("live/cam", id, kind, queue(64), doorbell().0)
            .expect("subscribe");
        assert_eq!(names(&mut sub), expected, "{kind:?}");
    }
}
