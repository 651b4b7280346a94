//! Realms, keys, clients and users on PostgreSQL.

use super::backend;
use crate::{NewRealm, Result, StoreError, StoredKey, UserQuery, UserWithCredential};
use deadpool_postgres::GenericClient;
use latchkey_domain::client::StoredSecret;
use latchkey_domain::keycloak::{ClientRepresentation, RealmRepresentation, UserRepresentation};
use latchkey_domain::{Client, Realm, User};
use tokio_postgres::Row;

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn named(e: tokio_postgres::Error, what: String) -> StoreError {
    match backend(e) {
        StoreError::Conflict(_) => StoreError::Conflict(what),
        other => other,
    }
}

pub async fn insert_realm<C: GenericClient>(c: &C, new: &NewRealm, now: i64) -> Result<()> {
    let rep = serde_json::to_string(&new.realm.to_representation()).expect("serialize");
    c.execute(
        "INSERT INTO realms (id, name, representation, created_at) VALUES ($1, $2, $3, $4)",
        &[&new.realm.id, &new.realm.name, &rep, &now],
    )
    .await
    .map_err(|e| named(e, format!("realm '{}'", new.realm.name)))?;
    for k in &new.keys {
        c.execute(
            "INSERT INTO realm_keys (kid, realm_id, alg, material, created_at, active) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&k.kid, &new.realm.id, &k.alg, &k.material, &k.created_at, &k.active],
        )
        .await
        .map_err(backend)?;
    }
    for cl in &new.clients {
        insert_client(c, cl).await?;
    }
    for u in &new.users {
        insert_user(c, u).await?;
    }
    Ok(())
}

pub async fn insert_key<C: GenericClient>(c: &C, realm_id: &str, k: &StoredKey) -> Result<()> {
    c.execute(
        "INSERT INTO realm_keys (kid, realm_id, alg, material, created_at, active) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&k.kid, &realm_id, &k.alg, &k.material, &k.created_at, &k.active],
    )
    .await
    .map_err(backend)?;
    Ok(())
}

pub async fn insert_client<C: GenericClient>(c: &C, cl: &Client) -> Result<()> {
    let rep = serde_json::to_string(&cl.to_representation()).expect("serialize");
    let roles = serde_json::to_string(&cl.client_roles).expect("serialize");
    let (d, s) = (
        cl.secret.as_ref().map(|x| x.digest.clone()),
        cl.secret.as_ref().map(|x| x.encrypted.clone()),
    );
    c.execute(
        "INSERT INTO clients (id, realm_id, client_id, representation, roles, secret_digest, secret_sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&cl.id, &cl.realm_id, &cl.client_id, &rep, &roles, &d, &s],
    )
    .await
    .map_err(|e| named(e, format!("client '{}'", cl.client_id)))?;
    Ok(())
}

pub async fn insert_user<C: GenericClient>(c: &C, u: &UserWithCredential) -> Result<()> {
    let rep = serde_json::to_string(&u.user.to_representation()).expect("serialize");
    c.execute(
        "INSERT INTO users (id, realm_id, username, email, representation, password_hash) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&u.user.id, &u.user.realm_id, &u.user.username, &u.user.email, &rep, &u.password_hash],
    )
    .await
    .map_err(|e| named(e, format!("user '{}'", u.user.username)))?;
    Ok(())
}

fn to_realm(r: &Row) -> Result<Realm> {
    let rep: RealmRepresentation =
        serde_json::from_str(r.get::<_, &str>(1)).map_err(|e| corrupt("realm", e))?;
    Realm::from_representation(r.get(0), &rep).map_err(|e| corrupt("realm", e))
}

pub async fn realm_where<C: GenericClient>(
    c: &C,
    column: &str,
    value: &str,
) -> Result<Option<Realm>> {
    let sql = format!("SELECT id, representation FROM realms WHERE {column} = $1");
    c.query_opt(&sql, &[&value])
        .await
        .map_err(backend)?
        .as_ref()
        .map(to_realm)
        .transpose()
}

