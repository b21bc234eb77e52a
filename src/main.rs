//! rtmpsd: parse flags, start logging, load TLS and keys, run the server.

use std::process::ExitCode;

use log::{error, info, warn};

use rtmpsd::config::{Args, Config};
use rtmpsd::key_spec::{DEFAULT_STREAM_NAME, PublishKey};
use rtmpsd::server::accept::Server;
use rtmpsd::server::keys::{StreamKeys, stored_publish_key};
use rtmpsd::server::listener::Listeners;
use rtmpsd::server::push::{self, PushSettings};
use rtmpsd::server::recorder::{self, RecordSettings};
use rtmpsd::server::settings::Settings;
use rtmpsd::upstream_tls::UpstreamTls;
use rtmpsd::{host, start_lines, tls};

fn main() -> ExitCode {
    rtmpsd::memory::limit_malloc_arenas();
    let args: Args = argh::from_env();
    if args.version {
        println!("rtmpsd {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rtmpsd: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = std::env::var("RUST_LOG")
        .unwrap_or_else(|_| rtmpsd::logging::filter_for_level(&config.log));
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
    // The ports first: a second instance on a busy port fails here, having made nothing.
    let listeners =
        Listeners::bind(config.listen, config.rtmp_listen).map_err(|e| e.to_string())?;
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
    // The stored key is printed below, on stdout only; keys the operator gave are not.
    let mut stored_key = None;
    if publish_keys.is_empty() {
        let (key, created) = stored_publish_key(&config.state_dir)?;
        let path = config.state_dir.join("publish-key");
        let how = if created {
            "new publish key"
        } else {
            "publish key"
        };
        println!("rtmpsd: {how}, kept in {}", path.display());
        publish_keys.push(PublishKey {
            stream: DEFAULT_STREAM_NAME.to_string(),
            key: key.clone(),
        });
        stored_key = Some(key);
    }
    if config.rtmp_listen.is_some() {
        warn!("plain rtmp is enabled: stream keys and media cross that port unencrypted");
    }
    let keys = StreamKeys::new(&publish_keys, &config.play_keys);
    let names: Vec<String> = keys.stream_names().map(str::to_string).collect();
    // Every configured stream of every app is recorded (per-stream choice: filter here).
    let recorded: Vec<String> = config
        .apps
        .iter()
        .flat_map(|app| names.iter().map(move |name| format!("{app}/{name}")))
        .collect();
    // Before the server starts: a folder that cannot be written stops rtmpsd here.
    let recording = match &config.record {
        Some(record) => Some(
            recorder::prepare(RecordSettings::new(record, recorded)).map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let settings = Settings {
        keys,
        limits: config.limits,
        tls: identity.config,
        apps: config.apps.clone(),
        takeover: config.takeover,
    };
    check_push_streams(&config, &names)?;
    let mut server = Server::new(listeners, settings).map_err(|e| format!("server setup: {e}"))?;
    start_pushes(&config, &server)?;
    server
        .stop_on_signals()
        .map_err(|e| format!("signal setup: {e}"))?;
    let addr = server.local_addr().map_err(|e| e.to_string())?;
    let hosts = start_lines::hosts_for(addr.ip(), &host::interface_addresses());
    let app = config.apps.first().map_or("live", String::as_str);
    for name in &names {
        // The stored key is the default stream's; keys the operator gave are not printed.
        let key = match &stored_key {
            Some(key) if name == DEFAULT_STREAM_NAME => key.as_str(),
            _ => "<your publish key>",
        };
        let lines = start_lines::stream_lines(
            &hosts,
            addr.port(),
            app,
            name,
            key,
            !config.play_keys.is_empty(),
        );
        for line in lines {
            // Carries the publish key: the operator's terminal only, never the log.
            println!("{line}");
        }
    }
    if config.cert.is_none() {
        println!(
            "OBS and ffmpeg 6+ check the certificate: trust {} where they run (see README)",
            identity.cert_path.display()
        );
    }
    let running = rtmpsd::http::Running {
        rtmps: addr,
        rtmp: server.rtmp_addr(),
        publish_keys: &publish_keys,
        cert_path: &identity.cert_path,
        fingerprint: &identity.fingerprint,
    };
    let _http = rtmpsd::http::start(&config, server.shared(), &running)?;
    let recorders = recording.map(|prepared| prepared.start(&server.shared()));
    let outcome = server.run().map_err(|e| format!("server failed: {e}"));
    // After the sessions: every open segment is closed and synced.
    if let Some(recorders) = recorders {
        recorders.stop();
    }
    outcome
}

/// Refuses pushes of streams no key can publish: they would never go live.
fn check_push_streams(config: &Config, names: &[String]) -> Result<(), String> {
    for push in &config.pushes {
        let app_served = match push.stream.split_once('/') {
            Some((app, _)) => config.apps.iter().any(|a| a == app),
            None => true,
        };
        if !app_served || !names.iter().any(|n| n == push.stream_name()) {
            return Err(format!(
                "--push {}: no such stream (streams: {}; apps: {})",
                push.stream,
                names.join(", "),
                config.apps.join(", ")
            ));
        }
    }
    Ok(())
}

/// Starts the pushes, loading the trusted roots only when one goes to an rtmps:// upstream.
fn start_pushes(config: &Config, server: &Server) -> Result<(), String> {
    if config.pushes.is_empty() {
        return Ok(());
    }
    let mut upstream_tls = if config.pushes.iter().any(|p| p.url.tls) {
        let (tls, loaded) = UpstreamTls::load(config.push_ca_file.as_deref(), config.cipher_order)
            .map_err(|e| format!("--push-ca-file {e}"))?;
        info!(
            "pushes trust {} system root certificates and {} from --push-ca-file",
            loaded.system, loaded.from_file
        );
        for problem in &loaded.system_errors {
            warn!("system root certificates: {problem}");
        }
        if loaded.system == 0 && loaded.from_file == 0 {
            warn!(
                "no trusted root certificates: rtmps:// pushes will fail unless their \
                 ca_file trusts the upstream (install ca-certificates)"
            );
        }
        tls
    } else {
        UpstreamTls::with_roots(Vec::new(), config.cipher_order)?
    };
    let app = config.apps.first().map_or("live", String::as_str);
    let settings = PushSettings::from_limits(&config.limits, app);
    push::start(
        &server.shared(),
        &config.pushes,
        &mut upstream_tls,
        &settings,
    )?;
    Ok(())
}
