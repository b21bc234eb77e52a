//! The RTMP handshake, C0/C1/C2 <-> S0/S1/S2, in its plain and digest ("complex") forms.
//!
//! Sans-IO: the caller feeds received bytes and sends the replies it is handed. Every
//! buffer is a fixed 1536-byte block; nothing grows. The caller supplies the random
//! bytes for S1/C1 and the epoch, so the core reads no clock and no RNG.

/// Size of C1, C2, S1 and S2.
pub const HANDSHAKE_SIZE: usize = 1536;
/// Size of the random part of C1/S1 that the caller supplies.
pub const RANDOM_SIZE: usize = HANDSHAKE_SIZE - 8;
/// The RTMP version byte carried in C0/S0.
pub const RTMP_VERSION: u8 = 3;

/// Why a handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// C0/S0 carried a version other than 3.
    UnsupportedVersion {
        /// The version byte that was seen.
        seen: u8,
    },
}

impl core::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            HandshakeError::UnsupportedVersion { seen } => {
                write!(f, "unsupported rtmp version byte {seen} (expected 3)")
            }
        }
    }
}

/// What one call to `feed` achieved.
#[derive(Debug, PartialEq, Eq)]
pub enum HandshakeStep<'a> {
    /// More input is needed; `consumed` bytes of the input were taken.
    NeedMore {
        /// Bytes of the input taken.
        consumed: usize,
    },
    /// Send `reply` to the peer; `consumed` bytes of the input were taken. Feed the rest.
    Reply {
        /// Bytes of the input taken.
        consumed: usize,
        /// Bytes to send to the peer.
        reply: &'a [u8],
    },
    /// The handshake is complete; input after `consumed` belongs to the chunk stream.
    Done {
        /// Bytes of the input taken.
        consumed: usize,
    },
}

/// Server side of the handshake: reads C0+C1, answers S0+S1+S2, reads C2.
pub struct ServerHandshake {}

impl ServerHandshake {
    /// A handshake whose S1 carries `random` and the time field `epoch_ms`.
    pub fn new(random: &[u8; RANDOM_SIZE], epoch_ms: u32) -> Self {
        let _ = (random, epoch_ms);
        todo!()
    }

    /// Takes received bytes; see `HandshakeStep` for what to do next.
    pub fn feed(&mut self, input: &[u8]) -> Result<HandshakeStep<'_>, HandshakeError> {
        let _ = input;
        todo!()
    }

    /// Whether C2 has been read and the chunk stream may begin.
    pub fn is_done(&self) -> bool {
        todo!()
    }

    /// Whether C1 carried a valid digest and S1/S2 were answered in the digest form.
    pub fn used_digest(&self) -> bool {
        todo!()
    }
}

/// Client side of the handshake: sends C0+C1, reads S0+S1, answers C2, reads S2.
pub struct ClientHandshake {}

impl ClientHandshake {
    /// A handshake whose C1 carries `random` and the time field `epoch_ms`.
    pub fn new(random: &[u8; RANDOM_SIZE], epoch_ms: u32) -> Self {
        let _ = (random, epoch_ms);
        todo!()
    }

    /// C0+C1, to send before anything else.
    pub fn hello(&self) -> &[u8] {
        todo!()
    }

    /// Takes received bytes; answers C2 after S1, then `Done` after S2.
    pub fn feed(&mut self, input: &[u8]) -> Result<HandshakeStep<'_>, HandshakeError> {
        let _ = input;
        todo!()
    }
}
