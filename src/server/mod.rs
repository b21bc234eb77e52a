//! Sockets, TLS, threads and the stream hub around the protocol core.

pub mod accept;
pub mod frame;
pub mod hub;
pub mod keys;
pub mod listener;
pub mod transport;
pub mod worker;
