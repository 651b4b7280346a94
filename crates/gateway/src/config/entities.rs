//! Kong's declarative entities: `services` (each with nested `routes` and `plugins`), top-level
//! `routes` naming their service, and `plugins` on a route, a service, or everything. Only the
//! `openid-connect` plugin exists here; a route takes the plugin of the route, else of its
//! service, else the global one, as Kong's precedence goes.

use super::oidc::{self, OidcConfig};
use super::reader::{FieldError, Fields, Result};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    /// `http` or `https`.
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// The upstream path prefix (Kong's `path`), without a trailing slash unless it is `/`.
    pub path: Option<String>,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub retries: u32,
    /// Verify an https upstream's certificate (Kong's `tls_verify`; latchkey verifies unless
    /// told not to).
    pub tls_verify: bool,
}

impl Service {
    /// `host:port`, as the upstream's `Host` and the URI authority.
    pub fn authority(&self) -> String {
        let default = if self.scheme == "https" { 443 } else { 80 };
        if self.port == default {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone)]
pub enum PathMatch {
    /// A plain path: matches requests whose path starts with it.
    Prefix(String),
    /// `~regex`: matches from the start of the path (anchored as Kong anchors it).
    Regex(regex::Regex),
}

/// Kong's `path_handling`: how the service's path and the rest of the request path are joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathHandling {
    V0,
    V1,
}

#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub service: usize,
    pub paths: Vec<PathMatch>,
    /// Lower-cased; a leading `*.` or trailing `.*` is a wildcard.
    pub hosts: Vec<String>,
    pub methods: Vec<String>,
    /// Lower-cased header names, each with the values any of which matches (case-insensitive).
    pub headers: Vec<(String, Vec<String>)>,
    pub strip_path: bool,
    pub preserve_host: bool,
    pub path_handling: PathHandling,
    pub regex_priority: i64,
    /// The openid-connect instance guarding the route, by index into the plugins.
    pub plugin: Option<usize>,
}

/// Service keys Kong has that change nothing in a gateway without load balancing or TLS
/// client certificates.
const SERVICE_IGNORED: &[&str] = &["id", "tags", "created_at", "updated_at", "enabled"];
const ROUTE_IGNORED: &[&str] = &[
    "id",
    "tags",
    "created_at",
    "updated_at",
    "protocols",
    "https_redirect_status_code",
    "request_buffering",
    "response_buffering",
];
const TOP_IGNORED: &[&str] = &[
    "_format_version",
    "_transform",
    "_comment",
    "_info",
    "_workspace",
];

type Entities = (Vec<Service>, Vec<Route>, Vec<Arc<OidcConfig>>);

/// Where a plugin instance applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Scope {
    Global,
    Service(usize),
    Route(usize),
}

struct Builder {
    services: Vec<Service>,
    service_names: HashMap<String, usize>,
    routes: Vec<Route>,
    route_names: HashMap<String, usize>,
    plugins: Vec<Arc<OidcConfig>>,
    scopes: HashMap<Scope, (usize, String)>,
    /// Routes declared at the top level and plugins naming a route or service, resolved last.
    pending_routes: Vec<(String, Value, String)>,
    pending_plugins: Vec<(String, Value)>,
}

