//! TLS: the certificate (given, or the self-signed default) and the rustls server config.
//!
//! TLS 1.2 and 1.3 only, ring as the only provider, and the cipher order the board's core
//! is fast at, enforced server-side. The default certificate is made for strict publishers
//! (OBS's mbedTLS): ECDSA P-256, and every local name and address as a DNS-name entry too.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::{cipher_suite, default_provider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, SupportedCipherSuite};

use crate::config::CipherOrder;

/// Resumable TLS sessions kept for reconnecting clients.
pub const TLS_SESSION_CACHE: usize = 32;

/// The TLS side of a running server: its config and how to describe its certificate.
pub struct TlsIdentity {
    /// The shared rustls configuration.
    pub config: Arc<ServerConfig>,
    /// Colon-separated SHA-256 of the leaf certificate.
    pub fingerprint: String,
    /// Where the certificate PEM is, to hand to clients.
    pub cert_path: PathBuf,
    /// Whether it was generated on this start.
    pub generated: bool,
}

/// The cipher suites in the order `order` prefers.
pub fn cipher_suites(order: CipherOrder) -> Vec<SupportedCipherSuite> {
    let chacha = [
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        cipher_suite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    let aes = [
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ];
    match order {
        CipherOrder::ChaCha => chacha.into_iter().chain(aes).collect(),
        CipherOrder::Aes => aes.into_iter().chain(chacha).collect(),
    }
}

/// A rustls server config for `chain` and `key`: TLS 1.2/1.3, server cipher order.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    order: CipherOrder,
) -> Result<Arc<ServerConfig>, String> {
    let provider = CryptoProvider {
        cipher_suites: cipher_suites(order),
        ..default_provider()
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("tls versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("certificate and key do not fit together: {e}"))?;
    config.ignore_client_order = true;
    // Resumption helps reconnecting encoders a little; its cache is the one TLS structure that
    // outlives a connection, so keep it small and fixed (rustls' default is 256 entries).
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(TLS_SESSION_CACHE);
    // No TLS 1.3 session tickets: librtmp (GnuTLS; inside many cameras and encoders) and
    // OBS's mbedTLS 3.6.0 cannot read a post-handshake message and fail the RTMP handshake
    // on one. The cost is a full handshake on every TLS 1.3 reconnect (TLS 1.2 clients
    // still resume by session id from the cache above).
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// Loads `--cert`/`--key`, or the self-signed default in `state_dir` (made on first use).
pub fn load_or_generate(
    cert: Option<&(PathBuf, PathBuf)>,
    state_dir: &Path,
    order: CipherOrder,
) -> Result<TlsIdentity, String> {
    let (cert_path, key_path, generated) = match cert {
        Some((c, k)) => (c.clone(), k.clone(), false),
        None => {
            let c = state_dir.join("cert.pem");
            let k = state_dir.join("key.pem");
            let generated = !(c.exists() && k.exists());
            if generated {
                let (names, ips) = crate::host::local_names();
                let (cert_pem, key_pem) = self_signed(&names, &ips)?;
                write_private(&k, key_pem.as_bytes())?;
                fs::write(&c, cert_pem).map_err(|e| format!("{}: {e}", c.display()))?;
            }
            (c, k, generated)
        }
    };
    let chain = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| format!("{}: {e}", cert_path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let leaf = chain
        .first()
        .ok_or_else(|| format!("{}: no certificate in it", cert_path.display()))?;
    let fingerprint = fingerprint(leaf);
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .map_err(|e| format!("{}: no usable private key: {e}", key_path.display()))?;
    let config = server_config(chain, key, order)?;
    Ok(TlsIdentity {
        config,
        fingerprint,
        cert_path,
        generated,
    })
}

/// A self-signed ECDSA P-256 certificate for `names` and `ips`; returns (cert PEM, key PEM).
///
/// Each IPv4 address is listed both as an IP entry and as a DNS-name entry, because mbedTLS
/// (OBS) matches the URL's host only against DNS names.
pub fn self_signed(names: &[String], ips: &[IpAddr]) -> Result<(String, String), String> {
    let err = |e: rcgen::Error| format!("certificate generation: {e}");
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        names.first().map_or("rtmpsd", |n| n.as_str()),
    );
    // IPv4 only as DNS names: a colon is no DNS character, and some verifiers reject it.
    let ipv4_names = ips
        .iter()
        .filter(|ip| ip.is_ipv4())
        .map(|ip| ip.to_string());
    for name in names.iter().cloned().chain(ipv4_names) {
        let ia5 = rcgen::string::Ia5String::try_from(name).map_err(err)?;
        if !params
            .subject_alt_names
            .iter()
            .any(|san| matches!(san, rcgen::SanType::DnsName(n) if n == &ia5))
        {
            params.subject_alt_names.push(rcgen::SanType::DnsName(ia5));
        }
    }
    for ip in ips {
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(*ip));
    }
    // Valid from yesterday for ten years: boards often boot with a wrong clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    params.not_before = rcgen::date_time_ymd(1970, 1, 1)
        + std::time::Duration::from_secs((now - 86_400).max(0) as u64);
    params.not_after = params.not_before + std::time::Duration::from_secs(3650 * 86_400);
    let cert = params.self_signed(&key).map_err(err)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// Colon-separated upper-case hex SHA-256 of a DER certificate.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = String::with_capacity(95);
    for (i, byte) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02X}");
    }
    out
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_certificate_loads_into_a_server_config() {
        let (names, ips) = crate::host::local_names();
        let (cert, key) = self_signed(&names, &ips).expect("generate");
        let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("cert pem");
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key pem");
        server_config(chain, key, CipherOrder::ChaCha).expect("config");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = std::env::temp_dir().join(format!("rtmpsd-tls-pair-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let (cert_a, _) = self_signed(&["a.local".into()], &[]).unwrap();
        let (_, key_b) = self_signed(&["b.local".into()], &[]).unwrap();
        let pair = (dir.join("cert.pem"), dir.join("key.pem"));
        fs::write(&pair.0, cert_a).unwrap();
        fs::write(&pair.1, key_b).unwrap();
        let err = load_or_generate(Some(&pair), &dir, CipherOrder::Aes)
            .err()
            .expect("a mismatched pair is refused");
        assert!(err.contains("do not fit together"), "{err}");
        fs::write(&pair.1, "not a key").unwrap();
        let err = load_or_generate(Some(&pair), &dir, CipherOrder::Aes)
            .err()
            .expect("a broken key is refused");
        assert!(err.contains("no usable private key"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cipher_order_puts_the_preferred_aead_first() {
        let first = |o| cipher_suites(o)[0].suite();
        assert_eq!(
            first(CipherOrder::ChaCha),
            rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
        );
        assert_eq!(
            first(CipherOrder::Aes),
            rustls::CipherSuite::TLS13_AES_128_GCM_SHA256
        );
    }

    /// Runs a TLS handshake in memory between a client offering `suites` over `versions`
    /// and a server with `order`; returns the suite the server picked.
    fn negotiate(
        order: CipherOrder,
        suites: Vec<SupportedCipherSuite>,
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> rustls::CipherSuite {
        let (cert, key) = self_signed(&["localhost".into()], &[]).unwrap();
        let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
        let server_config = server_config(chain, key, order).unwrap();
        let client_provider = CryptoProvider {
            cipher_suites: suites,
            ..default_provider()
        };
        let client_config = rustls::ClientConfig::builder_with_provider(Arc::new(client_provider))
            .with_protocol_versions(versions)
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(crate::client::AcceptAnyCertificate(
                Arc::new(default_provider()),
            )))
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut client = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
        let mut server = rustls::ServerConnection::new(server_config).unwrap();
        for _ in 0..10 {
            let mut wire = Vec::new();
            client.write_tls(&mut wire).unwrap();
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets().unwrap();
            let mut wire = Vec::new();
            server.write_tls(&mut wire).unwrap();
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets().unwrap();
            if !client.is_handshaking() && !server.is_handshaking() {
                break;
            }
        }
        assert!(!server.is_handshaking(), "handshake did not finish");
        server.negotiated_cipher_suite().unwrap().suite()
    }

    #[test]
    fn a_client_preferring_aes_gets_chacha_from_a_chacha_board() {
        use rustls::CipherSuite as C;
        let client_order = cipher_suites(CipherOrder::Aes);
        let tls13 = [&rustls::version::TLS13];
        let tls12 = [&rustls::version::TLS12];
        assert_eq!(
            negotiate(CipherOrder::ChaCha, client_order.clone(), &tls13),
            C::TLS13_CHACHA20_POLY1305_SHA256
        );
        assert_eq!(
            negotiate(CipherOrder::Aes, client_order, &tls13),
            C::TLS13_AES_128_GCM_SHA256
        );
        // OBS (mbedTLS) speaks TLS 1.2 only, with ECDHE-ECDSA suites.
        let chacha_first = cipher_suites(CipherOrder::ChaCha);
        assert_eq!(
            negotiate(CipherOrder::ChaCha, cipher_suites(CipherOrder::Aes), &tls12),
            C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        );
        assert_eq!(
            negotiate(CipherOrder::Aes, chacha_first, &tls12),
            C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        );
    }

    #[test]
    fn fingerprint_is_colon_separated_sha256() {
        let f = fingerprint(b"abc");
        assert_eq!(f.len(), 95);
        assert!(f.starts_with("BA:78:16:BF"));
    }
}
