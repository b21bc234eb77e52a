//! The config file (`--config FILE`, TOML): each command-line option is a key of the same
//! name with `_` for `-` (`max_connections = 600` for `--max-connections 600`); repeatable
//! options take a list (`apps = ["live"]`, `play_keys = [...]`); streams and their keys are
//! `[[stream]]` tables.
//!
//! Where a setting comes from, highest first: the command line, the file, the board profile
//! (`board = "pi4-aarch64"`), the built-in default. An option that comes in two parts
//! (`cert` and `key`; the publish keys and their file; the play keys and theirs; the HTTP
//! token and its file) is taken whole from one place: given on the command line, the
//! file's part is dropped.
//!
//! The file's options become command-line options placed before the real ones, and argh
//! parses them all: one parser, one set of checks, so a key behaves exactly as its flag.
//! Unknown keys, values of the wrong kind and bad values are errors that name the file, the
//! line and the key; a value is never quoted in one (it may be a key). Keys go through argh
//! only as plain strings, which cannot fail to parse, so argh never quotes one either;
//! `[[stream]]` tables are read here.
//!
//! A new option is one line in [`KEYS`]; `rtmpsd.example.toml` and `config_report` document
//! and show it (tests check that each does).

mod toml_reader;

use std::fs;
use std::path::{Path, PathBuf};

use argh::FromArgs;

use crate::board_profile::BoardProfile;
use crate::config::{Args, Config};
use crate::key_spec::{PublishKey, StreamPlayKey, check_key, check_name};
use crate::push_spec::PushTarget;
use toml_reader::{Entry, Value};

/// The kind of value a key takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string: a name, a path, an address, a word.
    Text,
    /// A whole number of 0 or more.
    Count,
    /// `true` or `false`.
    Switch,
    /// A list of strings: the option given once for each.
    List,
}

/// Every top-level key: its name in the file, the command-line option it stands for, and
/// the kind of value it takes. A new option is one line here.
pub const KEYS: &[(&str, &str, Kind)] = &[
    ("board", "--board", Kind::Text),
    ("listen", "--listen", Kind::Text),
    ("rtmp_listen", "--rtmp-listen", Kind::Text),
    ("cert", "--cert", Kind::Text),
    ("key", "--key", Kind::Text),
    ("state_dir", "--state-dir", Kind::Text),
    ("publish_keys_file", "--publish-keys-file", Kind::Text),
    ("play_keys", "--play-key", Kind::List),
    ("play_keys_file", "--play-keys-file", Kind::Text),
    ("apps", "--app", Kind::List),
    ("publisher_takeover", "--publisher-takeover", Kind::Switch),
    ("log", "--log", Kind::Text),
    ("cipher_order", "--cipher-order", Kind::Text),
    ("max_connections", "--max-connections", Kind::Count),
    (
        "max_connections_per_ip",
        "--max-connections-per-ip",
        Kind::Count,
    ),
    ("max_players", "--max-players", Kind::Count),
    ("play_wait_secs", "--play-wait-secs", Kind::Count),
    ("gop_cache_kib", "--gop-cache-kib", Kind::Count),
    ("player_queue", "--player-queue", Kind::Count),
    ("player_queue_kib", "--player-queue-kib", Kind::Count),
    ("slow_player_secs", "--slow-player-secs", Kind::Count),
    (
        "handshake_timeout_secs",
        "--handshake-timeout-secs",
        Kind::Count,
    ),
    ("idle_timeout_secs", "--idle-timeout-secs", Kind::Count),
    ("max_message_kib", "--max-message-kib", Kind::Count),
    ("tls_out_kib", "--tls-out-kib", Kind::Count),
    ("worker_stack_kib", "--worker-stack-kib", Kind::Count),
    ("http_listen", "--http-listen", Kind::Text),
    ("http_token", "--http-token", Kind::Text),
    ("http_token_file", "--http-token-file", Kind::Text),
    ("record_dir", "--record-dir", Kind::Text),
    ("record_segment_secs", "--record-segment-secs", Kind::Count),
    ("record_max_mib", "--record-max-mib", Kind::Count),
    ("record_keep_hours", "--record-keep-hours", Kind::Count),
    ("push_ca_file", "--push-ca-file", Kind::Text),
    ("push_timeout_secs", "--push-timeout-secs", Kind::Count),
];

