//! `latchkey gateway`: a reverse proxy in the role of Kong's `openid-connect` plugin, in front
//! of any upstream HTTP service, against any OpenID Connect issuer.
//!
//! - `config`: Kong's declarative configuration, checked whole.
//! - `router`, `proxy`, `server`, `run`: routing, forwarding, the listeners and signals.
//! - `auth`: the plugin's auth methods, in Kong's order; `flights`: refreshes that never race.
//! - `idp`, `jwt`, `tokens`: the issuer (discovery, JWKS, token endpoint) and its tokens.
//! - `sessions`, `headers`, `errors`, `metrics`, `cache`, `body`: the rest.

pub mod auth;
pub mod body;
pub mod cache;
pub mod config;
pub mod errors;
pub mod flights;
pub mod headers;
pub mod idp;
pub mod jwt;
pub mod metrics;
pub mod plugin;
pub mod proxy;
pub mod router;
pub mod run;
pub mod server;
pub mod sessions;
pub mod tokens;

pub use run::{load, run, summary, Options};
