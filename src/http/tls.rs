//! HTTPS with rustls: certificate chain and key from PEM files.

use std::io::BufReader;
use std::path::Path;

use anyhow::{bail, Context};
use rustls::ServerConfig;

pub fn server_config(cert_file: &Path, key_file: &Path) -> anyhow::Result<ServerConfig> {
    crate::crypto::master::check_private_file(key_file)
        .map_err(|e| anyhow::anyhow!("TLS key: {e}"))?;
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
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not match")
}
