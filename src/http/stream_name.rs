//! The one place that turns a hub name into the name operators see.
//!
//! Today a hub name is `app/<publish key>`, so the part after the app is a secret and is shown
//! redacted (`live/abc...(32 chars)`). When streams get public names apart from their keys
//! (issue 10), `public_name` returns the hub name as it is; nothing else needs to change.

use crate::server::keys::redact;

/// The name shown for hub stream `hub_name` in metrics labels, the JSON and the page.
pub fn public_name(hub_name: &str) -> String {
    match hub_name.split_once('/') {
        Some((app, key)) => format!("{app}/{}", redact(key)),
        None => redact(hub_name),
    }
}

/// Makes every name in `names` unique by numbering repeats (`name #2`), in order.
///
/// Two keys may redact alike; metrics series and page entries must still be told apart.
pub fn numbered_apart(names: &mut [String]) {
    for i in 1..names.len() {
        let (before, rest) = names.split_at_mut(i);
        let Some(name) = rest.first_mut() else {
            continue;
        };
        if before.contains(name) {
            let mut n = 2;
            while before.contains(&format!("{name} #{n}")) {
                n += 1;
            }
            *name = format!("{name} #{n}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_part_never_shows() {
        let shown = public_name("live/test-publish-key");
        assert_eq!(shown, "live/tes...(16 chars)");
        assert!(!shown.contains("publish-key"));
        assert_eq!(public_name("bare-key-name"), "bar...(13 chars)");
    }

    #[test]
    fn repeated_names_are_numbered() {
        let mut names: Vec<String> = ["a", "b", "a", "a"].iter().map(|s| s.to_string()).collect();
        numbered_apart(&mut names);
        assert_eq!(names, ["a", "b", "a #2", "a #3"]);
    }
}
