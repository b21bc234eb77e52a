//! The core's error wrapper: one variant per layer.

use super::amf0::AmfError;
use super::chunk::ChunkError;
use super::handshake::HandshakeError;
use super::media::MediaError;
use super::message::ControlError;
use super::session_error::SessionError;

/// Any error of the protocol core; each layer's own enum sits inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The handshake failed.
    Handshake(HandshakeError),
    /// The chunk stream was malformed or over a limit.
    Chunk(ChunkError),
    /// A control message was malformed.
    Control(ControlError),
    /// AMF0 could not be decoded or encoded.
    Amf(AmfError),
    /// A media message header was malformed.
    Media(MediaError),
    /// The peer broke the session's rules.
    Session(SessionError),
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Handshake(e) => write!(f, "handshake: {e}"),
            Error::Chunk(e) => write!(f, "chunk: {e}"),
            Error::Control(e) => write!(f, "control: {e}"),
            Error::Amf(e) => write!(f, "amf0: {e}"),
            Error::Media(e) => write!(f, "media: {e}"),
            Error::Session(e) => write!(f, "session: {e}"),
        }
    }
}

impl std::error::Error for Error {}

macro_rules! wrap {
    ($($variant:ident($ty:ty)),*) => {$(
        impl From<$ty> for Error {
            fn from(e: $ty) -> Self {
                Error::$variant(e)
            }
        }
    )*};
}

wrap!(
    Handshake(HandshakeError),
    Chunk(ChunkError),
    Control(ControlError),
    Amf(AmfError),
    Media(MediaError),
    Session(SessionError)
);
