//! Stream keys: constant-time checks, the stored default key, and redaction for logs.

use std::fs;
use std::path::Path;

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};

/// The publish and play keys, kept only as SHA-256 digests.
pub struct StreamKeys {
    publish: Vec<[u8; 32]>,
    play: Vec<[u8; 32]>,
}

fn sha256(key: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, key.as_bytes()).as_ref());
    out
}

/// Whether `candidate` matches any of `keys`, in time independent of where or whether it matches.
fn matches_any(keys: &[[u8; 32]], candidate: &str) -> bool {
    // Hashing first makes the comparison length-independent; every key is compared fully.
    let candidate = sha256(candidate);
    let mut found = 0u8;
    for key in keys {
        let diff = key
            .iter()
            .zip(candidate.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        found |= std::hint::black_box(u8::from(diff == 0));
    }
    found == 1
}

impl StreamKeys {
    /// Keys from their plain text.
    pub fn new(publish: &[String], play: &[String]) -> Self {
        StreamKeys {
            publish: publish.iter().map(|k| sha256(k)).collect(),
            play: play.iter().map(|k| sha256(k)).collect(),
        }
    }

    /// Whether `key` may publish.
    pub fn publish_allowed(&self, key: &str) -> bool {
        matches_any(&self.publish, key)
    }

    /// Whether playing needs a key at all.
    pub fn play_restricted(&self) -> bool {
        !self.play.is_empty()
    }

    /// Whether a player giving `key` (from `?key=`) may play.
    pub fn play_allowed(&self, key: Option<&str>) -> bool {
        if self.play.is_empty() {
            return true;
        }
        key.is_some_and(|k| matches_any(&self.play, k))
    }
}

/// Reads `publish-key` from `state_dir`, or makes a random one there; returns it and whether it is new.
pub fn stored_publish_key(state_dir: &Path) -> Result<(String, bool), String> {
    let path = state_dir.join("publish-key");
    if let Ok(text) = fs::read_to_string(&path) {
        let key = text.trim().to_string();
        if !key.is_empty() {
            return Ok((key, false));
        }
    }
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "no randomness for a publish key".to_string())?;
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crate::tls::write_private(&path, format!("{key}\n").as_bytes())?;
    Ok((key, true))
}

/// A key shortened for logs: its first three characters and its length.
pub fn redact(key: &str) -> String {
    let head: String = key.chars().take(3).collect();
    format!("{head}...({} chars)", key.chars().count())
}

/// A stream name split into its name and its `key=` query value.
pub fn split_name(name: &str) -> (&str, Option<&str>) {
    match name.split_once('?') {
        None => (name, None),
        Some((stream, query)) => {
            let key = query.split('&').find_map(|pair| pair.strip_prefix("key="));
            (stream, key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_configured_keys_may_publish() {
        let keys = StreamKeys::new(&["alpha".into(), "beta".into()], &[]);
        assert!(keys.publish_allowed("alpha"));
        assert!(keys.publish_allowed("beta"));
        assert!(!keys.publish_allowed("alph"));
        assert!(!keys.publish_allowed(""));
        assert!(!keys.publish_allowed("alphaa"));
    }

    #[test]
    fn playing_is_open_without_play_keys() {
        let open = StreamKeys::new(&["k".into()], &[]);
        assert!(open.play_allowed(None));
        let closed = StreamKeys::new(&["k".into()], &["seen".into()]);
        assert!(!closed.play_allowed(None));
        assert!(!closed.play_allowed(Some("nope")));
        assert!(closed.play_allowed(Some("seen")));
    }

    #[test]
    fn names_split_at_the_query_and_find_the_key() {
        assert_eq!(split_name("cam1"), ("cam1", None));
        assert_eq!(split_name("cam1?key=abc"), ("cam1", Some("abc")));
        assert_eq!(split_name("cam1?x=1&key=abc&y"), ("cam1", Some("abc")));
        assert_eq!(split_name("cam1?x=1"), ("cam1", None));
    }

    #[test]
    fn redaction_keeps_three_characters() {
        assert_eq!(redact("abcdef123"), "abc...(9 chars)");
        assert_eq!(redact("ab"), "ab...(2 chars)");
    }

    #[test]
    fn stored_key_is_made_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("rtmpsd-keys-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (first, created) = stored_publish_key(&dir).unwrap();
        assert!(created);
        assert_eq!(first.len(), 32);
        let (second, created) = stored_publish_key(&dir).unwrap();
        assert!(!created);
        assert_eq!(first, second);
        fs::remove_dir_all(&dir).unwrap();
    }
}
