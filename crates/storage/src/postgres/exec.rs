//! Runs the shared statements ([`crate::sql`]) on a PostgreSQL connection: each prepared once
//! per connection, a write plan's statements pipelined (sent together, answered together).

use super::backend;
use crate::sql::{corrupt, Columns, Statement, Value};
use crate::Result;
use bytes::BytesMut;
use deadpool_postgres::GenericClient;
use futures_util::future::join_all;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use tokio_postgres::Row;

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Bool(v) => v.to_sql(ty, out),
            Value::Text(v) => v.as_str().to_sql(ty, out),
            Value::Bytes(v) => v.as_slice().to_sql(ty, out),
        }
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

impl Columns for Row {
    fn text(&self, i: usize) -> Result<String> {
        self.try_get(i).map_err(|e| corrupt(i, e))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>> {
        self.try_get(i).map_err(|e| corrupt(i, e))
    }
    fn int(&self, i: usize) -> Result<i64> {
        self.try_get(i).map_err(|e| corrupt(i, e))
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        self.try_get(i).map_err(|e| corrupt(i, e))
    }
    fn flag(&self, i: usize) -> Result<bool> {
        self.try_get(i).map_err(|e| corrupt(i, e))
    }
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>> {
        self.try_get(i).map_err(|e| corrupt(i, e))
    }
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// Runs one statement; the rows it changed.
pub async fn execute<C: GenericClient>(c: &C, s: &Statement) -> Result<u64> {
    let st = c.prepare_cached(&s.sql).await.map_err(backend)?;
    c.execute(&st, &refs(&s.params))
        .await
        .map_err(|e| s.failed(backend(e)))
}

/// Runs a write plan inside the caller's transaction, its statements sent together. The rows
/// each changed.
pub async fn run<C: GenericClient>(c: &C, plan: &[Statement]) -> Result<Vec<u64>> {
    let ready = prepared(c, plan).await?;
    counts(
        plan,
        join_all(ready.iter().map(|(st, p)| c.execute(st, p))).await,
    )
}

/// Every row of `sql`, mapped.
pub async fn query<C: GenericClient, T>(
    c: &C,
    sql: &str,
    params: &[Value],
    map: impl Fn(&Row) -> Result<T>,
) -> Result<Vec<T>> {
    let st = c.prepare_cached(sql).await.map_err(backend)?;
    let rows = c.query(&st, &refs(params)).await.map_err(backend)?;
    rows.iter().map(map).collect()
}

/// The first row of `sql`, mapped; `None` when there is none.
pub async fn query_opt<C: GenericClient, T>(
    c: &C,
    sql: &str,
    params: &[Value],
    map: impl FnOnce(&Row) -> Result<T>,
) -> Result<Option<T>> {
    let st = c.prepare_cached(sql).await.map_err(backend)?;
    let row = c.query_opt(&st, &refs(params)).await.map_err(backend)?;
    row.as_ref().map(map).transpose()
}

/// Prepares a plan's statements (from the connection's cache after the first time) and their
/// parameters, so that what follows can send them all in one go.
async fn prepared<'p, C: GenericClient>(
    c: &C,
    plan: &'p [Statement],
) -> Result<Vec<(tokio_postgres::Statement, Vec<&'p (dyn ToSql + Sync)>)>> {
    let mut out = Vec::with_capacity(plan.len());
    for s in plan {
        out.push((
            c.prepare_cached(&s.sql).await.map_err(backend)?,
            refs(&s.params),
        ));
    }
    Ok(out)
}

/// The first error in plan order: the statements after a failed one fail only because the
/// transaction did.
fn counts(
    plan: &[Statement],
    ran: Vec<std::result::Result<u64, tokio_postgres::Error>>,
) -> Result<Vec<u64>> {
    plan.iter()
        .zip(ran)
        .map(|(s, r)| r.map_err(|e| s.failed(backend(e))))
        .collect()
}

/// Runs a write plan and COMMITs the transaction it is in, all sent in one round trip. A
/// failed statement makes the COMMIT a rollback, and is the error.
pub async fn run_and_commit<C: GenericClient>(c: &C, plan: &[Statement]) -> Result<Vec<u64>> {
    let ready = prepared(c, plan).await?;
    let (ran, committed) = tokio::join!(
        join_all(ready.iter().map(|(st, p)| c.execute(st, p))),
        c.batch_execute("COMMIT")
    );
    let ran = counts(plan, ran)?;
    committed.map_err(backend)?;
    Ok(ran)
}

/// Runs a write plan as one transaction — BEGIN, the statements, COMMIT — in one round trip.
/// Once sent, the server finishes it whether or not the caller waits for the answer.
pub async fn transact<C: GenericClient>(c: &C, plan: &[Statement]) -> Result<Vec<u64>> {
    let ready = prepared(c, plan).await?;
    let (begun, ran, committed) = tokio::join!(
        c.batch_execute("BEGIN"),
        join_all(ready.iter().map(|(st, p)| c.execute(st, p))),
        c.batch_execute("COMMIT")
    );
    begun.map_err(backend)?;
    let ran = counts(plan, ran)?;
    committed.map_err(backend)?;
    Ok(ran)
}
