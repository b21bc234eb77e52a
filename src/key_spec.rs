//! How streams and keys are written in flags and files (`[NAME=]KEY`), which characters
//! they may use, and how a key is hinted at on the operator's screen.

use std::fmt;
use std::str::FromStr;

/// The name of the stream a bare `--publish-key KEY` publishes.
pub const DEFAULT_STREAM_NAME: &str = "stream";
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 128;
/// Longest stream name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// Whether `s` uses only URL-unreserved characters (RFC 3986: letters, digits, `-._~`),
/// which pass through a URL path or query as they are.
fn url_safe(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks a stream name: 1 to `MAX_NAME_LEN` URL-unreserved characters.
pub fn check_name(name: &str) -> Result<(), String> {
    // "." and ".." would name directories (recordings) other than the stream's own.
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || !url_safe(name)
        || name.bytes().all(|b| b == b'.')
    {
        return Err(format!(
            "stream name {name:?} must be 1-{MAX_NAME_LEN} characters of A-Z a-z 0-9 - . _ ~, not only dots"
        ));
    }
    Ok(())
}

/// Checks a key: 1 to `MAX_KEY_LEN` URL-unreserved characters. The key itself is never
/// quoted in the error.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !url_safe(key) {
        return Err(format!(
            "keys must be 1-{MAX_KEY_LEN} characters of A-Z a-z 0-9 - . _ ~ \
             (characters that pass a URL unchanged); one has {} characters{}",
            key.chars().count(),
            if url_safe(key) { "" } else { " and others" }
        ));
    }
    Ok(())
}

/// One publish key and the stream it publishes, as given: `[NAME=]KEY`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublishKey {
    /// The stream's public name.
    pub stream: String,
    /// The secret key.
    pub key: String,
}

impl fmt::Debug for PublishKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the key, even in debug output.
        write!(f, "PublishKey({}={})", self.stream, mask(&self.key))
    }
}

impl FromStr for PublishKey {
    type Err = String;

    /// `NAME=KEY`, or a bare `KEY` for the stream named `stream`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (stream, key) = match s.split_once('=') {
            Some((name, key)) => (name, key),
            None => (DEFAULT_STREAM_NAME, s),
        };
        check_name(stream)?;
        check_key(key)?;
        Ok(PublishKey {
            stream: stream.to_string(),
            key: key.to_string(),
        })
    }
}

/// A hint that helps someone recognise a key without giving it away: its first three
/// characters and its length (for the operator's screen, never for logs).
pub fn mask(key: &str) -> String {
    let head: String = key.chars().take(3).collect();
    format!("{head}...({} chars)", key.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_names_must_survive_a_url_unencoded() {
        assert!("a&b".parse::<PublishKey>().is_err());
        assert!("cam=a b".parse::<PublishKey>().is_err());
        assert!("cam=a%20b".parse::<PublishKey>().is_err());
        assert!("c/m=key".parse::<PublishKey>().is_err());
        assert!("=key".parse::<PublishKey>().is_err());
        assert!("..=key".parse::<PublishKey>().is_err());
        assert!(".=key".parse::<PublishKey>().is_err());
        assert!("a..b=key".parse::<PublishKey>().is_ok());
        assert!("cam=".parse::<PublishKey>().is_err());
        assert!("cam-1.a_b~=Key-1.2_3~".parse::<PublishKey>().is_ok());
        let err = "a&b".parse::<PublishKey>().unwrap_err();
        assert!(!err.contains("a&b"), "the key is never quoted: {err}");
        assert!(check_key(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
    }

    #[test]
    fn masks_keep_three_characters_and_debug_never_shows_a_key() {
        assert_eq!(mask("abcdef123"), "abc...(9 chars)");
        assert_eq!(mask("ab"), "ab...(2 chars)");
        let key: PublishKey = "cam=supersecret".parse().unwrap();
        assert!(!format!("{key:?}").contains("supersecret"));
    }
}
