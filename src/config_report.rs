//! The effective settings as `--check-config` prints them: one `key = value` line per
//! setting in the config file's syntax and units, with where it came from, every key masked.

use std::fmt::Write as _;

use crate::config::CipherOrder;
use crate::config_file::{Loaded, Origin};
use crate::key_spec::mask;

/// The report's lines.
pub fn report(loaded: &Loaded) -> Vec<String> {
    let config = &loaded.config;
    let limits = &config.limits;
    let mut out = Report {
        loaded,
        lines: Vec::new(),
    };
    let quoted = |s: &str| format!("{s:?}");
    let path = |p: &std::path::Path| quoted(&p.display().to_string());
    let secs = |d: std::time::Duration| d.as_secs().to_string();
    let kib = |bytes: usize| (bytes / 1024).to_string();
    let list = |items: Vec<String>| format!("[{}]", items.join(", "));
    let masked = |keys: &[String]| list(keys.iter().map(|k| quoted(&mask(k))).collect());

    match &config.board {
        Some(board) => out.line("board", quoted(board)),
        None => out.unset("board", "none: the built-in defaults"),
    }
    out.line("listen", quoted(&config.listen.to_string()));
    match config.rtmp_listen {
        Some(addr) => out.line("rtmp_listen", quoted(&addr.to_string())),
        None => out.unset("rtmp_listen", "off"),
    }
    match &config.cert {
        Some((cert, key)) => {
            out.line("cert", path(cert));
            out.line("key", path(key));
        }
        None => {
            for (key, file) in [("cert", "cert.pem"), ("key", "key.pem")] {
                let made = config.state_dir.join(file);
                out.unset(key, &format!("self-signed, kept in {}", made.display()));
            }
        }
    }
    out.line("state_dir", path(&config.state_dir));
    out.line("log", quoted(&config.log));
    let order = match config.cipher_order {
        CipherOrder::ChaCha => "chacha",
        CipherOrder::Aes => "aes",
    };
    out.line("cipher_order", quoted(order));
    out.line(
        "apps",
        list(config.apps.iter().map(|a| quoted(a)).collect()),
    );
    out.line("publisher_takeover", config.takeover.to_string());
    out.line("max_connections", limits.max_connections.to_string());
    out.line(
        "max_connections_per_ip",
        limits.max_connections_per_ip.to_string(),
    );
    out.line("max_players", limits.max_players.to_string());
    out.line("play_wait_secs", secs(limits.play_wait));
    out.line("gop_cache_kib", kib(limits.gop_cache_bytes));
    out.line("player_queue", limits.player_queue_len.to_string());
    out.line("player_queue_kib", kib(limits.player_queue_bytes));
    out.line("slow_player_secs", secs(limits.slow_player));
    out.line("handshake_timeout_secs", secs(limits.handshake_timeout));
    out.line("idle_timeout_secs", secs(limits.idle_timeout));
    out.line(
        "max_message_kib",
        (limits.session.chunk.max_message_len / 1024).to_string(),
    );
    out.line("tls_out_kib", kib(limits.tls_out_bytes));
    out.line("worker_stack_kib", kib(limits.worker_stack));
    match &config.http {
        Some(http) => {
            out.line("http_listen", quoted(&http.listen.to_string()));
            match &http.token {
                Some(token) => out.line("http_token", quoted(&mask(token))),
                None => out.unset("http_token", "none (a loopback listener)"),
            }
        }
        None => {
            out.unset("http_listen", "off");
            out.unset("http_token", "none");
        }
    }
    out.unset("http_token_file", "its token, if any, is http_token");
    match &config.record {
        Some(record) => {
            out.line("record_dir", path(&record.dir));
            out.line("record_segment_secs", secs(record.segment));
            match record.max_bytes {
                Some(bytes) => out.line("record_max_mib", (bytes >> 20).to_string()),
                None => out.unset(
                    "record_max_mib",
                    "what the disk holds, less 5% (at most 1 GiB)",
                ),
            }
            match record.keep {
                Some(keep) => out.line("record_keep_hours", (keep.as_secs() / 3600).to_string()),
                None => out.unset("record_keep_hours", "until the budget needs the room"),
            }
        }
        None => {
            for key in [
                "record_dir",
                "record_segment_secs",
                "record_max_mib",
                "record_keep_hours",
            ] {
                out.unset(key, "recording off");
            }
        }
    }
    match &config.push_ca_file {
        Some(file) => out.line("push_ca_file", path(file)),
        None => out.unset("push_ca_file", "the system's roots only"),
    }
    out.line("push_timeout_secs", secs(limits.push_timeout));
    // Files the keys were read from: already part of the key lists below.
    out.unset(
        "publish_keys_file",
        "its keys, if any, are in the [[stream]] lines",
    );
    out.unset("play_keys_file", "its keys, if any, are in play_keys");
    if config.play_keys.is_empty() {
        out.unset("play_keys", "none");
    } else {
        out.line("play_keys", masked(&config.play_keys));
    }
    if config.publish_keys.is_empty() {
        let stored = config.state_dir.join("publish-key");
        out.lines.push(format!(
            "# [[stream]]: none; the key kept in {} publishes \"stream\"",
            stored.display()
        ));
    }
    let mut names: Vec<&str> = Vec::new();
    for entry in &config.publish_keys {
        if !names.contains(&entry.stream.as_str()) {
            names.push(&entry.stream);
        }
    }
    for name in names {
        let publish: Vec<String> = config
            .publish_keys
            .iter()
            .filter(|p| p.stream == name)
            .map(|p| p.key.clone())
            .collect();
        let play: Vec<String> = config
            .stream_play_keys
            .iter()
            .filter(|p| p.stream == name)
            .map(|p| p.key.clone())
            .collect();
        let mut line = format!(
            "[[stream]] name = {}, publish_keys = {}",
            quoted(name),
            masked(&publish)
        );
        if !play.is_empty() {
            let _ = write!(line, ", play_keys = {}", masked(&play));
        }
        if config.record.is_some() && config.recording_off.iter().any(|n| n == name) {
            line.push_str(", record = false");
        }
        let origin = loaded.origin("stream.publish_keys");
        let _ = write!(line, "  # {}", origin.word());
        out.lines.push(line);
    }
    // Pushes, the upstream's key redacted.
    for push in &config.pushes {
        let mut line = format!(
            "[[push]] stream = {}, url = {}",
            quoted(&push.stream),
            quoted(&push.url.redacted())
        );
        if let Some(file) = &push.ca_file {
            let _ = write!(line, ", ca_file = {}", path(file));
        }
        if let Some(sni) = &push.sni {
            let _ = write!(line, ", sni = {}", quoted(sni));
        }
        let origin = match loaded.origin("push") {
            Origin::File => "file",
            _ => "flag",
        };
        let _ = write!(line, "  # {origin}");
        out.lines.push(line);
    }
    out.lines
}

