//! Wake-ups: idle workers wait for work to appear instead of polling the database.
//!
//! Every [`crate::Dal`] holds a hub with one generation counter per job table (a
//! `tokio::sync::watch` channel each). A worker subscribes to the table it picks from
//! ([`crate::Dal::job_wakeups`]) and, when a pick finds nothing, waits for the counter to move
//! (or for its safety-net poll). What moves the counters:
//!
//! - **PostgreSQL**: row-level triggers on every job table, `WHEN (NEW.status = 'queued')`
//!   (migration `20261206010000_row_level_wakeups.sql`), call `pg_notify('zkfleet_jobs',
//!   <table>)` for every row left `queued`, folded into one notification per transaction and
//!   table; picks and completions leave no row queued and cost only the condition. It is
//!   delivered when the writing
//!   transaction commits, whichever process wrote. One listener per hub (one dedicated
//!   connection, outside the pool, started by the first subscription) bumps the table's counter.
//!   When the listener loses its connection it reconnects with backoff and then bumps *every*
//!   counter, since notifications sent meanwhile are lost.
//! - **SQLite**: no notifications exist; the [`crate::Dal`] bumps the counters itself after a
//!   committed operation that can queue work. Every `Dal` of one database file in a process
//!   shares one hub, so the embedded `zkfleet prove` (every component in one process) is woken
//!   at once; other processes on the same file are not, and keep polling at their configured
//!   pace ([`JobWakeups::safety_poll`]).
//!
//! A wake-up is a hint, never a job: the woken worker picks as usual, and may find nothing
//! (another worker was faster). Polling stays as the safety net.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::model::JobTable;

/// The PostgreSQL notification channel the job tables' triggers notify.
pub const NOTIFY_CHANNEL: &str = "zkfleet_jobs";

/// With wake-ups from every process (PostgreSQL), idle workers still poll this often at least,
/// in case a notification was lost in a way the listener could not see.
pub const CROSS_PROCESS_SAFETY_POLL: Duration = Duration::from_secs(30);

/// Where a subscription's wake-ups come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeScope {
    /// Every writer of the database, in any process (PostgreSQL `LISTEN/NOTIFY`).
    AllProcesses,
    /// Only writers in this process (SQLite): other processes' work is found by polling.
    ThisProcess,
}

/// A subscription to one job table's wake-ups: the receiver changes when work may have been
/// queued in the table.
#[derive(Debug, Clone)]
pub struct JobWakeups {
    /// The job table whose wake-ups these are.
    pub table: JobTable,
    /// Changes (its value is a generation counter) when work may have appeared.
    pub receiver: watch::Receiver<u64>,
    /// Whose writes wake this subscriber: every process's, or only this process's.
    pub scope: WakeScope,
}

impl JobWakeups {
    /// How long a subscriber's idle wait may grow between two polls, for
    /// `JobRunner::with_wake` (which never goes below the runner's own `idle_backoff_max`):
    /// [`CROSS_PROCESS_SAFETY_POLL`] where every writer wakes us (PostgreSQL), zero (the
    /// configured polling, unchanged) where only this process does (SQLite: other processes on
    /// the same file are found by polling).
    pub fn idle_ceiling(&self) -> Duration {
        match self.scope {
            WakeScope::AllProcesses => CROSS_PROCESS_SAFETY_POLL,
            WakeScope::ThisProcess => Duration::ZERO,
        }
    }
}

/// The generation counters of one database and, on PostgreSQL, the listener that moves them.
pub(crate) struct WakeHub {
    counters: [watch::Sender<u64>; JobTable::ALL.len()],
    /// PostgreSQL: the URL the listener connects to; `None` on SQLite.
    listen_url: Option<String>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for WakeHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("WakeHub")
            .field("listens", &self.listen_url.is_some())
            .finish()
    }
}

impl Drop for WakeHub {
    fn drop(&mut self) {
        self.stop_listener();
    }
}

fn index(table: JobTable) -> usize {
    JobTable::ALL
        .iter()
        .position(|t| *t == table)
        .expect("JobTable::ALL lists every table")
}

impl WakeHub {
    fn new(listen_url: Option<String>) -> Self {
        Self {
            counters: std::array::from_fn(|_| watch::Sender::new(0)),
            listen_url,
            listener: Mutex::new(None),
        }
    }

