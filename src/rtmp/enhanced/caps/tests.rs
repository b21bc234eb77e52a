use super::*;
use crate::rtmp::amf0::{AmfLimits, decode_all};

/// The connect command object as AMF0 bytes: `{app: "live", <props>}`.
fn connect_object(props: impl FnOnce(&mut Amf0Writer<'_>) -> Result<(), AmfError>) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    let mut w = Amf0Writer::new(&mut buf);
    w.object_start().unwrap();
    w.property("app").unwrap().string("live").unwrap();
    props(&mut w).unwrap();
    w.object_end().unwrap();
    let len = w.len();
    buf[..len].to_vec()
}

fn caps_of(bytes: &[u8]) -> ConnectCaps {
    let values = decode_all(bytes, &AmfLimits::default()).unwrap();
    ConnectCaps::from_command_object(&values[0])
}

fn index(code: &[u8; 4]) -> usize {
    VIDEO_FOURCCS
        .iter()
        .position(|(c, _)| c == code)
        .or_else(|| AUDIO_FOURCCS.iter().position(|(c, _)| c == code))
        .unwrap()
}

#[test]
fn a_legacy_connect_declares_nothing() {
    let caps = caps_of(&connect_object(|w| {
        w.property("tcUrl")?.string("rtmp://h/live")?;
        w.property("fpad")?.boolean(false)?;
        Ok(())
    }));
    assert_eq!(caps, ConnectCaps::default());
    assert!(!caps.declared && !caps.supports_reconnect());
    assert_eq!(caps.to_string(), "legacy (no enhanced capabilities)");
}

#[test]
fn reads_an_ffmpeg_style_fourcc_list() {
    // What `ffmpeg -rtmp_enhanced_codecs hvc1,av01,Opus` sends: a strict array of strings.
    let bytes = connect_object(|w| {
        w.property("fourCcList")?.strict_array_start(3)?;
        w.string("hvc1")?.string("av01")?.string("Opus")?;
        Ok(())
    });
    // The spec's byte layout: name, marker 0x0a, UI32 count, then the strings.
    let at = bytes.windows(10).position(|w| w == b"fourCcList").unwrap();
    assert_eq!(bytes[at + 10..at + 15], [0x0a, 0, 0, 0, 3]);
    assert_eq!(bytes[at + 15..at + 22], *b"\x02\x00\x04hvc1");
    let caps = caps_of(&bytes);
    assert!(caps.declared);
    assert_eq!(caps.caps_ex, None);
    assert!(caps.video.names(index(b"hvc1")) && caps.video.names(index(b"av01")));
    assert!(!caps.video.names(index(b"avc1")));
    assert!(caps.audio.names(index(b"Opus")) && !caps.audio.names(index(b"mp4a")));
    assert_eq!(caps.to_string(), "no capsEx; video hvc1 av01; audio Opus");
}

#[test]
fn reads_v2_info_maps_and_caps_ex() {
    // The spec's examples: "*" CanForward for video, Opus decode|encode for audio, and
    // capsEx Reconnect | Multitrack.
    let caps = caps_of(&connect_object(|w| {
        w.property("videoFourCcInfoMap")?.object_start()?;
        w.property("*")?.number(4.0)?;
        w.property("vp09")?.number(3.0)?;
        w.object_end()?;
        w.property("audioFourCcInfoMap")?.object_start()?;
        w.property("Opus")?.number(3.0)?;
        w.object_end()?;
        w.property("capsEx")?.number(3.0)?;
        Ok(())
    }));
    assert!(caps.declared && caps.supports_reconnect() && caps.supports_multitrack());
    // The wildcard overrides vp09's own flags.
    assert_eq!(caps.video.flags_of(index(b"vp09")), Some(4));
    assert_eq!(caps.video.flags_of(index(b"av01")), Some(4));
    assert_eq!(caps.audio.flags_of(index(b"Opus")), Some(3));
    assert_eq!(caps.audio.flags_of(index(b"fLaC")), None);
    assert_eq!(
        caps.to_string(),
        "capsEx 0x3 (reconnect multitrack); video any; audio Opus"
    );
}

#[test]
fn caps_ex_without_reconnect_does_not_ask_for_it() {
    let caps = caps_of(&connect_object(|w| {
        w.property("capsEx")?
            .number(f64::from(caps_ex::MULTITRACK | caps_ex::MOD_EX))?;
        Ok(())
    }));
    assert!(caps.declared && !caps.supports_reconnect() && caps.supports_multitrack());
}

#[test]
fn wrong_types_and_unknown_fourccs_are_ignored_and_counted() {
    let caps = caps_of(&connect_object(|w| {
        w.property("fourCcList")?.string("hvc1")?;
        w.property("videoFourCcInfoMap")?.object_start()?;
        w.property("xyzw")?.number(4.0)?;
        w.property("avc1")?.string("lots")?;
        w.property("av01")?.number(1e9)?;
        w.property("hvc1")?.number(1.0)?;
        w.object_end()?;
        w.property("audioFourCcInfoMap")?.number(4.0)?;
        w.property("capsEx")?.number(-1.0)?;
        Ok(())
    }));
    assert!(caps.declared, "the video map had the right type");
    assert_eq!(caps.caps_ex, None);
    assert_eq!(caps.video.flags_of(index(b"hvc1")), Some(1));
    assert_eq!(caps.video.flags_of(index(b"avc1")), None);
    // fourCcList, xyzw, avc1, av01, the audio map and capsEx.
    assert_eq!(caps.unknown_fourccs, 6);
    // A string-valued capsEx alone declares nothing.
    let caps = caps_of(&connect_object(|w| {
        w.property("capsEx")?.string("1")?;
        Ok(())
    }));
    assert!(!caps.declared && !caps.supports_reconnect());
}

#[test]
fn the_server_answer_names_every_forwarded_codec_and_all_caps_ex_bits() {
    let bytes = connect_object(write_server_caps);
    let caps = caps_of(&bytes);
    assert!(caps.declared);
    assert_eq!(caps.caps_ex, Some(0x0f));
    for i in 0..CODECS {
        assert_eq!(caps.video.flags_of(i), Some(fourcc_info::CAN_FORWARD));
        assert_eq!(caps.audio.flags_of(i), Some(fourcc_info::CAN_FORWARD));
        assert!(caps.video.listed & (1 << i) != 0 && caps.audio.listed & (1 << i) != 0);
    }
    // No wildcard: rtmpsd refuses FourCCs it does not know.
    assert_eq!((caps.video.wildcard, caps.video.listed_any), (None, false));
    assert_eq!(caps.unknown_fourccs, 0);
    let values = decode_all(&bytes, &AmfLimits::default()).unwrap();
    let list = values[0].get("fourCcList").unwrap();
    let Amf0Value::StrictArray(items) = list else {
        panic!("{list:?}")
    };
    let names: Vec<&str> = items.iter().filter_map(Amf0Value::as_str).collect();
    assert_eq!(
        names,
        [
            "avc1", "hvc1", "av01", "vp09", "vp08", "vvc1", "mp4a", "Opus", "fLaC", "ac-3", "ec-3",
            ".mp3"
        ]
    );
}

#[test]
fn a_client_declaration_with_any_round_trips() {
    let bytes = connect_object(|w| {
        write_client_caps(
            w,
            fourcc_info::CAN_FORWARD,
            true,
            caps_ex::RECONNECT | caps_ex::MULTITRACK,
        )
    });
    let caps = caps_of(&bytes);
    assert!(caps.supports_reconnect());
    assert_eq!(caps.video.wildcard, Some(fourcc_info::CAN_FORWARD));
    assert!(caps.audio.listed_any);
}
