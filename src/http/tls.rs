//! HTTPS with rustls: certificate chain and key from PEM files, TLS 1.2 and 1.3 with rustls's
//! safe defaults. The certificate is served through a resolver that `reload` can swap (on
//! SIGHUP, `systemctl reload hafen`), so a renewed certificate takes effect without dropping
//! connections; a reload that fails keeps the certificate in use.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::{bail, Context};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

/// The certificate in use, and where it is read from.
#[derive(Debug)]
pub struct CertificateSource {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertificateSource {
    /// Reads the files again; on success the new certificate serves new handshakes.
    pub fn reload(&self) -> anyhow::Result<()> {
        let fresh = load(&self.cert_file, &self.key_file, &self.provider)?;
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        *current = Arc::new(fresh);
        Ok(())
    }
}

impl ResolvesServerCert for CertificateSource {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn load(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> anyhow::Result<CertifiedKey> {
    crate::crypto::master::check_private(key_file).map_err(|e| anyhow::anyhow!("TLS key: {e}"))?;
    let certs = rustls_pemfile::certs(&mut BufReader::new(
        std::fs::File::open(cert_file)
            .with_context(|| format!("cannot open {}", cert_file.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("{} is not a PEM certificate chain", cert_file.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", cert_file.display());
    }
    let key = rustls_pemfile::private_key(&mut BufReader::new(
        std::fs::File::open(key_file)
            .with_context(|| format!("cannot open {}", key_file.display()))?,
    ))
    .with_context(|| format!("{} is not a PEM private key", key_file.display()))?
    .with_context(|| format!("{} holds no private key", key_file.display()))?;
    CertifiedKey::from_der(certs, key, provider).context("the TLS certificate and key do not match")
}

/// The server configuration and the handle that reloads its certificate.
pub fn server_config(
    cert_file: &Path,
    key_file: &Path,
) -> anyhow::Result<(ServerConfig, Arc<CertificateSource>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let first = load(cert_file, key_file, &provider)?;
    let source = Arc::new(CertificateSource {
        cert_file: cert_file.to_path_buf(),
        key_file: key_file.to_path_buf(),
        provider: provider.clone(),
        current: RwLock::new(Arc::new(first)),
    });
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(source.clone());
    Ok((config, source))
}
