//! What one request may cost: the size of its head (answered 414 and 431 here, as JSON, before
//! any handler runs; hyper's own, larger limits only catch what is far beyond these), the time
//! its body may take, and how often a client or an address may call the token endpoint (429
//! with `Retry-After`). The address is the TCP peer's, or the one a trusted proxy forwarded
//! (see [`ProxyTrust`]).

use crate::error::ApiError;
use axum::http::{header, HeaderMap, HeaderValue, Request};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use latchkey_domain::{ErrorCode, OAuthError};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

/// Limits on a request's head and body.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Longest request target (path and query), in bytes: 414 beyond.
    pub uri_bytes: usize,
    /// Most bytes of header names and values together: 431 beyond.
    pub header_bytes: usize,
    /// Most header fields: 431 beyond.
    pub headers: usize,
    /// Time the whole body may take to arrive: 408 beyond.
    pub body_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            uri_bytes: 8 * 1024,
            header_bytes: 32 * 1024,
            headers: 100,
            body_timeout: Duration::from_secs(30),
        }
    }
}

impl HttpLimits {
    /// The answer to a request whose head is over a limit, or `None`.
    pub fn check_head<B>(&self, req: &Request<B>) -> Option<Response> {
        let target = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().len())
            .unwrap_or(0);
        if target > self.uri_bytes {
            return Some(refuse(
                414,
                format!(
                    "the request target is {target} bytes, over the limit of {}: send long parameters in a POST body",
                    self.uri_bytes
                ),
            ));
        }
        let h = req.headers();
        if h.len() > self.headers {
            return Some(refuse(
                431,
                format!(
                    "the request has {} header fields, over the limit of {}",
                    h.len(),
                    self.headers
                ),
            ));
        }
        let bytes: usize = h.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
        (bytes > self.header_bytes).then(|| {
            refuse(
                431,
                format!(
                    "the request's header fields are {bytes} bytes, over the limit of {}: a cookie or token may have grown too large",
                    self.header_bytes
                ),
            )
        })
    }
}

fn refuse(status: u16, why: String) -> Response {
    ApiError::from(OAuthError::new(ErrorCode::InvalidRequest, why).with_status(status))
        .into_response()
}

/// Token-endpoint requests allowed per second per client (`realm/clientId`) and per address;
/// `0` is no limit. A burst of up to one second's worth is allowed at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct RateLimits {
    pub per_client: u32,
    pub per_address: u32,
}

/// The limiters [`RateLimits`] describes.
pub struct RateLimiters {
    clients: Option<DefaultKeyedRateLimiter<String>>,
    addresses: Option<DefaultKeyedRateLimiter<IpAddr>>,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(per_second: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_second).map(|n| governor::RateLimiter::keyed(Quota::per_second(n)))
}

impl RateLimiters {
    pub fn new(l: RateLimits) -> RateLimiters {
        RateLimiters {
            clients: limiter(l.per_client),
            addresses: limiter(l.per_address),
        }
    }

    /// 429 with `Retry-After` when the address or the client is over its rate, else `None`.
    pub fn check(&self, address: Option<IpAddr>, client: Option<&str>) -> Option<Response> {
        if let (Some(lim), Some(ip)) = (&self.addresses, address) {
            if let Err(wait) = lim.check_key(&ip) {
                return Some(too_many(
                    format!("too many token requests from address {ip}"),
                    wait.wait_time_from(DefaultClock::default().now()),
                ));
            }
        }
        if let (Some(lim), Some(c)) = (&self.clients, client) {
            if let Err(wait) = lim.check_key(&c.to_string()) {
                return Some(too_many(
                    format!("too many token requests for client '{c}'"),
                    wait.wait_time_from(DefaultClock::default().now()),
                ));
            }
        }
        None
    }

    /// Forgets keys that are back to a full allowance (called now and then, so that a scan of
    /// many addresses does not stay in memory).
    pub fn forget_idle(&self) {
        if let Some(l) = &self.clients {
            l.retain_recent();
            l.shrink_to_fit();
        }
        if let Some(l) = &self.addresses {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

fn too_many(why: String, wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut r = ApiError::from(
        OAuthError::new(
            ErrorCode::InvalidRequest,
            format!("{why}: retry after {secs} s"),
        )
        .with_status(429),
    )
    .into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}

/// Which proxy headers carry the client's address, as Keycloak's `--proxy-headers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeaders {
    /// RFC 7239 `Forwarded: for=…`.
    Forwarded,
    /// `X-Forwarded-For`.
    Xforwarded,
}

/// Whose forwarded headers are believed: only a peer in `trusted` (Keycloak's
/// `--proxy-trusted-addresses`), and of the addresses it forwards, the last one that is not
/// itself a trusted proxy is the client. Without `headers` they are never read.
#[derive(Debug, Clone, Default)]
pub struct ProxyTrust {
    pub headers: Option<ProxyHeaders>,
    pub trusted: Vec<ipnet::IpNet>,
}

impl ProxyTrust {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy that forwarded one.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let Some(kind) = self.headers else {
            return peer;
        };
        if !self.trusts(peer) {
            return peer;
        }
        let chain = match kind {
            ProxyHeaders::Xforwarded => forwarded_for(headers),
            ProxyHeaders::Forwarded => forwarded(headers),
        };
        // Right to left: each hop appended the address it saw; the first one that is not a
        // trusted proxy is the client (anything left of it could be made up by the client).
        let mut client = peer;
        for ip in chain.iter().rev() {
            client = *ip;
            if !self.trusts(*ip) {
                break;
            }
        }
        client
    }
}

/// The addresses of every `X-Forwarded-For` field, in order; an entry that does not parse, or a
/// field that is not readable text, ends the chain there (nothing left of it is believed, and a
/// client cannot hide the address its proxy appended by spoiling the field).
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let items: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(v) => v.split(',').map(|s| s.trim().parse().ok()).collect(),
            Err(_) => vec![None],
        })
        .collect();
    parsed_tail(items.into_iter())
}

