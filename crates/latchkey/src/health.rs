//! `latchkey health`: asks a server whether it is ready, for a container's health check (a
//! distroless image has no curl). Exit 0 on 200; 1, with the reason on standard error, on
//! anything else, a refused connection or no answer within the timeout.

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use std::process::ExitCode;
use std::time::Duration;

/// The management listener's readiness URL for `listen` (`0.0.0.0`/`[::]` mean this host).
pub fn default_url(listen: &str) -> String {
    let host_port = listen
        .replace("0.0.0.0:", "127.0.0.1:")
        .replace("[::]:", "[::1]:");
    format!("http://{host_port}/health/ready")
}

pub async fn probe(url: &str, timeout: Duration) -> Result<ExitCode> {
    match tokio::time::timeout(timeout, get(url)).await {
        Ok(Ok(())) => Ok(ExitCode::SUCCESS),
        Ok(Err(e)) => {
            eprintln!("latchkey health: {url}: {e:#}");
            Ok(ExitCode::from(1))
        }
        Err(_) => {
            eprintln!(
                "latchkey health: {url}: no answer within {} s",
                timeout.as_secs_f64()
            );
            Ok(ExitCode::from(1))
        }
    }
}

async fn get(url: &str) -> Result<()> {
    let uri: hyper::Uri = url.parse().context("not a URL")?;
    if uri.scheme_str() != Some("http") {
        bail!("only http:// URLs are probed (the management listener speaks plain HTTP)");
    }
    let client = Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let req = hyper::Request::get(uri)
        .header("user-agent", "latchkey-health")
        .body(Empty::<bytes::Bytes>::new())?;
    let resp = client.request(req).await.map_err(|e| anyhow!("{e}"))?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    if status != hyper::StatusCode::OK {
        let text = String::from_utf8_lossy(&body);
        bail!(
            "answered {status}: {}",
            text.chars().take(200).collect::<String>()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcard_listen_addresses_are_probed_on_loopback() {
        assert_eq!(
            super::default_url("0.0.0.0:9000"),
            "http://127.0.0.1:9000/health/ready"
        );
        assert_eq!(
            super::default_url("[::]:9000"),
            "http://[::1]:9000/health/ready"
        );
        assert_eq!(
            super::default_url("127.0.0.1:9001"),
            "http://127.0.0.1:9001/health/ready"
        );
    }
}
