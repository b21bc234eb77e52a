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
        /// The count that went over it (for a strict array, with its declared length).
        seen: u32,
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
        match *self {
            AmfError::Truncated { offset } => {
                write!(f, "input ends inside a value at byte {offset}")
            }
            AmfError::UnknownMarker { marker, offset } => {
                write!(f, "unknown marker 0x{marker:02x} at byte {offset}")
            }
            AmfError::TooDeep { limit } => {
                // Decoding stops at the first level over the limit, so that is the depth seen.
                let seen = u16::from(limit) + 1;
                write!(f, "nesting depth {seen} over the limit {limit}")
            }
            AmfError::TooManyElements { limit, seen } => {
                write!(f, "{seen} values over the limit {limit}")
            }
            AmfError::StringTooLong { limit, seen } => {
                write!(f, "string of {seen} bytes over the {limit}-byte limit")
            }
            AmfError::InvalidUtf8 { offset } => write!(f, "string at byte {offset} is not utf-8"),
            AmfError::BadReference { index, seen } => {
                write!(f, "reference to complex value {index} with {seen} seen")
            }
            AmfError::OutputFull { needed } => write!(f, "no room for {needed} more bytes"),
        }
    }
}

impl<'a> Amf0Value<'a> {
    /// The string inside a `String`, if it is one.
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            Amf0Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number inside a `Number`, if it is one.
    pub fn as_number(&self) -> Option<f64> {
        match *self {
            Amf0Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The boolean inside a `Boolean`, if it is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Amf0Value::Boolean(b) => Some(b),
            _ => None,
        }
    }

    /// The value of property `key` in an `Object` or `EcmaArray`.
    ///
    /// The first property with that name wins, as in wire order.
    pub fn get(&self, key: &str) -> Option<&Amf0Value<'a>> {
        match self {
            Amf0Value::Object(props) | Amf0Value::EcmaArray(props) => {
                props.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
            }
            _ => None,
        }
    }
}

/// Type markers, as the AMF0 specification numbers them.
mod marker {
    pub const NUMBER: u8 = 0x00;
    pub const BOOLEAN: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const OBJECT: u8 = 0x03;
    pub const NULL: u8 = 0x05;
    pub const UNDEFINED: u8 = 0x06;
    pub const REFERENCE: u8 = 0x07;
    pub const ECMA_ARRAY: u8 = 0x08;
    pub const OBJECT_END: u8 = 0x09;
    pub const STRICT_ARRAY: u8 = 0x0A;
    pub const DATE: u8 = 0x0B;
    pub const LONG_STRING: u8 = 0x0C;
    pub const XML_DOCUMENT: u8 = 0x0F;
    pub const TYPED_OBJECT: u8 = 0x10;
}

/// Deepest nesting `max_depth` can ask for; the open-container stack is this big.
const DEPTH_CAPACITY: usize = u8::MAX as usize;

/// Decodes every value in `input`, in order, within `limits`.
///
/// Markers 0x04, 0x0D, 0x0E and 0x11 are `UnknownMarker`, as is an object-end marker
/// anywhere but after an empty key. XML documents (0x0F) decode as `String` and typed
/// objects (0x10) as `Object` (the class name is checked, then dropped). An ECMA array
/// whose object-end is missing is accepted only when the input ends right after exactly
/// as many properties as the array declared, so a cut-off input never yields a shorter
/// value.
pub fn decode_all<'a>(input: &'a [u8], limits: &AmfLimits) -> Result<Vec<Amf0Value<'a>>, AmfError> {
    let mut decoder = Decoder {
        input,
        pos: 0,
        limits,
        elements: 0,
        complex_seen: 0,
        open: [0; DEPTH_CAPACITY],
        depth: 0,
    };
    let mut values = Vec::new();
    while decoder.pos < input.len() {
        values.push(decoder.value()?);
    }
    Ok(values)
}

/// One decode call's cursor and running totals.
struct Decoder<'a, 'l> {
    input: &'a [u8],
    pos: usize,
    limits: &'l AmfLimits,
    /// Values produced so far, at every depth.
    elements: u32,
    /// Complex values (objects, arrays) started so far: the reference table's length.
    complex_seen: u32,
    /// Reference-table indices of the containers being decoded, outermost first.
    open: [u32; DEPTH_CAPACITY],
    /// How many entries of `open` are in use.
    depth: usize,
}

