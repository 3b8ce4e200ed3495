//! Round 1, leaf witness generation: one job per (batch, basic circuit type).
//!
//! Reads the type's closed forms (round 0's `StoredClosedForms`) and every basic proof of the
//! type in sequence order; writes one leaf witness per chunk of `arity` basic proofs under
//! `prover_jobs/{chain}/{batch}/leaf/{circuit}/0/{chunk}.bin`; inserts the round-1 prover jobs
//! and tells the type's node job of depth 0 how many leaf proofs to wait for.

use std::time::Duration;

use zkfleet_circuits::basic::ClosedFormInputs;
use zkfleet_circuits::pipeline::{leaf_job_witnesses, AggregationWitness};
use zkfleet_dal::{
    CompleteOutcome, Dal, DalError, DalResult, JobRef, LeafWitnessJob, LeafWitnessOutput,
    NewAggregationProverJob,
};
use zkfleet_store::Store;
use zkfleet_types::{AggregationRound, ProtocolSemanticVersion};

use crate::aggregation::keys::{check_key, check_proof_refs, closed_forms_key, ExpectedProofs};
use crate::aggregation::load::{load_closed_forms, load_proofs};
use crate::aggregation::{AggregationError, AggregationJobMeta, WitnessRound};

/// The leaf round at one arity (basic proofs per leaf).
#[derive(Debug, Clone, Copy)]
pub struct LeafRound {
    arity: u32,
}

impl LeafRound {
    /// The leaf round aggregating `arity` basic proofs per leaf.
    pub fn new(arity: u32) -> Self {
        Self { arity }
    }
}

/// A leaf job's inputs: the type's closed forms and its basic proofs, both in sequence order.
#[derive(Debug)]
pub struct LoadedLeaf {
    /// The type's closed forms from round 0.
    pub closed_forms: ClosedFormInputs,
    /// The type's basic proofs, in sequence order.
    pub proofs: Vec<Vec<u8>>,
}

impl WitnessRound for LeafRound {
    const ROUND: AggregationRound = AggregationRound::Leaf;
    type Job = LeafWitnessJob;
    type Loaded = LoadedLeaf;

    async fn pick(
        &self,
        dal: &Dal,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> DalResult<Option<LeafWitnessJob>> {
        dal.pick_leaf_witness_job(version, picked_by).await
    }

    fn meta(&self, job: &LeafWitnessJob) -> AggregationJobMeta {
        AggregationJobMeta::picked(
            Self::ROUND,
            JobRef::LeafWitness(job.id),
            &job.meta,
            job.circuit_id,
            0,
        )
    }

    async fn load(
        &self,
        store: &Store,
        job: LeafWitnessJob,
        meta: &AggregationJobMeta,
        max_in_flight: usize,
    ) -> Result<LoadedLeaf, AggregationError> {
        let (batch, circuit) = (meta.batch, job.circuit_id);
        if !circuit.is_basic_type() {
            return Err(AggregationError::Inconsistent(format!(
                "circuit {} is not a basic circuit type: there is no leaf for it",
                circuit.0
            )));
        }
        check_key(
            "the closed forms",
            &job.closed_form_inputs_blob_key,
            &closed_forms_key(batch, circuit),
        )?;
        let count = job.number_of_basic_circuits as usize;
        check_proof_refs(
            batch,
            &job.basic_proofs,
            &ExpectedProofs {
                layer: "basic",
                circuit,
                depth: 0,
                count,
            },
        )?;
        let closed_forms = load_closed_forms(store, batch, circuit).await?;
        if closed_forms.instances.len() != count {
            return Err(AggregationError::Inconsistent(format!(
                "the closed forms of circuit {} {} list {} instances, the job aggregates {count} \
                 basic proofs",
                circuit.0,
                circuit.name(),
                closed_forms.instances.len()
            )));
        }
        let proofs = load_proofs(
            store,
            batch,
            Self::ROUND,
            "basic",
            &job.basic_proofs,
            max_in_flight,
        )
        .await?;
        Ok(LoadedLeaf {
            closed_forms,
            proofs,
        })
    }

    fn build(
        &self,
        loaded: LoadedLeaf,
        _meta: &AggregationJobMeta,
    ) -> Result<Vec<AggregationWitness>, AggregationError> {
        leaf_job_witnesses(&loaded.closed_forms, loaded.proofs, self.arity as usize)
            .map_err(AggregationError::building(Self::ROUND))
    }

    async fn complete(
        &self,
        dal: &Dal,
        meta: &AggregationJobMeta,
        prover_jobs: Vec<NewAggregationProverJob>,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        let JobRef::LeafWitness(id) = meta.job else {
            return Err(DalError::InvalidInput(format!(
                "{} is not a leaf witness job",
                meta.job
            )));
        };
        let output = LeafWitnessOutput {
            prover_jobs,
            // The node job reads its leaf proofs from the prover job rows; no list blob.
            node_aggregations_blob_key: None,
        };
        dal.complete_leaf_witness_job(id, &output, time_taken).await
    }
}
