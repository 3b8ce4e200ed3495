//! Round 4 witness generation: the scheduler job of the batch reads the scheduler's partial
//! input (written by basic witness generation) and the recursion tip proof, and produces the
//! scheduler circuit.

use std::time::Duration;

use zkfleet_dal::{CompleteOutcome, DalResult, JobRef, SchedulerWitnessJob};
use zkfleet_store::ObjectKey;
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId};

use super::{placeholder, Produced, Round};
use crate::error::BenchError;
use crate::fleet::Fleet;
use crate::placeholder::BENCHMARK_PROTOCOL_VERSION;
use crate::probe::{Op, Stage};

pub(crate) struct SchedulerWitnessRound;

impl Round for SchedulerWitnessRound {
    const NAME: &'static str = "scheduler_witness_generator";
    const PICK: Op = Op::PickWitnessJob;
    const COMPLETE: Op = Op::CompleteWitnessJob;

    type Claimed = SchedulerWitnessJob;
    type Input = ();
    /// The path of the scheduler circuit.
    type Record = String;
    type Meta = L1BatchId;

    async fn claim(fleet: &Fleet, worker: &str) -> DalResult<Option<SchedulerWitnessJob>> {
        fleet
            .dal
            .pick_scheduler_witness_job(BENCHMARK_PROTOCOL_VERSION, worker)
            .await
    }

    async fn load(fleet: &Fleet, job: SchedulerWitnessJob) -> Result<((), L1BatchId), BenchError> {
        fleet
            .get_all(vec![
                job.scheduler_partial_input_blob_key,
                job.recursion_tip_proof.proof_blob_key,
            ])
            .await?;
        Ok(((), job.meta.batch))
    }

    fn execute(_fleet: &Fleet, (): (), batch: &L1BatchId) -> Result<Produced<String>, BenchError> {
        let circuit = placeholder(ObjectKey::CircuitWitness {
            chain: batch.chain_id,
            batch: batch.batch_number,
            round: AggregationRound::Scheduler,
            circuit: CircuitId::SCHEDULER,
            depth: 0,
            sequence: 0,
        })?;
        let path = circuit.0.path();
        Ok(Produced {
            blobs: vec![circuit],
            record: path,
        })
    }

    async fn complete(
        fleet: &Fleet,
        batch: &L1BatchId,
        circuit_path: String,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        fleet
            .dal
            .complete_scheduler_witness_job(*batch, &circuit_path, time_taken)
            .await
    }

    fn job(batch: &L1BatchId) -> JobRef {
        JobRef::SchedulerWitness(*batch)
    }

    fn stage(_: &L1BatchId) -> Stage {
        Stage::SchedulerWitness
    }
}
