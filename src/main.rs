//! rtmpsd: parse flags, start logging, load TLS, run the server.

fn main() {}
