//! The client session against rtmpsd's own server session (both sans-IO, bytes piped
//! between them whole and one byte at a time), and against scripted server replies.

use super::*;
use crate::rtmp::Timestamp;
use crate::rtmp::amf0::{Amf0Writer, AmfError};
use crate::rtmp::chunk::{ChunkWriter, MessageHeader};
use crate::rtmp::session::{Session, SessionConfig, SessionEvent};

const KEY: &str = "upstream-secret-key";

fn plan() -> PublishPlan {
    PublishPlan {
        app: "live".into(),
        tc_url: "rtmps://127.0.0.1:1936/live".into(),
        stream_name: KEY.into(),
        flash_ver: "FMLE/3.0 (compatible; rtmpsd)".into(),
    }
}

fn client(config: ClientConfig) -> ClientSession {
    ClientSession::new(config, plan(), &[3; RANDOM_SIZE], 0).unwrap()
}

/// What the server side does with a publish request.
#[derive(Clone, Copy)]
enum Answer {
    Accept,
    Reject,
}

/// A client and a server session wired back to back.
struct Pair {
    client: ClientSession,
    server: Session,
    to_server: Vec<u8>,
    to_client: Vec<u8>,
    client_events: Vec<String>,
    server_events: Vec<String>,
    answer: Answer,
}

impl Pair {
    fn new(config: ClientConfig, answer: Answer) -> Pair {
        Pair {
            client: client(config),
            server: Session::new(SessionConfig::default(), &[7; RANDOM_SIZE], 0),
            to_server: Vec::new(),
            to_client: Vec::new(),
            client_events: Vec::new(),
            server_events: Vec::new(),
            answer,
        }
    }

    /// Moves bytes both ways, at most `step` bytes per feed, until both sides are quiet.
    fn pump(&mut self, step: usize) {
        for _ in 0..100_000 {
            let out = self.client.pending_output().to_vec();
            self.client.output_sent(out.len());
            self.to_server.extend_from_slice(&out);
            let out = self.server.pending_output().to_vec();
            self.server.output_sent(out.len());
            self.to_client.extend_from_slice(&out);
            let moved = self.feed_server(step) | self.feed_client(step);
            if !moved
                && self.client.pending_output().is_empty()
                && self.server.pending_output().is_empty()
            {
                return;
            }
        }
        panic!("the sessions never went quiet");
    }

    /// Feeds the server what it has been sent, `step` more bytes "arriving" whenever it
    /// needs more, until it has taken everything.
    fn feed_server(&mut self, step: usize) -> bool {
        let mut moved = false;
        let mut avail = step.min(self.to_server.len());
        loop {
            let fed = self.server.feed(&self.to_server[..avail]).unwrap();
            let consumed = fed.consumed;
            let had_event = fed.event.is_some();
            let answer = match fed.event {
                Some(SessionEvent::PublishRequested { stream_id, name }) => {
                    self.server_events.push(format!("publish {name}"));
                    Some(stream_id)
                }
                Some(SessionEvent::Connected { app }) => {
                    self.server_events.push(format!("connected {app}"));
                    None
                }
                Some(SessionEvent::StreamClosed { stream_id, .. }) => {
                    self.server_events.push(format!("closed {stream_id}"));
                    None
                }
                Some(SessionEvent::HandshakeDone { .. }) => {
                    self.server_events.push("handshake".into());
                    None
                }
                Some(other) => {
                    self.server_events.push(format!("{other:?}"));
                    None
                }
                None => None,
            };
            if let Some(stream_id) = answer {
                match self.answer {
                    Answer::Accept => self.server.accept_publish(stream_id).unwrap(),
                    Answer::Reject => self.server.reject_publish(stream_id, "no").unwrap(),
                }
            }
            self.to_server.drain(..consumed);
            avail -= consumed;
            moved |= consumed > 0;
            if consumed == 0 && !had_event {
                if avail == self.to_server.len() {
                    return moved;
                }
                avail = (avail + step).min(self.to_server.len());
            }
        }
    }

