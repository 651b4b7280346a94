//! Forwarding to a service: bodies streamed both ways (nothing buffered), hop-by-hop headers
//! removed (RFC 9110 §7.6.1), `X-Forwarded-*`, `X-Real-IP` and `Via` added, the Host kept or
//! set as the route says, the service's timeouts, and WebSocket upgrades joined end to end once
//! the upstream agrees.

use crate::body::ProxyBody;
use crate::config::{Route, Service};
use crate::errors::Unavailable;
use http::header::{self, HeaderName};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Uri};
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::IpAddr;

/// One service's connection pool, with its connect timeout.
pub struct Upstream {
    client: Client<HttpsConnector<HttpConnector>, ProxyBody>,
    pub service: Service,
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    host: HeaderValue,
}

impl Upstream {
    pub fn new(service: &Service, tls: rustls::ClientConfig) -> Upstream {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(service.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let authority = service.authority();
        Upstream {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(std::time::Duration::from_secs(60))
                .build(https),
            scheme: if service.scheme == "https" {
                http::uri::Scheme::HTTPS
            } else {
                http::uri::Scheme::HTTP
            },
            host: HeaderValue::from_str(&authority).unwrap_or(HeaderValue::from_static("invalid")),
            authority: authority
                .parse()
                .unwrap_or_else(|_| http::uri::Authority::from_static("invalid")),
            service: service.clone(),
        }
    }
}

/// What the forwarded request needs to know about how it arrived.
pub struct Arrival<'a> {
    pub client_ip: IpAddr,
    /// The gateway's own port, as `X-Forwarded-Port`.
    pub listen_port: &'a HeaderValue,
    pub scheme: &'a str,
    pub route: &'a Route,
    /// The path the upstream gets (see `router::upstream_path`).
    pub upstream_path: String,
    /// The request path as the client sent it, and the part the route stripped.
    pub original_path: &'a str,
    pub stripped_prefix: Option<&'a str>,
}

/// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1), plus the ones
/// named in `Connection`.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for n in listed {
        headers.remove(n);
    }
    for n in [
        header::CONNECTION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
    ] {
        headers.remove(n);
    }
    for n in ["keep-alive", "proxy-connection"] {
        headers.remove(n);
    }
}

/// Whether the request asks for a WebSocket.
pub fn is_websocket(headers: &HeaderMap) -> bool {
    let has = |name: HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    has(header::CONNECTION, "upgrade") && has(header::UPGRADE, "websocket")
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// Rewrites a client's request for the service.
pub fn prepare(up: &Upstream, parts: &mut Parts, a: &Arrival<'_>) -> Result<(), String> {
    let websocket = is_websocket(&parts.headers);
    let original_host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()));
    remove_hop_by_hop(&mut parts.headers);
    let pq = match parts.uri.query() {
        Some(q) => format!("{}?{q}", a.upstream_path),
        None => a.upstream_path.clone(),
    };
    parts.uri = Uri::builder()
        .scheme(up.scheme.clone())
        .authority(up.authority.clone())
        .path_and_query(pq)
        .build()
        .map_err(|e| format!("cannot build the upstream URI: {e}"))?;
    if !a.route.preserve_host || original_host.is_none() {
        parts.headers.insert(header::HOST, up.host.clone());
    }
    if websocket {
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        parts
            .headers
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    let ip = a.client_ip.to_string();
    let xff = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prior) => format!("{prior}, {ip}"),
        None => ip.clone(),
    };
    set(&mut parts.headers, "x-forwarded-for", &xff);
    set(&mut parts.headers, "x-real-ip", &ip);
    parts.headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static(if a.scheme == "https" { "https" } else { "http" }),
    );
    if let Some(h) = &original_host {
        let host_only = h
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map(|(h, _)| h)
            .unwrap_or(h);
        set(
            &mut parts.headers,
            "x-forwarded-host",
            &host_only.to_ascii_lowercase(),
        );
    }
    parts.headers.insert(
        HeaderName::from_static("x-forwarded-port"),
        a.listen_port.clone(),
    );
    set(&mut parts.headers, "x-forwarded-path", a.original_path);
    match a.stripped_prefix.filter(|p| !p.is_empty() && *p != "/") {
        Some(p) => set(&mut parts.headers, "x-forwarded-prefix", p),
        None => {
            parts.headers.remove("x-forwarded-prefix");
        }
    }
    match parts.headers.get(header::VIA).and_then(|v| v.to_str().ok()) {
        Some(prior) => {
            let via = format!("{prior}, 1.1 latchkey");
            set(&mut parts.headers, "via", &via);
        }
        None => {
            parts
                .headers
                .insert(header::VIA, HeaderValue::from_static("1.1 latchkey"));
        }
    }
    parts.version = http::Version::HTTP_11;
    Ok(())
}

