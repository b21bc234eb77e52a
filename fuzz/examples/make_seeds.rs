//! Writes the committed seed inputs under `fuzz/seeds/<target>/`.
//!
//! Run from `fuzz/`: `cargo run --example make_seeds [CAPTURE_DIR]` (default
//! `../tests/data`, which holds `*.c2s.bin` captures of real publishers: C0+C1, C2,
//! then the chunk stream). The hand-made inputs are built with the crate's own writers.

use std::fs;
use std::path::{Path, PathBuf};

use rtmpsd::rtmp::Timestamp;
use rtmpsd::rtmp::amf0::{Amf0Writer, AmfError};
use rtmpsd::rtmp::chunk::{
    ChunkHeader, ChunkLimits, ChunkRead, ChunkReader, ChunkWriter, MessageHeader,
};
use rtmpsd::rtmp::handshake::{C0C1_LEN, HANDSHAKE_SIZE};
use rtmpsd::rtmp::client_session::{ClientConfig, ClientEvent, ClientSession, PublishPlan};
use rtmpsd::rtmp::handshake::RANDOM_SIZE;
use rtmpsd::rtmp::message::{ControlMessage, MAX_CONTROL_LEN, UserControlEvent, type_id};
use rtmpsd::rtmp::session::{Session, SessionConfig, SessionEvent};

/// C0+C1+C2: where a capture's chunk stream starts.
const HANDSHAKE_LEN: usize = C0C1_LEN + HANDSHAKE_SIZE;
/// Largest seed file.
const MAX_SEED: usize = 64 * 1024;

fn main() {
    let captures = std::env::args()
        .nth(1)
        .map_or_else(|| PathBuf::from("../tests/data"), PathBuf::from);
    let seeds = Path::new("seeds");
    let mut c2s: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in fs::read_dir(&captures).expect("capture directory") {
        let path = entry.expect("directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if let Some(stem) = name.strip_suffix(".c2s.bin") {
            c2s.push((stem.to_string(), fs::read(&path).expect("capture")));
        }
    }
    c2s.sort();
    assert!(!c2s.is_empty(), "no *.c2s.bin in {}", captures.display());
    let testdata = Path::new("../src/rtmp/testdata");
    let c1s: Vec<(&str, Vec<u8>)> = [
        "handshake_ffmpeg_c1",
        "handshake_flash_player_c1",
        "handshake_fms_s1",
    ]
    .into_iter()
    .map(|name| {
        (
            name,
            fs::read(testdata.join(format!("{name}.bin"))).expect("testdata"),
        )
    })
    .collect();
    let c2 = fs::read(testdata.join("handshake_ffmpeg_c2.bin")).expect("testdata");

    // handshake: selector byte (split at 13 * selector), then the client's bytes.
    let mut out = Seeds::new(seeds, "handshake");
    for (stem, bytes) in &c2s {
        let end = (HANDSHAKE_LEN + 64).min(bytes.len());
        out.add(stem, &[&[255], &bytes[..end]]);
        out.add(
            &format!("{stem}-split-c1"),
            &[&[60], &bytes[..HANDSHAKE_LEN]],
        );
    }
    for (name, c1) in &c1s {
        out.add(name, &[&[0], &[3], c1, &c2]);
    }
    out.add("bad-version", &[&[1], &[6], &[0; 64]]);

    // chunk_reader and session: the capture's chunk stream, whole (in 256-byte pieces)
    // and its first 2 KiB (byte by byte), then hand-made streams.
    for target in ["chunk_reader", "session"] {
        let mut out = Seeds::new(seeds, target);
        for (stem, bytes) in &c2s {
            let stream = &bytes[HANDSHAKE_LEN..];
            out.add(stem, &[&[255], &stream[..stream.len().min(MAX_SEED - 1)]]);
            out.add(
                &format!("{stem}-head"),
                &[&[0], &stream[..stream.len().min(2048)]],
            );
        }
        for (name, stream) in hand_made_streams() {
            out.add(&name, &[&[7], &stream]);
        }
    }

    // amf0_decode: every command and data payload of the captures, then hand-made values.
    let mut out = Seeds::new(seeds, "amf0_decode");
    for (stem, bytes) in &c2s {
        let mut reader = ChunkReader::new(ChunkLimits::default());
        let mut rest = &bytes[HANDSHAKE_LEN..];
        let mut n = 0;
        while let Ok(ChunkRead::Message { consumed, message }) = reader.read(rest) {
            rest = &rest[consumed..];
            if matches!(
                message.header.type_id,
                type_id::COMMAND_AMF0 | type_id::DATA_AMF0
            ) {
                out.add(&format!("{stem}-{n:02}"), &[message.payload]);
                n += 1;
            }
        }
    }
    for (name, bytes) in hand_made_amf0() {
        out.add(name, &[&bytes]);
    }

    // media_header: every tag of FFmpeg's multitrack FLV (selector 0 video, 1 audio), then
    // the spec's layouts FFmpeg does not send (ManyTracks, ManyTracksManyCodecs, ModEx).
    let mut out = Seeds::new(seeds, "media_header");
    let flv = fs::read("../src/rtmp/testdata/ffmpeg9-multitrack.flv").expect("multitrack flv");
    let mut at = 13;
    let mut n = 0;
    while at + 11 <= flv.len() {
        let kind = flv[at];
        let size = u32::from_be_bytes([0, flv[at + 1], flv[at + 2], flv[at + 3]]) as usize;
        let Some(body) = flv.get(at + 11..at + 11 + size) else {
            break;
        };
        let selector: &[u8] = match kind {
            8 => &[1],
            9 => &[0],
            _ => &[],
        };
        if !selector.is_empty() {
            out.add(&format!("ffmpeg9-multitrack-{n:02}"), &[selector, body]);
            n += 1;
        }
        at += 11 + size + 4;
    }
    for (name, selector, bytes) in hand_made_media() {
        out.add(name, &[&[selector], &bytes]);
    }

    // connect_caps: connect command objects with and without enhanced capabilities, the
    // server's answer, and reconnect requests.
    let mut out = Seeds::new(seeds, "connect_caps");
    for (name, bytes) in hand_made_caps() {
        out.add(name, &[&bytes]);
    }

    // client_session: what rtmpsd's own server session answers a publishing client, whole
    // (in 256-byte pieces) and byte by byte, accepted and refused.
    let mut out = Seeds::new(seeds, "client_session");
    for (name, accept) in [("rtmpsd-accepts", true), ("rtmpsd-refuses", false)] {
        let replies = server_replies(accept);
        out.add(name, &[&[255], &replies]);
        out.add(&format!("{name}-bytewise"), &[&[0], &replies]);
    }
}

