use super::*;
use crate::rtmp::media::testdata::*;

fn audio(codec: AudioCodec, packet: AudioPacket, enhanced: bool) -> AudioTag {
    AudioTag {
        codec,
        packet,
        enhanced,
        multitrack: None,
        tracks: TrackSet::single(0),
        nano_offset: None,
    }
}

fn all_tracks(payload: &[u8]) -> Result<Vec<AudioTrack>, MediaError> {
    let mut found = Vec::new();
    for_each_audio_track(payload, |t| found.push(t))?;
    Ok(found)
}

#[test]
fn reads_aac_sequence_header_and_raw_frames() {
    let header = inspect_audio(&[0xaf, 0x00, 0x12, 0x10]).unwrap();
    assert_eq!(
        header,
        audio(AudioCodec::Aac, AudioPacket::SequenceStart, false)
    );
    assert!(header.is_sequence_header());
    assert_eq!(
        inspect_audio(&[0xaf, 0x01, 0x21, 0x00, 0x49]),
        Ok(audio(AudioCodec::Aac, AudioPacket::CodedFrames, false))
    );
    assert_eq!(
        inspect_audio(&[0xaf]),
        Err(MediaError::TooShort { needed: 2, seen: 1 })
    );
}

#[test]
fn reads_mp3_and_other_legacy_sound_formats() {
    for first in [0x2f, 0xe2] {
        assert_eq!(
            inspect_audio(&[first, 0xff, 0xfb, 0x90]),
            Ok(audio(AudioCodec::Mp3, AudioPacket::CodedFrames, false))
        );
    }
    assert_eq!(
        inspect_audio(&[0xb6]),
        Ok(audio(
            AudioCodec::Legacy(11),
            AudioPacket::CodedFrames,
            false
        ))
    );
    assert_eq!(
        all_tracks(&[0xb6, 1, 2]),
        Ok(vec![AudioTrack {
            id: 0,
            codec: AudioCodec::Legacy(11),
            start: 1,
            end: 3
        }])
    );
}

#[test]
fn an_empty_audio_message_is_silence_with_no_track_codec() {
    assert_eq!(
        inspect_audio(&[]),
        Ok(audio(AudioCodec::Legacy(0), AudioPacket::Silence, false))
    );
    assert_eq!(all_tracks(&[]), Ok(vec![]));
}

#[test]
fn reads_every_v2_audio_fourcc() {
    let cases: [(&[u8; 4], AudioCodec); 6] = [
        (b"mp4a", AudioCodec::Aac),
        (b"Opus", AudioCodec::Opus),
        (b"ac-3", AudioCodec::Ac3),
        (b"ec-3", AudioCodec::Eac3),
        (b"fLaC", AudioCodec::Flac),
        (b".mp3", AudioCodec::Mp3),
    ];
    for (fourcc, codec) in cases {
        let start = enhanced(0x90, fourcc, &[0x12, 0x10]);
        assert_eq!(
            inspect_audio(&start),
            Ok(audio(codec, AudioPacket::SequenceStart, true))
        );
        let coded = enhanced(0x91, fourcc, &[0x21, 0x00]);
        assert_eq!(
            inspect_audio(&coded),
            Ok(audio(codec, AudioPacket::CodedFrames, true))
        );
        let end = enhanced(0x92, fourcc, &[]);
        assert_eq!(
            inspect_audio(&end),
            Ok(audio(codec, AudioPacket::SequenceEnd, true))
        );
        assert_eq!(all_tracks(&coded).unwrap()[0].start, 5);
    }
    assert_eq!(
        inspect_audio(&enhanced(0x91, b"vorb", &[])),
        Err(MediaError::UnknownFourCc {
            media: MediaType::Audio,
            fourcc: u32::from_be_bytes(*b"vorb")
        })
    );
}

#[test]
fn multichannel_config_holds_what_its_channel_order_says() {
    // Unspecified order: order and count only.
    assert_eq!(
        inspect_audio(&enhanced(0x94, b"Opus", &[0, 2])).map(|t| t.packet),
        Ok(AudioPacket::MultichannelConfig)
    );
    // Native: a UI32 of channel flags (FFmpeg: front centre, 0x00000004).
    assert!(inspect_audio(&enhanced(0x94, b"Opus", &[1, 1, 0, 0, 0, 4])).is_ok());
    assert_eq!(
        inspect_audio(&enhanced(0x94, b"Opus", &[1, 1, 0, 0, 0])),
        Err(MediaError::TooShort {
            needed: 11,
            seen: 10
        })
    );
    // Custom: one byte per channel.
    assert!(inspect_audio(&enhanced(0x94, b"Opus", &[2, 3, 0, 1, 2])).is_ok());
    assert_eq!(
        inspect_audio(&enhanced(0x94, b"Opus", &[2, 3, 0, 1])),
        Err(MediaError::TooShort {
            needed: 10,
            seen: 9
        })
    );
    assert_eq!(
        inspect_audio(&enhanced(0x94, b"Opus", &[2])),
        Err(MediaError::TooShort { needed: 7, seen: 6 })
    );
}

