//! Enhanced-RTMP capabilities in `connect`: what a client declares, and what rtmpsd answers.
//!
//! ```text
//! connect command object (client -> server), every property optional:
//!   fourCcList          strict array of FourCC strings ("*" = any codec)       (v1)
//!   videoFourCcInfoMap  object: FourCC or "*" -> FourCcInfoMask number          (v2)
//!   audioFourCcInfoMap  object: FourCC or "*" -> FourCcInfoMask number          (v2)
//!   capsEx              number: CapsExMask                                      (v2)
//! FourCcInfoMask: CanDecode 0x01, CanEncode 0x02, CanForward 0x04; a "*" key overrides the
//! flags of every codec.
//! CapsExMask: Reconnect 0x01, Multitrack 0x02, ModEx 0x04, TimestampNanoOffset 0x08.
//! ```
//!
//! The server states its own support in the properties object of the `connect` `_result`.
//! rtmpsd forwards, untouched, every codec it recognises (the six video and six audio FourCCs
//! of v2) and nothing else, so it answers CanForward for each of them by name, never with
//! "*"; it parses ModEx and passes TimestampOffsetNano through, relays every track, and sends
//! ReconnectRequest, so its capsEx has all four bits. It answers only clients that declared
//! one of these properties: a legacy client gets the legacy reply, byte for byte.
//!
//! Values of the wrong AMF type are ignored property by property (a client that sends a
//! number where a map belongs still connects, as it would to a legacy server), and so are
//! FourCCs rtmpsd does not know; `unknown_fourccs` counts them for the debug log.

use core::fmt;

use crate::rtmp::amf0::{Amf0Value, Amf0Writer, AmfError};
use crate::rtmp::media::{AUDIO_FOURCCS, VIDEO_FOURCCS};

/// FourCcInfoMask: what a peer can do with a codec.
pub mod fourcc_info {
    /// The peer can decode the codec.
    pub const CAN_DECODE: u8 = 0x01;
    /// The peer can encode the codec.
    pub const CAN_ENCODE: u8 = 0x02;
    /// The peer can forward the codec.
    pub const CAN_FORWARD: u8 = 0x04;
}

/// CapsExMask: extended capabilities beyond legacy RTMP.
pub mod caps_ex {
    /// Handles NetConnection.Connect.ReconnectRequest.
    pub const RECONNECT: u32 = 0x01;
    /// Handles multitrack audio and video.
    pub const MULTITRACK: u32 = 0x02;
    /// Can parse ModEx signals.
    pub const MOD_EX: u32 = 0x04;
    /// Handles the TimestampOffsetNano ModEx.
    pub const TIMESTAMP_NANO_OFFSET: u32 = 0x08;
}

/// The capsEx rtmpsd states: every bit of v2.
pub const SERVER_CAPS_EX: u32 =
    caps_ex::RECONNECT | caps_ex::MULTITRACK | caps_ex::MOD_EX | caps_ex::TIMESTAMP_NANO_OFFSET;

/// Number of FourCCs of each media type in enhanced RTMP v2.
const CODECS: usize = 6;

/// What a peer declared for the codecs of one media type, indexed like `VIDEO_FOURCCS` or
/// `AUDIO_FOURCCS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CodecCaps {
    /// Flags of the `"*"` key of the info map, which override every codec's own.
    pub wildcard: Option<u8>,
    /// Flags of each codec in the info map.
    pub flags: [u8; CODECS],
    /// Codecs named in `fourCcList`, one bit each.
    pub listed: u8,
    /// Whether `fourCcList` held `"*"`.
    pub listed_any: bool,
}

impl CodecCaps {
    /// Whether the peer named codec `index` (or any codec) in either property.
    pub fn names(&self, index: usize) -> bool {
        self.listed_any
            || self.listed & (1 << index) != 0
            || self.flags_of(index).is_some_and(|f| f != 0)
    }

    /// The info-map flags in force for codec `index` ("*" first), if the map gave any.
    pub fn flags_of(&self, index: usize) -> Option<u8> {
        self.wildcard
            .or_else(|| self.flags.get(index).copied().filter(|f| *f != 0))
    }