    /// A hub whose wake-ups come from PostgreSQL notifications.
    pub(crate) fn postgres(url: &str) -> Arc<Self> {
        Arc::new(Self::new(Some(url.to_owned())))
    }

    /// The hub of a SQLite database: shared by every `Dal` of the same file in this process
    /// (`key`: the file's canonical path), private for an in-memory database (`key` = None).
    pub(crate) fn sqlite(key: Option<String>) -> Arc<Self> {
        static HUBS: Mutex<Option<HashMap<String, Weak<WakeHub>>>> = Mutex::new(None);
        let Some(key) = key else {
            return Arc::new(Self::new(None));
        };
        let mut hubs = HUBS.lock().unwrap_or_else(PoisonError::into_inner);
        let hubs = hubs.get_or_insert_with(HashMap::new);
        hubs.retain(|_, hub| hub.strong_count() > 0);
        if let Some(hub) = hubs.get(&key).and_then(Weak::upgrade) {
            return hub;
        }
        let hub = Arc::new(Self::new(None));
        hubs.insert(key, Arc::downgrade(&hub));
        hub
    }

    pub(crate) fn scope(&self) -> WakeScope {
        if self.listen_url.is_some() {
            WakeScope::AllProcesses
        } else {
            WakeScope::ThisProcess
        }
    }

    /// Subscribes to a table; on PostgreSQL starts the listener if it is not running.
    pub(crate) fn subscribe(self: &Arc<Self>, table: JobTable) -> JobWakeups {
        let receiver = self.counters[index(table)].subscribe();
        if let Some(url) = &self.listen_url {
            let mut listener = self.listener.lock().unwrap_or_else(PoisonError::into_inner);
            let running = listener.as_ref().is_some_and(|task| !task.is_finished());
            if !running {
                // Outside a tokio runtime there is nothing to run the listener on: the
                // subscriber then relies on polling alone.
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    *listener = Some(runtime.spawn(listen(url.clone(), Arc::downgrade(self))));
                } else {
                    tracing::warn!("no tokio runtime: job wake-ups disabled, polling only");
                }
            }
        }
        JobWakeups {
            table,
            receiver,
            scope: self.scope(),
        }
    }

    pub(crate) fn wake(&self, table: JobTable) {
        self.counters[index(table)]
            .send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    pub(crate) fn wake_all(&self) {
        for table in JobTable::ALL {
            self.wake(table);
        }
    }

    /// Wakes the table a notification names (every table for a name we do not know).
    fn wake_named(&self, table_name: &str) {
        match JobTable::ALL.iter().find(|t| t.table_name() == table_name) {
            Some(table) => self.wake(*table),
            None => self.wake_all(),
        }
    }

    pub(crate) fn stop_listener(&self) {
        let mut listener = self.listener.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = listener.take() {
            task.abort();
        }
    }
}

/// The listener: one connection of its own, `LISTEN zkfleet_jobs`, each notification bumps its
/// table. Reconnects with backoff (100 ms doubling to 10 s) and, on every (re)connection, bumps
/// every table: notifications sent while it was not listening are lost.
async fn listen(url: String, hub: Weak<WakeHub>) {
    const FIRST_RETRY: Duration = Duration::from_millis(100);
    const MAX_RETRY: Duration = Duration::from_secs(10);
    let mut retry = FIRST_RETRY;
    loop {
        match connect_listener(&url).await {
            Ok(mut listener) => {
                retry = FIRST_RETRY;
                tracing::debug!(channel = NOTIFY_CHANNEL, "listening for job notifications");
                let Some(strong) = hub.upgrade() else { return };
                strong.wake_all();
                drop(strong);
                loop {
                    let next = listener.try_recv().await;
                    let Some(strong) = hub.upgrade() else { return };
                    match next {
                        Ok(Some(notification)) => strong.wake_named(notification.payload()),
                        // The connection was lost and re-established (sqlx reconnects and
                        // listens again): whatever was notified in between is lost.
                        Ok(None) => {
                            tracing::warn!("job notification listener reconnected");
                            strong.wake_all();
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "job notification listener failed; reconnecting");
                            strong.wake_all();
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?retry,
                    "cannot listen for job notifications; workers poll meanwhile");
                let Some(strong) = hub.upgrade() else { return };
                // Pollers' safety net is long on PostgreSQL: wake them so they poll now.
                strong.wake_all();
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(MAX_RETRY);
    }
}

async fn connect_listener(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(NOTIFY_CHANNEL).await?;
    Ok(listener)
}