    /// Feeds the client likewise.
    fn feed_client(&mut self, step: usize) -> bool {
        let mut moved = false;
        let mut avail = step.min(self.to_client.len());
        loop {
            let fed = self.client.feed(&self.to_client[..avail]).unwrap();
            let consumed = fed.consumed;
            let event = fed.event.map(|e| format!("{e:?}"));
            let had_event = event.is_some();
            self.client_events.extend(event);
            self.to_client.drain(..consumed);
            avail -= consumed;
            moved |= consumed > 0;
            if consumed == 0 && !had_event {
                if avail == self.to_client.len() {
                    return moved;
                }
                avail = (avail + step).min(self.to_client.len());
            }
        }
    }
}

fn publishing_events() -> Vec<String> {
    vec![
        "HandshakeDone { digest: true }".to_string(),
        "Connected".to_string(),
        "Publishing { stream_id: 1 }".to_string(),
    ]
}

#[test]
fn publishes_to_rtmpsd_in_the_order_obs_uses() {
    let mut pair = Pair::new(ClientConfig::default(), Answer::Accept);
    pair.pump(usize::MAX);
    assert_eq!(pair.client_events, publishing_events());
    assert_eq!(
        pair.server_events,
        ["handshake", "connected live", &format!("publish {KEY}")]
    );
    assert_eq!(pair.client.publishing_stream(), Some(1));
    assert_eq!(pair.client.step(), ClientStep::Publishing);
    assert_eq!(
        pair.server.stream_role(1),
        Some(crate::rtmp::session::StreamRole::Publishing)
    );
}

#[test]
fn byte_at_a_time_gives_the_same_conversation() {
    for step in [1, 2, 7, 128, 1537] {
        let mut pair = Pair::new(ClientConfig::default(), Answer::Accept);
        pair.pump(step);
        assert_eq!(pair.client_events, publishing_events(), "step {step}");
        assert_eq!(pair.client.publishing_stream(), Some(1), "step {step}");
    }
}

#[test]
fn plain_handshake_works_too() {
    let config = ClientConfig {
        digest_handshake: false,
        ..ClientConfig::default()
    };
    let mut pair = Pair::new(config, Answer::Accept);
    pair.pump(usize::MAX);
    assert_eq!(pair.client_events[0], "HandshakeDone { digest: false }");
    assert_eq!(pair.client.publishing_stream(), Some(1));
}

#[test]
fn a_refused_publish_is_reported_with_the_servers_code() {
    let mut pair = Pair::new(ClientConfig::default(), Answer::Reject);
    pair.pump(usize::MAX);
    let last = pair.client_events.last().unwrap();
    assert!(last.starts_with("Refused { step: Publish"), "{last}");
    assert!(last.contains("NetStream.Publish.BadName"), "{last}");
    assert_eq!(pair.client.publishing_stream(), None);
}

#[test]
fn unpublish_sends_fcunpublish_and_delete_stream_and_then_nothing() {
    let mut pair = Pair::new(ClientConfig::default(), Answer::Accept);
    pair.pump(usize::MAX);
    pair.client.unpublish().unwrap();
    pair.pump(usize::MAX);
    assert_eq!(pair.server_events.last().unwrap(), "closed 1");
    assert_eq!(pair.client.publishing_stream(), None);
    pair.client.unpublish().unwrap();
    assert!(pair.client.pending_output().is_empty());
}

#[test]
fn the_server_acknowledges_by_the_window_the_client_announced() {
    let config = ClientConfig {
        window_ack_size: 1000,
        ..ClientConfig::default()
    };
    let mut pair = Pair::new(config, Answer::Accept);
    pair.pump(usize::MAX);
    // Media the caller writes itself, as a push does, on the publishing stream.
    let writer = ChunkWriter::new(pair.client.out_chunk_size());
    let header = MessageHeader {
        chunk_stream_id: csid::VIDEO,
        timestamp: Timestamp(40),
        type_id: type_id::VIDEO,
        stream_id: 1,
    };
    let mut media = Vec::new();
    writer.write_to_vec(&header, &[0x17, 1, 0, 0, 0, 0xAA, 0xBB], &mut media);
    for _ in 0..200 {
        pair.to_server.extend_from_slice(&media);
    }
    pair.pump(usize::MAX);
    assert!(
        pair.client_events
            .iter()
            .any(|e| e.starts_with("Acknowledged")),
        "{:?}",
        pair.client_events
    );
}

