//! HTTPS with rustls: the certificate chain and key from PEM files (Keycloak's
//! `https-certificate-file` and `https-certificate-key-file`), HTTP/2 and HTTP/1.1 by ALPN,
//! and a reload — on SIGHUP, and when either file changes — that new connections see at once
//! and a bad file never takes away the certificate being served.

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// The certificate being served, and where it comes from.
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Reads the certificate chain and key; an error names the file and what is wrong.
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, String> {
        Ok(Tls {
            current: RwLock::new(Arc::new(server_config(cert, key)?)),
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        })
    }

    /// What a new connection is served with.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the files again; on an error the certificate served stays as it was.
    pub fn reload(&self) -> Result<(), String> {
        let fresh = server_config(&self.cert, &self.key)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
        Ok(())
    }

    /// Reloads on SIGHUP and when the files' modification time or size changes (checked
    /// every `every`), logging the outcome; runs until the process ends.
    pub fn watch(self: Arc<Self>, every: Duration) {
        tokio::spawn(async move {
            #[cfg(unix)]
            let mut hup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut seen = self.stamp();
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                #[cfg(unix)]
                let why = tokio::select! {
                    _ = tick.tick() => "the files changed",
                    Some(_) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => "SIGHUP",
                };
                #[cfg(not(unix))]
                let why = {
                    tick.tick().await;
                    "the files changed"
                };
                let now = self.stamp();
                if why != "SIGHUP" && now == seen {
                    continue;
                }
                seen = now;
                match self.reload() {
                    Ok(()) => {
                        tracing::info!(reason = why, cert = %self.cert.display(), "reloaded the TLS certificate")
                    }
                    Err(e) => {
                        tracing::error!(reason = why, error = %e, "the TLS certificate was not reloaded; the one in use stays")
                    }
                }
            }
        });
    }

    fn stamp(&self) -> Vec<Option<(SystemTime, u64)>> {
        [&self.cert, &self.key]
            .iter()
            .map(|p| {
                std::fs::metadata(p)
                    .ok()
                    .and_then(|m| Some((m.modified().ok()?, m.len())))
            })
            .collect()
    }
}

fn server_config(cert: &Path, key_file: &Path) -> Result<ServerConfig, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{}: no certificate in it (expected PEM 'BEGIN CERTIFICATE' blocks)",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        format!(
            "{}: {e} (expected a PEM private key: PKCS#8, PKCS#1 or SEC1)",
            key_file.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("{} and {}: {e}", cert.display(), key_file.display()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
