//! The database suite's quick mode on SQLite and on PostgreSQL (the test server is on this
//! machine, so the idle load is measured too). Not timed: the checks are on what the figures
//! must be whatever the machine — every cell measured with positive rates, every idle worker
//! woken, the targets assessed — and on the section printing them.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use zkfleet_bench::db::{self, DbOptions};
use zkfleet_bench::DatabaseBackend;

fn assert_picks(report: &db::DbReport, backend: &str, options: &DbOptions) {
    let cells: Vec<_> = report
        .picks
        .iter()
        .filter(|c| c.backend == backend)
        .collect();
    let p = &options.picks;
    assert_eq!(cells.len(), p.batches.len() * p.workers.len(), "{cells:?}");
    for cell in cells {
        assert_eq!(cell.picks_per_s.runs.len(), p.runs);
        assert!(
            cell.picks_per_s.median.is_finite() && cell.picks_per_s.median > 0.0,
            "{cell:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_suite_on_sqlite_measures_picks_and_no_idle_load() {
    let options = DbOptions::quick(vec![DatabaseBackend::Sqlite]);
    let report = db::run(&options)
        .await
        .expect("the quick db suite on SQLite");
    assert_picks(&report, "sqlite", &options);
    assert!(report.idle.is_empty() && report.postgres.is_none());
    // PostgreSQL and idle targets are not measured, SQLite's is.
    let met: Vec<_> = report.targets.iter().map(|t| t.met).collect();
    assert_eq!((met[0], met[2]), (None, None), "{:?}", report.targets);
    assert!(met[1].is_some());
    let section = db::section(&report, "zkfleet bench --quick --suites db", "bench.json");
    assert!(section.contains("| sqlite | 8 | 16 |"), "{section}");
    assert!(section.contains("**Idle load**: not measured"), "{section}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_suite_on_postgres_measures_picks_and_wake_ups() {
    let server_url = zkfleet_test_support::database::admin_url();
    let options = DbOptions::quick(vec![DatabaseBackend::Postgres { server_url }]);
    let report = db::run(&options)
        .await
        .expect("the quick db suite on PostgreSQL");
    assert_picks(&report, "postgresql", &options);
    assert!(report.postgres.is_some());
    let idle = options
        .idle
        .as_ref()
        .expect("quick mode measures idle load");
    assert_eq!(report.idle.len(), idle.modes.len());
    for cell in &report.idle {
        assert!(
            cell.server_core_percent >= 0.0 && cell.window_s > 0.0,
            "{cell:?}"
        );
        if cell.mode == "server alone" {
            assert_eq!((cell.workers, cell.until_all_picked_s), (0, None));
        } else {
            // Every idle worker picked one of the jobs queued after the window.
            assert_eq!(cell.workers, idle.workers);
            assert!(cell.until_all_picked_s.is_some(), "{cell:?}");
            // Each worker's pool holds a connection; woken ones hold a listener too.
            assert!(cell.connections >= idle.workers as i64, "{cell:?}");
        }
    }
    let woken = report
        .idle
        .iter()
        .find(|c| c.mode.starts_with("wake-ups"))
        .expect("the wake-up mode ran");
    assert!(woken.connections > idle.workers as i64, "{woken:?}");
    // PostgreSQL's and the idle targets are assessed, SQLite's (not measured here) is not.
    let met: Vec<_> = report.targets.iter().map(|t| t.met.is_some()).collect();
    assert_eq!(met, [true, false, true], "{:?}", report.targets);
}
