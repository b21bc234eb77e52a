//! `/recordings/APP/STREAM/FILE.flv`: a closed recording segment, sent from disk.
//!
//! Only a file the recording registry lists is served, by exact path. Before the registry is
//! asked, the path must look like one it could list, or the answer is 400: three parts, each
//! made of the characters folder names are made of (`layout::dir_name`: letters, digits,
//! `- . _ ~`), none starting with a dot, the last a closed segment's name. Nothing is
//! percent-decoded (no listed name needs an escape), so `%2F` or `%2e%2e` is refused as it
//! stands. A listed file is opened without following a symlink (`O_NOFOLLOW`, and both
//! folders on the way must be real folders), and must be a regular file: a link planted
//! in the recording folder never leads out of it.
//!
//! The open `.flv.part` is not served (404): its last seconds are still in the recorder's
//! buffer, so a copy could end in the middle of a tag, and its length changes as it is read.
//! It gets its link once it closes (`--record-segment-secs`).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use log::warn;

use super::file_body::FileBody;
use super::response::{Response, Status};
use crate::server::recorder::RecordingRegistry;
use crate::server::recorder::layout::SegmentName;

/// Where downloads live: `/recordings/` and the segment's path in the recording folder.
pub const PREFIX: &str = "/recordings/";
/// The media type of a segment.
pub const CONTENT_TYPE: &str = "video/x-flv";

/// Why a download path is refused before the registry is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// Not three `/`-separated parts.
    Parts {
        /// Parts seen.
        seen: usize,
    },
    /// A part is empty, starts with a dot, or has a character no recording's path has.
    Part,
    /// The file name is not a closed segment's.
    NotSegment,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PathError::Parts { seen } => write!(
                f,
                "a recording's path is APP/STREAM/FILE.flv (3 parts), not {seen} parts"
            ),
            PathError::Part => f.write_str(
                "a part of a recording's path is made of letters, digits and - . _ ~ and \
                 starts with no dot",
            ),
            PathError::NotSegment => f.write_str("not a segment's name (START.flv)"),
        }
    }
}

/// Whether `part` could be a folder or file name the recorder made.
fn plain_part(part: &str) -> bool {
    !part.is_empty()
        && !part.starts_with('.')
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks `rel_path` (`APP/STREAM/FILE`, after the prefix) and reads its file name.
pub fn check_path(rel_path: &str) -> Result<SegmentName, PathError> {
    let parts: Vec<&str> = rel_path.split('/').take(4).collect();
    let [_, _, file] = parts[..] else {
        return Err(PathError::Parts { seen: parts.len() });
    };
    if !parts.iter().all(|p| plain_part(p)) {
        return Err(PathError::Part);
    }
    SegmentName::parse(file).ok_or(PathError::NotSegment)
}

/// The name a browser saves `rel_path` as: `APP_STREAM_START.flv`.
pub fn file_name(rel_path: &str) -> String {
    rel_path.replace('/', "_")
}

/// Why a listed segment's file is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unservable {
    /// It, or its folder, is gone: deleted by the budget after the look.
    Gone,
    /// It is a symlink.
    Symlink,
    /// One of its two folders is a symlink or no folder.
    FolderNotPlain,
    /// It is no regular file.
    NotAFile,
    /// It cannot be opened or read (the error's code).
    Unreadable(Option<i32>),
}

impl std::fmt::Display for Unservable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unservable::Gone => f.write_str("it is gone"),
            Unservable::Symlink => f.write_str("it is a symlink"),
            Unservable::FolderNotPlain => {
                f.write_str("a folder on its way is a symlink or no folder")
            }
            Unservable::NotAFile => f.write_str("it is no regular file"),
            Unservable::Unreadable(code) => write!(f, "it cannot be read (os error {code:?})"),
        }
    }
}

/// Opens `path` if neither it nor its two folders are symlinks and it is a regular file;
/// returns it with its size.
fn open_plain(path: &Path) -> Result<(File, u64), Unservable> {
    let stream_dir = path.parent().ok_or(Unservable::FolderNotPlain)?;
    let app_dir = stream_dir.parent().ok_or(Unservable::FolderNotPlain)?;
    for dir in [app_dir, stream_dir] {
        let meta = std::fs::symlink_metadata(dir).map_err(|_| Unservable::Gone)?;
        if !meta.file_type().is_dir() {
            return Err(Unservable::FolderNotPlain);
        }
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => Unservable::Symlink,
            Some(libc::ENOENT) => Unservable::Gone,
            code => Unservable::Unreadable(code),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| Unservable::Unreadable(e.raw_os_error()))?;
    if !meta.is_file() {
        return Err(Unservable::NotAFile);
    }
    Ok((file, meta.len()))
}

