//! Archiving: moves the prover jobs of finished batches to the archive table, collects their
//! blobs (circuit witness and proof) from the object store, and forgets archive rows past
//! their retention.
//!
//! Blob collection never fails the run: the rows are already archived when it starts, so a
//! blob that is gone already (deleted by hand, a previous run interrupted after the store but
//! before the log line) is fine, and one that cannot be deleted is logged and counted, to be
//! removed by a bucket lifecycle rule.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use zkfleet_dal::{ArchivePolicy, ArchivedProverJob, Dal};
use zkfleet_runner::PeriodicTask;
use zkfleet_store::{ObjectKey, Store};

use super::TaskError;
use crate::metrics::{
    ARCHIVED_PROVER_JOBS, BLOB_COLLECTION_ERRORS, COLLECTED_BLOBS, DELETED_ARCHIVED_PROVER_JOBS,
};

/// What the archiver does; built from [`crate::MonitorConfig`].
#[derive(Debug, Clone)]
pub struct ArchiverSettings {
    /// Time between runs.
    pub interval: Duration,
    /// Which prover jobs are archived (those of batches finished long enough ago).
    pub policy: ArchivePolicy,
    /// How long archive rows are kept before they are deleted.
    pub delete_archived_after: Duration,
    /// `None`: blobs are left in the store.
    pub collect_blobs: Option<BlobCollection>,
}

/// How archived jobs' blobs are collected.
#[derive(Debug, Clone)]
pub struct BlobCollection {
    /// The store the archived jobs' circuit witnesses and proofs are deleted from.
    pub store: Store,
    /// Deletions in flight at once.
    pub concurrency: usize,
}

/// The periodic task `prover_job_archiver`: keeps the prover job table small by moving the
/// finished batches' jobs to the archive (the module's documentation says what else it does).
pub struct ProverJobArchiver {
    dal: Dal,
    settings: ArchiverSettings,
}

impl ProverJobArchiver {
    /// The archiver of `dal`'s prover jobs under `settings`.
    pub fn new(dal: Dal, settings: ArchiverSettings) -> Self {
        Self { dal, settings }
    }
}

impl PeriodicTask for ProverJobArchiver {
    type Error = TaskError;

    fn name(&self) -> &str {
        "prover_job_archiver"
    }

    fn interval(&self) -> Duration {
        self.settings.interval
    }

    async fn run_once(&self) -> Result<(), TaskError> {
        let archived = self.dal.archive_prover_jobs(self.settings.policy).await?;
        if !archived.is_empty() {
            metrics::counter!(ARCHIVED_PROVER_JOBS).increment(archived.len() as u64);
            let batches: BTreeSet<_> = archived.iter().map(|j| j.batch).collect();
            let batches: Vec<String> = batches.iter().map(ToString::to_string).collect();
            tracing::info!(
                jobs = archived.len(),
                batches = %batches.join(", "),
                "archived the prover jobs of finished batches"
            );
            if let Some(collection) = &self.settings.collect_blobs {
                collect_blobs(collection, &archived).await;
            }
        }
        let deleted = self
            .dal
            .delete_archived_prover_jobs(self.settings.delete_archived_after)
            .await?;
        if deleted > 0 {
            metrics::counter!(DELETED_ARCHIVED_PROVER_JOBS).increment(deleted);
            tracing::info!(rows = deleted, "deleted archive rows past their retention");
        }
        Ok(())
    }
}

/// Deletes the circuit witness and proof of every archived job, `concurrency` at a time.
async fn collect_blobs(collection: &BlobCollection, archived: &[ArchivedProverJob]) {
    let limit = Arc::new(Semaphore::new(collection.concurrency.max(1)));
    let mut deletions = JoinSet::new();
    // Collected before the first await: an iterator adaptor held across it would make the
    // future's `Send` bound higher-ranked, which the compiler cannot prove.
    let mut paths: Vec<&str> = Vec::with_capacity(archived.len() * 2);
    for job in archived {
        paths.push(&job.circuit_blob_key);
        paths.extend(job.proof_blob_key.as_deref());
    }
    let mut failed = 0u64;
    for path in paths {
        let key = match ObjectKey::parse(path) {
            Ok(key) => key,
            Err(e) => {
                // Not a key this fleet writes (a row edited by hand?): never guess a path.
                failed += 1;
                metrics::counter!(BLOB_COLLECTION_ERRORS, "reason" => "unparseable_key")
                    .increment(1);
                tracing::warn!(blob = path, error = %e, "archived job names a blob that is not an object key; left in the store");
                continue;
            }
        };
        let Ok(permit) = limit.clone().acquire_owned().await else {
            break; // The semaphore is never closed.
        };
        let store = collection.store.clone();
        deletions.spawn(async move {
            let result = store.delete(&key).await;
            drop(permit);
            (key, result)
        });
    }
    let mut collected = 0u64;
    while let Some(joined) = deletions.join_next().await {
        match joined {
            Ok((key, Ok(()))) => {
                collected += 1;
                metrics::counter!(COLLECTED_BLOBS, "bucket" => key.bucket().as_str()).increment(1);
            }
            Ok((key, Err(e))) => {
                failed += 1;
                metrics::counter!(BLOB_COLLECTION_ERRORS, "reason" => "store_error").increment(1);
                tracing::warn!(blob = %key, error = %e, "could not delete an archived job's blob; left in the store");
            }
            Err(e) => {
                failed += 1;
                metrics::counter!(BLOB_COLLECTION_ERRORS, "reason" => "store_error").increment(1);
                tracing::error!(error = %e, "blob deletion task died");
            }
        }
    }
    tracing::info!(
        collected,
        failed,
        "collected the blobs of archived prover jobs"
    );
}
