use super::*;
use crate::rtmp::media::audio::inspect_audio;
use crate::rtmp::media::testdata::*;

fn video(codec: VideoCodec, keyframe: bool, packet: VideoPacket, enhanced: bool) -> VideoTag {
    VideoTag {
        codec,
        keyframe,
        packet,
        enhanced,
        multitrack: None,
        tracks: TrackSet::single(0),
        nano_offset: None,
    }
}

fn tracks(ids: &[u8]) -> TrackSet {
    let mut set = TrackSet::EMPTY;
    for id in ids {
        set.insert(*id);
    }
    set
}

fn multitrack(
    codec: VideoCodec,
    keyframe: bool,
    packet: VideoPacket,
    kind: MultitrackType,
    ids: &[u8],
) -> VideoTag {
    VideoTag {
        multitrack: Some(kind),
        tracks: tracks(ids),
        ..video(codec, keyframe, packet, true)
    }
}

/// Every track of `payload`, as (id, codec, start, end).
fn all_tracks(payload: &[u8]) -> Result<Vec<VideoTrack>, MediaError> {
    let mut found = Vec::new();
    for_each_video_track(payload, |t| found.push(t))?;
    Ok(found)
}

/// Runs every entry point over `payload`; only panics matter.
fn inspect_everything(payload: &[u8]) {
    let _ = inspect_audio(payload);
    if let Ok(tag) = inspect_video(payload) {
        let _ = validate_sequence_header(&tag, payload);
    }
    let _ = for_each_video_track(payload, |_| {});
    let any_header = video(VideoCodec::Avc, true, VideoPacket::SequenceHeader, false);
    let _ = validate_sequence_header(&any_header, payload);
}

#[test]
fn reads_ffmpeg_avc_sequence_header_and_accepts_its_record() {
    let message = ffmpeg_avc_sequence_header();
    let tag = inspect_video(&message).unwrap();
    assert_eq!(
        tag,
        video(VideoCodec::Avc, true, VideoPacket::SequenceHeader, false)
    );
    assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
}

#[test]
fn reads_avc_keyframe_and_inter_frame() {
    let keyframe = [0x17, 0x01, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00, 0x01, 0x65];
    assert_eq!(
        inspect_video(&keyframe),
        Ok(video(VideoCodec::Avc, true, VideoPacket::Frame, false))
    );
    let inter = [0x27, 0x01, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00, 0x01, 0x41];
    assert_eq!(
        inspect_video(&inter),
        Ok(video(VideoCodec::Avc, false, VideoPacket::Frame, false))
    );
}

#[test]
fn reads_avc_end_of_sequence_with_and_without_composition_time() {
    let eos = video(VideoCodec::Avc, true, VideoPacket::EndOfSequence, false);
    assert_eq!(inspect_video(&[0x17, 0x02, 0x00, 0x00, 0x00]), Ok(eos));
    assert_eq!(inspect_video(&[0x17, 0x02]), Ok(eos));
}

#[test]
fn frames_and_sequence_headers_need_their_composition_time() {
    for packet_type in [0x00, 0x01] {
        assert_eq!(
            inspect_video(&[0x17, packet_type, 0x00, 0x00]),
            Err(MediaError::TooShort { needed: 5, seen: 4 })
        );
    }
}

#[test]
fn reads_legacy_hevc_sequence_header_and_frames() {
    let mut message = vec![0x1c, 0x00, 0x00, 0x00, 0x00];
    message.extend_from_slice(&hevc_record());
    let tag = inspect_video(&message).unwrap();
    assert_eq!(
        tag,
        video(VideoCodec::Hevc, true, VideoPacket::SequenceHeader, false)
    );
    assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
    assert_eq!(
        inspect_video(&[0x1c, 0x01, 0x00, 0x00, 0x00, 0x26]),
        Ok(video(VideoCodec::Hevc, true, VideoPacket::Frame, false))
    );
    assert_eq!(
        inspect_video(&[0x2c, 0x01, 0x00, 0x00, 0x00, 0x02]),
        Ok(video(VideoCodec::Hevc, false, VideoPacket::Frame, false))
    );
}

