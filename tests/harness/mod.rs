//! An rtmpsd server run inside the test process on loopback, with a certificate made by
//! the same code that makes the embedded default, and the in-repo client to drive it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::thread::{self, JoinHandle};

use rtmpsd::client::{Client, ClientOptions, RtmpUrl};
use rtmpsd::config::{CipherOrder, Limits};
use rtmpsd::key_spec::PublishKey;
use rtmpsd::server::accept::{Server, Stopper};
use rtmpsd::server::keys::StreamKeys;
use rtmpsd::server::settings::Settings;

// A test with both harness and support compiles this file twice; this copy stays private.
#[allow(clippy::duplicate_mod)]
#[path = "../support/temp_dir.rs"]
mod temp_dir;
use temp_dir::TempDir;

/// The publish key of the test stream.
pub const KEY: &str = "test-publish-key";
/// The test stream's name: what players play.
pub const NAME: &str = "test";

/// A server running on 127.0.0.1 in a thread of this process.
pub struct TestServer {
    /// The TLS listener.
    pub addr: SocketAddr,
    /// The plain listener, with [`Setup::plain`].
    pub rtmp_addr: Option<SocketAddr>,
    stopper: Stopper,
    thread: Option<JoinHandle<()>>,
    /// Holds the certificate the server made; removed after the server stops.
    state_dir: TempDir,
}

/// How to start a test server.
#[derive(Default)]
pub struct Setup {
    /// The server's limits.
    pub limits: Limits,
    /// Play keys; none lets anyone play.
    pub play_keys: Vec<String>,
    /// Also listen for plain RTMP.
    pub plain: bool,
    /// Refuse a second publisher instead of letting it take the stream over.
    pub no_takeover: bool,
}

impl TestServer {
    /// Starts a server with the default [`Setup`].
    pub fn start() -> TestServer {
        Self::with(Setup::default())
    }

    /// Starts a server as `setup` says, publishing [`NAME`] with [`KEY`].
    pub fn with(setup: Setup) -> TestServer {
        let _ = env_logger::builder().is_test(true).try_init();
        let state_dir = TempDir::new("harness");
        let identity =
            rtmpsd::tls::load_or_generate(None, state_dir.path(), CipherOrder::Aes).expect("tls");
        let publish = PublishKey {
            stream: NAME.to_string(),
            key: KEY.to_string(),
        };
        let keys = StreamKeys::new(&[publish], &setup.play_keys);
        let plain = setup.plain.then(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let settings = Settings {
            keys,
            limits: setup.limits,
            tls: identity.config,
            apps: vec!["live".to_string()],
            takeover: !setup.no_takeover,
        };
        let server =
            Server::bind(SocketAddr::from(([127, 0, 0, 1], 0)), plain, settings).expect("bind");
        let addr = server.local_addr().expect("addr");
        let rtmp_addr = server.rtmp_addr();
        let stopper = server.stopper();
        let thread = thread::Builder::new()
            .name("test-server".into())
            .spawn(move || server.run().expect("server run"))
            .expect("spawn");
        TestServer {
            addr,
            rtmp_addr,
            stopper,
            thread: Some(thread),
            state_dir,
        }
    }

    /// `rtmps://127.0.0.1:PORT/live/<name>`.
    pub fn url(&self, name: &str) -> RtmpUrl {
        RtmpUrl::parse(&format!(
            "rtmps://127.0.0.1:{}/live/{name}",
            self.addr.port()
        ))
        .expect("url")
    }

    /// `rtmp://127.0.0.1:PORT/live/<name>`; panics without a plain listener.
    pub fn plain_url(&self, name: &str) -> RtmpUrl {
        let addr = self.rtmp_addr.expect("plain listener");
        RtmpUrl::parse(&format!("rtmp://127.0.0.1:{}/live/{name}", addr.port())).expect("url")
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        self.stopper.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// A client connected to `url`, accepting the test server's self-signed certificate.
pub fn connect(url: &RtmpUrl) -> Client {
    Client::connect(url, &ClientOptions::insecure()).expect("connect")
}
