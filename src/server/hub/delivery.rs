//! What a subscriber's queue carries.

use crate::server::frame::Frame;

/// One item of a subscriber's queue.
#[derive(Debug, Clone)]
pub enum Delivery {
    /// A media frame.
    Frame(Frame),
    /// The publisher left; the subscriber stays and may see `Published` again.
    Unpublished,
    /// A publisher arrived; frames from its sequence headers and first keyframe follow.
    Published,
}