#[test]
fn other_legacy_codecs_need_one_byte_and_pass_as_frames() {
    assert_eq!(
        inspect_video(&[0x12]),
        Ok(video(
            VideoCodec::Legacy(2),
            true,
            VideoPacket::Frame,
            false
        ))
    );
    assert_eq!(
        inspect_video(&[0x24, 0x00, 0x55]),
        Ok(video(
            VideoCodec::Legacy(4),
            false,
            VideoPacket::Frame,
            false
        ))
    );
}

#[test]
fn legacy_command_frames_are_other_and_not_keyframes() {
    assert_eq!(
        inspect_video(&[0x57, 0x01]),
        Ok(video(VideoCodec::Avc, false, VideoPacket::Other, false))
    );
    assert_eq!(
        inspect_video(&[0x52, 0x00]),
        Ok(video(
            VideoCodec::Legacy(2),
            false,
            VideoPacket::Other,
            false
        ))
    );
}

#[test]
fn generated_keyframes_are_not_reported_as_keyframes() {
    assert_eq!(
        inspect_video(&[0x47, 0x01, 0x00, 0x00, 0x00]),
        Ok(video(VideoCodec::Avc, false, VideoPacket::Frame, false))
    );
}

#[test]
fn reads_enhanced_sequence_starts_for_every_codec() {
    let cases: [(&[u8; 4], VideoCodec, Vec<u8>); 6] = [
        (b"avc1", VideoCodec::Avc, avc_record()),
        (b"hvc1", VideoCodec::Hevc, hevc_record()),
        (b"av01", VideoCodec::Av1, AV1_RECORD.to_vec()),
        (b"vp09", VideoCodec::Vp9, VP9_RECORD.to_vec()),
        (b"vp08", VideoCodec::Vp8, VP9_RECORD.to_vec()),
        (b"vvc1", VideoCodec::Vvc, vec![0xff, 0x00, 0x01]),
    ];
    for (fourcc, codec, record) in cases {
        let message = enhanced(0x90, fourcc, &record);
        let tag = inspect_video(&message).unwrap();
        assert_eq!(tag, video(codec, true, VideoPacket::SequenceHeader, true));
        assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
        assert_eq!(
            all_tracks(&message),
            Ok(vec![VideoTrack {
                id: 0,
                codec,
                start: 5,
                end: message.len()
            }])
        );
    }
}

#[test]
fn reads_enhanced_coded_frames_keyframe_and_inter() {
    for (fourcc, codec) in VIDEO_FOURCCS_FOR_TESTS {
        // CodedFrames: a composition time for AVC/HEVC/VVC, then data.
        let frame = enhanced(0x91, fourcc, &[0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x01]);
        assert_eq!(
            inspect_video(&frame),
            Ok(video(codec, true, VideoPacket::Frame, true))
        );
        let inter = enhanced(0xa1, fourcc, &[0x00, 0x00, 0x21, 0x00, 0x00, 0x00, 0x01]);
        assert_eq!(
            inspect_video(&inter),
            Ok(video(codec, false, VideoPacket::Frame, true))
        );
        // CodedFramesX: no composition time.
        let frame_x = enhanced(0x93, fourcc, &[0x12, 0x00]);
        assert_eq!(
            inspect_video(&frame_x),
            Ok(video(codec, true, VideoPacket::Frame, true))
        );
        let inter_x = enhanced(0xa3, fourcc, &[0x32, 0x00]);
        assert_eq!(
            inspect_video(&inter_x),
            Ok(video(codec, false, VideoPacket::Frame, true))
        );
        // The body starts after the composition time where there is one.
        let start = if codec.has_composition_time() { 8 } else { 5 };
        assert_eq!(all_tracks(&frame).unwrap()[0].start, start);
        assert_eq!(all_tracks(&frame_x).unwrap()[0].start, 5);
    }
}

