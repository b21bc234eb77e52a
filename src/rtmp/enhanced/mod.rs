//! Enhanced RTMP v2 beyond the media tags (those are in `media`): the capabilities a client
//! and server exchange in `connect`, and the ReconnectRequest status.

pub mod caps;
pub mod reconnect;

pub use caps::{CodecCaps, ConnectCaps, SERVER_CAPS_EX, caps_ex, fourcc_info};
pub use reconnect::{
    RECONNECT_REQUEST_CODE, ReconnectRequest, resolve_tc_url, write_reconnect_request,
};
