//! The claims of access, ID and refresh tokens in Keycloak's shape.

use crate::scope::Scopes;
use crate::{Client, Realm, RefreshRecord, Timestamp, User};
use serde::Serialize;
use std::collections::BTreeMap;

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

/// The profile claims the `profile` and `email` scopes add (OIDC Core §5.4), in Keycloak's
/// order; the same in access tokens, ID tokens and userinfo.
#[derive(Debug, Default, Serialize)]
pub struct ProfileClaims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

/// The profile claims of `ctx`'s user under `ctx`'s scopes.
pub fn profile<'a>(ctx: &TokenContext<'a>) -> ProfileClaims<'a> {
    let u = ctx.user;
    let (profile, email) = (ctx.scopes.has("profile"), ctx.scopes.has("email"));
    ProfileClaims {
        email_verified: email.then_some(u.email_verified),
        name: if profile { u.full_name() } else { None },
        preferred_username: profile.then_some(u.username.as_str()),
        given_name: u.first_name.as_deref().filter(|_| profile),
        family_name: u.last_name.as_deref().filter(|_| profile),
        email: u.email.as_deref().filter(|_| email),
    }
}

/// An `aud` claim: one audience is written as a string, several as an array (as Keycloak does).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Audience<'a> {
    One(&'a str),
    Many(Vec<&'a str>),
}

/// `{"roles": [...]}`, the shape of `realm_access` and of each `resource_access` entry.
#[derive(Debug, Serialize)]
pub struct Roles<R> {
    pub roles: R,
}

/// The claims that open every access and ID token: when it expires and was issued, at which
/// sign-in, its id, and who issued it.
#[derive(Debug, Serialize)]
pub struct Issued<'a> {
    pub exp: Timestamp,
    pub iat: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<Timestamp>,
    pub jti: &'a str,
    pub iss: &'a str,
}

impl<'a> Issued<'a> {
    fn new(ctx: &TokenContext<'a>, jti: &'a str, exp: Timestamp) -> Issued<'a> {
        Issued {
            exp,
            iat: ctx.now,
            auth_time: ctx.auth_time,
            jti,
            iss: ctx.issuer,
        }
    }
}

/// An access token's claims, in Keycloak's shape and order.
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims<'a> {
    #[serde(flatten)]
    pub issued: Issued<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience<'a>>,
    pub sub: &'a str,
    pub typ: &'static str,
    pub azp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    pub acr: &'static str,
    #[serde(rename = "allowed-origins", skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm_access: Option<Roles<Vec<String>>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_access: BTreeMap<&'a str, Roles<&'a [String]>>,
    pub scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
    #[serde(flatten)]
    pub profile: ProfileClaims<'a>,
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
pub fn access_token<'a>(
    ctx: &TokenContext<'a>,
    jti: &'a str,
    exp: Timestamp,
) -> AccessTokenClaims<'a> {
    let roles_scope = ctx.scopes.has("roles");
    // The clients the user holds roles of are the token's audience (Keycloak's audience
    // resolution for client roles), and `resource_access` lists those roles.
    let resource_access: BTreeMap<&str, Roles<&[String]>> = if roles_scope {
        ctx.user
            .client_roles
            .iter()
            .filter(|(_, r)| !r.is_empty())
            .map(|(c, r)| {
                (
                    c.as_str(),
                    Roles {
                        roles: r.as_slice(),
                    },
                )
            })
            .collect()
    } else {
        BTreeMap::new()
    };
    let mut audiences: Vec<&str> = resource_access.keys().copied().collect();
    let aud = match audiences.len() {
        0 => None,
        1 => audiences.pop().map(Audience::One),
        _ => Some(Audience::Many(audiences)),
    };
    AccessTokenClaims {
        issued: Issued::new(ctx, jti, exp),
        aud,
        sub: &ctx.user.id,
        typ: "Bearer",
        azp: &ctx.client.client_id,
        sid: ctx.sid,
        acr: "1",
        allowed_origins: if ctx.scopes.has("web-origins") {
            ctx.client.resolved_web_origins()
        } else {
            Vec::new()
        },
        realm_access: roles_scope.then(|| Roles {
            roles: realm_roles(ctx.realm, ctx.user),
        }),
        resource_access,
        scope: ctx.scopes.to_scope_string(),
        client_id: ctx
            .user
            .service_account_client_id
            .is_some()
            .then_some(ctx.client.client_id.as_str()),
        profile: profile(ctx),
    }
}

/// An ID token's claims (OIDC Core §2), with Keycloak's `typ` "ID".
#[derive(Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    #[serde(flatten)]
    pub issued: Issued<'a>,
    pub aud: &'a str,
    pub sub: &'a str,
    pub typ: &'static str,
    pub azp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    pub at_hash: &'a str,
    pub acr: &'static str,
    #[serde(flatten)]
    pub profile: ProfileClaims<'a>,
}

/// The ID token's claims.
pub fn id_token<'a>(
    ctx: &TokenContext<'a>,
    jti: &'a str,
    exp: Timestamp,
    at_hash: &'a str,
) -> IdTokenClaims<'a> {
    IdTokenClaims {
        issued: Issued::new(ctx, jti, exp),
        aud: &ctx.client.client_id,
        sub: &ctx.user.id,
        typ: "ID",
        azp: &ctx.client.client_id,
        nonce: ctx.nonce,
        sid: ctx.sid,
        at_hash,
        acr: "1",
        profile: profile(ctx),
    }
}

/// A refresh token's claims. Built only from the stored record, so that re-signing the same
/// record yields the same token (what convergent grace hands back).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct RefreshTokenClaims<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<Timestamp>,
    pub iat: Timestamp,
    pub jti: &'a str,
    pub iss: &'a str,
    pub aud: &'a str,
    pub sub: &'a str,
    pub typ: &'static str,
    pub azp: &'a str,
    pub sid: &'a str,
    pub scope: &'a str,
}

