//! The hub's policies, driven with made-up frames and a clock passed in.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::rtmp::Timestamp;
use crate::server::frame::{Frame, FrameKind};

const LIMITS: HubLimits = HubLimits {
    gop_cache_bytes: 10_000,
    max_players: 3,
};

fn queue(len: usize) -> QueueLimits {
    QueueLimits {
        len,
        bytes: 1 << 20,
        slow_after: Duration::from_secs(2),
    }
}

/// Counts how often the hub woke it.
struct Rings(Arc<AtomicUsize>);

impl Wake for Rings {
    fn wake(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn doorbell() -> (Arc<Doorbell>, Arc<AtomicUsize>) {
    let rings = Arc::new(AtomicUsize::new(0));
    (Arc::new(Doorbell::new(Rings(rings.clone()))), rings)
}

fn frame(kind: FrameKind, ts: u32, keyframe: bool, sequence_header: bool, len: usize) -> Frame {
    // The timestamp is also the first payload bytes, so frames can be told apart.
    let mut payload = vec![0u8; len.max(4)];
    payload[..4].copy_from_slice(&ts.to_be_bytes());
    Frame {
        kind,
        keyframe,
        sequence_header,
        timestamp: Timestamp(ts),
        payload: Arc::from(payload),
    }
}

fn key(ts: u32) -> Frame {
    frame(FrameKind::Video, ts, true, false, 100)
}

fn inter(ts: u32) -> Frame {
    frame(FrameKind::Video, ts, false, false, 100)
}

fn audio(ts: u32) -> Frame {
    frame(FrameKind::Audio, ts, false, false, 10)
}

fn info(id: u64) -> PublisherInfo {
    PublisherInfo {
        id,
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], 1000 + id as u16)),
    }
}

/// Publishes `live/cam` as session `id`, refusing a takeover.
fn publish(hub: &Hub, id: u64) -> Publication {
    let (publication, replaced) = hub
        .publish("live/cam", info(id), doorbell().0, false)
        .expect("publish");
    assert!(replaced.is_none());
    publication
}

fn subscribe(hub: &Hub, id: u64, len: usize) -> Subscription {
    let (bell, _) = doorbell();
    hub.subscribe("live/cam", id, SubscriberKind::Player, queue(len), bell)
        .expect("subscribe")
}

/// Everything queued now, as (kind, timestamp) for frames and a name for notices.
fn drain(sub: &mut Subscription) -> Vec<String> {
    let mut seen = Vec::new();
    while let Some(delivery) = sub.try_next().expect("not evicted") {
        seen.push(match delivery {
            Delivery::Frame(f) => format!("{:?}@{}", f.kind, f.timestamp.0),
            Delivery::Published => "Published".into(),
            Delivery::Unpublished => "Unpublished".into(),
        });
    }
    seen
}

#[test]
fn a_late_subscriber_gets_headers_and_the_gop_then_live_frames_with_no_gap_or_duplicate() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    publication.push(frame(FrameKind::Metadata, 0, false, false, 20), now);
    publication.push(frame(FrameKind::Video, 0, false, true, 30), now);
    publication.push(frame(FrameKind::Audio, 0, false, true, 4), now);
    publication.push(inter(5), now); // before the first keyframe: not cached
    publication.push(key(10), now);
    publication.push(audio(11), now);
    publication.push(inter(20), now);
    let mut sub = subscribe(&hub, 2, 16);
    assert!(sub.live_at_join());
    publication.push(inter(30), now);
    publication.push(audio(31), now);
    assert_eq!(
        drain(&mut sub),
        [
            "Metadata@0",
            "Video@0",
            "Audio@0",
            "Video@10",
            "Audio@11",
            "Video@20",
            "Video@30",
            "Audio@31"
        ]
    );
}

#[test]
fn a_new_keyframe_restarts_the_cached_gop() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    for ts in [10, 20] {
        publication.push(key(ts), now);
        publication.push(inter(ts + 1), now);
    }
    let mut sub = subscribe(&hub, 2, 16);
    assert_eq!(drain(&mut sub), ["Video@20", "Video@21"]);
}