pub fn read(doc: &Value) -> Result<Entities> {
    let mut top = Fields::new("(top level)", doc)?;
    let version = top.required_str("_format_version")?;
    if !["1.1", "2.1", "3.0"].contains(&version.as_str()) {
        return Err(top.error(
            "_format_version",
            format!("'{version}' is not a Kong declarative format version (3.0, 2.1 or 1.1)"),
        ));
    }
    let mut b = Builder {
        services: Vec::new(),
        service_names: HashMap::new(),
        routes: Vec::new(),
        route_names: HashMap::new(),
        plugins: Vec::new(),
        scopes: HashMap::new(),
        pending_routes: Vec::new(),
        pending_plugins: Vec::new(),
    };
    for (i, s) in array(&mut top, "services")?.iter().enumerate() {
        b.service(i, s)?;
    }
    for (i, r) in array(&mut top, "routes")?.iter().enumerate() {
        b.pending_routes
            .push((format!("routes[{i}]"), r.clone(), String::new()));
    }
    for (i, p) in array(&mut top, "plugins")?.iter().enumerate() {
        b.pending_plugins.push((format!("plugins[{i}]"), p.clone()));
    }
    for key in [
        "upstreams",
        "targets",
        "consumers",
        "certificates",
        "ca_certificates",
        "snis",
        "vaults",
        "consumer_groups",
        "keys",
        "key_sets",
        "filter_chains",
    ] {
        if top
            .raw(key)
            .is_some_and(|v| v.as_array().is_none_or(|a| !a.is_empty()))
        {
            return Err(top.error(
                key,
                "latchkey gateway does not support this entity: services, routes and the openid-connect plugin are what it runs",
            ));
        }
    }
    top.accept(TOP_IGNORED);
    top.finish("a Kong declarative configuration here has services, routes and plugins")?;
    for (entity, r, service) in std::mem::take(&mut b.pending_routes) {
        b.route(&entity, &r, &service)?;
    }
    for (entity, p) in std::mem::take(&mut b.pending_plugins) {
        b.plugin(&entity, &p, None)?;
    }
    if b.routes.is_empty() {
        return Err(FieldError {
            entity: "(top level)".into(),
            key: "services".into(),
            message: "no route is configured: nothing could be proxied".into(),
        });
    }
    // Each route's plugin: the route's own, else its service's, else the global one.
    for (i, r) in b.routes.iter_mut().enumerate() {
        r.plugin = [Scope::Route(i), Scope::Service(r.service), Scope::Global]
            .iter()
            .find_map(|s| b.scopes.get(s).map(|(idx, _)| *idx));
    }
    Ok((b.services, b.routes, b.plugins))
}

fn array<'a>(f: &mut Fields<'a>, key: &'a str) -> Result<Vec<Value>> {
    match f.raw(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => Ok(a.clone()),
        Some(_) => Err(f.error(key, "must be an array")),
    }
}

fn named(entity: &str, v: &Value) -> String {
    match v.get("name").and_then(Value::as_str) {
        Some(n) => format!("{entity} '{n}'"),
        None => entity.to_string(),
    }
}

fn millis(f: &mut Fields<'_>, key: &'static str) -> Result<Duration> {
    let ms = f.int_or(key, 60_000, 1, 2_147_483_646)?;
    Ok(Duration::from_millis(ms as u64))
}

