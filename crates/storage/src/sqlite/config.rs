//! Realms, keys, clients and users: rows that hold Keycloak representations as JSON.

use super::backend;
use crate::{NewRealm, Result, StoreError, StoredKey, UserWithCredential};
use latchkey_domain::client::StoredSecret;
use latchkey_domain::keycloak::{ClientRepresentation, RealmRepresentation, UserRepresentation};
use latchkey_domain::{Client, Realm, User};
use rusqlite::{params, Connection, OptionalExtension, Row};

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub fn insert_realm(tx: &Connection, new: &NewRealm, now: i64) -> Result<()> {
    let rep = serde_json::to_string(&new.realm.to_representation()).expect("serialize");
    tx.execute(
        "INSERT INTO realms (id, name, representation, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![new.realm.id, new.realm.name, rep, now],
    )
    .map_err(|e| match backend(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("realm '{}'", new.realm.name)),
        other => other,
    })?;
    for k in &new.keys {
        tx.execute(
            "INSERT INTO realm_keys (kid, realm_id, alg, material, created_at, active) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![k.kid, new.realm.id, k.alg, k.material, k.created_at, k.active],
        )
        .map_err(backend)?;
    }
    for c in &new.clients {
        insert_client(tx, c)?;
    }
    for u in &new.users {
        insert_user(tx, u)?;
    }
    Ok(())
}

pub fn insert_client(tx: &Connection, c: &Client) -> Result<()> {
    let rep = serde_json::to_string(&c.to_representation()).expect("serialize");
    let roles = serde_json::to_string(&c.client_roles).expect("serialize");
    tx.execute(
        "INSERT INTO clients (id, realm_id, client_id, representation, roles, secret_digest, secret_sealed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            c.id,
            c.realm_id,
            c.client_id,
            rep,
            roles,
            c.secret.as_ref().map(|s| s.digest.clone()),
            c.secret.as_ref().map(|s| s.encrypted.clone())
        ],
    )
    .map_err(|e| match backend(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("client '{}'", c.client_id)),
        other => other,
    })?;
    Ok(())
}

pub fn insert_user(tx: &Connection, u: &UserWithCredential) -> Result<()> {
    let rep = serde_json::to_string(&u.user.to_representation()).expect("serialize");
    tx.execute(
        "INSERT INTO users (id, realm_id, username, email, representation, password_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            u.user.id,
            u.user.realm_id,
            u.user.username,
            u.user.email,
            rep,
            u.password_hash
        ],
    )
    .map_err(|e| match backend(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!("user '{}'", u.user.username)),
        other => other,
    })?;
    Ok(())
}

