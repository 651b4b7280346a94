//! Group commit: one thread owns SQLite's one writer connection. Requests queue their write as a
//! job; the thread takes every job waiting (up to `MAX_BATCH`), runs each inside its own
//! SAVEPOINT of one IMMEDIATE transaction, commits once — with `synchronous = FULL` that is one
//! WAL fsync for the whole batch — and only then answers each request. A job that fails rolls
//! back to its savepoint and leaves the others in the batch untouched; nobody hears "done" about
//! a write that is not on disk.
//!
//! A job may also hear its outcome early ([`Writer::write_early`]): after every job of the
//! batch has run and just before the commit, so that its caller can prepare an answer while
//! the thread waits on the disk. The caller still sends nothing until the commit is known.

use super::backend;
use crate::{lost_write, Pending, Result, StoreError};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Jobs committed together at most; enough to amortise an fsync, small enough to keep latency.
const MAX_BATCH: usize = 512;

/// What a job hands back after running: whether it succeeded, what to tell its caller just
/// before the batch commits (a success's outcome), and how to tell its caller the rest once
/// the batch's commit is known.
pub(crate) struct Ran {
    ok: bool,
    early: Option<Box<dyn FnOnce() + Send>>,
    answer: Box<dyn FnOnce(Result<()>) + Send>,
}

type Job = Box<dyn FnOnce(&Transaction<'_>) -> Ran + Send>;

pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    pub stats: Arc<Stats>,
}

/// How the group commit goes: jobs per batch, and how long each batch took to run and reach
/// the disk.
pub(crate) struct Stats {
    pub batch_size: Histogram,
    pub commit_seconds: Histogram,
}

impl Default for Stats {
    fn default() -> Stats {
        Stats {
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            commit_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 14)),
        }
    }
}

impl Writer {
    /// Starts the writer thread; it stops when the `Writer` (the sender) is dropped.
    pub fn start(conn: Connection) -> Writer {
        let (jobs, queue) = mpsc::channel::<Job>();
        let stats = Arc::new(Stats::default());
        let s = stats.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, queue, &s))
            .expect("spawn the SQLite writer thread");
        Writer { jobs, stats }
    }

    /// Runs `f` in the next batch; resolves after the batch is durably committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        self.write_early(f).await?.durable().await
    }

    /// Runs `f` in the next batch; resolves with its outcome once every job of the batch has
    /// run, before the commit. The [`Pending`] says when the commit is durable. A job that fails
    /// resolves with its error after the batch.
    pub async fn write_early<T, F>(&self, f: F) -> Result<Pending<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T> + Send + 'static,
    {
        let (tell, hear) = tokio::sync::oneshot::channel::<Result<T>>();
        let (tell_commit, hear_commit) = tokio::sync::oneshot::channel::<Result<()>>();
        let job: Job = Box::new(move |tx| match f(tx) {
            Ok(value) => Ran {
                ok: true,
                early: Some(Box::new(move || {
                    let _ = tell.send(Ok(value));
                })),
                answer: Box::new(move |commit: Result<()>| {
                    let _ = tell_commit.send(commit);
                }),
            },
            Err(e) => Ran {
                ok: false,
                early: None,
                answer: Box::new(move |_| {
                    let _ = tell.send(Err(e));
                }),
            },
        });
        self.submit(job)?;
        let value = hear.await.unwrap_or_else(|_| Err(lost_write()))?;
        Ok(Pending::committing(value, hear_commit))
    }

    fn submit(&self, job: Job) -> Result<()> {
        self.jobs
            .send(job)
            .map_err(|_| StoreError::Backend("the SQLite writer has stopped".into()))
    }
}

fn run(mut conn: Connection, queue: mpsc::Receiver<Job>, stats: &Stats) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        gather(&queue, &mut batch);
        let (size, started) = (batch.len(), Instant::now());
        commit_batch(&mut conn, batch);
        stats.batch_size.observe(size as f64);
        stats
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Longest a batch waits for company after its first job.
const GATHER_WINDOW: Duration = Duration::from_micros(500);

/// Takes every job waiting; then steps aside (`yield_now`) so that request threads sharing
/// this core can finish the requests they are in the middle of, and takes what they queued —
/// for as long as each step aside brings more, up to `MAX_BATCH` and `GATHER_WINDOW`. When
/// nothing else wants the core the step aside returns at once and the batch commits: a lone
/// write waits one system call, not a timer.
fn gather(queue: &mpsc::Receiver<Job>, batch: &mut Vec<Job>) {
    let deadline = Instant::now() + GATHER_WINDOW;
    take_waiting(queue, batch);
    while batch.len() < MAX_BATCH && Instant::now() < deadline {
        let before = batch.len();
        std::thread::yield_now();
        take_waiting(queue, batch);
        if batch.len() == before {
            return;
        }
    }
}

fn take_waiting(queue: &mpsc::Receiver<Job>, batch: &mut Vec<Job>) {
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(j) => batch.push(j),
            Err(_) => break,
        }
    }
}

