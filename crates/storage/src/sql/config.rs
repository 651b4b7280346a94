//! Realms, keys, clients and users — rows that hold Keycloak representations as JSON: the
//! statements, mappers and write plans, once for both backends.

use super::{corrupt, stmt, Columns, Statement, Value};
use crate::{NewRealm, Result, StoreError, StoredKey, UserQuery, UserWithCredential};
use latchkey_domain::client::StoredSecret;
use latchkey_domain::keycloak::{ClientRepresentation, RealmRepresentation};
use latchkey_domain::{Client, Realm, User};

pub const REALM_BY_NAME: &str = "SELECT id, representation FROM realms WHERE name = $1";
pub const REALM_BY_ID: &str = "SELECT id, representation FROM realms WHERE id = $1";
pub const REALM_NAMES: &str = "SELECT name FROM realms ORDER BY name";
/// A realm's keys in the order they were added (the newest of an algorithm signs): by SQLite's
/// rowid, by PostgreSQL's `seq` column.
pub const REALM_KEYS_SQLITE: &str = "SELECT kid, alg, material, created_at, active, sealed FROM realm_keys WHERE realm_id = $1 ORDER BY created_at, rowid";
pub const REALM_KEYS_POSTGRES: &str = "SELECT kid, alg, material, created_at, active, sealed FROM realm_keys WHERE realm_id = $1 ORDER BY created_at, seq";

macro_rules! client_columns {
    () => {
        "id, realm_id, representation, roles, secret_digest, secret_sealed"
    };
}
pub const CLIENTS_OF: &str = concat!(
    "SELECT ",
    client_columns!(),
    " FROM clients WHERE realm_id = $1 ORDER BY client_id"
);
pub const CLIENT_BY_CLIENT_ID: &str = concat!(
    "SELECT ",
    client_columns!(),
    " FROM clients WHERE realm_id = $1 AND client_id = $2"
);
pub const CLIENT_BY_ID: &str = concat!(
    "SELECT ",
    client_columns!(),
    " FROM clients WHERE realm_id = $1 AND id = $2"
);

pub const USER_BY_USERNAME: &str = "SELECT id, realm_id, representation, password_hash FROM users WHERE realm_id = $1 AND username = $2";
/// At most two: one is an answer, two an ambiguity.
pub const USERS_BY_EMAIL: &str = "SELECT id, realm_id, representation, password_hash FROM users WHERE realm_id = $1 AND email = $2 LIMIT 2";
pub const USER_BY_ID: &str =
    "SELECT id, realm_id, representation FROM users WHERE realm_id = $1 AND id = $2";

const INSERT_REALM: &str =
    "INSERT INTO realms (id, name, representation, created_at) VALUES ($1, $2, $3, $4)";
const UPDATE_REALM: &str = "UPDATE realms SET name = $1, representation = $2 WHERE id = $3";
const REPLACE_REALM: &str =
    "UPDATE realms SET name = $1, representation = $2 WHERE id = $3 AND representation = $4";
const DELETE_REALM: &str = "DELETE FROM realms WHERE id = $1";
const INSERT_KEY: &str = "INSERT INTO realm_keys (kid, realm_id, alg, material, created_at, active, sealed) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const SEAL_KEY: &str = "UPDATE realm_keys SET material = $1, sealed = $2 WHERE kid = $3 AND realm_id = $4 AND sealed = $5";
const INSERT_CLIENT: &str = "INSERT INTO clients (id, realm_id, client_id, representation, roles, secret_digest, secret_sealed) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const UPDATE_CLIENT: &str = "UPDATE clients SET client_id = $1, representation = $2, roles = $3, secret_digest = $4, secret_sealed = $5 WHERE id = $6 AND realm_id = $7";
const DELETE_CLIENT: &str = "DELETE FROM clients WHERE realm_id = $1 AND id = $2";
const INSERT_USER: &str = "INSERT INTO users (id, realm_id, username, email, representation, password_hash) VALUES ($1, $2, $3, $4, $5, $6)";
const UPDATE_USER: &str = "UPDATE users SET username = $1, email = $2, representation = $3 WHERE id = $4 AND realm_id = $5";
const DELETE_USER_SESSIONS: &str = "DELETE FROM sessions WHERE realm_id = $1 AND user_id = $2";
const DELETE_USER: &str = "DELETE FROM users WHERE realm_id = $1 AND id = $2";
const SET_PASSWORD_HASH: &str = "UPDATE users SET password_hash = $1 WHERE id = $2";

