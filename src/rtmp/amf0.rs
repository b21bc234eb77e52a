//! AMF0: a borrowed, bounded decoder and an encoder that writes into a slice.
//!
//! Decoding never allocates by a count the input declares: containers grow only as
//! elements actually arrive, and depth, element totals and string lengths are capped by
//! `AmfLimits`. Strings borrow from the input.

/// Bounds on what one decode may build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AmfLimits {
    /// Deepest nesting of objects/arrays.
    pub max_depth: u8,
    /// Most values (at any depth, keys not counted) one decode call may produce.
    pub max_elements: u32,
    /// Longest string, in bytes.
    pub max_string_len: u32,
}

impl Default for AmfLimits {
    fn default() -> Self {
        AmfLimits {
            max_depth: 16,
            max_elements: 1024,
            max_string_len: 64 * 1024,
        }
    }
}

/// One AMF0 value, borrowing strings from the decoded bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Amf0Value<'a> {
    /// Number (marker 0x00).
    Number(f64),
    /// Boolean (0x01).
    Boolean(bool),
    /// String (0x02) or long string (0x0C).
    String(&'a str),
    /// Anonymous object (0x03), properties in wire order.
    Object(Vec<(&'a str, Amf0Value<'a>)>),
    /// Null (0x05).
    Null,
    /// Undefined (0x06).
    Undefined,
    /// Reference (0x07) to an earlier complex value, by index; checked to exist.
    Reference(u16),
    /// ECMA array (0x08), properties in wire order.
    EcmaArray(Vec<(&'a str, Amf0Value<'a>)>),
    /// Strict array (0x0A).
    StrictArray(Vec<Amf0Value<'a>>),
    /// Date (0x0B): milliseconds since the epoch and a time zone (unused, kept).
    Date {
        /// Milliseconds since 1970-01-01 UTC.
        millis: f64,
        /// Time zone offset as sent.
        timezone: i16,
    },
}

/// Why AMF0 could not be decoded or encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmfError {
    /// The input ended inside a value.
    Truncated {
        /// Offset where more bytes were needed.
        offset: usize,
    },
    /// An unknown or unsupported type marker.
    UnknownMarker {
        /// The marker byte.
        marker: u8,
        /// Its offset.
        offset: usize,
    },
    /// Nesting deeper than the limit.
    TooDeep {
        /// The limit.
        limit: u8,
    },
    /// More values than the limit.
    TooManyElements {
        /// The limit.
        limit: u32,
    },
    /// A string longer than the limit.
    StringTooLong {
        /// The limit.
        limit: u32,
        /// The declared length.
        seen: u32,
    },
    /// A string that is not UTF-8.
    InvalidUtf8 {
        /// Its offset.
        offset: usize,
    },
    /// A reference to a complex value that was never sent.
    BadReference {
        /// The index referred to.
        index: u16,
        /// How many complex values had been seen.
        seen: u16,
    },
    /// The output slice has no room for the value.
    OutputFull {
        /// Bytes the value needed.
        needed: usize,
    },
}

impl core::fmt::Display for AmfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let _ = f;
        todo!()
    }
}

impl<'a> Amf0Value<'a> {
    /// The string inside a `String`, if it is one.
    pub fn as_str(&self) -> Option<&'a str> {
        todo!()
    }

    /// The number inside a `Number`, if it is one.
    pub fn as_number(&self) -> Option<f64> {
        todo!()
    }

    /// The value of property `key` in an `Object` or `EcmaArray`.
    pub fn get(&self, key: &str) -> Option<&Amf0Value<'a>> {
        let _ = key;
        todo!()
    }
}

/// Decodes every value in `input`, in order, within `limits`.
pub fn decode_all<'a>(input: &'a [u8], limits: &AmfLimits) -> Result<Vec<Amf0Value<'a>>, AmfError> {
    let _ = (input, limits);
    todo!()
}

/// Writes AMF0 values into a caller-owned slice.
pub struct Amf0Writer<'b> {
    out: &'b mut [u8],
    len: usize,
}

impl<'b> Amf0Writer<'b> {
    /// A writer filling `out` from its start.
    pub fn new(out: &'b mut [u8]) -> Self {
        Amf0Writer { out, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes a number.
    pub fn number(&mut self, value: f64) -> Result<&mut Self, AmfError> {
        let _ = value;
        todo!()
    }

    /// Writes a boolean.
    pub fn boolean(&mut self, value: bool) -> Result<&mut Self, AmfError> {
        let _ = value;
        todo!()
    }

    /// Writes a string (long-string marker when over 65535 bytes).
    pub fn string(&mut self, value: &str) -> Result<&mut Self, AmfError> {
        let _ = value;
        todo!()
    }

    /// Writes null.
    pub fn null(&mut self) -> Result<&mut Self, AmfError> {
        todo!()
    }

    /// Starts an anonymous object; follow with `property` calls and `object_end`.
    pub fn object_start(&mut self) -> Result<&mut Self, AmfError> {
        todo!()
    }

    /// Starts an ECMA array declaring `count` entries; end it with `object_end`.
    pub fn ecma_array_start(&mut self, count: u32) -> Result<&mut Self, AmfError> {
        let _ = count;
        todo!()
    }

    /// Writes a property name inside an object or ECMA array; the value follows.
    pub fn property(&mut self, key: &str) -> Result<&mut Self, AmfError> {
        let _ = key;
        todo!()
    }

    /// Ends an object or ECMA array (empty key, then the object-end marker).
    pub fn object_end(&mut self) -> Result<&mut Self, AmfError> {
        todo!()
    }

    /// Writes any decoded value, recursively.
    pub fn value(&mut self, value: &Amf0Value<'_>) -> Result<&mut Self, AmfError> {
        let _ = value;
        todo!()
    }
}