/// Keys that go together: an option given on the command line for any of them drops the
/// file's whole group (`stream.*`: the `[[stream]]` tables' keys of that kind, which
/// `--publish-key` also replaces).
const GROUPS: &[&[&str]] = &[
    &["cert", "key"],
    &["publish_keys_file", "stream.publish_keys"],
    &["play_keys", "play_keys_file", "stream.play_keys"],
    &["http_token", "http_token_file"],
];

/// The keys of a `[[stream]]` table.
const STREAM_KEYS: [&str; 4] = ["name", "publish_keys", "play_keys", "record"];

/// The keys of a `[[push]]` table.
const PUSH_KEYS: [&str; 4] = ["stream", "url", "ca_file", "sni"];

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The command line.
    Flag,
    /// The config file.
    File,
    /// The board profile.
    Board,
    /// systemd (`StateDirectory=`, as `$STATE_DIRECTORY`).
    Systemd,
    /// The built-in default.
    Default,
}

impl Origin {
    /// A word for it, as `--check-config` prints it.
    pub fn word(self) -> &'static str {
        match self {
            Origin::Flag => "flag",
            Origin::File => "file",
            Origin::Board => "board",
            Origin::Systemd => "systemd",
            Origin::Default => "default",
        }
    }
}

/// A configuration read from the command line, the file and the board profile.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The checked configuration.
    pub config: Config,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Where each key's value came from (keys not listed: the default).
    pub origins: Vec<(&'static str, Origin)>,
}

impl Loaded {
    /// Where `key`'s value came from.
    pub fn origin(&self, key: &str) -> Origin {
        self.origins
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(Origin::Default, |(_, o)| *o)
    }
}

/// Reads the command line (`argv`, the program's name first), the file it names
/// (`--check-config` or `--config`) and the board profile into one checked configuration.
pub fn load(argv: &[String]) -> Result<Loaded, String> {
    let args = parse_args(argv)?;
    match args.check_config.or(args.config) {
        Some(path) => {
            let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            load_text(argv, &text, Some(&path))
        }
        None => load_text(argv, "", None),
    }
}

