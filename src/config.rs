//! Command-line flags and the validated configuration.