const VIDEO_FOURCCS_FOR_TESTS: [(&[u8; 4], VideoCodec); 6] = [
    (b"hvc1", VideoCodec::Hevc),
    (b"avc1", VideoCodec::Avc),
    (b"av01", VideoCodec::Av1),
    (b"vp09", VideoCodec::Vp9),
    (b"vp08", VideoCodec::Vp8),
    (b"vvc1", VideoCodec::Vvc),
];

#[test]
fn enhanced_avc_hevc_and_vvc_coded_frames_need_their_composition_time() {
    for fourcc in [b"hvc1", b"avc1", b"vvc1"] {
        assert_eq!(
            inspect_video(&enhanced(0x91, fourcc, &[0x00, 0x00])),
            Err(MediaError::TooShort { needed: 8, seen: 7 })
        );
    }
    for fourcc in [b"av01", b"vp09", b"vp08"] {
        assert!(inspect_video(&enhanced(0x91, fourcc, &[])).is_ok());
    }
}

#[test]
fn reads_enhanced_sequence_end_and_metadata() {
    assert_eq!(
        inspect_video(&enhanced(0x92, b"av01", &[])),
        Ok(video(
            VideoCodec::Av1,
            true,
            VideoPacket::EndOfSequence,
            true
        ))
    );
    // Metadata ignores the frame type, even a command frame type.
    for first in [0x94, 0xd4] {
        assert_eq!(
            inspect_video(&enhanced(first, b"hvc1", &[0x02, 0x00, 0x09])),
            Ok(video(VideoCodec::Hevc, false, VideoPacket::Metadata, true))
        );
    }
}

#[test]
fn enhanced_mpeg2ts_sequence_start_and_reserved_types_are_other() {
    for first in [0x95, 0x98, 0x9f] {
        assert_eq!(
            inspect_video(&enhanced(first, b"av01", &[0x80])),
            Ok(video(VideoCodec::Av1, true, VideoPacket::Other, true))
        );
    }
}

#[test]
fn enhanced_command_frame_has_no_fourcc() {
    assert_eq!(
        inspect_video(&[0xd1, 0x00]),
        Ok(video(
            VideoCodec::Legacy(0),
            false,
            VideoPacket::Other,
            true
        ))
    );
    assert_eq!(
        inspect_video(&[0xd1]),
        Err(MediaError::TooShort { needed: 2, seen: 1 })
    );
    // A command frame type with the Multitrack packet type is still a command (spec order).
    assert_eq!(
        inspect_video(&[0xd6, 0x01]).unwrap().packet,
        VideoPacket::Other
    );
}

#[test]
fn one_track_multitrack_carries_its_track_id() {
    // Spec layout: 0x96 (keyframe, Multitrack), 0x01 (OneTrack, CodedFrames), FourCC, track
    // id, then the body with its composition time.
    let message = [
        0x96, 0x01, b'a', b'v', b'c', b'1', 0x05, 0x00, 0x00, 0x00, 0x65,
    ];
    assert_eq!(
        inspect_video(&message),
        Ok(multitrack(
            VideoCodec::Avc,
            true,
            VideoPacket::Frame,
            MultitrackType::OneTrack,
            &[5]
        ))
    );
    assert_eq!(
        all_tracks(&message),
        Ok(vec![VideoTrack {
            id: 5,
            codec: VideoCodec::Avc,
            start: 10,
            end: 11
        }])
    );
    // Without its composition time it is too short.
    assert_eq!(
        inspect_video(&message[..9]),
        Err(MediaError::TooShort {
            needed: 10,
            seen: 9
        })
    );
}

