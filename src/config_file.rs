//! The config file (`--config FILE`, TOML): each command-line option is a key of the same
//! name with `_` for `-` (`max_connections = 600` for `--max-connections 600`); repeatable
//! options take a list (`apps = ["live"]`, `play_keys = [...]`); streams and their keys are
//! `[[stream]]` tables.
//!
//! Where a setting comes from, highest first: the command line, the file, the board profile
//! (`board = "pi4-aarch64"`), the built-in default. An option that comes in two parts
//! (`cert` and `key`; the publish keys and their file; the play keys and theirs) is taken
//! whole from one place: given on the command line, the file's part is dropped.
//!
//! Unknown keys, wrong types and bad values are errors that name the file, the line and the
//! key; a key's value is never quoted in one (it may be a secret).
//!
//! A new option is one line in the `file_keys!` list below, the same name and type as its
//! field in `config::Args`; `rtmpsd.example.toml` and `config_report` document and show it
//! (tests check that each does).

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::board_profile::BoardProfile;
use crate::config::{Args, CipherOrder, Config, Switch};
use crate::key_spec::{PublishKey, StreamPlayKey, check_key, check_name};

/// An option's place in `Args`, filled from a lower layer when the one above left it unset,
/// and read from the file's value.
pub trait Slot: Sized {
    /// Whether it holds a value.
    fn is_set(&self) -> bool;
    /// Takes `lower`'s value if this one is unset and `lower` has one; says whether it did.
    fn fill_from(&mut self, lower: Self) -> bool;
    /// Forgets the value.
    fn clear(&mut self);
    /// The value the file gives; the error says what was expected, never what was seen.
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String>;
}

impl<T: FromToml> Slot for Option<T> {
    fn is_set(&self) -> bool {
        self.is_some()
    }

    fn fill_from(&mut self, lower: Self) -> bool {
        if self.is_none() && lower.is_some() {
            *self = lower;
            return true;
        }
        false
    }

    fn clear(&mut self) {
        *self = None;
    }

    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        T::from_toml(value).map(Some)
    }
}

impl<T: FromToml> Slot for Vec<T> {
    fn is_set(&self) -> bool {
        !self.is_empty()
    }

    fn fill_from(&mut self, lower: Self) -> bool {
        if self.is_empty() && !lower.is_empty() {
            *self = lower;
            return true;
        }
        false
    }

    fn clear(&mut self) {
        self.clear();
    }

    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        let DeValue::Array(items) = value else {
            return Err(format!("expected a list of {}", T::WHAT));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                T::from_toml(item.get_ref()).map_err(|e| format!("item {}: {e}", i + 1))
            })
            .collect()
    }
}

/// A single value the file may hold.
pub trait FromToml: Sized {
    /// What it is, for errors: "a whole number".
    const WHAT: &'static str;
    /// The value, or `expected WHAT` (or a more precise reason), never quoting it.
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String>;
}

fn expected<T: FromToml>() -> String {
    format!("expected {}", T::WHAT)
}

impl FromToml for String {
    const WHAT: &'static str = "a string";
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        value
            .as_str()
            .map(str::to_string)
            .ok_or_else(expected::<Self>)
    }
}

impl FromToml for bool {
    const WHAT: &'static str = "true or false";
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        value.as_bool().ok_or_else(expected::<Self>)
    }
}

impl FromToml for PathBuf {
    const WHAT: &'static str = "a path in quotes";
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        match value.as_str() {
            Some("") => Err("expected a path, not an empty string".into()),
            Some(path) => Ok(PathBuf::from(path)),
            None => Err(expected::<Self>()),
        }
    }
}

impl FromToml for SocketAddr {
    const WHAT: &'static str = "an address and port in quotes, like \"[::]:443\"";
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        value
            .as_str()
            .and_then(|text| text.parse().ok())
            .ok_or_else(expected::<Self>)
    }
}

impl FromToml for u64 {
    const WHAT: &'static str = "a whole number";
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        let number = value.as_integer().ok_or_else(expected::<Self>)?;
        u64::from_str_radix(number.as_str(), number.radix())
            .map_err(|_| "expected a whole number of 0 or more".to_string())
    }
}

impl FromToml for usize {
    const WHAT: &'static str = "a whole number";
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        usize::try_from(u64::from_toml(value)?).map_err(|_| "too large".to_string())
    }
}

impl FromToml for u32 {
    const WHAT: &'static str = "a whole number";
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        u32::try_from(u64::from_toml(value)?).map_err(|_| "too large".to_string())
    }
}

impl FromToml for CipherOrder {
    const WHAT: &'static str = "\"chacha\" or \"aes\"";
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        value
            .as_str()
            .and_then(|text| text.parse().ok())
            .ok_or_else(expected::<Self>)
    }
}