impl<'a> Decoder<'a, '_> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], AmfError> {
        let truncated = AmfError::Truncated { offset: self.pos };
        let end = self.pos.checked_add(n).ok_or(truncated)?;
        let bytes = self.input.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], AmfError> {
        let offset = self.pos;
        self.take(N)?
            .try_into()
            .map_err(|_| AmfError::Truncated { offset })
    }

    fn u8(&mut self) -> Result<u8, AmfError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, AmfError> {
        self.array().map(u16::from_be_bytes)
    }

    fn u32(&mut self) -> Result<u32, AmfError> {
        self.array().map(u32::from_be_bytes)
    }

    fn f64(&mut self) -> Result<f64, AmfError> {
        self.array().map(f64::from_be_bytes)
    }

    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// A UTF-8 string of `len` bytes, borrowed from the input.
    fn utf8(&mut self, len: u32) -> Result<&'a str, AmfError> {
        let limit = self.limits.max_string_len;
        if len > limit {
            return Err(AmfError::StringTooLong { limit, seen: len });
        }
        let offset = self.pos;
        let len = usize::try_from(len).map_err(|_| AmfError::Truncated { offset })?;
        let bytes = self.take(len)?;
        core::str::from_utf8(bytes).map_err(|_| AmfError::InvalidUtf8 { offset })
    }

    fn short_string(&mut self) -> Result<&'a str, AmfError> {
        let len = self.u16()?;
        self.utf8(u32::from(len))
    }

    fn long_string(&mut self) -> Result<&'a str, AmfError> {
        let len = self.u32()?;
        self.utf8(len)
    }

    /// Counts `n` more values against `max_elements`.
    fn count_elements(&mut self, n: u32) -> Result<(), AmfError> {
        let limit = self.limits.max_elements;
        match self.elements.checked_add(n) {
            Some(total) if total <= limit => {
                self.elements = total;
                Ok(())
            }
            total => Err(AmfError::TooManyElements {
                limit,
                seen: total.unwrap_or(u32::MAX),
            }),
        }
    }

    /// Opens a container: checks depth before any recursion, and gives it the next
    /// reference-table index.
    fn enter(&mut self) -> Result<(), AmfError> {
        let limit = self.limits.max_depth;
        if self.depth >= usize::from(limit) {
            return Err(AmfError::TooDeep { limit });
        }
        let slot = self
            .open
            .get_mut(self.depth)
            .ok_or(AmfError::TooDeep { limit })?;
        *slot = self.complex_seen;
        self.depth += 1;
        self.complex_seen = self.complex_seen.saturating_add(1);
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// A reference must name a complex value that has been decoded completely: one
    /// started earlier that is not still open around the reference.
    fn reference(&mut self) -> Result<Amf0Value<'a>, AmfError> {
        let index = self.u16()?;
        let open = self.open.get(..self.depth).unwrap_or(&[]);
        if u32::from(index) >= self.complex_seen || open.contains(&u32::from(index)) {
            let seen = u16::try_from(self.complex_seen).unwrap_or(u16::MAX);
            return Err(AmfError::BadReference { index, seen });
        }
        Ok(Amf0Value::Reference(index))
    }

    /// Properties up to the object-end (empty key, then 0x09). `declared` is an ECMA
    /// array's count: only consulted to accept a missing object-end at the input's end.
    fn properties(
        &mut self,
        declared: Option<u32>,
    ) -> Result<Vec<(&'a str, Amf0Value<'a>)>, AmfError> {
        self.enter()?;
        let mut props = Vec::new();
        loop {
            if let Some(count) = declared {
                if self.remaining() == 0 && props.len() as u64 == u64::from(count) {
                    break;
                }
            }
            let key = self.short_string()?;
            if key.is_empty() && self.input.get(self.pos) == Some(&marker::OBJECT_END) {
                self.pos += 1;
                break;
            }
            let value = self.value()?;
            props.push((key, value));
        }
        self.leave();
        Ok(props)
    }

    fn strict_array(&mut self) -> Result<Vec<Amf0Value<'a>>, AmfError> {
        let count = self.u32()?;
        // Every element is a value and takes at least its marker byte: refuse a count
        // that cannot fit before decoding (or allocating for) any of it.
        let limit = self.limits.max_elements;
        if count > limit.saturating_sub(self.elements) {
            return Err(AmfError::TooManyElements {
                limit,
                seen: self.elements.saturating_add(count),
            });
        }
        if count as u64 > self.remaining() as u64 {
            return Err(AmfError::Truncated { offset: self.pos });
        }
        self.enter()?;
        let mut items = Vec::new();
        for _ in 0..count {
            items.push(self.value()?);
        }
        self.leave();
        Ok(items)
    }

    fn value(&mut self) -> Result<Amf0Value<'a>, AmfError> {
        let offset = self.pos;
        let marker = self.u8()?;
        match marker {
            marker::OBJECT | marker::ECMA_ARRAY | marker::STRICT_ARRAY | marker::TYPED_OBJECT => {
                self.count_elements(1)?;
                self.container(marker)
            }
            _ => self.scalar(marker, offset),
        }
    }

    /// The body of an object, ECMA array, strict array or typed object. Kept apart
    /// from `scalar` so each level of nesting costs as little stack as it can.
    fn container(&mut self, marker: u8) -> Result<Amf0Value<'a>, AmfError> {
        Ok(match marker {
            marker::OBJECT => Amf0Value::Object(self.properties(None)?),
            marker::ECMA_ARRAY => {
                let declared = self.u32()?;
                Amf0Value::EcmaArray(self.properties(Some(declared))?)
            }
            marker::STRICT_ARRAY => Amf0Value::StrictArray(self.strict_array()?),
            _ => {
                // Typed object: a class name, then properties like an anonymous object.
                self.short_string()?;
                Amf0Value::Object(self.properties(None)?)
            }
        })
    }

    /// Any value that holds no other value, or `UnknownMarker`.
    #[inline(never)]
    fn scalar(&mut self, marker: u8, offset: usize) -> Result<Amf0Value<'a>, AmfError> {
        let known = matches!(
            marker,
            marker::NUMBER
                | marker::BOOLEAN
                | marker::STRING
                | marker::NULL
                | marker::UNDEFINED
                | marker::REFERENCE
                | marker::DATE
                | marker::LONG_STRING
                | marker::XML_DOCUMENT
        );
        if !known {
            return Err(AmfError::UnknownMarker { marker, offset });
        }
        self.count_elements(1)?;
        Ok(match marker {
            marker::NUMBER => Amf0Value::Number(self.f64()?),
            marker::BOOLEAN => Amf0Value::Boolean(self.u8()? != 0),
            marker::STRING => Amf0Value::String(self.short_string()?),
            marker::NULL => Amf0Value::Null,
            marker::UNDEFINED => Amf0Value::Undefined,
            marker::REFERENCE => self.reference()?,
            marker::DATE => Amf0Value::Date {
                millis: self.f64()?,
                timezone: i16::from_be_bytes(self.array()?),
            },
            _ => Amf0Value::String(self.long_string()?),
        })
    }
}

