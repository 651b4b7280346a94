//! `GET /keys`: the realm's keys as Keycloak's KeysMetadataRepresentation — which key signs
//! for each algorithm, and every key's public half and status. Never a private key or a secret.

use super::auth::Admin;
use super::model::{realm, Segs};
use super::AdminResult;
use crate::state::AppState;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use latchkey_domain::admin_access::Permission;
use serde_json::{json, Value};

pub async fn list(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewRealm).await?;
    let k = &ctx.keys;
    let mut active = serde_json::Map::new();
    for (alg, key) in &k.active {
        active.insert(alg.to_string(), json!(key.kid));
    }
    active.insert("HS512".into(), json!(k.hmac_active.kid));
    if let Some(enc) = k.encryption.last() {
        active.insert(
            enc.public_jwk()["alg"]
                .as_str()
                .unwrap_or("RSA-OAEP")
                .to_string(),
            json!(enc.kid),
        );
    }
    let b64 = |d: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(d);
    let mut keys: Vec<Value> = Vec::new();
    for key in &k.all {
        let signing = k.active.get(&key.alg).is_some_and(|a| a.kid == key.kid);
        keys.push(json!({
            "kid": key.kid,
            "type": key.public_jwk()["kty"],
            "algorithm": key.alg.as_str(),
            "use": "SIG",
            "status": if signing { "ACTIVE" } else { "PASSIVE" },
            "publicKey": key.public_key_spki_der().map(b64),
        }));
    }
    for key in &k.encryption {
        keys.push(json!({
            "kid": key.kid, "type": "RSA", "algorithm": key.public_jwk()["alg"], "use": "ENC",
            "status": "ACTIVE", "publicKey": key.public_key_spki_der().map(b64),
        }));
    }
    for h in &k.hmac_all {
        keys.push(json!({
            "kid": h.kid, "type": "OCT", "algorithm": "HS512", "use": "SIG",
            "status": if h.kid == k.hmac_active.kid { "ACTIVE" } else { "PASSIVE" },
        }));
    }
    Ok(axum::Json(json!({"active": active, "keys": keys})).into_response())
}

/// `GET /components?type=org.keycloak.keys.KeyProvider`: the realm's keys as Keycloak's key
/// provider components (public metadata only: no private key, no secret). Other component
/// types: none (latchkey keeps no user federation or policies).
pub async fn components(state: &AppState, admin: Admin, segs: Segs) -> AdminResult<Response> {
    let ctx = realm(state, &admin, &segs, Permission::ViewRealm).await?;
    const KEY_PROVIDER: &str = latchkey_domain::keycloak::access::KEY_PROVIDER;
    if segs.query("type").is_some_and(|t| t != KEY_PROVIDER) {
        return Ok(axum::Json(Vec::<Value>::new()).into_response());
    }
    let k = &ctx.keys;
    let mut out = Vec::new();
    let mut add = |kid: &str, provider: &str, alg: &str, active: bool| {
        out.push(json!({
            "id": super::model::role_id(&super::model::Container::Realm, &format!("key:{kid}")),
            "name": format!("{provider}-{}", &kid[..kid.len().min(8)]),
            "providerId": provider,
            "providerType": KEY_PROVIDER,
            "parentId": ctx.realm.id,
            "config": {
                "kid": [kid],
                "algorithm": [alg],
                "priority": ["100"],
                "enabled": ["true"],
                "active": [active.to_string()],
            },
        }));
    };
    for key in &k.all {
        let active = k.active.get(&key.alg).is_some_and(|a| a.kid == key.kid);
        let provider = match key.alg.as_str() {
            "ES256" => "ecdsa-generated",
            "EdDSA" => "eddsa-generated",
            _ => "rsa-generated",
        };
        add(&key.kid, provider, key.alg.as_str(), active);
    }
    for key in &k.encryption {
        add(&key.kid, "rsa-enc-generated", "RSA-OAEP", true);
    }
    for h in &k.hmac_all {
        add(
            &h.kid,
            "hmac-generated-hs512",
            "HS512",
            h.kid == k.hmac_active.kid,
        );
    }
    Ok(axum::Json(out).into_response())
}