#[test]
fn one_track_sequence_start_is_a_sequence_header_whose_record_is_checked() {
    let mut message = vec![0x96, 0x00];
    message.extend_from_slice(b"hvc1");
    message.push(0x01);
    message.extend_from_slice(&hevc_record());
    let tag = inspect_video(&message).unwrap();
    assert_eq!(
        tag,
        multitrack(
            VideoCodec::Hevc,
            true,
            VideoPacket::SequenceHeader,
            MultitrackType::OneTrack,
            &[1]
        )
    );
    assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
    message.truncate(message.len() - 3);
    assert!(matches!(
        validate_sequence_header(&tag, &message),
        Err(MediaError::BadConfigRecord { .. })
    ));
}

#[test]
fn many_tracks_share_one_codec_and_one_frame_type() {
    // Two VP9 renditions in one message: CodedFramesX (3), inter frames (frame type 2).
    let mut message = vec![0xa6, 0x13];
    message.extend_from_slice(b"vp09");
    message.extend(sized_track(0, &[0x11; 4]));
    message.extend(sized_track(1, &[0x22; 2]));
    assert_eq!(
        inspect_video(&message),
        Ok(multitrack(
            VideoCodec::Vp9,
            false,
            VideoPacket::Frame,
            MultitrackType::ManyTracks,
            &[0, 1]
        ))
    );
    assert_eq!(
        all_tracks(&message),
        Ok(vec![
            VideoTrack {
                id: 0,
                codec: VideoCodec::Vp9,
                start: 10,
                end: 14
            },
            VideoTrack {
                id: 1,
                codec: VideoCodec::Vp9,
                start: 18,
                end: 20
            }
        ])
    );
}

#[test]
fn many_tracks_sequence_start_checks_each_record_inside_its_track() {
    let mut message = vec![0x96, 0x10];
    message.extend_from_slice(b"avc1");
    message.extend(sized_track(0, &avc_record()));
    message.extend(sized_track(1, &avc_record()));
    let tag = inspect_video(&message).unwrap();
    assert_eq!(tag.packet, VideoPacket::SequenceHeader);
    assert_eq!(tag.tracks, tracks(&[0, 1]));
    assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
    // A first record cut short inside its track is caught even though the second track's
    // bytes follow it.
    let mut record = avc_record();
    record.pop();
    let mut cut = vec![0x96, 0x10];
    cut.extend_from_slice(b"avc1");
    cut.extend(sized_track(0, &record));
    cut.extend(sized_track(1, &avc_record()));
    let tag = inspect_video(&cut).unwrap();
    assert!(matches!(
        validate_sequence_header(&tag, &cut),
        Err(MediaError::BadConfigRecord { .. })
    ));
}

#[test]
fn many_tracks_many_codecs_name_each_tracks_codec() {
    // HEVC track 0 and AV1 track 1, each with its sequence start record.
    let mut message = vec![0x96, 0x20];
    message.extend_from_slice(b"hvc1");
    message.extend(sized_track(0, &hevc_record()));
    message.extend_from_slice(b"av01");
    message.extend(sized_track(1, AV1_RECORD));
    let tag = inspect_video(&message).unwrap();
    assert_eq!(
        tag,
        multitrack(
            VideoCodec::Hevc,
            true,
            VideoPacket::SequenceHeader,
            MultitrackType::ManyTracksManyCodecs,
            &[0, 1]
        )
    );
    assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
    let codecs: Vec<(u8, VideoCodec)> = all_tracks(&message)
        .unwrap()
        .iter()
        .map(|t| (t.id, t.codec))
        .collect();
    assert_eq!(codecs, [(0, VideoCodec::Hevc), (1, VideoCodec::Av1)]);
    // An AV1 record shorter than its fixed part fails in its own track.
    let mut short = vec![0x96, 0x20];
    short.extend_from_slice(b"hvc1");
    short.extend(sized_track(0, &hevc_record()));
    short.extend_from_slice(b"av01");
    short.extend(sized_track(1, &AV1_RECORD[..3]));
    let tag = inspect_video(&short).unwrap();
    assert!(matches!(
        validate_sequence_header(&tag, &short),
        Err(MediaError::TooShort { .. })
    ));
}

