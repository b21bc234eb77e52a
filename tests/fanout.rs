//! Fan-out, instant start, keys and reconnects, driven by the in-repo client over rtmps://.

mod harness;

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use harness::{KEY, NAME, Setup, TestServer, connect};
use rtmpsd::client::{Client, SyntheticStream, frame_index};
use rtmpsd::config::Limits;
use rtmpsd::rtmp::message::type_id;

fn start_publisher(server: &TestServer, stream: &SyntheticStream) -> Client {
    let mut client = connect(&server.url(KEY));
    client.publish().expect("publish");
    for (kind, ts, payload) in stream.headers() {
        client.send_media(kind, ts, &payload).expect("headers");
    }
    client
}

fn send_frames(client: &mut Client, stream: &mut SyntheticStream, count: u32, pace: Duration) {
    for _ in 0..count {
        for (kind, ts, payload) in stream.next_frames() {
            client.send_media(kind, ts, &payload).expect("frame");
        }
        thread::sleep(pace);
    }
}

/// What a player received: video indices in order, and how it started.
#[derive(Debug, Default)]
struct Received {
    indices: Vec<u32>,
    timestamps: Vec<u32>,
    first_video_was_header: Option<bool>,
    first_frame_was_key: Option<bool>,
    statuses: Vec<String>,
}

impl Received {
    fn is_consecutive(&self) -> bool {
        self.indices.windows(2).all(|w| w[1] == w[0] + 1)
    }
}

/// Receives until video frame `last` arrives (or a timeout, which fails the caller's asserts).
fn receive_until(client: &mut Client, last: u32) -> Received {
    let mut seen = Received::default();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let Ok(message) = client.recv() else { break };
        if let Some((name, Some(code))) = message.command() {
            if name == "onStatus" {
                seen.statuses.push(code);
            }
            continue;
        }
        if message.type_id != type_id::VIDEO {
            continue;
        }
        let header = message.payload.get(1) == Some(&0);
        seen.first_video_was_header.get_or_insert(header);
        if header {
            continue;
        }
        seen.first_frame_was_key
            .get_or_insert(message.payload[0] == 0x17);
        let index = frame_index(&message.payload).expect("synthetic frame");
        seen.indices.push(index);
        seen.timestamps.push(message.timestamp.0);
        if index >= last {
            break;
        }
    }
    seen
}

#[test]
fn twenty_players_all_receive_every_frame_in_order() {
    let server = TestServer::start();
    let mut stream = SyntheticStream::new(50, 25, 800);
    let mut publisher = start_publisher(&server, &stream);
    let ready = Arc::new(Barrier::new(21));
    let players: Vec<_> = (0..20)
        .map(|_| {
            let url = server.url(NAME);
            let ready = ready.clone();
            thread::spawn(move || {
                let mut player = connect(&url);
                player.play().expect("play");
                ready.wait();
                receive_until(&mut player, 59)
            })
        })
        .collect();
    ready.wait();
    send_frames(&mut publisher, &mut stream, 60, Duration::from_millis(2));
    for player in players {
        let seen = player.join().expect("player thread");
        assert_eq!(seen.first_video_was_header, Some(true), "{seen:?}");
        assert_eq!(seen.first_frame_was_key, Some(true), "{seen:?}");
        assert_eq!(seen.indices.first(), Some(&0), "{seen:?}");
        assert_eq!(seen.indices.last(), Some(&59));
        assert!(seen.is_consecutive(), "{:?}", seen.indices);
    }
}

