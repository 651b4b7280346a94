//! The claims of access, ID and refresh tokens in Keycloak's shape. The fixed members are
//! written here; everything else comes from the protocol mappers in effect (`model::apply`).

use crate::model::apply::{Mapped, Notes, Subject, TokenRoles};
use crate::model::mappers::Target;
use crate::model::RealmModel;
use crate::scope::Scopes;
use crate::{Client, Realm, RefreshRecord, Timestamp, User};
use serde::Serialize;
use serde_json::{Map, Value};

/// What every token of one response shares.
pub struct TokenContext<'a> {
    pub issuer: &'a str,
    pub realm: &'a Realm,
    pub model: &'a RealmModel,
    pub client: &'a Client,
    pub user: &'a User,
    /// The session id; absent for a client-credentials grant without a session.
    pub sid: Option<&'a str>,
    pub scopes: &'a Scopes,
    pub now: Timestamp,
    pub auth_time: Option<Timestamp>,
    pub nonce: Option<&'a str>,
    pub notes: Notes<'a>,
}

impl<'a> TokenContext<'a> {
    pub fn subject(&'a self) -> Subject<'a> {
        Subject {
            model: self.model,
            client: self.client,
            user: self.user,
            scopes: self.scopes,
            notes: &self.notes,
        }
    }

    /// The `scope` claim: `openid`, then each scope in effect that Keycloak lists in tokens.
    pub fn scope_claim(&self) -> String {
        scope_claim(self.model, self.scopes)
    }
}

/// The `scope` claim of `scopes` in a realm: `openid` first, then every scope in effect whose
/// `include.in.token.scope` is not false (scopes the realm does not define: all but Keycloak's
/// hidden built-ins).
pub fn scope_claim(model: &RealmModel, scopes: &Scopes) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if scopes.openid() {
        parts.push("openid");
    }
    for s in &scopes.effective {
        let shown = match model.scopes.get(s) {
            Some(def) => def.in_token_scope,
            None => !crate::scope::HIDDEN_SCOPES.contains(&s.as_str()),
        };
        if s != "openid" && shown {
            parts.push(s);
        }
    }
    parts.join(" ")
}

/// An `aud` claim: one audience is written as a string, several as an array (as Keycloak does).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn of(mut list: Vec<String>) -> Option<Audience> {
        match list.len() {
            0 => None,
            1 => list.pop().map(Audience::One),
            _ => Some(Audience::Many(list)),
        }
    }
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

/// An access token's claims, in Keycloak's shape.
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims<'a> {
    #[serde(flatten)]
    pub issued: Issued<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    pub sub: &'a str,
    pub typ: &'static str,
    pub azp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    pub scope: String,
    /// What the protocol mappers wrote.
    #[serde(flatten)]
    pub mapped: Map<String, Value>,
}

/// The access token's claims, for the roles `roles` (computed once per response).
pub fn access_token<'a>(
    ctx: &'a TokenContext<'a>,
    roles: &TokenRoles,
    jti: &'a str,
    exp: Timestamp,
) -> AccessTokenClaims<'a> {
    let Mapped { claims, aud } = ctx.subject().map(roles, Target::Access);
    AccessTokenClaims {
        issued: Issued::new(ctx, jti, exp),
        aud: Audience::of(aud),
        sub: &ctx.user.id,
        typ: "Bearer",
        azp: &ctx.client.client_id,
        sid: ctx.sid,
        scope: ctx.scope_claim(),
        mapped: claims,
    }
}

/// An ID token's claims (OIDC Core §2), with Keycloak's `typ` "ID".
#[derive(Debug, Serialize)]
pub struct IdTokenClaims<'a> {
    #[serde(flatten)]
    pub issued: Issued<'a>,
    pub aud: Audience,
    pub sub: &'a str,
    pub typ: &'static str,
    pub azp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<&'a str>,
    pub at_hash: &'a str,
    #[serde(flatten)]
    pub mapped: Map<String, Value>,
}

/// The ID token's claims: its audience is the client, and any an audience mapper adds.
pub fn id_token<'a>(
    ctx: &'a TokenContext<'a>,
    roles: &TokenRoles,
    jti: &'a str,
    exp: Timestamp,
    at_hash: &'a str,
) -> IdTokenClaims<'a> {
    let Mapped { claims, aud } = ctx.subject().map(roles, Target::Id);
    let mut audiences = vec![ctx.client.client_id.clone()];
    audiences.extend(aud.into_iter().filter(|a| *a != ctx.client.client_id));
    IdTokenClaims {
        issued: Issued::new(ctx, jti, exp),
        aud: Audience::of(audiences).expect("the client is an audience"),
        sub: &ctx.user.id,
        typ: "ID",
        azp: &ctx.client.client_id,
        nonce: ctx.nonce,
        sid: ctx.sid,
        at_hash,
        mapped: claims,
    }
}

/// The UserInfo answer's claims (OIDC Core §5.3): `sub` and what the mappers give UserInfo.
pub fn userinfo(ctx: &TokenContext<'_>, roles: &TokenRoles) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("sub".into(), Value::String(ctx.user.id.clone()));
    let Mapped { claims, .. } = ctx.subject().map(roles, Target::UserInfo);
    out.extend(claims);
    out
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
}