fn classify(e: &hyper_util::client::legacy::Error) -> Unavailable {
    Unavailable::UpstreamUnreachable(crate::idp::http::error_chain(e))
}

/// Sends the prepared request; retries a connection that could not be made, as Kong's
/// `retries` does, when the request has no body to replay.
pub async fn send(
    up: &Upstream,
    parts: Parts,
    body: ProxyBody,
) -> Result<Response<Incoming>, Unavailable> {
    let s = &up.service;
    let replayable = hyper::body::Body::is_end_stream(&body);
    let mut attempts = if replayable { s.retries + 1 } else { 1 };
    let mut body = Some(body);
    loop {
        let b = body.take().unwrap_or_else(ProxyBody::empty);
        let req = Request::from_parts(clone_parts(&parts), b);
        let call = up.client.request(req);
        match tokio::time::timeout(s.read_timeout, call).await {
            Err(_) => return Err(Unavailable::UpstreamTimeout),
            Ok(Ok(r)) => return Ok(r),
            Ok(Err(e)) => {
                attempts -= 1;
                if attempts == 0 || !e.is_connect() {
                    tracing::warn!(service = %s.name, error = %crate::idp::http::error_chain(&e), "upstream request failed");
                    return Err(classify(&e));
                }
            }
        }
    }
}

fn clone_parts(p: &Parts) -> Parts {
    let mut b = Request::builder()
        .method(p.method.clone())
        .uri(p.uri.clone())
        .version(p.version);
    if let Some(h) = b.headers_mut() {
        *h = p.headers.clone();
    }
    b.body(()).expect("parts of a valid request").into_parts().0
}

/// The upstream's response for the client: hop-by-hop headers removed (a WebSocket's 101
/// keeps its upgrade).
pub fn response(mut r: Response<Incoming>) -> Response<ProxyBody> {
    if r.status() != StatusCode::SWITCHING_PROTOCOLS {
        remove_hop_by_hop(r.headers_mut());
    }
    let (mut parts, body) = r.into_parts();
    parts.extensions = http::Extensions::new();
    Response::from_parts(parts, ProxyBody::Stream(body))
}

/// Joins the client's and the upstream's upgraded connections once both sides switched.
pub fn join_upgrades(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade) {
    tokio::spawn(async move {
        let (c, u) = match tokio::try_join!(client, upstream) {
            Ok(both) => both,
            Err(e) => {
                tracing::debug!(error = %e, "websocket upgrade did not complete");
                return;
            }
        };
        let (mut c, mut u) = (TokioIo::new(c), TokioIo::new(u));
        if let Err(e) = tokio::io::copy_bidirectional(&mut c, &mut u).await {
            tracing::debug!(error = %e, "websocket connection ended");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_named_in_connection_are_removed() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "keep-alive, x-private".parse().unwrap());
        h.insert("keep-alive", "timeout=5".parse().unwrap());
        h.insert("x-private", "1".parse().unwrap());
        h.insert(header::TE, "trailers".parse().unwrap());
        h.insert("x-kept", "1".parse().unwrap());
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn websocket_requests_are_recognised() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, "keep-alive, Upgrade".parse().unwrap());
        h.insert(header::UPGRADE, "websocket".parse().unwrap());
        assert!(is_websocket(&h));
        h.insert(header::UPGRADE, "h2c".parse().unwrap());
        assert!(!is_websocket(&h));
    }
}
