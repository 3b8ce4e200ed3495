//! `zkfleet prove`: one batch end to end in one process — the embedded default's main job.
//!
//! Every component runs in this process, coordinating through the same job database and
//! object store as a distributed fleet (SQLite file and local directory under the data
//! directory unless configured otherwise): the witness generator (all five rounds), a circuit
//! prover (witness-vector generators and the prover) and the compressor. Nothing is special-cased:
//! interrupting the command and running it again resumes from the database — jobs left in
//! progress by the interrupted run are requeued at start (this process is the only one on its
//! database), finished jobs are not redone.
//!
//! The components are configured as the subcommands configure them (`[proving]`,
//! `[witness_generator]`, `[circuit_prover]`, `[compressor]`, `[polling]`; see
//! [`crate::proving`]); jobs left in progress are requeued with `[monitor.max_attempts]`.
//!
//! Progress: one bar per round (jobs successful / jobs known so far, elapsed, ETA), redrawn
//! from the database twice a second; without a terminal, one line per finished round.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use zkfleet_circuit_prover::ProverBackend;
use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_circuits::Keystore;
use zkfleet_dal::{BatchStatus, Dal, JobSummary, JobTable};
use zkfleet_job_monitor::MaxAttempts;
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_runner::CancellationToken;
use zkfleet_store::{ObjectKey, Store};
use zkfleet_types::api::FinalProof;
use zkfleet_types::{AggregationRound, BatchNumber, JobStatus, L1BatchId, ProtocolVersion};
use zkfleet_witness_generator::BatchWitnessInput;

use crate::commands::insert_batch;
use crate::commands::keys::VersionDigests;
use crate::fleet::Fleet;
use crate::proving::{ComponentFlags, Launch, ProvingComponents};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The batch: a batch file (binary or JSON, as `zkfleet rollup generate` writes; then
    /// --genesis is needed) or a witness input file (batch + pre-state).
    #[arg(value_name = "BATCH", required_unless_present = "example")]
    batch: Option<PathBuf>,
    /// The state the batch starts from (genesis.json of `zkfleet rollup generate`).
    #[arg(long, value_name = "FILE", conflicts_with = "example")]
    genesis: Option<PathBuf>,
    /// Generate a sample batch (fixed seed) and prove it.
    #[arg(long, conflicts_with = "batch")]
    example: bool,
    /// Operations of the sample batch.
    #[arg(long, default_value_t = 8, requires = "example")]
    operations: usize,
    /// Seed of the sample batch.
    #[arg(long, default_value_t = 1, requires = "example")]
    seed: u64,
    /// Number of the sample batch (another seed needs another number: a batch number is
    /// proven once per chain).
    #[arg(long, default_value_t = 1, requires = "example")]
    number: u32,
    /// Light witness-vector generators of the in-process circuit prover (default:
    /// `[circuit_prover]`, else 1).
    #[arg(long)]
    light: Option<usize>,
    /// Heavy witness-vector generators of the in-process circuit prover (default:
    /// `[circuit_prover]`, else 1).
    #[arg(long)]
    heavy: Option<usize>,
}

/// The rounds as the progress display lists them.
const STAGES: [&str; 7] = [
    "witness",
    "basic",
    "leaf",
    "node",
    "tip",
    "scheduler",
    "compress",
];

