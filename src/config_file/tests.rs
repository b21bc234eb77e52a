use super::*;
use crate::config::CipherOrder;

use std::time::Duration;

fn args(flags: &[&str]) -> Vec<String> {
    ["rtmpsd"]
        .iter()
        .chain(flags)
        .map(|s| s.to_string())
        .collect()
}

fn load_with(flags: &[&str], text: &str) -> Result<Loaded, String> {
    load_text(&args(flags), text, Some(Path::new("rtmpsd.toml")))
}

/// The example file with every `# key = value` line and `# [[stream]]` header uncommented.
fn example_uncommented() -> String {
    let example = include_str!("../../rtmpsd.example.toml");
    let mut out = String::new();
    for line in example.lines() {
        let body = line.strip_prefix("# ").unwrap_or("");
        let is_key = body.split_once(" = ").is_some_and(|(k, _)| {
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        });
        if is_key || body == "[[stream]]" || body == "[[push]]" {
            out.push_str(body);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_example_file_parses_and_documents_every_key() {
    let text = example_uncommented();
    let document = toml_reader::read(&text).expect("the uncommented example parses");
    assert_eq!(document.tables.len(), 3, "one [[stream]], two [[push]]");
    for key in PUSH_KEYS {
        assert!(
            document.tables[1..]
                .iter()
                .any(|t| t.entries.iter().any(|e| e.key == key)),
            "rtmpsd.example.toml's [[push]] tables have no `# {key} = ...` line"
        );
    }
    for (key, _, _) in KEYS {
        assert!(
            document.top.iter().any(|e| e.key == *key),
            "rtmpsd.example.toml has no `# {key} = ...` line"
        );
    }
    for key in STREAM_KEYS {
        assert!(
            document.tables[0].entries.iter().any(|e| e.key == key),
            "rtmpsd.example.toml's [[stream]] has no `# {key} = ...` line"
        );
    }
    // Every key's value in the example is one the server takes (files it names aside).
    let without_files: String = text
        .lines()
        .filter(|l| {
            !l.starts_with("publish_keys_file")
                && !l.starts_with("play_keys_file")
                && !l.starts_with("http_token_file")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let loaded = load_with(&[], &without_files).expect("the example's values are valid");
    assert_eq!(loaded.config.board.as_deref(), Some("pi4-aarch64"));
    assert_eq!(loaded.config.publish_keys.len(), 1);
    assert_eq!(loaded.config.stream_play_keys.len(), 1);
    assert_eq!(loaded.config.pushes.len(), 2);
}

#[test]
fn the_commented_example_is_the_defaults() {
    let example = include_str!("../../rtmpsd.example.toml");
    let from_file = load_with(&[], example).expect("loads");
    let none = load_text(&args(&[]), "", None).expect("loads");
    assert_eq!(
        format!("{:?}", from_file.config.limits),
        format!("{:?}", none.config.limits)
    );
    assert!(
        from_file.origins.is_empty() || from_file.origins.iter().all(|(k, _)| *k == "state_dir")
    );
}

#[test]
fn every_key_sets_its_option() {
    let dir = std::env::temp_dir().join(format!("rtmpsd-config-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let publish_file = dir.join("publish");
    let play_file = dir.join("play");
    std::fs::write(&publish_file, "cam9=from-publish-file\n").unwrap();
    std::fs::write(&play_file, "from-play-file\n").unwrap();
    let text = format!(
        r#"
board = "pi3-armv7"
listen = "127.0.0.1:4443"
rtmp_listen = "127.0.0.1:1935"
cert = "/c.pem"
key = "/k.pem"
state_dir = "/var/lib/x"
publish_keys_file = "{}"
play_keys = ["play-everything"]
play_keys_file = "{}"
apps = ["live", "studio"]
publisher_takeover = false
log = "debug"
cipher_order = "aes"
max_connections = 100
max_connections_per_ip = 5
max_players = 50
play_wait_secs = 7
gop_cache_kib = 1000
player_queue = 99
player_queue_kib = 2000
slow_player_secs = 3
handshake_timeout_secs = 4
idle_timeout_secs = 5
max_message_kib = 1000
tls_out_kib = 64
worker_stack_kib = 128
http_listen = "0.0.0.0:8080"
http_token = "a-long-http-token"
record_dir = "/rec"
record_segment_secs = 60
record_max_mib = 2
record_keep_hours = 3
push_ca_file = "/push-ca.pem"
push_timeout_secs = 12

[[stream]]
name = "cam1"
publish_keys = ["cam1-key-a", "cam1-key-b"]
play_keys = ["cam1-play"]

[[stream]]
name = "cam2"
publish_keys = ["cam2-key"]
record = false

[[push]]
stream = "cam1"
url = "rtmps://a.rtmps.youtube.com/live2/upstream-secret"

[[push]]
stream = "cam2"
url = "rtmps://origin.example:4443/live/other-secret"
ca_file = "/origin-ca.pem"
sni = "origin.example"
"#,
        publish_file.display(),
        play_file.display()
    );
    let loaded = load_with(&[], &text).expect("loads");
    let c = &loaded.config;
    let l = &c.limits;
    assert_eq!(c.board.as_deref(), Some("pi3-armv7"));
    assert_eq!(c.listen, "127.0.0.1:4443".parse().unwrap());
    assert_eq!(c.rtmp_listen, Some("127.0.0.1:1935".parse().unwrap()));
    assert_eq!(
        c.cert,
        Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
    );
    assert_eq!(c.state_dir, PathBuf::from("/var/lib/x"));
    let publish: Vec<(&str, &str)> = c
        .publish_keys
        .iter()
        .map(|k| (k.stream.as_str(), k.key.as_str()))
        .collect();
    assert_eq!(
        publish,
        [
            ("cam1", "cam1-key-a"),
            ("cam1", "cam1-key-b"),
            ("cam2", "cam2-key"),
            ("cam9", "from-publish-file")
        ]
    );
    assert_eq!(c.play_keys, ["play-everything", "from-play-file"]);
    assert_eq!(c.stream_play_keys.len(), 1);
    assert_eq!(c.stream_play_keys[0].stream, "cam1");
    assert_eq!(c.apps, ["live", "studio"]);
    assert!(!c.takeover);
    assert_eq!(c.log, "debug");
    assert_eq!(
        c.cipher_order,
        CipherOrder::Aes,
        "the file's, not the board's"
    );
    assert_eq!(l.max_connections, 100);
    assert_eq!(l.max_connections_per_ip, 5);
    assert_eq!(l.max_players, 50);
    assert_eq!(l.play_wait, Duration::from_secs(7));
    assert_eq!(l.gop_cache_bytes, 1000 * 1024);
    assert_eq!(l.player_queue_len, 99);
    assert_eq!(l.player_queue_bytes, 2000 * 1024);
    assert_eq!(l.slow_player, Duration::from_secs(3));
    assert_eq!(l.handshake_timeout, Duration::from_secs(4));
    assert_eq!(l.idle_timeout, Duration::from_secs(5));
    assert_eq!(l.session.chunk.max_message_len, 1000 * 1024);
    assert_eq!(l.tls_out_bytes, 64 * 1024);
    assert_eq!(l.worker_stack, 128 * 1024);
    let record = c.record.as_ref().expect("recording");
    assert_eq!(record.dir, PathBuf::from("/rec"));
    assert_eq!(record.segment, Duration::from_secs(60));
    assert_eq!(record.max_bytes, Some(2 << 20));
    assert_eq!(record.keep, Some(Duration::from_secs(3 * 3600)));
    assert_eq!(c.recording_off, ["cam2"]);
    let recorded = crate::server::reload::recorded_streams(c, &["cam1".into(), "cam2".into()]);
    assert_eq!(recorded, ["live/cam1", "studio/cam1"]);
    let http = c.http.as_ref().expect("http settings");
    assert_eq!(http.listen, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(http.token.as_deref(), Some("a-long-http-token"));
    assert_eq!(c.push_ca_file, Some(PathBuf::from("/push-ca.pem")));
    assert_eq!(l.push_timeout, Duration::from_secs(12));
    let pushes: Vec<(&str, String, Option<PathBuf>, Option<&str>)> = c
        .pushes
        .iter()
        .map(|p| {
            (
                p.stream.as_str(),
                p.url.redacted(),
                p.ca_file.clone(),
                p.sni.as_deref(),
            )
        })
        .collect();
    assert_eq!(pushes.len(), 2);
    assert_eq!(pushes[0].0, "cam1");
    assert_eq!((pushes[0].2.clone(), pushes[0].3), (None, None));
    assert_eq!(
        (pushes[1].0, pushes[1].2.clone(), pushes[1].3),
        (
            "cam2",
            Some(PathBuf::from("/origin-ca.pem")),
            Some("origin.example")
        )
    );
    assert!(!format!("{pushes:?}").contains("secret"), "{pushes:?}");
    for (key, _, _) in KEYS.iter().filter(|(k, _, _)| *k != "http_token_file") {
        assert_eq!(loaded.origin(key), Origin::File, "{key}");
    }
    // The token from a file instead (the two are one setting).
    let token_file = dir.join("token");
    std::fs::write(&token_file, "token-from-a-file\n").unwrap();
    let text = format!(
        "http_listen = \"0.0.0.0:8080\"\nhttp_token_file = \"{}\"\n",
        token_file.display()
    );
    let loaded = load_with(&[], &text).unwrap();
    let http = loaded.config.http.unwrap();
    assert_eq!(http.token.as_deref(), Some("token-from-a-file"));
    // The command line's token replaces the file's token file.
    let loaded = load_with(&["--http-token", "token-from-a-flag"], &text).unwrap();
    assert_eq!(
        loaded.config.http.unwrap().token.as_deref(),
        Some("token-from-a-flag")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn flags_override_the_file_and_the_file_overrides_the_board() {
    let text = r#"
board = "pi4-aarch64"
max_connections = 100
idle_timeout_secs = 5
cert = "/file-cert.pem"
key = "/file-key.pem"
play_keys = ["file-play-key"]
[[stream]]
name = "cam1"
publish_keys = ["file-publish-key"]
"#;
    let loaded = load_with(
        &[
            "--max-connections",
            "50",
            "--cert",
            "/flag-cert.pem",
            "--key",
            "/flag-key.pem",
            "--publish-key",
            "cam2=flag-publish-key",
        ],
        text,
    )
    .expect("loads");
    let c = &loaded.config;
    assert_eq!(c.limits.max_connections, 50);
    assert_eq!(loaded.origin("max_connections"), Origin::Flag);
    assert_eq!(c.limits.idle_timeout, Duration::from_secs(5));
    assert_eq!(loaded.origin("idle_timeout_secs"), Origin::File);
    assert_eq!(c.limits.gop_cache_bytes, 8192 * 1024, "the board's");
    assert_eq!(loaded.origin("gop_cache_kib"), Origin::Board);
    assert_eq!(loaded.origin("handshake_timeout_secs"), Origin::Default);
    assert_eq!(
        c.cert,
        Some((
            PathBuf::from("/flag-cert.pem"),
            PathBuf::from("/flag-key.pem")
        ))
    );
    // The command line's publish keys replace the file's streams.
    assert_eq!(c.publish_keys.len(), 1);
    assert_eq!(c.publish_keys[0].stream, "cam2");
    assert_eq!(c.play_keys, ["file-play-key"]);
    // A half pair on the command line still replaces the file's whole pair.
    let err = load_with(&["--key", "/k.pem"], text).unwrap_err();
    assert!(err.contains("--cert and --key go together"), "{err}");
    let board = load_with(&["--board", "pi5-aarch64"], text).unwrap();
    assert_eq!(board.config.cipher_order, CipherOrder::Aes);
    assert_eq!(board.config.limits.max_connections, 100, "the file's");
}

#[test]
fn unknown_keys_name_their_line_and_the_nearest_key() {
    let err = load_with(&[], "listen = \"[::]:443\"\n\nmax_conections = 5\n").unwrap_err();
    assert_eq!(
        err,
        "rtmpsd.toml: line 3, column 1: unknown key `max_conections`: did you mean `max_connections`?"
    );
    let err = load_with(
        &[],
        "[[stream]]\nname = \"a\"\npublish_keys = [\"k\"]\ncolour_bars = true\n",
    )
    .unwrap_err();
    assert!(
        err.starts_with("rtmpsd.toml: line 4, column 1: unknown key `colour_bars`"),
        "{err}"
    );
    let err = load_with(&[], "bananas = 1\n").unwrap_err();
    assert!(
        err.contains("line 1") && err.contains("unknown key `bananas`"),
        "{err}"
    );
    let err = load_with(&[], "[limits]\nmax_connections = 5\n").unwrap_err();
    assert!(
        err.contains("line 1") && err.contains("unknown key `limits`"),
        "{err}"
    );
}

#[test]
fn wrong_types_and_bad_values_name_their_line_and_never_the_value() {
    let err = load_with(&[], "max_connections = \"many\"\n").unwrap_err();
    assert!(err.starts_with("rtmpsd.toml: line 1, column 19:"), "{err}");
    assert!(!err.contains("many"), "{err}");
    let err = load_with(&[], "\nplay_keys = \"top-secret-key\"\n").unwrap_err();
    assert!(err.contains("line 2"), "{err}");
    assert!(!err.contains("top-secret"), "{err}");
    let err = load_with(&[], "\n\nmax_message_kib = 16384\n").unwrap_err();
    assert_eq!(
        err,
        "rtmpsd.toml: line 3: max_message_kib: --max-message-kib must be in 1..=16383"
    );
    let err = load_with(&[], "cipher_order = \"des\"\n").unwrap_err();
    assert!(
        err.ends_with(
            "line 1: cipher_order: --cipher-order: unknown cipher order \"des\": use chacha or aes"
        ),
        "{err}"
    );
    let err = load_with(&[], "board = \"pi9\"\n").unwrap_err();
    assert!(
        err.contains("line 1: board: --board \"pi9\" is unknown"),
        "{err}"
    );
    let err = load_with(&[], "listen = \"nowhere\"\n").unwrap_err();
    assert!(err.contains("line 1"), "{err}");
    // Options given as flags are the flags' errors, not the file's.
    let err = load_with(&["--max-message-kib", "0"], "").unwrap_err();
    assert_eq!(err, "--max-message-kib must be in 1..=16383");
    let err = load_with(&[], "max_connections = 1\nmax_connections_per_ip = 0\n").unwrap_err();
    assert!(err.contains("line 2: max_connections_per_ip"), "{err}");
}

#[test]
fn stream_tables_are_checked_and_keys_stay_out_of_errors() {
    let table = |body: &str| format!("\n[[stream]]\n{body}\n");
    let cases = [
        (
            "name = \"c m\"\npublish_keys = [\"k-secret\"]",
            "line 2, column 1: [[stream]] stream name",
        ),
        (
            "name = \"cam\"",
            "line 2, column 1: [[stream]] cam: no publish_keys",
        ),
        (
            "name = \"cam\"\npublish_keys = [\"a&secret\"]",
            "cam: publish_keys 1: keys must be",
        ),
        (
            "name = \"cam\"\npublish_keys = [\"k-secret\", \"k-secret\"]",
            "cam: publish_keys 2 is given twice",
        ),
        (
            "name = \"cam\"\npublish_keys = [\"cam\"]",
            "is also a stream name",
        ),
        (
            "name = \"cam\"\npublish_keys = [\"k-secret\"]\nplay_keys = [\"p secret\"]",
            "cam: play_keys 1: keys must be",
        ),
        (
            "publish_keys = [\"k-secret\"]",
            "line 2, column 1: [[stream]] without a name",
        ),
    ];
    for (body, want) in cases {
        let err = load_with(&[], &table(body)).unwrap_err();
        assert!(err.contains(want), "{body}: {err}");
        assert!(!err.contains("secret"), "{body}: {err}");
    }
    let two = "[[stream]]\nname = \"a\"\npublish_keys = [\"k1\"]\n[[stream]]\nname = \"a\"\npublish_keys = [\"k2\"]\n";
    let err = load_with(&[], two).unwrap_err();
    assert!(
        err.contains("line 4, column 1: [[stream]] a: a second table"),
        "{err}"
    );
}

#[test]
fn switches_take_booleans_or_words() {
    for (value, takeover) in [
        ("true", true),
        ("false", false),
        ("\"off\"", false),
        ("\"on\"", true),
    ] {
        let loaded = load_with(&[], &format!("publisher_takeover = {value}\n")).unwrap();
        assert_eq!(loaded.config.takeover, takeover, "{value}");
    }
    assert!(load_with(&[], "publisher_takeover = 1\n").is_err());
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = load(&args(&["--config", "/nonexistent/rtmpsd.toml"])).unwrap_err();
    assert!(err.starts_with("/nonexistent/rtmpsd.toml: "), "{err}");
}

#[test]
fn keys_named_nowhere_else_are_not_taken() {
    let names: Vec<&str> = KEYS.iter().map(|(k, _, _)| *k).collect();
    assert!(!names.contains(&"config") && !names.contains(&"check_config"));
    assert!(!names.contains(&"version") && !names.contains(&"publish_key"));
}

#[test]
fn edit_distance_counts_single_edits() {
    assert_eq!(edit_distance("listen", "listen"), 0);
    assert_eq!(edit_distance("lisen", "listen"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(
        nearest("max_conections", &["listen", "max_connections"]),
        Some("max_connections")
    );
    assert_eq!(nearest("zzzzzzzz", &["listen"]), None);
}

#[test]
fn numbers_take_toml_forms_and_refuse_what_is_no_count() {
    let limit = |value: &str| {
        load_with(&[], &format!("max_connections = {value}\n"))
            .map(|l| l.config.limits.max_connections)
    };
    assert_eq!(limit("1_000"), Ok(1000));
    assert_eq!(limit("0x40"), Ok(64));
    for bad in ["-1", "1.5", "true", "[1]", "18446744073709551616"] {
        let err = limit(bad).unwrap_err();
        assert!(
            err.contains("line 1, column 19: max_connections: expected a whole number"),
            "{bad}: {err}"
        );
    }
    let err = load_with(&[], "apps = [\"live\", 3]\n").unwrap_err();
    assert!(err.ends_with("apps: item 2: expected a string"), "{err}");
}

#[test]
fn of_several_errors_the_first_in_the_file_is_reported() {
    // Keys are read in their table's (alphabetical) order; the report is the file's.
    let text = "zzz_unknown = 1\nlisten = 5\n[[stream]]\nname = 3\nbogus = 1\n";
    let err = load_with(&[], text).unwrap_err();
    assert!(
        err.starts_with("rtmpsd.toml: line 1, column 1: unknown key `zzz_unknown`"),
        "{err}"
    );
    let err = load_with(&[], "listen = 5\n[[stream]]\nname = 3\nbogus = 1\n").unwrap_err();
    assert!(
        err.starts_with("rtmpsd.toml: line 1, column 10: listen: expected a string in quotes"),
        "{err}"
    );
    let err = load_with(&[], "[[stream]]\nzeta = 1\nname = 3\n").unwrap_err();
    assert!(
        err.starts_with("rtmpsd.toml: line 2, column 1: unknown key `zeta`"),
        "{err}"
    );
}

#[test]
fn recording_is_per_stream_and_needs_a_folder() {
    let streams = "[[stream]]\nname = \"a\"\npublish_keys = [\"ka\"]\nrecord = true\n\
                   [[stream]]\nname = \"b\"\npublish_keys = [\"kb\"]\nrecord = false\n";
    let err = load_with(&[], streams).unwrap_err();
    assert_eq!(
        err,
        "rtmpsd.toml: line 1: [[stream]] a: record = true needs record_dir"
    );
    let loaded = load_with(&["--record-dir", "/rec"], streams).unwrap();
    assert_eq!(loaded.config.recording_off, ["b"]);
    let err = load_with(
        &[],
        "[[stream]]\nname = \"a\"\npublish_keys = [\"k\"]\nrecord = 1\n",
    )
    .unwrap_err();
    assert!(
        err.contains("line 4, column 10: [[stream]] record: expected true or false"),
        "{err}"
    );
    let err = load_with(&[], "record_max_mib = 5\n").unwrap_err();
    assert!(
        err.starts_with("rtmpsd.toml: line 1: record_max_mib: "),
        "{err}"
    );
}

#[test]
fn a_key_given_twice_is_an_error_and_argh_never_quotes_a_value() {
    let err = load_with(&[], "listen = \"[::]:1\"\nlisten = \"[::]:2\"\n").unwrap_err();
    assert_eq!(
        err,
        "rtmpsd.toml: line 2, column 1: `listen` is given twice"
    );
    let err = load_with(&[], "\nmax_message_kib = 99999999999\n").unwrap_err();
    assert_eq!(
        err,
        "rtmpsd.toml: line 2: max_message_kib: --max-message-kib: number too large to fit in target type"
    );
    // Keys that look like options are values all the same.
    let loaded = load_with(&[], "play_keys = [\"--max-players\", \"-h\", \"help\"]\n").unwrap();
    assert_eq!(loaded.config.play_keys, ["--max-players", "-h", "help"]);
    let err = load_with(&[], "listen = \"not-an-address-secret\"\n").unwrap_err();
    assert!(
        err.starts_with("rtmpsd.toml: line 1: listen: --listen: "),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}

#[test]
fn arrays_of_tables_other_than_stream_are_unknown_keys() {
    let err = load_with(&[], "\n[[pushes]]\nurl = \"rtmps://h/app/secret-key\"\n").unwrap_err();
    assert!(
        err.starts_with("rtmpsd.toml: line 2, column 1: unknown key `pushes`"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");
}

#[test]
fn push_tables_are_checked_and_the_command_line_replaces_them() {
    let bad = [
        ("[[push]]\nstream = \"cam1\"\n", "needs stream and url"),
        (
            "[[push]]\nstream = \"cam1\"\nurl = \"rtmps://h/app/k\"\nport = 1\n",
            "port",
        ),
        (
            "[[push]]\nstream = \"cam1\"\nurl = 5\n",
            "a string is wanted",
        ),
    ];
    for (text, wanted) in bad {
        let err = load_with(&[], text).expect_err(text);
        assert!(
            err.contains(wanted) && err.contains("line"),
            "{text}: {err}"
        );
    }
    let text = "[[push]]\nstream = \"cam1\"\nurl = \"rtmps://h/app/file-secret\"\n";
    let from_file = load_with(&[], text).expect("loads");
    assert_eq!(from_file.config.pushes.len(), 1);
    let replaced = load_with(&["--push", "cam2=rtmps://h/app/flag-secret"], text).expect("loads");
    assert_eq!(replaced.config.pushes.len(), 1);
    assert_eq!(replaced.config.pushes[0].stream, "cam2");
}
