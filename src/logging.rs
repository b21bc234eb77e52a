//! Logging set-up: env_logger without its optional parts, with a UTC millisecond timestamp.
//!
//! env_logger's `humantime` and `regex` features pull in a date-time library and a regex
//! engine, about a fifth of the binary; one civil-date conversion does the same job here.
//!
//! Under systemd, when stderr is the journal (`$JOURNAL_STREAM` names stderr's device and
//! inode), each line starts with its syslog priority (`<3>` error, `<4>` warning, `<6>` info,
//! `<7>` debug) and has no timestamp: journald keeps its own, and reads the prefix as the
//! line's priority, so `journalctl -p warning` works.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// The filter for `--log LEVEL`: that level, with rustls held to errors. rustls warns about
/// things healthy clients do (an IP address as SNI, which GStreamer sends on every
/// connection), and the session's own close line says what went wrong with TLS.
pub fn filter_for_level(level: &str) -> String {
    format!("{level},rustls=error")
}

/// Starts logging with `filter` (env_logger syntax: `info`, `rtmpsd=debug`, ...), in the
/// journal's format when stderr is the journal.
pub fn init(filter: &str) {
    let journal = stderr_is_journal();
    env_logger::Builder::new()
        .parse_filters(filter)
        .format(move |out, record| {
            if journal {
                writeln!(
                    out,
                    "{}{} {}",
                    journal_priority(record.level()),
                    record.target(),
                    record.args()
                )
            } else {
                writeln!(
                    out,
                    "[{} {:<5} {}] {}",
                    utc_timestamp(SystemTime::now()),
                    record.level(),
                    record.target(),
                    record.args()
                )
            }
        })
        .init();
}

/// The syslog priority prefix journald reads from the start of a line (sd-daemon.h).
pub fn journal_priority(level: log::Level) -> &'static str {
    match level {
        log::Level::Error => "<3>",
        log::Level::Warn => "<4>",
        log::Level::Info => "<6>",
        log::Level::Debug | log::Level::Trace => "<7>",
    }
}

/// Whether stderr is the journal: `$JOURNAL_STREAM` (`DEVICE:INODE`) names it. Checking the
/// inode, not only the variable, keeps a child whose stderr was redirected from using the
/// journal's format in a file or a terminal.
pub fn stderr_is_journal() -> bool {
    fd_is_journal(2)
}

/// Whether stdout is the journal (systemd's default for a service's stdout too): what is
/// printed there is logged, and kept where the journal's readers can see it.
pub fn stdout_is_journal() -> bool {
    fd_is_journal(1)
}

fn fd_is_journal(fd: i32) -> bool {
    let Ok(stream) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    // SAFETY: fstat writes only into the zeroed stat we pass.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut stat) } != 0 {
        return false;
    }
    names_device_and_inode(&stream, stat.st_dev as u64, stat.st_ino as u64)
}

/// Whether `DEVICE:INODE` (decimal, as systemd writes `$JOURNAL_STREAM`) is `dev`, `ino`.
fn names_device_and_inode(stream: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = stream.trim().split_once(':') else {
        return false;
    };
    d.parse() == Ok(dev) && i.parse() == Ok(ino)
}

/// `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn utc_timestamp(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let of_day = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
        since_epoch.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> String {
        utc_timestamp(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis))
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 7), "2000-02-29T00:00:00.007Z");
        assert_eq!(at(1_795_402_277, 681), "2026-11-23T02:51:17.681Z");
        assert_eq!(at(4_102_444_799, 999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn journal_stream_must_name_the_device_and_inode() {
        assert!(names_device_and_inode("8:12345", 8, 12345));
        assert!(!names_device_and_inode("8:12345", 8, 12346));
        assert!(!names_device_and_inode("9:12345", 8, 12345));
        assert!(!names_device_and_inode("812345", 8, 12345));
        assert!(!names_device_and_inode("", 0, 0));
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        use log::Level;
        let got: Vec<&str> = [
            Level::Error,
            Level::Warn,
            Level::Info,
            Level::Debug,
            Level::Trace,
        ]
        .into_iter()
        .map(journal_priority)
        .collect();
        assert_eq!(got, ["<3>", "<4>", "<6>", "<7>", "<7>"]);
    }

    #[test]
    fn every_day_follows_the_one_before() {
        let mut previous = civil_from_days(-1);
        for days in 0..200_000 {
            let today = civil_from_days(days);
            let next_day = previous.2 + 1 == today.2 && previous.1 == today.1;
            let next_month = today.2 == 1 && (previous.1 % 12 + 1 == today.1);
            assert!(next_day || next_month, "{previous:?} -> {today:?}");
            previous = today;
        }
    }
}
