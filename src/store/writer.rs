//! The writers with group commit.
//!
//! Every write of the process goes through a writer thread that owns one connection (SQLite:
//! one writer; PostgreSQL: `db_writers` of them, taking turns at one queue). A writer takes the
//! first waiting job, drains whatever else queued up meanwhile (up to `max_group`), and runs
//! them all in one transaction, each job in its own savepoint (on SQLite the first excepted,
//! below). A job that fails rolls back only its savepoint; the others commit. Each caller hears
//! back only after the commit, so an acknowledgement always means durable, and concurrent
//! requests share one fsync.
//!
//! On SQLite the first job of a transaction runs without a savepoint: nothing ran before it, so
//! the transaction itself undoes it. If it fails the transaction is rolled back and begun again
//! for the rest of the group ([`Undo`]). A savepoint is not free there: SQLite copies every page
//! a savepoint's job changes into its sub-journal first (15 % of the writer's time during a
//! retention run), so a long write -- a retention batch of thousands of rows -- goes first in
//! its group ([`Writer::write_long`]). PostgreSQL's savepoints cost little (measured: no
//! difference), and there a job that caught a database error and went on would leave the
//! transaction aborted for every job after it -- or, alone, be told a COMMIT succeeded that
//! PostgreSQL turned into a rollback; in its own savepoint such a job fails alone, as before.
//!
//! Writes of one kind can share their statements ([`Mergeable`]): the jobs of a group with
//! equal keys run as one, in one savepoint (one multi-row insert per table instead of one per
//! job). If that merged run fails -- one job's own rule refused it, or two jobs created the
//! same contact -- its savepoint is rolled back and each job runs alone as above, so a job
//! that fails is answered alone and the others still commit.
//!
//! What belongs to the whole transaction rather than one job runs at its end, just before
//! COMMIT ([`Finisher`]: the audit chain's appends). On PostgreSQL a store with one writer
//! takes the chain lock right after BEGIN, so the groups of all instances run one after
//! another; with several writers a group takes it only at its end, so groups write their rows
//! in parallel and queue only for the chain ([`Turn`]; docs/decisions.md, "Several writers").
//! Groups can still meet each other, or a retention batch, in a deadlock over rows: a job that
//! meets a deadlock or a serialization failure is run again in a later group -- after this one
//! has committed and released what the other side waits for -- up to [`ATTEMPTS`] times with a
//! little jitter; then its caller hears [`StoreError::Contended`].

use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::Connection;
use rand::Rng;
use tokio::sync::{mpsc, oneshot};

use super::{backend, DbConn, StoreError};

/// How often one write is tried before its caller is told to come back later.
pub const ATTEMPTS: u32 = 5;

/// Work a write transaction does once, after its jobs and before COMMIT; it collects what the
/// jobs hand it on the writer's thread (the audit chain's entries).
pub trait Finisher: Send + Sync {
    /// A transaction begins on this thread.
    fn begin(&self);
    /// A job is about to run: a mark to go back to if it fails.
    fn mark(&self) -> usize;
    /// The job since `mark` failed (its savepoint rolled back): forget what it handed in.
    fn rollback_to(&self, mark: usize);
    /// Inside the transaction, just before COMMIT.
    fn finish(&self, conn: &mut DbConn) -> Result<(), StoreError>;
    /// The transaction ends without committing: forget everything.
    fn discard(&self);
}

/// A write that can run together with others of its kind in one group: the ingest of a
/// delivery, whose rows and lookups become one statement per table for the whole group.
///
/// A write runs by reference: it may run more than once (merged, then alone; again after a
/// deadlock), and a copy of a batch's sealed rows for each run, and freeing it, cost the one
/// writer thread a quarter of its time (docs/benchmarks.md). Once answered, the write goes
/// back to its caller, who frees it on its own thread.
pub trait Mergeable: Send + 'static {
    type Output: Send + 'static;
    /// Writes with equal keys may run as one (the same tenant, say).
    fn key(&self) -> String;
    /// About how many rows the write holds: a merged run stops taking writes at
    /// [`MERGE_ROWS`], so that a merged run that fails (and is then run again one by one) and
    /// its statements stay small. Big batches gain little from merging anyway.
    fn rows(&self) -> usize;
    /// Runs `writes` in one go; one output per write, in their order. Runs alone too (a
    /// slice of one), so a merged write and a single one take the same path.
    fn run(conn: &mut DbConn, writes: &[&Self]) -> Result<Vec<Self::Output>, StoreError>;
}