fn realm_from_row(r: &Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

fn to_realm(id: String, rep: String) -> Result<Realm> {
    let rep: RealmRepresentation = serde_json::from_str(&rep).map_err(|e| corrupt("realm", e))?;
    Realm::from_representation(id, &rep).map_err(|e| corrupt("realm", e))
}

pub fn realm_where(conn: &Connection, column: &str, value: &str) -> Result<Option<Realm>> {
    let sql = format!("SELECT id, representation FROM realms WHERE {column} = ?1");
    let row = super::cached_row(conn, &sql, [value], realm_from_row)
        .optional()
        .map_err(backend)?;
    row.map(|(id, rep)| to_realm(id, rep)).transpose()
}

pub fn realm_names(conn: &Connection) -> Result<Vec<String>> {
    let mut st = conn
        .prepare_cached("SELECT name FROM realms ORDER BY name")
        .map_err(backend)?;
    let rows = st.query_map([], |r| r.get(0)).map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<String>>>()
        .map_err(backend)
}

pub fn realm_keys(conn: &Connection, realm_id: &str) -> Result<Vec<StoredKey>> {
    let mut st = conn
        .prepare_cached(
            "SELECT kid, alg, material, created_at, active FROM realm_keys WHERE realm_id = ?1 ORDER BY created_at, rowid",
        )
        .map_err(backend)?;
    let rows = st
        .query_map([realm_id], |r| {
            Ok(StoredKey {
                kid: r.get(0)?,
                alg: r.get(1)?,
                material: r.get(2)?,
                created_at: r.get(3)?,
                active: r.get(4)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

const CLIENT_COLUMNS: &str = "id, realm_id, representation, roles, secret_digest, secret_sealed";

fn client_from_row(r: &Row<'_>) -> rusqlite::Result<ClientRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

type ClientRow = (
    String,
    String,
    String,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
);

fn to_client((id, realm_id, rep, roles, digest, sealed): ClientRow) -> Result<Client> {
    let rep: ClientRepresentation = serde_json::from_str(&rep).map_err(|e| corrupt("client", e))?;
    let roles: Vec<String> =
        serde_json::from_str(&roles).map_err(|e| corrupt("client roles", e))?;
    let mut c =
        Client::from_representation(id, realm_id, &rep, roles).map_err(|e| corrupt("client", e))?;
    if let (Some(digest), Some(encrypted)) = (digest, sealed) {
        c.secret = Some(StoredSecret { digest, encrypted });
    }
    Ok(c)
}

pub fn clients(conn: &Connection, realm_id: &str) -> Result<Vec<Client>> {
    let sql =
        format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = ?1 ORDER BY client_id");
    let mut st = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = st.query_map([realm_id], client_from_row).map_err(backend)?;
    rows.map(|r| r.map_err(backend).and_then(to_client))
        .collect()
}

pub fn client_by_client_id(
    conn: &Connection,
    realm_id: &str,
    client_id: &str,
) -> Result<Option<Client>> {
    let sql =
        format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = ?1 AND client_id = ?2");
    let row = super::cached_row(conn, &sql, [realm_id, client_id], client_from_row)
        .optional()
        .map_err(backend)?;
    row.map(to_client).transpose()
}

fn to_user(id: String, realm_id: String, rep: String) -> Result<User> {
    let rep: UserRepresentation = serde_json::from_str(&rep).map_err(|e| corrupt("user", e))?;
    User::from_representation(id, realm_id, &rep, 0).map_err(|e| corrupt("user", e))
}

pub fn user_by_username(
    conn: &Connection,
    realm_id: &str,
    username: &str,
) -> Result<Option<UserWithCredential>> {
    let row = super::cached_row(conn,
            "SELECT id, realm_id, representation, password_hash FROM users WHERE realm_id = ?1 AND username = ?2",
            [realm_id, &username.to_lowercase()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, Option<String>>(3)?)),
        )
        .optional()
        .map_err(backend)?;
    match row {
        None => Ok(None),
        Some((id, realm_id, rep, hash)) => Ok(Some(UserWithCredential {
            user: to_user(id, realm_id, rep)?,
            password_hash: hash,
        })),
    }
}

/// Users with this email address (at most two: one is an answer, two an ambiguity).
pub fn users_by_email(
    conn: &Connection,
    realm_id: &str,
    email: &str,
) -> Result<Vec<UserWithCredential>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, realm_id, representation, password_hash FROM users WHERE realm_id = ?1 AND email = ?2 LIMIT 2",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([realm_id, &email.to_lowercase()], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, realm_id, rep, hash) = row.map_err(backend)?;
        out.push(UserWithCredential {
            user: to_user(id, realm_id, rep)?,
            password_hash: hash,
        });
    }
    Ok(out)
}

pub fn user_by_id(conn: &Connection, realm_id: &str, id: &str) -> Result<Option<User>> {
    let row = super::cached_row(
        conn,
        "SELECT id, realm_id, representation FROM users WHERE realm_id = ?1 AND id = ?2",
        [realm_id, id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
    .map_err(backend)?;
    row.map(|(i, r, rep)| to_user(i, r, rep)).transpose()
}

pub fn update_realm(tx: &Connection, realm: &Realm) -> Result<()> {
    let rep = serde_json::to_string(&realm.to_representation()).expect("serialize");
    let n = tx
        .execute(
            "UPDATE realms SET name = ?2, representation = ?3 WHERE id = ?1",
            params![realm.id, realm.name, rep],
        )
        .map_err(|e| match backend(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("realm '{}'", realm.name)),
            other => other,
        })?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("realm '{}'", realm.name)));
    }
    Ok(())
}

pub fn delete_realm(tx: &Connection, id: &str) -> Result<bool> {
    Ok(tx
        .execute("DELETE FROM realms WHERE id = ?1", [id])
        .map_err(backend)?
        > 0)
}

pub fn client_by_id(conn: &Connection, realm_id: &str, id: &str) -> Result<Option<Client>> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = ?1 AND id = ?2");
    let row = super::cached_row(conn, &sql, [realm_id, id], client_from_row)
        .optional()
        .map_err(backend)?;
    row.map(to_client).transpose()
}

pub fn update_client(tx: &Connection, c: &Client) -> Result<()> {
    let rep = serde_json::to_string(&c.to_representation()).expect("serialize");
    let roles = serde_json::to_string(&c.client_roles).expect("serialize");
    let n = tx
        .execute(
            "UPDATE clients SET client_id = ?3, representation = ?4, roles = ?5, secret_digest = ?6, secret_sealed = ?7
             WHERE id = ?1 AND realm_id = ?2",
            params![
                c.id,
                c.realm_id,
                c.client_id,
                rep,
                roles,
                c.secret.as_ref().map(|s| s.digest.clone()),
                c.secret.as_ref().map(|s| s.encrypted.clone())
            ],
        )
        .map_err(|e| match backend(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("client '{}'", c.client_id)),
            other => other,
        })?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("client '{}'", c.client_id)));
    }
    Ok(())
}

