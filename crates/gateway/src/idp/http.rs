//! The gateway's HTTP client for identity providers: keep-alive connections, TLS with the
//! system's roots (or, where `ssl_verify: false` says so, without verification), a timeout on
//! every call, and answers read whole up to a size limit.

use crate::errors::Unavailable;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

/// The largest answer read from an identity provider.
const MAX_ANSWER: usize = 1024 * 1024;

type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// An identity provider's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

#[derive(Clone)]
pub struct IdpHttp {
    verified: HttpsClient,
    unverified: HttpsClient,
}

fn client(tls: rustls::ClientConfig) -> HttpsClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(https)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// TLS with the system's trusted roots.
pub fn tls_verified() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!(error = %e, "reading the system's trusted certificates");
    }
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        tracing::warn!("no trusted root certificates found: https calls will fail verification");
    }
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// TLS that accepts any certificate: only for a plugin configured with `ssl_verify: false`.
pub fn tls_unverified() -> rustls::ClientConfig {
    let provider = provider();
    rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth()
}

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// How a request to the identity provider authenticates the gateway's client.
pub enum Auth<'a> {
    None,
    Basic(&'a str, &'a str),
}

impl IdpHttp {
    pub fn new() -> IdpHttp {
        IdpHttp {
            verified: client(tls_verified()),
            unverified: client(tls_unverified()),
        }
    }

    pub async fn get(
        &self,
        url: &str,
        timeout: Duration,
        verify: bool,
    ) -> Result<Answer, Unavailable> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(url)
            .header(ACCEPT, "application/json")
            .body(Full::new(Bytes::new()))
            .map_err(|e| Unavailable::IdpFailed(format!("{url}: {e}")))?;
        self.send(req, url, timeout, verify).await
    }

    /// A form POST (token, introspection, revocation endpoints).
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        auth: Auth<'_>,
        timeout: Duration,
        verify: bool,
    ) -> Result<Answer, Unavailable> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(url)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| Unavailable::IdpFailed(format!("{url}: {e}")))?;
        if let Auth::Basic(id, secret) = auth {
            // RFC 6749 §2.3.1: each part form-urlencoded before base64.
            let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let creds = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{}:{}", enc(id), enc(secret)),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("Basic {creds}")) {
                req.headers_mut().insert(AUTHORIZATION, v);
            }
        }
        self.send(req, url, timeout, verify).await
    }

    async fn send(
        &self,
        req: Request<Full<Bytes>>,
        url: &str,
        timeout: Duration,
        verify: bool,
    ) -> Result<Answer, Unavailable> {
        let client = if verify {
            &self.verified
        } else {
            &self.unverified
        };
        let call = async {
            let resp = client
                .request(req)
                .await
                .map_err(|e| Unavailable::IdpUnreachable(format!("{url}: {}", error_chain(&e))))?;
            let status = resp.status();
            let body = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| Unavailable::IdpFailed(format!("{url}: reading the answer: {e}")))?
                .to_bytes();
            Ok(Answer { status, body })
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(Unavailable::IdpTimeout(format!(
                "{url}: no answer within {} ms",
                timeout.as_millis()
            ))),
        }
    }
}

impl Default for IdpHttp {
    fn default() -> Self {
        IdpHttp::new()
    }
}

/// An error and its causes, for a log line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}