/// The `for=` addresses of every `Forwarded` field (RFC 7239), in order, read as
/// [`forwarded_for`] reads its fields.
fn forwarded(headers: &HeaderMap) -> Vec<IpAddr> {
    let items: Vec<Option<IpAddr>> = headers
        .get_all(header::FORWARDED)
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(v) => v
                .split(',')
                .map(|element| {
                    element
                        .split(';')
                        .filter_map(|pair| pair.split_once('='))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                        .and_then(|(_, v)| node_ip(v.trim().trim_matches('"')))
                })
                .collect(),
            Err(_) => vec![None],
        })
        .collect();
    parsed_tail(items.into_iter())
}

/// An RFC 7239 node: `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]`, `[2001:db8::1]:80`.
fn node_ip(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    node.parse()
        .ok()
        .or_else(|| node.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok()))
}

/// The entries after the last one that does not parse.
fn parsed_tail(items: impl DoubleEndedIterator<Item = Option<IpAddr>>) -> Vec<IpAddr> {
    let mut tail: Vec<IpAddr> = items.rev().map_while(|i| i).collect();
    tail.reverse();
    tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(kind: ProxyHeaders, nets: &[&str]) -> ProxyTrust {
        ProxyTrust {
            headers: Some(kind),
            trusted: nets.iter().map(|n| n.parse().unwrap()).collect(),
        }
    }

    fn h(name: &str, values: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for v in values {
            m.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        m
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_off_or_untrusted_peer_means_the_peer() {
        let xff = h("x-forwarded-for", &["1.2.3.4"]);
        assert_eq!(
            ProxyTrust::default().client(ip("10.0.0.1"), &xff),
            ip("10.0.0.1")
        );
        let t = trust(ProxyHeaders::Xforwarded, &["10.0.0.0/8"]);
        assert_eq!(t.client(ip("192.0.2.9"), &xff), ip("192.0.2.9"));
    }

    #[test]
    fn the_last_untrusted_hop_is_the_client() {
        let t = trust(ProxyHeaders::Xforwarded, &["10.0.0.0/8"]);
        // The client wrote a fake first entry; the proxies appended what they saw.
        let xff = h("x-forwarded-for", &["6.6.6.6, 1.2.3.4", "10.0.0.7"]);
        assert_eq!(t.client(ip("10.0.0.1"), &xff), ip("1.2.3.4"));
        // Garbage ends the chain: nothing left of it is believed.
        let bad = h("x-forwarded-for", &["1.2.3.4, nonsense, 10.0.0.7"]);
        assert_eq!(t.client(ip("10.0.0.1"), &bad), ip("10.0.0.7"));
        assert_eq!(t.client(ip("10.0.0.1"), &HeaderMap::new()), ip("10.0.0.1"));
        // A field the client spoiled with a byte that is not text ends the chain too: the
        // address its proxy appended in a field of its own is still found.
        let mut spoiled = HeaderMap::new();
        spoiled.append("x-forwarded-for", HeaderValue::from_bytes(b"\xff").unwrap());
        spoiled.append("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        assert_eq!(t.client(ip("10.0.0.1"), &spoiled), ip("1.2.3.4"));
        let mut alone = HeaderMap::new();
        alone.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"1.2.3.4, \xff").unwrap(),
        );
        assert_eq!(t.client(ip("10.0.0.1"), &alone), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_nodes_in_every_spelling() {
        let t = trust(ProxyHeaders::Forwarded, &["10.0.0.0/8", "::1/128"]);
        let f = h(
            "forwarded",
            &[
                "for=198.51.100.17;proto=https, for=\"[2001:db8::1]:4711\"",
                "For=10.0.0.3:80",
            ],
        );
        assert_eq!(t.client(ip("::1"), &f), ip("2001:db8::1"));
        // X-Forwarded-For is not read when Forwarded is the one configured.
        let x = h("x-forwarded-for", &["1.2.3.4"]);
        assert_eq!(t.client(ip("10.0.0.1"), &x), ip("10.0.0.1"));
    }

    #[test]
    fn head_limits_answer_414_and_431() {
        let l = HttpLimits {
            uri_bytes: 20,
            header_bytes: 30,
            headers: 2,
            ..Default::default()
        };
        let ok = Request::get("/a?b=c").body(()).unwrap();
        assert!(l.check_head(&ok).is_none());
        let long = Request::get(format!("/a?b={}", "x".repeat(30)))
            .body(())
            .unwrap();
        assert_eq!(l.check_head(&long).unwrap().status(), 414);
        let big = Request::get("/")
            .header("x-a", "y".repeat(40))
            .body(())
            .unwrap();
        assert_eq!(l.check_head(&big).unwrap().status(), 431);
        let many = Request::get("/")
            .header("a", "1")
            .header("b", "2")
            .header("c", "3")
            .body(())
            .unwrap();
        assert_eq!(l.check_head(&many).unwrap().status(), 431);
    }

    #[test]
    fn rates_answer_429_with_retry_after() {
        let r = RateLimiters::new(RateLimits {
            per_client: 2,
            per_address: 0,
        });
        assert!(r.check(None, Some("demo/spa")).is_none());
        assert!(r.check(None, Some("demo/spa")).is_none());
        let refused = r.check(None, Some("demo/spa")).unwrap();
        assert_eq!(refused.status(), 429);
        assert!(refused.headers().contains_key(header::RETRY_AFTER));
        assert!(r.check(None, Some("demo/web")).is_none(), "per client");
    }
}