pub(crate) fn run(args: &Args, fleet: &Fleet) -> anyhow::Result<()> {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let proving = fleet.config.proving.clone();
    // Every component's configuration, built and validated before anything slow starts.
    let components = ProvingComponents::new(
        &fleet.config,
        ComponentFlags {
            light: args.light,
            heavy: args.heavy,
            ..ComponentFlags::default()
        },
        Launch::Embedded,
    );
    let configs = Configs {
        witness_generator: components
            .witness_generator(zkfleet_witness_generator::WitnessGeneratorConfig::all_rounds())?,
        circuit_prover: components.circuit_prover()?,
        compressor: components.compressor()?,
    };
    let keys_dir = components.keys_dir();
    let keystore = Keystore::open(&keys_dir)
        .with_context(|| format!("opening the keystore {}", keys_dir.display()))?;

    // Circuit data: loaded from the keystore, built (once, minutes) where missing.
    let spinner = ProgressBar::new_spinner().with_message(format!(
        "loading circuit data from {} (the first run builds it: a few minutes)",
        keys_dir.display()
    ));
    spinner.enable_steady_tick(Duration::from_millis(200));
    let loaded = keystore
        .batch_circuits(&proving.circuits())
        .context("loading the circuits")?;
    spinner.finish_and_clear();
    let built = loaded
        .sources
        .iter()
        .filter(|(_, s)| *s == zkfleet_circuits::keystore::KeySource::Built)
        .count();
    eprintln!(
        "circuits ready in {:.1} s ({} of {} keystore entries built now)",
        loaded.elapsed.as_secs_f64(),
        built,
        loaded.sources.len()
    );
    let circuits = Arc::new(loaded.circuits);
    let final_key = FinalVerifyingKey::of(&circuits).context("encoding the final verifying key")?;
    let vk_path = keystore.final_vk_path(&proving.circuits());

    // The batch's witness input.
    let (batch, input) = match (&args.batch, args.example) {
        (_, true) => example_batch(args, fleet, proving.geometry.xmss_height)?,
        (Some(path), false) => insert_batch::read_witness_input(path, args.genesis.as_deref())?,
        (None, false) => bail!("give a batch file, or --example"),
    };
    let id = batch.id();
    eprintln!("{id}: {} operations", batch.operations.len());

    runtime.block_on(async {
        let dal = fleet.dal().await?;
        let store = fleet.store()?;
        let digests = VersionDigests::of(&circuits)?;
        let version = ProtocolVersion {
            version: proving.protocol_version,
            recursion_tree_vk_digest: digests.recursion_tree_vk,
            final_vk_digest: digests.final_vk,
        };
        crate::commands::insert_version::insert(&dal, &version)
            .await
            .with_context(|| {
                format!(
                    "the job database already has protocol version {} with other digests \
                     (other circuits): use another --data-dir or [proving] protocol_version",
                    version.version
                )
            })?;
        insert_batch::insert(fleet, &dal, &store, &batch, input, version.version, 0).await?;
        resume(&dal, &fleet.config.monitor.max_attempts).await?;

        let cancel = CancellationToken::new();
        let components = start_components(configs, &dal, &store, &circuits, cancel.clone())?;
        let outcome = watch(&dal, id, started).await;
        cancel.cancel();
        for (name, handle) in components {
            match handle.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(component = name, error = %format!("{e:#}"), "stopped with an error"),
                Err(e) => tracing::warn!(component = name, error = %e, "task ended abnormally"),
            }
        }
        outcome?;
        finish(fleet, &store, id, &final_key, &vk_path, started).await
    })
}

/// A generated batch with its pre-state, as `zkfleet rollup generate` would write it.
fn example_batch(
    args: &Args,
    fleet: &Fleet,
    xmss_height: u32,
) -> anyhow::Result<(zkfleet_rollup::batch::Batch, Vec<u8>)> {
    let chain = if fleet.chain_id().0 == 0 {
        zkfleet_types::ChainId(270)
    } else {
        fleet.chain_id()
    };
    let generated = generate(&GeneratorConfig {
        operations: args.operations,
        seed: args.seed,
        tree_height: xmss_height as usize,
        chain_id: chain,
        batch_number: BatchNumber(args.number),
        ..GeneratorConfig::default()
    })
    .context("generating the sample batch")?;
    let input = BatchWitnessInput::from_genesis(&generated.batch, &generated.genesis)
        .context("building the sample batch's witness input")?
        .encode()
        .context("encoding the sample batch's witness input")?;
    Ok((generated.batch, input))
}