/// [`load`] with the file's text given (`path` names it in errors).
pub fn load_text(argv: &[String], text: &str, path: Option<&Path>) -> Result<Loaded, String> {
    let in_file = |e: String| match path {
        Some(p) => format!("{}: {e}", p.display()),
        None => e,
    };
    let command_line = argv.get(1..).unwrap_or_default();
    let given = |flag: &str| command_line.iter().any(|a| a == flag);
    let mut origins: Vec<(&'static str, Origin)> = KEYS
        .iter()
        .filter(|(_, flag, _)| given(flag))
        .map(|(key, _, _)| (*key, Origin::Flag))
        .collect();
    let mut merged: Vec<String> = argv.first().cloned().into_iter().collect();
    let mut stream_keys = StreamKeysFromFile::default();
    let mut file_lines: Vec<(&'static str, usize)> = Vec::new();
    let mut pushes = Vec::new();
    if path.is_some() {
        let document = toml_reader::read(text).map_err(|(at, e)| in_file(located(text, at, &e)))?;
        // Groups the command line gives any part of.
        let dropped: Vec<&str> = GROUPS
            .iter()
            .filter(|group| {
                group.iter().any(|key| match *key {
                    "stream.publish_keys" => given("--publish-key"),
                    key => KEYS.iter().any(|(k, flag, _)| *k == key && given(flag)),
                })
            })
            .flat_map(|group| group.iter().copied())
            .collect();
        let mut first = FirstError::default();
        for (name, at) in &document.other_tables {
            first.note(*at, unknown_key(name, &known_keys()));
        }
        let mut streams = Vec::new();
        for table in &document.tables {
            match table.name.as_str() {
                "stream" => streams.push(table.clone()),
                // `--push` on the command line replaces the file's pushes.
                "push" if given("--push") => {}
                "push" => match read_push(table) {
                    Ok(push) => pushes.push(push),
                    Err((at, e)) => first.note(at, e),
                },
                name => first.note(table.header_at, unknown_key(name, &known_keys())),
            }
        }
        duplicates(&document.top, &mut first);
        for entry in &document.top {
            let Some((key, flag, kind)) = KEYS.iter().find(|(k, _, _)| *k == entry.key) else {
                first.note(entry.key_at, unknown_key(&entry.key, &known_keys()));
                continue;
            };
            match option_values(*kind, &entry.value) {
                Err(e) => first.note(entry.value_at, format!("{key}: {e}")),
                // The command line gives it (or a part of its group): the file's is dropped.
                Ok(_) if given(flag) || dropped.contains(key) => {}
                Ok(values) => {
                    for value in values {
                        merged.push(flag.to_string());
                        merged.push(value);
                    }
                    let line = line_column(text, entry.key_at).0;
                    file_lines.push((key, line));
                    origins.push((key, Origin::File));
                }
            }
        }
        stream_keys.dropped = dropped;
        stream_keys.read(text, &streams, &mut first);
        if let Some((at, e)) = first.0 {
            return Err(in_file(located(text, at, &e)));
        }
    }
    merged.extend(command_line.iter().cloned());
    let mut args = parse_args(&merged).map_err(|e| annotate(e, &file_lines, path))?;
    if args.state_dir.is_none() {
        if let Some(dir) = systemd_state_directory() {
            args.state_dir = Some(dir);
            origins.push(("state_dir", Origin::Systemd));
        }
    }
    if !stream_keys.publish.is_empty() {
        args.publish_key = std::mem::take(&mut stream_keys.publish);
        origins.push(("stream.publish_keys", Origin::File));
    }
    if !stream_keys.play.is_empty() {
        origins.push(("stream.play_keys", Origin::File));
    }
    if let Some(name) = &args.board {
        let profile = BoardProfile::named(name).map_err(|e| annotate(e, &file_lines, path))?;
        let set = profile.fill(&mut args);
        origins.extend(set.into_iter().map(|k| (k, Origin::Board)));
    }
    let mut config = Config::from_args(args).map_err(|e| annotate(e, &file_lines, path))?;
    if !pushes.is_empty() {
        config.pushes = pushes;
        origins.push(("push", Origin::File));
    }
    config.stream_play_keys = stream_keys.play;
    if let (None, Some((line, name))) = (&config.record, &stream_keys.recording_on) {
        return Err(in_file(format!(
            "line {line}: [[stream]] {name}: record = true needs record_dir"
        )));
    }
    config.recording_off = stream_keys.recording_off;
    check_stream_play_keys(&config).map_err(in_file)?;
    Ok(Loaded {
        config,
        file: path.map(Path::to_path_buf),
        origins,
    })
}

/// `argv` (the program's name first) parsed by argh; an error is argh's first line, with
/// `Error parsing option '--flag' with value 'VALUE': why` said as `--flag: why`.
fn parse_args(argv: &[String]) -> Result<Args, String> {
    let (name, rest) = argv
        .split_first()
        .map_or(("rtmpsd", &[][..]), |(n, r)| (n.as_str(), r));
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    Args::from_args(&[name], &rest).map_err(|early| {
        let line = early.output.lines().next().unwrap_or("bad options");
        let Some(flag_on) = line.strip_prefix("Error parsing option '") else {
            return line.to_string();
        };
        let flag = flag_on.split('\'').next().unwrap_or_default();
        match line.rfind("': ") {
            Some(at) => format!("{flag}: {}", &line[at + 3..]),
            None => line.to_string(),
        }
    })
}

/// The option values `value` gives a key of `kind`, as command-line text; the error says
/// what was expected, never what was seen.
fn option_values(kind: Kind, value: &Value) -> Result<Vec<String>, String> {
    match (kind, value) {
        (Kind::Text, Value::Text(text)) => Ok(vec![text.clone()]),
        (Kind::Count, Value::Number(Some(n))) => Ok(vec![n.to_string()]),
        (Kind::Switch, Value::Bool(on)) => Ok(vec![on.to_string()]),
        (Kind::Switch, Value::Text(word)) => Ok(vec![word.clone()]),
        (Kind::List, Value::List(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Text(text) => Ok(text.clone()),
                _ => Err(format!("item {}: expected a string", i + 1)),
            })
            .collect(),
        (kind, _) => Err(format!(
            "expected {}",
            match kind {
                Kind::Text => "a string in quotes",
                Kind::Count => "a whole number of 0 or more",
                Kind::Switch => "true or false",
                Kind::List => "a list of strings in quotes, like [\"a\", \"b\"]",
            }
        )),
    }
}

/// Every key the file's top level knows.
fn known_keys() -> Vec<&'static str> {
    KEYS.iter()
        .map(|(k, _, _)| *k)
        .chain(["stream", "push"])
        .collect()
}

/// Notes each key given twice in `entries` (TOML allows a key once per table).
fn duplicates(entries: &[Entry], first: &mut FirstError) {
    for (i, entry) in entries.iter().enumerate() {
        if entries[..i].iter().any(|e| e.key == entry.key) {
            first.note(entry.key_at, format!("`{}` is given twice", entry.key));
        }
    }
}

/// The state folder systemd made for the unit (`StateDirectory=`), if it runs under one.
fn systemd_state_directory() -> Option<PathBuf> {
    let dirs = std::env::var_os("STATE_DIRECTORY")?;
    let first = dirs.to_str()?.split(':').next()?;
    (!first.is_empty()).then(|| PathBuf::from(first))
}

/// One `[[push]]` table: `stream`, `url`, and optional `ca_file` and `sni`. An error names
/// where it is and never quotes the URL (it holds the upstream's key).
fn read_push(table: &toml_reader::Table) -> Result<PushTarget, (usize, String)> {
    let (mut stream, mut url, mut ca_file, mut sni) = (None, None, None, None);
    for entry in &table.entries {
        let Value::Text(text) = &entry.value else {
            let what = if PUSH_KEYS.contains(&entry.key.as_str()) {
                format!("[[push]] {}: a string is wanted", entry.key)
            } else {
                unknown_key(&entry.key, &PUSH_KEYS)
            };
            return Err((entry.value_at, what));
        };
        let slot = match entry.key.as_str() {
            "stream" => &mut stream,
            "url" => &mut url,
            "ca_file" => &mut ca_file,
            "sni" => &mut sni,
            key => return Err((entry.key_at, unknown_key(key, &PUSH_KEYS))),
        };
        if slot.replace(text.clone()).is_some() {
            return Err((entry.key_at, format!("[[push]] {} given twice", entry.key)));
        }
    }
    let (Some(stream), Some(url)) = (stream, url) else {
        return Err((table.header_at, "[[push]] needs stream and url".to_string()));
    };
    let mut push: PushTarget = format!("{stream}={url}")
        .parse()
        .map_err(|e: String| (table.header_at, format!("[[push]] {e}")))?;
    push.ca_file = ca_file.map(std::path::PathBuf::from);
    push.sni = sni;
    Ok(push)
}

/// The `[[stream]]` tables' keys, checked.
#[derive(Default)]
struct StreamKeysFromFile {
    publish: Vec<PublishKey>,
    play: Vec<StreamPlayKey>,
    /// Streams with `record = false`.
    recording_off: Vec<String>,
    /// The first stream with `record = true`, and its table's line.
    recording_on: Option<(usize, String)>,
    /// Keys and kinds of keys the command line replaced (`stream.publish_keys`, ...).
    dropped: Vec<&'static str>,
}

impl StreamKeysFromFile {
    /// Reads the tables; notes the first error in `first`.
    fn read(&mut self, text: &str, tables: &[toml_reader::Table], first: &mut FirstError) {
        let keep_publish = !self.dropped.contains(&"stream.publish_keys");
        let keep_play = !self.dropped.contains(&"stream.play_keys");
        let mut names: Vec<(String, usize)> = Vec::new();
        for table in tables {
            let line = line_column(text, table.header_at).0;
            duplicates(&table.entries, first);
            let mut name = None;
            let mut named = false;
            let mut lists: [(&str, Vec<String>); 2] =
                [("publish_keys", Vec::new()), ("play_keys", Vec::new())];
            let mut record = None;
            for entry in &table.entries {
                let what = format!("[[stream]] {}", entry.key);
                named |= entry.key == "name";
                match (entry.key.as_str(), &entry.value) {
                    ("name", Value::Text(text)) => name = Some(text.clone()),
                    ("record", Value::Bool(on)) => record = Some(*on),
                    ("name", _) => first.note(entry.value_at, format!("{what}: expected a string")),
                    ("record", _) => {
                        first.note(entry.value_at, format!("{what}: expected true or false"))
                    }
                    (key, value) if STREAM_KEYS.contains(&key) => {
                        match option_values(Kind::List, value) {
                            Ok(keys) => {
                                for (kind, list) in lists.iter_mut() {
                                    if *kind == key {
                                        *list = keys.clone();
                                    }
                                }
                            }
                            Err(e) => first.note(entry.value_at, format!("{what}: {e}")),
                        }
                    }
                    (key, _) => first.note(entry.key_at, unknown_key(key, &STREAM_KEYS)),
                }
            }
            let at = table.header_at;
            let Some(name) = name else {
                if !named {
                    first.note(at, "[[stream]] without a name".to_string());
                }
                continue;
            };
            let problem = |e: String| format!("[[stream]] {name}: {e}");
            if let Err(e) = check_name(&name) {
                first.note(at, format!("[[stream]] {e}"));
                continue;
            }
            if names.iter().any(|(n, _)| *n == name) {
                first.note(at, problem("a second table for the same stream".into()));
            }
            if lists[0].1.is_empty() && keep_publish {
                first.note(
                    at,
                    problem("no publish_keys (a stream needs at least one)".into()),
                );
            }
            for (kind, keys) in &lists {
                let keep = if *kind == "publish_keys" {
                    keep_publish
                } else {
                    keep_play
                };
                for (i, key) in keys.iter().enumerate() {
                    if let Err(e) = check_key(key) {
                        first.note(at, problem(format!("{kind} {}: {e}", i + 1)));
                    } else if keys[..i].contains(key) {
                        first.note(at, problem(format!("{kind} {} is given twice", i + 1)));
                    } else if keep && *kind == "publish_keys" {
                        self.publish.push(PublishKey {
                            stream: name.clone(),
                            key: key.clone(),
                        });
                    } else if keep {
                        self.play.push(StreamPlayKey {
                            stream: name.clone(),
                            key: key.clone(),
                        });
                    }
                }
            }
            match record {
                Some(false) => self.recording_off.push(name.clone()),
                Some(true) if self.recording_on.is_none() => {
                    self.recording_on = Some((line, name.clone()))
                }
                _ => {}
            }
            names.push((name, at));
        }
    }
}

/// Refuses a stream's play key that is a stream name, or that plays a stream no key publishes.
fn check_stream_play_keys(config: &Config) -> Result<(), String> {
    for entry in &config.stream_play_keys {
        if config.publish_keys.iter().any(|p| p.stream == entry.key) {
            return Err(format!(
                "[[stream]] {}: a play key is also a stream name: names are public",
                entry.stream
            ));
        }
        if !config.publish_keys.iter().any(|p| p.stream == entry.stream) {
            return Err(format!(
                "[[stream]] {}: play_keys for a stream no publish key publishes",
                entry.stream
            ));
        }
    }
    Ok(())
}

/// The error at the smallest offset among those noted.
#[derive(Default)]
struct FirstError(Option<(usize, String)>);

impl FirstError {
    fn note(&mut self, at: usize, error: String) {
        if self.0.as_ref().is_none_or(|(first, _)| at < *first) {
            self.0 = Some((at, error));
        }
    }
}

/// `line L, column C: message` for byte `offset` of `text`.
fn located(text: &str, offset: usize, message: &str) -> String {
    let (line, column) = line_column(text, offset);
    format!("line {line}, column {column}: {message}")
}

/// "unknown key `KEY`", with the nearest of `known` if one is close.
fn unknown_key(key: &str, known: &[&str]) -> String {
    match nearest(key, known) {
        Some(near) => format!("unknown key `{key}`: did you mean `{near}`?"),
        None => format!("unknown key `{key}` (rtmpsd.example.toml lists every key)"),
    }
}

/// The candidate closest to `key` by edit distance, if it is close.
fn nearest<'a>(key: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(key, c), *c))
        .filter(|(d, _)| *d <= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance between two short strings.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Points an error about `--some-option` at the file's line when its value came from there.
fn annotate(error: String, file_lines: &[(&str, usize)], path: Option<&Path>) -> String {
    let Some(path) = path else {
        return error;
    };
    for (key, line) in file_lines {
        let Some((_, flag, _)) = KEYS.iter().find(|(k, _, _)| k == key) else {
            continue;
        };
        let mentioned = error.match_indices(flag).any(|(at, _)| {
            let next = error[at + flag.len()..].chars().next();
            !matches!(next, Some(c) if c.is_ascii_alphanumeric() || c == '-')
        });
        if mentioned {
            return format!("{}: line {line}: {key}: {error}", path.display());
        }
    }
    error
}

#[cfg(test)]
mod tests;
