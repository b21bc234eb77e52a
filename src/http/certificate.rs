//! The certificate the status page offers: its PEM, fingerprint and expiry.
//!
//! Expiry is read from the leaf's DER with a small reader for exactly the fields before
//! `validity` (ITU-T X.690 DER, RFC 5280 section 4.1): `Certificate` SEQUENCE, `tbsCertificate`
//! SEQUENCE, optional `[0]` version, serial INTEGER, signature SEQUENCE, issuer SEQUENCE, then
//! `validity` SEQUENCE of two times (UTCTime `YYMMDDHHMMSSZ`, years 50-99 meaning 19xx, or
//! GeneralizedTime `YYYYMMDDHHMMSSZ`). Every length is checked against what is left; any
//! surprise gives `None`, never a panic.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// DER tags read here.
mod tag {
    pub const INTEGER: u8 = 0x02;
    pub const SEQUENCE: u8 = 0x30;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const VERSION: u8 = 0xA0;
}

/// What the page shows about the server's certificate.
#[derive(Debug, Clone)]
pub struct CertificateInfo {
    /// Colon-separated SHA-256 of the leaf.
    pub fingerprint: String,
    /// The chain as PEM, to download.
    pub pem: Vec<u8>,
    /// When the leaf expires, if that could be read.
    pub not_after: Option<SystemTime>,
}

impl CertificateInfo {
    /// Reads the PEM chain at `path`; `fingerprint` is the leaf's, as the TLS set-up computed it.
    pub fn load(path: &Path, fingerprint: &str) -> Result<CertificateInfo, String> {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let leaf = CertificateDer::pem_slice_iter(&pem)
            .next()
            .ok_or_else(|| format!("{}: no certificate in it", path.display()))?
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(CertificateInfo {
            fingerprint: fingerprint.to_string(),
            not_after: not_after(&leaf),
            pem,
        })
    }
}

/// One DER element: its tag, its contents, and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let bytes = rest.get(..count)?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest.get(count..)?)
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// `der`'s next element if it has tag `want`: its contents and what follows.
fn expect(der: &[u8], want: u8) -> Option<(&[u8], &[u8])> {
    let (tag, contents, rest) = element(der)?;
    (tag == want).then_some((contents, rest))
}

/// The leaf certificate's `notAfter`.
pub fn not_after(der: &[u8]) -> Option<SystemTime> {
    let (certificate, _) = expect(der, tag::SEQUENCE)?;
    let (tbs, _) = expect(certificate, tag::SEQUENCE)?;
    let mut rest = tbs;
    if let Some((_, after_version)) = expect(rest, tag::VERSION) {
        rest = after_version;
    }
    let (_, rest) = expect(rest, tag::INTEGER)?; // serial
    let (_, rest) = expect(rest, tag::SEQUENCE)?; // signature algorithm
    let (_, rest) = expect(rest, tag::SEQUENCE)?; // issuer
    let (validity, _) = expect(rest, tag::SEQUENCE)?;
    let (_, _, times) = element(validity)?; // notBefore
    let (kind, text, _) = element(times)?;
    time_of(kind, text)
}

/// A UTCTime or GeneralizedTime in UTC (`Z`) as a `SystemTime`.
fn time_of(kind: u8, text: &[u8]) -> Option<SystemTime> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (kind, text.len()) {
        (tag::UTC_TIME, 12) => {
            let yy: i64 = text.get(..2)?.parse().ok()?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, text.get(2..)?)
        }
        (tag::GENERALIZED_TIME, 14) => (text.get(..4)?.parse().ok()?, text.get(4..)?),
        _ => return None,
    };
    let field = |at: usize| -> Option<i64> { rest.get(at..at + 2)?.parse().ok() };
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(60);
    Some(UNIX_EPOCH + Duration::from_secs(u64::try_from(secs).ok()?))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logging::utc_timestamp;

    fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if contents.len() < 0x80 {
            out.push(contents.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(contents.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(contents);
        out
    }

    /// A certificate skeleton with only what `not_after` walks over.
    fn skeleton(with_version: bool, not_before: &[u8], not_after: &[u8]) -> Vec<u8> {
        let mut tbs = Vec::new();
        if with_version {
            tbs.extend(der(tag::VERSION, &der(tag::INTEGER, &[2])));
        }
        tbs.extend(der(tag::INTEGER, &[0x01, 0x02]));
        tbs.extend(der(tag::SEQUENCE, &[]));
        tbs.extend(der(tag::SEQUENCE, &[0u8; 200])); // a long-form length
        tbs.extend(der(tag::SEQUENCE, &[not_before, not_after].concat()));
        der(tag::SEQUENCE, &der(tag::SEQUENCE, &tbs))
    }

    fn shown(time: Option<SystemTime>) -> String {
        utc_timestamp(time.expect("a time"))
    }

    #[test]
    fn utc_and_generalized_times_are_read() {
        let before = der(tag::UTC_TIME, b"250101000000Z");
        let cert = skeleton(true, &before, &der(tag::UTC_TIME, b"350102030405Z"));
        assert_eq!(shown(not_after(&cert)), "2035-01-02T03:04:05.000Z");
        let cert = skeleton(
            false,
            &before,
            &der(tag::GENERALIZED_TIME, b"40960101000000Z"),
        );
        assert_eq!(shown(not_after(&cert)), "4096-01-01T00:00:00.000Z");
        let cert = skeleton(true, &before, &der(tag::UTC_TIME, b"991231235959Z"));
        assert_eq!(shown(not_after(&cert)), "1999-12-31T23:59:59.000Z");
    }

    #[test]
    fn the_generated_certificate_expires_in_ten_years() {
        let (pem, _) = crate::tls::self_signed(&["rtmpsd".into()], &[]).unwrap();
        let leaf = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
        let expiry = not_after(&leaf).expect("expiry");
        let left = expiry.duration_since(SystemTime::now()).unwrap().as_secs();
        assert!((3648 * 86_400..=3650 * 86_400).contains(&left), "{left}");
    }

    #[test]
    fn cut_or_odd_input_gives_none() {
        let before = der(tag::UTC_TIME, b"250101000000Z");
        let cert = skeleton(true, &before, &der(tag::UTC_TIME, b"350102030405Z"));
        for cut in 0..cert.len() {
            assert_eq!(not_after(&cert[..cut]), None, "cut at {cut}");
        }
        let odd = skeleton(true, &before, &der(tag::UTC_TIME, b"351302030405Z"));
        assert_eq!(not_after(&odd), None, "month 13");
        let local = skeleton(true, &before, &der(tag::UTC_TIME, b"350102030405+0100"));
        assert_eq!(not_after(&local), None, "not UTC");
        assert_eq!(
            not_after(&[0x30, 0x85, 1, 1, 1, 1, 1]),
            None,
            "5-byte length"
        );
    }

    #[test]
    fn days_from_civil_inverts_the_logging_calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        let t = UNIX_EPOCH + Duration::from_secs(days_from_civil(2026, 11, 23) as u64 * 86_400);
        assert!(utc_timestamp(t).starts_with("2026-11-23T00:00:00"));
    }
}