#[test]
fn many_tracks_coded_frames_need_a_composition_time_in_each_track() {
    let mut message = vec![0x96, 0x21];
    message.extend_from_slice(b"av01");
    message.extend(sized_track(0, &[]));
    message.extend_from_slice(b"hvc1");
    message.extend(sized_track(1, &[0, 0]));
    assert_eq!(
        inspect_video(&message),
        Err(MediaError::TooShort {
            needed: 21,
            seen: 20
        })
    );
}

#[test]
fn an_unknown_fourcc_in_any_track_is_refused() {
    let mut message = vec![0x96, 0x23];
    message.extend_from_slice(b"av01");
    message.extend(sized_track(0, &[1]));
    message.extend_from_slice(b"xyzw");
    message.extend(sized_track(1, &[1]));
    assert_eq!(
        inspect_video(&message),
        Err(MediaError::UnknownFourCc {
            media: MediaType::Video,
            fourcc: u32::from_be_bytes(*b"xyzw")
        })
    );
}

#[test]
fn nested_multitrack_reserved_types_and_oversized_tracks_are_refused() {
    for inner in [0x06, 0x07] {
        assert_eq!(
            inspect_video(&[0x96, inner, b'a', b'v', b'0', b'1', 0]),
            Err(MediaError::NestedMultitrack {
                media: MediaType::Video,
                packet_type: inner
            })
        );
    }
    assert_eq!(
        inspect_video(&[0x96, 0x31, b'a', b'v', b'0', b'1', 0]),
        Err(MediaError::UnknownMultitrackType {
            media: MediaType::Video,
            value: 3
        })
    );
    let mut message = vec![0x96, 0x13];
    message.extend_from_slice(b"av01");
    message.extend_from_slice(&[4, 0, 1, 0, 0xaa]);
    assert_eq!(
        inspect_video(&message),
        Err(MediaError::TrackPastEnd {
            track: 4,
            offset: 10,
            size: 256,
            left: 1
        })
    );
}

#[test]
fn mod_ex_is_read_to_the_packet_it_modifies() {
    // ModEx with 3 bytes of TimestampOffsetNano (256 ns), then a CodedFramesX hvc1 keyframe.
    let message = [
        0x97, 0x02, 0x00, 0x01, 0x00, 0x03, b'h', b'v', b'c', b'1', 0x26,
    ];
    assert_eq!(
        inspect_video(&message),
        Ok(VideoTag {
            nano_offset: Some(256),
            ..video(VideoCodec::Hevc, true, VideoPacket::Frame, true)
        })
    );
    // A ModEx with a 16-bit size (256 bytes), leading to a SequenceStart with an avcC.
    let mut long = vec![0x97, 0xff, 0x00, 0xff];
    long.extend_from_slice(&[0u8; 256]);
    long.push(0x00);
    long.extend_from_slice(b"avc1");
    long.extend_from_slice(&avc_record());
    let tag = inspect_video(&long).unwrap();
    assert_eq!(tag.packet, VideoPacket::SequenceHeader);
    assert!(tag.keyframe);
    assert_eq!(validate_sequence_header(&tag, &long), Ok(()));
    // The record is found after the ModEx block, so a bad one is still caught.
    let record_start = long.len() - avc_record().len();
    long[record_start] = 0x00;
    assert_eq!(
        validate_sequence_header(&tag, &long),
        Err(MediaError::BadConfigRecord {
            offset: record_start
        })
    );
}