/// Every fixed statement above, for the tests (PostgreSQL's key order has no rowid).
#[cfg(test)]
pub const ALL: &[&str] = &[
    REALM_BY_NAME,
    REALM_BY_ID,
    REALM_NAMES,
    REALM_KEYS_SQLITE,
    CLIENTS_OF,
    CLIENT_BY_CLIENT_ID,
    CLIENT_BY_ID,
    USER_BY_USERNAME,
    USERS_BY_EMAIL,
    USER_BY_ID,
    INSERT_REALM,
    UPDATE_REALM,
    REPLACE_REALM,
    DELETE_REALM,
    INSERT_KEY,
    INSERT_CLIENT,
    UPDATE_CLIENT,
    DELETE_CLIENT,
    INSERT_USER,
    UPDATE_USER,
    DELETE_USER_SESSIONS,
    DELETE_USER,
    SET_PASSWORD_HASH,
];

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("a representation serializes")
}

fn bad(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

// Mappers.

/// A [`Realm`]: id, representation.
pub fn realm(r: &impl Columns) -> Result<Realm> {
    let rep: RealmRepresentation =
        serde_json::from_str(&r.text(1)?).map_err(|e| bad("realm", e))?;
    Realm::from_representation(r.text(0)?, &rep).map_err(|e| bad("realm", e))
}

/// A [`StoredKey`]: kid, alg, material, created_at, active, sealed.
pub fn key(r: &impl Columns) -> Result<StoredKey> {
    Ok(StoredKey {
        kid: r.text(0)?,
        alg: r.text(1)?,
        material: r.bytes(2)?,
        created_at: r.int(3)?,
        active: r.flag(4)?,
        sealed: r.flag(5)?,
    })
}

/// A [`Client`] in `client_columns!` order.
pub fn client(r: &impl Columns) -> Result<Client> {
    let rep: ClientRepresentation =
        serde_json::from_str(&r.text(2)?).map_err(|e| bad("client", e))?;
    let roles: Vec<String> =
        serde_json::from_str(&r.text(3)?).map_err(|e| bad("client roles", e))?;
    let mut c = Client::from_representation(r.text(0)?, r.text(1)?, &rep, roles)
        .map_err(|e| bad("client", e))?;
    if let (Some(digest), Some(encrypted)) = (r.opt_bytes(4)?, r.opt_bytes(5)?) {
        c.secret = Some(StoredSecret { digest, encrypted });
    }
    Ok(c)
}

/// A [`User`]: id, realm, representation.
pub fn user(r: &impl Columns) -> Result<User> {
    super::rows::opt_user(r, 0)?.ok_or_else(|| corrupt(0, "NULL"))
}

/// A user with the stored password hash (column 3).
pub fn user_with_credential(r: &impl Columns) -> Result<UserWithCredential> {
    Ok(UserWithCredential {
        user: user(r)?,
        password_hash: r.opt_text(3)?,
    })
}

// Write plans.

/// A realm's new key (at creation, or a rotation's).
pub fn insert_key(realm_id: &str, k: &StoredKey) -> Statement {
    stmt!(
        INSERT_KEY,
        &k.kid,
        realm_id,
        &k.alg,
        &k.material,
        k.created_at,
        k.active,
        k.sealed
    )
}

/// A clear key's material replaced by its sealed form, unless it was sealed already.
pub fn seal_key(realm_id: &str, kid: &str, sealed: &[u8]) -> Statement {
    stmt!(SEAL_KEY, sealed, true, kid, realm_id, false)
}

/// A realm with its keys, clients and users.
pub fn insert_realm(new: &NewRealm, now: i64) -> Vec<Statement> {
    let r = &new.realm;
    let mut plan = vec![stmt!(
        INSERT_REALM,
        &r.id,
        &r.name,
        json(&r.to_representation()),
        now
    )
    .naming(format!("realm '{}'", r.name))];
    plan.extend(new.keys.iter().map(|k| insert_key(&r.id, k)));
    plan.extend(new.clients.iter().map(insert_client));
    plan.extend(new.users.iter().map(insert_user));
    plan
}

/// Renames or reconfigures a realm; its count must be 1.
pub fn update_realm(r: &Realm) -> Statement {
    stmt!(UPDATE_REALM, &r.name, json(&r.to_representation()), &r.id)
        .naming(format!("realm '{}'", r.name))
}

/// `after` in place of `before`, only if the stored realm is still `before` (a change made
/// meanwhile by another request or node makes it update nothing).
pub fn replace_realm(before: &Realm, after: &Realm) -> Statement {
    stmt!(
        REPLACE_REALM,
        &after.name,
        json(&after.to_representation()),
        &after.id,
        json(&before.to_representation())
    )
}

/// Deletes a realm, its events with it (they have no key to it); the last statement counts 1
/// when the realm was there.
pub fn delete_realm(id: &str) -> Vec<Statement> {
    vec![
        super::events::clear(id, false),
        super::events::clear(id, true),
        stmt!(DELETE_REALM, id),
    ]
}

fn secret_parts(c: &Client) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    (
        c.secret.as_ref().map(|s| s.digest.clone()),
        c.secret.as_ref().map(|s| s.encrypted.clone()),
    )
}

