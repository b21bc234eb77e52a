//! The session driven by a scripted peer, and by captured real-client bytes.

use super::*;
use crate::rtmp::amf0::AmfError;
use crate::rtmp::amf0::{self, Amf0Writer, AmfLimits};
use crate::rtmp::chunk::ChunkLimits;
use crate::rtmp::chunk::{ChunkRead, ChunkReader, ChunkWriter, MessageHeader};
use crate::rtmp::handshake::ClientHandshake;
use crate::rtmp::handshake::{HandshakeStep, RANDOM_SIZE};
use crate::rtmp::message::type_id;
use crate::rtmp::{Error, Timestamp};

/// A scripted client: makes the bytes a publisher or player sends and reads the replies.
struct Peer {
    session: Session,
    writer: ChunkWriter,
    reader: ChunkReader,
    replies: Vec<u8>,
}

fn command(
    name: &str,
    txn: f64,
    args: impl FnOnce(&mut Amf0Writer<'_>) -> Result<(), AmfError>,
) -> Vec<u8> {
    let mut buf = [0u8; 1024];
    let mut w = Amf0Writer::new(&mut buf);
    w.string(name).unwrap().number(txn).unwrap();
    args(&mut w).unwrap();
    let len = w.len();
    buf[..len].to_vec()
}

impl Peer {
    fn new(config: SessionConfig) -> Peer {
        let mut session = Session::new(config, &[7; RANDOM_SIZE], 0);
        let mut client = ClientHandshake::new(&[9; RANDOM_SIZE], 0);
        let mut to_server = client.hello().to_vec();
        let mut events = Vec::new();
        // Drive both handshakes to the end.
        for _ in 0..4 {
            let fed = session.feed(&to_server).unwrap();
            if let Some(SessionEvent::HandshakeDone { .. }) = fed.event {
                events.push(());
            }
            to_server.drain(..fed.consumed);
            let out = session.pending_output().to_vec();
            session.output_sent(out.len());
            let mut pos = 0;
            while pos < out.len() {
                match client.feed(&out[pos..]).unwrap() {
                    HandshakeStep::Reply { consumed, reply } => {
                        to_server.extend_from_slice(reply);
                        pos += consumed;
                    }
                    HandshakeStep::NeedMore { consumed } | HandshakeStep::Done { consumed } => {
                        pos += consumed;
                        if consumed == 0 {
                            break;
                        }
                    }
                }
            }
        }
        assert!(session.handshake_done(), "handshake did not finish");
        assert_eq!(events.len(), 1);
        Peer {
            session,
            writer: ChunkWriter::new(128),
            reader: ChunkReader::new(ChunkLimits::default()),
            replies: Vec::new(),
        }
    }

    /// Sends one message; returns the events it caused, as owned descriptions.
    fn send(&mut self, type_id: u8, stream_id: u32, payload: &[u8]) -> Result<Vec<String>, Error> {
        let header = MessageHeader {
            chunk_stream_id: 3,
            timestamp: Timestamp(40),
            type_id,
            stream_id,
        };
        let mut bytes = Vec::new();
        self.writer.write_to_vec(&header, payload, &mut bytes);
        let mut events = Vec::new();
        let mut pos = 0;
        loop {
            let fed = self.session.feed(&bytes[pos..])?;
            pos += fed.consumed;
            match fed.event {
                Some(event) => events.push(format!("{event:?}")),
                None if fed.consumed == 0 => break,
                None => {}
            }
        }
        assert_eq!(pos, bytes.len());
        let out = self.session.pending_output().to_vec();
        self.session.output_sent(out.len());
        self.replies.extend_from_slice(&out);
        Ok(events)
    }

    fn connect(&mut self) -> Vec<String> {
        let payload = command("connect", 1.0, |w| {
            w.object_start()?
                .property("app")?
                .string("live")?
                .object_end()?;
            Ok(())
        });
        self.send(type_id::COMMAND_AMF0, 0, &payload).unwrap()
    }

    fn create_stream(&mut self, txn: f64) -> Result<Vec<String>, Error> {
        let payload = command("createStream", txn, |w| {
            w.null()?;
            Ok(())
        });
        self.send(type_id::COMMAND_AMF0, 0, &payload)
    }

    /// Every message the session sent, as (type id, stream id, first AMF string or "").
    fn read_replies(&mut self) -> Vec<(u8, u32, String, Option<String>)> {
        let mut seen = Vec::new();
        let mut pos = 0;
        loop {
            match self.reader.read(&self.replies[pos..]).unwrap() {
                ChunkRead::NeedMore { consumed } => {
                    pos += consumed;
                    if consumed == 0 {
                        break;
                    }
                }
                ChunkRead::Message { consumed, message } => {
                    pos += consumed;
                    let values = amf0::decode_all(message.payload, &AmfLimits::default())
                        .unwrap_or_default();
                    let name = values
                        .first()
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string();
                    let code = values
                        .iter()
                        .find_map(|v| v.get("code").and_then(|c| c.as_str()))
                        .map(String::from);
                    seen.push((message.header.type_id, message.header.stream_id, name, code));
                }
            }
        }
        self.replies.drain(..pos);
        seen
    }
}

#[test]
fn connect_answers_window_bandwidth_chunk_size_and_success() {
    let mut peer = Peer::new(SessionConfig::default());
    assert_eq!(peer.connect(), vec![r#"Connected { app: "live" }"#]);
    let replies = peer.read_replies();
    let types: Vec<u8> = replies.iter().map(|r| r.0).collect();
    assert_eq!(types, vec![5, 6, 1, 20]);
    assert_eq!(replies[3].2, "_result");
    assert_eq!(
        replies[3].3.as_deref(),
        Some("NetConnection.Connect.Success")
    );
    assert!(peer.session.is_connected());
}

#[test]
fn pipelined_publish_flow_gives_one_publish_request_then_media() {
    let mut peer = Peer::new(SessionConfig::default());
    peer.connect();
    for name in ["releaseStream", "FCPublish"] {
        let payload = command(name, 2.0, |w| {
            w.null()?.string("key")?;
            Ok(())
        });
        assert!(
            peer.send(type_id::COMMAND_AMF0, 0, &payload)
                .unwrap()
                .is_empty()
        );
    }
    peer.create_stream(4.0).unwrap();
    let publish = command("publish", 5.0, |w| {
        w.null()?.string("key?x=1")?.string("live")?;
        Ok(())
    });
    let events = peer.send(type_id::COMMAND_AMF0, 1, &publish).unwrap();
    assert_eq!(
        events,
        vec![r#"PublishRequested { stream_id: 1, name: "key?x=1" }"#]
    );
    // Media before the caller accepts is dropped, not an error.
    assert!(
        peer.send(type_id::AUDIO, 1, &[0xaf, 0x01, 0x21])
            .unwrap()
            .is_empty()
    );
    peer.session.accept_publish(1).unwrap();
    let events = peer.send(type_id::AUDIO, 1, &[0xaf, 0x01, 0x21]).unwrap();
    assert_eq!(events.len(), 1);
    assert!(
        events[0].starts_with("Media(Media { kind: Audio"),
        "{events:?}"
    );
    let replies = peer.read_replies();
    let codes: Vec<_> = replies.iter().filter_map(|r| r.3.clone()).collect();
    assert_eq!(
        codes,
        vec!["NetConnection.Connect.Success", "NetStream.Publish.Start"]
    );
}

#[test]
fn set_data_frame_is_stripped_and_marked_as_metadata() {
    let mut peer = Peer::new(SessionConfig::default());
    peer.connect();
    peer.create_stream(2.0).unwrap();
    let publish = command("publish", 3.0, |w| {
        w.null()?.string("k")?;
        Ok(())
    });
    peer.send(type_id::COMMAND_AMF0, 1, &publish).unwrap();
    peer.session.accept_publish(1).unwrap();
    let mut buf = [0u8; 128];
    let mut w = Amf0Writer::new(&mut buf);
    w.string("@setDataFrame")
        .unwrap()
        .string("onMetaData")
        .unwrap();
    w.ecma_array_start(1)
        .unwrap()
        .property("width")
        .unwrap()
        .number(320.0)
        .unwrap()
        .object_end()
        .unwrap();
    let len = w.len();
    let header = MessageHeader {
        chunk_stream_id: 4,
        timestamp: Timestamp(0),
        type_id: type_id::DATA_AMF0,
        stream_id: 1,
    };
    let mut bytes = Vec::new();
    peer.writer.write_to_vec(&header, &buf[..len], &mut bytes);
    let fed = peer.session.feed(&bytes).unwrap();
    let Some(SessionEvent::Media(media)) = fed.event else {
        panic!("no media event")
    };
    assert_eq!(media.kind, MediaKind::Metadata);
    assert_eq!(media.payload, &buf[16..len]);
}

#[test]
fn publish_before_connect_is_an_error() {
    let mut peer = Peer::new(SessionConfig::default());
    let publish = command("publish", 1.0, |w| {
        w.null()?.string("k")?;
        Ok(())
    });
    let err = peer.send(type_id::COMMAND_AMF0, 1, &publish).unwrap_err();
    assert_eq!(
        err,
        Error::Session(SessionError::OutOfOrder {
            command: CommandName::Publish
        })
    );
}

#[test]
fn play_before_create_stream_names_the_unknown_stream() {
    let mut peer = Peer::new(SessionConfig::default());
    peer.connect();
    let play = command("play", 2.0, |w| {
        w.null()?.string("k")?;
        Ok(())
    });
    let err = peer.send(type_id::COMMAND_AMF0, 1, &play).unwrap_err();
    assert_eq!(
        err,
        Error::Session(SessionError::UnknownStream {
            command: CommandName::Play,
            stream_id: 1
        })
    );
}

#[test]
fn create_stream_stops_at_the_stream_limit() {
    let config = SessionConfig {
        max_streams: 3,
        ..SessionConfig::default()
    };
    let mut peer = Peer::new(config);
    peer.connect();
    for txn in 0..3 {
        peer.create_stream(f64::from(txn)).unwrap();
    }
    assert_eq!(
        peer.create_stream(9.0).unwrap_err(),
        Error::Session(SessionError::TooManyStreams { limit: 3 })
    );
}

#[test]
fn publish_with_a_number_for_a_name_is_a_typed_error() {
    let mut peer = Peer::new(SessionConfig::default());
    peer.connect();
    peer.create_stream(2.0).unwrap();
    let publish = command("publish", 3.0, |w| {
        w.null()?.number(5.0)?;
        Ok(())
    });
    let err = peer.send(type_id::COMMAND_AMF0, 1, &publish).unwrap_err();
    assert_eq!(
        err,
        Error::Session(SessionError::BadArgument {
            command: CommandName::Publish,
            index: 3
        })
    );
}

#[test]
fn stream_name_one_over_the_limit_is_refused() {
    let config = SessionConfig {
        max_name_len: 8,
        ..SessionConfig::default()
    };
    let mut peer = Peer::new(config);
    peer.connect();
    peer.create_stream(2.0).unwrap();
    for (name, ok) in [("1234567", true), ("12345678", true), ("123456789", false)] {
        let publish = command("publish", 3.0, |w| {
            w.null()?.string(name)?;
            Ok(())
        });
        let result = peer.send(type_id::COMMAND_AMF0, 1, &publish);
        assert_eq!(result.is_ok(), ok, "{name}");
        peer.session.reject_publish(1, "test").unwrap();
    }
}

#[test]
fn ping_request_gets_a_ping_response_echoing_its_time() {
    let mut peer = Peer::new(SessionConfig::default());
    peer.connect();
    peer.read_replies();
    let mut buf = [0u8; MAX_CONTROL_LEN];
    let len = ControlMessage::UserControl(UserControlEvent::PingRequest(1234)).encode(&mut buf);
    peer.send(type_id::USER_CONTROL, 0, &buf[..len]).unwrap();
    let replies = peer.read_replies();
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].0, type_id::USER_CONTROL);
}

#[test]
fn acknowledgement_is_sent_after_the_peer_window() {
    let mut peer = Peer::new(SessionConfig::default());
    peer.connect();
    let mut buf = [0u8; MAX_CONTROL_LEN];
    let len = ControlMessage::WindowAckSize(1000).encode(&mut buf);
    peer.send(type_id::WINDOW_ACK_SIZE, 0, &buf[..len]).unwrap();
    peer.read_replies();
    peer.send(type_id::DATA_AMF3, 0, &[0u8; 1200]).unwrap();
    let replies = peer.read_replies();
    assert!(
        replies.iter().any(|r| r.0 == type_id::ACKNOWLEDGEMENT),
        "{replies:?}"
    );
}

#[test]
fn amf3_command_wrapper_must_start_with_zero() {
    let mut peer = Peer::new(SessionConfig::default());
    let mut payload = vec![0u8];
    payload.extend(command("connect", 1.0, |w| {
        w.object_start()?
            .property("app")?
            .string("live")?
            .object_end()?;
        Ok(())
    }));
    assert_eq!(
        peer.send(type_id::COMMAND_AMF3, 0, &payload).unwrap().len(),
        1
    );
    payload[0] = 0x11;
    let err = peer.send(type_id::COMMAND_AMF3, 0, &payload).unwrap_err();
    assert_eq!(
        err,
        Error::Session(SessionError::BadAmf3Wrapper { marker: 0x11 })
    );
}

#[test]
fn pending_output_is_capped() {
    let config = SessionConfig {
        max_pending_output: 200,
        ..SessionConfig::default()
    };
    let mut peer = Peer::new(config);
    let payload = command("connect", 1.0, |w| {
        w.object_start()?
            .property("app")?
            .string("live")?
            .object_end()?;
        Ok(())
    });
    // The connect reply alone is over 200 bytes; the peer has not read anything.
    let header = MessageHeader {
        chunk_stream_id: 3,
        timestamp: Timestamp(0),
        type_id: type_id::COMMAND_AMF0,
        stream_id: 0,
    };
    let mut bytes = Vec::new();
    peer.writer.write_to_vec(&header, &payload, &mut bytes);
    let err = peer.session.feed(&bytes).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Session(SessionError::OutputOverflow { limit: 200, seen }) if seen > 200
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("unread reply bytes over the limit 200")
    );
}

/// Feeds a captured client byte stream `step` bytes at a time, accepting the publish;
/// returns a short description of each event.
fn replay_capture(capture: &[u8], step: usize) -> Vec<String> {
    let mut session = Session::new(SessionConfig::default(), &[3; RANDOM_SIZE], 0);
    let mut events = Vec::new();
    let mut held: Vec<u8> = Vec::new();
    for piece in capture.chunks(step) {
        held.extend_from_slice(piece);
        loop {
            let fed = session.feed(&held).expect("a real client's bytes parse");
            let consumed = fed.consumed;
            let accept = match fed.event {
                Some(SessionEvent::PublishRequested { stream_id, name }) => {
                    events.push(format!("publish {name}"));
                    Some(stream_id)
                }
                Some(SessionEvent::Media(media)) => {
                    let kind = match media.kind {
                        MediaKind::Video(tag) => format!(
                            "video {:?} {:?} key={}",
                            tag.codec, tag.packet, tag.keyframe
                        ),
                        MediaKind::Audio(tag) => {
                            format!("audio {:?} header={}", tag.codec, tag.is_sequence_header())
                        }
                        other => format!("{other:?}"),
                    };
                    events.push(kind);
                    None
                }
                Some(other) => {
                    events.push(format!("{other:?}"));
                    None
                }
                None if consumed == 0 => break,
                None => None,
            };
            held.drain(..consumed);
            if let Some(stream_id) = accept {
                session.accept_publish(stream_id).unwrap();
            }
            let out = session.pending_output().len();
            session.output_sent(out);
        }
    }
    events
}

const FFMPEG51: &[u8] = include_bytes!("../../../tests/data/ffmpeg51-publish.c2s.bin");
const FFMPEG9_HEVC: &[u8] = include_bytes!("../../../tests/data/ffmpeg9-publish-hevc.c2s.bin");

#[test]
fn captured_ffmpeg_publish_gives_connect_publish_metadata_headers_then_a_keyframe() {
    let events = replay_capture(FFMPEG51, FFMPEG51.len());
    assert_eq!(events[0], "HandshakeDone { digest: true }");
    assert_eq!(events[1], r#"Connected { app: "live" }"#);
    assert!(events[2].starts_with("publish "), "{events:?}");
    assert_eq!(events[3], "Metadata");
    assert_eq!(events[4], "video Avc SequenceHeader key=true");
    assert_eq!(events[5], "audio Aac header=true");
    let first_frame = events
        .iter()
        .find(|e| e.contains("Frame"))
        .expect("a video frame");
    assert_eq!(first_frame, "video Avc Frame key=true");
}

#[test]
fn captured_bytes_fed_one_at_a_time_give_the_same_events() {
    let whole = replay_capture(FFMPEG51, FFMPEG51.len());
    // The capture ends mid-message; both feeds stop at the same place.
    assert_eq!(replay_capture(FFMPEG51, 1), whole);
    assert_eq!(replay_capture(FFMPEG51, 127), whole);
}

#[test]
fn captured_enhanced_rtmp_hevc_publish_is_recognised() {
    let events = replay_capture(FFMPEG9_HEVC, FFMPEG9_HEVC.len());
    assert!(
        events.contains(&"video Hevc SequenceHeader key=true".to_string()),
        "{events:?}"
    );
    let first_frame = events
        .iter()
        .find(|e| e.contains("Frame"))
        .expect("a video frame");
    assert_eq!(first_frame, "video Hevc Frame key=true");
}

#[test]
fn delete_stream_naming_the_stream_instead_of_its_id_ends_that_stream() {
    // GStreamer's rtmp2sink ends a publish with deleteStream(0, null, "<stream name>").
    let mut peer = Peer::new(SessionConfig::default());
    peer.connect();
    peer.create_stream(2.0).unwrap();
    let publish = command("publish", 3.0, |w| {
        w.null()?.string("cam1")?.string("live")?;
        Ok(())
    });
    peer.send(type_id::COMMAND_AMF0, 1, &publish).unwrap();
    peer.session.accept_publish(1).unwrap();
    let delete = command("deleteStream", 0.0, |w| {
        w.null()?.string("cam1")?;
        Ok(())
    });
    let events = peer.send(type_id::COMMAND_AMF0, 1, &delete).unwrap();
    assert_eq!(
        events,
        vec!["StreamClosed { stream_id: 1, role: Publishing }"]
    );
    assert_eq!(peer.session.stream_role(1), None, "the id is free again");
    // FFmpeg's form, with the id, and extra arguments after it, still works.
    peer.create_stream(4.0).unwrap();
    let delete = command("deleteStream", 5.0, |w| {
        w.null()?.number(1.0)?.boolean(true)?;
        Ok(())
    });
    peer.send(type_id::COMMAND_AMF0, 0, &delete).unwrap();
    assert_eq!(peer.session.stream_role(1), None);
}

#[test]
fn get_stream_length_is_answered_with_a_number() {
    let mut peer = Peer::new(SessionConfig::default());
    peer.connect();
    let ask = command("getStreamLength", 7.0, |w| {
        w.null()?.string("cam1")?;
        Ok(())
    });
    peer.send(type_id::COMMAND_AMF0, 0, &ask).unwrap();
    let mut reader = ChunkReader::new(ChunkLimits::default());
    let replies = peer.replies.clone();
    let mut pos = 0;
    let mut last = Vec::new();
    while let ChunkRead::Message { consumed, message } = reader.read(&replies[pos..]).unwrap() {
        pos += consumed;
        last = amf0::decode_all(message.payload, &AmfLimits::default())
            .unwrap_or_default()
            .iter()
            .map(|v| format!("{v:?}"))
            .collect();
    }
    assert_eq!(
        last,
        ["String(\"_result\")", "Number(7.0)", "Null", "Number(0.0)"]
    );
}

mod enhanced;
