//! Wake-ups: queued work is announced to subscribers (PostgreSQL: by any writer, through the
//! job tables' triggers and `LISTEN/NOTIFY`; SQLite: by this process's `Dal`s of the file).

use std::time::Duration;

use tokio::sync::watch;
use zkfleet_dal::{Dal, JobTable, PoolOptions, WakeScope};
use zkfleet_types::CircuitId;

use crate::fixtures::{basic_output, insert_version, pick_any, SECOND};
use crate::harness::{batch_id, new_batch, TestDb, V1};

/// How long a wake-up may take (the listener is a separate connection; the machine is shared).
const DELIVERY: Duration = Duration::from_secs(10);

async fn woken(receiver: &mut watch::Receiver<u64>, what: &str) {
    tokio::time::timeout(DELIVERY, receiver.changed())
        .await
        .unwrap_or_else(|_| panic!("no wake-up within {DELIVERY:?}: {what}"))
        .expect("wake-up sender alive");
    receiver.borrow_and_update();
}

/// Whether the receiver changes within `window` (then marks it seen).
async fn changes_within(receiver: &mut watch::Receiver<u64>, window: Duration) -> bool {
    let changed = tokio::time::timeout(window, receiver.changed())
        .await
        .is_ok();
    receiver.borrow_and_update();
    changed
}

/// The first wake-up of a PostgreSQL subscription says "the listener is connected" (it wakes
/// everyone once, having possibly missed notifications before); wait for it, so that what
/// follows is announced by notifications. SQLite has no listener.
async fn listener_ready(dal: &Dal, receiver: &mut watch::Receiver<u64>) {
    if dal.backend() == zkfleet_dal::BackendKind::Postgres {
        woken(receiver, "the listener's first wake-up").await;
    }
}

pub(crate) async fn queued_work_wakes_subscribers(db: &TestDb) {
    let dal = &db.dal;
    insert_version(dal, V1).await;
    // A second pool on the same database: another process on PostgreSQL, another `Dal` of the
    // same file in this process on SQLite. It does the writing; `dal`'s subscribers listen.
    let writer = Dal::connect_with(&db.url, &PoolOptions::default())
        .await
        .expect("second pool");
    let mut inputs = dal.job_wakeups(JobTable::WitnessInputs);
    let mut provers = dal.job_wakeups(JobTable::ProverJobs);
    let mut leaves = dal.job_wakeups(JobTable::LeafWitnessJobs);
    let expected_scope = match dal.backend() {
        zkfleet_dal::BackendKind::Postgres => WakeScope::AllProcesses,
        zkfleet_dal::BackendKind::Sqlite => WakeScope::ThisProcess,
    };
    assert_eq!(provers.scope, expected_scope);
    listener_ready(dal, &mut inputs.receiver).await;
    listener_ready(dal, &mut provers.receiver).await;
    listener_ready(dal, &mut leaves.receiver).await;

    // A batch inserted: its witness input is queued.
    writer.insert_batch(&new_batch(1, V1)).await.unwrap();
    woken(&mut inputs.receiver, "batch inserted").await;

    // Basic witness generation queues prover jobs.
    let batch = batch_id(1);
    let job = writer.pick_basic_witness_job(V1, "bwg").await.unwrap();
    assert!(job.is_some());
    let output = basic_output(batch, &[(CircuitId(1), 2)]);
    let done = writer
        .complete_basic_witness_job(batch, &output, SECOND)
        .await
        .unwrap();
    assert!(done.is_completed());
    woken(&mut provers.receiver, "prover jobs inserted").await;

    // Picking (queued → in progress) announces nothing.
    let first = pick_any(&writer, V1).await.expect("a prover job");
    assert!(
        !changes_within(&mut provers.receiver, Duration::from_millis(300)).await,
        "a pick woke the prover subscribers"
    );
    assert!(
        !changes_within(&mut leaves.receiver, Duration::ZERO).await,
        "leaf subscribers woken before their job was ready"
    );

    // The completion of the last proof queues the leaf job, and announces it.
    let second = pick_any(&writer, V1).await.expect("a prover job");
    for job in [first, second] {
        writer
            .complete_prover_job(job.id, &format!("proofs/{}", job.id), SECOND)
            .await
            .unwrap();
    }
    woken(&mut leaves.receiver, "leaf job queued by the last proof").await;

    // A requeue after a failure announces the job again.
    let leaf = writer
        .pick_leaf_witness_job(V1, "lwg")
        .await
        .unwrap()
        .expect("leaf job");
    writer
        .fail_job(zkfleet_dal::JobRef::LeafWitness(leaf.id), "transient")
        .await
        .unwrap();
    leaves.receiver.borrow_and_update();
    let counts = writer
        .requeue_stuck_jobs(JobTable::LeafWitnessJobs, Duration::from_secs(3600), 10)
        .await
        .unwrap();
    assert_eq!(counts.requeued, 1);
    woken(&mut leaves.receiver, "failed leaf job requeued").await;

    // On PostgreSQL any writer wakes us, even one that is not a `Dal` (a hand-edit, a tool).
    if expected_scope == WakeScope::AllProcesses {
        let mut compression = dal.job_wakeups(JobTable::CompressionJobs);
        compression.receiver.borrow_and_update();
        db.execute_raw("UPDATE prover_jobs SET status = 'queued' WHERE status = 'successful'")
            .await;
        woken(&mut provers.receiver, "raw UPDATE … SET status = 'queued'").await;
        assert!(
            !changes_within(&mut compression.receiver, Duration::from_millis(300)).await,
            "a prover-job notification woke compression subscribers"
        );
    }
    writer.close().await;
}

