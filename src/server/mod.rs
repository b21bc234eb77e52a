//! Sockets, TLS, threads and the stream hub around the protocol core.
//!
//! - `accept`: the mio accept loop; each connection gets a worker thread.
//! - `worker`: one connection's thread (socket, `transport`, `rtmp::session`), which becomes
//!   a publisher or a player of a stream.
//! - `hub`: the streams. Publishers push `frame::Frame`s into it; every consumer of a stream
//!   is a subscriber with the same bounded queue and slow-subscriber policy. Players are
//!   subscribers (in `worker`); pushes to upstream servers (in `push`) and a recorder plug in
//!   the same way: a thread of their own, `Hub::subscribe`, then frames from the
//!   `Subscription`, each written its own way (chunk headers for the upstream, FLV tag
//!   headers for a file).
//! - `push`: one thread per push target, relaying its stream to an upstream RTMP(S) server
//!   with reconnects (the core's `client_session` over `transport`).
//! - `out_batch`: outgoing plaintext gathered per TLS record, with each connection's own
//!   chunk headers.
//! - `shared`, `settings`, `stats`, `connection_slot`: state shared across connections:
//!   the settings in force (swapped whole on reload), counters, connection limits.
//! - `reload`: SIGHUP and certificate-file changes, turned into new settings.
//! - `push_status`: the pushes to upstream servers as operators see them.
//! - `recorder`: local recording, a hub subscriber per stream writing segmented FLV within
//!   a disk budget; `recorder::RecordingRegistry` is what operators see of it.
//! - `close_reason`: why a connection ended, typed.
//! - `keys`: stream keys.
//! - `listener`: binding the listening sockets (dual-stack on `[::]`) and naming peers.

pub mod accept;
pub mod close_reason;
pub mod connection_slot;
pub mod frame;
pub mod hub;
pub mod keys;
pub mod listener;
pub mod out_batch;
pub mod push;
pub mod push_status;
pub mod recorder;
pub mod reload;
pub mod settings;
pub mod shared;
pub mod stats;
pub mod transport;
pub mod worker;