pub fn delete_client(tx: &Connection, realm_id: &str, id: &str) -> Result<bool> {
    Ok(tx
        .execute(
            "DELETE FROM clients WHERE realm_id = ?1 AND id = ?2",
            [realm_id, id],
        )
        .map_err(backend)?
        > 0)
}

pub fn update_user(tx: &Connection, u: &User) -> Result<()> {
    let rep = serde_json::to_string(&u.to_representation()).expect("serialize");
    let n = tx
        .execute(
            "UPDATE users SET username = ?3, email = ?4, representation = ?5 WHERE id = ?1 AND realm_id = ?2",
            params![u.id, u.realm_id, u.username, u.email, rep],
        )
        .map_err(|e| match backend(e) {
            StoreError::Conflict(_) => StoreError::Conflict(format!("user '{}'", u.username)),
            other => other,
        })?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user '{}'", u.username)));
    }
    Ok(())
}

pub fn delete_user(tx: &Connection, realm_id: &str, id: &str) -> Result<bool> {
    tx.execute(
        "DELETE FROM sessions WHERE realm_id = ?1 AND user_id = ?2",
        [realm_id, id],
    )
    .map_err(backend)?;
    Ok(tx
        .execute(
            "DELETE FROM users WHERE realm_id = ?1 AND id = ?2",
            [realm_id, id],
        )
        .map_err(backend)?
        > 0)
}

fn user_filter(q: &crate::UserQuery) -> (String, Vec<String>) {
    let mut clauses = vec!["realm_id = ?1".to_string()];
    let mut args = Vec::new();
    let like = |s: &str| {
        format!(
            "%{}%",
            s.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    };
    if let Some(u) = &q.username {
        args.push(if q.exact { u.to_lowercase() } else { like(u) });
        clauses.push(
            format!(
                "username {} ?{}",
                if q.exact { "=" } else { "LIKE" },
                args.len() + 1
            ) + if q.exact { "" } else { " ESCAPE '\\'" },
        );
    }
    if let Some(e) = &q.email {
        args.push(if q.exact { e.to_lowercase() } else { like(e) });
        clauses.push(
            format!(
                "lower(email) {} ?{}",
                if q.exact { "=" } else { "LIKE" },
                args.len() + 1
            ) + if q.exact { "" } else { " ESCAPE '\\'" },
        );
    }
    if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty() && *s != "*") {
        args.push(like(s.trim_matches('*')));
        let n = args.len() + 1;
        clauses.push(format!(
            "(username LIKE ?{n} ESCAPE '\\' OR lower(coalesce(email, '')) LIKE ?{n} ESCAPE '\\' OR lower(representation) LIKE ?{n} ESCAPE '\\')"
        ));
    }
    (clauses.join(" AND "), args)
}

pub fn users(conn: &Connection, realm_id: &str, q: &crate::UserQuery) -> Result<Vec<User>> {
    let (filter, args) = user_filter(q);
    let sql = format!(
        "SELECT id, realm_id, representation FROM users WHERE {filter} AND ({} OR representation NOT LIKE '%\"serviceAccountClientId\"%') ORDER BY username LIMIT {} OFFSET {}",
        if q.service_accounts { "1" } else { "0" },
        if q.max > 0 { q.max } else { 100 },
        q.first.max(0)
    );
    let mut st = conn.prepare(&sql).map_err(backend)?;
    let mut all: Vec<&dyn rusqlite::ToSql> = vec![&realm_id];
    for a in &args {
        all.push(a);
    }
    let rows = st
        .query_map(all.as_slice(), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(backend)?;
    rows.map(|r| {
        r.map_err(backend)
            .and_then(|(i, re, rep)| to_user(i, re, rep))
    })
    .collect()
}

pub fn count_users(conn: &Connection, realm_id: &str, q: &crate::UserQuery) -> Result<i64> {
    let (filter, args) = user_filter(q);
    let sql = format!("SELECT count(*) FROM users WHERE {filter} AND representation NOT LIKE '%\"serviceAccountClientId\"%'");
    let mut all: Vec<&dyn rusqlite::ToSql> = vec![&realm_id];
    for a in &args {
        all.push(a);
    }
    conn.query_row(&sql, all.as_slice(), |r| r.get(0))
        .map_err(backend)
}
