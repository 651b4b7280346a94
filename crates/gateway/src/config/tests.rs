use super::*;
use crate::config::oidc::{HeaderSpec, LoginAction, Method, Place, SessionStorage};

fn env(name: &str) -> Option<String> {
    (name == "GW_SECRET").then(|| "from-env".to_string())
}

fn load(yaml: &str) -> Result<Config, ConfigError> {
    parse(Path::new("kong.yml"), yaml, &env)
}

fn error(yaml: &str) -> String {
    load(yaml).unwrap_err().to_string()
}

const SEED: &str = r#"
_format_version: "3.0"
services:
  - name: httpbin
    url: http://127.0.0.1:9000/anything
    routes:
      - name: api
        paths: [/api]
    plugins:
      - name: openid-connect
        config:
          issuer: http://127.0.0.1:8080/realms/demo
          client_id: [gateway]
          client_secret: ["{vault://env/gw-secret}"]
          auth_methods: [refresh_token, password]
          refresh_token_param_name: refresh_token
          refresh_token_param_type: [header]
          upstream_refresh_token_header: refresh_token
"#;

#[test]
fn the_seed_how_to_loads_as_kong_reads_it() {
    let c = load(SEED).unwrap();
    assert_eq!(c.services.len(), 1);
    let s = &c.services[0];
    assert_eq!(
        (
            s.scheme.as_str(),
            s.host.as_str(),
            s.port,
            s.path.as_deref()
        ),
        ("http", "127.0.0.1", 9000, Some("/anything"))
    );
    assert_eq!(s.read_timeout, std::time::Duration::from_secs(60));
    let r = &c.routes[0];
    assert!(r.strip_path && !r.preserve_host);
    assert_eq!(r.plugin, Some(0));
    let p = &c.plugins[0];
    assert_eq!(p.issuer, "http://127.0.0.1:8080/realms/demo");
    assert_eq!(
        p.discovery_url,
        "http://127.0.0.1:8080/realms/demo/.well-known/openid-configuration"
    );
    assert_eq!(p.client_secret.as_deref(), Some("from-env"));
    assert_eq!(p.methods, vec![Method::RefreshToken, Method::Password]);
    assert_eq!(p.refresh_token_places, vec![Place::Header]);
    assert_eq!(
        p.upstream.access_token,
        Some(HeaderSpec::Authorization("Bearer"))
    );
    assert!(
        matches!(&p.upstream.refresh_token, Some(HeaderSpec::Named(n)) if n == "refresh-token")
    );
    assert!(
        p.hide_credentials,
        "latchkey hides the client's credentials unless told not to"
    );
    assert_eq!(p.login_action, LoginAction::Upstream);
    assert_eq!(p.session.storage, SessionStorage::Memory);
}

#[test]
fn errors_name_the_file_the_entity_and_the_key() {
    let e = error(&SEED.replace("refresh_token_param_type", "refresh_token_param_kind"));
    assert_eq!(
        e,
        "kong.yml: services[0] 'httpbin'.plugins[0] 'openid-connect'.config: key 'refresh_token_param_kind': unknown key (not a key of Kong's openid-connect plugin)"
    );
    let e = error(&SEED.replace("paths: [/api]", "paths: [/api]\n        colour: red"));
    assert!(
        e.starts_with("kong.yml: services[0] 'httpbin'.routes[0] 'api': key 'colour': unknown key"),
        "{e}"
    );
    let e = error(&SEED.replace("name: openid-connect", "name: rate-limiting"));
    assert!(
        e.contains("key 'name': plugin 'rate-limiting' is not supported"),
        "{e}"
    );
    let e = error(&SEED.replace("gw-secret", "missing-secret"));
    assert!(
        e.contains("key 'client_secret[0]'") && e.contains("MISSING_SECRET, which is not set"),
        "{e}"
    );
    let e = error(&SEED.replace(
        "auth_methods: [refresh_token, password]",
        "auth_methods: [refresh_token, kong_oauth2]",
    ));
    assert!(e.contains("'kong_oauth2' is not supported"), "{e}");
    let e = error(&SEED.replace(
        "upstream_refresh_token_header: refresh_token",
        "anonymous: guest",
    ));
    assert!(
        e.contains(
            "key 'anonymous': Kong's plugin has this key; latchkey gateway does not implement it"
        ),
        "{e}"
    );
    let e = error(&SEED.replace("\"3.0\"", "\"4.0\""));
    assert!(e.contains("key '_format_version'"), "{e}");
    assert!(error("services: [").contains("not valid YAML"));
    assert!(error("").contains("empty"));
    let e = error("_format_version: \"3.0\"\nconsumers: [{username: x}]\n");
    assert!(e.contains("key 'consumers'"), "{e}");
}

#[test]
fn top_level_routes_and_plugins_refer_by_name_and_the_route_wins() {
    let c = load(
        r#"
_format_version: "3.0"
services:
  - name: a
    url: https://a.internal
  - name: b
    url: http://b.internal:8081/
routes:
  - name: ra
    service: a
    paths: ["~/v[0-9]+/"]
  - name: rb
    service: b
    hosts: ["*.example.com"]
plugins:
  - name: openid-connect
    config: {issuer: "http://idp/realms/x", auth_methods: [bearer]}
  - name: openid-connect
    route: ra
    config: {issuer: "http://idp/realms/y", auth_methods: [bearer]}
"#,
    )
    .unwrap();
    assert_eq!(c.services[0].port, 443);
    assert_eq!(c.routes[0].plugin, Some(1), "the route's own instance");
    assert_eq!(c.routes[1].plugin, Some(0), "the global instance");
    assert!(matches!(c.routes[0].paths[0], PathMatch::Regex(_)));
    let e = error(
        r#"
_format_version: "3.0"
services: [{name: a, url: "http://a"}]
routes: [{name: r, service: nope, paths: [/]}]
"#,
    );
    assert!(
        e.contains("routes[0] 'r': key 'service': no service is named 'nope'"),
        "{e}"
    );
    let e = error(
        r#"
_format_version: "3.0"
services: [{name: a, url: "http://a", routes: [{name: r, paths: [/]}]}]
plugins:
  - {name: openid-connect, config: {issuer: "http://i", auth_methods: [bearer]}}
  - {name: openid-connect, config: {issuer: "http://j", auth_methods: [bearer]}}
"#,
    );
    assert!(e.contains("already applies openid-connect here"), "{e}");
}

#[test]
fn json_files_and_kong_3_8_redis_records() {
    let c = parse(
        Path::new("kong.json"),
        r#"{"_format_version":"3.0","services":[{"name":"a","url":"http://a","routes":[{"paths":["/"],
            "plugins":[{"name":"openid-connect","config":{"issuer":"http://i/.well-known/openid-configuration",
            "client_id":"c","auth_methods":["session","authorization_code"],"session_storage":"redis",
            "redis":{"host":"10.0.0.1","port":6380,"database":2}}}]}]}]}"#,
        &env,
    )
    .unwrap();
    let p = &c.plugins[0];
    assert_eq!(p.issuer, "http://i");
    assert_eq!(p.discovery_url, "http://i/.well-known/openid-configuration");
    match &p.session.storage {
        SessionStorage::Redis(r) => {
            assert_eq!((r.host.as_str(), r.port, r.database), ("10.0.0.1", 6380, 2))
        }
        other => panic!("{other:?}"),
    }
}
