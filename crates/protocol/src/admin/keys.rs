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