#[test]
fn a_gop_over_the_cache_limit_is_reported_once_and_not_cached() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    assert_eq!(
        publication.push(frame(FrameKind::Video, 0, true, false, 6000), now),
        None
    );
    assert_eq!(
        publication.push(frame(FrameKind::Video, 1, false, false, 6000), now),
        Some(12_000)
    );
    assert_eq!(publication.push(inter(2), now), None, "once per gop");
    let mut sub = subscribe(&hub, 2, 16);
    assert!(drain(&mut sub).is_empty(), "no broken gop for new players");
    // Without a cached gop the subscriber waits for the next keyframe.
    publication.push(inter(3), now);
    publication.push(audio(3), now);
    publication.push(key(4), now);
    assert_eq!(drain(&mut sub), ["Audio@3", "Video@4"]);
}

#[test]
fn a_full_queue_drops_video_up_to_the_next_keyframe_but_keeps_audio_flowing() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    publication.push(key(0), now);
    let mut sub = subscribe(&hub, 2, 2);
    assert_eq!(drain(&mut sub), ["Video@0"]);
    publication.push(inter(1), now);
    publication.push(inter(2), now);
    publication.push(inter(3), now); // queue of 2 is full: dropped, video now waits
    assert_eq!(drain(&mut sub), ["Video@1", "Video@2"]);
    publication.push(inter(4), now); // still waiting for a keyframe
    publication.push(audio(4), now); // audio is not skipped
    publication.push(key(5), now);
    assert_eq!(drain(&mut sub), ["Audio@4", "Video@5"]);
    publication.push(inter(6), now);
    assert_eq!(drain(&mut sub), ["Video@6"], "resumed from the keyframe");
    assert_eq!(publication.stream().stats().counts().frames_dropped, 2);
    assert_eq!(sub.frames_dropped(), 2, "the subscriber sees its own drops");
    assert_eq!(
        sub.last_dropped(),
        Some(Timestamp(4)),
        "and where the last one was"
    );
}

#[test]
fn a_subscriber_behind_for_longer_than_its_limit_is_evicted_with_what_it_missed() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let start = Instant::now();
    publication.push(key(0), start);
    let (bell, rings) = doorbell();
    let mut slow = hub
        .subscribe("live/cam", 2, SubscriberKind::Player, queue(1), bell)
        .unwrap();
    let mut fast = subscribe(&hub, 3, 64);
    publication.push(inter(1), start); // fills slow's queue of 1 (the backlog is apart)
    publication.push(inter(2), start + Duration::from_secs(1)); // behind from here
    assert!(slow.eviction().is_none());
    publication.push(inter(3), start + Duration::from_millis(3100));
    let eviction = slow.eviction().expect("evicted after 2 s behind");
    assert_eq!(eviction.behind, Duration::from_millis(2100));
    assert_eq!(eviction.dropped, 2);
    assert_eq!(eviction.limits, queue(1));
    assert!(rings.load(Ordering::SeqCst) >= 1, "the eviction wakes it");
    // It may still take what was queued, then learns it was cut off.
    assert_eq!(slow.try_next().unwrap().map(|_| ()), Some(()));
    assert_eq!(slow.try_next().unwrap().map(|_| ()), Some(()));
    assert!(matches!(slow.try_next(), Err(Ended::Evicted(_))));
    // The fast one saw everything.
    assert_eq!(
        drain(&mut fast),
        ["Video@0", "Video@1", "Video@2", "Video@3"]
    );
    let counts = publication.stream().stats().counts();
    assert_eq!((counts.evictions, counts.players), (1, 1));
}

#[test]
fn byte_limit_counts_what_is_queued_and_what_was_taken() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let now = Instant::now();
    publication.push(key(0), now);
    let (bell, _) = doorbell();
    let limits = QueueLimits {
        len: 100,
        bytes: 250,
        slow_after: Duration::from_secs(10),
    };
    let mut sub = hub
        .subscribe("live/cam", 2, SubscriberKind::Player, limits, bell)
        .unwrap();
    let _ = drain(&mut sub);
    publication.push(inter(1), now);
    publication.push(inter(2), now);
    publication.push(inter(3), now); // 300 bytes would be over 250: dropped
    assert_eq!(drain(&mut sub), ["Video@1", "Video@2"]);
    publication.push(key(4), now); // taken frames no longer count
    publication.push(inter(5), now);
    assert_eq!(drain(&mut sub), ["Video@4", "Video@5"]);
}

