//! Streams and their keys: which publish key publishes which stream name, who may play,
//! constant-time checks, and the stored default key.
//!
//! A stream has a public name (what players play, what logs, metrics and file names show)
//! and one or more secret publish keys. Keys are kept only as SHA-256 digests and compared
//! with `subtle`, so neither a match nor its position shows in the time taken.

use std::fs;
use std::path::Path;

use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::key_spec::{PublishKey, check_key};

fn sha256(key: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, key.as_bytes()).as_ref());
    out
}

struct KeyDigest {
    stream_index: u32,
    digest: [u8; 32],
}

/// The streams, their publish keys and the play keys, the keys kept only as digests.
pub struct StreamKeys {
    names: Vec<String>,
    publish: Vec<KeyDigest>,
    play: Vec<[u8; 32]>,
}

impl StreamKeys {
    /// Streams and keys from their plain text; a key given twice is kept once.
    pub fn new(publish: &[PublishKey], play: &[String]) -> Self {
        let mut names: Vec<String> = Vec::new();
        let mut digests = Vec::with_capacity(publish.len());
        for entry in publish {
            let index = match names.iter().position(|n| *n == entry.stream) {
                Some(i) => i,
                None => {
                    names.push(entry.stream.clone());
                    names.len() - 1
                }
            };
            digests.push(KeyDigest {
                stream_index: index as u32,
                digest: sha256(&entry.key),
            });
        }
        StreamKeys {
            names,
            publish: digests,
            play: play.iter().map(|k| sha256(k)).collect(),
        }
    }

    /// The configured stream names, in the order first given.
    pub fn stream_names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Whether `name` is a configured stream.
    pub fn is_stream(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The stream that `key` publishes, if it is a publish key. Every key is compared, in
    /// time independent of which one matches or whether any does.
    pub fn stream_for_key(&self, key: &str) -> Option<&str> {
        let candidate = sha256(key);
        let mut found = Choice::from(0);
        let mut index = 0u32;
        for entry in &self.publish {
            let equal = entry.digest.ct_eq(&candidate);
            index = u32::conditional_select(&index, &entry.stream_index, equal);
            found |= equal;
        }
        if bool::from(found) {
            self.names.get(index as usize).map(String::as_str)
        } else {
            None
        }
    }

    /// Whether `key` is a publish key of stream `name`.
    pub fn publishes(&self, name: &str, key: &str) -> bool {
        self.stream_for_key(key) == Some(name)
    }

    /// Whether a player giving `key` (from `?key=`) may play.
    pub fn play_allowed(&self, key: Option<&str>) -> bool {
        if self.play.is_empty() {
            return true;
        }
        let Some(key) = key else {
            return false;
        };
        let candidate = sha256(key);
        let mut found = Choice::from(0);
        for digest in &self.play {
            found |= digest.ct_eq(&candidate);
        }
        bool::from(found)
    }
}

/// Reads `publish-key` from `state_dir`, or makes a random one there; returns it and whether it is new.
pub fn stored_publish_key(state_dir: &Path) -> Result<(String, bool), String> {
    let path = state_dir.join("publish-key");
    if let Ok(text) = fs::read_to_string(&path) {
        let key = text.trim().to_string();
        if !key.is_empty() {
            check_key(&key).map_err(|e| format!("{}: {e}", path.display()))?;
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
    use crate::key_spec::DEFAULT_STREAM_NAME;

    fn keys(specs: &[&str], play: &[&str]) -> StreamKeys {
        let publish: Vec<PublishKey> = specs.iter().map(|s| s.parse().unwrap()).collect();
        let play: Vec<String> = play.iter().map(|s| s.to_string()).collect();
        StreamKeys::new(&publish, &play)
    }

    #[test]
    fn each_key_publishes_its_own_stream_and_nothing_else() {
        let keys = keys(&["cam1=alpha", "cam1=beta", "cam2=gamma", "delta"], &[]);
        assert_eq!(keys.stream_for_key("alpha"), Some("cam1"));
        assert_eq!(keys.stream_for_key("beta"), Some("cam1"));
        assert_eq!(keys.stream_for_key("gamma"), Some("cam2"));
        assert_eq!(keys.stream_for_key("delta"), Some(DEFAULT_STREAM_NAME));
        assert_eq!(keys.stream_for_key("alph"), None);
        assert_eq!(keys.stream_for_key(""), None);
        assert_eq!(keys.stream_for_key("cam1"), None, "a name is no key");
        assert!(keys.publishes("cam1", "beta"));
        assert!(
            !keys.publishes("cam2", "beta"),
            "a key publishes only its stream"
        );
        let names: Vec<&str> = keys.stream_names().collect();
        assert_eq!(names, ["cam1", "cam2", "stream"]);
        assert!(keys.is_stream("cam2") && !keys.is_stream("alpha"));
    }

    #[test]
    fn playing_is_open_without_play_keys() {
        let open = keys(&["k"], &[]);
        assert!(open.play_allowed(None));
        let closed = keys(&["k"], &["seen"]);
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
