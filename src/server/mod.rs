//! Sockets, TLS, threads and the stream hub around the protocol core.