/// This process is the only one on its database: whatever is in progress was left by an
/// interrupted run. Requeue it (and failed jobs with attempts left under `[monitor.max_attempts]`)
/// now rather than after the monitor's timeouts.
async fn resume(dal: &Dal, max_attempts: &MaxAttempts) -> anyhow::Result<()> {
    let mut requeued = 0;
    for table in JobTable::ALL {
        let counts = dal
            .requeue_stuck_jobs(table, Duration::ZERO, max_attempts.of(table))
            .await
            .with_context(|| format!("requeueing the {table:?} left in progress"))?;
        requeued += counts.requeued;
    }
    dal.queue_ready_dependents()
        .await
        .context("queueing jobs whose dependencies are done")?;
    if requeued > 0 {
        eprintln!("resuming: {requeued} jobs left in progress by an earlier run requeued");
    }
    Ok(())
}

/// The configurations of the three proving components, from [`ProvingComponents`].
struct Configs {
    witness_generator: zkfleet_witness_generator::WitnessGeneratorConfig,
    circuit_prover: zkfleet_circuit_prover::ProverConfig,
    compressor: zkfleet_compressor::CompressorConfig,
}

type ComponentHandle = (&'static str, tokio::task::JoinHandle<anyhow::Result<()>>);

/// Starts the components on the circuits loaded once for all three (the subcommands load them
/// from the same keystore on their own).
fn start_components(
    configs: Configs,
    dal: &Dal,
    store: &Store,
    circuits: &Arc<BatchCircuits>,
    cancel: CancellationToken,
) -> anyhow::Result<Vec<ComponentHandle>> {
    let Configs {
        witness_generator,
        circuit_prover,
        compressor,
    } = configs;
    let mut handles: Vec<ComponentHandle> = Vec::new();

    let (d, s, c) = (dal.clone(), store.clone(), cancel.clone());
    handles.push((
        "witness generator",
        tokio::spawn(async move {
            zkfleet_witness_generator::run(d, s, witness_generator, c)
                .await
                .map(|_| ())
                .context("witness generator")
        }),
    ));

    let mut registry = zkfleet_circuit_prover::CircuitRegistry::from_circuits(circuits.clone())
        .context("registering the circuits")?;
    // `[circuit_prover] backend`, as `zkfleet circuit-prover` applies it (CircuitRegistry::
    // for_config): the GPU where one is usable, the CPU saying so where none is.
    let requested = circuit_prover.backend;
    let active =
        zkfleet_circuit_prover::select_backend(&mut registry, requested, circuit_prover.gpu_device)
            .context("starting the circuit prover's backend")?;
    if requested == ProverBackend::Gpu {
        match active {
            ProverBackend::Gpu => eprintln!(
                "circuit prover backend: gpu (card {})",
                circuit_prover.gpu_device
            ),
            ProverBackend::Cpu | ProverBackend::Plonky2 => eprintln!(
                "circuit prover backend: cpu (gpu requested, no GPU usable here: see the warning above)"
            ),
        }
    }
    let registry = Arc::new(registry);
    let (d, s, c) = (dal.clone(), store.clone(), cancel.clone());
    handles.push((
        "circuit prover",
        tokio::spawn(async move {
            zkfleet_circuit_prover::run(d, s, registry, circuit_prover, c)
                .await
                .map(|_| ())
                .context("circuit prover")
        }),
    ));

    let (d, s, c, k) = (dal.clone(), store.clone(), cancel, circuits.clone());
    handles.push((
        "compressor",
        tokio::spawn(async move {
            zkfleet_compressor::run_with_circuits(d, s, k, compressor, c)
                .await
                .map(|_| ())
                .context("compressor")
        }),
    ));
    Ok(handles)
}

/// Successful and known jobs of each stage.
fn progress_of(status: &BatchStatus) -> [(u64, u64); 7] {
    let count = |jobs: &[JobSummary]| {
        let done = jobs
            .iter()
            .filter(|j| matches!(j.status, JobStatus::Successful | JobStatus::SentToServer))
            .count() as u64;
        (done, jobs.len() as u64)
    };
    let mut out = [(0, 0); 7];
    out[0] = count(status.witness_input.as_slice());
    for round in &status.rounds {
        let i = match round.round {
            AggregationRound::Basic => 1,
            AggregationRound::Leaf => 2,
            AggregationRound::Node => 3,
            AggregationRound::RecursionTip => 4,
            AggregationRound::Scheduler => 5,
        };
        out[i] = count(&round.prover_jobs);
    }
    out[6] = count(status.compression.as_slice());
    out
}

/// The first job of the batch that failed, failed permanently or ran out of attempts, if any.
fn failed_job(status: &BatchStatus) -> Option<&JobSummary> {
    let failed = |j: &&JobSummary| j.status == JobStatus::Failed || j.status.is_terminal_failure();
    status.jobs().find(failed)
}

/// Draws progress from the database until the compression job is done, or a job fails.
async fn watch(dal: &Dal, id: L1BatchId, started: Instant) -> anyhow::Result<()> {
    let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4));
    let style = ProgressStyle::with_template(
        "{prefix:>9} [{bar:30}] {pos}/{len} jobs  {elapsed_precise}  eta {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    let stage_bars: Vec<ProgressBar> = STAGES
        .iter()
        .map(|stage| {
            let bar = bars.add(ProgressBar::new(0));
            bar.set_style(style.clone());
            bar.set_prefix(*stage);
            bar
        })
        .collect();
    let terminal = bars.is_hidden();
    let mut reported = [false; 7];
    loop {
        let status = dal
            .batch_status(id)
            .await
            .with_context(|| format!("reading the status of {id}"))?;
        if let Some(job) = failed_job(&status) {
            bars.clear().ok();
            bail!(
                "{} failed (attempt {}): {}\nfix the cause and run the same command again to resume",
                job.job,
                job.attempts,
                job.error.as_deref().unwrap_or("no error recorded")
            );
        }
        let progress = progress_of(&status);
        for (i, (done, total)) in progress.iter().enumerate() {
            let bar = &stage_bars[i];
            bar.set_length(*total);
            bar.set_position(*done);
            let finished = *total > 0 && done == total && (i == 0 || reported[i - 1]);
            if finished && !reported[i] {
                reported[i] = true;
                bar.finish();
                if terminal {
                    eprintln!(
                        "{:>9}: {done}/{total} jobs done at {:.1} s",
                        STAGES[i],
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        }
        if reported[6] {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Writes the final proof under the data directory, checks it and prints what it attests.
async fn finish(
    fleet: &Fleet,
    store: &Store,
    id: L1BatchId,
    final_key: &FinalVerifyingKey,
    vk_path: &Path,
    started: Instant,
) -> anyhow::Result<()> {
    let key = ObjectKey::FinalProof {
        chain: id.chain_id,
        batch: id.batch_number,
        protocol_version: fleet.config.proving.protocol_version,
    };
    let stored: FinalProof = store
        .get(&key)
        .await
        .with_context(|| format!("reading the final proof {}", key.path()))?;
    let proof = stored.proof.0.to_vec();
    let output = final_key
        .verify(&proof)
        .context("the final proof does not verify under the final verifying key")?;
    if output != stored.public_output {
        bail!("the final proof attests another output than the one stored beside it");
    }
    let dir = fleet.config.data_dir.join("proofs");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("{}_{}.proof", id.chain_id, id.batch_number));
    std::fs::write(&path, &proof).with_context(|| format!("writing {}", path.display()))?;
    out!("{id} proven in {:.1} s", started.elapsed().as_secs_f64());
    out!("final proof:   {} ({} bytes)", path.display(), proof.len());
    out!("verifying key: {}", vk_path.display());
    out!(
        "key digest:    {} (SHA-256 of the key file)",
        final_key.digest()
    );
    out!(
        "check it:      zkfleet verify --proof {} --vk {} --expect-vk-digest {}",
        path.display(),
        vk_path.display(),
        final_key.digest()
    );
    out!("batch public output:");
    crate::commands::verify::print_output(&output);
    Ok(())
}
