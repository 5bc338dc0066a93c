//! SQLite's WAL checkpoints, off the writer.
//!
//! In WAL mode a commit appends its pages to the `-wal` file; a checkpoint copies them back
//! into the database file and fsyncs it. SQLite runs one in the connection that commits, each
//! time the WAL holds 1 000 pages -- on Hafen's one writer thread, which commits nothing
//! meanwhile: 14 % of the writer's time during a retention run (docs/benchmarks.md). Here a
//! thread of its own checkpoints instead, every [`INTERVAL`], in PASSIVE mode (it never waits
//! for the writer or a reader, and they never wait for it).
//!
//! The writer keeps a checkpoint of its own as a backstop, at [`WRITER_BACKSTOP_PAGES`]: the
//! WAL starts over from its beginning only when a write begins while every page in it has been
//! copied back, and under unbroken load the writer always commits more while the thread
//! copies. At the backstop the writer copies the little that is left, and the WAL starts over,
//! so it stays within that size.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Integer;
use diesel::{QueryableByName, RunQueryDsl};

use super::{DbConn, StoreError};

/// How often the thread copies the WAL back.
pub const INTERVAL: Duration = Duration::from_millis(250);

/// The WAL size (pages) at which the writer checkpoints itself (SQLite's default is 1 000).
pub const WRITER_BACKSTOP_PAGES: u32 = 10_000;

/// What the checkpoints so far did, for tests and metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Checkpoints the thread ran.
    pub runs: u64,
    /// Pages in the WAL at the last one, and how many of them are copied back.
    pub wal_pages: i64,
    pub copied_pages: i64,
}

/// The checkpoint thread; it ends when the last handle of the store that started it is gone.
#[derive(Clone)]
pub struct Checkpointer {
    // Dropping the last sender wakes the thread, which then ends.
    _stop: Arc<mpsc::Sender<()>>,
    stats: Arc<Mutex<CheckpointStats>>,
}

impl Checkpointer {
    /// Takes over checkpointing from `writer` (SQLite only), on a connection of its own.
    pub fn start(
        writer: &mut DbConn,
        mut conn: DbConn,
        every: Duration,
    ) -> Result<Self, StoreError> {
        writer.batch_execute(&format!(
            "PRAGMA wal_autocheckpoint = {WRITER_BACKSTOP_PAGES}"
        ))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let stats = Arc::new(Mutex::new(CheckpointStats::default()));
        let kept = stats.clone();
        std::thread::Builder::new()
            .name("hafen-checkpoint".into())
            .spawn(move || {
                let mut failing = false;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    failing = checkpoint(&mut conn, &kept, failing);
                }
            })
            .map_err(|e| StoreError::Connect(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Self {
            _stop: Arc::new(stop),
            stats,
        })
    }

    pub fn stats(&self) -> CheckpointStats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The row `PRAGMA wal_checkpoint` answers.
#[derive(QueryableByName)]
struct Outcome {
    #[diesel(sql_type = Integer)]
    busy: i32,
    #[diesel(sql_type = Integer)]
    log: i32,
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

/// One checkpoint; answers whether it failed. A failure is logged when checkpoints begin to
/// fail and when they work again, not four times a second.
fn checkpoint(conn: &mut DbConn, stats: &Mutex<CheckpointStats>, was_failing: bool) -> bool {
    let outcome = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<Outcome>(conn);
    match outcome {
        Ok(o) => {
            let mut s = stats.lock().unwrap_or_else(|e| e.into_inner());
            s.runs += 1;
            // busy: the writer's own checkpoint ran at that moment; the next one goes on.
            if o.busy == 0 {
                s.wal_pages = i64::from(o.log);
                s.copied_pages = i64::from(o.checkpointed);
            }
            if was_failing {
                tracing::info!("WAL checkpoints work again");
            }
            false
        }
        Err(e) => {
            // The writer's own checkpoint (the backstop) covers the WAL meanwhile.
            if !was_failing {
                tracing::warn!(
                    error = %e,
                    "WAL checkpoint failed; the writer checkpoints at {WRITER_BACKSTOP_PAGES} pages meanwhile"
                );
            }
            true
        }
    }
}
