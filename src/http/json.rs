//! A small JSON writer: objects, arrays, escaped strings, finite numbers, and `null`.
//!
//! Enough for `/api/v1/streams` without a serialisation framework in the binary. Commas are
//! placed by the writer; a non-finite number is written as `null` (JSON has no NaN).

use std::fmt::Write as _;

/// JSON text being built.
#[derive(Default)]
pub struct JsonWriter {
    out: String,
    /// Per open container: whether the next item is its first.
    first: Vec<bool>,
}

/// A JSON scalar.
pub enum Scalar<'a> {
    /// A string.
    Str(&'a str),
    /// An unsigned integer.
    Uint(u64),
    /// A number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// `null`.
    Null,
}

impl JsonWriter {
    /// The text written.
    pub fn finish(self) -> String {
        self.out
    }

    fn separate(&mut self) {
        if let Some(first) = self.first.last_mut() {
            if !*first {
                self.out.push(',');
            }
            *first = false;
        }
    }

    /// Writes `"key":` inside an object.
    #[inline(never)]
    pub fn key(&mut self, key: &str) -> &mut Self {
        self.separate();
        escape(&mut self.out, key);
        self.out.push(':');
        // The value that follows is no new item.
        if let Some(first) = self.first.last_mut() {
            *first = true;
        }
        self
    }

    fn open(&mut self, bracket: char) -> &mut Self {
        self.separate();
        self.out.push(bracket);
        self.first.push(true);
        self
    }

    fn close(&mut self, bracket: char) -> &mut Self {
        self.first.pop();
        self.out.push(bracket);
        if let Some(first) = self.first.last_mut() {
            *first = false;
        }
        self
    }

    /// Starts an object.
    pub fn begin_object(&mut self) -> &mut Self {
        self.open('{')
    }

    /// Ends an object.
    pub fn end_object(&mut self) -> &mut Self {
        self.close('}')
    }

    /// Starts an array.
    pub fn begin_array(&mut self) -> &mut Self {
        self.open('[')
    }

    /// Ends an array.
    pub fn end_array(&mut self) -> &mut Self {
        self.close(']')
    }

    /// Writes a scalar.
    #[inline(never)]
    pub fn value(&mut self, value: Scalar<'_>) -> &mut Self {
        self.separate();
        match value {
            Scalar::Str(s) => escape(&mut self.out, s),
            Scalar::Uint(n) => {
                let _ = write!(self.out, "{n}");
            }
            Scalar::Float(f) if f.is_finite() => {
                let _ = write!(self.out, "{}", (f * 1000.0).round() / 1000.0);
            }
            Scalar::Bool(b) => self.out.push_str(if b { "true" } else { "false" }),
            Scalar::Float(_) | Scalar::Null => self.out.push_str("null"),
        }
        self
    }

    /// Writes `"key": value`.
    pub fn field(&mut self, key: &str, value: Scalar<'_>) -> &mut Self {
        self.key(key).value(value)
    }
}

/// Appends `s` as a JSON string.
#[inline(never)]
fn escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_containers_get_their_commas() {
        let mut w = JsonWriter::default();
        w.begin_object()
            .field("a", Scalar::Uint(1))
            .key("b")
            .begin_array()
            .value(Scalar::Bool(true))
            .value(Scalar::Null)
            .begin_object()
            .end_object()
            .end_array()
            .field("c", Scalar::Float(2.5))
            .key("d")
            .begin_object()
            .field("e", Scalar::Str("x"))
            .end_object()
            .end_object();
        assert_eq!(
            w.finish(),
            r#"{"a":1,"b":[true,null,{}],"c":2.5,"d":{"e":"x"}}"#
        );
    }

    #[test]
    fn strings_are_escaped_and_odd_numbers_are_null() {
        let mut w = JsonWriter::default();
        w.begin_array()
            .value(Scalar::Str("q\"b\\n\n\u{1}é"))
            .value(Scalar::Float(f64::NAN))
            .value(Scalar::Float(1.0 / 3.0))
            .end_array();
        assert_eq!(w.finish(), r#"["q\"b\\n\n\u0001é",null,0.333]"#);
    }
}
