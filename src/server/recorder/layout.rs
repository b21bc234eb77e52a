//! Where recordings go: `DIR/<app>/<stream>/<UTC start>.flv`, `.flv.part` while open.
//!
//! Start times are ISO 8601 basic format in UTC (`20240501T123000Z`): no colons, which FAT
//! and exFAT cards refuse, and names that sort in time order, so the oldest segment of a
//! folder is its first name. Directory names are the stream's public name (keys never
//! appear), or a hash when the name would not make a plain folder name (`.` or `..`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::digest::{SHA256, digest};

/// The extension of a closed segment.
pub const SEGMENT_EXT: &str = ".flv";
/// The extension of a segment being written (or left open by a power cut).
pub const OPEN_EXT: &str = ".flv.part";
/// Most segments started in one second of one stream (a publisher reconnecting in a loop).
const MAX_SAME_SECOND: u32 = 100;

/// The folder name of an app or stream name inside the recording folder.
pub fn dir_name(name: &str) -> String {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if plain {
        return name.to_string();
    }
    let hash = digest(&SHA256, name.as_bytes());
    let hex: String = hash.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("x-{hex}")
}

/// The folder of hub stream `app/name`, relative to the recording folder (`/`-separated).
pub fn stream_rel_dir(hub_name: &str) -> String {
    let (app, name) = hub_name.split_once('/').unwrap_or(("", hub_name));
    format!("{}/{}", dir_name(app), dir_name(name))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's method).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since 1970-01-01, the inverse of `civil_from_days`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `time` as `YYYYMMDDTHHMMSSZ` (UTC, whole seconds; times before 1970 are 1970).
pub fn utc_stamp(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// The seconds since 1970 a `YYYYMMDDTHHMMSSZ` stamp names.
pub fn parse_utc_stamp(stamp: &str) -> Option<u64> {
    let b = stamp.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = stamp.get(range)?;
        if !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    u64::try_from(secs).ok()
}

/// A file name the recorder made: `<stamp>[_NN].flv` or `<stamp>[_NN].flv.part`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentName {
    /// `<stamp>[_NN]`: sorts in start-time order.
    pub stem: String,
    /// Seconds since 1970 of its start.
    pub start: u64,
    /// Still open (`.flv.part`).
    pub open: bool,
}

impl SegmentName {
    /// Reads a file name; `None` for files the recorder did not make.
    pub fn parse(file_name: &str) -> Option<SegmentName> {
        let (stem, open) = match file_name.strip_suffix(OPEN_EXT) {
            Some(stem) => (stem, true),
            None => (file_name.strip_suffix(SEGMENT_EXT)?, false),
        };
        let stamp = stem.get(..16)?;
        let start = parse_utc_stamp(stamp)?;
        match stem.get(16..)? {
            "" => {}
            suffix => {
                let n = suffix.strip_prefix('_')?;
                if n.len() != 2 || !n.bytes().all(|c| c.is_ascii_digit()) {
                    return None;
                }
            }
        }
        Some(SegmentName {
            stem: stem.to_string(),
            start,
            open,
        })
    }
}

/// A free stem for a segment of `dir` starting at `start`: the stamp, or the stamp with
/// `_01`, `_02`, ... when a segment of that second exists (closed or open). `_` sorts after
/// the `.` of `.flv`, so `ls` shows them in start order too.
pub fn free_stem(dir: &Path, start: SystemTime) -> io::Result<String> {
    let stamp = utc_stamp(start);
    for n in 0..MAX_SAME_SECOND {
        let stem = if n == 0 {
            stamp.clone()
        } else {
            format!("{stamp}_{n:02}")
        };
        let taken = [SEGMENT_EXT, OPEN_EXT]
            .iter()
            .any(|ext| dir.join(format!("{stem}{ext}")).exists());
        if !taken {
            return Ok(stem);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{MAX_SAME_SECOND} segments already start at {stamp}"),
    ))
}

/// A segment file found in the recording folder.
#[derive(Debug, Clone)]
pub struct FoundSegment {
    /// `app/stream/file`, relative to the recording folder.
    pub rel_path: String,
    /// Its full path.
    pub path: PathBuf,
    /// What its name says.
    pub name: SegmentName,
}

/// The segment files of `root/*/*/`, looking at no more than `max_entries` directory
/// entries in all; the flag says whether that bound cut the listing short.
pub fn find_segments(root: &Path, max_entries: usize) -> io::Result<(Vec<FoundSegment>, bool)> {
    let mut found = Vec::new();
    let mut seen = 0usize;
    for app in fs::read_dir(root)? {
        let app = app?;
        seen += 1;
        if seen > max_entries {
            return Ok((found, true));
        }
        if !app.file_type()?.is_dir() {
            continue;
        }
        let Ok(streams) = fs::read_dir(app.path()) else {
            continue;
        };
        for stream in streams {
            let stream = stream?;
            seen += 1;
            if seen > max_entries {
                return Ok((found, true));
            }
            if !stream.file_type()?.is_dir() {
                continue;
            }
            let Ok(files) = fs::read_dir(stream.path()) else {
                continue;
            };
            for file in files {
                let file = file?;
                seen += 1;
                if seen > max_entries {
                    return Ok((found, true));
                }
                let file_name = file.file_name();
                let (Some(app_name), Some(stream_name), Some(file_name)) = (
                    app.file_name().to_str().map(str::to_string),
                    stream.file_name().to_str().map(str::to_string),
                    file_name.to_str(),
                ) else {
                    continue;
                };
                let Some(name) = SegmentName::parse(file_name) else {
                    continue;
                };
                if !file.file_type()?.is_file() {
                    continue;
                }
                found.push(FoundSegment {
                    rel_path: format!("{app_name}/{stream_name}/{file_name}"),
                    path: file.path(),
                    name,
                });
            }
        }
    }
    Ok((found, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_basic_format_and_read_back() {
        let cases = [
            (0, "19700101T000000Z"),
            (951_782_400, "20000229T000000Z"),
            (1_714_566_600, "20240501T123000Z"),
            (4_102_444_799, "20991231T235959Z"),
        ];
        for (secs, stamp) in cases {
            let time = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(utc_stamp(time), stamp);
            assert_eq!(parse_utc_stamp(stamp), Some(secs), "{stamp}");
        }
        for secs in (0..4_000_000_000u64).step_by(86_399 * 37) {
            let stamp = utc_stamp(UNIX_EPOCH + Duration::from_secs(secs));
            assert_eq!(parse_utc_stamp(&stamp), Some(secs), "{stamp}");
        }
        for bad in [
            "20240501T123000",
            "2024-05-01T12:30:00Z",
            "20241301T000000Z",
            "x",
        ] {
            assert_eq!(parse_utc_stamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn segment_names_are_only_ours() {
        let name = SegmentName::parse("20240501T123000Z.flv").unwrap();
        assert_eq!((name.stem.as_str(), name.open), ("20240501T123000Z", false));
        let name = SegmentName::parse("20240501T123000Z_02.flv.part").unwrap();
        assert_eq!(
            (name.stem.as_str(), name.open),
            ("20240501T123000Z_02", true)
        );
        assert_eq!(name.start, 1_714_566_600);
        for other in [
            "notes.txt",
            "20240501T123000Z.mp4",
            "20240501T123000Z_.flv",
            "20240501T123000Zx.flv",
            "20240501T123000Z_123.flv",
            "20240501T123000Z_1.flv",
            "20240501T123000Z-01.flv",
            "holiday.flv",
        ] {
            assert_eq!(SegmentName::parse(other), None, "{other}");
        }
    }

    #[test]
    fn file_names_sort_in_start_order() {
        let mut names = vec![
            "20240501T123001Z.flv",
            "20240501T123000Z_01.flv",
            "20240501T123000Z_10.flv",
            "20240501T123000Z.flv",
            "20240501T123000Z_02.flv",
            "20231231T235959Z.flv",
        ];
        names.sort();
        assert_eq!(
            names,
            [
                "20231231T235959Z.flv",
                "20240501T123000Z.flv",
                "20240501T123000Z_01.flv",
                "20240501T123000Z_02.flv",
                "20240501T123000Z_10.flv",
                "20240501T123001Z.flv"
            ]
        );
    }

    #[test]
    fn names_that_are_not_plain_folder_names_are_hashed() {
        assert_eq!(dir_name("cam-1.a_b~"), "cam-1.a_b~");
        for odd in [".", "..", ".hidden", "a/b", ""] {
            let name = dir_name(odd);
            assert!(
                name.starts_with("x-") && name.len() == 18,
                "{odd} -> {name}"
            );
        }
        assert_ne!(dir_name("."), dir_name(".."));
        assert_eq!(stream_rel_dir("live/cam"), "live/cam");
    }

    #[test]
    fn a_second_segment_in_the_same_second_gets_a_suffix() {
        let dir = std::env::temp_dir().join(format!("rtmpsd-layout-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let start = UNIX_EPOCH + Duration::from_secs(1_714_566_600);
        assert_eq!(free_stem(&dir, start).unwrap(), "20240501T123000Z");
        fs::write(dir.join("20240501T123000Z.flv"), b"").unwrap();
        assert_eq!(free_stem(&dir, start).unwrap(), "20240501T123000Z_01");
        fs::write(dir.join("20240501T123000Z_01.flv.part"), b"").unwrap();
        assert_eq!(free_stem(&dir, start).unwrap(), "20240501T123000Z_02");
        fs::remove_dir_all(&dir).unwrap();
    }
}