/// The response to `GET /recordings/REL_PATH`.
pub fn respond(registry: &RecordingRegistry, rel_path: &str) -> Response {
    let name = match check_path(rel_path) {
        Ok(name) => name,
        Err(e) => return Response::text(Status::BadRequest, format!("{e}\n")),
    };
    if name.open {
        return Response::text(
            Status::NotFound,
            "this segment is still being written; it can be downloaded once it closes\n",
        );
    }
    let Some(path) = registry.file(rel_path) else {
        return Response::text(
            Status::NotFound,
            "no such recording (the budget may have deleted it); see /api/v1/recordings\n",
        );
    };
    match open_plain(&path) {
        Ok((file, len)) => {
            let body = FileBody::new(file, len, rel_path.to_string());
            Response::file(CONTENT_TYPE, body).header(
                "Content-Disposition",
                format!("attachment; filename=\"{}\"", file_name(rel_path)),
            )
        }
        Err(why) => {
            if why != Unservable::Gone {
                warn!("recording download of {rel_path} refused: {why}");
            }
            Response::text(Status::NotFound, "no such recording\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_a_segment_could_have_pass() {
        let name = check_path("live/cam-1/20240501T123000Z.flv").unwrap();
        assert!(!name.open);
        assert!(check_path("live/x-0123abcd/20240501T123000Z_01.flv").is_ok());
        assert!(
            check_path("live/cam/20240501T123000Z.flv.part")
                .unwrap()
                .open
        );
        let refused = [
            ("../../etc/passwd", PathError::Parts { seen: 4 }),
            ("../etc/passwd", PathError::Part),
            ("live/../20240501T123000Z.flv", PathError::Part),
            (
                "live/cam/../cam/20240501T123000Z.flv",
                PathError::Parts { seen: 4 },
            ),
            (
                "/etc/cam/20240501T123000Z.flv",
                PathError::Parts { seen: 4 },
            ),
            ("live//20240501T123000Z.flv", PathError::Part),
            (
                "live/cam%2F..%2F..%2Fetc/20240501T123000Z.flv",
                PathError::Part,
            ),
            ("live%2Fcam/x/20240501T123000Z.flv", PathError::Part),
            ("live/.hidden/20240501T123000Z.flv", PathError::Part),
            ("live/cam/.20240501T123000Z.flv", PathError::Part),
            ("live/cam\\..\\x/20240501T123000Z.flv", PathError::Part),
            ("live/cam/passwd", PathError::NotSegment),
            ("live/cam/20240501T123000Z.mp4", PathError::NotSegment),
            ("live/cam", PathError::Parts { seen: 2 }),
            ("", PathError::Parts { seen: 1 }),
        ];
        for (path, error) in refused {
            assert_eq!(check_path(path).err(), Some(error), "{path}");
        }
    }

    #[test]
    fn the_saved_name_carries_the_stream() {
        assert_eq!(
            file_name("live/cam/20240501T123000Z.flv"),
            "live_cam_20240501T123000Z.flv"
        );
    }

    #[test]
    fn symlinks_and_other_files_are_not_opened() {
        let root = std::env::temp_dir().join(format!("rtmpsd-download-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("live/cam");
        std::fs::create_dir_all(&dir).unwrap();
        let secret = root.join("secret");
        std::fs::write(&secret, b"secret").unwrap();
        let real = dir.join("20240501T120000Z.flv");
        std::fs::write(&real, b"FLV\x01").unwrap();
        let (_, len) = open_plain(&real).unwrap();
        assert_eq!(len, 4);

        let link = dir.join("20240501T121000Z.flv");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        assert_eq!(open_plain(&link).err(), Some(Unservable::Symlink));
        let folder = dir.join("20240501T122000Z.flv");
        std::fs::create_dir(&folder).unwrap();
        assert_eq!(open_plain(&folder).err(), Some(Unservable::NotAFile));
        // A stream folder that is a link to elsewhere.
        std::os::unix::fs::symlink(&dir, root.join("live/other")).unwrap();
        assert_eq!(
            open_plain(&root.join("live/other/20240501T120000Z.flv")).err(),
            Some(Unservable::FolderNotPlain)
        );
        assert_eq!(
            open_plain(&dir.join("20240501T130000Z.flv")).err(),
            Some(Unservable::Gone)
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
