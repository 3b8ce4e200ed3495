//! Circuit prover: witness-vector generators (heavy and light) feeding a prover.
//!
//! This crate is the `zkfleet circuit-prover` component, following ZKsync's `circuit_prover`
//! (reference §5.2). Witness-vector generators (CPU, one job per worker) pick prover jobs from
//! the job database, load the job's circuit witness from the object store and run witness
//! generation with circuit data loaded once per process; they hand each witness vector over one
//! bounded channel (capacity 1) to a single prover, which proves, **verifies**, stores the proof
//! and completes the job — the completion queues the dependent witness job (or inserts the
//! compression job after the scheduler proof) in the same transaction. Heavy generators take
//! heavy jobs first and fall back to light ones; light generators never take heavy jobs.
//!
//! Any failure of a job (blob missing or corrupt, witness refused, witness unsatisfied, proof
//! not verifying) fails that job with a message naming the job, its batch, round, circuit and
//! sequence and the cause; the prover goes on with the next one.
//!
//! - [`config`]: [`ProverConfig`], sizes and defaults;
//! - [`registry`]: [`CircuitRegistry`] — one `BatchCircuits` (every circuit of the proving
//!   configuration) loaded once per process, a [`CircuitProver`] for every (round, circuit):
//!   basic, leaf, node, recursion tip and scheduler;
//! - `protocol`: [`check_protocol_version`], the start-up check that the protocol version's
//!   final verifying-key digest is that of the loaded circuits;
//! - [`job`]: [`ProverJobMeta`], a job's identity and blob-key checks;
//! - `wvg`, `prover`: the two stages (picker, executor, saver each, on `zkfleet-runner`);
//! - `completion`: the prover's batched save (proofs that finished together, completed in one
//!   transaction);
//! - `run`: the wiring, [`run`] and [`RunSummary`];
//! - [`metrics`]: metric names; [`error`]: [`ProverError`].
//!
//! Operator documentation: `docs/circuit-prover.md`.

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod backend;
mod completion;
pub mod config;
pub mod error;
mod failure;
pub mod job;
pub mod metrics;
mod protocol;
pub mod prover;
pub mod registry;
mod run;
pub mod wvg;

pub use backend::{install_commit_backend, install_cpu, select_backend, ProverBackend};
pub use config::{HeavyCircuit, HostSizing, ProverConfig};
pub use error::ProverError;
pub use job::ProverJobMeta;
pub use protocol::check_protocol_version;
pub use registry::{
    configuration_circuits, BatchCircuitProver, CircuitProver, CircuitRegistry, LoadedEntry,
};
pub use run::{run, RunSummary, HEAVY_RUNNER, LIGHT_RUNNER, PROVER_RUNNER};
pub use zkfleet_runner::CancellationToken;
