//! The config file's TOML, read with `toml_parser` (the `toml` crate's own lexer and push
//! parser) into what the file holds: top-level `key = value` lines and `[[stream]]` tables,
//! each key and value with its byte offset for error messages.
//!
//! Values are strings, whole numbers, booleans, or lists of those. What else TOML allows
//! (inline tables, nested lists, floats, dates) is kept as [`Value::Other`] naming what it
//! is, so the caller can say it is not what the key takes. Arrays of tables (`[[stream]]`)
//! are collected by name; plain tables (`[limits]`) only named, for the caller to refuse.
//! Nested lists and inline tables are refused to the parser, which then skips them without
//! descending.

use toml_parser::decoder::Encoding;
use toml_parser::decoder::ScalarKind;
use toml_parser::parser::{EventReceiver, parse_document};
use toml_parser::{ErrorSink, ParseError, Raw, Source, Span};

/// A value as the file wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string.
    Text(String),
    /// An integer: its value if it is a whole number that fits `u64`.
    Number(Option<u64>),
    /// `true` or `false`.
    Bool(bool),
    /// A list of values.
    List(Vec<Value>),
    /// Something else, named ("a table", "a list", "a decimal number", "a date").
    Other(&'static str),
}

/// One `key = value` line.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key (dotted keys joined with `.`).
    pub key: String,
    /// Where the key starts.
    pub key_at: usize,
    /// The value.
    pub value: Value,
    /// Where the value starts.
    pub value_at: usize,
}

/// One table of an array of tables (`[[stream]]`).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Its name (`stream`).
    pub name: String,
    /// Where its header starts.
    pub header_at: usize,
    /// Its lines.
    pub entries: Vec<Entry>,
}

/// The file: its top-level lines, its arrays of tables, and its plain tables' names.
#[derive(Debug, Default)]
pub struct Document {
    /// Top-level lines.
    pub top: Vec<Entry>,
    /// The tables of `[[NAME]]` headers, in file order.
    pub tables: Vec<Table>,
    /// Plain table headers (`[limits]`), with where they start.
    pub other_tables: Vec<(String, usize)>,
}

/// Reads `text`; a TOML syntax error comes back with its offset.
pub fn read(text: &str) -> Result<Document, (usize, String)> {
    let source = Source::new(text);
    let tokens = source.lex().into_vec();
    let mut reader = Reader {
        source,
        document: Document::default(),
        target: Target::Top,
        header: None,
        key: None,
        list: None,
        list_at: 0,
        refused: 0,
    };
    let mut first: Option<ParseError> = None;
    parse_document(&tokens, &mut reader, &mut first);
    match first {
        Some(error) => {
            let at = error
                .unexpected()
                .or(error.context())
                .map_or(0, |s| s.start());
            Err((at, error.description().to_string()))
        }
        None => Ok(reader.document),
    }
}

/// Where the lines being read go.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Top,
    /// The last of `tables`.
    Table,
    /// Under a header reported as unknown: dropped.
    Nowhere,
}

/// A table header being read.
struct Header {
    array: bool,
    name: String,
    at: usize,
}

struct Reader<'i> {
    source: Source<'i>,
    document: Document,
    target: Target,
    header: Option<Header>,
    key: Option<(String, usize)>,
    /// The list being read (one level; deeper ones are refused).
    list: Option<Vec<Value>>,
    list_at: usize,
    /// Lists and inline tables refused to the parser whose close is still to come.
    refused: u32,
}

impl Reader<'_> {
    /// The decoded text of a key or a scalar, and the scalar's kind.
    fn text(
        &self,
        span: Span,
        encoding: Option<Encoding>,
        key: bool,
        error: &mut dyn ErrorSink,
    ) -> (String, ScalarKind) {
        let mut out = String::new();
        let Some(text) = self.source.input().get(span.start()..span.end()) else {
            return (out, ScalarKind::String);
        };
        let raw = Raw::new_unchecked(text, encoding, span);
        if key {
            raw.decode_key(&mut out, error);
            (out, ScalarKind::String)
        } else {
            let kind = raw.decode_scalar(&mut out, error);
            (out, kind)
        }
    }

    /// A value that is not a list element: it completes the pending key's line.
    fn finish(&mut self, value: Value, at: usize) {
        let Some((key, key_at)) = self.key.take() else {
            return;
        };
        let entry = Entry {
            key,
            key_at,
            value,
            value_at: at,
        };
        match self.target {
            Target::Top => self.document.top.push(entry),
            Target::Table => {
                if let Some(table) = self.document.tables.last_mut() {
                    table.entries.push(entry);
                }
            }
            Target::Nowhere => {}
        }
    }

    /// A value, or a list element when a list is open.
    fn value(&mut self, value: Value, at: usize) {
        match &mut self.list {
            Some(items) => items.push(value),
            None => self.finish(value, at),
        }
    }

    fn header_open(&mut self, array: bool, span: Span) {
        self.key = None;
        self.header = Some(Header {
            array,
            name: String::new(),
            at: span.start(),
        });
    }

    fn header_close(&mut self) {
        let Some(header) = self.header.take() else {
            return;
        };
        if header.array {
            self.document.tables.push(Table {
                name: header.name,
                header_at: header.at,
                entries: Vec::new(),
            });
            self.target = Target::Table;
        } else {
            self.document.other_tables.push((header.name, header.at));
            self.target = Target::Nowhere;
        }
    }

    /// Refuses a nested list or an inline table: the parser skips it, then closes it.
    fn refuse(&mut self, what: &'static str, span: Span) -> bool {
        self.refused += 1;
        self.value(Value::Other(what), span.start());
        false
    }
}

