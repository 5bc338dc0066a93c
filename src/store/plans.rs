//! Test support: what SQLite's planner does with the statements a piece of code runs. SQLite
//! keeps no statistics here, so its plans follow the indexes alone — a condition on the tenant
//! can outweigh a list of ids, and a lookup meant to touch a few rows reads all of a tenant's.

use std::sync::{Arc, Mutex};

use diesel::connection::{Connection, InstrumentationEvent};
use diesel::RunQueryDsl;

use super::DbConn;

#[derive(diesel::QueryableByName)]
struct Plan {
    #[diesel(sql_type = diesel::sql_types::Text)]
    detail: String,
}

/// A migrated in-memory SQLite database.
pub fn migrated_sqlite() -> DbConn {
    let sqlite = diesel::SqliteConnection::establish(":memory:").expect("in-memory SQLite");
    let mut conn = DbConn::Sqlite(sqlite);
    super::run_migrations(&mut conn).expect("migrations");
    conn
}

/// Runs `work` on `conn` and returns every statement it ran (without its binds) with the steps
/// of its plan.
pub fn plans_of(conn: &mut DbConn, work: impl FnOnce(&mut DbConn)) -> Vec<(String, Vec<String>)> {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let DbConn::Sqlite(sqlite) = conn else {
        panic!("plans are read from SQLite")
    };
    let log = seen.clone();
    sqlite.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            log.lock().expect("log").push(query.to_string());
        }
    });
    work(conn);
    let DbConn::Sqlite(sqlite) = conn else {
        unreachable!()
    };
    sqlite.set_instrumentation(|_: InstrumentationEvent<'_>| {});
    let statements: Vec<String> = seen
        .lock()
        .expect("log")
        .iter()
        .map(|q| q.split(" -- binds").next().unwrap_or_default().to_string())
        .filter(|q| {
            ["SELECT", "UPDATE", "DELETE"]
                .iter()
                .any(|k| q.starts_with(k))
        })
        .collect();
    statements
        .into_iter()
        .map(|sql| {
            let plan: Vec<Plan> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                .load(sqlite)
                .expect("plan");
            (sql, plan.into_iter().map(|p| p.detail).collect())
        })
        .collect()
}

/// Whether a plan step reads every row of the tenant (an index searched by the tenant alone)
/// or a whole table.
fn reads_whole_tenant(step: &str) -> bool {
    step.ends_with("(tenant_id=?)") || (step.starts_with("SCAN") && step != "SCAN CONSTANT ROW")
}

/// Asserts that no statement `work` runs reads a whole tenant or table, and that it ran at
/// least `at_least` statements (so the check cannot pass by checking nothing).
pub fn assert_reads_only_named_rows(
    conn: &mut DbConn,
    at_least: usize,
    work: impl FnOnce(&mut DbConn),
) {
    let plans = plans_of(conn, work);
    assert!(plans.len() >= at_least, "{plans:#?}");
    for (sql, steps) in plans {
        for step in steps {
            assert!(
                !reads_whole_tenant(&step),
                "{sql}\n  reads the whole tenant: {step}"
            );
        }
    }
}