/// A rolled-back transaction announces nothing (PostgreSQL delivers notifications at commit);
/// a committed one does. SQLite: the `Dal` announces only what it committed, by construction.
pub(crate) async fn only_committed_work_is_announced(db: &TestDb) {
    let dal = &db.dal;
    if dal.backend() != zkfleet_dal::BackendKind::Postgres {
        return;
    }
    insert_version(dal, V1).await;
    let mut inputs = dal.job_wakeups(JobTable::WitnessInputs);
    listener_ready(dal, &mut inputs.receiver).await;
    let batch = new_batch(7, V1);
    dal.insert_batch(&batch).await.unwrap();
    woken(&mut inputs.receiver, "batch inserted").await;
    {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.expect("connect");
        let mut tx = conn.begin().await.expect("begin");
        sqlx::query("UPDATE witness_inputs SET status = 'queued', attempts = 0")
            .execute(&mut *tx)
            .await
            .expect("update");
        tx.rollback().await.expect("rollback");
    }
    assert!(
        !changes_within(&mut inputs.receiver, Duration::from_millis(500)).await,
        "a rolled-back transaction woke subscribers"
    );
    // The same change committed is announced.
    db.execute_raw("UPDATE witness_inputs SET status = 'queued', attempts = 0")
        .await;
    woken(&mut inputs.receiver, "committed UPDATE").await;
}

/// The listener's connection dies (here: terminated by the server): it reconnects, wakes every
/// subscriber (notifications sent meanwhile are lost) and announces work again afterwards.
pub(crate) async fn the_listener_reconnects_and_wakes_everyone(db: &TestDb) {
    let dal = &db.dal;
    if dal.backend() != zkfleet_dal::BackendKind::Postgres {
        return;
    }
    insert_version(dal, V1).await;
    let mut inputs = dal.job_wakeups(JobTable::WitnessInputs);
    let mut compression = dal.job_wakeups(JobTable::CompressionJobs);
    listener_ready(dal, &mut inputs.receiver).await;
    compression.receiver.borrow_and_update();
    db.execute_raw(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN %{}%'",
        zkfleet_dal::NOTIFY_CHANNEL
    ))
    .await;
    // Every table is woken, even one nothing was written to.
    woken(&mut compression.receiver, "reconnection wakes every table").await;
    woken(&mut inputs.receiver, "reconnection wakes every table").await;
    // And the new connection listens: a batch inserted now is announced.
    let mut announced = false;
    for attempt in 0..20 {
        dal.insert_batch(&new_batch(attempt + 1, V1)).await.unwrap();
        if changes_within(&mut inputs.receiver, Duration::from_millis(500)).await {
            announced = true;
            break;
        }
    }
    assert!(announced, "no notification after the listener reconnected");
}

/// `PoolOptions::listen_url`: the listener's session goes there, not through the pool's URL
/// (a pooler in transaction mode cannot carry `LISTEN`), and still announces queued work. A
/// listen URL of another engine is refused by name; SQLite ignores it (no listener).
pub(crate) async fn the_listener_uses_its_own_url(db: &TestDb) {
    use sqlx::Connection as _;
    let dal = &db.dal;
    insert_version(dal, V1).await;
    if dal.backend() != zkfleet_dal::BackendKind::Postgres {
        let ignored = Dal::connect_with(
            &db.url,
            &PoolOptions {
                listen_url: Some("postgres://nowhere.invalid/zkfleet".into()),
                ..PoolOptions::default()
            },
        )
        .await
        .expect("SQLite ignores the listen URL");
        assert_eq!(
            ignored.job_wakeups(JobTable::WitnessInputs).scope,
            WakeScope::ThisProcess
        );
        return;
    }
    const APPLICATION: &str = "zkfleet_listen_url_test";
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let listen_url = format!("{}{separator}application_name={APPLICATION}", db.url);
    let listening = Dal::connect_with(
        &db.url,
        &PoolOptions {
            listen_url: Some(listen_url),
            ..PoolOptions::default()
        },
    )
    .await
    .expect("a pool with its own listen URL");
    let mut inputs = listening.job_wakeups(JobTable::WitnessInputs);
    listener_ready(&listening, &mut inputs.receiver).await;
    let mut admin = sqlx::PgConnection::connect(&db.url)
        .await
        .expect("a plain connection");
    let listeners: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = $1 \
           AND query LIKE 'LISTEN %'",
    )
    .bind(APPLICATION)
    .fetch_one(&mut admin)
    .await
    .expect("pg_stat_activity");
    assert_eq!(
        listeners, 1,
        "the listener connected through the listen URL"
    );
    dal.insert_batch(&new_batch(1, V1)).await.unwrap();
    woken(
        &mut inputs.receiver,
        "a batch announced to a listener on its own URL",
    )
    .await;
    listening.close().await;

    let refused = Dal::connect_with(
        &db.url,
        &PoolOptions {
            listen_url: Some("sqlite::memory:".into()),
            ..PoolOptions::default()
        },
    )
    .await
    .expect_err("a SQLite listen URL for a PostgreSQL database");
    assert!(
        matches!(refused, zkfleet_dal::DalError::InvalidUrl { .. })
            && refused.to_string().contains("listen URL"),
        "{refused}"
    );
}