    fn is_empty(&self) -> bool {
        *self == CodecCaps::default()
    }
}

/// What a client declared in `connect` (or a server in its `_result`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectCaps {
    /// Whether any of `fourCcList`, `videoFourCcInfoMap`, `audioFourCcInfoMap`, `capsEx` was
    /// present with the right type: the peer speaks enhanced RTMP.
    pub declared: bool,
    /// `capsEx`, if given.
    pub caps_ex: Option<u32>,
    /// Video codecs.
    pub video: CodecCaps,
    /// Audio codecs.
    pub audio: CodecCaps,
    /// FourCCs named that rtmpsd does not know, and values of the wrong type, ignored.
    pub unknown_fourccs: u16,
}

impl ConnectCaps {
    /// Reads the enhanced properties of a `connect` command object (or `_result` properties).
    pub fn from_command_object(object: &Amf0Value<'_>) -> ConnectCaps {
        let mut caps = ConnectCaps::default();
        if let Some(list) = object.get("fourCcList") {
            caps.read_fourcc_list(list);
        }
        if let Some(map) = object.get("videoFourCcInfoMap") {
            caps.read_info_map(map, true);
        }
        if let Some(map) = object.get("audioFourCcInfoMap") {
            caps.read_info_map(map, false);
        }
        match object.get("capsEx").and_then(Amf0Value::as_number) {
            Some(n) if n.is_finite() && (0.0..=f64::from(u32::MAX)).contains(&n) => {
                caps.caps_ex = Some(n as u32);
                caps.declared = true;
            }
            Some(_) => caps.unknown_fourccs = caps.unknown_fourccs.saturating_add(1),
            None => {}
        }
        caps
    }

    /// Whether the peer said it handles NetConnection.Connect.ReconnectRequest.
    pub fn supports_reconnect(&self) -> bool {
        self.caps_ex.is_some_and(|c| c & caps_ex::RECONNECT != 0)
    }

    /// Whether the peer said it handles multitrack.
    pub fn supports_multitrack(&self) -> bool {
        self.caps_ex.is_some_and(|c| c & caps_ex::MULTITRACK != 0)
    }

    fn read_fourcc_list(&mut self, list: &Amf0Value<'_>) {
        let Amf0Value::StrictArray(items) = list else {
            self.ignore();
            return;
        };
        self.declared = true;
        for item in items {
            match item.as_str() {
                Some("*") => {
                    self.video.listed_any = true;
                    self.audio.listed_any = true;
                }
                Some(code) => {
                    if let Some(i) = index_of(&VIDEO_FOURCCS.map(|(c, _)| c), code) {
                        self.video.listed |= 1 << i;
                    } else if let Some(i) = index_of(&AUDIO_FOURCCS.map(|(c, _)| c), code) {
                        self.audio.listed |= 1 << i;
                    } else {
                        self.ignore();
                    }
                }
                None => self.ignore(),
            }
        }
    }

    fn read_info_map(&mut self, map: &Amf0Value<'_>, video: bool) {
        let (Amf0Value::Object(entries) | Amf0Value::EcmaArray(entries)) = map else {
            self.ignore();
            return;
        };
        self.declared = true;
        let (caps, table) = if video {
            (&mut self.video, VIDEO_FOURCCS.map(|(code, _)| code))
        } else {
            (&mut self.audio, AUDIO_FOURCCS.map(|(code, _)| code))
        };
        let mut ignored = 0u16;
        for (key, value) in entries {
            let flags = match value.as_number() {
                Some(n) if n.is_finite() && (0.0..=255.0).contains(&n) => n as u8,
                _ => {
                    ignored += 1;
                    continue;
                }
            };
            if *key == "*" {
                caps.wildcard = Some(flags);
            } else if let Some(i) = index_of(&table, key) {
                if let Some(slot) = caps.flags.get_mut(i) {
                    *slot = flags;
                }
            } else {
                ignored += 1;
            }
        }
        self.unknown_fourccs = self.unknown_fourccs.saturating_add(ignored);
    }

    fn ignore(&mut self) {
        self.unknown_fourccs = self.unknown_fourccs.saturating_add(1);
    }
}