/// Every byte rtmpsd's server session sends a `ClientSession` that publishes, until the
/// publish is answered (accepted or refused).
fn server_replies(accept: bool) -> Vec<u8> {
    let plan = PublishPlan {
        app: "live".into(),
        tc_url: "rtmps://127.0.0.1:1936/live".into(),
        stream_name: "key".into(),
        flash_ver: "FMLE/3.0 (compatible; rtmpsd)".into(),
    };
    let mut client = ClientSession::new(ClientConfig::default(), plan, &[0x5a; RANDOM_SIZE], 0)
        .expect("plan fits");
    let mut server = Session::new(SessionConfig::default(), &[0xa5; RANDOM_SIZE], 0);
    let mut replies = Vec::new();
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    for _ in 0..64 {
        to_server.extend_from_slice(client.pending_output());
        client.output_sent(client.pending_output().len());
        loop {
            let fed = server.feed(&to_server).expect("server accepts the client");
            let consumed = fed.consumed;
            let request = match fed.event {
                Some(SessionEvent::PublishRequested { stream_id, .. }) => Some(stream_id),
                _ => None,
            };
            let had_event = fed.event.is_some();
            to_server.drain(..consumed);
            if let Some(stream_id) = request {
                if accept {
                    server.accept_publish(stream_id).expect("accept");
                } else {
                    server.reject_publish(stream_id, "no").expect("reject");
                }
            }
            if consumed == 0 && !had_event {
                break;
            }
        }
        replies.extend_from_slice(server.pending_output());
        to_client.extend_from_slice(server.pending_output());
        server.output_sent(server.pending_output().len());
        loop {
            let fed = client.feed(&to_client).expect("client accepts the server");
            let consumed = fed.consumed;
            let done = matches!(
                fed.event,
                Some(ClientEvent::Publishing { .. } | ClientEvent::Refused { .. })
            );
            let had_event = fed.event.is_some();
            to_client.drain(..consumed);
            if done {
                return replies;
            }
            if consumed == 0 && !had_event {
                break;
            }
        }
    }
    panic!("the publish was never answered");
}

/// One UI24-sized track of a ManyTracks message.
fn sized_track(id: u8, body: &[u8]) -> Vec<u8> {
    let mut track = vec![id];
    track.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    track.extend_from_slice(body);
    track
}

