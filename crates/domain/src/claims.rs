//! The claims of access, ID and refresh tokens in Keycloak's shape.

use crate::scope::Scopes;
use crate::{Client, Realm, RefreshRecord, Timestamp, User};
use serde_json::{json, Map, Value};

/// What every token of one response shares.
pub struct TokenContext<'a> {
    pub issuer: &'a str,
    pub realm: &'a Realm,
    pub client: &'a Client,
    pub user: &'a User,
    /// The session id; absent for a client-credentials grant without a session.
    pub sid: Option<&'a str>,
    pub scopes: &'a Scopes,
    pub now: Timestamp,
    pub auth_time: Option<Timestamp>,
    pub nonce: Option<&'a str>,
}

fn put(m: &mut Map<String, Value>, k: &str, v: impl Into<Value>) {
    m.insert(k.to_string(), v.into());
}

fn profile_claims(m: &mut Map<String, Value>, ctx: &TokenContext<'_>) {
    let u = ctx.user;
    if ctx.scopes.has("email") {
        put(m, "email_verified", u.email_verified);
    }
    if ctx.scopes.has("profile") {
        if let Some(n) = u.full_name() {
            put(m, "name", n);
        }
        put(m, "preferred_username", u.username.clone());
        if let Some(f) = &u.first_name {
            put(m, "given_name", f.clone());
        }
        if let Some(l) = &u.last_name {
            put(m, "family_name", l.clone());
        }
    }
    if ctx.scopes.has("email") {
        if let Some(e) = &u.email {
            put(m, "email", e.clone());
        }
    }
}

/// The realm roles of a user: the realm's default role and its composites, plus assigned roles.
pub fn realm_roles(realm: &Realm, user: &User) -> Vec<String> {
    let mut roles: Vec<String> = Vec::with_capacity(user.realm_roles.len() + 3);
    for r in crate::realm::builtin_realm_roles(&realm.name)
        .into_iter()
        .chain(user.realm_roles.iter().cloned())
    {
        if !roles.contains(&r) {
            roles.push(r);
        }
    }
    roles
}

/// The access token's claims.
pub fn access_token(ctx: &TokenContext<'_>, jti: &str, exp: Timestamp) -> Map<String, Value> {
    let mut m = Map::new();
    put(&mut m, "exp", exp);
    put(&mut m, "iat", ctx.now);
    if let Some(t) = ctx.auth_time {
        put(&mut m, "auth_time", t);
    }
    put(&mut m, "jti", jti);
    put(&mut m, "iss", ctx.issuer);
    let roles_scope = ctx.scopes.has("roles");
    let audiences: Vec<&String> = if roles_scope {
        ctx.user
            .client_roles
            .iter()
            .filter(|(_, r)| !r.is_empty())
            .map(|(c, _)| c)
            .collect()
    } else {
        Vec::new()
    };
    match audiences.len() {
        0 => {}
        1 => put(&mut m, "aud", audiences[0].clone()),
        _ => put(&mut m, "aud", json!(audiences)),
    }
    put(&mut m, "sub", ctx.user.id.clone());
    put(&mut m, "typ", "Bearer");
    put(&mut m, "azp", ctx.client.client_id.clone());
    if let Some(sid) = ctx.sid {
        put(&mut m, "sid", sid);
    }
    put(&mut m, "acr", "1");
    if ctx.scopes.has("web-origins") {
        let origins = ctx.client.resolved_web_origins();
        if !origins.is_empty() {
            put(&mut m, "allowed-origins", json!(origins));
        }
    }
    if roles_scope {
        put(
            &mut m,
            "realm_access",
            json!({ "roles": realm_roles(ctx.realm, ctx.user) }),
        );
        let mut ra = Map::new();
        for (client, roles) in &ctx.user.client_roles {
            if !roles.is_empty() {
                ra.insert(client.clone(), json!({ "roles": roles }));
            }
        }
        if !ra.is_empty() {
            put(&mut m, "resource_access", Value::Object(ra));
        }
    }
    put(&mut m, "scope", ctx.scopes.to_scope_string());
    if ctx.user.service_account_client_id.is_some() {
        put(&mut m, "client_id", ctx.client.client_id.clone());
    }
    profile_claims(&mut m, ctx);
    m
}

/// The ID token's claims (OIDC Core §2), with Keycloak's `typ` "ID".
pub fn id_token(
    ctx: &TokenContext<'_>,
    jti: &str,
    exp: Timestamp,
    at_hash: &str,
) -> Map<String, Value> {
    let mut m = Map::new();
    put(&mut m, "exp", exp);
    put(&mut m, "iat", ctx.now);
    if let Some(t) = ctx.auth_time {
        put(&mut m, "auth_time", t);
    }
    put(&mut m, "jti", jti);
    put(&mut m, "iss", ctx.issuer);
    put(&mut m, "aud", ctx.client.client_id.clone());
    put(&mut m, "sub", ctx.user.id.clone());
    put(&mut m, "typ", "ID");
    put(&mut m, "azp", ctx.client.client_id.clone());
    if let Some(n) = ctx.nonce {
        put(&mut m, "nonce", n);
    }
    if let Some(sid) = ctx.sid {
        put(&mut m, "sid", sid);
    }
    put(&mut m, "at_hash", at_hash);
    put(&mut m, "acr", "1");
    profile_claims(&mut m, ctx);
    m
}

/// The refresh token's claims. Built only from the stored record, so that re-signing the same
/// record yields the same token (what convergent grace hands back).
pub fn refresh_token(
    issuer: &str,
    rec: &RefreshRecord,
    user_id: &str,
    client_id: &str,
    sid: &str,
) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(exp) = rec.expires_at {
        put(&mut m, "exp", exp);
    }
    put(&mut m, "iat", rec.issued_at);
    put(&mut m, "jti", rec.jti.clone());
    put(&mut m, "iss", issuer);
    put(&mut m, "aud", issuer);
    put(&mut m, "sub", user_id);
    put(
        &mut m,
        "typ",
        if rec.offline { "Offline" } else { "Refresh" },
    );
    put(&mut m, "azp", client_id);
    put(&mut m, "sid", sid);
    put(&mut m, "scope", rec.scope.clone());
    m
}

/// `2026-11-21T23:05:00Z` for a Unix timestamp (UTC), for messages people read.
pub fn format_timestamp(ts: Timestamp) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_as_utc() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_timestamp(1_707_230_290), "2024-02-06T14:38:10Z");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn refresh_claims_are_deterministic() {
        let rec = RefreshRecord {
            jti: "j".into(),
            client_session_id: "c".into(),
            parent_jti: None,
            issued_at: 10,
            expires_at: Some(20),
            scope: "profile".into(),
            offline: false,
            rotated_at: None,
            successor_jti: None,
            use_count: 0,
        };
        let a = refresh_token("iss", &rec, "u", "web", "s");
        assert_eq!(a, refresh_token("iss", &rec, "u", "web", "s"));
        assert_eq!(a["typ"], "Refresh");
        assert_eq!(a["aud"], "iss");
        let off = RefreshRecord {
            offline: true,
            expires_at: None,
            ..rec
        };
        let b = refresh_token("iss", &off, "u", "web", "s");
        assert_eq!(b["typ"], "Offline");
        assert!(b.get("exp").is_none());
    }
}