fn commit_batch(conn: &mut Connection, batch: Vec<Job>) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = backend(e);
            tracing::error!(error = %e, "cannot begin a write transaction");
            // Dropping the jobs drops their answers: each caller hears a failure.
            drop(batch);
            return;
        }
    };
    let alone = batch.len() == 1;
    let mut lone_failed = false;
    let mut answers = Vec::with_capacity(batch.len());
    let mut early = Vec::new();
    for job in batch {
        if !alone && savepoint(&tx, "SAVEPOINT job").is_err() {
            continue; // the job is dropped: its caller hears a failure
        }
        match catch_unwind(AssertUnwindSafe(|| job(&tx))) {
            Ok(ran) => {
                if !alone {
                    let undo = if ran.ok {
                        savepoint(&tx, "RELEASE job")
                    } else {
                        savepoint(&tx, "ROLLBACK TO job")
                            .and_then(|_| savepoint(&tx, "RELEASE job"))
                    };
                    if let Err(e) = undo {
                        tracing::error!(error = %e, "savepoint failed");
                    }
                } else {
                    lone_failed = !ran.ok;
                }
                early.extend(ran.early);
                answers.push(ran.answer);
            }
            Err(_) => {
                tracing::error!("a write job panicked; its changes are rolled back");
                if alone {
                    lone_failed = true;
                } else {
                    let _ = savepoint(&tx, "ROLLBACK TO job")
                        .and_then(|_| savepoint(&tx, "RELEASE job"));
                }
            }
        }
    }
    // Every job has run: those that asked hear their outcome now, and prepare their answers
    // while this thread waits on the disk.
    for tell in early {
        tell();
    }
    // A lone job that failed is rolled back whole; its caller gets its own error.
    let result = if lone_failed {
        tx.rollback().map_err(backend)
    } else {
        tx.commit().map_err(backend)
    };
    if let Err(e) = &result {
        tracing::error!(error = %e, "commit failed");
    }
    for answer in answers {
        answer(match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Backend(e.to_string())),
        });
    }
}

fn savepoint(tx: &Transaction<'_>, sql: &str) -> Result<()> {
    tx.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(|_| ())
        .map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (Writer, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("latchkey-writer-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let conn = Connection::open(dir.join("w.db")).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY);")
            .unwrap();
        (Writer::start(conn), dir)
    }

    fn insert(k: &'static str, fail_after: bool) -> impl FnOnce(&Transaction<'_>) -> Result<()> {
        move |tx| {
            tx.execute("INSERT INTO t (k) VALUES (?1)", [k])
                .map_err(backend)?;
            if fail_after {
                return Err(StoreError::InvalidInput(format!("{k} refused")));
            }
            Ok(())
        }
    }

    fn keys(dir: &std::path::Path) -> Vec<String> {
        let c = Connection::open(dir.join("w.db")).unwrap();
        let mut st = c.prepare("SELECT k FROM t ORDER BY k").unwrap();
        let v = st.query_map([], |r| r.get(0)).unwrap();
        v.map(|r| r.unwrap()).collect()
    }

    #[tokio::test]
    async fn a_failed_job_leaves_nothing_and_its_batch_mates_commit() {
        let (w, dir) = writer();
        // Many jobs at once so that they share batches.
        let futs = (0..200).map(|i| {
            let k: &'static str = Box::leak(format!("k{i:03}").into_boxed_str());
            w.write(insert(k, i % 10 == 3))
        });
        let results = futures_util::future::join_all(futs).await;
        for (i, r) in results.iter().enumerate() {
            assert_eq!(r.is_ok(), i % 10 != 3, "job {i}: {r:?}");
        }
        let got = keys(&dir);
        assert_eq!(got.len(), 180);
        assert!(!got.contains(&"k003".to_string()));
        assert!(got.contains(&"k004".to_string()));
    }

    #[tokio::test]
    async fn an_early_answer_comes_before_the_commit_and_a_failed_commit_is_told_after() {
        let (w, dir) = writer();
        w.write(|tx| {
            tx.execute_batch(
                "PRAGMA foreign_keys = ON; CREATE TABLE child (k TEXT REFERENCES t (k) \
                 DEFERRABLE INITIALLY DEFERRED);",
            )
            .map_err(backend)
        })
        .await
        .unwrap();
        // A job that succeeds and commits.
        let ok = w.write_early(insert("e", false)).await.unwrap();
        ok.durable().await.unwrap();
        // A job whose statement succeeds but whose commit fails: its outcome is heard, then
        // the durable wait says the commit failed, and nothing is left behind.
        let orphan = w
            .write_early(|tx| {
                tx.execute("INSERT INTO child (k) VALUES ('missing')", [])
                    .map_err(backend)
            })
            .await
            .unwrap();
        assert_eq!(*orphan.value(), 1, "the insert ran");
        let err = orphan.durable().await.unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
        let c = Connection::open(dir.join("w.db")).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM child", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        // A job that fails is an error of write_early itself, and is rolled back.
        assert!(w.write_early(insert("f", true)).await.is_err());
        assert_eq!(keys(&dir), vec!["e".to_string()]);
    }

    #[tokio::test]
    async fn a_lone_failed_job_is_rolled_back_and_a_panic_is_an_error() {
        let (w, dir) = writer();
        assert!(w.write(insert("a", true)).await.is_err());
        let r: Result<()> = w
            .write(|tx| {
                tx.execute("INSERT INTO t (k) VALUES ('p')", []).unwrap();
                panic!("boom")
            })
            .await;
        assert!(r.is_err());
        w.write(insert("b", false)).await.unwrap();
        assert_eq!(keys(&dir), vec!["b".to_string()]);
    }
}