/// Bytes a scripted server sends: one message on `csid`.
fn server_message(type_id: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let header = MessageHeader {
        chunk_stream_id: 3,
        timestamp: Timestamp::ZERO,
        type_id,
        stream_id,
    };
    let mut out = Vec::new();
    ChunkWriter::new(128).write_to_vec(&header, payload, &mut out);
    out
}

fn amf(write: impl FnOnce(&mut Amf0Writer<'_>) -> Result<(), AmfError>) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let mut w = Amf0Writer::new(&mut buf);
    write(&mut w).unwrap();
    let len = w.len();
    buf[..len].to_vec()
}

/// A client past its handshake with a real server session, all output taken.
fn handshaken_client() -> ClientSession {
    let mut pair = Pair::new(ClientConfig::default(), Answer::Accept);
    // Run the handshake only: feed the server C0C1 and the client S0S1S2.
    let hello = pair.client.pending_output().to_vec();
    pair.client.output_sent(hello.len());
    let fed = pair.server.feed(&hello).unwrap();
    assert_eq!(fed.consumed, hello.len());
    let reply = pair.server.pending_output().to_vec();
    let mut pos = 0;
    while pos < reply.len() {
        let fed = pair.client.feed(&reply[pos..]).unwrap();
        pos += fed.consumed;
        if fed.event.is_some() {
            break;
        }
    }
    assert!(pair.client.handshake_done());
    let out = pair.client.pending_output().len();
    pair.client.output_sent(out);
    pair.client
}

/// Feeds `bytes` whole; returns the events as text.
fn feed_all(client: &mut ClientSession, bytes: &[u8]) -> Result<Vec<String>, Error> {
    let mut events = Vec::new();
    let mut pos = 0;
    loop {
        let fed = client.feed(&bytes[pos..])?;
        pos += fed.consumed;
        match fed.event {
            Some(event) => events.push(format!("{event:?}")),
            None if fed.consumed == 0 => break,
            None => {}
        }
    }
    Ok(events)
}

#[test]
fn a_connect_error_is_a_refusal_at_connect() {
    let mut client = handshaken_client();
    let reply = amf(|w| {
        w.string("_error")?.number(1.0)?.null()?;
        w.object_start()?;
        w.property("level")?.string("error")?;
        w.property("code")?
            .string("NetConnection.Connect.Rejected")?;
        w.property("description")?.string("bad app")?;
        w.object_end()?;
        Ok(())
    });
    let events = feed_all(
        &mut client,
        &server_message(type_id::COMMAND_AMF0, 0, &reply),
    )
    .unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        events[0].starts_with("Refused { step: Connect"),
        "{events:?}"
    );
    assert!(events[0].contains("bad app"));
    assert_eq!(
        client.step(),
        ClientStep::Publishing,
        "finished: nothing more to do"
    );
}

#[test]
fn errors_of_other_transactions_and_notices_are_ignored() {
    let mut client = handshaken_client();
    let release_error = amf(|w| {
        w.string("_error")?.number(2.0)?.null()?;
        Ok(())
    });
    let bw_done = amf(|w| {
        w.string("onBWDone")?.number(0.0)?.null()?;
        Ok(())
    });
    let mut bytes = server_message(type_id::COMMAND_AMF0, 0, &release_error);
    bytes.extend(server_message(type_id::COMMAND_AMF0, 0, &bw_done));
    assert!(feed_all(&mut client, &bytes).unwrap().is_empty());
    assert_eq!(client.step(), ClientStep::Connect);
}

#[test]
fn a_create_stream_result_without_a_stream_id_is_a_protocol_error() {
    let mut client = handshaken_client();
    let connected = amf(|w| {
        w.string("_result")?.number(1.0)?.null()?;
        Ok(())
    });
    let events = feed_all(
        &mut client,
        &server_message(type_id::COMMAND_AMF0, 0, &connected),
    )
    .unwrap();
    assert_eq!(events, ["Connected"]);
    // releaseStream = 2, FCPublish = 3, createStream = 4.
    for bad in [None, Some(0.0), Some(1.5), Some(-1.0), Some(5e9)] {
        let mut client = handshaken_client();
        feed_all(
            &mut client,
            &server_message(type_id::COMMAND_AMF0, 0, &connected),
        )
        .unwrap();
        let result = amf(|w| {
            w.string("_result")?.number(4.0)?.null()?;
            if let Some(v) = bad {
                w.number(v)?;
            }
            Ok(())
        });
        let err = feed_all(
            &mut client,
            &server_message(type_id::COMMAND_AMF0, 0, &result),
        )
        .unwrap_err();
        assert_eq!(
            err,
            Error::Session(SessionError::BadArgument {
                command: CommandName::CreateStream,
                index: 3
            }),
            "{bad:?}"
        );
    }
}