struct Report<'a> {
    loaded: &'a Loaded,
    lines: Vec<String>,
}

impl Report<'_> {
    /// `key = value  # origin`.
    fn line(&mut self, key: &str, value: String) {
        let origin = self.loaded.origin(key);
        let setting = format!("{key} = {value}");
        self.lines
            .push(format!("{setting:<38} # {}", origin.word()));
    }

    /// `# key: why` for a setting that is off or taken care of elsewhere.
    fn unset(&mut self, key: &str, why: &str) {
        self.lines.push(format!("# {key}: {why}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_file::{KEYS, load_text};
    use std::path::Path;

    fn loaded(flags: &[&str], text: &str) -> Loaded {
        let argv: Vec<String> = ["rtmpsd"]
            .iter()
            .chain(flags)
            .map(|s| s.to_string())
            .collect();
        load_text(&argv, text, Some(Path::new("test.toml"))).expect("loads")
    }

    #[test]
    fn every_key_has_a_line() {
        let lines = report(&loaded(&[], ""));
        for (key, _, _) in KEYS {
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with(&format!("{key} = "))
                        || l.starts_with(&format!("# {key}:"))),
                "no line for {key}: {lines:#?}"
            );
        }
    }

    #[test]
    fn keys_are_masked_and_origins_shown() {
        let text = r#"
board = "pi3-aarch64"
max_connections = 100
play_keys = ["global-play-secret"]
[[stream]]
name = "cam1"
publish_keys = ["cam1-publish-secret", "cam1-spare-secret"]
play_keys = ["cam1-play-secret"]
"#;
        let lines = report(&loaded(&["--gop-cache-kib", "1024"], text));
        let text = lines.join("\n");
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("\"cam...(19 chars)\""), "{text}");
        let line = |key: &str| {
            lines
                .iter()
                .find(|l| l.starts_with(&format!("{key} = ")))
                .cloned()
                .unwrap_or_default()
        };
        assert!(line("max_connections").ends_with("# file"), "{text}");
        assert!(line("gop_cache_kib").contains("1024"), "{text}");
        assert!(line("gop_cache_kib").ends_with("# flag"), "{text}");
        assert!(line("player_queue").contains("384"), "{text}");
        assert!(line("player_queue").ends_with("# board"), "{text}");
        assert!(line("idle_timeout_secs").ends_with("# default"), "{text}");
        assert!(
            text.contains("[[stream]] name = \"cam1\", publish_keys = [\"cam...(19 chars)\", \"cam...(17 chars)\"], play_keys = [\"cam...(16 chars)\"]  # file"),
            "{text}"
        );
    }
}