#[test]
fn late_player_starts_on_the_current_keyframe_within_300ms() {
    let server = TestServer::start();
    let mut stream = SyntheticStream::new(25, 25, 1500);
    let mut publisher = start_publisher(&server, &stream);
    // Two whole GOPs and part of a third: the cache holds frames 50..=61 once the
    // server has taken them all in.
    send_frames(&mut publisher, &mut stream, 62, Duration::ZERO);
    thread::sleep(Duration::from_millis(300));
    let mut player = connect(&server.url(NAME));
    let asked = Instant::now();
    player.play().expect("play");
    let mut first_key = None;
    let mut first_video_header = None;
    let mut indices = Vec::new();
    while indices.len() < 12 {
        let message = player.recv_media().expect("media");
        if message.type_id != type_id::VIDEO {
            continue;
        }
        if message.payload[1] == 0 {
            first_video_header.get_or_insert(true);
            continue;
        }
        first_video_header.get_or_insert(false);
        if first_key.is_none() {
            assert_eq!(message.payload[0], 0x17, "first frame must be a keyframe");
            first_key = Some(asked.elapsed());
        }
        indices.push(frame_index(&message.payload).unwrap());
    }
    let waited = first_key.unwrap();
    assert_eq!(first_video_header, Some(true));
    assert_eq!(indices, (50..62).collect::<Vec<_>>());
    assert!(
        waited < Duration::from_millis(300),
        "first keyframe after {waited:?}"
    );
    // And the live frames follow the cached ones with no gap or duplicate.
    send_frames(&mut publisher, &mut stream, 3, Duration::ZERO);
    let seen = receive_until(&mut player, 64);
    assert_eq!(seen.indices, vec![62, 63, 64]);
}

#[test]
fn wrong_publish_key_is_refused_and_the_live_stream_is_untouched() {
    let server = TestServer::start();
    let mut stream = SyntheticStream::new(50, 10, 500);
    let mut publisher = start_publisher(&server, &stream);
    let mut player = connect(&server.url(NAME));
    player.play().expect("play");
    send_frames(&mut publisher, &mut stream, 10, Duration::ZERO);

    let mut intruder = connect(&server.url("not-the-key"));
    let refused = intruder.publish().expect_err("wrong key must be refused");
    assert!(
        refused.to_string().contains("NetStream.Publish.BadName"),
        "{refused}"
    );
    // The server closes the intruder's connection.
    let closed = (0..10).any(|_| intruder.recv().is_err());
    assert!(closed, "connection stays open after a refused publish");

    send_frames(&mut publisher, &mut stream, 10, Duration::ZERO);
    let seen = receive_until(&mut player, 19);
    assert_eq!(seen.indices, (0..20).collect::<Vec<_>>());
}

#[test]
fn second_publisher_on_a_live_key_is_refused_when_takeover_is_off() {
    let server = TestServer::with(Setup {
        no_takeover: true,
        ..Setup::default()
    });
    let stream = SyntheticStream::new(25, 25, 500);
    let _first = start_publisher(&server, &stream);
    let mut second = connect(&server.url(KEY));
    let refused = second
        .publish()
        .expect_err("second publisher must be refused");
    assert!(refused.to_string().contains("BadName"), "{refused}");
}

#[test]
fn a_second_publisher_takes_the_stream_over_and_players_follow_it() {
    let server = TestServer::start();
    let mut stream = SyntheticStream::new(50, 5, 300);
    let mut first = start_publisher(&server, &stream);
    let mut player = connect(&server.url(NAME));
    player.play().expect("play");
    send_frames(&mut first, &mut stream, 5, Duration::ZERO);
    assert_eq!(receive_until(&mut player, 4).indices, vec![0, 1, 2, 3, 4]);
    // The camera comes back on a new connection while the old one still looks alive.
    let mut second_stream = SyntheticStream::new(50, 5, 300);
    let mut second = start_publisher(&server, &second_stream);
    send_frames(&mut second, &mut second_stream, 10, Duration::ZERO);
    // The old connection is closed by the server.
    let deadline = Instant::now() + Duration::from_secs(5);
    while first.recv().is_ok() {
        assert!(
            Instant::now() < deadline,
            "the old publisher was not closed"
        );
    }
    // The player stayed, saw no notice, and gets the new publisher from its first keyframe
    // on a timeline that goes on (no timestamp goes back).
    let seen = receive_until(&mut player, 9);
    assert_eq!(seen.indices.first(), Some(&0), "from the new keyframe");
    assert_eq!(seen.indices.last(), Some(&9));
    assert!(
        seen.timestamps.windows(2).all(|w| w[0] <= w[1]),
        "timestamps go on: {:?}",
        seen.timestamps
    );
    assert!(seen.statuses.is_empty(), "no notices: {:?}", seen.statuses);
}