#[test]
fn mod_ex_before_a_multitrack_keyframe_keeps_the_keyframe_and_its_tracks() {
    // Inter frame type would be 0xa7; 0x97 is a keyframe. ModEx (nano 1000), then Multitrack,
    // then OneTrack CodedFrames av01 track 2.
    let message = [
        0x97, 0x02, 0x00, 0x03, 0xe8, 0x06, 0x01, b'a', b'v', b'0', b'1', 0x02, 0x12, 0x00,
    ];
    assert_eq!(
        inspect_video(&message),
        Ok(VideoTag {
            nano_offset: Some(1000),
            ..multitrack(
                VideoCodec::Av1,
                true,
                VideoPacket::Frame,
                MultitrackType::OneTrack,
                &[2]
            )
        })
    );
    let inter = [
        0xa7, 0x02, 0x00, 0x03, 0xe8, 0x06, 0x01, b'a', b'v', b'0', b'1', 0x02, 0x12, 0x00,
    ];
    assert!(!inspect_video(&inter).unwrap().keyframe);
}

#[test]
fn mod_ex_running_past_the_end_is_too_short() {
    assert_eq!(
        // Size byte 5 means 6 data bytes (offsets 2..8), then the type byte at 8.
        inspect_video(&[0x97, 0x05, 0x00]),
        Err(MediaError::TooShort { needed: 9, seen: 3 })
    );
    assert_eq!(
        inspect_video(&[0x97, 0xff, 0x00]),
        Err(MediaError::TooShort { needed: 4, seen: 3 })
    );
}

#[test]
fn rejects_unknown_enhanced_fourcc() {
    for fourcc in [b"vp07", b"avc3", b"xxxx"] {
        assert_eq!(
            inspect_video(&enhanced(0x91, fourcc, &[0x00, 0x00, 0x00])),
            Err(MediaError::UnknownFourCc {
                media: MediaType::Video,
                fourcc: u32::from_be_bytes(*fourcc)
            })
        );
    }
}

#[test]
fn rejects_enhanced_tag_of_four_bytes() {
    assert_eq!(
        inspect_video(&[0x90, b'h', b'v', b'c']),
        Err(MediaError::TooShort { needed: 5, seen: 4 })
    );
}

#[test]
fn rejects_empty_and_one_byte_avc_hevc_and_enhanced_video() {
    assert_eq!(
        inspect_video(&[]),
        Err(MediaError::TooShort { needed: 1, seen: 0 })
    );
    for first in [0x17, 0x27, 0x1c, 0x90, 0x91, 0x96, 0x97] {
        assert!(
            matches!(
                inspect_video(&[first]),
                Err(MediaError::TooShort { seen: 1, .. })
            ),
            "first byte {first:#04x}"
        );
    }
}

#[test]
fn rejects_zero_byte_sequence_header_record() {
    for message in [
        vec![0x17, 0x00, 0x00, 0x00, 0x00],
        vec![0x1c, 0x00, 0x00, 0x00, 0x00],
        enhanced(0x90, b"avc1", &[]),
        enhanced(0x90, b"hvc1", &[]),
        enhanced(0x90, b"av01", &[]),
        enhanced(0x90, b"vp09", &[]),
        enhanced(0x90, b"vp08", &[]),
        enhanced(0x90, b"vvc1", &[]),
    ] {
        let tag = inspect_video(&message).unwrap();
        assert!(
            matches!(
                validate_sequence_header(&tag, &message),
                Err(MediaError::TooShort { seen: 5, .. })
            ),
            "{message:02x?}"
        );
    }
}

#[test]
fn av1_and_vp9_records_need_their_fixed_length() {
    let av1 = enhanced(0x90, b"av01", &AV1_RECORD[..3]);
    let tag = inspect_video(&av1).unwrap();
    assert_eq!(
        validate_sequence_header(&tag, &av1),
        Err(MediaError::TooShort { needed: 9, seen: 8 })
    );
    let vp9 = enhanced(0x90, b"vp09", &VP9_RECORD[..7]);
    let tag = inspect_video(&vp9).unwrap();
    assert_eq!(
        validate_sequence_header(&tag, &vp9),
        Err(MediaError::TooShort {
            needed: 13,
            seen: 12
        })
    );
}