/// Media messages in the layouts of enhanced RTMP v2 that FFmpeg does not send.
fn hand_made_media() -> Vec<(&'static str, u8, Vec<u8>)> {
    let vp9 = [0x01, 0, 0, 0, 0, 0x1f, 0x80, 0x01, 0x01, 0x01, 0, 0];
    let many = [&[0x96, 0x10][..], b"vp09", &sized_track(0, &vp9), &sized_track(1, &vp9)].concat();
    let many_codecs = [
        &[0x96, 0x21][..],
        b"av01",
        &sized_track(0, &[0x12, 0]),
        b"hvc1",
        &sized_track(2, &[0, 0, 0, 0x26]),
    ]
    .concat();
    let mod_ex = [&[0x97, 0x02, 0, 0x03, 0xe8, 0x06, 0x03][..], b"avc1", &[1, 0x65]].concat();
    let audio_many = [
        &[0x95, 0x21][..],
        b"Opus",
        &sized_track(0, &[0xf8]),
        b"fLaC",
        &sized_track(1, &[0xff, 0xf8]),
    ]
    .concat();
    let channels = [&[0x94][..], b"Opus", &[2, 2, 0, 1]].concat();
    vec![
        ("video-many-tracks", 0, many),
        ("video-many-codecs", 0, many_codecs),
        ("video-mod-ex-multitrack", 0, mod_ex),
        ("audio-many-codecs", 1, audio_many),
        ("audio-custom-channels", 1, channels),
        ("audio-silence", 1, Vec::new()),
    ]
}

/// Enhanced `connect` objects, the server's answer and reconnect requests, as AMF0.
fn hand_made_caps() -> Vec<(&'static str, Vec<u8>)> {
    use rtmpsd::rtmp::enhanced::caps::{write_client_caps, write_server_caps};
    use rtmpsd::rtmp::enhanced::{SERVER_CAPS_EX, fourcc_info, write_reconnect_request};
    let object = |props: &dyn Fn(&mut Amf0Writer<'_>) -> Result<(), AmfError>| {
        amf(|w| {
            w.object_start()?.property("app")?.string("live")?;
            props(w)?;
            w.object_end()?;
            Ok(())
        })
    };
    let mut request = vec![0u8; 512];
    let len = write_reconnect_request(&mut request, Some("//b.example/live"), "moving")
        .expect("request fits");
    request.truncate(len);
    vec![
        (
            "ffmpeg-fourcc-list",
            object(&|w| {
                w.property("fourCcList")?.strict_array_start(3)?;
                w.string("hvc1")?.string("av01")?.string("Opus")?;
                Ok(())
            }),
        ),
        (
            "client-caps",
            object(&|w| write_client_caps(w, fourcc_info::CAN_FORWARD, true, SERVER_CAPS_EX)),
        ),
        ("server-caps", object(&|w| write_server_caps(w))),
        ("reconnect-request", request),
    ]
}

/// One target's seed directory, emptied first.
struct Seeds {
    dir: PathBuf,
}

impl Seeds {
    fn new(root: &Path, target: &str) -> Seeds {
        let dir = root.join(target);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("seed directory");
        Seeds { dir }
    }

    fn add(&mut self, name: &str, parts: &[&[u8]]) {
        let bytes = parts.concat();
        assert!(bytes.len() <= MAX_SEED, "{name}: {} bytes", bytes.len());
        fs::write(self.dir.join(format!("{name}.bin")), bytes).expect("seed file");
    }
}