#[test]
fn players_stay_connected_and_resume_when_the_publisher_comes_back() {
    let server = TestServer::start();
    let mut stream = SyntheticStream::new(50, 5, 300);
    let mut publisher = start_publisher(&server, &stream);
    let mut player = connect(&server.url(NAME));
    player.play().expect("play");
    send_frames(&mut publisher, &mut stream, 5, Duration::ZERO);
    assert_eq!(receive_until(&mut player, 4).indices, vec![0, 1, 2, 3, 4]);

    drop(publisher);
    // The player is told, and stays.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut told = false;
    while !told && Instant::now() < deadline {
        let message = player.recv().expect("player stays connected");
        told = message
            .command()
            .is_some_and(|(_, code)| code.as_deref() == Some("NetStream.Play.UnpublishNotify"));
    }
    assert!(told, "no UnpublishNotify");

    // A camera reconnecting starts a fresh stream; the player sees it from its keyframe.
    let mut stream = SyntheticStream::new(50, 5, 300);
    let mut publisher = start_publisher(&server, &stream);
    send_frames(&mut publisher, &mut stream, 10, Duration::from_millis(2));
    let seen = receive_until(&mut player, 9);
    assert!(
        seen.statuses
            .iter()
            .any(|s| s == "NetStream.Play.PublishNotify"),
        "{:?}",
        seen.statuses
    );
    assert_eq!(seen.first_video_was_header, Some(true));
    assert_eq!(seen.first_frame_was_key, Some(true));
    assert_eq!(seen.indices.last(), Some(&9));
    assert!(seen.is_consecutive(), "{:?}", seen.indices);
}

#[test]
fn a_player_that_never_reads_stalls_neither_the_publisher_nor_other_players() {
    // Queues deep enough (about a second of this stream) that a busy test machine's
    // scheduling hiccups do not make the reading player drop frames.
    let limits = Limits {
        player_queue_len: 256,
        player_queue_bytes: 4 << 20,
        slow_player: Duration::from_secs(1),
        ..Limits::default()
    };
    let server = TestServer::with(Setup {
        limits,
        ..Setup::default()
    });
    let mut stream = SyntheticStream::new(25, 25, 4000);
    let mut publisher = start_publisher(&server, &stream);
    let mut stalled = connect(&server.url(NAME));
    stalled.play().expect("play");
    let fast_url = server.url(NAME);
    let fast = thread::spawn(move || {
        let mut player = connect(&fast_url);
        player.play().expect("play");
        receive_until(&mut player, 599)
    });
    thread::sleep(Duration::from_millis(200));
    // 600 frames of 20 KB at about 4 MB/s: 12 MB, more than the stalled player's socket
    // buffers and queue hold together.
    let started = Instant::now();
    send_frames(&mut publisher, &mut stream, 600, Duration::from_millis(5));
    let publishing_took = started.elapsed();
    let seen = fast.join().expect("fast player");
    assert!(
        seen.is_consecutive(),
        "fast player saw gaps: {:?}",
        seen.indices
    );
    assert_eq!(seen.indices.last(), Some(&599));
    assert!(
        publishing_took < Duration::from_secs(10),
        "publisher was held up: {publishing_took:?}"
    );
    // The stalled player was cut off: once its buffers drain, the connection ends.
    let mut ended = false;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if stalled.recv().is_err() {
            ended = true;
            break;
        }
    }
    assert!(ended, "the stalled player was never disconnected");
}

#[test]
fn play_key_is_required_when_configured() {
    let server = TestServer::with(Setup {
        play_keys: vec!["viewer".into()],
        ..Setup::default()
    });
    let stream = SyntheticStream::new(25, 25, 500);
    let _publisher = start_publisher(&server, &stream);
    let mut anonymous = connect(&server.url(NAME));
    assert!(anonymous.play().is_err());
    let mut wrong = connect(&server.url(&format!("{NAME}?key=guess")));
    assert!(wrong.play().is_err());
    let mut viewer = connect(&server.url(&format!("{NAME}?key=viewer")));
    viewer.play().expect("right play key");
}

#[test]
fn plain_rtmp_publisher_reaches_rtmps_players_when_enabled() {
    let server = TestServer::with(Setup {
        plain: true,
        ..Setup::default()
    });
    let mut stream = SyntheticStream::new(50, 10, 500);
    let mut publisher = connect(&server.plain_url(KEY));
    publisher.publish().expect("publish over plain rtmp");
    for (kind, ts, payload) in stream.headers() {
        publisher.send_media(kind, ts, &payload).unwrap();
    }
    let mut player = connect(&server.url(NAME));
    player.play().expect("play");
    send_frames(&mut publisher, &mut stream, 10, Duration::ZERO);
    assert_eq!(
        receive_until(&mut player, 9).indices,
        (0..10).collect::<Vec<_>>()
    );
}