#[test]
fn subscribers_stay_across_unpublish_and_republish_and_are_told_each_time() {
    let hub = Hub::new(LIMITS);
    let (bell, rings) = doorbell();
    let mut sub = hub
        .subscribe("live/cam", 2, SubscriberKind::Player, queue(16), bell)
        .unwrap();
    assert!(!sub.live_at_join(), "waiting for a publisher");
    sub.doorbell().arm();
    let publication = publish(&hub, 1);
    assert_eq!(
        rings.load(Ordering::SeqCst),
        1,
        "a sleeping subscriber is woken"
    );
    publication.push(frame(FrameKind::Video, 0, false, true, 30), Instant::now());
    publication.push(key(1), Instant::now());
    drop(publication);
    assert_eq!(
        drain(&mut sub),
        ["Published", "Video@0", "Video@1", "Unpublished"]
    );
    let again = publish(&hub, 3);
    again.push(inter(2), Instant::now()); // a new publisher: wait for its keyframe
    again.push(key(3), Instant::now());
    assert_eq!(drain(&mut sub), ["Published", "Video@3"]);
    assert_eq!(hub.stream_count(), 1);
}

#[test]
fn a_second_publisher_is_refused_and_the_stream_is_forgotten_when_unused() {
    let hub = Hub::new(LIMITS);
    let first = publish(&hub, 1);
    let refused = hub.publish("live/cam", info(2), doorbell().0, false);
    assert!(matches!(refused, Err(PublishError::AlreadyLive { by }) if by == info(1)));
    let sub = subscribe(&hub, 3, 4);
    drop(first);
    assert_eq!(hub.stream_count(), 1, "the subscriber keeps it");
    drop(sub);
    assert_eq!(hub.stream_count(), 0);
    assert!(
        hub.publish("live/cam", info(2), doorbell().0, false)
            .is_ok(),
        "free again"
    );
}

#[test]
fn players_per_stream_are_capped_but_pushes_and_recorders_are_not_players() {
    let hub = Hub::new(LIMITS);
    let players: Vec<Subscription> = (0..3).map(|id| subscribe(&hub, id, 4)).collect();
    let (bell, _) = doorbell();
    let refused = hub.subscribe(
        "live/cam",
        9,
        SubscriberKind::Player,
        queue(4),
        bell.clone(),
    );
    assert!(matches!(
        refused,
        Err(JoinError::TooManyPlayers { limit: 3 })
    ));
    let push = hub
        .subscribe("live/cam", 10, SubscriberKind::Push, queue(4), bell.clone())
        .expect("a push is no player");
    let counts = hub.streams()[0].stats().counts();
    assert_eq!((counts.players, counts.subscribers), (3, 4));
    drop(players);
    drop(push);
    assert_eq!(hub.stream_count(), 0);
}

#[test]
fn a_subscriber_too_far_behind_to_take_a_notice_is_evicted() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    publication.push(key(0), Instant::now());
    let mut sub = subscribe(&hub, 2, 1);
    let _ = drain(&mut sub);
    publication.push(key(1), Instant::now()); // fills the queue of 1
    drop(publication); // Unpublished does not fit
    let eviction = sub.eviction().expect("evicted");
    assert_eq!(eviction.behind, Duration::ZERO);
}

#[test]
fn wait_blocks_until_a_frame_comes_or_times_out() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let mut sub = hub
        .subscribe(
            "live/cam",
            2,
            SubscriberKind::Recorder,
            queue(4),
            Arc::new(Doorbell::new(NoWake)),
        )
        .unwrap();
    assert!(sub.wait(Duration::from_millis(10)).unwrap().is_none());
    let pusher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        publication.push(key(7), Instant::now());
        publication
    });
    let got = sub.wait(Duration::from_secs(5)).unwrap();
    assert!(matches!(got, Some(Delivery::Frame(f)) if f.timestamp == Timestamp(7)));
    drop(pusher.join());
}

