//! What `ClientSession::feed` hands the caller: events about the upstream connection.

/// The step of setting up a publish that a refusal answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientStep {
    /// `connect`.
    Connect,
    /// `createStream`.
    CreateStream,
    /// `publish`, until NetStream.Publish.Start.
    Publish,
    /// While publishing (an error status from the server later on).
    Publishing,
}

impl ClientStep {
    /// The step as operators read it in a log line.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientStep::Connect => "connect",
            ClientStep::CreateStream => "createStream",
            ClientStep::Publish => "publish",
            ClientStep::Publishing => "publishing",
        }
    }
}

/// The fields of an `onStatus` or `_error` info object, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status<'a> {
    /// `status`, `warning` or `error` (empty when missing).
    pub level: &'a str,
    /// E.g. `NetStream.Publish.Start` (empty when missing).
    pub code: &'a str,
    /// Free text from the server (empty when missing).
    pub description: &'a str,
}

impl Status<'_> {
    /// Whether the server reports an error.
    pub fn is_error(&self) -> bool {
        self.level.eq_ignore_ascii_case("error")
    }
}

/// Something the caller of a client session must know about or act on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClientEvent<'a> {
    /// The RTMP handshake finished (`digest` when the server answered in digest form);
    /// `connect` has been queued.
    HandshakeDone {
        /// Whether both sides used the digest form.
        digest: bool,
    },
    /// The server accepted `connect`; `releaseStream`, `FCPublish` and `createStream` are queued.
    Connected,
    /// NetStream.Publish.Start arrived: media may now be sent on `stream_id`.
    Publishing {
        /// The message stream to send media on.
        stream_id: u32,
    },
    /// The server refused a step, or reported an error while publishing. The session is
    /// finished; the caller closes the connection.
    Refused {
        /// The step refused.
        step: ClientStep,
        /// What the server said.
        status: Status<'a>,
    },
    /// A status that is no error (e.g. a warning, or NetStream.Publish.Idle), for the log.
    Status(Status<'a>),
    /// The server acknowledged `sequence` bytes (wrapping at 2^32) received from us.
    Acknowledged {
        /// The sequence number it sent.
        sequence: u32,
    },
}

/// What one `ClientSession::feed` call did.
#[derive(Debug)]
pub struct ClientFed<'a> {
    /// Bytes of the input consumed.
    pub consumed: usize,
    /// An event, if one happened; feed the rest of the input after handling it.
    pub event: Option<ClientEvent<'a>>,
}
