//! Command messages (types 20 and 17) decoded into typed commands.
//!
//! A command is an AMF0 sequence: name, transaction id, command object, arguments. Only
//! the commands a live ingest/playback server acts on are typed; the rest come back as
//! `Command::Other` with their name so the session can ignore them. Arguments of the wrong
//! AMF type are an error naming the command and the argument's position.

use super::Error;
use super::amf0::{self, Amf0Value, AmfLimits};
use super::enhanced::ConnectCaps;
use super::session_error::SessionError;

pub use super::command_name::CommandName;

/// Longest command name accepted.
pub const MAX_COMMAND_NAME_LEN: usize = 64;

/// One decoded command, borrowing its strings from the message payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Command<'a> {
    /// `connect(txn, {app, tcUrl, objectEncoding, ...})`.
    Connect {
        /// Transaction id.
        transaction_id: f64,
        /// The application name (`live`).
        app: &'a str,
        /// AMF encoding the client asked for (0 or 3).
        object_encoding: f64,
        /// Enhanced-RTMP capabilities the client declared (none for a legacy client).
        caps: ConnectCaps,
    },
    /// `releaseStream(txn, null, name)`.
    ReleaseStream {
        /// Transaction id.
        transaction_id: f64,
    },
    /// `FCPublish(txn, null, name)`.
    FcPublish {
        /// Transaction id.
        transaction_id: f64,
    },
    /// `FCUnpublish(txn, null, name)`.
    FcUnpublish {
        /// Transaction id.
        transaction_id: f64,
    },
    /// `createStream(txn, null)`.
    CreateStream {
        /// Transaction id.
        transaction_id: f64,
    },
    /// `deleteStream(txn, null, stream_id)`.
    DeleteStream {
        /// The stream to delete, when given as a number. FFmpeg, OBS and librtmp send the id;
        /// GStreamer's rtmp2sink sends the stream's name instead, and then the message's own
        /// stream is meant.
        stream_id: Option<f64>,
    },
    /// `closeStream(0, null)` on the message stream it travels on.
    CloseStream,
    /// `publish(txn, null, name, type)`.
    Publish {
        /// Transaction id.
        transaction_id: f64,
        /// Stream name, possibly with a `?query`.
        name: &'a str,
    },
    /// `play(txn, null, name, ...)`.
    Play {
        /// Transaction id.
        transaction_id: f64,
        /// Stream name, possibly with a `?query`.
        name: &'a str,
    },
    /// `getStreamLength(txn, null, name)`.
    GetStreamLength {
        /// Transaction id.
        transaction_id: f64,
    },
    /// Any other command, ignored by the session.
    Other {
        /// Its name.
        name: &'a str,
        /// Transaction id (0 when absent).
        transaction_id: f64,
    },
}

impl<'a> Command<'a> {
    /// Decodes a command message payload; `amf3_wrapper` for type 17 (a leading 0 byte).
    pub fn parse(payload: &'a [u8], amf3_wrapper: bool, limits: &AmfLimits) -> Result<Self, Error> {
        let body = if amf3_wrapper {
            match payload.split_first() {
                Some((0, rest)) => rest,
                Some((&marker, _)) => return Err(SessionError::BadAmf3Wrapper { marker }.into()),
                None => return Err(SessionError::EmptyCommand.into()),
            }
        } else {
            payload
        };
        let values = amf0::decode_all(body, limits)?;
        let name = match values.first() {
            Some(Amf0Value::String(s)) => *s,
            Some(_) => return Err(SessionError::CommandNameNotString.into()),
            None => return Err(SessionError::EmptyCommand.into()),
        };
        if name.len() > MAX_COMMAND_NAME_LEN {
            return Err(SessionError::CommandNameTooLong {
                limit: MAX_COMMAND_NAME_LEN as u32,
                seen: name.len() as u32,
            }
            .into());
        }
        let command = CommandName::from_wire(name);
        let args = Args {
            command,
            values: &values,
        };
        // A missing transaction id is tolerated as 0: some encoders send none for closeStream.
        let transaction_id = match values.get(1) {
            None => 0.0,
            Some(_) => args.number(1)?,
        };
        Ok(match command {
            CommandName::Connect => {
                let object = args.object(2)?;
                let app = match object.get("app") {
                    Some(Amf0Value::String(s)) => *s,
                    Some(_) => return Err(args.bad(2)),
                    None => "",
                };
                let object_encoding = object.get("objectEncoding").and_then(|v| v.as_number());
                Command::Connect {
                    transaction_id,
                    app,
                    object_encoding: object_encoding.unwrap_or(0.0),
                    caps: ConnectCaps::from_command_object(object),
                }
            }
            CommandName::ReleaseStream => Command::ReleaseStream { transaction_id },
            CommandName::FcPublish => Command::FcPublish { transaction_id },
            CommandName::FcUnpublish => Command::FcUnpublish { transaction_id },
            CommandName::CreateStream => Command::CreateStream { transaction_id },
            CommandName::DeleteStream => Command::DeleteStream {
                stream_id: values.get(3).and_then(Amf0Value::as_number),
            },
            CommandName::CloseStream => Command::CloseStream,
            CommandName::Publish => Command::Publish {
                transaction_id,
                name: args.string(3)?,
            },
            CommandName::Play => Command::Play {
                transaction_id,
                name: args.string(3)?,
            },
            CommandName::GetStreamLength => Command::GetStreamLength { transaction_id },
            CommandName::Other => Command::Other {
                name,
                transaction_id,
            },
        })
    }

    /// Which command this is.
    pub fn name(&self) -> CommandName {
        match self {
            Command::Connect { .. } => CommandName::Connect,
            Command::ReleaseStream { .. } => CommandName::ReleaseStream,
            Command::FcPublish { .. } => CommandName::FcPublish,
            Command::FcUnpublish { .. } => CommandName::FcUnpublish,
            Command::CreateStream { .. } => CommandName::CreateStream,
            Command::DeleteStream { .. } => CommandName::DeleteStream,
            Command::CloseStream => CommandName::CloseStream,
            Command::Publish { .. } => CommandName::Publish,
            Command::Play { .. } => CommandName::Play,
            Command::GetStreamLength { .. } => CommandName::GetStreamLength,
            Command::Other { .. } => CommandName::Other,
        }
    }
}

/// Typed access to a command's positional values.
struct Args<'v, 'a> {
    command: CommandName,
    values: &'v [Amf0Value<'a>],
}

impl<'a> Args<'_, 'a> {
    fn bad(&self, index: usize) -> Error {
        SessionError::BadArgument {
            command: self.command,
            index: index.min(u8::MAX as usize) as u8,
        }
        .into()
    }

    fn number(&self, index: usize) -> Result<f64, Error> {
        match self.values.get(index) {
            Some(Amf0Value::Number(n)) => Ok(*n),
            _ => Err(self.bad(index)),
        }
    }

    fn string(&self, index: usize) -> Result<&'a str, Error> {
        match self.values.get(index) {
            Some(Amf0Value::String(s)) => Ok(s),
            _ => Err(self.bad(index)),
        }
    }

    fn object(&self, index: usize) -> Result<&Amf0Value<'a>, Error> {
        match self.values.get(index) {
            Some(v @ (Amf0Value::Object(_) | Amf0Value::EcmaArray(_))) => Ok(v),
            _ => Err(self.bad(index)),
        }
    }
}