pub async fn realm_names<C: GenericClient>(c: &C) -> Result<Vec<String>> {
    Ok(c.query("SELECT name FROM realms ORDER BY name", &[])
        .await
        .map_err(backend)?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

pub async fn realm_keys<C: GenericClient>(c: &C, realm_id: &str) -> Result<Vec<StoredKey>> {
    let rows = c
        .query(
            "SELECT kid, alg, material, created_at, active FROM realm_keys WHERE realm_id = $1 ORDER BY created_at, seq",
            &[&realm_id],
        )
        .await
        .map_err(backend)?;
    Ok(rows
        .iter()
        .map(|r| StoredKey {
            kid: r.get(0),
            alg: r.get(1),
            material: r.get(2),
            created_at: r.get(3),
            active: r.get(4),
        })
        .collect())
}

const CLIENT_COLUMNS: &str = "id, realm_id, representation, roles, secret_digest, secret_sealed";

fn to_client(r: &Row) -> Result<Client> {
    let rep: ClientRepresentation =
        serde_json::from_str(r.get::<_, &str>(2)).map_err(|e| corrupt("client", e))?;
    let roles: Vec<String> =
        serde_json::from_str(r.get::<_, &str>(3)).map_err(|e| corrupt("client roles", e))?;
    let mut c = Client::from_representation(r.get(0), r.get(1), &rep, roles)
        .map_err(|e| corrupt("client", e))?;
    if let (Some(digest), Some(encrypted)) = (
        r.get::<_, Option<Vec<u8>>>(4),
        r.get::<_, Option<Vec<u8>>>(5),
    ) {
        c.secret = Some(StoredSecret { digest, encrypted });
    }
    Ok(c)
}

pub async fn clients<C: GenericClient>(c: &C, realm_id: &str) -> Result<Vec<Client>> {
    let sql =
        format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1 ORDER BY client_id");
    c.query(&sql, &[&realm_id])
        .await
        .map_err(backend)?
        .iter()
        .map(to_client)
        .collect()
}

pub async fn client_where<C: GenericClient>(
    c: &C,
    realm_id: &str,
    column: &str,
    value: &str,
) -> Result<Option<Client>> {
    let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE realm_id = $1 AND {column} = $2");
    c.query_opt(&sql, &[&realm_id, &value])
        .await
        .map_err(backend)?
        .as_ref()
        .map(to_client)
        .transpose()
}

fn to_user(r: &Row) -> Result<User> {
    let rep: UserRepresentation =
        serde_json::from_str(r.get::<_, &str>(2)).map_err(|e| corrupt("user", e))?;
    User::from_representation(r.get(0), r.get(1), &rep, 0).map_err(|e| corrupt("user", e))
}

pub async fn user_by_username<C: GenericClient>(
    c: &C,
    realm_id: &str,
    username: &str,
) -> Result<Option<UserWithCredential>> {
    let row = c
        .query_opt(
            "SELECT id, realm_id, representation, password_hash FROM users WHERE realm_id = $1 AND username = $2",
            &[&realm_id, &username.to_lowercase()],
        )
        .await
        .map_err(backend)?;
    match row {
        None => Ok(None),
        Some(r) => Ok(Some(UserWithCredential {
            user: to_user(&r)?,
            password_hash: r.get(3),
        })),
    }
}

/// Users with this email address (at most two: one is an answer, two an ambiguity).
pub async fn users_by_email<C: GenericClient>(
    c: &C,
    realm_id: &str,
    email: &str,
) -> Result<Vec<UserWithCredential>> {
    let rows = c
        .query(
            "SELECT id, realm_id, representation, password_hash FROM users WHERE realm_id = $1 AND email = $2 LIMIT 2",
            &[&realm_id, &email.to_lowercase()],
        )
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|r| {
            Ok(UserWithCredential {
                user: to_user(r)?,
                password_hash: r.get(3),
            })
        })
        .collect()
}

pub async fn user_by_id<C: GenericClient>(c: &C, realm_id: &str, id: &str) -> Result<Option<User>> {
    c.query_opt(
        "SELECT id, realm_id, representation FROM users WHERE realm_id = $1 AND id = $2",
        &[&realm_id, &id],
    )
    .await
    .map_err(backend)?
    .as_ref()
    .map(to_user)
    .transpose()
}

pub async fn update_realm<C: GenericClient>(c: &C, realm: &Realm) -> Result<()> {
    let rep = serde_json::to_string(&realm.to_representation()).expect("serialize");
    let n = c
        .execute(
            "UPDATE realms SET name = $2, representation = $3 WHERE id = $1",
            &[&realm.id, &realm.name, &rep],
        )
        .await
        .map_err(|e| named(e, format!("realm '{}'", realm.name)))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("realm '{}'", realm.name)));
    }
    Ok(())
}

