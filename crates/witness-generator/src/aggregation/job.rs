//! Who an aggregation job is, as it travels from picker to saver.

use std::fmt;
use std::time::Instant;

use zkfleet_dal::{JobMeta, JobRef};
use zkfleet_store::ObjectKey;
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId};

/// A picked aggregation job: its row, its batch, and the (round, circuit, depth) of the prover
/// jobs it produces.
#[derive(Debug, Clone)]
pub struct AggregationJobMeta {
    /// The witness job's row (what `fail_job` addresses).
    pub job: JobRef,
    /// The batch the job aggregates proofs of.
    pub batch: L1BatchId,
    /// The round of the prover jobs this job inserts.
    pub round: AggregationRound,
    /// The circuit id of those prover jobs: the basic type for leaf and node jobs,
    /// `RECURSION_TIP` or `SCHEDULER` otherwise.
    pub circuit: CircuitId,
    /// Node depth (0 for every other round).
    pub depth: u32,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// When the job was picked: its `time_taken` runs from here to completion.
    pub picked_at: Instant,
}

impl AggregationJobMeta {
    /// A job of `round` just picked: its row `job`, the batch and attempts its row's common
    /// columns give, and the (circuit, depth) of the prover jobs it will insert. Its
    /// `time_taken` starts now.
    pub fn picked(
        round: AggregationRound,
        job: JobRef,
        row: &JobMeta,
        circuit: CircuitId,
        depth: u32,
    ) -> Self {
        Self {
            job,
            batch: row.batch,
            round,
            circuit,
            depth,
            attempts: row.attempts,
            picked_at: Instant::now(),
        }
    }

    /// The deterministic key of the job's `sequence`-th witness: a re-executed job overwrites
    /// the same blobs, and the prover job's row gives the key back (`ProverJobMeta`).
    pub fn witness_key(&self, sequence: u32) -> ObjectKey {
        ObjectKey::CircuitWitness {
            chain: self.batch.chain_id,
            batch: self.batch.batch_number,
            round: self.round,
            circuit: self.circuit,
            depth: self.depth,
            sequence,
        }
    }
}

impl fmt::Display for AggregationJobMeta {
    /// `leaf witness job 4 (batch 3 of chain 270, circuit 2 state_transition, depth 0,
    /// attempt 1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}, circuit {} {}, depth {}, attempt {})",
            self.job,
            self.batch,
            self.circuit.0,
            self.circuit.name(),
            self.depth,
            self.attempts
        )
    }
}
