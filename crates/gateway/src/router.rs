//! Which route a request takes, and the path it is forwarded with.
//!
//! Routes are tried in Kong's order of precedence: the more of hosts, headers and methods a
//! route sets, the earlier; then regex paths by `regex_priority`; then the longer plain path;
//! then the order of the file. The first route whose every set criterion matches wins.

use crate::config::{PathHandling, PathMatch, Route, Service};
use http::HeaderMap;

/// A matched route: its index, and how much of the path its `paths` entry matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    pub route: usize,
    /// Bytes of the request path the matching `paths` entry covered (0 without paths).
    pub matched: usize,
}

pub struct Router {
    /// Route indexes in the order they are tried.
    order: Vec<usize>,
}

/// The precedence of a route; greater sorts first. Kong's `traditional_compatible` order:
/// how many criteria the route sets; hosts without wildcards; how many headers; regex paths
/// before plain ones, regexes by `regex_priority`; the longer plain path.
fn precedence(r: &Route) -> (usize, bool, usize, bool, i64, usize) {
    let criteria = usize::from(!r.hosts.is_empty())
        + usize::from(!r.headers.is_empty())
        + usize::from(!r.methods.is_empty())
        + usize::from(!r.paths.is_empty());
    let plain_hosts = !r.hosts.is_empty() && r.hosts.iter().all(|h| !h.contains('*'));
    let has_regex = r.paths.iter().any(|p| matches!(p, PathMatch::Regex(_)));
    let longest = r
        .paths
        .iter()
        .map(|p| match p {
            PathMatch::Prefix(s) => s.len(),
            PathMatch::Regex(_) => 0,
        })
        .max()
        .unwrap_or(0);
    (
        criteria,
        plain_hosts,
        r.headers.len(),
        has_regex,
        if has_regex { r.regex_priority } else { 0 },
        longest,
    )
}

fn host_matches(pattern: &str, host: &str) -> bool {
    if let Some(suffix) = pattern.strip_prefix("*.") {
        host.len() > suffix.len() + 1
            && host.ends_with(suffix)
            && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
    } else if let Some(prefix) = pattern.strip_suffix(".*") {
        host.len() > prefix.len() + 1
            && host.starts_with(prefix)
            && host.as_bytes()[prefix.len()] == b'.'
    } else {
        pattern == host
    }
}

impl Router {
    pub fn new(routes: &[Route]) -> Router {
        let mut order: Vec<usize> = (0..routes.len()).collect();
        // Stable: equal precedence keeps the file's order.
        order.sort_by(|a, b| precedence(&routes[*b]).cmp(&precedence(&routes[*a])));
        Router { order }
    }

