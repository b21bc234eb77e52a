//! The names of the commands rtmpsd knows, for parsing, errors and logs.

/// The commands rtmpsd knows, for errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    /// `connect`
    Connect,
    /// `releaseStream`
    ReleaseStream,
    /// `FCPublish`
    FcPublish,
    /// `FCUnpublish`
    FcUnpublish,
    /// `createStream`
    CreateStream,
    /// `deleteStream`
    DeleteStream,
    /// `closeStream`
    CloseStream,
    /// `publish`
    Publish,
    /// `play`
    Play,
    /// `getStreamLength`
    GetStreamLength,
    /// Anything else.
    Other,
}

impl CommandName {
    /// The name as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Connect => "connect",
            CommandName::ReleaseStream => "releaseStream",
            CommandName::FcPublish => "FCPublish",
            CommandName::FcUnpublish => "FCUnpublish",
            CommandName::CreateStream => "createStream",
            CommandName::DeleteStream => "deleteStream",
            CommandName::CloseStream => "closeStream",
            CommandName::Publish => "publish",
            CommandName::Play => "play",
            CommandName::GetStreamLength => "getStreamLength",
            CommandName::Other => "other",
        }
    }

    /// The command of a wire name; unknown names are `Other`.
    pub fn from_wire(name: &str) -> CommandName {
        match name {
            "connect" => CommandName::Connect,
            "releaseStream" => CommandName::ReleaseStream,
            "FCPublish" => CommandName::FcPublish,
            "FCUnpublish" => CommandName::FcUnpublish,
            "createStream" => CommandName::CreateStream,
            "deleteStream" => CommandName::DeleteStream,
            "closeStream" => CommandName::CloseStream,
            "publish" => CommandName::Publish,
            "play" => CommandName::Play,
            "getStreamLength" => CommandName::GetStreamLength,
            _ => CommandName::Other,
        }
    }
}