/// Which queued writes may be merged: the same kind of write with the same key.
type MergeKey = (TypeId, String);

/// The most rows one merged run takes (see [`Mergeable::rows`]).
pub const MERGE_ROWS: usize = 2000;

/// What undoes a job's writes when it fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Undo {
    /// Its own savepoint, rolled back alone: the jobs before it in the transaction stand.
    Savepoint,
    /// The transaction: the job is the first to run in it, and if it fails the whole
    /// transaction is rolled back (and begun again for the others of the group).
    Transaction,
}

impl Undo {
    fn run<T>(
        self,
        conn: &mut DbConn,
        work: impl FnOnce(&mut DbConn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Undo::Savepoint => conn.transaction(work),
            Undo::Transaction => work(conn),
        }
    }
}

/// One queued write: run in a group's transaction (possibly more than once, in later groups),
/// then told whether that group committed.
trait Queued: Send + 'static {
    /// Runs the write; false when it met a transient conflict and wants another group.
    fn run(&mut self, conn: &mut DbConn, undo: Undo) -> bool;
    /// Whether the last run failed (and was undone).
    fn failed(&self) -> bool;
    /// Whether another attempt is allowed.
    fn may_retry(&self) -> bool;
    /// Forgets a run whose group did not commit, so the next group runs it afresh.
    fn forget(&mut self);
    /// Answers the caller: its own outcome, unless the group failed to commit.
    fn answer(self: Box<Self>, commit: Result<(), &StoreError>);
    /// The writes this one may run together with, if any.
    fn merge_key(&self) -> Option<&MergeKey> {
        None
    }
    /// For a mergeable write, about how many rows it holds.
    fn rows(&self) -> usize {
        1
    }
    /// A long write (a retention batch) goes first in its group, where it runs without a
    /// savepoint ([`Undo::Transaction`]): the pages it changes are the most to spare copying.
    fn goes_first(&self) -> bool {
        false
    }
    /// Runs this write together with `others` (all of the same [`MergeKey`]) as one; false
    /// when that failed (and is to be undone): then each runs alone.
    fn run_with(&mut self, _conn: &mut DbConn, _others: &mut [Job], _undo: Undo) -> bool {
        false
    }
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