#[test]
fn plain_rtmp_is_off_unless_asked_for() {
    let server = TestServer::start();
    assert!(server.rtmp_addr.is_none());
}

#[test]
fn a_publisher_may_name_the_stream_and_give_the_key_as_a_query() {
    let server = TestServer::start();
    let mut stream = SyntheticStream::new(50, 5, 300);
    let mut publisher = connect(&server.url(&format!("{NAME}?key={KEY}")));
    publisher.publish().expect("publish with NAME?key=KEY");
    for (kind, ts, payload) in stream.headers() {
        publisher.send_media(kind, ts, &payload).expect("headers");
    }
    let mut player = connect(&server.url(NAME));
    player.play().expect("play");
    send_frames(&mut publisher, &mut stream, 5, Duration::ZERO);
    assert_eq!(receive_until(&mut player, 4).indices, vec![0, 1, 2, 3, 4]);
    // The key of one stream does not publish another name.
    let mut wrong = connect(&server.url(&format!("other?key={KEY}")));
    let refused = wrong
        .publish()
        .expect_err("a key publishes only its own stream");
    assert!(refused.to_string().contains("BadName"), "{refused}");
}

#[test]
fn playing_a_publish_key_or_an_unknown_name_finds_no_stream() {
    let server = TestServer::start();
    let stream = SyntheticStream::new(25, 25, 500);
    let _publisher = start_publisher(&server, &stream);
    for name in [KEY, "no-such-stream"] {
        let mut player = connect(&server.url(name));
        let refused = player.play().expect_err("not a stream name");
        assert!(
            refused.to_string().contains("StreamNotFound"),
            "{name}: {refused}"
        );
    }
}

#[test]
fn publishing_to_another_app_is_refused_as_a_bad_name() {
    let server = TestServer::start();
    let mut url = server.url(KEY);
    url.app = "Live".into();
    let mut publisher = connect(&url);
    let refused = publisher.publish().expect_err("unknown app");
    assert!(refused.to_string().contains("BadName"), "{refused}");
}

#[test]
fn a_player_whose_publisher_left_waits_for_its_return_within_the_play_wait_limit() {
    let server = TestServer::with(Setup {
        limits: Limits {
            play_wait: Duration::from_secs(2),
            ..Limits::default()
        },
        ..Setup::default()
    });
    let mut stream = SyntheticStream::new(50, 5, 300);
    let mut publisher = start_publisher(&server, &stream);
    let mut player = connect(&server.url(NAME));
    player.play().expect("play");
    send_frames(&mut publisher, &mut stream, 5, Duration::ZERO);
    assert_eq!(receive_until(&mut player, 4).indices, vec![0, 1, 2, 3, 4]);
    // Leaves, and comes back within the limit: the player resumes.
    drop(publisher);
    thread::sleep(Duration::from_millis(1200));
    let mut back = SyntheticStream::new(50, 5, 300);
    let mut publisher = start_publisher(&server, &back);
    send_frames(&mut publisher, &mut back, 5, Duration::ZERO);
    let seen = receive_until(&mut player, 4);
    assert_eq!(
        seen.statuses,
        [
            "NetStream.Play.UnpublishNotify",
            "NetStream.Play.PublishNotify"
        ]
    );
    assert_eq!(seen.indices, vec![0, 1, 2, 3, 4]);
    // Leaves for good: after the limit the player is told the stream is gone, and closed.
    drop(publisher);
    let left = Instant::now();
    let mut statuses = Vec::new();
    while let Ok(message) = player.recv() {
        if let Some((_, Some(code))) = message.command() {
            statuses.push(code);
        }
        assert!(left.elapsed() < Duration::from_secs(10), "never closed");
    }
    let waited = left.elapsed();
    assert_eq!(
        statuses,
        [
            "NetStream.Play.UnpublishNotify",
            "NetStream.Play.StreamNotFound"
        ]
    );
    assert!(
        waited >= Duration::from_millis(1800) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
}
