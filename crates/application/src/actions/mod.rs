//! The use cases of the endpoints that are not grants: each takes the authenticated client and
//! the request's parameters, and leaves the HTTP to the adapter.

pub mod authorize;
pub mod introspect;
pub mod logout;
pub mod revoke;
pub mod userinfo;
