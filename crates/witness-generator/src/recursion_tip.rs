//! Round 3, recursion-tip witness generation: one job per batch.
//!
//! Reads the final node proof of every basic type present (the job row lists them in circuit id
//! order) and round 0's per-type summaries (the scheduler partial input): present types with
//! their final node proof and the closed forms at both ends of their run, absent types with
//! their constant closed form. Writes the tip witness under
//! `prover_jobs/{chain}/{batch}/recursion_tip/255/0/0.bin` and inserts the round-3 prover job.

use std::time::Duration;

use zkfleet_circuits::pipeline::{tip_job_witness, AggregationWitness, TypeSummary};
use zkfleet_dal::{
    CompleteOutcome, Dal, DalError, DalResult, JobRef, NewAggregationProverJob,
    RecursionTipWitnessJob,
};
use zkfleet_store::Store;
use zkfleet_types::{AggregationRound, CircuitId, ProtocolSemanticVersion};

use crate::aggregation::keys::{check_key, describe_proof, proof_key};
use crate::aggregation::load::{load_partial_input, load_proofs};
use crate::aggregation::tree::AggregationTree;
use crate::aggregation::{AggregationError, AggregationJobMeta, WitnessRound};

/// The recursion-tip round; the arity tells at which depth each type's final node proof is.
#[derive(Debug, Clone, Copy)]
pub struct RecursionTipRound {
    arity: u32,
}

impl RecursionTipRound {
    /// The tip round of a tree of `arity` (which sets each type's final node depth).
    pub fn new(arity: u32) -> Self {
        Self { arity }
    }
}

/// A tip job's inputs: every type's summary and the present types' final node proofs.
#[derive(Debug)]
pub struct LoadedTip {
    /// Every basic type's summary, from the scheduler partial input.
    pub types: Vec<TypeSummary>,
    /// The final node proof of each present type, by circuit.
    pub final_node_proofs: Vec<(CircuitId, Vec<u8>)>,
}

impl WitnessRound for RecursionTipRound {
    const ROUND: AggregationRound = AggregationRound::RecursionTip;
    type Job = RecursionTipWitnessJob;
    type Loaded = LoadedTip;

    async fn pick(
        &self,
        dal: &Dal,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> DalResult<Option<RecursionTipWitnessJob>> {
        dal.pick_recursion_tip_witness_job(version, picked_by).await
    }

    fn meta(&self, job: &RecursionTipWitnessJob) -> AggregationJobMeta {
        AggregationJobMeta::picked(
            Self::ROUND,
            JobRef::RecursionTipWitness(job.meta.batch),
            &job.meta,
            CircuitId::RECURSION_TIP,
            0,
        )
    }

    async fn load(
        &self,
        store: &Store,
        job: RecursionTipWitnessJob,
        meta: &AggregationJobMeta,
        max_in_flight: usize,
    ) -> Result<LoadedTip, AggregationError> {
        let batch = meta.batch;
        let partial = load_partial_input(store, batch).await?;
        let present: Vec<&TypeSummary> = partial.types.iter().filter(|t| t.is_present()).collect();
        if job.number_of_final_node_jobs as usize != present.len()
            || job.final_node_proofs.len() != present.len()
        {
            return Err(AggregationError::Inconsistent(format!(
                "{batch} has {} basic types present (scheduler partial input); the job waits for \
                 {} final node proofs and lists {}",
                present.len(),
                job.number_of_final_node_jobs,
                job.final_node_proofs.len()
            )));
        }
        // Both lists are in circuit id order: the i-th proof must be the i-th present type's,
        // at the depth its tree ends at, under its own key.
        for (proof, summary) in job.final_node_proofs.iter().zip(&present) {
            let what = describe_proof("final node", proof);
            let depth = AggregationTree::of(summary.instances, self.arity)?.final_depth();
            if proof.circuit_id != summary.circuit_id
                || proof.depth != depth
                || proof.sequence_number != 0
            {
                return Err(AggregationError::Inconsistent(format!(
                    "{what} at depth {} is listed where the final node proof of circuit {} {} \
                     ({} instances: depth {depth}, sequence 0) belongs",
                    proof.depth,
                    summary.circuit_id.0,
                    summary.circuit_id.name(),
                    summary.instances
                )));
            }
            check_key(&what, &proof.proof_blob_key, &proof_key(batch, proof))?;
        }
        let proofs = load_proofs(
            store,
            batch,
            Self::ROUND,
            "final node",
            &job.final_node_proofs,
            max_in_flight,
        )
        .await?;
        let final_node_proofs = present.iter().map(|t| t.circuit_id).zip(proofs).collect();
        Ok(LoadedTip {
            types: partial.types,
            final_node_proofs,
        })
    }

    fn build(
        &self,
        loaded: LoadedTip,
        _meta: &AggregationJobMeta,
    ) -> Result<Vec<AggregationWitness>, AggregationError> {
        let witness = tip_job_witness(&loaded.types, loaded.final_node_proofs)
            .map_err(AggregationError::building(Self::ROUND))?;
        Ok(vec![witness])
    }

    async fn complete(
        &self,
        dal: &Dal,
        meta: &AggregationJobMeta,
        prover_jobs: Vec<NewAggregationProverJob>,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        let key = single_circuit(meta, &prover_jobs)?;
        dal.complete_recursion_tip_witness_job(meta.batch, key, time_taken)
            .await
    }
}

/// The one circuit of a per-batch round (recursion tip, scheduler).
pub(crate) fn single_circuit<'a>(
    meta: &AggregationJobMeta,
    prover_jobs: &'a [NewAggregationProverJob],
) -> DalResult<&'a str> {
    match prover_jobs {
        [job] if job.sequence_number == 0 => Ok(&job.circuit_blob_key),
        _ => Err(DalError::InvalidInput(format!(
            "{meta} produces exactly one circuit (sequence 0), not {}",
            prover_jobs.len()
        ))),
    }
}
