//! Ways a peer breaks the session's rules, each naming the limit or the command and the value seen.

use super::command_name::CommandName;

/// Why a session broke the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// A command message with no values.
    EmptyCommand,
    /// A command whose first value is not a string.
    CommandNameNotString,
    /// A command name longer than the limit.
    CommandNameTooLong {
        /// The limit.
        limit: u32,
        /// The length seen.
        seen: u32,
    },
    /// A type 17 command whose first byte is not the AMF0 selector 0.
    BadAmf3Wrapper {
        /// The byte seen.
        marker: u8,
    },
    /// An argument of the wrong AMF type.
    BadArgument {
        /// The command.
        command: CommandName,
        /// Position of the argument (0 = name).
        index: u8,
    },
    /// A command that needs an earlier step (e.g. `publish` before `connect`).
    OutOfOrder {
        /// The command.
        command: CommandName,
    },
    /// A second `connect`.
    AlreadyConnected,
    /// More message streams than the limit.
    TooManyStreams {
        /// The limit.
        limit: u32,
    },
    /// A command named a message stream that does not exist.
    UnknownStream {
        /// The command.
        command: CommandName,
        /// The stream id seen.
        stream_id: u32,
    },
    /// An app or stream name longer than the limit.
    NameTooLong {
        /// The limit.
        limit: u32,
        /// The length seen.
        seen: u32,
    },
    /// `publish` or `play` on a stream that already publishes or plays.
    StreamBusy {
        /// The stream id.
        stream_id: u32,
    },
    /// The peer made rtmpsd queue more replies than the limit without reading them.
    OutputOverflow {
        /// The limit.
        limit: u32,
        /// The bytes the reply queue would have held.
        seen: u32,
    },
}

impl core::fmt::Display for SessionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            SessionError::EmptyCommand => write!(f, "empty command message"),
            SessionError::CommandNameNotString => write!(f, "command name is not a string"),
            SessionError::CommandNameTooLong { limit, seen } => {
                write!(f, "command name of {seen} bytes over the limit {limit}")
            }
            SessionError::BadAmf3Wrapper { marker } => {
                write!(f, "amf3 command wrapper starts with {marker:#04x}, not 0")
            }
            SessionError::BadArgument { command, index } => {
                write!(
                    f,
                    "{} argument {index} has the wrong type",
                    command.as_str()
                )
            }
            SessionError::OutOfOrder { command } => {
                write!(f, "{} before the steps it needs", command.as_str())
            }
            SessionError::AlreadyConnected => write!(f, "second connect"),
            SessionError::TooManyStreams { limit } => {
                // Refused at the first stream over the limit, so that is the count seen.
                let seen = u64::from(limit) + 1;
                write!(f, "{seen} message streams over the limit {limit}")
            }
            SessionError::UnknownStream { command, stream_id } => {
                write!(f, "{} on unknown stream {stream_id}", command.as_str())
            }
            SessionError::NameTooLong { limit, seen } => {
                write!(f, "name of {seen} bytes over the limit {limit}")
            }
            SessionError::StreamBusy { stream_id } => {
                write!(f, "stream {stream_id} already publishes or plays")
            }
            SessionError::OutputOverflow { limit, seen } => {
                write!(f, "{seen} unread reply bytes over the limit {limit}")
            }
        }
    }
}