pub fn insert_client(c: &Client) -> Statement {
    let (digest, sealed) = secret_parts(c);
    stmt!(
        INSERT_CLIENT,
        &c.id,
        &c.realm_id,
        &c.client_id,
        json(&c.to_representation()),
        json(&c.client_roles),
        digest,
        sealed
    )
    .naming(format!("client '{}'", c.client_id))
}

/// Replaces a client, secret included; its count must be 1.
pub fn update_client(c: &Client) -> Statement {
    let (digest, sealed) = secret_parts(c);
    stmt!(
        UPDATE_CLIENT,
        &c.client_id,
        json(&c.to_representation()),
        json(&c.client_roles),
        digest,
        sealed,
        &c.id,
        &c.realm_id
    )
    .naming(format!("client '{}'", c.client_id))
}

pub fn delete_client(realm_id: &str, id: &str) -> Statement {
    stmt!(DELETE_CLIENT, realm_id, id)
}

pub fn insert_user(u: &UserWithCredential) -> Statement {
    let user = &u.user;
    stmt!(
        INSERT_USER,
        &user.id,
        &user.realm_id,
        &user.username,
        &user.email,
        json(&user.to_representation()),
        &u.password_hash
    )
    .naming(format!("user '{}'", user.username))
}

/// Updates a user (not the password); its count must be 1.
pub fn update_user(u: &User) -> Statement {
    stmt!(
        UPDATE_USER,
        &u.username,
        &u.email,
        json(&u.to_representation()),
        &u.id,
        &u.realm_id
    )
    .naming(format!("user '{}'", u.username))
}

/// Deletes a user and their sessions; the second count says whether the user existed.
pub fn delete_user(realm_id: &str, id: &str) -> Vec<Statement> {
    vec![
        stmt!(DELETE_USER_SESSIONS, realm_id, id),
        stmt!(DELETE_USER, realm_id, id),
    ]
}

pub fn set_password_hash(user_id: &str, hash: &str) -> Statement {
    stmt!(SET_PASSWORD_HASH, hash, user_id)
}

// The user search of the admin API.

fn like(s: &str) -> String {
    format!(
        "%{}%",
        s.to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// The user search as Keycloak's `GET /users` and `/users/count` take it: `what` is the
/// selected list (`id, realm_id, representation` or `count(*)`); paging applies to lists.
pub fn user_search(realm_id: &str, q: &UserQuery, count: bool) -> (String, Vec<Value>) {
    let mut clauses = vec!["realm_id = $1".to_string()];
    let mut args: Vec<Value> = vec![realm_id.into()];
    let arg = |v: String, args: &mut Vec<Value>| {
        args.push(Value::Text(v));
        args.len()
    };
    if let Some(u) = &q.username {
        let n = arg(
            if q.exact {
                latchkey_domain::user::canonical_username(u)
            } else {
                like(&latchkey_domain::user::canonical_username(u))
            },
            &mut args,
        );
        clauses.push(if q.exact {
            format!("username = ${n}")
        } else {
            format!("username LIKE ${n} ESCAPE '\\'")
        });
    }
    if let Some(e) = &q.email {
        let n = arg(if q.exact { e.to_lowercase() } else { like(e) }, &mut args);
        clauses.push(if q.exact {
            format!("lower(email) = ${n}")
        } else {
            format!("lower(email) LIKE ${n} ESCAPE '\\'")
        });
    }
    if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty() && *s != "*") {
        let n = arg(like(s.trim_matches('*')), &mut args);
        clauses.push(format!(
            "(username LIKE ${n} ESCAPE '\\' OR lower(coalesce(email, '')) LIKE ${n} ESCAPE '\\' OR lower(representation) LIKE ${n} ESCAPE '\\')"
        ));
    }
    if !q.service_accounts {
        clauses.push("representation NOT LIKE '%\"serviceAccountClientId\"%'".into());
    }
    let filter = clauses.join(" AND ");
    let sql = if count {
        format!("SELECT count(*) FROM users WHERE {filter}")
    } else {
        // Paging is bound, not written into the text: each filter shape is one prepared
        // statement, whatever page is asked for.
        let max = if q.max > 0 { q.max } else { 100 };
        args.push(Value::Int(max));
        args.push(Value::Int(q.first.max(0)));
        let n = args.len();
        format!(
            "SELECT id, realm_id, representation FROM users WHERE {filter} ORDER BY username LIMIT ${} OFFSET ${n}",
            n - 1
        )
    };
    (sql, args)
}
