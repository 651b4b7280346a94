//! The identity provider: discovery and keys (`issuer`), its endpoints (`token`), over the
//! gateway's own HTTP client (`http`).

pub mod http;
pub mod issuer;
pub mod token;
