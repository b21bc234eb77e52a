//! rtmpsd: parse flags, start logging, load TLS and keys, run the server.

use std::process::ExitCode;

use log::{error, info, warn};

use rtmpsd::config::{Args, Config};
use rtmpsd::server::accept::Server;
use rtmpsd::server::keys::{StreamKeys, stored_publish_key};
use rtmpsd::tls;

fn main() -> ExitCode {
    rtmpsd::memory::limit_malloc_arenas();
    let args: Args = argh::from_env();
    let config = match Config::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rtmpsd: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| config.log.clone());
    rtmpsd::logging::init(&filter);
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> Result<(), String> {
    std::fs::create_dir_all(&config.state_dir)
        .map_err(|e| format!("state dir {}: {e}", config.state_dir.display()))?;
    let identity =
        tls::load_or_generate(config.cert.as_ref(), &config.state_dir, config.cipher_order)?;
    if identity.generated {
        info!(
            "made a self-signed certificate: {}",
            identity.cert_path.display()
        );
    }
    info!(
        "certificate {} sha256 {}",
        identity.cert_path.display(),
        identity.fingerprint
    );
    let mut publish_keys = config.publish_keys.clone();
    if publish_keys.is_empty() {
        let (key, created) = stored_publish_key(&config.state_dir)?;
        let path = config.state_dir.join("publish-key");
        // Printed once to the operator's terminal, never to the log.
        if created {
            println!(
                "rtmpsd: new publish key (kept in {}): {key}",
                path.display()
            );
        } else {
            println!("rtmpsd: publish key from {}: {key}", path.display());
        }
        publish_keys.push(key);
    }
    if config.rtmp_listen.is_some() {
        warn!("plain rtmp is enabled: stream keys and media cross that port unencrypted");
    }
    let keys = StreamKeys::new(&publish_keys, &config.play_keys);
    let mut server = Server::bind(
        config.listen,
        config.rtmp_listen,
        identity.config,
        keys,
        config.limits,
    )
    .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    server
        .stop_on_signals()
        .map_err(|e| format!("signal setup: {e}"))?;
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    let host = if addr.ip().is_unspecified() {
        "<this-box>".to_string()
    } else {
        addr.ip().to_string()
    };
    info!(
        "publish to rtmps://{host}:{}/live/<publish-key>",
        addr.port()
    );
    info!(
        "play from rtmps://{host}:{}/live/<publish-key>{}",
        addr.port(),
        if config.play_keys.is_empty() {
            ""
        } else {
            "?key=<play-key>"
        }
    );
    if let Some(plain) = server.rtmp_addr() {
        info!("plain: rtmp://{host}:{}/live/...", plain.port());
    }
    let running = rtmpsd::http::Running {
        rtmps: addr,
        rtmp: server.rtmp_addr(),
        publish_keys: &publish_keys,
        cert_path: &identity.cert_path,
        fingerprint: &identity.fingerprint,
    };
    let _http = rtmpsd::http::start(&config, server.shared(), &running)?;
    server.run().map_err(|e| format!("server failed: {e}"))
}