impl FromToml for Switch {
    const WHAT: &'static str = "true or false";
    fn from_toml(value: &DeValue<'_>) -> Result<Self, String> {
        match value {
            DeValue::Boolean(true) => Ok(Switch::On),
            DeValue::Boolean(false) => Ok(Switch::Off),
            DeValue::String(text) => text.parse().map_err(|_| expected::<Self>()),
            _ => Err(expected::<Self>()),
        }
    }
}

/// The file's name for a key: the field's, or the one given after `as`.
macro_rules! key_name {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $key:literal) => {
        $key
    };
}

/// The top-level keys: one line per command-line option, `field [as "key"]: Type`, where
/// `field` and `Type` are the option's in `config::Args`.
macro_rules! file_keys {
    ( $( $(#[$meta:meta])* $field:ident $(as $key:literal)? : $ty:ty, )* ) => {
        /// The config file as read, before it is checked.
        #[derive(Default)]
        pub struct ConfigFile {
            $( $(#[$meta])* pub $field: $ty, )*
            /// `[[stream]]` tables: each stream's name and keys.
            pub stream: Vec<StreamTable>,
        }

        /// Each top-level key with the `Args` field (and so the flag) it stands for.
        pub const KEYS: &[(&str, &str)] = &[ $( (key_name!($field $(, $key)?), stringify!($field)), )* ];

        impl ConfigFile {
            /// Takes `key`'s value; `Ok(false)` for a key it does not know.
            fn set(&mut self, key: &str, value: &DeValue<'_>) -> Result<bool, String> {
                $( if key == key_name!($field $(, $key)?) {
                    self.$field = Slot::from_toml(value)?;
                    return Ok(true);
                } )*
                Ok(false)
            }

            /// Fills every option the command line left unset; returns the keys used.
            fn fill(self, args: &mut Args) -> Vec<&'static str> {
                let mut used = Vec::new();
                $( if Slot::fill_from(&mut args.$field, self.$field) {
                    used.push(key_name!($field $(, $key)?));
                } )*
                used
            }

            /// Drops the file's value for `key`.
            fn drop_key(&mut self, key: &str) {
                $( if key == key_name!($field $(, $key)?) {
                    Slot::clear(&mut self.$field);
                } )*
            }
        }

        /// The keys whose option `args` sets.
        fn keys_set(args: &Args) -> Vec<&'static str> {
            let mut set = Vec::new();
            $( if Slot::is_set(&args.$field) {
                set.push(key_name!($field $(, $key)?));
            } )*
            set
        }
    };
}

file_keys! {
    /// Board profile for the limits' defaults.
    board: Option<String>,
    /// RTMPS listener.
    listen: Option<SocketAddr>,
    /// Plain RTMP listener.
    rtmp_listen: Option<SocketAddr>,
    /// Certificate chain.
    cert: Option<PathBuf>,
    /// Its private key.
    key: Option<PathBuf>,
    /// State folder.
    state_dir: Option<PathBuf>,
    /// Publish keys file.
    publish_keys_file: Option<PathBuf>,
    /// Play keys for every stream.
    play_key as "play_keys": Vec<String>,
    /// Play keys file.
    play_keys_file: Option<PathBuf>,
    /// Application names.
    app as "apps": Vec<String>,
    /// Takeover by a new publisher.
    publisher_takeover: Option<Switch>,
    /// Log level.
    log: Option<String>,
    /// Cipher preference.
    cipher_order: Option<CipherOrder>,
    /// Connections in all.
    max_connections: Option<usize>,
    /// Connections per address.
    max_connections_per_ip: Option<usize>,
    /// Player connections in all.
    max_players: Option<usize>,
    /// Wait for a stream not live.
    play_wait_secs: Option<u64>,
    /// GOP cache.
    gop_cache_kib: Option<usize>,
    /// Player queue, messages.
    player_queue: Option<usize>,
    /// Player queue, KiB.
    player_queue_kib: Option<usize>,
    /// Slow player cut-off.
    slow_player_secs: Option<u64>,
    /// Handshake time.
    handshake_timeout_secs: Option<u64>,
    /// Publisher silence.
    idle_timeout_secs: Option<u64>,
    /// Largest message.
    max_message_kib: Option<u32>,
    /// Unsent TLS bytes.
    tls_out_kib: Option<usize>,
    /// Session thread stack.
    worker_stack_kib: Option<usize>,
    /// HTTP listener (metrics, API, status page).
    http_listen: Option<SocketAddr>,
    /// Its token.
    http_token: Option<String>,
    /// Its token, from a file.
    http_token_file: Option<PathBuf>,
    /// Recording folder.
    record_dir: Option<PathBuf>,
    /// Recorded segment length.
    record_segment_secs: Option<u64>,
    /// Recording budget.
    record_max_mib: Option<u64>,
    /// Recording age limit.
    record_keep_hours: Option<u64>,
}

/// Keys that go together: an option given on the command line for any of them drops the
/// file's whole group (`stream.*`: the `[[stream]]` tables' keys of that kind).
const GROUPS: &[&[&str]] = &[
    &["cert", "key"],
    &["publish_keys_file", "stream.publish_keys"],
    &["play_keys", "play_keys_file", "stream.play_keys"],
    &["http_token", "http_token_file"],
];

/// One `[[stream]]` table.
pub struct StreamTable {
    /// The line of its `[[stream]]` header.
    pub line: usize,
    /// The stream's public name, as players play it.
    pub name: String,
    /// Keys that publish it.
    pub publish_keys: Vec<String>,
    /// Keys that play it (and only it), besides the top-level `play_keys`.
    pub play_keys: Vec<String>,
    /// Whether it is recorded (under `record_dir`); unset: it is.
    pub record: Option<bool>,
}

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

/// Reads the command line's options, the file it names (`--check-config` or `--config`) and
/// the board profile into one checked configuration.
pub fn load(args: Args) -> Result<Loaded, String> {
    let path = args.check_config.clone().or_else(|| args.config.clone());
    match &path {
        Some(path) => {
            let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            load_text(args, &text, Some(path))
        }
        None => load_text(args, "", None),
    }
}

/// [`load`] with the file's text given (`path` names it in errors).
pub fn load_text(mut args: Args, text: &str, path: Option<&Path>) -> Result<Loaded, String> {
    let in_file = |e: String| match path {
        Some(p) => format!("{}: {e}", p.display()),
        None => e,
    };
    let mut origins: Vec<(&'static str, Origin)> = keys_set(&args)
        .into_iter()
        .map(|k| (k, Origin::Flag))
        .collect();
    let flag_given = |key: &str| origins.iter().any(|(k, _)| *k == key);
    let mut stream_keys = StreamKeysFromFile::default();
    let mut file_lines = Vec::new();
    if path.is_some() {
        let mut file = parse(text).map_err(in_file)?;
        // The command line's publish keys replace all of the file's.
        let publish_on_command_line = !args.publish_key.is_empty();
        for group in GROUPS {
            let given = group.iter().any(|k| {
                flag_given(k) || (k.starts_with("stream.publish") && publish_on_command_line)
            });
            if given {
                for key in *group {
                    file.drop_key(key);
                }
                stream_keys
                    .dropped
                    .extend(group.iter().filter(|k| k.starts_with("stream.")));
            }
        }
        let tables = std::mem::take(&mut file.stream);
        stream_keys.read(tables).map_err(in_file)?;
        let used = file.fill(&mut args);
        file_lines = used
            .iter()
            .map(|k| (*k, key_line(text, k).unwrap_or(0)))
            .collect();
        origins.extend(used.into_iter().map(|k| (k, Origin::File)));
    }
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
        origins.extend(
            profile
                .fill(&mut args)
                .into_iter()
                .map(|k| (k, Origin::Board)),
        );
    }
    let mut config = Config::from_args(args).map_err(|e| annotate(e, &file_lines, path))?;
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

/// The state folder systemd made for the unit (`StateDirectory=`), if it runs under one.
fn systemd_state_directory() -> Option<PathBuf> {
    let dirs = std::env::var_os("STATE_DIRECTORY")?;
    let first = dirs.to_str()?.split(':').next()?;
    (!first.is_empty()).then(|| PathBuf::from(first))
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
    /// Kinds of keys the command line replaced (`stream.publish_keys`, `stream.play_keys`).
    dropped: Vec<&'static str>,
}

impl StreamKeysFromFile {
    fn read(&mut self, tables: Vec<StreamTable>) -> Result<(), String> {
        let keep_publish = !self.dropped.contains(&"stream.publish_keys");
        let keep_play = !self.dropped.contains(&"stream.play_keys");
        let mut names: Vec<String> = Vec::new();
        for table in tables {
            let line = table.line;
            let at = |e: String| format!("line {line}: [[stream]] {e}");
            check_name(&table.name).map_err(at)?;
            let name = table.name;
            if names.contains(&name) {
                return Err(at(format!("{name}: a second table for the same stream")));
            }
            if table.publish_keys.is_empty() && keep_publish {
                return Err(at(format!(
                    "{name}: no publish_keys (a stream needs at least one)"
                )));
            }
            let kinds = [
                ("publish_keys", keep_publish, &table.publish_keys),
                ("play_keys", keep_play, &table.play_keys),
            ];
            for (kind, keep, keys) in kinds {
                for (i, key) in keys.iter().enumerate() {
                    check_key(key).map_err(|e| at(format!("{name}: {kind} {}: {e}", i + 1)))?;
                    if keys[..i].contains(key) {
                        return Err(at(format!("{name}: {kind} {} is given twice", i + 1)));
                    }
                    if !keep {
                        continue;
                    }
                    if kind == "publish_keys" {
                        self.publish.push(PublishKey {
                            stream: name.clone(),
                            key: key.clone(),
                        });
                    } else {
                        self.play.push(StreamPlayKey {
                            stream: name.clone(),
                            key: key.clone(),
                        });
                    }
                }
            }
            match table.record {
                Some(false) => self.recording_off.push(name.clone()),
                Some(true) if self.recording_on.is_none() => {
                    self.recording_on = Some((line, name.clone()))
                }
                _ => {}
            }
            names.push(name);
        }
        Ok(())
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

/// Parses the file's text; an error names the line, the column and the key.
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    let root = DeTable::parse(text).map_err(|e| {
        let message = e.message().lines().next().unwrap_or_default().trim();
        located(text, e.span().map_or(0, |s| s.start), message)
    })?;
    let mut file = ConfigFile::default();
    // The table is in key order: the error reported is the one nearest the file's top.
    let mut first = FirstError::default();
    for (key, value) in root.get_ref().iter() {
        let name: &str = key.get_ref();
        if name == "stream" {
            match read_streams(text, value) {
                Ok(streams) => file.stream = streams,
                Err((at, e)) => first.note(at, e),
            }
            continue;
        }
        match file.set(name, value.get_ref()) {
            Ok(true) => {}
            Ok(false) => {
                let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).chain(["stream"]).collect();
                first.note(key.span().start, unknown_key(name, &known));
            }
            Err(e) => first.note(value.span().start, format!("{name}: {e}")),
        }
    }
    match first.0 {
        Some((at, e)) => Err(located(text, at, &e)),
        None => Ok(file),
    }
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

/// The `[[stream]]` tables; an error comes with its offset.
fn read_streams(
    text: &str,
    value: &toml::Spanned<DeValue<'_>>,
) -> Result<Vec<StreamTable>, (usize, String)> {
    let not_tables = || {
        (
            value.span().start,
            "stream: expected [[stream]] tables".to_string(),
        )
    };
    let DeValue::Array(tables) = value.get_ref() else {
        return Err(not_tables());
    };
    let mut streams = Vec::with_capacity(tables.len());
    for table in tables.iter() {
        let DeValue::Table(entries) = table.get_ref() else {
            return Err(not_tables());
        };
        let (line, _) = line_column(text, table.span().start);
        let mut stream = StreamTable {
            line,
            name: String::new(),
            publish_keys: Vec::new(),
            play_keys: Vec::new(),
            record: None,
        };
        let mut named = false;
        let mut first = FirstError::default();
        for (key, value) in entries.iter() {
            let name: &str = key.get_ref();
            let at = value.span().start;
            let read = match name {
                "name" => String::from_toml(value.get_ref()).map(|n| {
                    stream.name = n;
                    named = true;
                }),
                "publish_keys" => {
                    Slot::from_toml(value.get_ref()).map(|keys| stream.publish_keys = keys)
                }
                "play_keys" => Slot::from_toml(value.get_ref()).map(|keys| stream.play_keys = keys),
                "record" => bool::from_toml(value.get_ref()).map(|on| stream.record = Some(on)),
                other => {
                    let known = ["name", "publish_keys", "play_keys", "record"];
                    first.note(key.span().start, unknown_key(other, &known));
                    continue;
                }
            };
            if let Err(e) = read {
                first.note(at, format!("[[stream]] {name}: {e}"));
            }
        }
        if let Some(error) = first.0 {
            return Err(error);
        }
        if !named {
            return Err((table.span().start, "[[stream]] without a name".to_string()));
        }
        streams.push(stream);
    }
    Ok(streams)
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

/// The line of top-level `key = ...` in `text` (before the first table).
fn key_line(text: &str, key: &str) -> Option<usize> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.starts_with('[') {
            return None;
        }
        let Some(rest) = line.strip_prefix(key) else {
            continue;
        };
        if rest.trim_start().starts_with('=') {
            return Some(i + 1);
        }
    }
    None
}

/// Points an error about `--some-option` at the file's line when its value came from there.
fn annotate(error: String, file_lines: &[(&str, usize)], path: Option<&Path>) -> String {
    let Some(path) = path else {
        return error;
    };
    for (key, line) in file_lines {
        let Some((_, field)) = KEYS.iter().find(|(k, _)| k == key) else {
            continue;
        };
        let flag = format!("--{}", field.replace('_', "-"));
        let mentioned = error.match_indices(&flag).any(|(at, _)| {
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