impl Builder {
    fn service(&mut self, i: usize, v: &Value) -> Result<()> {
        let entity = named(&format!("services[{i}]"), v);
        let mut f = Fields::new(entity.clone(), v)?;
        let name = f.opt_str("name")?.unwrap_or_else(|| format!("service-{i}"));
        let (mut scheme, mut host, mut port, mut path) = ("http".to_string(), None, None, None);
        if let Some(url) = f.opt_str("url")? {
            let u = url
                .parse::<http::Uri>()
                .map_err(|e| f.error("url", format!("'{url}' is not a URL: {e}")))?;
            scheme = u.scheme_str().unwrap_or("").to_string();
            host = u.host().map(str::to_string);
            port = u.port_u16();
            path = Some(u.path().to_string()).filter(|p| !p.is_empty());
            if u.query().is_some() {
                return Err(f.error("url", "must not have a query"));
            }
        }
        if let Some(p) = f.opt_str("protocol")? {
            scheme = p;
        }
        if let Some(h) = f.opt_str("host")? {
            host = Some(h);
        }
        if f.has("port") {
            port = Some(f.int_or("port", 80, 1, 65_535)? as u16);
        }
        if let Some(p) = f.opt_str("path")? {
            path = Some(p);
        }
        if !["http", "https"].contains(&scheme.as_str()) {
            return Err(f.error(
                "protocol",
                format!("'{scheme}': latchkey gateway proxies to http and https services"),
            ));
        }
        let host = host
            .filter(|h| !h.is_empty())
            .ok_or_else(|| f.error("url", "a service needs a url (or host)"))?;
        if let Some(p) = &path {
            if !p.starts_with('/') {
                return Err(f.error("path", "must start with '/'"));
            }
        }
        let service = Service {
            port: port.unwrap_or(if scheme == "https" { 443 } else { 80 }),
            scheme,
            host,
            path,
            connect_timeout: millis(&mut f, "connect_timeout")?,
            read_timeout: millis(&mut f, "read_timeout")?,
            write_timeout: millis(&mut f, "write_timeout")?,
            retries: f.int_or("retries", 5, 0, 32_767)? as u32,
            tls_verify: f.bool_or("tls_verify", true)?,
            name: name.clone(),
        };
        if self
            .service_names
            .insert(name.clone(), self.services.len())
            .is_some()
        {
            return Err(f.error("name", format!("another service is named '{name}'")));
        }
        let idx = self.services.len();
        self.services.push(service);
        let routes = array(&mut f, "routes")?;
        let plugins = array(&mut f, "plugins")?;
        f.accept(SERVICE_IGNORED);
        f.accept(&["client_certificate", "tls_verify_depth", "ca_certificates"]);
        if f.has("client_certificate") || f.has("ca_certificates") {
            return Err(f.error(
                "client_certificate",
                "TLS client certificates to upstreams are not supported",
            ));
        }
        f.finish("a service here has name, url (or protocol, host, port, path), connect_timeout, read_timeout, write_timeout, retries, routes, plugins, tags")?;
        for (j, r) in routes.iter().enumerate() {
            let entity = format!("{entity}.routes[{j}]");
            self.route(&entity, r, &name)?;
        }
        for (j, p) in plugins.iter().enumerate() {
            self.plugin(
                &format!("{entity}.plugins[{j}]"),
                p,
                Some(Scope::Service(idx)),
            )?;
        }
        Ok(())
    }

