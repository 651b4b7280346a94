//! `serve`'s limits on what a client may send and how often, and whose proxy headers count.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use latchkey_protocol::form::BodyLimits;
use latchkey_protocol::limits::{HttpLimits, ProxyHeaders, ProxyTrust, RateLimits};
use latchkey_protocol::state::Http;
use std::time::Duration;

#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Largest request body accepted, in bytes (413 beyond).
    #[arg(long, env = "LATCHKEY_BODY_LIMIT", value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Seconds a client may take to send a request's body (408 beyond).
    #[arg(
        long,
        env = "LATCHKEY_BODY_READ_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 30
    )]
    pub body_read_timeout: u64,
    /// Seconds a client may take to send a request's headers, on a new or a kept-alive
    /// connection; the connection is closed beyond.
    #[arg(
        long,
        env = "LATCHKEY_HEADER_READ_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 10
    )]
    pub header_read_timeout: u64,
    /// Longest request target (path and query), in bytes (414 beyond).
    #[arg(long, env = "LATCHKEY_MAX_URI_LENGTH", value_name = "BYTES", default_value_t = 8 * 1024)]
    pub max_uri_length: usize,
    /// Most bytes of request header fields (431 beyond).
    #[arg(long, env = "LATCHKEY_MAX_HEADER_SIZE", value_name = "BYTES", default_value_t = 32 * 1024)]
    pub max_header_size: usize,
    /// Connections served at once; more wait to be accepted.
    #[arg(
        long,
        env = "LATCHKEY_MAX_CONNECTIONS",
        value_name = "N",
        default_value_t = 10_000
    )]
    pub max_connections: usize,
    /// Token-endpoint requests allowed per second for one client of a realm (429 with
    /// Retry-After beyond); 0 is no limit.
    #[arg(
        long,
        env = "LATCHKEY_TOKEN_RATE_PER_CLIENT",
        value_name = "N",
        default_value_t = 0
    )]
    pub token_rate_per_client: u32,
    /// Token-endpoint requests allowed per second from one client address (429 with
    /// Retry-After beyond); 0 is no limit.
    #[arg(
        long,
        env = "LATCHKEY_TOKEN_RATE_PER_ADDRESS",
        value_name = "N",
        default_value_t = 0
    )]
    pub token_rate_per_address: u32,
    /// Read the client's address from this proxy header, as Keycloak's --proxy-headers; only
    /// from peers in --proxy-trusted-addresses. Default: never (the TCP peer is the client).
    #[arg(long, env = "LATCHKEY_PROXY_HEADERS", value_name = "HEADERS")]
    pub proxy_headers: Option<ProxyHeadersArg>,
    /// Proxies whose forwarded headers are believed: addresses or CIDR ranges, comma-separated
    /// (as Keycloak's --proxy-trusted-addresses).
    #[arg(
        long,
        env = "LATCHKEY_PROXY_TRUSTED_ADDRESSES",
        value_name = "LIST",
        value_delimiter = ','
    )]
    pub proxy_trusted_addresses: Vec<String>,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum ProxyHeadersArg {
    /// RFC 7239 `Forwarded`.
    Forwarded,
    /// `X-Forwarded-For`.
    Xforwarded,
}

impl LimitArgs {
    pub fn http(&self) -> Result<Http> {
        let trusted = self
            .proxy_trusted_addresses
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                let s = s.trim();
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| {
                        format!("--proxy-trusted-addresses: '{s}' is not an address or CIDR range")
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        if self.proxy_headers.is_some() && trusted.is_empty() {
            anyhow::bail!("--proxy-headers needs --proxy-trusted-addresses: the proxies whose headers are believed (a header from anyone else could name any address)");
        }
        Ok(Http {
            body: BodyLimits {
                bytes: self.body_limit,
                timeout: Duration::from_secs(self.body_read_timeout.max(1)),
            },
            head: HttpLimits {
                uri_bytes: self.max_uri_length,
                header_bytes: self.max_header_size,
                ..Default::default()
            },
            rates: RateLimits {
                per_client: self.token_rate_per_client,
                per_address: self.token_rate_per_address,
            },
            proxy: ProxyTrust {
                headers: self.proxy_headers.map(|h| match h {
                    ProxyHeadersArg::Forwarded => ProxyHeaders::Forwarded,
                    ProxyHeadersArg::Xforwarded => ProxyHeaders::Xforwarded,
                }),
                trusted,
            },
        })
    }

    /// The listener's limits: hyper's own parser limits sit well above the ones answered in
    /// JSON, so those answers come from latchkey.
    pub fn listener(&self) -> latchkey_listener::Limits {
        latchkey_listener::Limits {
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_read_timeout.max(1)),
            parser_max_head_bytes: (self.max_header_size + self.max_uri_length) * 4 + 64 * 1024,
            ..Default::default()
        }
    }
}