impl EventReceiver for Reader<'_> {
    fn std_table_open(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        self.header_open(false, span);
    }

    fn std_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.header_close();
    }

    fn array_table_open(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        self.header_open(true, span);
    }

    fn array_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.header_close();
    }

    fn inline_table_open(&mut self, span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.refuse("a table", span)
    }

    fn inline_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.refused = self.refused.saturating_sub(1);
    }

    fn array_open(&mut self, span: Span, _error: &mut dyn ErrorSink) -> bool {
        if self.list.is_some() {
            return self.refuse("a list", span);
        }
        self.list = Some(Vec::new());
        self.list_at = span.start();
        true
    }

    fn array_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        if self.refused > 0 {
            self.refused -= 1;
            return;
        }
        if let Some(items) = self.list.take() {
            self.finish(Value::List(items), self.list_at);
        }
    }

    fn simple_key(&mut self, span: Span, encoding: Option<Encoding>, error: &mut dyn ErrorSink) {
        let (text, _) = self.text(span, encoding, true, error);
        if let Some(header) = &mut self.header {
            if !header.name.is_empty() {
                header.name.push('.');
            }
            header.name.push_str(&text);
            return;
        }
        match &mut self.key {
            // A dotted key: its parts joined, so it is reported whole.
            Some((key, _)) => {
                key.push('.');
                key.push_str(&text);
            }
            None => self.key = Some((text, span.start())),
        }
    }

    fn scalar(&mut self, span: Span, encoding: Option<Encoding>, error: &mut dyn ErrorSink) {
        let (text, kind) = self.text(span, encoding, false, error);
        let value = match kind {
            ScalarKind::String => Value::Text(text),
            ScalarKind::Boolean(b) => Value::Bool(b),
            ScalarKind::Integer(radix) => {
                Value::Number(u64::from_str_radix(&text, radix.value()).ok())
            }
            ScalarKind::Float => Value::Other("a decimal number"),
            ScalarKind::DateTime => Value::Other("a date"),
        };
        self.value(value, span.start());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(text: &str) -> Vec<(String, Value)> {
        read(text)
            .unwrap()
            .top
            .into_iter()
            .map(|e| (e.key, e.value))
            .collect()
    }

    #[test]
    fn reads_strings_numbers_booleans_and_lists() {
        let got = top(concat!(
            "a = \"x\\ty\"\nb = 'lit'\nc = 1_000\nd = 0x40\ne = true\n",
            "f = [\"p\", 'q']\ng = \"\"\"\nml\"\"\"\n"
        ));
        let want = [
            ("a", Value::Text("x\ty".into())),
            ("b", Value::Text("lit".into())),
            ("c", Value::Number(Some(1000))),
            ("d", Value::Number(Some(64))),
            ("e", Value::Bool(true)),
            (
                "f",
                Value::List(vec![Value::Text("p".into()), Value::Text("q".into())]),
            ),
            ("g", Value::Text("ml".into())),
        ];
        let want: Vec<(String, Value)> = want.into_iter().map(|(k, v)| (k.into(), v)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn keeps_what_it_does_not_take_as_other() {
        let got =
            top("a = -1\nb = 1.5\nc = 1979-05-27\nd = {x = 1}\ne = [[1], {y = 2}, 3]\nf.g = 1\n");
        assert_eq!(got[0].1, Value::Number(None));
        assert_eq!(got[1].1, Value::Other("a decimal number"));
        assert_eq!(got[2].1, Value::Other("a date"));
        assert_eq!(got[3].1, Value::Other("a table"));
        assert_eq!(
            got[4].1,
            Value::List(vec![
                Value::Other("a list"),
                Value::Other("a table"),
                Value::Number(Some(3))
            ])
        );
        assert_eq!(got[5].0, "f.g");
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn arrays_of_tables_collect_their_lines_and_plain_tables_are_named() {
        let text = "a = 1\n[[stream]]\nname = \"x\"\n[limits]\nm = 2\n[[push]]\nurl = \"y\"\n";
        let doc = read(text).unwrap();
        assert_eq!(doc.top.len(), 1);
        assert_eq!(doc.tables.len(), 2);
        assert_eq!(
            (doc.tables[0].name.as_str(), doc.tables[0].header_at),
            ("stream", 6)
        );
        assert_eq!(doc.tables[0].entries[0].key, "name");
        assert_eq!(doc.tables[1].name, "push");
        assert_eq!(doc.tables[1].entries[0].value, Value::Text("y".into()));
        assert_eq!(doc.other_tables, [("limits".to_string(), 28)]);
    }

    #[test]
    fn syntax_errors_come_with_their_offset() {
        let (at, message) = read("a = 1\nb = \n").unwrap_err();
        assert_eq!(at, 10, "{message}");
        let (at, _) = read("a = \"unterminated\n").unwrap_err();
        assert!(at >= 4);
        assert!(read("a = [1, 2\n").is_err());
    }

    #[test]
    fn deep_nesting_is_skipped_not_recursed() {
        let deep = format!("a = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let got = top(&deep);
        assert_eq!(got[0].1, Value::List(vec![Value::Other("a list")]));
    }
}