/// AMF0 bytes written by `build`.
fn amf(build: impl FnOnce(&mut Amf0Writer<'_>) -> Result<(), AmfError>) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let mut w = Amf0Writer::new(&mut buf);
    build(&mut w).expect("amf0 fits");
    let len = w.len();
    buf.truncate(len);
    buf
}

fn command(
    name: &str,
    txn: f64,
    rest: impl FnOnce(&mut Amf0Writer<'_>) -> Result<(), AmfError>,
) -> Vec<u8> {
    amf(|w| {
        w.string(name)?.number(txn)?;
        rest(w)
    })
}

fn connect() -> Vec<u8> {
    command("connect", 1.0, |w| {
        w.object_start()?
            .property("app")?
            .string("live")?
            .property("tcUrl")?
            .string("rtmps://host/live")?
            .object_end()?;
        Ok(())
    })
}

fn stream_command(name: &str, txn: f64, arg: &str) -> Vec<u8> {
    command(name, txn, |w| {
        w.null()?.string(arg)?;
        Ok(())
    })
}

fn control(message: ControlMessage) -> Vec<u8> {
    let mut buf = [0u8; MAX_CONTROL_LEN];
    let len = message.encode(&mut buf);
    buf[..len].to_vec()
}

/// Messages chunked the way a client would send them.
struct Stream {
    writer: ChunkWriter,
    bytes: Vec<u8>,
}

impl Stream {
    fn new() -> Stream {
        Stream {
            writer: ChunkWriter::new(128),
            bytes: Vec::new(),
        }
    }

    fn send(
        &mut self,
        csid: u32,
        time: u32,
        type_id: u8,
        stream_id: u32,
        payload: &[u8],
    ) -> &mut Self {
        let header = MessageHeader {
            chunk_stream_id: csid,
            timestamp: Timestamp(time),
            type_id,
            stream_id,
        };
        self.writer.write_to_vec(&header, payload, &mut self.bytes);
        self
    }

    fn raw(&mut self, header: ChunkHeader, payload: &[u8]) -> &mut Self {
        let mut buf = [0u8; 32];
        let len = header.emit(&mut buf);
        self.bytes.extend_from_slice(&buf[..len]);
        self.bytes.extend_from_slice(payload);
        self
    }

    fn chunk_size(&mut self, size: u32) -> &mut Self {
        self.send(
            2,
            0,
            type_id::SET_CHUNK_SIZE,
            0,
            &control(ControlMessage::SetChunkSize(size)),
        );
        self.writer = ChunkWriter::new(size);
        self
    }
}

fn hand_made_streams() -> Vec<(String, Vec<u8>)> {
    let mut streams = Vec::new();
    let avc_header = [
        0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 4, 0x68,
        0xee, 0x3c, 0x80,
    ];
    let metadata = amf(|w| {
        w.string("@setDataFrame")?.string("onMetaData")?;
        w.ecma_array_start(2)?
            .property("width")?
            .number(1280.0)?
            .property("height")?
            .number(720.0)?
            .object_end()?;
        Ok(())
    });

    let mut s = Stream::new();
    s.chunk_size(4096)
        .send(3, 0, type_id::COMMAND_AMF0, 0, &connect())
        .send(
            2,
            0,
            type_id::WINDOW_ACK_SIZE,
            0,
            &control(ControlMessage::WindowAckSize(64)),
        )
        .send(
            3,
            0,
            type_id::COMMAND_AMF0,
            0,
            &stream_command("releaseStream", 2.0, "key"),
        )
        .send(
            3,
            0,
            type_id::COMMAND_AMF0,
            0,
            &stream_command("FCPublish", 3.0, "key"),
        )
        .send(
            3,
            0,
            type_id::COMMAND_AMF0,
            0,
            &command("createStream", 4.0, |w| {
                w.null()?;
                Ok(())
            }),
        )
        .send(
            4,
            0,
            type_id::COMMAND_AMF0,
            1,
            &stream_command("publish", 5.0, "key?token=1"),
        )
        .send(4, 0, type_id::DATA_AMF0, 1, &metadata)
        .send(6, 0, type_id::AUDIO, 1, &[0xaf, 0, 0x12, 0x10])
        .send(7, 0, type_id::VIDEO, 1, &avc_header)
        .send(
            7,
            40,
            type_id::VIDEO,
            1,
            &[0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88],
        )
        .send(6, 23, type_id::AUDIO, 1, &[0xaf, 1, 0x21, 0x00])
        .send(
            2,
            0,
            type_id::USER_CONTROL,
            0,
            &control(ControlMessage::UserControl(UserControlEvent::PingRequest(
                7,
            ))),
        )
        .send(
            3,
            0,
            type_id::COMMAND_AMF0,
            0,
            &stream_command("FCUnpublish", 6.0, "key"),
        )
        .send(
            3,
            0,
            type_id::COMMAND_AMF0,
            0,
            &command("deleteStream", 7.0, |w| {
                w.null()?.number(1.0)?;
                Ok(())
            }),
        );
    streams.push(("publish-flow".to_string(), s.bytes.clone()));

    let mut s = Stream::new();
    s.send(3, 0, type_id::COMMAND_AMF0, 0, &connect())
        .send(
            3,
            0,
            type_id::COMMAND_AMF0,
            0,
            &command("createStream", 2.0, |w| {
                w.null()?;
                Ok(())
            }),
        )
        .send(
            8,
            0,
            type_id::COMMAND_AMF0,
            1,
            &command("play", 3.0, |w| {
                w.null()?.string("key")?.number(-2000.0)?;
                Ok(())
            }),
        )
        .send(
            2,
            0,
            type_id::USER_CONTROL,
            0,
            &control(ControlMessage::UserControl(
                UserControlEvent::SetBufferLength {
                    stream_id: 1,
                    buffer_ms: 3000,
                },
            )),
        )
        .send(
            8,
            0,
            type_id::COMMAND_AMF0,
            1,
            &command("closeStream", 0.0, |w| {
                w.null()?;
                Ok(())
            }),
        );
    streams.push(("play-flow".to_string(), s.bytes.clone()));

    // AMF3 command wrapper, then header forms 1, 2 and 3 and an extended timestamp.
    let mut wrapped = vec![0u8];
    wrapped.extend(connect());
    let mut s = Stream::new();
    s.send(3, 0, type_id::COMMAND_AMF3, 0, &wrapped)
        .send(5, 0x0100_0000, type_id::AUDIO, 1, &[0xaf, 1, 0, 0])
        .raw(
            ChunkHeader {
                fmt: 1,
                chunk_stream_id: 5,
                timestamp: 20,
                message_len: 3,
                type_id: type_id::AUDIO,
                ..ChunkHeader::default()
            },
            &[0xaf, 1, 0],
        )
        .raw(
            ChunkHeader {
                fmt: 2,
                chunk_stream_id: 5,
                timestamp: 0x00FF_FFFF,
                extended: true,
                ..ChunkHeader::default()
            },
            &[0xaf, 1, 0],
        )
        .raw(
            ChunkHeader {
                fmt: 3,
                chunk_stream_id: 5,
                extended: true,
                timestamp: 0x00FF_FFFF,
                ..ChunkHeader::default()
            },
            &[0xaf, 1, 0],
        )
        .raw(
            ChunkHeader {
                fmt: 3,
                chunk_stream_id: 5,
                ..ChunkHeader::default()
            },
            &[0xaf, 1, 0],
        )
        .raw(
            ChunkHeader {
                fmt: 0,
                chunk_stream_id: 64,
                message_len: 300,
                type_id: type_id::VIDEO,
                stream_id: 1,
                ..ChunkHeader::default()
            },
            &[0x27; 128],
        )
        .raw(
            ChunkHeader {
                fmt: 3,
                chunk_stream_id: 64,
                ..ChunkHeader::default()
            },
            &[0x27; 100],
        )
        .send(2, 0, type_id::ABORT, 0, &control(ControlMessage::Abort(64)))
        .raw(
            ChunkHeader {
                fmt: 0,
                chunk_stream_id: 400,
                message_len: 1,
                type_id: type_id::AGGREGATE,
                ..ChunkHeader::default()
            },
            &[0],
        )
        .send(
            2,
            0,
            type_id::ACKNOWLEDGEMENT,
            0,
            &control(ControlMessage::Acknowledgement(100)),
        )
        .send(
            2,
            0,
            type_id::SET_PEER_BANDWIDTH,
            0,
            &control(ControlMessage::SetPeerBandwidth {
                window: 5000,
                limit_type: 2,
            }),
        );
    streams.push(("header-forms".to_string(), s.bytes.clone()));
    streams
}

fn hand_made_amf0() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = vec![
        ("connect", connect()),
        (
            "scalars",
            amf(|w| {
                w.number(f64::NAN)?
                    .number(-0.0)?
                    .boolean(true)?
                    .null()?
                    .string("")?
                    .string("é")?;
                Ok(())
            }),
        ),
        (
            "nested",
            amf(|w| {
                w.object_start()?
                    .property("a")?
                    .ecma_array_start(1)?
                    .property("b")?
                    .object_start()?
                    .object_end()?
                    .object_end()?
                    .object_end()?;
                Ok(())
            }),
        ),
    ];
    // Markers the writer does not produce: undefined, reference, strict array, date,
    // long string, XML document, typed object, ECMA array without its end, bad markers.
    seeds.push((
        "undefined-reference",
        vec![0x03, 0, 0, 0x09, 0x06, 0x07, 0, 0],
    ));
    seeds.push((
        "strict-array",
        vec![0x0a, 0, 0, 0, 2, 0x00, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x05],
    ));
    seeds.push(("date", vec![0x0b, 0x42, 0x78, 0, 0, 0, 0, 0, 0, 0xff, 0x88]));
    seeds.push(("long-string", [&[0x0c, 0, 0, 0, 3][..], b"abc"].concat()));
    seeds.push(("xml", [&[0x0f, 0, 0, 0, 4][..], b"<a/>"].concat()));
    seeds.push((
        "typed-object",
        [
            &[0x10, 0, 3][..],
            b"Foo",
            &[0, 1],
            b"x",
            &[0x01, 1, 0, 0, 0x09],
        ]
        .concat(),
    ));
    seeds.push((
        "ecma-without-end",
        [&[0x08, 0, 0, 0, 1, 0, 1][..], b"k", &[0x05]].concat(),
    ));
    seeds.push(("unknown-markers", vec![0x05, 0x04, 0x0d]));
    seeds
}