#[test]
fn rejects_avc_record_whose_sps_runs_past_the_end() {
    // One SPS claiming 0x40 bytes, with 4 present.
    let message = [
        0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, 0x28, 0xff, 0xe1, 0x00, 0x40, 0x67, 0x64,
        0x00, 0x28,
    ];
    let tag = inspect_video(&message).unwrap();
    assert_eq!(
        validate_sequence_header(&tag, &message),
        Err(MediaError::BadConfigRecord { offset: 11 })
    );
}

#[test]
fn rejects_avc_record_whose_sps_count_runs_past_the_end() {
    // 31 SPS announced, one present, then a PPS count.
    let mut message = vec![0x17, 0x00, 0x00, 0x00, 0x00];
    let mut record = avc_record();
    record[5] = 0xff;
    message.extend_from_slice(&record);
    let tag = inspect_video(&message).unwrap();
    assert!(matches!(
        validate_sequence_header(&tag, &message),
        Err(MediaError::BadConfigRecord { .. })
    ));
}

#[test]
fn rejects_avc_record_with_wrong_version() {
    let mut message = ffmpeg_avc_sequence_header();
    message[5] = 0x00;
    let tag = inspect_video(&message).unwrap();
    assert_eq!(
        validate_sequence_header(&tag, &message),
        Err(MediaError::BadConfigRecord { offset: 5 })
    );
}

#[test]
fn every_truncation_of_avc_and_hevc_records_is_an_error() {
    let records = [
        (vec![0x17, 0x00, 0x00, 0x00, 0x00], avc_record()),
        (vec![0x1c, 0x00, 0x00, 0x00, 0x00], hevc_record()),
        (enhanced(0x90, b"avc1", &[]), avc_record()),
        (enhanced(0x90, b"hvc1", &[]), hevc_record()),
        (
            vec![0x96, 0x00, b'h', b'v', b'c', b'1', 0x01],
            hevc_record(),
        ),
    ];
    for (header, record) in records {
        let mut message = header.clone();
        message.extend_from_slice(&record);
        let tag = inspect_video(&message).unwrap();
        assert_eq!(validate_sequence_header(&tag, &message), Ok(()));
        for cut in header.len()..message.len() {
            let truncated = &message[..cut];
            assert!(
                validate_sequence_header(&tag, truncated).is_err(),
                "{:02x?} accepted at {cut} of {}",
                header,
                message.len()
            );
        }
    }
}

#[test]
fn rejects_hevc_record_whose_nal_count_runs_past_the_end() {
    let mut message = vec![0x1c, 0x00, 0x00, 0x00, 0x00];
    let mut record = hevc_record();
    // The first array (VPS) announces 0x100 units.
    record[24] = 0x01;
    message.extend_from_slice(&record);
    let tag = inspect_video(&message).unwrap();
    assert!(matches!(
        validate_sequence_header(&tag, &message),
        Err(MediaError::BadConfigRecord { .. })
    ));
}

#[test]
fn non_sequence_headers_validate_without_looking() {
    let frame = [0x17, 0x01, 0x00, 0x00, 0x00, 0xff];
    let tag = inspect_video(&frame).unwrap();
    assert_eq!(validate_sequence_header(&tag, &frame), Ok(()));
    let sorenson = video(VideoCodec::Legacy(2), true, VideoPacket::Frame, false);
    assert_eq!(validate_sequence_header(&sorenson, &[]), Ok(()));
}