#[test]
fn mod_ex_then_sequence_start_reports_the_offset() {
    let mod_ex = [
        0x97, 0x02, 0x00, 0x01, 0x00, 0x00, b'O', b'p', b'u', b's', 0x4f,
    ];
    assert_eq!(
        inspect_audio(&mod_ex),
        Ok(AudioTag {
            nano_offset: Some(256),
            ..audio(AudioCodec::Opus, AudioPacket::SequenceStart, true)
        })
    );
}

#[test]
fn one_track_audio_carries_its_track_id() {
    // 0x95 (ExHeader, Multitrack), 0x00 (OneTrack, SequenceStart), FourCC, track id 3.
    let message = [0x95, 0x00, b'm', b'p', b'4', b'a', 0x03, 0x12, 0x10];
    assert_eq!(
        inspect_audio(&message),
        Ok(AudioTag {
            multitrack: Some(MultitrackType::OneTrack),
            tracks: TrackSet::single(3),
            ..audio(AudioCodec::Aac, AudioPacket::SequenceStart, true)
        })
    );
}

#[test]
fn many_tracks_and_many_codecs_list_every_track() {
    // Two AAC language tracks in one message.
    let mut many = vec![0x95, 0x11];
    many.extend_from_slice(b"mp4a");
    many.extend(sized_track(0, &[0x21, 0x00]));
    many.extend(sized_track(1, &[0x21, 0x10, 0x04]));
    let tag = inspect_audio(&many).unwrap();
    assert_eq!(tag.multitrack, Some(MultitrackType::ManyTracks));
    assert_eq!(tag.packet, AudioPacket::CodedFrames);
    assert_eq!(tag.tracks.iter().collect::<Vec<_>>(), [0, 1]);
    // Opus track 0 and FLAC track 2, each with its own FourCC.
    let mut codecs = vec![0x95, 0x20];
    codecs.extend_from_slice(b"Opus");
    codecs.extend(sized_track(0, b"OpusHead"));
    codecs.extend_from_slice(b"fLaC");
    codecs.extend(sized_track(2, b"fLaC\x00"));
    let found: Vec<(u8, AudioCodec)> = all_tracks(&codecs)
        .unwrap()
        .iter()
        .map(|t| (t.id, t.codec))
        .collect();
    assert_eq!(found, [(0, AudioCodec::Opus), (2, AudioCodec::Flac)]);
    assert!(inspect_audio(&codecs).unwrap().is_sequence_header());
}

#[test]
fn nested_multitrack_reserved_types_and_oversized_tracks_are_refused() {
    for inner in [0x05, 0x07] {
        assert_eq!(
            inspect_audio(&[0x95, inner, b'O', b'p', b'u', b's', 0]),
            Err(MediaError::NestedMultitrack {
                media: MediaType::Audio,
                packet_type: inner
            })
        );
    }
    assert_eq!(
        inspect_audio(&[0x95, 0xf1, b'O', b'p', b'u', b's', 0]),
        Err(MediaError::UnknownMultitrackType {
            media: MediaType::Audio,
            value: 15
        })
    );
    let mut message = vec![0x95, 0x11];
    message.extend_from_slice(b"Opus");
    message.extend_from_slice(&[1, 0, 0, 2, 0xaa]);
    assert_eq!(
        inspect_audio(&message),
        Err(MediaError::TrackPastEnd {
            track: 1,
            offset: 10,
            size: 2,
            left: 1
        })
    );
}

#[test]
fn rejects_enhanced_audio_shorter_than_its_fourcc() {
    assert_eq!(
        inspect_audio(&[0x90, b'm', b'p']),
        Err(MediaError::TooShort { needed: 5, seen: 3 })
    );
}

#[test]
fn reads_every_audio_tag_ffmpeg9_muxes_for_three_languages() {
    let seen: Vec<(Vec<u8>, AudioCodec, AudioPacket)> = flv_tags(FFMPEG9_MULTITRACK_FLV)
        .into_iter()
        .filter(|(kind, _, _)| *kind == 8)
        .map(|(_, _, body)| {
            let tag = inspect_audio(body).unwrap();
            (tag.tracks.iter().collect(), tag.codec, tag.packet)
        })
        .collect();
    use AudioCodec::{Aac, Flac, Opus};
    use AudioPacket::{CodedFrames, MultichannelConfig, SequenceStart};
    assert_eq!(
        seen[..5],
        [
            (vec![0], Aac, SequenceStart),
            (vec![1], Opus, SequenceStart),
            (vec![1], Opus, MultichannelConfig),
            (vec![2], Flac, SequenceStart),
            (vec![2], Flac, MultichannelConfig),
        ]
    );
    for (tracks, codec, packet) in &seen[5..] {
        // FFmpeg's FLAC encoder sends its final STREAMINFO again at the end.
        if tracks[..] != [2] {
            assert_eq!(*packet, CodedFrames);
        }
        let expected = match tracks[..] {
            [0] => Aac,
            [1] => Opus,
            [2] => Flac,
            _ => panic!("unexpected tracks {tracks:?}"),
        };
        assert_eq!(*codec, expected);
    }
}
