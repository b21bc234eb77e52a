//! What `Session::feed` hands the caller: events, and the role of each message stream.

use super::media_message::Media;

/// What a message stream is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRole {
    /// Created, neither publishing nor playing.
    Idle,
    /// `publish` asked, waiting for the caller's answer.
    PublishPending,
    /// Publishing: its media is handed out as `SessionEvent::Media`.
    Publishing,
    /// `play` asked, waiting for the caller's answer.
    PlayPending,
    /// Playing.
    Playing,
}

/// Something the caller must know about or act on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SessionEvent<'a> {
    /// The RTMP handshake finished (`digest` when C1 carried a valid digest).
    HandshakeDone {
        /// Whether the digest form was used.
        digest: bool,
    },
    /// `connect` succeeded for `app`.
    Connected {
        /// The application name.
        app: &'a str,
    },
    /// The peer asks to publish `name`; answer with `accept_publish` or `reject_publish`.
    PublishRequested {
        /// The message stream.
        stream_id: u32,
        /// The stream name, query included.
        name: &'a str,
    },
    /// The peer asks to play `name`; answer with `accept_play` or `reject_play`.
    PlayRequested {
        /// The message stream.
        stream_id: u32,
        /// The stream name, query included.
        name: &'a str,
    },
    /// Media from a publishing stream.
    Media(Media<'a>),
    /// A publishing or playing stream ended (`deleteStream`, `closeStream`, `FCUnpublish`).
    StreamClosed {
        /// The message stream.
        stream_id: u32,
        /// What it was doing.
        role: StreamRole,
    },
}

/// What one `feed` call did.
#[derive(Debug)]
pub struct Fed<'a> {
    /// Bytes of the input consumed.
    pub consumed: usize,
    /// An event, if one happened; feed the rest of the input after handling it.
    pub event: Option<SessionEvent<'a>>,
}
