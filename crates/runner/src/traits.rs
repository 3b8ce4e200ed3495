//! The three roles of a job runner, tied together by associated types.
//!
//! A component is a picker (take the next job from the database, load its input from the
//! object store), an executor (the CPU-bound work, synchronous, on a blocking thread) and a
//! saver (store the result, mark the job successful or failed). ZKsync's
//! `prover_job_processor` has the same three traits.
//!
//! Picker and saver futures are declared as `impl Future + Send` (return-position impl trait):
//! the runner spawns them onto tokio's multi-threaded runtime, which needs `Send`, and a plain
//! `async fn` in a trait cannot promise that. Implementors still write `async fn`. Static
//! dispatch keeps the per-job path free of boxing; `async-trait` is not needed.

use std::fmt;
use std::future::Future;

/// Takes the next job: marks it in progress in the database and loads its input.
///
/// # An input that cannot be loaded
///
/// Once a job is marked in progress, the picker hands it on, whatever its input: a blob that is
/// missing, truncated or malformed, a key that names another job's blob, or a store still down
/// after its retries is the *job's* failure, not the picker's. The picker's `Input` is then a
/// [`LoadedInput`]: the job goes on with `Err(cause)` as its input, the executor returns that
/// error unchanged (`let input = input?;`), and the saver records the job failed with the cause
/// like any executor failure (classifying it, permanent or transient, in the one place every
/// failure of the component passes). So the job is failed at once with a clear error, the
/// runner counts it among its failed jobs (`zkfleet_runner_jobs_failed_total`, a span of its
/// own), and picks the next one.
///
/// Not a [`JobPicker::Error`]: that would leave the job in progress, unseen, until the
/// requeuer's timeout. Not a failure the picker records itself: that would bypass the
/// runner's ledger, metrics and span, and spread failing a job over two places.
pub trait JobPicker: Send + 'static {
    /// What the executor needs to run the job (loaded from the store): a [`LoadedInput`] when
    /// loading can fail.
    type Input: Send + 'static;
    /// What identifies the job through execution and saving (ids, batch, circuit, ...).
    type Metadata: Clone + fmt::Debug + Send + Sync + 'static;
    /// Why a pick failed (logged and counted; the runner backs off and picks again): the job
    /// database unreachable, say. Never a job's input that cannot be loaded (a
    /// [`LoadedInput`]).
    type Error: fmt::Display + Send + 'static;

    /// The next job, or `None` when there is none right now (the runner then backs off).
    /// Picking is not interrupted by cancellation: a job marked in progress is always handed
    /// to the executor, so implementations should return promptly.
    fn pick(&mut self) -> impl Future<Output = Picked<Self>> + Send;

    /// Up to `limit` jobs (at least 1) in one go: a picker whose database can hand out several
    /// jobs in one statement (the prover jobs of one circuit) overrides this. The runner asks
    /// for more than one only when it has that many idle workers and
    /// [`crate::JobRunnerConfig::pick_batch`] allows it, so a batch is never hoarded: every job
    /// of it starts at once. Empty: nothing to do. The default picks one job.
    fn pick_many(&mut self, limit: usize) -> impl Future<Output = PickedMany<Self>> + Send
    where
        Self: Sized,
    {
        let _ = limit;
        async move { self.pick().await.map(|job| job.into_iter().collect()) }
    }
}

/// A picked job's input, or why it could not be loaded (see [`JobPicker`], "An input that
/// cannot be loaded"): what a picker hands on for a job it has marked in progress, so that the
/// job always reaches the saver, which fails it with the cause.
pub type LoadedInput<T, E> = Result<T, E>;

/// What a pick yields: a job's input and metadata, nothing to do, or an error.
pub type Picked<P> =
    Result<Option<(<P as JobPicker>::Input, <P as JobPicker>::Metadata)>, <P as JobPicker>::Error>;

/// What a batched pick yields: the jobs' inputs and metadata in pick order (empty: nothing to
/// do), or an error (then no job was picked).
pub type PickedMany<P> =
    Result<Vec<(<P as JobPicker>::Input, <P as JobPicker>::Metadata)>, <P as JobPicker>::Error>;

/// A finished job as a saver receives it.
pub type FinishedJob<S> = (
    <S as JobSaver>::Metadata,
    Result<<S as JobSaver>::Output, JobError<<S as JobSaver>::ExecutorError>>,
);

/// The work itself. Runs on tokio's blocking thread pool, `workers` jobs at a time. The thread
/// is inside the runtime's context, so an executor that must await something (a witness
/// generator uploading intermediate blobs) can use `tokio::runtime::Handle::current().block_on`.
pub trait Executor: Send + Sync + 'static {
    /// The picker's input.
    type Input: Send + 'static;
    /// What the saver stores.
    type Output: Send + 'static;
    /// The picker's metadata.
    type Metadata: Clone + fmt::Debug + Send + Sync + 'static;
    /// Why the job failed (the saver records it).
    type Error: fmt::Display + Send + 'static;

    /// Runs one job.
    fn execute(
        &self,
        input: Self::Input,
        metadata: &Self::Metadata,
    ) -> Result<Self::Output, Self::Error>;
}

/// Records the outcome of a job: on `Ok` store the output and mark the job successful, on
/// `Err` mark it failed with the error's text.
pub trait JobSaver: Send + 'static {
    /// The executor's output.
    type Output: Send + 'static;
    /// The picker's metadata.
    type Metadata: Clone + fmt::Debug + Send + Sync + 'static;
    /// The executor's error.
    type ExecutorError: fmt::Display + Send + 'static;
    /// Why a save failed.
    type Error: fmt::Display + Send + 'static;

    /// A saver error is logged and counted; the job stays in progress and the requeuer will
    /// hand it out again.
    fn save(
        &mut self,
        metadata: Self::Metadata,
        result: Result<Self::Output, JobError<Self::ExecutorError>>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Several finished jobs at once (the runner hands over what finished while the previous
    /// save ran, up to [`crate::JobRunnerConfig::save_batch`]): a saver that can record them in
    /// one transaction overrides this. One result per job, in the order given; each is counted
    /// as [`JobSaver::save`]'s would be. The default saves them one by one.
    fn save_many(
        &mut self,
        finished: Vec<FinishedJob<Self>>,
    ) -> impl Future<Output = Vec<Result<(), Self::Error>>> + Send
    where
        Self: Sized,
    {
        async move {
            let mut results = Vec::with_capacity(finished.len());
            for (metadata, result) in finished {
                results.push(self.save(metadata, result).await);
            }
            results
        }
    }
}

/// Why a job produced no output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobError<E> {
    /// The executor returned an error.
    Failed(E),
    /// The executor panicked; the panic was contained and its message kept.
    Panicked(String),
}

impl<E: fmt::Display> fmt::Display for JobError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(e) => write!(f, "{e}"),
            Self::Panicked(message) => write!(f, "executor panicked: {message}"),
        }
    }
}

impl<E: fmt::Display + fmt::Debug> std::error::Error for JobError<E> {}