#[test]
fn a_takeover_replaces_the_publisher_at_once_and_players_continue_on_one_timeline() {
    let hub = Hub::new(LIMITS);
    let (old_bell, old_rings) = doorbell();
    let (old, _) = hub.publish("live/cam", info(1), old_bell, true).unwrap();
    let now = Instant::now();
    old.push(frame(FrameKind::Video, 0, false, true, 30), now);
    old.push(key(1000), now);
    old.push(inter(1040), now);
    let mut player = subscribe(&hub, 5, 64);
    assert_eq!(drain(&mut player), ["Video@0", "Video@1000", "Video@1040"]);

    let (new, replaced) = hub
        .publish("live/cam", info(2), doorbell().0, true)
        .unwrap();
    assert_eq!(replaced, Some(info(1)));
    assert_eq!(old.taken_over_by(), Some(info(2)));
    assert_eq!(
        old_rings.load(Ordering::SeqCst),
        1,
        "the old publisher is woken to close"
    );
    old.push(inter(1080), now); // in flight from the old publisher: dropped
    // The new publisher starts its own clock at 0; players see it go on after 1040.
    new.push(frame(FrameKind::Video, 0, false, true, 30), now);
    new.push(inter(10), now); // before its first keyframe: skipped for players
    new.push(key(40), now);
    new.push(audio(50), now);
    assert_eq!(
        drain(&mut player),
        ["Video@1041", "Video@1081", "Audio@1091"],
        "no notices, the new sequence header, then its first keyframe"
    );
    // A player joining now starts on the new publisher's cache only.
    let mut late = subscribe(&hub, 6, 64);
    assert_eq!(drain(&mut late), ["Video@1041", "Video@1081", "Audio@1091"]);
    // The old publication leaving does not end the new publisher's stream.
    drop(old);
    assert!(drain(&mut player).is_empty());
    let live = hub.streams()[0].live_publisher().map(|p| p.address);
    assert_eq!(live, Some(info(2).peer));
    drop(new);
    assert_eq!(drain(&mut player), ["Unpublished"]);
}

#[test]
fn a_stream_tells_operators_who_publishes_and_counts_video_frames_apart() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let stream = hub.streams().pop().unwrap();
    let live = stream.live_publisher().expect("publisher recorded");
    assert_eq!(live.address, info(1).peer);
    assert!(live.since <= std::time::SystemTime::now());
    publication.push(frame(FrameKind::Video, 0, false, true, 10), Instant::now());
    publication.push(key(0), Instant::now());
    publication.push(audio(1), Instant::now());
    publication.push(inter(40), Instant::now());
    let counts = stream.stats().counts();
    assert_eq!((counts.frames_in, counts.video_frames_in), (4, 2));
    drop(publication);
    assert!(stream.live_publisher().is_none());
}

#[test]
fn a_takeover_records_the_new_publisher() {
    let hub = Hub::new(LIMITS);
    let first = publish(&hub, 1);
    let (second, replaced) = hub
        .publish("live/cam", info(2), doorbell().0, true)
        .expect("takeover");
    assert_eq!(replaced, Some(info(1)));
    let stream = hub.streams().pop().unwrap();
    assert_eq!(stream.live_publisher().unwrap().address, info(2).peer);
    drop(first);
    assert_eq!(stream.live_publisher().unwrap().address, info(2).peer);
    drop(second);
    assert!(stream.live_publisher().is_none());
}

mod multitrack;

#[test]
fn audio_waits_for_the_next_video_frame_to_ring_while_video_flows() {
    let hub = Hub::new(LIMITS);
    let publication = publish(&hub, 1);
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    publication.push(key(0), at(0));
    let (bell, rings) = doorbell();
    let mut sub = hub
        .subscribe("live/cam", 2, SubscriberKind::Player, queue(64), bell)
        .unwrap();
    let _ = drain(&mut sub);
    let rung = || rings.load(Ordering::SeqCst);
    sub.doorbell().arm();
    publication.push(audio(21), at(21));
    assert_eq!(rung(), 0, "audio 21 ms after video waits");
    publication.push(inter(33), at(33));
    assert_eq!(rung(), 1, "the video frame rings, once");
    assert_eq!(drain(&mut sub), ["Audio@21", "Video@33"]);
    sub.doorbell().arm();
    publication.push(audio(100), at(100));
    assert_eq!(rung(), 2, "67 ms without video: audio rings on its own");
    let _ = drain(&mut sub);
    // Audio only, from a new publisher: every frame rings.
    drop(publication);
    let publication = publish(&hub, 3);
    let _ = drain(&mut sub);
    sub.doorbell().arm();
    publication.push(audio(0), at(101));
    assert_eq!(rung(), 3);
    assert_eq!(drain(&mut sub), ["Audio@0"]);
}
