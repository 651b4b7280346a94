//! `latchkey migrate`: copies every table of one store into another (SQLite → PostgreSQL, or
//! back), in one transaction on the target, tables in foreign-key order.

use crate::{Result, StoreError};

#[derive(Clone, Copy)]
enum Kind {
    Text,
    OptText,
    Int,
    OptInt,
    Bool,
    Blob,
    OptBlob,
}
use Kind::*;

type Table = (&'static str, &'static [(&'static str, Kind)]);

const TABLES: &[Table] = &[
    (
        "realms",
        &[
            ("id", Text),
            ("name", Text),
            ("representation", Text),
            ("created_at", Int),
        ],
    ),
    (
        "realm_keys",
        &[
            ("kid", Text),
            ("realm_id", Text),
            ("alg", Text),
            ("material", Blob),
            ("created_at", Int),
            ("active", Bool),
        ],
    ),
    (
        "clients",
        &[
            ("id", Text),
            ("realm_id", Text),
            ("client_id", Text),
            ("representation", Text),
            ("roles", Text),
            ("secret_digest", OptBlob),
            ("secret_sealed", OptBlob),
        ],
    ),
    (
        "users",
        &[
            ("id", Text),
            ("realm_id", Text),
            ("username", Text),
            ("email", OptText),
            ("representation", Text),
            ("password_hash", OptText),
        ],
    ),
    (
        "sessions",
        &[
            ("id", Text),
            ("realm_id", Text),
            ("user_id", Text),
            ("offline", Bool),
            ("started_at", Int),
            ("auth_time", Int),
            ("last_refresh", Int),
            ("ended_at", OptInt),
            ("end_reason", OptText),
        ],
    ),
    (
        "client_sessions",
        &[
            ("id", Text),
            ("session_id", Text),
            ("client_id", Text),
            ("started_at", Int),
            ("last_refresh", Int),
            ("current_jti", OptText),
            ("revoked_at", OptInt),
            ("revoke_reason", OptText),
        ],
    ),
    (
        "refresh_tokens",
        &[
            ("jti", Text),
            ("client_session_id", Text),
            ("parent_jti", OptText),
            ("issued_at", Int),
            ("expires_at", OptInt),
            ("scope", Text),
            ("offline", Bool),
            ("rotated_at", OptInt),
            ("successor_jti", OptText),
            ("use_count", Int),
        ],
    ),
    ("revoked_tokens", &[("jti", Text), ("expires_at", Int)]),
    (
        "events",
        &[
            ("realm_id", OptText),
            ("at", Int),
            ("kind", Text),
            ("detail", Text),
        ],
    ),
    (
        "auth_codes",
        &[
            ("code_hash", Text),
            ("realm_id", Text),
            ("client_id", Text),
            ("redirect_uri", Text),
            ("redirect_uri_sent", Bool),
            ("scope", Text),
            ("nonce", OptText),
            ("code_challenge", OptText),
            ("session_id", Text),
            ("user_id", Text),
            ("auth_time", Int),
            ("expires_at", Int),
            ("used_at", OptInt),
            ("family_id", OptText),
        ],
    ),
];

/// Every table's rows, in `TABLES` order.
type Dump = Vec<(&'static str, Vec<Vec<Val>>)>;

/// One value in transit.
#[derive(Debug, Clone)]
enum Val {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(bool),
    Blob(Option<Vec<u8>>),
}

fn read_sqlite(path: &str) -> Result<Dump> {
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| StoreError::Backend(format!("cannot open {path}: {e}")))?;
    let mut out = Vec::new();
    for (table, cols) in TABLES {
        let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
        let sql = format!("SELECT {} FROM {table}", names.join(", "));
        let mut st = conn.prepare(&sql).map_err(crate::sqlite::backend)?;
        let rows = st
            .query_map([], |r| {
                cols.iter()
                    .enumerate()
                    .map(|(i, (_, k))| {
                        Ok(match k {
                            Text | OptText => Val::Text(r.get(i)?),
                            Int | OptInt => Val::Int(r.get(i)?),
                            Bool => Val::Bool(r.get(i)?),
                            Blob | OptBlob => Val::Blob(r.get(i)?),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<Val>>>()
            })
            .map_err(crate::sqlite::backend)?;
        out.push((
            *table,
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .map_err(crate::sqlite::backend)?,
        ));
    }
    Ok(out)
}

async fn read_postgres(url: &str) -> Result<Dump> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(crate::postgres::backend)?;
    tokio::spawn(conn);
    let mut out = Vec::new();
    for (table, cols) in TABLES {
        let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
        let rows = client
            .query(&format!("SELECT {} FROM {table}", names.join(", ")), &[])
            .await
            .map_err(crate::postgres::backend)?;
        let vals = rows
            .iter()
            .map(|r| {
                cols.iter()
                    .enumerate()
                    .map(|(i, (_, k))| match k {
                        Text | OptText => Val::Text(r.get(i)),
                        Int | OptInt => Val::Int(r.get(i)),
                        Bool => Val::Bool(r.get(i)),
                        Blob | OptBlob => Val::Blob(r.get(i)),
                    })
                    .collect()
            })
            .collect();
        out.push((*table, vals));
    }
    Ok(out)
}

async fn write_postgres(url: &str, data: &Dump) -> Result<()> {
    // Opening the store applies the migrations.
    drop(crate::postgres::PgStore::open(url).await?);
    let (mut client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(crate::postgres::backend)?;
    tokio::spawn(conn);
    let tx = client
        .transaction()
        .await
        .map_err(crate::postgres::backend)?;
    let existing: i64 = tx
        .query_one("SELECT count(*) FROM realms", &[])
        .await
        .map_err(crate::postgres::backend)?
        .get(0);
    if existing > 0 {
        return Err(StoreError::Conflict(
            "the target store already has realms; migrate into an empty store".into(),
        ));
    }
    for ((table, cols), (_, rows)) in TABLES.iter().zip(data) {
        let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let st = tx
            .prepare(&format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                marks.join(", ")
            ))
            .await
            .map_err(crate::postgres::backend)?;
        for row in rows {
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = row
                .iter()
                .map(|v| -> &(dyn tokio_postgres::types::ToSql + Sync) {
                    match v {
                        Val::Text(t) => t,
                        Val::Int(i) => i,
                        Val::Bool(b) => b,
                        Val::Blob(b) => b,
                    }
                })
                .collect();
            tx.execute(&st, &params)
                .await
                .map_err(crate::postgres::backend)?;
        }
    }
    tx.commit().await.map_err(crate::postgres::backend)
}

async fn write_sqlite(path: &str, data: &Dump) -> Result<()> {
    drop(crate::sqlite::SqliteStore::open(path).await?);
    let mut conn = rusqlite::Connection::open(path).map_err(crate::sqlite::backend)?;
    let tx = conn.transaction().map_err(crate::sqlite::backend)?;
    let existing: i64 = tx
        .query_row("SELECT count(*) FROM realms", [], |r| r.get(0))
        .map_err(crate::sqlite::backend)?;
    if existing > 0 {
        return Err(StoreError::Conflict(
            "the target store already has realms; migrate into an empty store".into(),
        ));
    }
    for ((table, cols), (_, rows)) in TABLES.iter().zip(data) {
        let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
        let mut st = tx
            .prepare(&format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                names.join(", "),
                marks.join(", ")
            ))
            .map_err(crate::sqlite::backend)?;
        for row in rows {
            let params: Vec<&dyn rusqlite::ToSql> = row
                .iter()
                .map(|v| -> &dyn rusqlite::ToSql {
                    match v {
                        Val::Text(t) => t,
                        Val::Int(i) => i,
                        Val::Bool(b) => b,
                        Val::Blob(b) => b,
                    }
                })
                .collect();
            st.execute(params.as_slice())
                .map_err(crate::sqlite::backend)?;
        }
    }
    tx.commit().map_err(crate::sqlite::backend)
}

/// Copies everything from `from` to `to` (an empty store). Returns rows copied per table.
pub async fn migrate(from: &str, to: &str) -> Result<Vec<(&'static str, usize)>> {
    let data = if let Some(p) = from.strip_prefix("sqlite://") {
        let p = p.to_string();
        tokio::task::spawn_blocking(move || read_sqlite(&p))
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))??
    } else if from.starts_with("postgres") {
        read_postgres(from).await?
    } else {
        return Err(StoreError::Backend(format!(
            "--from: unsupported URL '{from}'"
        )));
    };
    if let Some(p) = to.strip_prefix("sqlite://") {
        write_sqlite(p, &data).await?;
    } else if to.starts_with("postgres") {
        write_postgres(to, &data).await?;
    } else {
        return Err(StoreError::Backend(format!("--to: unsupported URL '{to}'")));
    }
    Ok(data.iter().map(|(t, rows)| (*t, rows.len())).collect())
}