/// The position of FourCC `code` in `table`.
fn index_of(table: &[[u8; 4]; CODECS], code: &str) -> Option<usize> {
    table.iter().position(|fourcc| fourcc == code.as_bytes())
}

/// `capsEx 0x3 (reconnect multitrack); video hvc1 av01; audio Opus`, for the debug log.
impl fmt::Display for ConnectCaps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.declared {
            return f.write_str("legacy (no enhanced capabilities)");
        }
        match self.caps_ex {
            Some(bits) => {
                write!(f, "capsEx {bits:#x} (")?;
                let names = [
                    (caps_ex::RECONNECT, "reconnect"),
                    (caps_ex::MULTITRACK, "multitrack"),
                    (caps_ex::MOD_EX, "modex"),
                    (caps_ex::TIMESTAMP_NANO_OFFSET, "nano-offset"),
                ];
                let mut first = true;
                for (bit, name) in names {
                    if bits & bit != 0 {
                        f.write_str(if first { "" } else { " " })?;
                        f.write_str(name)?;
                        first = false;
                    }
                }
                f.write_str(")")?;
            }
            None => f.write_str("no capsEx")?,
        }
        for (label, caps, table) in [
            ("video", &self.video, VIDEO_FOURCCS.map(|(code, _)| code)),
            ("audio", &self.audio, AUDIO_FOURCCS.map(|(code, _)| code)),
        ] {
            write!(f, "; {label}")?;
            if caps.is_empty() {
                f.write_str(" none")?;
            } else if caps.listed_any || caps.wildcard.is_some() {
                f.write_str(" any")?;
            } else {
                for (i, code) in table.iter().enumerate() {
                    if caps.names(i) {
                        write!(f, " {}", core::str::from_utf8(code).unwrap_or("????"))?;
                    }
                }
            }
        }
        if self.unknown_fourccs > 0 {
            write!(f, "; {} unknown entries ignored", self.unknown_fourccs)?;
        }
        Ok(())
    }
}

/// Writes rtmpsd's answer as properties of an open object: `fourCcList`,
/// `videoFourCcInfoMap`, `audioFourCcInfoMap` (CanForward for each known codec) and `capsEx`.
pub fn write_server_caps(w: &mut Amf0Writer<'_>) -> Result<(), AmfError> {
    write_caps(w, fourcc_info::CAN_FORWARD, false, SERVER_CAPS_EX)
}

/// Writes a client's declaration as properties of an open object: every known FourCC with
/// `flags`, `"*"` too when `any`, and `capsEx`.
pub fn write_client_caps(
    w: &mut Amf0Writer<'_>,
    flags: u8,
    any: bool,
    caps_ex_bits: u32,
) -> Result<(), AmfError> {
    write_caps(w, flags, any, caps_ex_bits)
}

fn write_caps(
    w: &mut Amf0Writer<'_>,
    flags: u8,
    any: bool,
    caps_ex_bits: u32,
) -> Result<(), AmfError> {
    let count = VIDEO_FOURCCS.len() + AUDIO_FOURCCS.len() + usize::from(any);
    w.property("fourCcList")?.strict_array_start(count as u32)?;
    let codes = VIDEO_FOURCCS
        .iter()
        .map(|(code, _)| code)
        .chain(AUDIO_FOURCCS.iter().map(|(code, _)| code));
    for code in codes {
        w.string(core::str::from_utf8(code).unwrap_or("????"))?;
    }
    if any {
        w.string("*")?;
    }
    for (property, table) in [
        ("videoFourCcInfoMap", VIDEO_FOURCCS.map(|(code, _)| code)),
        ("audioFourCcInfoMap", AUDIO_FOURCCS.map(|(code, _)| code)),
    ] {
        w.property(property)?.object_start()?;
        if any {
            w.property("*")?.number(f64::from(flags))?;
        }
        for code in &table {
            w.property(core::str::from_utf8(code).unwrap_or("????"))?
                .number(f64::from(flags))?;
        }
        w.object_end()?;
    }
    w.property("capsEx")?.number(f64::from(caps_ex_bits))?;
    Ok(())
}

#[cfg(test)]
mod tests;