    /// A route; `service` is the enclosing service's name, or empty at the top level.
    fn route(&mut self, entity: &str, v: &Value, service: &str) -> Result<()> {
        let entity = named(entity, v);
        let mut f = Fields::new(entity.clone(), v)?;
        let idx = self.routes.len();
        let name = f.opt_str("name")?.unwrap_or_else(|| format!("route-{idx}"));
        let service = if service.is_empty() {
            let reference = match f.raw("service") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Object(o)) => o
                    .get("name")
                    .or_else(|| o.get("id"))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                _ => return Err(f.error("service", "a top-level route names its service")),
            };
            reference
        } else {
            service.to_string()
        };
        let service = *self
            .service_names
            .get(&service)
            .ok_or_else(|| f.error("service", format!("no service is named '{service}'")))?;
        let mut paths = Vec::new();
        for p in f.list_or("paths", &[])? {
            paths.push(if let Some(re) = p.strip_prefix('~') {
                let anchored = if re.starts_with('^') {
                    re.to_string()
                } else {
                    format!("^{re}")
                };
                PathMatch::Regex(
                    regex::Regex::new(&anchored).map_err(|e| {
                        f.error("paths", format!("'{p}' is not a valid regex: {e}"))
                    })?,
                )
            } else if p.starts_with('/') {
                PathMatch::Prefix(p)
            } else {
                return Err(f.error(
                    "paths",
                    format!("'{p}' must start with '/' (or '~' for a regex)"),
                ));
            });
        }
        let hosts: Vec<String> = f
            .list_or("hosts", &[])?
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        let methods: Vec<String> = f
            .list_or("methods", &[])?
            .into_iter()
            .map(|m| m.to_ascii_uppercase())
            .collect();
        let mut headers = Vec::new();
        if let Some(h) = f.raw("headers") {
            let Value::Object(map) = h else {
                return Err(f.error("headers", "must map header names to lists of values"));
            };
            for (k, vals) in map {
                let vals: Vec<String> = match vals {
                    Value::String(s) => vec![s.to_ascii_lowercase()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_lowercase)
                        .collect(),
                    _ => return Err(f.error("headers", format!("'{k}': must be a list of values"))),
                };
                headers.push((k.to_ascii_lowercase(), vals));
            }
        }
        if paths.is_empty() && hosts.is_empty() && methods.is_empty() && headers.is_empty() {
            return Err(f.error(
                "paths",
                "a route needs at least one of paths, hosts, methods, headers",
            ));
        }
        let path_handling = match f.choice_or("path_handling", &["v0", "v1"], "v0")?.as_str() {
            "v1" => PathHandling::V1,
            _ => PathHandling::V0,
        };
        let route = Route {
            name: name.clone(),
            service,
            paths,
            hosts,
            methods,
            headers,
            strip_path: f.bool_or("strip_path", true)?,
            preserve_host: f.bool_or("preserve_host", false)?,
            path_handling,
            regex_priority: f.int_or("regex_priority", 0, -1_000_000, 1_000_000)?,
            plugin: None,
        };
        let plugins = array(&mut f, "plugins")?;
        f.accept(ROUTE_IGNORED);
        f.finish("a route here has name, paths, hosts, methods, headers, strip_path, preserve_host, path_handling, regex_priority, plugins, service, tags")?;
        if self.route_names.insert(name.clone(), idx).is_some() {
            return Err(FieldError {
                entity,
                key: "name".into(),
                message: format!("another route is named '{name}'"),
            });
        }
        self.routes.push(route);
        for (j, p) in plugins.iter().enumerate() {
            self.plugin(
                &format!("{entity}.plugins[{j}]"),
                p,
                Some(Scope::Route(idx)),
            )?;
        }
        Ok(())
    }

    /// A plugin entity; `scope` is set when it is nested in a service or route.
    fn plugin(&mut self, entity: &str, v: &Value, scope: Option<Scope>) -> Result<()> {
        let entity = named(entity, v);
        let mut f = Fields::new(entity.clone(), v)?;
        let name = f.required_str("name")?;
        if name != "openid-connect" {
            return Err(f.error(
                "name",
                format!("plugin '{name}' is not supported: latchkey gateway runs the openid-connect plugin"),
            ));
        }
        let reference = |f: &mut Fields<'_>, key: &'static str| -> Result<Option<String>> {
            Ok(match f.raw(key) {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(o)) => o
                    .get("name")
                    .or_else(|| o.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
                Some(_) => return Err(f.error(key, "must name a route or service")),
            })
        };
        let on_route = reference(&mut f, "route")?;
        let on_service = reference(&mut f, "service")?;
        if f.has("consumer") || f.has("consumer_group") {
            return Err(f.error("consumer", "consumers are not supported"));
        }
        let scope = match (scope, on_route, on_service) {
            (Some(s), None, None) => s,
            (Some(_), _, _) => {
                return Err(f.error("route", "a nested plugin applies where it is nested"))
            }
            (None, Some(r), _) => Scope::Route(
                *self
                    .route_names
                    .get(&r)
                    .ok_or_else(|| f.error("route", format!("no route is named '{r}'")))?,
            ),
            (None, None, Some(s)) => Scope::Service(
                *self
                    .service_names
                    .get(&s)
                    .ok_or_else(|| f.error("service", format!("no service is named '{s}'")))?,
            ),
            (None, None, None) => Scope::Global,
        };
        let enabled = f.bool_or("enabled", true)?;
        let config = f
            .raw("config")
            .cloned()
            .unwrap_or(Value::Object(Default::default()));
        f.accept(&[
            "id",
            "tags",
            "protocols",
            "instance_name",
            "ordering",
            "created_at",
            "updated_at",
        ]);
        f.finish("a plugin here has name, config, enabled, route, service, protocols, tags")?;
        let parsed = oidc::read(&format!("{entity}.config"), &config)?;
        if !enabled {
            return Ok(());
        }
        if let Some((_, other)) = self.scopes.get(&scope) {
            return Err(FieldError {
                entity,
                key: "name".into(),
                message: format!("{other} already applies openid-connect here; one instance per route, service or globally"),
            });
        }
        self.scopes
            .insert(scope, (self.plugins.len(), entity.clone()));
        self.plugins.push(Arc::new(parsed));
        Ok(())
    }
}
