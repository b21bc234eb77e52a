//! The server side of one RTMP connection: handshake, chunks and commands -> events.

/// Why a session broke the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {}

impl core::fmt::Display for SessionError {
    fn fmt(&self, _f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {}
    }
}