#[test]
fn reads_every_video_tag_ffmpeg9_muxes_for_two_renditions() {
    // (tracks, codec, keyframe, packet) of each video tag, in file order.
    let seen: Vec<(TrackSet, VideoCodec, bool, VideoPacket)> = flv_tags(FFMPEG9_MULTITRACK_FLV)
        .into_iter()
        .filter(|(kind, _, _)| *kind == 9)
        .map(|(_, _, body)| {
            let tag = inspect_video(body).unwrap();
            assert_eq!(validate_sequence_header(&tag, body), Ok(()));
            (tag.tracks, tag.codec, tag.keyframe, tag.packet)
        })
        .collect();
    let one = TrackSet::single(1);
    let zero = TrackSet::single(0);
    use VideoCodec::{Avc, Hevc};
    use VideoPacket::{Frame, Metadata, SequenceHeader};
    assert_eq!(
        seen[..6],
        [
            (zero, Avc, true, SequenceHeader),
            (one, Hevc, true, SequenceHeader),
            // FFmpeg's colorInfo for the HEVC stream, as a plain (track 0) message.
            (zero, Hevc, false, Metadata),
            (one, Hevc, true, Frame),
            (one, Hevc, false, Frame),
            (zero, Avc, true, Frame),
        ]
    );
    let (last, middle) = seen[6..].split_last().unwrap();
    assert!(
        middle
            .iter()
            .all(|(tracks, _, key, packet)| *packet == Frame
                && !key
                && (*tracks == zero || *tracks == one))
    );
    // FFmpeg ends the H.264 stream with a legacy end of sequence.
    assert_eq!(*last, (zero, Avc, true, VideoPacket::EndOfSequence));
}

#[test]
fn no_prefix_of_real_messages_panics() {
    let mut long_mod_ex = vec![0x97, 0xff, 0x00, 0xff];
    long_mod_ex.extend_from_slice(&[0u8; 256]);
    long_mod_ex.push(0x00);
    long_mod_ex.extend_from_slice(b"hvc1");
    long_mod_ex.extend_from_slice(&hevc_record());
    let mut legacy_hevc = vec![0x1c, 0x00, 0x00, 0x00, 0x00];
    legacy_hevc.extend_from_slice(&hevc_record());
    let mut many = vec![0x96, 0x20];
    many.extend_from_slice(b"hvc1");
    many.extend(sized_track(0, &hevc_record()));
    many.extend_from_slice(b"avc1");
    many.extend(sized_track(1, &avc_record()));
    let mut messages = vec![
        ffmpeg_avc_sequence_header(),
        legacy_hevc,
        enhanced(0x90, b"av01", AV1_RECORD),
        enhanced(0x90, b"vp09", VP9_RECORD),
        long_mod_ex,
        many,
        vec![0x95, 0x00, b'm', b'p', b'4', b'a', 0x00, 0x12, 0x10],
        vec![0xaf, 0x00, 0x12, 0x10],
    ];
    messages.extend(
        flv_tags(FFMPEG9_MULTITRACK_FLV)
            .into_iter()
            .take(12)
            .map(|(_, _, body)| body.to_vec()),
    );
    for message in &messages {
        for cut in 0..=message.len() {
            inspect_everything(&message[..cut]);
        }
    }
}

#[test]
fn no_pseudo_random_input_panics() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut buffer = [0u8; 96];
    for round in 0..20_000 {
        let len = (rng.next() % buffer.len() as u64) as usize;
        for byte in buffer.iter_mut().take(len) {
            *byte = rng.next() as u8;
        }
        // Steer most inputs into the interesting headers.
        if len > 0 && round % 2 == 0 {
            buffer[0] = [0x17, 0x1c, 0x90, 0x97, 0x96, 0x9f, 0xaf, 0x95][round % 8];
        }
        if len > 2 && round % 4 == 0 {
            buffer[1] = [0x00, 0x01, 0x10, 0x13, 0x20, 0x21][round % 6];
        }
        if len > 6 && round % 3 == 0 {
            buffer[2..6].copy_from_slice([b"avc1", b"hvc1", b"av01", b"vp09"][round % 4]);
        }
        inspect_everything(&buffer[..len]);
    }
}
