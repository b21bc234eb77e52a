//! TLS: certificates and the rustls server configuration.
