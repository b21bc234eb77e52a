//! Command messages (types 20 and 17) decoded into typed commands.
