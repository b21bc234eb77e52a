//! TLS for pushes: which upstream certificates are trusted, and the rustls client configs.
//!
//! Trusted: the system's roots, read once at start with `rustls-native-certs` (on Debian the
//! bundle in /etc/ssl/certs that `ca-certificates` keeps current, so a box that runs for
//! months follows the distribution's root updates; `SSL_CERT_FILE`/`SSL_CERT_DIR` override),
//! plus the CA certificates of `--push-ca-file` (for every push) and of a push's own
//! `ca_file`. Nothing is loaded unless a push is configured. TLS 1.2 and 1.3 only, ring,
//! with the cipher order of `--cipher-order` offered first.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use crate::config::CipherOrder;
use crate::upstream_url::UpstreamUrl;

/// TLS sessions kept for resuming reconnects to upstreams.
pub const UPSTREAM_SESSION_CACHE: usize = 16;

/// The trusted roots for pushes and a client config per set of extra CA files.
pub struct UpstreamTls {
    base: RootCertStore,
    order: CipherOrder,
    configs: HashMap<Option<PathBuf>, Arc<ClientConfig>>,
}

/// What was loaded, for the start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootsLoaded {
    /// System roots taken.
    pub system: usize,
    /// Problems reading the system's store (none found, unreadable files).
    pub system_errors: Vec<String>,
    /// Certificates taken from `--push-ca-file`.
    pub from_file: usize,
}

impl UpstreamTls {
    /// Loads the system's roots and `push_ca_file`'s certificates.
    ///
    /// A CA file that cannot be read or holds no usable certificate is an error; a system
    /// store that cannot be read is not (it is reported in `RootsLoaded`), since an operator
    /// pushing only to their own servers may trust them through CA files alone.
    pub fn load(
        push_ca_file: Option<&Path>,
        order: CipherOrder,
    ) -> Result<(UpstreamTls, RootsLoaded), String> {
        let mut base = RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        let (system, _ignored) = base.add_parsable_certificates(native.certs);
        let system_errors = native.errors.iter().map(|e| e.to_string()).collect();
        let from_file = match push_ca_file {
            Some(path) => add_ca_file(&mut base, path)?,
            None => 0,
        };
        let tls = UpstreamTls {
            base,
            order,
            configs: HashMap::new(),
        };
        Ok((
            tls,
            RootsLoaded {
                system,
                system_errors,
                from_file,
            },
        ))
    }

    /// The cipher order its configs use.
    pub fn order(&self) -> CipherOrder {
        self.order
    }

    /// Trusts only `certs` (tests, and servers that trust one private CA).
    pub fn with_roots(
        certs: Vec<CertificateDer<'static>>,
        order: CipherOrder,
    ) -> Result<UpstreamTls, String> {
        let mut base = RootCertStore::empty();
        for (i, cert) in certs.into_iter().enumerate() {
            base.add(cert)
                .map_err(|e| format!("certificate {}: {e}", i + 1))?;
        }
        Ok(UpstreamTls {
            base,
            order,
            configs: HashMap::new(),
        })
    }

    /// The client config for a push with `ca_file` (its own extra CAs), made once per file.
    pub fn config_for(&mut self, ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
        let key = ca_file.map(Path::to_path_buf);
        if let Some(config) = self.configs.get(&key) {
            return Ok(config.clone());
        }
        let mut roots = self.base.clone();
        if let Some(path) = ca_file {
            add_ca_file(&mut roots, path)?;
        }
        let config = client_config(roots, self.order)?;
        self.configs.insert(key, config.clone());
        Ok(config)
    }
}

/// Adds every certificate of the PEM file at `path` to `roots`; returns how many.
fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<usize, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", path.display()));
    }
    let count = certs.len();
    for (i, cert) in certs.into_iter().enumerate() {
        roots
            .add(cert)
            .map_err(|e| format!("{}: certificate {}: {e}", path.display(), i + 1))?;
    }
    Ok(count)
}

/// A rustls client config trusting `roots`: TLS 1.2/1.3, ring, `order` first.
fn client_config(roots: RootCertStore, order: CipherOrder) -> Result<Arc<ClientConfig>, String> {
    let provider = CryptoProvider {
        cipher_suites: crate::tls::cipher_suites(order),
        ..default_provider()
    };
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("tls versions: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::in_memory_sessions(UPSTREAM_SESSION_CACHE);
    Ok(Arc::new(config))
}

/// The name a push's TLS sends as SNI and checks the certificate against: `sni` when given,
/// else the URL's host. An IP address sends no SNI (RFC 6066) and is checked as an address.
pub fn server_name(url: &UpstreamUrl, sni: Option<&str>) -> Result<ServerName<'static>, String> {
    let name = sni.unwrap_or(&url.host);
    ServerName::try_from(name.to_string())
        .map_err(|e| format!("{name:?} is no host name or address for TLS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> UpstreamUrl {
        UpstreamUrl::parse(s).unwrap()
    }

    #[test]
    fn ip_hosts_are_checked_as_addresses_and_sni_overrides_the_host() {
        let ip = server_name(&url("rtmps://127.0.0.1:9/live/k"), None).unwrap();
        assert!(matches!(ip, ServerName::IpAddress(_)));
        let v6 = server_name(&url("rtmps://[::1]:9/live/k"), None).unwrap();
        assert!(matches!(v6, ServerName::IpAddress(_)));
        let named = server_name(&url("rtmps://a.rtmps.youtube.com/live2/k"), None).unwrap();
        assert_eq!(named.to_str(), "a.rtmps.youtube.com");
        let sni = server_name(&url("rtmps://127.0.0.1:9/live/k"), Some("localhost")).unwrap();
        assert_eq!(sni.to_str(), "localhost");
        assert!(server_name(&url("rtmps://h/live/k"), Some("bad name!")).is_err());
    }

    #[test]
    fn a_ca_file_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("rtmpsd-upstream-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let mut roots = RootCertStore::empty();
        let err = add_ca_file(&mut roots, &empty).unwrap_err();
        assert!(err.contains("no certificate"), "{err}");
        assert!(add_ca_file(&mut roots, &dir.join("missing.pem")).is_err());
        let (cert, _key) = crate::tls::self_signed(&["localhost".into()], &[]).unwrap();
        let good = dir.join("good.pem");
        std::fs::write(&good, cert).unwrap();
        assert_eq!(add_ca_file(&mut roots, &good), Ok(1));
        let mut tls = UpstreamTls::with_roots(Vec::new(), CipherOrder::ChaCha).unwrap();
        let first = tls.config_for(Some(&good)).unwrap();
        let again = tls.config_for(Some(&good)).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "one config per CA file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
