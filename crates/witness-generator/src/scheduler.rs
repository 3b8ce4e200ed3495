//! Round 4, scheduler witness generation: one job per batch.
//!
//! Reads the recursion-tip proof and round 0's per-type summaries (the scheduler partial input,
//! whose key the row holds); writes the scheduler witness under
//! `prover_jobs/{chain}/{batch}/scheduler/254/0/0.bin` and inserts the round-4 prover job,
//! whose proof the compressor compresses.

use std::slice;
use std::time::Duration;

use zkfleet_circuits::pipeline::{scheduler_job_witness, AggregationWitness, TypeSummary};
use zkfleet_dal::{
    CompleteOutcome, Dal, DalResult, JobRef, NewAggregationProverJob, SchedulerWitnessJob,
};
use zkfleet_store::Store;
use zkfleet_types::{AggregationRound, CircuitId, ProtocolSemanticVersion};

use crate::aggregation::keys::{check_key, check_proof_refs, scheduler_input_key, ExpectedProofs};
use crate::aggregation::load::{load_partial_input, load_proofs};
use crate::aggregation::{AggregationError, AggregationJobMeta, WitnessRound};
use crate::recursion_tip::single_circuit;

/// The scheduler round.
#[derive(Debug, Clone, Copy, Default)]
pub struct SchedulerRound;

/// A scheduler job's inputs: every type's summary and the recursion-tip proof.
#[derive(Debug)]
pub struct LoadedScheduler {
    /// Every basic type's summary, from the scheduler partial input.
    pub types: Vec<TypeSummary>,
    /// The recursion-tip proof.
    pub tip_proof: Vec<u8>,
}

impl WitnessRound for SchedulerRound {
    const ROUND: AggregationRound = AggregationRound::Scheduler;
    type Job = SchedulerWitnessJob;
    type Loaded = LoadedScheduler;

    async fn pick(
        &self,
        dal: &Dal,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> DalResult<Option<SchedulerWitnessJob>> {
        dal.pick_scheduler_witness_job(version, picked_by).await
    }

    fn meta(&self, job: &SchedulerWitnessJob) -> AggregationJobMeta {
        AggregationJobMeta::picked(
            Self::ROUND,
            JobRef::SchedulerWitness(job.meta.batch),
            &job.meta,
            CircuitId::SCHEDULER,
            0,
        )
    }

    async fn load(
        &self,
        store: &Store,
        job: SchedulerWitnessJob,
        meta: &AggregationJobMeta,
        max_in_flight: usize,
    ) -> Result<LoadedScheduler, AggregationError> {
        let batch = meta.batch;
        check_key(
            "the scheduler partial input",
            &job.scheduler_partial_input_blob_key,
            &scheduler_input_key(batch),
        )?;
        let tip = slice::from_ref(&job.recursion_tip_proof);
        check_proof_refs(
            batch,
            tip,
            &ExpectedProofs {
                layer: "recursion-tip",
                circuit: CircuitId::RECURSION_TIP,
                depth: 0,
                count: 1,
            },
        )?;
        let partial = load_partial_input(store, batch).await?;
        let tip_proof = load_proofs(
            store,
            batch,
            Self::ROUND,
            "recursion-tip",
            tip,
            max_in_flight,
        )
        .await?
        .pop()
        .ok_or_else(|| {
            AggregationError::Inconsistent("the recursion-tip proof was not loaded".to_owned())
        })?;
        Ok(LoadedScheduler {
            types: partial.types,
            tip_proof,
        })
    }

    fn build(
        &self,
        loaded: LoadedScheduler,
        meta: &AggregationJobMeta,
    ) -> Result<Vec<AggregationWitness>, AggregationError> {
        Ok(vec![scheduler_job_witness(
            &loaded.types,
            loaded.tip_proof,
            meta.batch.batch_number.0,
        )])
    }

    async fn complete(
        &self,
        dal: &Dal,
        meta: &AggregationJobMeta,
        prover_jobs: Vec<NewAggregationProverJob>,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        let key = single_circuit(meta, &prover_jobs)?;
        dal.complete_scheduler_witness_job(meta.batch, key, time_taken)
            .await
    }
}