/// Writes AMF0 values into a caller-owned slice.
///
/// Each call writes one whole item or nothing: on `OutputFull` (or a string that
/// cannot be encoded) `len` is unchanged.
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
        self.value(&Amf0Value::Number(value))
    }

    /// Writes a boolean.
    pub fn boolean(&mut self, value: bool) -> Result<&mut Self, AmfError> {
        self.value(&Amf0Value::Boolean(value))
    }

    /// Writes a string (long-string marker when over 65535 bytes).
    pub fn string(&mut self, value: &str) -> Result<&mut Self, AmfError> {
        self.value(&Amf0Value::String(value))
    }

    /// Writes null.
    pub fn null(&mut self) -> Result<&mut Self, AmfError> {
        self.value(&Amf0Value::Null)
    }

    /// Starts an anonymous object; follow with `property` calls and `object_end`.
    pub fn object_start(&mut self) -> Result<&mut Self, AmfError> {
        self.reserve(1, |out| out.put(&[marker::OBJECT]))
    }

    /// Starts an ECMA array declaring `count` entries; end it with `object_end`.
    pub fn ecma_array_start(&mut self, count: u32) -> Result<&mut Self, AmfError> {
        self.reserve(5, |out| {
            out.put(&[marker::ECMA_ARRAY]);
            out.put(&count.to_be_bytes());
        })
    }

    /// Starts a strict array of `count` values; write exactly that many values after it.
    pub fn strict_array_start(&mut self, count: u32) -> Result<&mut Self, AmfError> {
        self.reserve(5, |out| {
            out.put(&[marker::STRICT_ARRAY]);
            out.put(&count.to_be_bytes());
        })
    }

    /// Writes a property name inside an object or ECMA array; the value follows.
    ///
    /// A name over 65535 bytes is `StringTooLong`.
    pub fn property(&mut self, key: &str) -> Result<&mut Self, AmfError> {
        let needed = key_len(key)?;
        self.reserve(needed, |out| out.key(key))
    }

    /// Ends an object or ECMA array (empty key, then the object-end marker).
    pub fn object_end(&mut self) -> Result<&mut Self, AmfError> {
        self.reserve(3, |out| out.put(&[0, 0, marker::OBJECT_END]))
    }

    /// Writes any decoded value, recursively.
    ///
    /// Strings over 65535 bytes use the long-string marker; one over 4 GiB, or a
    /// property name over 65535 bytes, is `StringTooLong`.
    pub fn value(&mut self, value: &Amf0Value<'_>) -> Result<&mut Self, AmfError> {
        let needed = encoded_len(value)?;
        self.reserve(needed, |out| out.value(value))
    }

    /// Runs `emit` over exactly the next `needed` bytes, or writes nothing.
    fn reserve(
        &mut self,
        needed: usize,
        emit: impl FnOnce(&mut Cursor<'_>),
    ) -> Result<&mut Self, AmfError> {
        let end = self
            .len
            .checked_add(needed)
            .ok_or(AmfError::OutputFull { needed })?;
        let room = self
            .out
            .get_mut(self.len..end)
            .ok_or(AmfError::OutputFull { needed })?;
        let mut cursor = Cursor { out: room, at: 0 };
        emit(&mut cursor);
        debug_assert_eq!(cursor.at, needed, "encoded_len and emit disagree");
        self.len = end;
        Ok(self)
    }
}

/// The AMF0 string-length limit: longer needs the long-string marker.
const SHORT_STRING_MAX: usize = u16::MAX as usize;

fn string_too_long(len: usize, limit: usize) -> AmfError {
    AmfError::StringTooLong {
        limit: u32::try_from(limit).unwrap_or(u32::MAX),
        seen: u32::try_from(len).unwrap_or(u32::MAX),
    }
}

/// Bytes a property name takes (u16 length, then the bytes).
fn key_len(key: &str) -> Result<usize, AmfError> {
    if key.len() > SHORT_STRING_MAX {
        return Err(string_too_long(key.len(), SHORT_STRING_MAX));
    }
    Ok(2 + key.len())
}

/// Bytes `value` encodes to, checking every string fits its length field.
fn encoded_len(value: &Amf0Value<'_>) -> Result<usize, AmfError> {
    let overflow = AmfError::OutputFull { needed: usize::MAX };
    let sum = |total: usize, more: usize| total.checked_add(more).ok_or(overflow);
    Ok(match value {
        Amf0Value::Number(_) => 9,
        Amf0Value::Boolean(_) => 2,
        Amf0Value::String(s) => {
            if s.len() <= SHORT_STRING_MAX {
                3 + s.len()
            } else if u32::try_from(s.len()).is_ok() {
                sum(5, s.len())?
            } else {
                return Err(string_too_long(s.len(), u32::MAX as usize));
            }
        }
        Amf0Value::Null | Amf0Value::Undefined => 1,
        Amf0Value::Reference(_) => 3,
        Amf0Value::Object(props) | Amf0Value::EcmaArray(props) => {
            let header = if matches!(value, Amf0Value::Object(_)) {
                1
            } else {
                5
            };
            let mut total = header + 3;
            for (key, item) in props {
                total = sum(total, key_len(key)?)?;
                total = sum(total, encoded_len(item)?)?;
            }
            total
        }
        Amf0Value::StrictArray(items) => {
            // The count field is a u32; more items than that cannot be described.
            if u32::try_from(items.len()).is_err() {
                return Err(overflow);
            }
            let mut total = 5;
            for item in items {
                total = sum(total, encoded_len(item)?)?;
            }
            total
        }
        Amf0Value::Date { .. } => 11,
    })
}