pub async fn update_client<C: GenericClient>(c: &C, cl: &Client) -> Result<()> {
    let rep = serde_json::to_string(&cl.to_representation()).expect("serialize");
    let roles = serde_json::to_string(&cl.client_roles).expect("serialize");
    let (d, s) = (
        cl.secret.as_ref().map(|x| x.digest.clone()),
        cl.secret.as_ref().map(|x| x.encrypted.clone()),
    );
    let n = c
        .execute(
            "UPDATE clients SET client_id = $3, representation = $4, roles = $5, secret_digest = $6, secret_sealed = $7
             WHERE id = $1 AND realm_id = $2",
            &[&cl.id, &cl.realm_id, &cl.client_id, &rep, &roles, &d, &s],
        )
        .await
        .map_err(|e| named(e, format!("client '{}'", cl.client_id)))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("client '{}'", cl.client_id)));
    }
    Ok(())
}

pub async fn update_user<C: GenericClient>(c: &C, u: &User) -> Result<()> {
    let rep = serde_json::to_string(&u.to_representation()).expect("serialize");
    let n = c
        .execute(
            "UPDATE users SET username = $3, email = $4, representation = $5 WHERE id = $1 AND realm_id = $2",
            &[&u.id, &u.realm_id, &u.username, &u.email, &rep],
        )
        .await
        .map_err(|e| named(e, format!("user '{}'", u.username)))?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user '{}'", u.username)));
    }
    Ok(())
}

fn like(s: &str) -> String {
    format!(
        "%{}%",
        s.to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

fn user_filter(q: &UserQuery) -> (String, Vec<String>) {
    let mut clauses = vec!["realm_id = $1".to_string()];
    let mut args: Vec<String> = Vec::new();
    if let Some(u) = &q.username {
        args.push(if q.exact { u.to_lowercase() } else { like(u) });
        clauses.push(format!(
            "username {} ${}",
            if q.exact { "=" } else { "LIKE" },
            args.len() + 1
        ));
    }
    if let Some(e) = &q.email {
        args.push(if q.exact { e.to_lowercase() } else { like(e) });
        clauses.push(format!(
            "lower(email) {} ${}",
            if q.exact { "=" } else { "LIKE" },
            args.len() + 1
        ));
    }
    if let Some(s) = q.search.as_deref().filter(|s| !s.is_empty() && *s != "*") {
        args.push(like(s.trim_matches('*')));
        let n = args.len() + 1;
        clauses.push(format!(
            "(username LIKE ${n} OR lower(coalesce(email, '')) LIKE ${n} OR lower(representation) LIKE ${n})"
        ));
    }
    if !q.service_accounts {
        clauses.push("representation NOT LIKE '%\"serviceAccountClientId\"%'".into());
    }
    (clauses.join(" AND "), args)
}

pub async fn users<C: GenericClient>(c: &C, realm_id: &str, q: &UserQuery) -> Result<Vec<User>> {
    let (filter, args) = user_filter(q);
    let sql = format!(
        "SELECT id, realm_id, representation FROM users WHERE {filter} ORDER BY username LIMIT {} OFFSET {}",
        if q.max > 0 { q.max } else { 100 },
        q.first.max(0)
    );
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&realm_id];
    for a in &args {
        params.push(a);
    }
    c.query(&sql, &params)
        .await
        .map_err(backend)?
        .iter()
        .map(to_user)
        .collect()
}

pub async fn count_users<C: GenericClient>(c: &C, realm_id: &str, q: &UserQuery) -> Result<i64> {
    let (filter, args) = user_filter(q);
    let sql = format!("SELECT count(*) FROM users WHERE {filter}");
    let mut params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = vec![&realm_id];
    for a in &args {
        params.push(a);
    }
    Ok(c.query_one(&sql, &params).await.map_err(backend)?.get(0))
}
