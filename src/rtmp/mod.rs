//! The RTMP protocol core, sans-IO: byte slices in, events and bytes out.
//!
//! Nothing here names sockets, threads, TLS, clocks or random number generators; the
//! caller passes time and random bytes in as values. The layers, bottom up:
//! `handshake`, `chunk`, `message`, `amf0`, `media` (audio and video tag headers, Enhanced
//! RTMP included), `enhanced` (connect capabilities, ReconnectRequest), then `session`, which
//! drives the others for one server-side connection, and `client_session`, which drives them
//! for a client that publishes to an upstream server (a push).

pub mod amf0;
pub mod chunk;
pub mod client_session;
pub mod command;
pub mod command_name;
pub mod enhanced;
mod error;
pub mod handshake;
pub mod media;
pub mod message;
mod outgoing;
pub mod session;
pub mod session_error;
mod timestamp;

pub use error::Error;
pub use timestamp::Timestamp;