/// Writes into a slice already known to be exactly big enough.
struct Cursor<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.at + bytes.len();
        if let Some(dst) = self.out.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
    }

    fn key(&mut self, key: &str) {
        // `key_len` has checked the length fits in a u16.
        self.put(&(key.len() as u16).to_be_bytes());
        self.put(key.as_bytes());
    }

    fn properties(&mut self, props: &[(&str, Amf0Value<'_>)]) {
        for (key, item) in props {
            self.key(key);
            self.value(item);
        }
        self.put(&[0, 0, marker::OBJECT_END]);
    }

    fn value(&mut self, value: &Amf0Value<'_>) {
        match value {
            Amf0Value::Number(n) => {
                self.put(&[marker::NUMBER]);
                self.put(&n.to_be_bytes());
            }
            Amf0Value::Boolean(b) => self.put(&[marker::BOOLEAN, u8::from(*b)]),
            Amf0Value::String(s) => {
                // `encoded_len` has checked the length fits the field chosen here.
                if s.len() <= SHORT_STRING_MAX {
                    self.put(&[marker::STRING]);
                    self.put(&(s.len() as u16).to_be_bytes());
                } else {
                    self.put(&[marker::LONG_STRING]);
                    self.put(&(s.len() as u32).to_be_bytes());
                }
                self.put(s.as_bytes());
            }
            Amf0Value::Object(props) => {
                self.put(&[marker::OBJECT]);
                self.properties(props);
            }
            Amf0Value::Null => self.put(&[marker::NULL]),
            Amf0Value::Undefined => self.put(&[marker::UNDEFINED]),
            Amf0Value::Reference(index) => {
                self.put(&[marker::REFERENCE]);
                self.put(&index.to_be_bytes());
            }
            Amf0Value::EcmaArray(props) => {
                self.put(&[marker::ECMA_ARRAY]);
                self.put(&u32::try_from(props.len()).unwrap_or(u32::MAX).to_be_bytes());
                self.properties(props);
            }
            Amf0Value::StrictArray(items) => {
                self.put(&[marker::STRICT_ARRAY]);
                // `encoded_len` has checked the count fits in a u32.
                self.put(&(items.len() as u32).to_be_bytes());
                for item in items {
                    self.value(item);
                }
            }
            Amf0Value::Date { millis, timezone } => {
                self.put(&[marker::DATE]);
                self.put(&millis.to_be_bytes());
                self.put(&timezone.to_be_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `connect` as FFmpeg's librtmp-compatible muxer sends it: name, transaction id 1,
    /// command object.
    const CONNECT: &[u8] = b"\x02\x00\x07connect\
        \x00\x3f\xf0\x00\x00\x00\x00\x00\x00\
        \x03\
        \x00\x03app\x02\x00\x04live\
        \x00\x04type\x02\x00\x0anonprivate\
        \x00\x08flashVer\x02\x00\x1fFMLE/3.0 (compatible; FMSc/1.0)\
        \x00\x05tcUrl\x02\x00\x1artmp://127.0.0.1:1935/live\
        \x00\x00\x09";

    /// `@setDataFrame onMetaData {..}` as FFmpeg's FLV muxer sends it over RTMP.
    const METADATA: &[u8] = b"\x02\x00\x0d@setDataFrame\
        \x02\x00\x0aonMetaData\
        \x08\x00\x00\x00\x06\
        \x00\x08duration\x00\x00\x00\x00\x00\x00\x00\x00\x00\
        \x00\x05width\x00\x40\x94\x00\x00\x00\x00\x00\x00\
        \x00\x06height\x00\x40\x86\x80\x00\x00\x00\x00\x00\
        \x00\x0cvideocodecid\x00\x40\x1c\x00\x00\x00\x00\x00\x00\
        \x00\x09framerate\x00\x40\x3e\x00\x00\x00\x00\x00\x00\
        \x00\x07encoder\x02\x00\x0dLavf58.76.100\
        \x00\x00\x09";

    fn decode(input: &[u8]) -> Result<Vec<Amf0Value<'_>>, AmfError> {
        decode_all(input, &AmfLimits::default())
    }

    fn limits(max_depth: u8, max_elements: u32, max_string_len: u32) -> AmfLimits {
        AmfLimits {
            max_depth,
            max_elements,
            max_string_len,
        }
    }

    fn encode(value: &Amf0Value<'_>) -> Vec<u8> {
        let mut out = vec![0; encoded_len(value).unwrap_or(0)];
        let mut writer = Amf0Writer::new(&mut out);
        assert!(writer.value(value).is_ok());
        assert_eq!(writer.len(), out.len());
        out
    }

    fn connect_value() -> Vec<Amf0Value<'static>> {
        vec![
            Amf0Value::String("connect"),
            Amf0Value::Number(1.0),
            Amf0Value::Object(vec![
                ("app", Amf0Value::String("live")),
                ("type", Amf0Value::String("nonprivate")),
                (
                    "flashVer",
                    Amf0Value::String("FMLE/3.0 (compatible; FMSc/1.0)"),
                ),
                ("tcUrl", Amf0Value::String("rtmp://127.0.0.1:1935/live")),
            ]),
        ]
    }

    /// One value of every kind, nested, with a reference to a finished object.
    fn every_kind() -> Vec<Amf0Value<'static>> {
        vec![
            Amf0Value::Object(vec![("a", Amf0Value::Number(-0.5))]),
            Amf0Value::StrictArray(vec![
                Amf0Value::Boolean(true),
                Amf0Value::Boolean(false),
                Amf0Value::Null,
                Amf0Value::Undefined,
                Amf0Value::Reference(0),
                Amf0Value::EcmaArray(vec![
                    ("", Amf0Value::String("empty name")),
                    ("s", Amf0Value::StrictArray(vec![])),
                ]),
            ]),
            Amf0Value::Date {
                millis: 1_700_000_000_000.0,
                timezone: -60,
            },
            Amf0Value::String(""),
            Amf0Value::EcmaArray(vec![]),
            Amf0Value::Object(vec![]),
        ]
    }

    /// Object nested `levels` deep: `{ "a": { "a": ... null } }`.
    fn nested_objects(levels: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        for _ in 0..levels {
            bytes.extend_from_slice(b"\x03\x00\x01a");
        }
        bytes.push(marker::NULL);
        for _ in 0..levels {
            bytes.extend_from_slice(b"\x00\x00\x09");
        }
        bytes
    }

    /// Strict arrays nested `levels` deep, each holding the next, innermost empty.
    fn nested_arrays(levels: usize) -> Vec<u8> {
        let mut bytes = Vec::new();
        for level in 0..levels {
            let count: u32 = if level + 1 == levels { 0 } else { 1 };
            bytes.push(marker::STRICT_ARRAY);
            bytes.extend_from_slice(&count.to_be_bytes());
        }
        bytes
    }

    fn string_of(len: usize) -> Vec<u8> {
        let mut bytes = vec![marker::STRING];
        bytes.extend_from_slice(&(len as u16).to_be_bytes());
        bytes.resize(3 + len, b'x');
        bytes
    }

    #[test]
    fn decodes_connect_command_as_ffmpeg_sends_it() {
        let values = decode(CONNECT).unwrap_or_default();
        assert_eq!(values, connect_value());
        assert_eq!(values[0].as_str(), Some("connect"));
        assert_eq!(values[1].as_number(), Some(1.0));
        let object = &values[2];
        assert_eq!(object.get("app").and_then(Amf0Value::as_str), Some("live"));
        assert_eq!(
            object.get("tcUrl").and_then(Amf0Value::as_str),
            Some("rtmp://127.0.0.1:1935/live")
        );
        assert_eq!(object.get("swfUrl"), None);
    }

    #[test]
    fn strings_borrow_from_the_input() {
        let values = decode(CONNECT).unwrap_or_default();
        let name = values[0].as_str().unwrap_or("");
        let input = CONNECT.as_ptr_range();
        assert!(input.contains(&name.as_ptr()));
    }

    #[test]
    fn writer_produces_the_connect_command_byte_for_byte() {
        let mut out = [0u8; 256];
        let mut writer = Amf0Writer::new(&mut out);
        let written = writer
            .string("connect")
            .and_then(|w| w.number(1.0))
            .and_then(|w| w.object_start())
            .and_then(|w| w.property("app"))
            .and_then(|w| w.string("live"))
            .and_then(|w| w.property("type"))
            .and_then(|w| w.string("nonprivate"))
            .and_then(|w| w.property("flashVer"))
            .and_then(|w| w.string("FMLE/3.0 (compatible; FMSc/1.0)"))
            .and_then(|w| w.property("tcUrl"))
            .and_then(|w| w.string("rtmp://127.0.0.1:1935/live"))
            .and_then(|w| w.object_end())
            .map(|w| w.len());
        assert_eq!(written, Ok(CONNECT.len()));
        assert_eq!(&out[..CONNECT.len()], CONNECT);
    }

    #[test]
    fn writer_value_matches_the_hand_built_connect_bytes() {
        let mut out = Vec::new();
        for value in connect_value() {
            out.extend_from_slice(&encode(&value));
        }
        assert_eq!(out, CONNECT);
    }

    #[test]
    fn decodes_set_data_frame_on_metadata_ecma_array() {
        let values = decode(METADATA).unwrap_or_default();
        assert_eq!(values.len(), 3);
        assert_eq!(values[0].as_str(), Some("@setDataFrame"));
        assert_eq!(values[1].as_str(), Some("onMetaData"));
        let meta = &values[2];
        assert!(matches!(meta, Amf0Value::EcmaArray(props) if props.len() == 6));
        assert_eq!(
            meta.get("width").and_then(Amf0Value::as_number),
            Some(1280.0)
        );
        assert_eq!(
            meta.get("height").and_then(Amf0Value::as_number),
            Some(720.0)
        );
        assert_eq!(
            meta.get("videocodecid").and_then(Amf0Value::as_number),
            Some(7.0)
        );
        assert_eq!(
            meta.get("framerate").and_then(Amf0Value::as_number),
            Some(30.0)
        );
        assert_eq!(
            meta.get("encoder").and_then(Amf0Value::as_str),
            Some("Lavf58.76.100")
        );
        assert_eq!(encode(meta), METADATA[29..]);
    }

    #[test]
    fn decodes_each_scalar_type_from_spec_bytes() {
        let cases: &[(&[u8], Amf0Value<'_>)] = &[
            (
                b"\x00\x3f\xf8\x00\x00\x00\x00\x00\x00",
                Amf0Value::Number(1.5),
            ),
            (b"\x01\x00", Amf0Value::Boolean(false)),
            (b"\x01\x01", Amf0Value::Boolean(true)),
            (b"\x01\x7f", Amf0Value::Boolean(true)),
            (b"\x02\x00\x05hello", Amf0Value::String("hello")),
            (b"\x02\x00\x00", Amf0Value::String("")),
            (b"\x05", Amf0Value::Null),
            (b"\x06", Amf0Value::Undefined),
            (
                b"\x0b\x42\x78\xbc\xfe\x56\x80\x00\x00\xff\xc4",
                Amf0Value::Date {
                    millis: 1_700_000_000_000.0,
                    timezone: -60,
                },
            ),
            (b"\x0c\x00\x00\x00\x02hi", Amf0Value::String("hi")),
            (b"\x0c\x00\x00\x00\x00", Amf0Value::String("")),
            (b"\x03\x00\x00\x09", Amf0Value::Object(vec![])),
            (
                b"\x08\x00\x00\x00\x00\x00\x00\x09",
                Amf0Value::EcmaArray(vec![]),
            ),
            (b"\x0a\x00\x00\x00\x00", Amf0Value::StrictArray(vec![])),
        ];
        for (bytes, value) in cases {
            assert_eq!(decode(bytes), Ok(vec![value.clone()]), "{bytes:02x?}");
        }
    }

    #[test]
    fn empty_input_decodes_to_no_values() {
        assert_eq!(decode(b""), Ok(vec![]));
    }

    #[test]
    fn round_trips_every_value_kind() {
        let values = every_kind();
        let mut bytes = Vec::new();
        for value in &values {
            bytes.extend_from_slice(&encode(value));
        }
        assert_eq!(decode(&bytes), Ok(values));
    }

    #[test]
    fn round_trips_a_long_string_above_65535_bytes_with_the_long_marker() {
        let text = "é".repeat(40_000);
        let value = Amf0Value::String(&text);
        let bytes = encode(&value);
        assert_eq!(bytes[0], marker::LONG_STRING);
        assert_eq!(bytes[1..5], 80_000u32.to_be_bytes());
        let roomy = limits(4, 16, 100_000);
        assert_eq!(decode_all(&bytes, &roomy), Ok(vec![value]));
    }

    #[test]
    fn string_of_exactly_65535_bytes_keeps_the_short_marker() {
        let text = "x".repeat(65_535);
        let bytes = encode(&Amf0Value::String(&text));
        assert_eq!(bytes[..3], [marker::STRING, 0xff, 0xff]);
        let text = "x".repeat(65_536);
        let bytes = encode(&Amf0Value::String(&text));
        assert_eq!(bytes[..5], [marker::LONG_STRING, 0, 1, 0, 0]);
    }

    #[test]
    fn every_proper_prefix_of_a_value_is_truncated() {
        let mut encodings: Vec<Vec<u8>> = vec![CONNECT[..10].to_vec(), CONNECT[10..19].to_vec()];
        encodings.push(CONNECT[19..].to_vec());
        encodings.push(METADATA[29..].to_vec());
        encodings.push(encode(&Amf0Value::String(&"y".repeat(70_000))));
        encodings.push(nested_objects(5));
        encodings.push(nested_arrays(5));
        for value in every_kind() {
            if !matches!(value, Amf0Value::StrictArray(_)) {
                encodings.push(encode(&value));
            }
        }
        let roomy = limits(16, 1024, 100_000);
        for bytes in &encodings {
            assert_eq!(decode_all(bytes, &roomy).map(|v| v.len()), Ok(1));
            for cut in 1..bytes.len() {
                let result = decode_all(&bytes[..cut], &roomy);
                let ecma_without_end = bytes[0] == marker::ECMA_ARRAY && cut == bytes.len() - 3;
                if ecma_without_end {
                    // The one prefix accepted: all declared properties, no object-end.
                    assert_eq!(result, decode_all(bytes, &roomy), "cut at {cut}");
                } else {
                    assert!(
                        matches!(result, Err(AmfError::Truncated { .. })),
                        "cut at {cut} of {bytes:02x?}: {result:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_prefix_of_a_message_decodes_to_leading_values_or_truncated() {
        for message in [CONNECT, METADATA] {
            let whole = decode(message).unwrap_or_default();
            for cut in 0..message.len() {
                match decode(&message[..cut]) {
                    Ok(values) => assert_eq!(values[..], whole[..values.len()], "cut at {cut}"),
                    Err(e) => assert!(matches!(e, AmfError::Truncated { .. }), "cut {cut}: {e}"),
                }
            }
        }
    }

    #[test]
    fn ecma_array_count_is_only_a_hint() {
        // Declares none, holds one.
        let bytes = b"\x08\x00\x00\x00\x00\x00\x01k\x05\x00\x00\x09";
        assert_eq!(
            decode(bytes),
            Ok(vec![Amf0Value::EcmaArray(vec![("k", Amf0Value::Null)])])
        );
        // Declares a million, holds one.
        let bytes = b"\x08\x00\x0f\x42\x40\x00\x01k\x05\x00\x00\x09";
        assert_eq!(
            decode(bytes),
            Ok(vec![Amf0Value::EcmaArray(vec![("k", Amf0Value::Null)])])
        );
    }

    #[test]
    fn ecma_array_missing_object_end_is_accepted_only_with_its_declared_count() {
        let complete = b"\x08\x00\x00\x00\x01\x00\x01k\x05";
        assert_eq!(
            decode(complete),
            Ok(vec![Amf0Value::EcmaArray(vec![("k", Amf0Value::Null)])])
        );
        let short = b"\x08\x00\x00\x00\x02\x00\x01k\x05";
        assert_eq!(decode(short), Err(AmfError::Truncated { offset: 9 }));
        let unknown_count = b"\x08\x00\x00\x00\x00\x00\x01k\x05";
        assert_eq!(
            decode(unknown_count),
            Err(AmfError::Truncated { offset: 9 })
        );
        // Objects always need their end, and so does anything around the array.
        assert_eq!(
            decode(b"\x03\x00\x01k\x05"),
            Err(AmfError::Truncated { offset: 5 })
        );
        assert_eq!(
            decode(b"\x03\x00\x01a\x08\x00\x00\x00\x00"),
            Err(AmfError::Truncated { offset: 9 })
        );
    }

    #[test]
    fn empty_key_followed_by_a_value_is_a_property() {
        assert_eq!(
            decode(b"\x03\x00\x00\x05\x00\x00\x09"),
            Ok(vec![Amf0Value::Object(vec![("", Amf0Value::Null)])])
        );
    }

    #[test]
    fn depth_limit_holds_one_under_exactly_and_one_over() {
        let three = limits(3, 1024, 1024);
        for levels in [2, 3] {
            assert!(decode_all(&nested_objects(levels), &three).is_ok());
            assert!(decode_all(&nested_arrays(levels), &three).is_ok());
        }
        let too_deep = Err(AmfError::TooDeep { limit: 3 });
        assert_eq!(decode_all(&nested_objects(4), &three), too_deep);
        assert_eq!(decode_all(&nested_arrays(4), &three), too_deep);
        let flat = limits(0, 1024, 1024);
        assert_eq!(decode_all(b"\x05", &flat), Ok(vec![Amf0Value::Null]));
        assert_eq!(
            decode_all(b"\x03\x00\x00\x09", &flat),
            Err(AmfError::TooDeep { limit: 0 })
        );
    }

    #[test]
    fn ten_thousand_deep_nesting_is_too_deep_without_overflowing_the_stack() {
        let too_deep = Err(AmfError::TooDeep { limit: 16 });
        assert_eq!(decode(&nested_objects(10_000)), too_deep);
        assert_eq!(decode(&nested_arrays(10_000)), too_deep);
        let ecma = b"\x08\x00\x00\x00\x01\x00\x01a".repeat(10_000);
        assert_eq!(decode(&ecma), too_deep);
        let widest = limits(u8::MAX, u32::MAX, 1024);
        assert_eq!(
            decode_all(&nested_objects(10_000), &widest),
            Err(AmfError::TooDeep { limit: 255 })
        );
    }

    /// Decodes `input` on a fresh thread with `stack` bytes of stack; `None` if it died.
    fn decode_on_stack(input: Vec<u8>, limits: AmfLimits, stack: usize) -> Option<usize> {
        std::thread::Builder::new()
            .stack_size(stack)
            .spawn(move || decode_all(&input, &limits).map(|v| v.len()).ok())
            .ok()?
            .join()
            .ok()?
    }

    #[test]
    fn deepest_nesting_the_limits_allow_decodes_on_a_small_stack() {
        // About 1.6 KiB a level unoptimised, under 0.5 KiB optimised.
        let default = AmfLimits::default();
        let deepest = usize::from(default.max_depth);
        assert_eq!(
            decode_on_stack(nested_objects(deepest), default, 64 * 1024),
            Some(1)
        );
        assert_eq!(
            decode_on_stack(nested_arrays(deepest), default, 64 * 1024),
            Some(1)
        );
        let widest = limits(u8::MAX, u32::MAX, 1024);
        assert_eq!(
            decode_on_stack(nested_objects(255), widest, 1024 * 1024),
            Some(1)
        );
        assert_eq!(
            decode_on_stack(nested_arrays(255), widest, 1024 * 1024),
            Some(1)
        );
    }

    #[test]
    fn element_limit_holds_one_under_exactly_and_one_over() {
        let five = limits(16, 5, 1024);
        assert_eq!(
            decode_all(&[marker::NULL; 4], &five).map(|v| v.len()),
            Ok(4)
        );
        assert_eq!(
            decode_all(&[marker::NULL; 5], &five).map(|v| v.len()),
            Ok(5)
        );
        let over = Err(AmfError::TooManyElements { limit: 5, seen: 6 });
        assert_eq!(decode_all(&[marker::NULL; 6], &five), over);
        // Containers count as values, keys do not: object + 3 = 4, + 4 = 5, + 5 = 6.
        let object = |n: usize| {
            let mut bytes = vec![marker::OBJECT];
            for _ in 0..n {
                bytes.extend_from_slice(b"\x00\x01k\x05");
            }
            bytes.extend_from_slice(b"\x00\x00\x09");
            bytes
        };
        assert!(decode_all(&object(3), &five).is_ok());
        assert!(decode_all(&object(4), &five).is_ok());
        assert_eq!(decode_all(&object(5), &five), over);
        // A strict array's declared count is checked before its elements arrive.
        let array = |n: u32| {
            let mut bytes = vec![marker::STRICT_ARRAY];
            bytes.extend_from_slice(&n.to_be_bytes());
            bytes.resize(5 + n as usize, marker::NULL);
            bytes
        };
        assert!(decode_all(&array(3), &five).is_ok());
        assert!(decode_all(&array(4), &five).is_ok());
        assert_eq!(decode_all(&array(5), &five), over);
        assert_eq!(decode_all(&array(5)[..5], &five), over);
    }

    #[test]
    fn strict_array_declaring_a_million_elements_fails_at_once() {
        let bytes = b"\x0a\x00\x0f\x42\x40\x05\x05";
        assert_eq!(
            decode(bytes),
            Err(AmfError::TooManyElements {
                limit: 1024,
                seen: 1_000_001
            })
        );
        let unbounded = limits(16, u32::MAX, 1024);
        assert_eq!(
            decode_all(bytes, &unbounded),
            Err(AmfError::Truncated { offset: 5 })
        );
        let max = b"\x0a\xff\xff\xff\xfe";
        assert_eq!(
            decode_all(max, &unbounded),
            Err(AmfError::Truncated { offset: 5 })
        );
    }

    #[test]
    fn object_holding_a_million_keys_stops_at_the_element_limit() {
        let mut bytes = vec![marker::OBJECT];
        for _ in 0..1_000_000 {
            bytes.extend_from_slice(b"\x00\x01k\x05");
        }
        bytes.extend_from_slice(b"\x00\x00\x09");
        assert_eq!(
            decode(&bytes),
            Err(AmfError::TooManyElements {
                limit: 1024,
                seen: 1025
            })
        );
        bytes[0] = marker::ECMA_ARRAY;
        bytes.splice(1..1, 1_000_000u32.to_be_bytes());
        assert_eq!(
            decode(&bytes),
            Err(AmfError::TooManyElements {
                limit: 1024,
                seen: 1025
            })
        );
    }

    #[test]
    fn string_limit_holds_one_under_exactly_and_one_over() {
        let ten = limits(16, 1024, 10);
        let over = Err(AmfError::StringTooLong {
            limit: 10,
            seen: 11,
        });
        assert!(decode_all(&string_of(9), &ten).is_ok());
        assert!(decode_all(&string_of(10), &ten).is_ok());
        assert_eq!(decode_all(&string_of(11), &ten), over);
        let long = |n: u32| {
            let mut bytes = vec![marker::LONG_STRING];
            bytes.extend_from_slice(&n.to_be_bytes());
            bytes.resize(5 + n as usize, b'x');
            bytes
        };
        assert!(decode_all(&long(9), &ten).is_ok());
        assert!(decode_all(&long(10), &ten).is_ok());
        assert_eq!(decode_all(&long(11), &ten), over);
        // Checked before the bytes: a 4 GiB claim in a short input is too long.
        assert_eq!(
            decode_all(b"\x0c\xff\xff\xff\xff", &ten),
            Err(AmfError::StringTooLong {
                limit: 10,
                seen: u32::MAX
            })
        );
        let key = |n: usize| {
            let mut bytes = vec![marker::OBJECT];
            bytes.extend_from_slice(&(n as u16).to_be_bytes());
            bytes.resize(3 + n, b'k');
            bytes.extend_from_slice(b"\x05\x00\x00\x09");
            bytes
        };
        assert!(decode_all(&key(9), &ten).is_ok());
        assert!(decode_all(&key(10), &ten).is_ok());
        assert_eq!(decode_all(&key(11), &ten), over);
    }

    #[test]
    fn string_length_past_the_end_is_truncated() {
        assert_eq!(
            decode(b"\x02\x00\x10short"),
            Err(AmfError::Truncated { offset: 3 })
        );
        assert_eq!(
            decode(b"\x0c\x00\x00\x01\x00short"),
            Err(AmfError::Truncated { offset: 5 })
        );
        assert_eq!(
            decode(b"\x03\x00\x10ke"),
            Err(AmfError::Truncated { offset: 3 })
        );
    }

    #[test]
    fn reference_to_an_object_never_sent_is_rejected() {
        assert_eq!(
            decode(b"\x07\x00\x00"),
            Err(AmfError::BadReference { index: 0, seen: 0 })
        );
        assert_eq!(
            decode(b"\x03\x00\x00\x09\x07\x00\x01"),
            Err(AmfError::BadReference { index: 1, seen: 1 })
        );
        assert_eq!(
            decode(b"\x03\x00\x00\x09\x07\x00\x00"),
            Ok(vec![Amf0Value::Object(vec![]), Amf0Value::Reference(0)])
        );
    }

    #[test]
    fn reference_to_an_enclosing_unfinished_object_is_rejected() {
        // { a: [ ref 0 ] }: object 0 is still being decoded.
        let cyclic = b"\x03\x00\x01a\x0a\x00\x00\x00\x01\x07\x00\x00\x00\x00\x09";
        assert_eq!(
            decode(cyclic),
            Err(AmfError::BadReference { index: 0, seen: 2 })
        );
        // { a: {}, b: ref 1 }: object 1 is finished, object 0 is not.
        let sibling = b"\x03\x00\x01a\x03\x00\x00\x09\x00\x01b\x07\x00\x01\x00\x00\x09";
        assert!(decode(sibling).is_ok());
        // Strings are not complex values: nothing to refer to.
        assert_eq!(
            decode(b"\x02\x00\x01s\x07\x00\x00"),
            Err(AmfError::BadReference { index: 0, seen: 0 })
        );
    }

    #[test]
    fn unknown_markers_are_rejected_with_their_offset() {
        for marker in [0x04, 0x0d, 0x0e, 0x11, 0x12, 0xff] {
            assert_eq!(
                decode(&[0x05, marker]),
                Err(AmfError::UnknownMarker { marker, offset: 1 })
            );
        }
    }

    #[test]
    fn object_end_marker_outside_an_object_end_is_rejected() {
        let stray = |offset| {
            Err(AmfError::UnknownMarker {
                marker: 0x09,
                offset,
            })
        };
        assert_eq!(decode(b"\x09"), stray(0));
        assert_eq!(decode(b"\x0a\x00\x00\x00\x01\x09"), stray(5));
        assert_eq!(decode(b"\x03\x00\x01k\x09"), stray(4));
    }

    #[test]
    fn xml_and_typed_objects_decode_as_string_and_object() {
        assert_eq!(
            decode(b"\x0f\x00\x00\x00\x04<a/>"),
            Ok(vec![Amf0Value::String("<a/>")])
        );
        assert_eq!(
            decode(b"\x10\x00\x03Foo\x00\x01k\x05\x00\x00\x09\x07\x00\x00"),
            Ok(vec![
                Amf0Value::Object(vec![("k", Amf0Value::Null)]),
                Amf0Value::Reference(0)
            ])
        );
    }

    #[test]
    fn invalid_utf8_is_rejected_with_its_offset() {
        assert_eq!(
            decode(b"\x05\x02\x00\x02\xc3\x28"),
            Err(AmfError::InvalidUtf8 { offset: 4 })
        );
        assert_eq!(
            decode(b"\x0c\x00\x00\x00\x01\xff"),
            Err(AmfError::InvalidUtf8 { offset: 5 })
        );
        assert_eq!(
            decode(b"\x03\x00\x01\x80\x05\x00\x00\x09"),
            Err(AmfError::InvalidUtf8 { offset: 3 })
        );
        assert_eq!(
            decode(b"\x10\x00\x01\xfe\x00\x00\x09"),
            Err(AmfError::InvalidUtf8 { offset: 3 })
        );
    }

    #[test]
    fn writer_out_of_room_reports_what_it_needed_and_writes_nothing() {
        let value = connect_value().remove(2);
        let needed = encode(&value).len();
        for room in 0..needed {
            let mut out = vec![0xaa; room + 1];
            let mut writer = Amf0Writer::new(&mut out);
            assert!(writer.null().is_ok());
            assert_eq!(
                writer.value(&value).map(|w| w.len()),
                Err(AmfError::OutputFull { needed })
            );
            assert_eq!(writer.len(), 1);
        }
        let mut out = [0u8; 4];
        let mut writer = Amf0Writer::new(&mut out);
        let full = |needed| Err(AmfError::OutputFull { needed });
        assert_eq!(writer.number(1.0).map(|w| w.len()), full(9));
        assert_eq!(writer.string("hello").map(|w| w.len()), full(8));
        assert_eq!(writer.ecma_array_start(1).map(|w| w.len()), full(5));
        assert_eq!(writer.property("abc").map(|w| w.len()), full(5));
        assert!(writer.is_empty());
        assert_eq!(writer.boolean(true).map(|w| w.len()), Ok(2));
        assert_eq!(writer.object_end().map(|w| w.len()), full(3));
        assert_eq!(writer.object_start().map(|w| w.len()), Ok(3));
        assert_eq!(writer.null().map(|w| w.len()), Ok(4));
        assert_eq!(writer.null().map(|w| w.len()), full(1));
        assert_eq!(writer.len(), 4);
        assert_eq!(out, [0x01, 0x01, 0x03, 0x05]);
    }

    #[test]
    fn writer_rejects_a_property_name_over_65535_bytes() {
        let mut out = vec![0u8; 70_000];
        let mut writer = Amf0Writer::new(&mut out);
        let name = "k".repeat(65_536);
        let too_long = Err(AmfError::StringTooLong {
            limit: 65_535,
            seen: 65_536,
        });
        assert_eq!(writer.property(&name).map(|w| w.len()), too_long);
        let object = Amf0Value::Object(vec![(&name, Amf0Value::Null)]);
        assert_eq!(writer.value(&object).map(|w| w.len()), too_long);
        assert!(writer.is_empty());
        assert_eq!(writer.property(&name[1..]).map(|w| w.len()), Ok(65_537));
    }

    #[test]
    fn writer_writes_ecma_arrays_references_and_dates() {
        let mut out = [0u8; 64];
        let mut writer = Amf0Writer::new(&mut out);
        let len = writer
            .ecma_array_start(1)
            .and_then(|w| w.property("d"))
            .and_then(|w| {
                w.value(&Amf0Value::Date {
                    millis: 0.0,
                    timezone: 0,
                })
            })
            .and_then(|w| w.object_end())
            .and_then(|w| w.value(&Amf0Value::Reference(0)))
            .map(|w| w.len())
            .unwrap_or(0);
        assert_eq!(
            out[..len],
            *b"\x08\x00\x00\x00\x01\x00\x01d\x0b\0\0\0\0\0\0\0\0\0\0\x00\x00\x09\x07\x00\x00"
        );
    }

    #[test]
    fn writer_writes_a_strict_array_that_decodes_back() {
        let mut out = [0u8; 32];
        let mut writer = Amf0Writer::new(&mut out);
        let len = writer
            .strict_array_start(2)
            .and_then(|w| w.string("avc1"))
            .and_then(|w| w.string("*"))
            .map(|w| w.len())
            .unwrap_or(0);
        assert_eq!(out[..5], [0x0a, 0, 0, 0, 2]);
        assert_eq!(
            decode_all(&out[..len], &AmfLimits::default()),
            Ok(vec![Amf0Value::StrictArray(vec![
                Amf0Value::String("avc1"),
                Amf0Value::String("*")
            ])])
        );
    }

    #[test]
    fn helpers_answer_only_for_their_own_kind() {
        let object = Amf0Value::Object(vec![("n", Amf0Value::Number(2.0)), ("n", Amf0Value::Null)]);
        assert_eq!(object.get("n"), Some(&Amf0Value::Number(2.0)));
        assert_eq!(object.as_str(), None);
        assert_eq!(Amf0Value::Number(2.0).as_str(), None);
        assert_eq!(Amf0Value::String("2").as_number(), None);
        assert_eq!(Amf0Value::Boolean(true).as_bool(), Some(true));
        assert_eq!(Amf0Value::Null.as_bool(), None);
        assert_eq!(Amf0Value::StrictArray(vec![]).get("n"), None);
        let ecma = Amf0Value::EcmaArray(vec![("k", Amf0Value::String("v"))]);
        assert_eq!(ecma.get("k").and_then(Amf0Value::as_str), Some("v"));
    }

    #[test]
    fn display_is_one_lowercase_phrase_with_the_numbers() {
        let cases = [
            (
                AmfError::Truncated { offset: 7 },
                "input ends inside a value at byte 7",
            ),
            (
                AmfError::UnknownMarker {
                    marker: 0x0d,
                    offset: 3,
                },
                "unknown marker 0x0d at byte 3",
            ),
            (
                AmfError::TooDeep { limit: 16 },
                "nesting depth 17 over the limit 16",
            ),
            (
                AmfError::TooManyElements {
                    limit: 1024,
                    seen: 1025,
                },
                "1025 values over the limit 1024",
            ),
            (
                AmfError::StringTooLong {
                    limit: 10,
                    seen: 11,
                },
                "string of 11 bytes over the 10-byte limit",
            ),
            (
                AmfError::InvalidUtf8 { offset: 4 },
                "string at byte 4 is not utf-8",
            ),
            (
                AmfError::BadReference { index: 2, seen: 1 },
                "reference to complex value 2 with 1 seen",
            ),
            (
                AmfError::OutputFull { needed: 9 },
                "no room for 9 more bytes",
            ),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
