//! rtmpsd: an RTMPS ingest and fan-out server for small boards.
//!
//! `rtmp` is the sans-IO protocol core; `flv` the sans-IO file format recordings are
//! written in; `server` is the TLS and socket plumbing and the stream hub around it;
//! `http` is the operator's metrics, JSON API and status page over that state; `client`
//! is a small blocking RTMP(S) client used by tests and benchmarks; `main.rs` only wires
//! flags to the server.

pub mod board_profile;
pub mod client;
pub mod config;
pub mod config_file;
pub mod config_report;
pub mod flv;
pub mod host;
pub mod http;
pub mod key_spec;
pub mod logging;
pub mod memory;
pub mod push_spec;
pub mod rtmp;
pub mod sd_notify;
pub mod server;
pub mod start_lines;
pub mod tls;
pub mod upstream_tls;
pub mod upstream_url;