#[test]
fn pings_are_answered_and_a_server_window_is_acknowledged() {
    let mut client = handshaken_client();
    let mut ping = [0u8; MAX_CONTROL_LEN];
    let len = ControlMessage::UserControl(UserControlEvent::PingRequest(77)).encode(&mut ping);
    let bytes = server_message(type_id::USER_CONTROL, 0, &ping[..len]);
    assert!(feed_all(&mut client, &bytes).unwrap().is_empty());
    let out = client.pending_output().to_vec();
    client.output_sent(out.len());
    let mut reader = ChunkReader::new(ChunkLimits::default());
    let ChunkRead::Message { message, .. } = reader.read(&out).unwrap() else {
        panic!("no pong");
    };
    assert_eq!(
        ControlMessage::parse(message.header.type_id, message.payload).unwrap(),
        ControlMessage::UserControl(UserControlEvent::PingResponse(77))
    );
    let mut window = [0u8; MAX_CONTROL_LEN];
    let len = ControlMessage::WindowAckSize(100).encode(&mut window);
    let mut bytes = server_message(type_id::WINDOW_ACK_SIZE, 0, &window[..len]);
    let notice = amf(|w| {
        w.string("onBWDone")?
            .number(0.0)?
            .null()?
            .string(&"x".repeat(150))?;
        Ok(())
    });
    bytes.extend(server_message(type_id::COMMAND_AMF0, 0, &notice));
    feed_all(&mut client, &bytes).unwrap();
    assert!(
        !client.pending_output().is_empty(),
        "an acknowledgement is due"
    );
}

#[test]
fn an_oversized_plan_is_refused_and_debug_output_hides_the_key() {
    let long = PublishPlan {
        stream_name: "k".repeat(MAX_STREAM_NAME_LEN + 1),
        ..plan()
    };
    assert!(ClientSession::new(ClientConfig::default(), long, &[0; RANDOM_SIZE], 0).is_err());
    let at_limit = PublishPlan {
        stream_name: "k".repeat(MAX_STREAM_NAME_LEN),
        app: "a".repeat(MAX_APP_LEN),
        tc_url: "t".repeat(MAX_TC_URL_LEN),
        flash_ver: "f".repeat(MAX_FLASH_VER_LEN),
    };
    // Every command still fits its buffer with every field at its limit (rtmpsd's own server
    // allows shorter names, so a scripted server answers here).
    let mut client = ClientSession::new(ClientConfig::default(), at_limit, &[0; RANDOM_SIZE], 0)
        .expect("every field at its limit fits");
    let mut server = Session::new(SessionConfig::default(), &[7; RANDOM_SIZE], 0);
    let hello = client.pending_output().to_vec();
    client.output_sent(hello.len());
    server.feed(&hello).unwrap();
    let events = feed_all(&mut client, server.pending_output()).unwrap();
    assert_eq!(events, ["HandshakeDone { digest: true }"]);
    let connected = amf(|w| {
        w.string("_result")?.number(1.0)?.null()?;
        Ok(())
    });
    let created = amf(|w| {
        w.string("_result")?.number(4.0)?.null()?.number(1.0)?;
        Ok(())
    });
    let mut bytes = server_message(type_id::COMMAND_AMF0, 0, &connected);
    bytes.extend(server_message(type_id::COMMAND_AMF0, 0, &created));
    assert_eq!(feed_all(&mut client, &bytes).unwrap(), ["Connected"]);
    assert_eq!(client.step(), ClientStep::Publish);
    assert!(client.pending_output().len() > 4 * MAX_STREAM_NAME_LEN);
    assert!(!format!("{:?}", plan()).contains(KEY));
}

#[test]
fn a_server_that_is_no_rtmp_server_fails_the_handshake() {
    let mut client = client(ClientConfig::default());
    assert!(client.feed(b"HTTP/1.1 400 Bad Request\r\n").is_err());
}