/// What every queued write keeps between its runs: how often it ran, its last outcome, and
/// where its caller waits.
struct Attempts<T> {
    count: u32,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T> Attempts<T> {
    fn new(reply: oneshot::Sender<Result<T, StoreError>>) -> Self {
        Self {
            count: 0,
            outcome: None,
            reply,
        }
    }

    /// Keeps a run's outcome; false when it met a transient conflict and may run again.
    fn settle(&mut self, outcome: Result<T, StoreError>) -> bool {
        self.count += 1;
        let again = matches!(&outcome, Err(e) if e.is_transient()) && self.may_retry();
        if again {
            tracing::debug!(
                attempt = self.count,
                "write met a concurrent transaction; running it again in the next group"
            );
        }
        self.outcome = Some(outcome);
        !again
    }

    fn failed(&self) -> bool {
        matches!(self.outcome, Some(Err(_)))
    }

    fn may_retry(&self) -> bool {
        self.count < ATTEMPTS
    }

    fn forget(&mut self) {
        // A job its group never reached (a failed BEGIN) counts the group as an attempt too.
        if self.outcome.take().is_none() {
            self.count += 1;
        }
    }

    /// What the caller hears: its own outcome, unless the group failed to commit.
    fn answer(self, commit: Result<(), &StoreError>) {
        let attempts = self.count;
        let result = match (self.outcome, commit) {
            (None | Some(Ok(_)), Err(e)) if e.is_transient() => {
                Err(StoreError::Contended { attempts })
            }
            (None | Some(Ok(_)), Err(e)) => Err(StoreError::Commit(e.to_string())),
            (None, Ok(())) => Err(StoreError::Commit("the write was not run".into())),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (Some(Err(e)), _) => Err(e.contended_after(attempts)),
        };
        // The caller may have gone away (client disconnected); the write stands.
        let _ = self.reply.send(result);
    }
}

struct Pending<T, F> {
    work: F,
    attempts: Attempts<T>,
    long: bool,
}

impl<T, F> Queued for Pending<T, F>
where
    T: Send + 'static,
    F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
{
    fn run(&mut self, conn: &mut DbConn, undo: Undo) -> bool {
        let outcome = undo.run(conn, |c| (self.work)(c));
        self.attempts.settle(outcome)
    }

    fn goes_first(&self) -> bool {
        self.long
    }

    fn failed(&self) -> bool {
        self.attempts.failed()
    }

    fn may_retry(&self) -> bool {
        self.attempts.may_retry()
    }

    fn forget(&mut self) {
        self.attempts.forget();
    }

    fn answer(self: Box<Self>, commit: Result<(), &StoreError>) {
        self.attempts.answer(commit);
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A queued [`Mergeable`] write.
struct MergePending<M: Mergeable> {
    write: M,
    key: MergeKey,
    attempts: Attempts<M::Output>,
    /// Where the write goes once answered, to be freed off the writer's thread.
    give_back: oneshot::Sender<M>,
}

impl<M: Mergeable> Queued for MergePending<M> {
    fn run(&mut self, conn: &mut DbConn, undo: Undo) -> bool {
        let outcome = undo.run(conn, |c| {
            M::run(c, &[&self.write])?
                .pop()
                .ok_or_else(|| StoreError::Commit("a merged write gave no outcome".into()))
        });
        self.attempts.settle(outcome)
    }

    fn failed(&self) -> bool {
        self.attempts.failed()
    }

    fn may_retry(&self) -> bool {
        self.attempts.may_retry()
    }

    fn forget(&mut self) {
        self.attempts.forget();
    }

    fn answer(self: Box<Self>, commit: Result<(), &StoreError>) {
        let MergePending {
            write,
            attempts,
            give_back,
            ..
        } = *self;
        // The caller has gone away when this fails: then the write is freed here.
        let _ = give_back.send(write);
        attempts.answer(commit);
    }

    fn merge_key(&self) -> Option<&MergeKey> {
        Some(&self.key)
    }

    fn rows(&self) -> usize {
        self.write.rows()
    }

    fn run_with(&mut self, conn: &mut DbConn, others: &mut [Job], undo: Undo) -> bool {
        let mut writes = vec![&self.write];
        for other in others.iter_mut() {
            match other.as_any_mut().downcast_mut::<Self>() {
                Some(other) => writes.push(&other.write),
                None => return false,
            }
        }
        let count = writes.len();
        // A short answer must be undone too: the writes then run alone.
        let merged = undo.run(conn, |c| match M::run(c, &writes) {
            Ok(outputs) if outputs.len() == count => Ok(outputs),
            Ok(outputs) => Err(StoreError::Commit(format!(
                "a merged write answered {} of {count} writes",
                outputs.len()
            ))),
            Err(e) => Err(e),
        });
        let outputs = match merged {
            Ok(outputs) => outputs,
            Err(e) => {
                tracing::debug!(
                    error = %crate::telemetry::chain(&e),
                    writes = count,
                    "a merged write failed; its writes run one by one"
                );
                return false;
            }
        };
        let mut outputs = outputs.into_iter();
        if let Some(first) = outputs.next() {
            self.attempts.settle(Ok(first));
        }
        for (other, output) in others.iter_mut().zip(outputs) {
            if let Some(other) = other.as_any_mut().downcast_mut::<Self>() {
                other.attempts.settle(Ok(output));
            }
        }
        true
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

type Job = Box<dyn Queued>;

/// The writer threads of this process that have not yet closed their connections.
///
/// A writer ends when the last handle to its queue is dropped — for `hafen serve`, when the
/// runtime that held the handles is dropped on the way out of `main`. Were the process to exit
/// then, the C library's exit handlers (OpenSSL's cleanup among them, which libpq's TLS
/// connections use) would run while writers still finish their last jobs and close their
/// connections: a PostgreSQL benchmark aborted at exit that way ("double free or corruption").
/// `main` waits for this count to reach zero first ([`wait_for_writers`]).
pub struct Running {
    count: Mutex<usize>,
    done: Condvar,
}

/// One counted writer; dropping it counts the writer out.
pub struct RunningGuard(&'static Running);

impl Running {
    pub const fn new() -> Self {
        Self {
            count: Mutex::new(0),
            done: Condvar::new(),
        }
    }

    /// The count of this process's writers.
    pub fn global() -> &'static Running {
        static RUNNING: Running = Running::new();
        &RUNNING
    }

    pub fn enter(&'static self) -> RunningGuard {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        RunningGuard(self)
    }

    /// Waits until no writer runs, at most `limit`; whether none does.
    pub fn wait(&self, limit: Duration) -> bool {
        let count = self.count.lock().unwrap_or_else(|e| e.into_inner());
        let (count, _) = self
            .done
            .wait_timeout_while(count, limit, |n| *n > 0)
            .unwrap_or_else(|e| e.into_inner());
        *count == 0
    }
}

impl Default for Running {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let mut count = self.0.count.lock().unwrap_or_else(|e| e.into_inner());
        *count = count.saturating_sub(1);
        self.0.done.notify_all();
    }
}

/// Waits, at most `limit`, until every writer thread of this process has finished its queued
/// jobs and closed its connection; whether they all have. For the end of `main`, after the
/// runtime (and with it every handle to the writers) is gone.
pub fn wait_for_writers(limit: Duration) -> bool {
    Running::global().wait(limit)
}

#[derive(Debug, Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

/// Figures for tests and metrics: how many transactions carried how many jobs, and how many
/// runs of a job were repeated after a conflict with another transaction.
#[derive(Debug, Default, Clone, Copy)]
pub struct GroupStats {
    pub groups: u64,
    pub jobs: u64,
    pub retries: u64,
    /// Jobs that ran merged with others of their kind ([`Mergeable`]).
    pub merged: u64,
    /// Jobs that ran first in their transaction, without a savepoint of their own ([`Undo`]).
    pub bare: u64,
}

impl Writer {
    /// Starts one writer thread per connection, all taking jobs from one queue; they end when
    /// the last [`Writer`] handle is dropped, after finishing every job already queued.
    pub fn start(
        conns: Vec<DbConn>,
        max_group: usize,
        stats: Arc<Mutex<GroupStats>>,
        finisher: Arc<dyn Finisher>,
    ) -> Result<(Self, Vec<JoinHandle<()>>), StoreError> {
        let max_group = max_group.max(1);
        let (tx, rx) = mpsc::channel::<Job>(max_group * 4);
        let rx = Arc::new(Mutex::new(rx));
        // One writer keeps issue 25's order: its groups take the chain lock first (below).
        let lock_first = conns.len() == 1;
        let mut handles = Vec::with_capacity(conns.len());
        for (n, conn) in conns.into_iter().enumerate() {
            let (rx, stats, finisher) = (rx.clone(), stats.clone(), finisher.clone());
            // Counted from before the thread starts until after its connection is closed.
            let running = Running::global().enter();
            let handle = std::thread::Builder::new()
                .name(format!("hafen-writer-{n}"))
                .spawn(move || {
                    let _running = running;
                    let turn = Turn {
                        finisher: finisher.as_ref(),
                        lock_first,
                    };
                    write_groups(conn, &rx, max_group, &stats, turn)
                })
                .map_err(|e| StoreError::Connect(format!("cannot start the writer thread: {e}")))?;
            handles.push(handle);
        }
        Ok((Self { jobs: tx }, handles))
    }

    /// Writes waiting for the writer thread.
    pub fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// Runs `work` inside the next group's transaction and returns its result once the group
    /// has committed. An error from `work` rolls back only its own changes. `work` may run
    /// more than once (after a deadlock, in a later group): it must not keep state between
    /// runs other than what it was given.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_pending(work, false).await
    }

    /// As [`Writer::write`], for a long write (a retention batch): it goes first in its group,
    /// where on SQLite it runs without a savepoint (the first of several long ones, that is).
    pub async fn write_long<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        self.write_pending(work, true).await
    }

    async fn write_pending<T, F>(&self, work: F, long: bool) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut DbConn) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, StoreError>>();
        let job: Job = Box::new(Pending {
            work,
            attempts: Attempts::new(reply),
            long,
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

impl Writer {
    /// As [`Writer::write`], for a write that may run merged with others of its kind that
    /// wait in the same group.
    pub async fn write_mergeable<M: Mergeable>(&self, write: M) -> Result<M::Output, StoreError> {
        let (reply, answer) = oneshot::channel::<Result<M::Output, StoreError>>();
        let (give_back, given_back) = oneshot::channel::<M>();
        let key = (TypeId::of::<M>(), write.key());
        let job: Job = Box::new(MergePending {
            write,
            key,
            attempts: Attempts::new(reply),
            give_back,
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)?;
        let answer = answer.await.map_err(|_| StoreError::WriterGone)?;
        drop(given_back.await);
        answer
    }
}

/// A short random pause before attempt `attempt + 1`, growing with the attempts: long enough
/// for the other transaction to commit, random so that two instances do not meet again.
pub fn jitter(attempt: u32) -> Duration {
    let most = 5 * u64::from(attempt.clamp(1, ATTEMPTS));
    Duration::from_millis(rand::thread_rng().gen_range(1..=most))
}

/// One writer thread: groups from the shared queue until it closes.
fn write_groups(
    mut conn: DbConn,
    queue: &Mutex<mpsc::Receiver<Job>>,
    max_group: usize,
    stats: &Mutex<GroupStats>,
    turn: Turn,
) {
    // Jobs to run again: they go first, into this writer's next group.
    let mut again: VecDeque<Job> = VecDeque::new();
    loop {
        let mut group: Vec<Job> = again.drain(..).collect();
        // One writer at a time gathers a group. A writer with jobs to run again does not wait
        // for the queue: the lock's holder may be waiting there for a job that never comes.
        let gathering = if group.is_empty() {
            Some(queue.lock().unwrap_or_else(|e| e.into_inner()))
        } else {
            queue.try_lock().ok()
        };
        if let Some(mut rx) = gathering {
            if group.is_empty() {
                match rx.blocking_recv() {
                    Some(first) => group.push(first),
                    None => break,
                }
            }
            while group.len() < max_group {
                match rx.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
        }
        again = run_group(&mut conn, group, stats, turn);
        if !again.is_empty() {
            // Let the other side of the conflict finish; jitter keeps two writers from
            // meeting again in lockstep.
            std::thread::sleep(jitter(1));
        }
    }
}

/// Runs one group; returns the jobs to run again in the next one.
fn run_group(
    conn: &mut DbConn,
    group: Vec<Job>,
    stats: &Mutex<GroupStats>,
    turn: Turn,
) -> VecDeque<Job> {
    let n = group.len() as u64;
    let mut run = GroupRun {
        finisher: turn.finisher,
        waiting: merge_sets(group).into(),
        ran: Vec::with_capacity(n as usize),
        again: VecDeque::new(),
        merged: 0,
        bare: 0,
    };
    // Only the group's first transaction begins with a bare set (on SQLite; see the module's
    // introduction): after a failed one, the rest run in savepoints, so that a group of failing
    // writes costs one extra transaction at most.
    let mut first = match conn {
        DbConn::Sqlite(_) => Undo::Transaction,
        DbConn::Postgres(_) => Undo::Savepoint,
    };
    let committed = loop {
        let undo_first = std::mem::replace(&mut first, Undo::Savepoint);
        match in_transaction(conn, turn, |tx| run.sets(tx, undo_first)) {
            Ok(Ended::RolledBack) if !run.waiting.is_empty() => continue,
            Ok(_) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    let GroupRun {
        waiting,
        mut ran,
        mut again,
        merged,
        bare,
        ..
    } = run;
    // A failed BEGIN leaves jobs unrun: they learn the failure too.
    ran.extend(waiting.into_iter().flatten());
    let retried_jobs = match &committed {
        // The whole group met a conflict (at the chain lock or at COMMIT): every job whose
        // caller may still wait runs again.
        Err(e) if e.is_transient() => {
            let (retry, give_up): (Vec<Job>, Vec<Job>) =
                ran.drain(..).partition(|job| job.may_retry());
            ran = give_up;
            for mut job in retry {
                job.forget();
                again.push_back(job);
            }
            true
        }
        _ => false,
    };
    if let Err(e) = &committed {
        tracing::error!(
            error = %crate::telemetry::chain(e),
            retried = retried_jobs,
            "group commit failed; {} writes rolled back",
            ran.len() + again.len()
        );
    }
    {
        let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
        s.groups += 1;
        s.jobs += n;
        s.retries += again.len() as u64;
        s.merged += merged;
        s.bare += bare;
    }
    for job in ran {
        job.answer(committed.as_ref().map(|_| ()));
    }
    again
}

/// A group on its way through one or more transactions: the sets still to run, the jobs that
/// ran (to be answered), and those to run again in the next group.
struct GroupRun<'a> {
    finisher: &'a dyn Finisher,
    waiting: VecDeque<Vec<Job>>,
    ran: Vec<Job>,
    again: VecDeque<Job>,
    merged: u64,
    bare: u64,
}

impl GroupRun<'_> {
    /// Runs the waiting sets in the open transaction, the first of them undone by `first`;
    /// false when that first set failed and the transaction is to be rolled back (nothing
    /// else ran in it; its jobs are answered or wait again).
    fn sets(&mut self, tx: &mut DbConn, first: Undo) -> bool {
        if first == Undo::Transaction {
            if let Some(set) = self.waiting.pop_front() {
                if !self.first_set(tx, set) {
                    return false;
                }
            }
        }
        while let Some(mut set) = self.waiting.pop_front() {
            if set.len() > 1 {
                let mark = self.finisher.mark();
                if self.merge(tx, &mut set, Undo::Savepoint) {
                    continue;
                }
                self.finisher.rollback_to(mark);
            }
            for job in set {
                self.alone(tx, job);
            }
        }
        true
    }

    /// The set that opens a transaction, without a savepoint; false when it failed.
    fn first_set(&mut self, tx: &mut DbConn, mut set: Vec<Job>) -> bool {
        let count = set.len() as u64;
        if set.len() > 1 {
            if self.merge(tx, &mut set, Undo::Transaction) {
                self.bare += count;
                return true;
            }
            // Its writes run alone, each in a savepoint, once the transaction began again.
            for job in set.into_iter().rev() {
                self.waiting.push_front(vec![job]);
            }
            return false;
        }
        let Some(mut job) = set.pop() else {
            return true;
        };
        let done = job.run(tx, Undo::Transaction);
        let failed = job.failed();
        self.settled(job, done);
        if failed || !done {
            return false;
        }
        self.bare += 1;
        true
    }

    /// Runs `set` merged; true when it ran (its jobs are then among those that ran).
    fn merge(&mut self, tx: &mut DbConn, set: &mut Vec<Job>, undo: Undo) -> bool {
        let count = set.len() as u64;
        let ran = match set.split_first_mut() {
            Some((first, others)) => first.run_with(tx, others, undo),
            None => false,
        };
        if ran {
            self.merged += count;
            self.ran.append(set);
        }
        ran
    }

    /// Runs one job in its own savepoint.
    fn alone(&mut self, tx: &mut DbConn, mut job: Job) {
        let mark = self.finisher.mark();
        let done = job.run(tx, Undo::Savepoint);
        if job.failed() {
            self.finisher.rollback_to(mark);
        }
        self.settled(job, done);
    }

    /// A job goes to those that ran when done, to those to run again when it met a transient
    /// conflict and may run in the next group.
    fn settled(&mut self, mut job: Job, done: bool) {
        if done {
            self.ran.push(job);
        } else {
            job.forget();
            self.again.push_back(job);
        }
    }
}

/// The group in sets to run: the writes that may merge together (same [`MergeKey`]) in one
/// set at the place of the first of them, every other write in a set of its own, otherwise in
/// the order they came -- except that long writes ([`Queued::goes_first`]) go first. (A write
/// may so run before a write queued ahead of it; both were waiting at once, unanswered, so
/// their callers cannot have relied on an order.)
fn merge_sets(group: Vec<Job>) -> Vec<Vec<Job>> {
    let (long, others): (Vec<Job>, Vec<Job>) = group.into_iter().partition(|j| j.goes_first());
    let mut sets: Vec<Vec<Job>> = long.into_iter().map(|job| vec![job]).collect();
    sets.extend(merge_keyed(others));
    sets
}

fn merge_keyed(group: Vec<Job>) -> Vec<Vec<Job>> {
    let mut sets: Vec<Vec<Job>> = Vec::new();
    // The open set of each key, and how many rows it holds.
    let mut open: std::collections::HashMap<MergeKey, (usize, usize)> =
        std::collections::HashMap::new();
    for job in group {
        let Some(key) = job.merge_key().cloned() else {
            sets.push(vec![job]);
            continue;
        };
        let rows = job.rows();
        match open.get_mut(&key) {
            Some((at, held)) if *held + rows <= MERGE_ROWS => {
                *held += rows;
                sets[*at].push(job);
            }
            _ => {
                open.insert(key, (sets.len(), rows));
                sets.push(vec![job]);
            }
        }
    }
    sets
}

/// How a transaction of [`in_transaction`] ended without error.
enum Ended {
    Committed,
    /// Its body asked for the rollback.
    RolledBack,
}

/// Runs `body` in one transaction, then the finisher's work, then COMMIT -- or ROLLBACK when
/// `body` answers false. On SQLite it
/// begins IMMEDIATE, taking the write lock up front and waiting out `busy_timeout` while
/// another process writes (`hafen key rotate`, a CLI retention run). A deferred BEGIN reads
/// first; when another process commits meanwhile, SQLite cannot upgrade the stale read to a
/// write and fails at once with "database is locked" -- the 500s the crash-kill test found
/// during online key rotation.
fn in_transaction(
    conn: &mut DbConn,
    turn: Turn,
    body: impl FnOnce(&mut DbConn) -> bool,
) -> Result<Ended, StoreError> {
    type Manager = <DbConn as Connection>::TransactionManager;
    let finisher = turn.finisher;
    // Held until this function returns, after the commit or rollback that releases the lock.
    let mut _chain_held = None;
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        DbConn::Postgres(_) => {
            Manager::begin_transaction(conn)?;
            if turn.lock_first {
                match backend::hold_audit_chain(conn) {
                    Ok(held) => _chain_held = Some(held),
                    Err(e) => {
                        let _ = Manager::rollback_transaction(conn);
                        return Err(e);
                    }
                }
            }
        }
    }
    let _finishing = Finishing::begin(finisher);
    if !body(conn) {
        Manager::rollback_transaction(conn)?;
        return Ok(Ended::RolledBack);
    }
    let finished = finisher
        .finish(conn)
        .and_then(|()| Manager::commit_transaction(conn).map_err(StoreError::from));
    if finished.is_err() {
        // As diesel's `transaction` does: a failed COMMIT may leave the transaction open.
        let _ = Manager::rollback_transaction(conn);
    }
    finished.map(|()| Ended::Committed)
}

/// How a writer's groups take their turn at the audit chain (PostgreSQL). With one writer per
/// instance a group takes the chain lock right after BEGIN, before any row: the groups of all
/// instances then run strictly one after another and never deadlock over rows (issue 25). With
/// several writers the lock is taken only at the group's end by the finisher: groups write their
/// rows in parallel, and groups that write the same rows in another order (two deliveries of
/// the same contacts) can meet in a deadlock, which PostgreSQL detects and the job runs again.
#[derive(Clone, Copy)]
struct Turn<'a> {
    finisher: &'a dyn Finisher,
    lock_first: bool,
}

/// A finisher's transaction on this thread: whatever it did not finish is discarded when this
/// goes, even when a job panicked, so nothing is left for a later transaction on the thread.
pub(super) struct Finishing<'a>(&'a dyn Finisher);

impl<'a> Finishing<'a> {
    pub(super) fn begin(finisher: &'a dyn Finisher) -> Self {
        finisher.begin();
        Self(finisher)
    }
}

impl Drop for Finishing<'_> {
    fn drop(&mut self) {
        self.0.discard();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer counts as running until its guard is gone, and waiting for none ends then.
    #[test]
    fn waiting_for_writers_ends_when_the_last_one_closed() {
        static RUNNING: Running = Running::new();
        assert!(RUNNING.wait(Duration::ZERO));
        let guard = RUNNING.enter();
        assert!(!RUNNING.wait(Duration::from_millis(20)), "one is running");
        let (closing, closed) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let _guard = guard;
            // Still closing its connection when the wait starts.
            let _ = closed.recv();
        });
        closing.send(()).unwrap();
        assert!(RUNNING.wait(Duration::from_secs(10)));
        thread.join().unwrap();
    }

    struct NoFinish;

    impl Finisher for NoFinish {
        fn begin(&self) {}
        fn mark(&self) -> usize {
            0
        }
        fn rollback_to(&self, _mark: usize) {}
        fn finish(&self, _conn: &mut DbConn) -> Result<(), StoreError> {
            Ok(())
        }
        fn discard(&self) {}
    }

    /// A mergeable write that counts its runs and notes the thread that frees it.
    struct Noted {
        runs: Arc<std::sync::atomic::AtomicUsize>,
        freed_on: Arc<Mutex<Vec<Option<String>>>>,
    }

    impl Mergeable for Noted {
        type Output = usize;
        fn key(&self) -> String {
            "one".into()
        }
        fn rows(&self) -> usize {
            1
        }
        fn run(_conn: &mut DbConn, writes: &[&Self]) -> Result<Vec<usize>, StoreError> {
            for write in writes {
                write.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            Ok(writes.iter().map(|_| writes.len()).collect())
        }
    }

    impl Drop for Noted {
        fn drop(&mut self) {
            let thread = std::thread::current().name().map(str::to_string);
            self.freed_on.lock().unwrap().push(thread);
        }
    }

    /// A mergeable write runs where it is queued, never on a copy, and goes back to its caller
    /// to be freed: freeing a batch's sealed rows is not the one writer thread's work.
    #[test]
    fn a_merged_write_runs_in_place_and_its_caller_frees_it() {
        use diesel::Connection;
        let conn = DbConn::Sqlite(diesel::SqliteConnection::establish(":memory:").unwrap());
        let stats = Arc::new(Mutex::new(GroupStats::default()));
        let (writer, handles) = Writer::start(vec![conn], 8, stats, Arc::new(NoFinish)).unwrap();
        let runs = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let freed_on = Arc::new(Mutex::new(Vec::new()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let writes = (0..4).map(|_| Noted {
            runs: runs.clone(),
            freed_on: freed_on.clone(),
        });
        let answers = runtime.block_on(futures_util::future::join_all(
            writes.map(|write| writer.write_mergeable(write)),
        ));
        assert!(answers.iter().all(|a| matches!(a, Ok(n) if *n >= 1)));
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 4);
        let caller = std::thread::current().name().map(str::to_string);
        assert_eq!(*freed_on.lock().unwrap(), vec![caller; 4]);
        drop(writer);
        for handle in handles {
            handle.join().unwrap();
        }
    }

    /// A queued write that only carries its merge key and size.
    struct Fake {
        name: &'static str,
        key: Option<MergeKey>,
        rows: usize,
        long: bool,
    }

    impl Queued for Fake {
        fn run(&mut self, _conn: &mut DbConn, _undo: Undo) -> bool {
            true
        }
        fn failed(&self) -> bool {
            false
        }
        fn may_retry(&self) -> bool {
            false
        }
        fn forget(&mut self) {}
        fn answer(self: Box<Self>, _commit: Result<(), &StoreError>) {}
        fn merge_key(&self) -> Option<&MergeKey> {
            self.key.as_ref()
        }
        fn rows(&self) -> usize {
            self.rows
        }
        fn goes_first(&self) -> bool {
            self.long
        }
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }
    }

    fn job(name: &'static str, key: Option<&str>, rows: usize) -> Job {
        Box::new(Fake {
            name,
            key: key.map(|k| (TypeId::of::<Fake>(), k.to_string())),
            rows,
            long: false,
        })
    }

    fn long_job(name: &'static str) -> Job {
        Box::new(Fake {
            name,
            key: None,
            rows: 1,
            long: true,
        })
    }

    fn names(sets: &mut [Vec<Job>]) -> Vec<Vec<&'static str>> {
        sets.iter_mut()
            .map(|set| {
                set.iter_mut()
                    .map(|j| {
                        j.as_any_mut()
                            .downcast_mut::<Fake>()
                            .map_or("?", |f| f.name)
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn writes_of_one_key_merge_at_the_first_ones_place_up_to_the_row_limit() {
        let group = vec![
            job("a1", Some("a"), 10),
            job("plain", None, 1),
            job("b1", Some("b"), 10),
            job("a2", Some("a"), 10),
            job("big", Some("a"), MERGE_ROWS),
            job("a3", Some("a"), 10),
            job("b2", Some("b"), 10),
        ];
        let mut sets = merge_sets(group);
        assert_eq!(
            names(&mut sets),
            vec![
                vec!["a1", "a2"],
                vec!["plain"],
                vec!["b1", "b2"],
                vec!["big"],
                vec!["a3"],
            ]
        );
    }

    /// A long write goes first, where it runs without a savepoint; long ones keep their order,
    /// and the others merge as before behind them.
    #[test]
    fn long_writes_go_first_in_their_group() {
        let group = vec![
            job("a1", Some("a"), 10),
            job("plain", None, 1),
            long_job("batch1"),
            job("a2", Some("a"), 10),
            long_job("batch2"),
        ];
        let mut sets = merge_sets(group);
        assert_eq!(
            names(&mut sets),
            vec![
                vec!["batch1"],
                vec!["batch2"],
                vec!["a1", "a2"],
                vec!["plain"],
            ]
        );
    }
}
