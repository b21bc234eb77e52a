//! Enhanced RTMP v2 through the session: capabilities in `connect`, ReconnectRequest, and a
//! real multitrack publish fed whole and byte by byte.

use super::*;
use crate::rtmp::enhanced::{ReconnectRequest, caps_ex};

/// `connect` with `props` added to the command object; returns the `_result` properties
/// object's keys and the decoded caps.
fn connect_with(
    peer: &mut Peer,
    props: impl FnOnce(&mut Amf0Writer<'_>) -> Result<(), AmfError>,
) -> (Vec<String>, ConnectCaps) {
    let payload = command("connect", 1.0, |w| {
        w.object_start()?.property("app")?.string("live")?;
        props(w)?;
        w.object_end()?;
        Ok(())
    });
    peer.send(type_id::COMMAND_AMF0, 0, &payload).unwrap();
    let reply = result_payload(peer);
    let values = amf0::decode_all(&reply, &AmfLimits::default()).unwrap();
    let keys = match &values[2] {
        amf0::Amf0Value::Object(props) => props.iter().map(|(k, _)| k.to_string()).collect(),
        other => panic!("properties {other:?}"),
    };
    (keys, ConnectCaps::from_command_object(&values[2]))
}

/// The payload of the `_result` the session sent.
fn result_payload(peer: &mut Peer) -> Vec<u8> {
    let mut pos = 0;
    let mut found = None;
    loop {
        match peer.reader.read(&peer.replies[pos..]).unwrap() {
            ChunkRead::NeedMore { consumed } => {
                pos += consumed;
                if consumed == 0 {
                    break;
                }
            }
            ChunkRead::Message { consumed, message } => {
                pos += consumed;
                if message.header.type_id == type_id::COMMAND_AMF0 {
                    found = Some(message.payload.to_vec());
                }
            }
        }
    }
    peer.replies.drain(..pos);
    found.expect("a command reply")
}

#[test]
fn a_legacy_connect_gets_the_legacy_result_byte_for_byte() {
    let mut peer = Peer::new(SessionConfig::default());
    let (keys, caps) = connect_with(&mut peer, |w| {
        w.property("tcUrl")?.string("rtmp://h/live")?;
        Ok(())
    });
    assert_eq!(keys, ["fmsVer", "capabilities"]);
    assert!(!caps.declared);
    assert!(!peer.session.client_caps().declared);
    // The exact bytes of the reply rtmpsd has always sent.
    let mut expected = [0u8; reply::MAX_REPLY_LEN];
    let len = {
        let mut w = Amf0Writer::new(&mut expected);
        w.string("_result").unwrap().number(1.0).unwrap();
        w.object_start().unwrap();
        w.property("fmsVer")
            .unwrap()
            .string("FMS/3,0,1,123")
            .unwrap();
        w.property("capabilities").unwrap().number(31.0).unwrap();
        w.object_end().unwrap();
        w.object_start().unwrap();
        w.property("level").unwrap().string("status").unwrap();
        w.property("code")
            .unwrap()
            .string("NetConnection.Connect.Success")
            .unwrap();
        w.property("description")
            .unwrap()
            .string("Connection succeeded.")
            .unwrap();
        w.property("objectEncoding").unwrap().number(0.0).unwrap();
        w.object_end().unwrap();
        w.len()
    };
    let mut built = [0u8; reply::MAX_REPLY_LEN];
    let built_len = reply::connect_success(&mut built, 1.0, 0.0, false).unwrap();
    assert_eq!(built[..built_len], expected[..len]);
}

#[test]
fn an_enhanced_connect_gets_rtmpsds_capabilities() {
    let mut peer = Peer::new(SessionConfig::default());
    let (keys, answer) = connect_with(&mut peer, |w| {
        w.property("fourCcList")?.strict_array_start(2)?;
        w.string("hvc1")?.string("av01")?;
        w.property("capsEx")?
            .number(f64::from(caps_ex::MULTITRACK))?;
        Ok(())
    });
    assert_eq!(
        keys,
        [
            "fmsVer",
            "capabilities",
            "fourCcList",
            "videoFourCcInfoMap",
            "audioFourCcInfoMap",
            "capsEx"
        ]
    );
    assert_eq!(answer.caps_ex, Some(0x0f));
    let caps = peer.session.client_caps();
    assert!(caps.declared && caps.supports_multitrack() && !caps.supports_reconnect());
}

#[test]
fn reconnect_request_goes_only_to_clients_that_declared_it() {
    // Legacy, and enhanced without the Reconnect bit: nothing is sent.
    for caps in [None, Some(caps_ex::MULTITRACK)] {
        let mut peer = Peer::new(SessionConfig::default());
        connect_with(&mut peer, |w| {
            if let Some(bits) = caps {
                w.property("capsEx")?.number(f64::from(bits))?;
            }
            Ok(())
        });
        assert_eq!(peer.session.request_reconnect(None, "restart"), Ok(false));
        assert!(peer.session.pending_output().is_empty());
    }
    let mut peer = Peer::new(SessionConfig::default());
    connect_with(&mut peer, |w| {
        w.property("capsEx")?
            .number(f64::from(caps_ex::RECONNECT))?;
        Ok(())
    });
    assert_eq!(
        peer.session
            .request_reconnect(Some("rtmps://b.example/live"), "moving"),
        Ok(true)
    );
    let out = peer.session.pending_output().to_vec();
    peer.session.output_sent(out.len());
    peer.replies.extend_from_slice(&out);
    let replies = peer.read_replies();
    assert_eq!(replies.len(), 1);
    let (kind, stream, name, code) = &replies[0];
    assert_eq!((*kind, *stream, name.as_str()), (20, 0, "onStatus"));
    assert_eq!(
        code.as_deref(),
        Some("NetConnection.Connect.ReconnectRequest")
    );
}

#[test]
fn reconnect_request_before_connect_is_not_sent() {
    let mut peer = Peer::new(SessionConfig::default());
    assert_eq!(peer.session.request_reconnect(None, "restart"), Ok(false));
    // And the client side recognises what the server sends.
    let mut buf = [0u8; 256];
    let len = crate::rtmp::enhanced::write_reconnect_request(&mut buf, None, "x").unwrap();
    assert!(
        ReconnectRequest::parse(&buf[..len], &AmfLimits::default())
            .unwrap()
            .is_some()
    );
}

/// The bytes of a publisher that connects, publishes and sends every tag of the captured
/// multitrack FLV as a message on stream 1.
fn multitrack_publish_bytes() -> Vec<u8> {
    let writer = ChunkWriter::new(128);
    let mut bytes = Vec::new();
    let mut message = |type_id: u8, stream_id: u32, timestamp: u32, payload: &[u8]| {
        let header = MessageHeader {
            chunk_stream_id: match type_id {
                type_id::AUDIO => 4,
                type_id::VIDEO => 6,
                _ => 3,
            },
            timestamp: Timestamp(timestamp),
            type_id,
            stream_id,
        };
        writer.write_to_vec(&header, payload, &mut bytes);
    };
    let connect = command("connect", 1.0, |w| {
        w.object_start()?.property("app")?.string("live")?;
        w.property("capsEx")?
            .number(f64::from(caps_ex::MULTITRACK))?;
        w.object_end()?;
        Ok(())
    });
    message(type_id::COMMAND_AMF0, 0, 0, &connect);
    message(
        type_id::COMMAND_AMF0,
        0,
        0,
        &command("createStream", 2.0, |w| {
            w.null()?;
            Ok(())
        }),
    );
    message(
        type_id::COMMAND_AMF0,
        1,
        0,
        &command("publish", 3.0, |w| {
            w.null()?.string("key")?;
            Ok(())
        }),
    );
    let flv = include_bytes!("../../testdata/ffmpeg9-multitrack.flv");
    let mut at = 13;
    while at + 11 <= flv.len() {
        let size = u32::from_be_bytes([0, flv[at + 1], flv[at + 2], flv[at + 3]]) as usize;
        let timestamp = u32::from_be_bytes([flv[at + 7], flv[at + 4], flv[at + 5], flv[at + 6]]);
        message(flv[at], 1, timestamp, &flv[at + 11..at + 11 + size]);
        at += 11 + size + 4;
    }
    bytes
}

/// Feeds `bytes` `step` at a time to a session past its handshake, accepting the publish;
/// returns each media event as (kind, tracks, key, packet).
fn media_events(bytes: &[u8], step: usize) -> Vec<String> {
    let mut peer = Peer::new(SessionConfig::default());
    let mut events = Vec::new();
    let mut held: Vec<u8> = Vec::new();
    for piece in bytes.chunks(step) {
        held.extend_from_slice(piece);
        loop {
            let fed = peer.session.feed(&held).expect("ffmpeg's bytes parse");
            let consumed = fed.consumed;
            let mut accept = None;
            match fed.event {
                Some(SessionEvent::PublishRequested { stream_id, .. }) => accept = Some(stream_id),
                Some(SessionEvent::Media(media)) => events.push(match media.kind {
                    MediaKind::Video(tag) => format!(
                        "{} video {:?} {:?} key={} {:?}",
                        media.timestamp.0, tag.tracks, tag.codec, tag.keyframe, tag.packet
                    ),
                    MediaKind::Audio(tag) => format!(
                        "{} audio {:?} {:?} {:?}",
                        media.timestamp.0, tag.tracks, tag.codec, tag.packet
                    ),
                    other => format!("{other:?}"),
                }),
                Some(_) => {}
                None if consumed == 0 => break,
                None => {}
            }
            held.drain(..consumed);
            if let Some(stream_id) = accept {
                peer.session.accept_publish(stream_id).unwrap();
            }
            let out = peer.session.pending_output().len();
            peer.session.output_sent(out);
        }
    }
    assert!(held.is_empty());
    events
}

#[test]
fn a_real_multitrack_publish_gives_every_track_whole_or_byte_by_byte() {
    let bytes = multitrack_publish_bytes();
    let whole = media_events(&bytes, bytes.len());
    assert_eq!(whole[0], "Metadata");
    assert_eq!(whole[1], "0 video {0} Avc key=true SequenceHeader");
    assert_eq!(whole[2], "0 video {1} Hevc key=true SequenceHeader");
    assert_eq!(whole[4], "0 audio {1} Opus SequenceStart");
    assert_eq!(whole[5], "0 audio {1} Opus MultichannelConfig");
    assert_eq!(whole[6], "0 audio {2} Flac SequenceStart");
    assert!(whole.contains(&"0 video {1} Hevc key=true Frame".to_string()));
    assert!(whole.contains(&"80 video {0} Avc key=true Frame".to_string()));
    assert_eq!(media_events(&bytes, 1), whole);
    assert_eq!(media_events(&bytes, 97), whole);
}
