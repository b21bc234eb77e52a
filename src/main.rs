//! rtmpsd: parse flags and the config file, start logging, load TLS and keys, run the server.

use std::process::ExitCode;
use std::time::Instant;

use log::{error, info, warn};

use rtmpsd::config::Args;
use rtmpsd::config_file::{self, Loaded};
use rtmpsd::key_spec::{DEFAULT_STREAM_NAME, PublishKey};
use rtmpsd::server::accept::Server;
use rtmpsd::server::listener::Listeners;
use rtmpsd::server::push::{PushSet, PushSettings};
use rtmpsd::server::recorder::{self, RecordSettings};
use rtmpsd::server::reload::{Reloader, recorded_streams};
use rtmpsd::server::settings::Settings;
use rtmpsd::{config_report, host, start_lines, tls};

fn main() -> ExitCode {
    rtmpsd::memory::limit_malloc_arenas();
    let args: Args = argh::from_env();
    if args.version {
        println!("rtmpsd {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    // argh has refused bad options and answered --help above; the file is read with them.
    let argv: Vec<String> = std::env::args().collect();
    let loaded = match config_file::load(&argv) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("rtmpsd: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check_config.is_some() {
        return check_config(&loaded);
    }
    let filter = std::env::var("RUST_LOG")
        .unwrap_or_else(|_| rtmpsd::logging::filter_for_level(&loaded.config.log));
    rtmpsd::logging::init(&filter);
    match run(argv, loaded) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `--check-config`: the certificate pair loads too (it is not made here); prints the
/// effective settings, keys masked.
fn check_config(loaded: &Loaded) -> ExitCode {
    let config = &loaded.config;
    if let Some(pair) = &config.cert {
        if let Err(e) = tls::load_or_generate(Some(pair), &config.state_dir, config.cipher_order) {
            eprintln!("rtmpsd: {e}");
            return ExitCode::from(2);
        }
    }
    let source = loaded
        .file
        .as_ref()
        .map_or("the command line".to_string(), |p| p.display().to_string());
    println!("# {source} is valid; the settings in effect, keys masked (# where each comes from)");
    for line in config_report::report(loaded) {
        println!("{line}");
    }
    ExitCode::SUCCESS
}

fn run(argv: Vec<String>, loaded: Loaded) -> Result<(), String> {
    let config = &loaded.config;
    // The ports first: a second instance on a busy port fails here, having made nothing.
    let listeners =
        Listeners::bind(config.listen, config.rtmp_listen).map_err(|e| e.to_string())?;
    if let Some(file) = &loaded.file {
        info!("settings from {} and the command line", file.display());
    }
    let built = Settings::build(config)?;
    if built.cert_generated {
        info!(
            "made a self-signed certificate: {}",
            built.cert_path.display()
        );
    }
    info!(
        "certificate {} sha256 {}",
        built.cert_path.display(),
        built.fingerprint
    );
    // The stored key is printed below, on stdout only; keys the operator gave are not.
    if let Some((_, created)) = &built.stored_key {
        let path = config.state_dir.join("publish-key");
        let how = if *created {
            "new publish key"
        } else {
            "publish key"
        };
        println!("rtmpsd: {how}, kept in {}", path.display());
    }
    if config.rtmp_listen.is_some() {
        warn!("plain rtmp is enabled: stream keys and media cross that port unencrypted");
    }
    let names: Vec<String> = built
        .settings
        .keys
        .stream_names()
        .map(str::to_string)
        .collect();
    // Before the server starts: a folder that cannot be written stops rtmpsd here.
    let recording = match &config.record {
        Some(record) => Some(
            recorder::prepare(RecordSettings::new(
                record,
                recorded_streams(config, &names),
            ))
            .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    // Under systemd stdout is the journal: the stored key stays in its file, not in the log.
    let stored_key = match &built.stored_key {
        Some(_) if rtmpsd::logging::stdout_is_journal() => None,
        Some((key, _)) => Some(key.clone()),
        None => None,
    };
    let needs_play_key = |name: &str| {
        !config.play_keys.is_empty() || config.stream_play_keys.iter().any(|k| k.stream == name)
    };
    let cert_path = built.cert_path.clone();
    let fingerprint = built.fingerprint.clone();
    // The keys in force, for the status page's hints: the configured ones, or the made one.
    let mut publish_keys = config.publish_keys.clone();
    if let Some((key, _)) = &built.stored_key {
        publish_keys.push(PublishKey {
            stream: DEFAULT_STREAM_NAME.to_string(),
            key: key.clone(),
        });
    }
    config.check_pushes(&names)?;
    let mut reloader = Reloader::new(argv, loaded.clone(), &built, Instant::now());
    let mut server =
        Server::new(listeners, built.settings).map_err(|e| format!("server setup: {e}"))?;
    let app = config.apps.first().map_or("live", String::as_str);
    let mut pushes = PushSet::new(
        config.push_ca_file.clone(),
        config.cipher_order,
        PushSettings::from_limits(&config.limits, app),
    );
    let started = pushes.apply(&server.shared(), &config.pushes)?;
    if !started.started.is_empty() {
        info!("{} push(es) started", started.started.len());
    }
    reloader.run_pushes(pushes);
    server
        .stop_on_signals()
        .map_err(|e| format!("signal setup: {e}"))?;
    server
        .reload_on_hangup(reloader)
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
        let lines =
            start_lines::stream_lines(&hosts, addr.port(), app, name, key, needs_play_key(name));
        for line in lines {
            // Carries the publish key: the operator's terminal only, never the log.
            println!("{line}");
        }
    }
    if config.cert.is_none() {
        println!(
            "OBS and ffmpeg 6+ check the certificate: trust {} where they run (see README)",
            cert_path.display()
        );
    }
    let running = rtmpsd::http::Running {
        rtmps: addr,
        rtmp: server.rtmp_addr(),
        publish_keys: &publish_keys,
        cert_path: &cert_path,
        fingerprint: &fingerprint,
    };
    let _http = rtmpsd::http::start(config, server.shared(), &running)?;
    let recorders = recording.map(|prepared| prepared.start(&server.shared()));
    let outcome = server.run().map_err(|e| format!("server failed: {e}"));
    // After the sessions: every open segment is closed and synced.
    if let Some(recorders) = recorders {
        recorders.stop();
    }
    outcome
}
