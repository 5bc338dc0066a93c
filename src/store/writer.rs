//! The single writer with group commit.
//!
//! Every write of the process goes through one thread that owns one connection. It takes the
//! first waiting job, drains whatever else queued up meanwhile (up to `max_group`), and runs
//! them all in one transaction, each job in its own savepoint. A job that fails rolls back
//! only its savepoint; the others commit. Each caller hears back only after the commit, so
//! an acknowledgement always means durable, and concurrent requests share one fsync.

use std::thread::JoinHandle;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection;
use tokio::sync::{mpsc, oneshot};

use super::{DbConn, StoreError};

/// What a job leaves behind once its savepoint ran: a function told whether the group committed.
type Finish = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
type Job = Box<dyn FnOnce(&mut DbConn) -> Finish + Send>;

#[derive(Debug, Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// Figures for tests and metrics: how many transactions carried how many jobs.
#[derive(Debug, Default, Clone, Copy)]
pub struct GroupStats {
    pub groups: u64,
    pub jobs: u64,
}

impl Writer {
    /// Starts the writer thread; it ends when the last [`Writer`] handle is dropped, after
    /// finishing every job already queued.
    pub fn start(
        mut conn: DbConn,
        max_group: usize,
        stats: std::sync::Arc<std::sync::Mutex<GroupStats>>,
    ) -> Result<(Self, JoinHandle<()>), StoreError> {
        let (tx, mut rx) = mpsc::channel::<Job>(max_group.max(1) * 4);
        let max_group = max_group.max(1);
        let handle = std::thread::Builder::new()
            .name("hafen-writer".into())
            .spawn(move || {
                let mut group = Vec::with_capacity(max_group);
                while let Some(first) = rx.blocking_recv() {
                    group.push(first);
                    while group.len() < max_group {
                        match rx.try_recv() {
                            Ok(job) => group.push(job),
                            Err(_) => break,
                        }
                    }
                    run_group(&mut conn, &mut group, &stats);
                }
            })
            .map_err(|e| StoreError::Connect(format!("cannot start the writer thread: {e}")))?;
        Ok((Self { jobs: tx }, handle))
    }

    /// Writes waiting for the writer thread.
    pub fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// Runs `work` inside the next group's transaction and returns its result once the group
    /// has committed. An error from `work` rolls back only its own changes.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(move |conn: &mut DbConn| {
            let outcome = conn.transaction(work);
            Box::new(move |commit: Result<(), &StoreError>| {
                let result = match (outcome, commit) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(StoreError::Commit(e.to_string())),
                };
                // The caller may have gone away (client disconnected); the write stands.
                let _ = reply.send(result);
            })
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

fn run_group(conn: &mut DbConn, group: &mut Vec<Job>, stats: &std::sync::Mutex<GroupStats>) {
    let n = group.len() as u64;
    let mut finishers: Vec<Finish> = Vec::with_capacity(group.len());
    let committed = group_transaction(conn, |tx| {
        for job in group.drain(..) {
            finishers.push(job(tx));
        }
    });
    // A failed BEGIN leaves jobs unrun: they learn the failure too.
    for job in group.drain(..) {
        finishers.push(job_not_run(job));
    }
    if let Err(e) = &committed {
        tracing::error!(error = %e, "group commit failed; {} writes rolled back", finishers.len());
    }
    {
        let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
        s.groups += 1;
        s.jobs += n;
    }
    for finish in finishers {
        finish(committed.as_ref().map(|_| ()));
    }
}

/// Runs `body` in one transaction. On SQLite it begins IMMEDIATE, taking the write lock up
/// front and waiting out `busy_timeout` while another process writes (`hafen key rotate`, a
/// CLI retention run). A deferred BEGIN reads first; when another process commits meanwhile,
/// SQLite cannot upgrade the stale read to a write and fails at once with "database is
/// locked" -- the 500s the crash-kill test found during online key rotation.
fn group_transaction(conn: &mut DbConn, body: impl FnOnce(&mut DbConn)) -> Result<(), StoreError> {
    type Manager = <DbConn as Connection>::TransactionManager;
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Postgres(_) => Manager::begin_transaction(conn)?,
    }
    body(conn);
    Manager::commit_transaction(conn).map_err(|e| {
        // As diesel's `transaction` does: a failed COMMIT may leave the transaction open.
        let _ = Manager::rollback_transaction(conn);
        StoreError::from(e)
    })
}

fn job_not_run(_job: Job) -> Finish {
    Box::new(|_| {})
}