/// The refresh token's claims for `rec`.
pub fn refresh_token<'a>(
    issuer: &'a str,
    rec: &'a RefreshRecord,
    user_id: &'a str,
    client_id: &'a str,
    sid: &'a str,
) -> RefreshTokenClaims<'a> {
    RefreshTokenClaims {
        exp: rec.expires_at,
        iat: rec.issued_at,
        jti: &rec.jti,
        iss: issuer,
        aud: issuer,
        sub: user_id,
        typ: if rec.offline { "Offline" } else { "Refresh" },
        azp: client_id,
        sid,
        scope: &rec.scope,
    }
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
        let a = serde_json::to_value(&a).unwrap();
        assert_eq!(a["typ"], "Refresh");
        assert_eq!(a["aud"], "iss");
        let off = RefreshRecord {
            offline: true,
            expires_at: None,
            ..rec
        };
        let b = serde_json::to_value(refresh_token("iss", &off, "u", "web", "s")).unwrap();
        assert_eq!(b["typ"], "Offline");
        assert!(b.get("exp").is_none());
    }

    fn fixture() -> (Realm, Client, User) {
        use crate::keycloak::{ClientRepresentation, RealmRepresentation, UserRepresentation};
        let realm = Realm::from_representation(
            "r".into(),
            &RealmRepresentation {
                realm: "Demo".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let client = Client::from_representation(
            "c".into(),
            "r".into(),
            &ClientRepresentation {
                client_id: "spa".into(),
                public_client: Some(true),
                redirect_uris: Some(vec!["https://app.example/cb".into()]),
                web_origins: Some(vec!["+".into()]),
                ..Default::default()
            },
            vec![],
        )
        .unwrap();
        let user = User::from_representation(
            "u".into(),
            "r".into(),
            &UserRepresentation {
                username: "alice".into(),
                email: Some("a@example.com".into()),
                first_name: Some("Alice".into()),
                last_name: Some("Liddell".into()),
                client_roles: Some(BTreeMap::from([
                    ("api".to_string(), vec!["read".to_string()]),
                    ("none".to_string(), vec![]),
                ])),
                ..Default::default()
            },
            0,
        )
        .unwrap();
        (realm, client, user)
    }

    /// The members of a JSON object in the order they are written.
    fn keys_in_order(v: &impl Serialize) -> Vec<String> {
        let text = serde_json::to_string(v).unwrap();
        let obj =
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text).unwrap();
        let mut keys: Vec<String> = obj.keys().cloned().collect();
        keys.sort_by_key(|k| text.find(&format!("\"{k}\":")).unwrap());
        keys
    }

    /// Keycloak's members, in Keycloak's order, with its one-or-many `aud`.
    #[test]
    fn access_and_id_token_claims_have_keycloaks_shape() {
        let (realm, client, user) = fixture();
        let scopes = Scopes {
            effective: ["openid", "profile", "email", "roles", "web-origins"]
                .into_iter()
                .map(String::from)
                .collect(),
        };
        let ctx = TokenContext {
            issuer: "https://id.example/realms/demo",
            realm: &realm,
            client: &client,
            user: &user,
            sid: Some("s1"),
            scopes: &scopes,
            now: 100,
            auth_time: Some(90),
            nonce: Some("n"),
        };
        let at = access_token(&ctx, "j1", 400);
        assert_eq!(
            keys_in_order(&at).join(" "),
            "exp iat auth_time jti iss aud sub typ azp sid acr allowed-origins realm_access resource_access scope email_verified name preferred_username given_name family_name email"
        );
        let at = serde_json::to_value(at).unwrap();
        assert_eq!(at["aud"], "api", "one audience is a string");
        assert_eq!(
            at["allowed-origins"],
            serde_json::json!(["https://app.example"])
        );
        assert_eq!(
            at["realm_access"]["roles"],
            serde_json::json!(["default-roles-demo", "offline_access", "uma_authorization"])
        );
        assert_eq!(
            at["resource_access"],
            serde_json::json!({"api": {"roles": ["read"]}}),
            "clients without roles are left out"
        );
        assert_eq!(at["name"], "Alice Liddell");
        assert_eq!(at["typ"], "Bearer");
        let id = id_token(&ctx, "j2", 400, "h");
        assert_eq!(
            keys_in_order(&id).join(" "),
            "exp iat auth_time jti iss aud sub typ azp nonce sid at_hash acr email_verified name preferred_username given_name family_name email"
        );
        assert_eq!(serde_json::to_value(id).unwrap()["aud"], "spa");

        // Two audiences are an array; a service account's token names its client; without
        // the profile, email and roles scopes none of their claims appear.
        let mut sa = user.clone();
        sa.client_roles.insert("web".into(), vec!["x".into()]);
        sa.service_account_client_id = Some("spa".into());
        let bare = Scopes::default();
        let ctx = TokenContext {
            user: &sa,
            scopes: &bare,
            ..ctx
        };
        let at = serde_json::to_value(access_token(&ctx, "j3", 400)).unwrap();
        assert!(at.get("aud").is_none() && at.get("realm_access").is_none());
        assert!(at.get("email").is_none() && at.get("preferred_username").is_none());
        assert_eq!(at["client_id"], "spa");
        let roles = Scopes {
            effective: ["roles".to_string()].into(),
        };
        let ctx = TokenContext {
            scopes: &roles,
            ..ctx
        };
        let at = serde_json::to_value(access_token(&ctx, "j4", 400)).unwrap();
        assert_eq!(at["aud"], serde_json::json!(["api", "web"]));
    }
}
