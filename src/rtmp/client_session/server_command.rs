//! The commands a server sends a publishing client, decoded: `_result`, `_error` and
//! `onStatus`; everything else (`onBWDone`, `onFCPublish`, `_checkbw`, ...) is `Other`.
//!
//! Servers differ in where they put things, so this reads leniently, as FFmpeg and librtmp
//! do: a `_result`'s value is its last number after the transaction id (the stream id of
//! `createStream`), and a status is the first object or ECMA array after the transaction id
//! (nginx-rtmp, SRS and FMS all send `onStatus(0, null, {level, code, description})`).

use super::event::Status;
use crate::rtmp::Error;
use crate::rtmp::amf0::{self, Amf0Value, AmfLimits};
use crate::rtmp::session_error::SessionError;

/// One command from the server, borrowing its strings from the message payload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ServerCommand<'a> {
    /// `_result(txn, ...)`.
    Result {
        /// The transaction it answers.
        transaction_id: f64,
        /// Its last number after the transaction id, if any.
        value: Option<f64>,
    },
    /// `_error(txn, null, {level, code, description})`.
    Error {
        /// The transaction it answers.
        transaction_id: f64,
        /// What the server said.
        status: Status<'a>,
    },
    /// `onStatus(0, null, {level, code, description})`.
    OnStatus(Status<'a>),
    /// Anything else; a publishing client has nothing to answer.
    Other,
}

impl<'a> ServerCommand<'a> {
    /// Decodes a command message payload; `amf3_wrapper` for type 17 (a leading 0 byte).
    pub fn parse(
        payload: &'a [u8],
        amf3_wrapper: bool,
        limits: &AmfLimits,
    ) -> Result<ServerCommand<'a>, Error> {
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
        let transaction_id = values.get(1).and_then(Amf0Value::as_number).unwrap_or(0.0);
        let rest = values.get(2..).unwrap_or_default();
        Ok(match name {
            "_result" => ServerCommand::Result {
                transaction_id,
                value: rest.iter().rev().find_map(Amf0Value::as_number),
            },
            "_error" => ServerCommand::Error {
                transaction_id,
                status: status_in(rest),
            },
            "onStatus" => ServerCommand::OnStatus(status_in(rest)),
            _ => ServerCommand::Other,
        })
    }
}

/// The status object among `values`: the first object or ECMA array; empty fields if none.
fn status_in<'a>(values: &[Amf0Value<'a>]) -> Status<'a> {
    let Some(info) = values
        .iter()
        .find(|v| matches!(v, Amf0Value::Object(_) | Amf0Value::EcmaArray(_)))
    else {
        return Status::default();
    };
    let field = |key: &str| info.get(key).and_then(Amf0Value::as_str).unwrap_or("");
    Status {
        level: field("level"),
        code: field("code"),
        description: field("description"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtmp::amf0::Amf0Writer;

    fn encode(write: impl FnOnce(&mut Amf0Writer<'_>)) -> Vec<u8> {
        let mut buf = [0u8; 512];
        let mut w = Amf0Writer::new(&mut buf);
        write(&mut w);
        let len = w.len();
        buf[..len].to_vec()
    }

    fn parse(payload: &[u8]) -> ServerCommand<'_> {
        ServerCommand::parse(payload, false, &AmfLimits::default()).unwrap()
    }

    #[test]
    fn create_stream_result_carries_the_stream_id_as_its_last_number() {
        let payload = encode(|w| {
            w.string("_result").unwrap().number(4.0).unwrap();
            w.null().unwrap().number(1.0).unwrap();
        });
        assert_eq!(
            parse(&payload),
            ServerCommand::Result {
                transaction_id: 4.0,
                value: Some(1.0)
            }
        );
    }

    #[test]
    fn connect_result_with_objects_only_has_no_value() {
        let payload = encode(|w| {
            w.string("_result").unwrap().number(1.0).unwrap();
            w.object_start().unwrap();
            w.property("fmsVer")
                .unwrap()
                .string("FMS/3,0,1,123")
                .unwrap();
            w.object_end().unwrap();
            w.object_start().unwrap();
            w.property("code")
                .unwrap()
                .string("NetConnection.Connect.Success")
                .unwrap();
            w.object_end().unwrap();
        });
        assert_eq!(
            parse(&payload),
            ServerCommand::Result {
                transaction_id: 1.0,
                value: None
            }
        );
    }

    #[test]
    fn on_status_and_error_read_level_code_and_description() {
        let payload = encode(|w| {
            w.string("onStatus")
                .unwrap()
                .number(0.0)
                .unwrap()
                .null()
                .unwrap();
            w.object_start().unwrap();
            w.property("level").unwrap().string("error").unwrap();
            w.property("code")
                .unwrap()
                .string("NetStream.Publish.BadName")
                .unwrap();
            w.property("description")
                .unwrap()
                .string("Already publishing")
                .unwrap();
            w.object_end().unwrap();
        });
        let ServerCommand::OnStatus(status) = parse(&payload) else {
            panic!("not onStatus");
        };
        assert!(status.is_error());
        assert_eq!(status.code, "NetStream.Publish.BadName");
        assert_eq!(status.description, "Already publishing");
        let payload = encode(|w| {
            w.string("_error")
                .unwrap()
                .number(1.0)
                .unwrap()
                .null()
                .unwrap();
            w.ecma_array_start(1).unwrap();
            w.property("code")
                .unwrap()
                .string("NetConnection.Connect.Rejected")
                .unwrap();
            w.object_end().unwrap();
        });
        let ServerCommand::Error {
            transaction_id,
            status,
        } = parse(&payload)
        else {
            panic!("not _error");
        };
        assert_eq!(transaction_id, 1.0);
        assert_eq!(status.code, "NetConnection.Connect.Rejected");
        assert_eq!((status.level, status.description), ("", ""));
    }

    #[test]
    fn other_commands_and_the_amf3_wrapper() {
        let payload = encode(|w| {
            w.string("onBWDone")
                .unwrap()
                .number(0.0)
                .unwrap()
                .null()
                .unwrap();
        });
        assert_eq!(parse(&payload), ServerCommand::Other);
        let mut wrapped = vec![0];
        wrapped.extend_from_slice(&payload);
        assert_eq!(
            ServerCommand::parse(&wrapped, true, &AmfLimits::default()).unwrap(),
            ServerCommand::Other
        );
        wrapped[0] = 5;
        assert!(ServerCommand::parse(&wrapped, true, &AmfLimits::default()).is_err());
        assert!(ServerCommand::parse(&[], false, &AmfLimits::default()).is_err());
        let number_first = encode(|w| {
            w.number(1.0).unwrap();
        });
        assert!(ServerCommand::parse(&number_first, false, &AmfLimits::default()).is_err());
    }
}
