//! The `openid-connect` plugin's `config`, read with Kong's key names, types and defaults.
//! Keys of Kong's plugin that latchkey does not implement are refused by name when set, so a
//! pasted configuration never silently loses a protection it asked for.

use super::reader::{Fields, Result};
use serde_json::Value;
use std::time::Duration;

/// Where a credential may be looked for, in the order listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Header,
    Cookie,
    Query,
    Body,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    Basic,
    Post,
    None,
}

/// The auth methods Kong's plugin knows, in the fixed order it tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Session,
    Bearer,
    Introspection,
    RefreshToken,
    Password,
    ClientCredentials,
    AuthorizationCode,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Session => "session",
            Method::Bearer => "bearer",
            Method::Introspection => "introspection",
            Method::RefreshToken => "refresh_token",
            Method::Password => "password",
            Method::ClientCredentials => "client_credentials",
            Method::AuthorizationCode => "authorization_code",
        }
    }
}

/// A header the plugin sets: `authorization:bearer` (and `:basic`) or a literal name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderSpec {
    Authorization(&'static str),
    Named(http::HeaderName),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAction {
    Upstream,
    Response,
    Redirect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub database: i64,
    pub prefix: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStorage {
    /// In this gateway process (Kong's `cookie`: here the cookie only names the session).
    Memory,
    Redis(RedisConfig),
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Keys the session cookie's MAC; random per process when unset.
    pub secret: Option<String>,
    pub cookie_name: String,
    pub cookie_path: String,
    pub cookie_domain: Option<String>,
    pub cookie_same_site: String,
    pub cookie_http_only: bool,
    /// `None`: Secure when the request came over https.
    pub cookie_secure: Option<bool>,
    pub idling_timeout: u64,
    pub rolling_timeout: u64,
    pub absolute_timeout: u64,
    pub storage: SessionStorage,
}

#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    pub token: Option<String>,
    pub introspection: Option<String>,
    pub revocation: Option<String>,
    pub end_session: Option<String>,
    pub authorization: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Headers {
    pub access_token: Option<HeaderSpec>,
    pub id_token: Option<HeaderSpec>,
    pub refresh_token: Option<HeaderSpec>,
    pub introspection: Option<HeaderSpec>,
    /// `(claim path, header)`: the claim's value, when the token has it.
    pub claims: Vec<(Vec<String>, http::HeaderName)>,
}

/// A `*_required` check: any element (OR) whose every space-separated value (AND) is in the
/// claim found at `claim`.
#[derive(Debug, Clone, Default)]
pub struct Requirement {
    pub any_of: Vec<Vec<String>>,
    pub claim: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Where this instance stands in the configuration, for logs.
    pub entity: String,
    pub issuer: String,
    pub discovery_url: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_auth: ClientAuth,
    pub methods: Vec<Method>,
    pub bearer_places: Vec<Place>,
    pub bearer_cookie_name: Option<String>,
    pub refresh_token_param_name: Option<String>,
    pub refresh_token_places: Vec<Place>,
    pub password_places: Vec<Place>,
    pub client_credentials_places: Vec<Place>,
    pub endpoints: Endpoints,
    pub hide_credentials: bool,
    pub upstream: Headers,
    pub downstream: Headers,
    pub scopes_required: Requirement,
    pub audience_required: Requirement,
    pub roles_required: Requirement,
    pub groups_required: Requirement,
    pub issuers_allowed: Vec<String>,
    pub cache_tokens: bool,
    pub cache_introspection: bool,
    pub cache_ttl: u64,
    pub cache_ttl_min: Option<u64>,
    pub cache_ttl_max: Option<u64>,
    pub leeway: i64,
    pub redirect_uri: Option<String>,
    pub scopes: Vec<String>,
    pub pkce: Option<bool>,
    pub login_action: LoginAction,
    pub login_redirect_uri: Option<String>,
    pub login_tokens: Vec<String>,
    pub preserve_query_args: bool,
    pub authorization_cookie_name: String,
    pub authorization_rolling_timeout: u64,
    pub logout_uri_suffix: Option<String>,
    pub logout_query_arg: Option<String>,
    pub logout_post_arg: Option<String>,
    pub logout_methods: Vec<String>,
    pub logout_revoke: bool,
    pub logout_revoke_access_token: bool,
    pub logout_revoke_refresh_token: bool,
    pub logout_redirect_uri: Option<String>,
    pub session: SessionConfig,
    pub refresh_tokens: bool,
    pub rediscovery_lifetime: Duration,
    pub unauthorized_error_message: String,
    pub forbidden_error_message: String,
    pub display_errors: bool,
    pub expose_error_code: bool,
    pub ssl_verify: bool,
    pub timeout: Duration,
    pub run_on_preflight: bool,
}

const PLACES: &[&str] = &["header", "cookie", "query", "body"];
const GRANT_PLACES: &[&str] = &["header", "query", "body"];
const ALL_METHODS: &[&str] = &[
    "password",
    "client_credentials",
    "authorization_code",
    "bearer",
    "introspection",
    "userinfo",
    "kong_oauth2",
    "refresh_token",
    "session",
];

/// Keys of Kong's plugin that latchkey does not implement: an error when set.
const UNSUPPORTED: &[&str] = &[
    "anonymous",
    "consumer_claim",
    "consumer_by",
    "consumer_optional",
    "credential_claim",
    "by_username_ignore_case",
    "client_jwk",
    "client_alg",
    "client_arg",
    "extra_jwks_uris",
    "using_pseudo_issuer",
    "token_exchange_endpoint",
    "pushed_authorization_request_endpoint",
    "pushed_authorization_request_endpoint_auth_method",
    "require_pushed_authorization_requests",
    "require_signed_request_object",
    "mtls_token_endpoint",
    "mtls_introspection_endpoint",
    "mtls_revocation_endpoint",
    "tls_client_auth_cert_id",
    "proof_of_possession_mtls",
    "proof_of_possession_dpop",
    "session_memcached_host",
    "session_memcached_port",
    "session_memcached_prefix",
    "session_memcached_socket",
    "session_redis_socket",
    "session_redis_cluster_nodes",
    "session_redis_cluster_max_redirections",
    "session_redis_ssl",
    "session_remember",
    "session_request_headers",
    "session_response_headers",
    "http_proxy",
    "https_proxy",
    "http_proxy_authorization",
    "https_proxy_authorization",
    "upstream_user_info_header",
    "upstream_user_info_jwt_header",
    "upstream_introspection_jwt_header",
    "upstream_access_token_jwk_header",
    "upstream_id_token_jwk_header",
    "upstream_session_id_header",
    "downstream_user_info_header",
    "downstream_user_info_jwt_header",
    "downstream_introspection_jwt_header",
    "downstream_access_token_jwk_header",
    "downstream_id_token_jwk_header",
    "downstream_session_id_header",
    "unauthorized_redirect_uri",
    "forbidden_redirect_uri",
    "unexpected_redirect_uri",
    "id_token_param_name",
    "authenticated_groups_claim",
    "jwt_session_claim",
    "jwt_session_cookie",
    "introspect_jwt_tokens",
    "search_user_info",
    "userinfo_endpoint",
    "cluster_cache_strategy",
    "claims_forbidden",
    "domains",
    "max_age",
    "audience",
    "response_type",
    "token_headers_names",
    "token_headers_values",
    "token_post_args_names",
    "token_post_args_values",
    "authorization_query_args_names",
    "authorization_query_args_values",
    "authorization_query_args_client",
    "introspection_headers_names",
    "introspection_headers_values",
    "introspection_post_args_names",
    "introspection_post_args_values",
    "discovery_headers_names",
    "discovery_headers_values",
    "ignore_signature",
    "enable_hs_signatures",
];

/// Keys accepted and without effect here: they tune Kong internals latchkey does differently
/// (its caches, its HTTP client, its cookie library) or restate behaviour latchkey always has.
const WITHOUT_EFFECT: &[&str] = &[
    "cache_tokens_salt",
    "cache_ttl_neg",
    "cache_ttl_resurrect",
    "cache_user_info",
    "cache_token_exchange",
    "token_cache_key_include_scope",
    "keepalive",
    "http_version",
    "no_proxy",
    "session_audience",
    "session_store_metadata",
    "session_enforce_same_subject",
    "session_hash_subject",
    "session_hash_storage_key",
    "session_redis_connect_timeout",
    "session_redis_read_timeout",
    "session_redis_send_timeout",
    "session_redis_ssl_verify",
    "session_redis_server_name",
    "authorization_cookie_path",
    "authorization_cookie_domain",
    "authorization_cookie_same_site",
    "authorization_cookie_http_only",
    "authorization_cookie_secure",
    "introspection_hint",
    "introspection_accept",
    "introspection_check_active",
    "introspection_token_param_name",
    "revocation_token_param_name",
    "introspection_endpoint_auth_method",
    "revocation_endpoint_auth_method",
    "token_endpoint_auth_method",
    "userinfo_accept",
    "userinfo_headers_names",
    "userinfo_headers_values",
    "userinfo_query_args_names",
    "userinfo_query_args_values",
    "userinfo_query_args_client",
    "resolve_distributed_claims",
    "verify_parameters",
    "tls_client_auth_ssl_verify",
    "login_methods",
    "login_redirect_mode",
    "disable_session",
    "reverify",
    "unauthorized_destroy_session",
    "forbidden_destroy_session",
    "dpop_use_nonce",
    "dpop_proof_lifetime",
    "proof_of_possession_auth_methods_validation",
    "token_headers_client",
    "token_headers_replay",
    "token_headers_prefix",
    "token_headers_grants",
    "token_post_args_client",
];

fn places(f: &mut Fields<'_>, key: &'static str, allowed: &[&str]) -> Result<Vec<Place>> {
    Ok(f.choices_or(key, allowed, GRANT_PLACES)?
        .iter()
        .map(|p| match p.as_str() {
            "header" => Place::Header,
            "cookie" => Place::Cookie,
            "query" => Place::Query,
            _ => Place::Body,
        })
        .collect())
}

fn header_spec(
    f: &mut Fields<'_>,
    key: &'static str,
    default: Option<&str>,
) -> Result<Option<HeaderSpec>> {
    let v = match f.opt_str(key)? {
        Some(v) => v,
        None => match default {
            Some(d) => d.to_string(),
            None => return Ok(None),
        },
    };
    Ok(Some(match v.to_ascii_lowercase().as_str() {
        "authorization:bearer" => HeaderSpec::Authorization("Bearer"),
        "authorization:basic" => HeaderSpec::Authorization("Basic"),
        // `refresh_token` is sent as `refresh-token`: many servers drop header names with
        // underscores (nginx, gunicorn), and Kong's own lookups treat the two alike.
        other => HeaderSpec::Named(
            http::HeaderName::from_bytes(other.replace('_', "-").as_bytes())
                .map_err(|_| f.error(key, format!("'{v}' is not a header name")))?,
        ),
    }))
}

fn claim_headers(
    f: &mut Fields<'_>,
    claims_key: &'static str,
    names_key: &'static str,
) -> Result<Vec<(Vec<String>, http::HeaderName)>> {
    let claims = f.list_or(claims_key, &[])?;
    let names = f.list_or(names_key, &[])?;
    if claims.len() != names.len() {
        return Err(f.error(
            names_key,
            format!("{names_key} must name one header for each of {claims_key}"),
        ));
    }
    claims
        .into_iter()
        .zip(names)
        .map(|(c, n)| {
            let name = http::HeaderName::from_bytes(n.replace('_', "-").as_bytes())
                .map_err(|_| f.error(names_key, format!("'{n}' is not a header name")))?;
            Ok((vec![c], name))
        })
        .collect()
}

fn requirement(
    f: &mut Fields<'_>,
    key: &'static str,
    claim_key: &'static str,
    claim: &str,
) -> Result<Requirement> {
    let any_of = f
        .list_or(key, &[])?
        .iter()
        .map(|e| e.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .filter(|all: &Vec<String>| !all.is_empty())
        .collect();
    Ok(Requirement {
        any_of,
        claim: f.list_or(claim_key, &[claim])?,
    })
}

/// Where Redis is: Kong 3.8's `redis` record, or the older `session_redis_*` keys.
fn redis(f: &mut Fields<'_>) -> Result<RedisConfig> {
    if let Some(record) = f.raw("redis").cloned() {
        let mut r = Fields::new(format!("{}.redis", f.entity()), &record)?;
        let cfg = RedisConfig {
            host: r.str_or("host", "127.0.0.1")?,
            port: r.int_or("port", 6379, 1, 65_535)? as u16,
            username: r.opt_str("username")?,
            password: r.opt_str("password")?,
            database: r.int_or("database", 0, 0, 1_000_000)?,
            prefix: r.str_or("prefix", "")?,
        };
        r.accept(&[
            "connect_timeout",
            "read_timeout",
            "send_timeout",
            "ssl_verify",
            "server_name",
            "keepalive_pool_size",
            "keepalive_backlog",
        ]);
        if r.bool_or("ssl", false)? {
            return Err(r.error("ssl", "TLS to Redis is not supported"));
        }
        for key in [
            "socket",
            "cluster_nodes",
            "sentinel_nodes",
            "sentinel_master",
            "sentinel_role",
            "cluster_max_redirections",
            "sentinel_username",
            "sentinel_password",
            "connection_is_proxied",
        ] {
            if r.has(key) {
                return Err(r.error(
                    key,
                    "Redis sockets, clusters and sentinels are not supported: give host and port",
                ));
            }
            r.accept(&[key]);
        }
        r.finish("a redis record here has host, port, username, password, database, prefix")?;
        return Ok(cfg);
    }
    Ok(RedisConfig {
        host: f.str_or("session_redis_host", "127.0.0.1")?,
        port: f.int_or("session_redis_port", 6379, 1, 65_535)? as u16,
        username: f.opt_str("session_redis_username")?,
        password: f.opt_str("session_redis_password")?,
        database: f.int_or("session_redis_database", 0, 0, 1_000_000)?,
        prefix: f.str_or("session_redis_prefix", "")?,
    })
}

fn first(f: &mut Fields<'_>, key: &'static str) -> Result<Option<String>> {
    let list = f.opt_list(key)?.unwrap_or_default();
    if list.len() > 1 {
        return Err(f.error(
            key,
            "one value only: latchkey gateway uses one client per plugin instance",
        ));
    }
    Ok(list.into_iter().next().filter(|s| !s.is_empty()))
}

fn url(f: &mut Fields<'_>, key: &'static str) -> Result<Option<String>> {
    let v = f.opt_str(key)?;
    if let Some(u) = &v {
        if !(u.starts_with("http://") || u.starts_with("https://"))
            || u.parse::<http::Uri>().is_err()
        {
            return Err(f.error(key, format!("'{u}' is not an http(s) URL")));
        }
    }
    Ok(v)
}

fn seconds(f: &mut Fields<'_>, key: &'static str, default: i64) -> Result<u64> {
    Ok(f.float_or(key, default as f64, 0.0, 1e9)?.round() as u64)
}

pub fn read(entity: &str, config: &Value) -> Result<OidcConfig> {
    let mut f = Fields::new(entity.to_string(), config)?;
    for key in UNSUPPORTED {
        if f.has(key) {
            return Err(f.error(key, "Kong's plugin has this key; latchkey gateway does not implement it (remove it, or see the README for what is supported)"));
        }
        f.accept(&[key]);
    }
    f.accept(WITHOUT_EFFECT);

    let issuer_setting = f.required_str("issuer")?;
    if !(issuer_setting.starts_with("http://") || issuer_setting.starts_with("https://")) {
        return Err(f.error(
            "issuer",
            format!("'{issuer_setting}' is not an http(s) URL"),
        ));
    }
    // Kong takes the issuer or its discovery document's URL.
    let trimmed = issuer_setting.trim_end_matches('/');
    let issuer = [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ]
    .iter()
    .find_map(|s| trimmed.strip_suffix(s))
    .unwrap_or(trimmed)
    .to_string();
    let discovery_url = if trimmed.contains("/.well-known/") {
        trimmed.to_string()
    } else {
        format!("{issuer}/.well-known/openid-configuration")
    };

    let client_id = first(&mut f, "client_id")?;
    let client_secret = first(&mut f, "client_secret")?;
    let client_auth = match f
        .choices_or(
            "client_auth",
            &["client_secret_basic", "client_secret_post", "none"],
            &[],
        )?
        .first()
        .map(String::as_str)
    {
        Some("client_secret_post") => ClientAuth::Post,
        Some("none") => ClientAuth::None,
        Some(_) => ClientAuth::Basic,
        None if client_secret.is_some() => ClientAuth::Basic,
        None => ClientAuth::None,
    };

    let names = f.choices_or("auth_methods", ALL_METHODS, ALL_METHODS)?;
    let explicit = f.has("auth_methods");
    let mut methods = Vec::new();
    for n in &names {
        let m = match n.as_str() {
            "session" => Method::Session,
            "bearer" => Method::Bearer,
            "introspection" => Method::Introspection,
            "refresh_token" => Method::RefreshToken,
            "password" => Method::Password,
            "client_credentials" => Method::ClientCredentials,
            "authorization_code" => Method::AuthorizationCode,
            // Listed by Kong's default; refused only when asked for by name.
            other if explicit => {
                return Err(f.error(
                    "auth_methods",
                    format!("'{other}' is not supported by latchkey gateway"),
                ))
            }
            _ => continue,
        };
        if !methods.contains(&m) {
            methods.push(m);
        }
    }
    methods.sort();
    if methods.is_empty() {
        return Err(f.error("auth_methods", "lists no method latchkey gateway supports"));
    }
    let needs_client = methods.iter().any(|m| {
        matches!(
            m,
            Method::RefreshToken
                | Method::Password
                | Method::AuthorizationCode
                | Method::Introspection
        )
    });
    if needs_client && client_id.is_none() {
        return Err(f.error(
            "client_id",
            "is required for the refresh_token, password, authorization_code and introspection methods",
        ));
    }

    let bearer_places = places(&mut f, "bearer_token_param_type", PLACES)?;
    let bearer_cookie_name = f.opt_str("bearer_token_cookie_name")?;
    if bearer_places.contains(&Place::Cookie) && bearer_cookie_name.is_none() {
        return Err(f.error(
            "bearer_token_cookie_name",
            "is required when bearer_token_param_type includes cookie",
        ));
    }
    let refresh_token_param_name = f.opt_str("refresh_token_param_name")?;
    let refresh_token_places = places(&mut f, "refresh_token_param_type", GRANT_PLACES)?;
    let password_places = places(&mut f, "password_param_type", GRANT_PLACES)?;
    let client_credentials_places = places(&mut f, "client_credentials_param_type", GRANT_PLACES)?;

    let endpoints = Endpoints {
        token: url(&mut f, "token_endpoint")?,
        introspection: url(&mut f, "introspection_endpoint")?,
        revocation: url(&mut f, "revocation_endpoint")?,
        end_session: url(&mut f, "end_session_endpoint")?,
        authorization: url(&mut f, "authorization_endpoint")?,
    };

    let upstream = Headers {
        access_token: header_spec(
            &mut f,
            "upstream_access_token_header",
            Some("authorization:bearer"),
        )?,
        id_token: header_spec(&mut f, "upstream_id_token_header", None)?,
        refresh_token: header_spec(&mut f, "upstream_refresh_token_header", None)?,
        introspection: header_spec(&mut f, "upstream_introspection_header", None)?,
        claims: claim_headers(&mut f, "upstream_headers_claims", "upstream_headers_names")?,
    };
    let downstream = Headers {
        access_token: header_spec(&mut f, "downstream_access_token_header", None)?,
        id_token: header_spec(&mut f, "downstream_id_token_header", None)?,
        refresh_token: header_spec(&mut f, "downstream_refresh_token_header", None)?,
        introspection: header_spec(&mut f, "downstream_introspection_header", None)?,
        claims: claim_headers(
            &mut f,
            "downstream_headers_claims",
            "downstream_headers_names",
        )?,
    };

    let storage = match f
        .choice_or(
            "session_storage",
            &["cookie", "memcache", "memcached", "redis"],
            "cookie",
        )?
        .as_str()
    {
        "redis" => SessionStorage::Redis(redis(&mut f)?),
        "cookie" => SessionStorage::Memory,
        _ => return Err(f.error(
            "session_storage",
            "memcached is not supported: use 'cookie' (sessions kept in the gateway) or 'redis'",
        )),
    };
    f.accept(&[
        "redis",
        "session_redis_host",
        "session_redis_port",
        "session_redis_username",
        "session_redis_password",
        "session_redis_database",
        "session_redis_prefix",
    ]);
    let secure = match f.raw("session_cookie_secure") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(f.error("session_cookie_secure", "must be a boolean")),
    };
    let session = SessionConfig {
        secret: f.opt_str("session_secret")?,
        cookie_name: f.str_or("session_cookie_name", "session")?,
        cookie_path: f.str_or("session_cookie_path", "/")?,
        cookie_domain: f.opt_str("session_cookie_domain")?,
        cookie_same_site: f.choice_or(
            "session_cookie_same_site",
            &["Strict", "Lax", "None", "Default"],
            "Lax",
        )?,
        cookie_http_only: f.bool_or("session_cookie_http_only", true)?,
        cookie_secure: secure,
        idling_timeout: seconds(&mut f, "session_idling_timeout", 900)?,
        rolling_timeout: seconds(&mut f, "session_rolling_timeout", 3600)?,
        absolute_timeout: seconds(&mut f, "session_absolute_timeout", 86_400)?,
        storage,
    };
    if session.cookie_name.is_empty()
        || !session
            .cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(f.error(
            "session_cookie_name",
            "must be letters, digits, '-', '_' or '.'",
        ));
    }
    if session.cookie_same_site == "None" && session.cookie_secure == Some(false) {
        return Err(f.error(
            "session_cookie_same_site",
            "None needs session_cookie_secure (browsers refuse it otherwise)",
        ));
    }
    if !f.bool_or("verify_signature", true)? {
        return Err(f.error(
            "verify_signature",
            "latchkey gateway always verifies signatures",
        ));
    }
    if !f.bool_or("verify_claims", true)? {
        return Err(f.error(
            "verify_claims",
            "latchkey gateway always verifies exp, nbf and iss",
        ));
    }
    if !f.bool_or("verify_nonce", true)? {
        return Err(f.error(
            "verify_nonce",
            "latchkey gateway always verifies the nonce of the code flow",
        ));
    }
    let response_mode = f.choice_or("response_mode", &["query", "form_post"], "query")?;
    if response_mode != "query" {
        return Err(f.error("response_mode", "only 'query' is supported"));
    }

    let cfg = OidcConfig {
        entity: entity.to_string(),
        issuer,
        discovery_url,
        client_id,
        client_secret,
        client_auth,
        methods,
        bearer_places,
        bearer_cookie_name,
        refresh_token_param_name,
        refresh_token_places,
        password_places,
        client_credentials_places,
        endpoints,
        hide_credentials: f.bool_or("hide_credentials", true)?,
        upstream,
        downstream,
        scopes_required: requirement(&mut f, "scopes_required", "scopes_claim", "scope")?,
        audience_required: requirement(&mut f, "audience_required", "audience_claim", "aud")?,
        roles_required: requirement(&mut f, "roles_required", "roles_claim", "roles")?,
        groups_required: requirement(&mut f, "groups_required", "groups_claim", "groups")?,
        issuers_allowed: f.list_or("issuers_allowed", &[])?,
        cache_tokens: f.bool_or("cache_tokens", true)?,
        cache_introspection: f.bool_or("cache_introspection", true)?,
        cache_ttl: seconds(&mut f, "cache_ttl", 3600)?,
        cache_ttl_min: f
            .has("cache_ttl_min")
            .then(|| seconds(&mut f, "cache_ttl_min", 0))
            .transpose()?,
        cache_ttl_max: f
            .has("cache_ttl_max")
            .then(|| seconds(&mut f, "cache_ttl_max", 0))
            .transpose()?,
        leeway: f.float_or("leeway", 0.0, 0.0, 86_400.0)?.round() as i64,
        redirect_uri: first(&mut f, "redirect_uri")?,
        scopes: f.list_or("scopes", &["openid"])?,
        pkce: match f.raw("require_proof_key_for_code_exchange") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(f.error("require_proof_key_for_code_exchange", "must be a boolean"))
            }
        },
        login_action: match f
            .choice_or(
                "login_action",
                &["upstream", "response", "redirect"],
                "upstream",
            )?
            .as_str()
        {
            "response" => LoginAction::Response,
            "redirect" => LoginAction::Redirect,
            _ => LoginAction::Upstream,
        },
        login_redirect_uri: first(&mut f, "login_redirect_uri")?,
        login_tokens: f.choices_or(
            "login_tokens",
            &[
                "id_token",
                "access_token",
                "refresh_token",
                "tokens",
                "introspection",
            ],
            &[],
        )?,
        preserve_query_args: f.bool_or("preserve_query_args", false)?,
        authorization_cookie_name: f.str_or("authorization_cookie_name", "authorization")?,
        authorization_rolling_timeout: seconds(&mut f, "authorization_rolling_timeout", 600)?,
        logout_uri_suffix: f.opt_str("logout_uri_suffix")?,
        logout_query_arg: f.opt_str("logout_query_arg")?,
        logout_post_arg: f.opt_str("logout_post_arg")?,
        logout_methods: f.choices_or(
            "logout_methods",
            &["POST", "GET", "DELETE"],
            &["POST", "DELETE"],
        )?,
        logout_revoke: f.bool_or("logout_revoke", false)?,
        logout_revoke_access_token: f.bool_or("logout_revoke_access_token", true)?,
        logout_revoke_refresh_token: f.bool_or("logout_revoke_refresh_token", true)?,
        logout_redirect_uri: first(&mut f, "logout_redirect_uri")?,
        session,
        refresh_tokens: f.bool_or("refresh_tokens", true)?,
        rediscovery_lifetime: Duration::from_secs(seconds(&mut f, "rediscovery_lifetime", 30)?),
        unauthorized_error_message: f.str_or("unauthorized_error_message", "Unauthorized")?,
        forbidden_error_message: f.str_or("forbidden_error_message", "Forbidden")?,
        display_errors: f.bool_or("display_errors", false)?,
        expose_error_code: f.bool_or("expose_error_code", true)?,
        ssl_verify: f.bool_or("ssl_verify", true)?,
        timeout: Duration::from_millis(f.int_or("timeout", 10_000, 1, 2_147_483_646)? as u64),
        run_on_preflight: f.bool_or("run_on_preflight", true)?,
    };
    f.accept(&[
        "scopes_claim",
        "audience_claim",
        "roles_claim",
        "groups_claim",
    ]);
    f.finish("not a key of Kong's openid-connect plugin")?;
    Ok(cfg)
}

impl OidcConfig {
    pub fn allows(&self, m: Method) -> bool {
        self.methods.contains(&m)
    }
}
