//! The operator's HTTP listener: Prometheus metrics, a JSON API and a status page.
//!
//! Off unless `--http-listen` is given; a token is required off loopback (see `config`).
//! One thread (`http`) runs a mio poll over the listener and a fixed table of connections,
//! each with a fixed request buffer, a deadline to send its request and one to take its
//! response; every connection gets one response and is closed. No async runtime and no
//! HTTP framework: httparse reads the request head, and the few response formats are
//! written by hand. The listener only reads the server's state (atomics, and short locks
//! that the data path does not take), so nothing here can slow a stream.
//!
//! - `server`, `connection`: the poll loop and one connection.
//! - `request`, `response`, `token`, `routes`: HTTP and who may ask what.
//! - `view`, `rates`, `codec_names`, `process`: the server read for a response.
//! - `prometheus`, `api`, `json`, `status_page`, `site`, `certificate`: the formats.
//!
//! | path | what |
//! | --- | --- |
//! | `/` | the status page |
//! | `/metrics` | Prometheus text format |
//! | `/api/v1/streams` | JSON |
//! | `/cert.pem` | the server certificate, to trust in OBS or a camera |

pub mod api;
pub mod certificate;
pub mod codec_names;
pub mod connection;
pub mod json;
pub mod process;
pub mod prometheus;
pub mod rates;
pub mod request;
pub mod response;
pub mod routes;
pub mod server;
pub mod site;
pub mod status_page;
pub mod token;
pub mod view;

pub use server::{HttpLimits, HttpServer};

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use log::warn;

use crate::config::Config;
use crate::key_spec::{PublishKey, mask};
use crate::server::shared::Shared;
use certificate::CertificateInfo;
use routes::Routes;
use site::{KeyHint, Site};

/// What `start` needs to know about the running server beyond its shared state.
pub struct Running<'a> {
    /// The RTMPS listener's address.
    pub rtmps: SocketAddr,
    /// The plain RTMP listener's address, if any.
    pub rtmp: Option<SocketAddr>,
    /// The publish keys in force (only their hints are kept).
    pub publish_keys: &'a [PublishKey],
    /// The certificate file.
    pub cert_path: &'a Path,
    /// The certificate's fingerprint.
    pub fingerprint: &'a str,
}

/// Starts the HTTP listener if `config` asks for one.
pub fn start(
    config: &Config,
    shared: Arc<Shared>,
    running: &Running<'_>,
) -> Result<Option<HttpServer>, String> {
    let Some(settings) = &config.http else {
        return Ok(None);
    };
    let certificate = match CertificateInfo::load(running.cert_path, running.fingerprint) {
        Ok(c) => Some(c),
        Err(e) => {
            warn!("status page without the certificate: {e}");
            None
        }
    };
    let key_source = if config.publish_keys.is_empty() {
        config.state_dir.join("publish-key").display().to_string()
    } else {
        "--publish-key / --publish-keys-file".to_string()
    };
    let site = Site {
        rtmps: running.rtmps,
        rtmp: running.rtmp,
        app: config
            .apps
            .first()
            .cloned()
            .unwrap_or_else(|| "live".to_string()),
        key_hints: running
            .publish_keys
            .iter()
            .map(|k| KeyHint {
                stream: k.stream.clone(),
                hint: mask(&k.key),
            })
            .collect(),
        play_key_required: !config.play_keys.is_empty(),
        key_source,
        certificate,
    };
    let routes = Routes::new(shared.clone(), site, settings.token.as_deref());
    let server = HttpServer::start(settings.listen, routes, shared, HttpLimits::default())
        .map_err(|e| format!("cannot listen for http on {}: {e}", settings.listen))?;
    Ok(Some(server))
}
