//! A blocking RTMP(S) client for tests and benchmarks.