    /// The route for a request. `host` is the Host header without its port, lower-cased.
    pub fn find(
        &self,
        routes: &[Route],
        method: &str,
        host: &str,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<Matched> {
        self.order.iter().find_map(|&i| {
            let r = &routes[i];
            if !r.methods.is_empty() && !r.methods.iter().any(|m| m == method) {
                return None;
            }
            if !r.hosts.is_empty() && !r.hosts.iter().any(|h| host_matches(h, host)) {
                return None;
            }
            for (name, values) in &r.headers {
                let found = headers.get_all(name.as_str()).iter().any(|v| {
                    v.to_str()
                        .is_ok_and(|v| values.iter().any(|want| want.eq_ignore_ascii_case(v)))
                });
                if !found {
                    return None;
                }
            }
            let matched = if r.paths.is_empty() {
                0
            } else {
                r.paths.iter().find_map(|p| match p {
                    PathMatch::Prefix(prefix) => {
                        path.starts_with(prefix.as_str()).then_some(prefix.len())
                    }
                    PathMatch::Regex(re) => re.find(path).map(|m| m.end()),
                })?
            };
            Some(Matched { route: i, matched })
        })
    }
}

/// The upstream path (without the query) for a request path, as Kong builds it
/// (`get_upstream_uri_v0`; v1 concatenates, collapsing one doubled slash).
pub fn upstream_path(service: &Service, route: &Route, path: &str, matched: usize) -> String {
    let base = service.path.as_deref().unwrap_or("/");
    if !route.strip_path {
        return match (route.path_handling, base.ends_with('/')) {
            (_, true) | (PathHandling::V1, _) => format!("{base}{}", &path[1.min(path.len())..]),
            (PathHandling::V0, false) if path == "/" => base.to_string(),
            (PathHandling::V0, false) => format!("{base}{path}"),
        };
    }
    let mut rest = &path[matched.min(path.len())..];
    // A leading "./" or "../" is dropped; "." or ".." alone is nothing.
    for dots in ["../", "./"] {
        if let Some(r) = rest.strip_prefix(dots) {
            rest = r;
        }
    }
    if rest == "." || rest == ".." {
        rest = "";
    }
    if route.path_handling == PathHandling::V1 {
        return match (base.ends_with('/'), rest.starts_with('/')) {
            (true, true) => format!("{base}{}", &rest[1..]),
            _ => format!("{base}{rest}"),
        };
    }
    let trailing = path.len() > 1 && path.ends_with('/');
    if let Some(base_trimmed) = base.strip_suffix('/') {
        if rest.is_empty() {
            if base == "/" || trailing {
                base.to_string()
            } else {
                base_trimmed.to_string()
            }
        } else if rest.starts_with('/') {
            format!("{base_trimmed}{rest}")
        } else {
            format!("{base}{rest}")
        }
    } else if rest.is_empty() {
        if trailing {
            format!("{base}/")
        } else {
            base.to_string()
        }
    } else if rest.starts_with('/') {
        format!("{base}{rest}")
    } else {
        format!("{base}/{rest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn service(path: Option<&str>) -> Service {
        Service {
            name: "s".into(),
            scheme: "http".into(),
            host: "up".into(),
            port: 80,
            path: path.map(str::to_string),
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            retries: 0,
            tls_verify: true,
        }
    }

    fn route(name: &str, paths: &[&str]) -> Route {
        Route {
            name: name.into(),
            service: 0,
            paths: paths
                .iter()
                .map(|p| match p.strip_prefix('~') {
                    Some(re) => PathMatch::Regex(regex::Regex::new(&format!("^{re}")).unwrap()),
                    None => PathMatch::Prefix(p.to_string()),
                })
                .collect(),
            hosts: vec![],
            methods: vec![],
            headers: vec![],
            strip_path: true,
            preserve_host: false,
            path_handling: PathHandling::V0,
            regex_priority: 0,
            plugin: None,
        }
    }

    fn find(routes: &[Route], method: &str, host: &str, path: &str) -> Option<String> {
        Router::new(routes)
            .find(routes, method, host, path, &HeaderMap::new())
            .map(|m| routes[m.route].name.clone())
    }

    #[test]
    fn the_longest_prefix_and_the_most_specific_route_win() {
        let mut with_host = route("host", &["/api"]);
        with_host.hosts = vec!["*.example.com".into()];
        let mut get_only = route("get", &["/"]);
        get_only.methods = vec!["GET".into()];
        let routes = vec![
            route("root", &["/"]),
            route("api", &["/api"]),
            route("v1", &["/api/v1"]),
            with_host,
            get_only,
        ];
        assert_eq!(
            find(&routes, "POST", "x", "/api/v1/users").as_deref(),
            Some("v1")
        );
        assert_eq!(
            find(&routes, "POST", "x", "/api/v2").as_deref(),
            Some("api")
        );
        assert_eq!(
            find(&routes, "POST", "a.example.com", "/api/v1").as_deref(),
            Some("host")
        );
        assert_eq!(find(&routes, "GET", "x", "/other").as_deref(), Some("get"));
        assert_eq!(
            find(&routes, "POST", "x", "/other").as_deref(),
            Some("root")
        );
        assert_eq!(find(&routes[1..3], "GET", "x", "/nothing"), None);
    }

    #[test]
    fn regex_paths_by_priority() {
        let mut hi = route("hi", &[r"~/users/\d+"]);
        hi.regex_priority = 10;
        let lo = route("lo", &[r"~/users/.*"]);
        let routes = vec![lo, hi, route("plain", &["/users"])];
        assert_eq!(
            find(&routes, "GET", "x", "/users/42").as_deref(),
            Some("hi")
        );
        assert_eq!(
            find(&routes, "GET", "x", "/users/bob").as_deref(),
            Some("lo")
        );
    }

    #[test]
    fn wildcard_hosts() {
        assert!(host_matches("*.example.com", "a.example.com"));
        assert!(!host_matches("*.example.com", "example.com"));
        assert!(!host_matches("*.example.com", "aexample.com"));
        assert!(host_matches("api.*", "api.internal"));
        assert!(!host_matches("api.*", "apix.internal"));
    }

    #[test]
    fn upstream_paths_as_kong_joins_them() {
        let r = route("r", &["/fv0"]);
        let mut v1 = r.clone();
        v1.path_handling = PathHandling::V1;
        let cases = [
            (Some("/s"), "/fv0/req", "/s/req", "/s/req"),
            (Some("/s"), "/fv0req", "/s/req", "/sreq"),
            (Some("/s/"), "/fv0/req", "/s/req", "/s/req"),
            (Some("/s"), "/fv0", "/s", "/s"),
            (Some("/s"), "/fv0/", "/s/", "/s/"),
            (Some("/s/"), "/fv0", "/s", "/s/"),
            (None, "/fv0/req", "/req", "/req"),
            (None, "/fv0", "/", "/"),
            (Some("/"), "/fv0/x", "/x", "/x"),
        ];
        for (base, path, want_v0, want_v1) in cases {
            let s = service(base);
            assert_eq!(
                upstream_path(&s, &r, path, 4),
                want_v0,
                "v0 {base:?} {path}"
            );
            assert_eq!(
                upstream_path(&s, &v1, path, 4),
                want_v1,
                "v1 {base:?} {path}"
            );
        }
        let mut keep = r.clone();
        keep.strip_path = false;
        assert_eq!(
            upstream_path(&service(Some("/s")), &keep, "/fv0/req", 4),
            "/s/fv0/req"
        );
        assert_eq!(
            upstream_path(&service(Some("/s/")), &keep, "/fv0/req", 4),
            "/s/fv0/req"
        );
        assert_eq!(
            upstream_path(&service(None), &keep, "/fv0/req", 4),
            "/fv0/req"
        );
    }
}
