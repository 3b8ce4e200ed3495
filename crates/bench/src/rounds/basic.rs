//! Round 0 witness generation: the batch's witness input names its basic circuit types and
//! their instance counts; "executing" it yields a placeholder circuit per instance, the
//! closed-form inputs of each type, the scheduler's partial input and the aux output. The
//! completion inserts every round-0 prover job, the leaf, node, recursion tip and scheduler
//! jobs in one transaction, as the real basic witness generator does.

use std::time::Duration;

use zkfleet_dal::{
    BasicWitnessJob, BasicWitnessOutput, CompleteOutcome, DalResult, JobRef, NewBasicProverJob,
    NewLeafWitnessJob,
};
use zkfleet_store::ObjectKey;
use zkfleet_types::{AggregationRound, CircuitId, L1BatchId};

use super::{placeholder, Produced, Round};
use crate::error::BenchError;
use crate::fleet::Fleet;
use crate::placeholder::{decode_witness_input_body, BENCHMARK_PROTOCOL_VERSION};
use crate::probe::{Op, Stage};

pub(crate) struct BasicWitnessRound;

impl Round for BasicWitnessRound {
    const NAME: &'static str = "basic_witness_generator";
    const PICK: Op = Op::PickWitnessJob;
    const COMPLETE: Op = Op::CompleteBasicWitnessJob;
    const WRITE: Option<Op> = Some(Op::WriteBasicWitnessBlobs);

    type Claimed = BasicWitnessJob;
    type Input = Vec<(CircuitId, u32)>;
    type Record = BasicWitnessOutput;
    type Meta = L1BatchId;

    async fn claim(fleet: &Fleet, worker: &str) -> DalResult<Option<BasicWitnessJob>> {
        fleet
            .dal
            .pick_basic_witness_job(BENCHMARK_PROTOCOL_VERSION, worker)
            .await
    }

    async fn load(
        fleet: &Fleet,
        job: BasicWitnessJob,
    ) -> Result<(Self::Input, L1BatchId), BenchError> {
        let (key, body) = fleet.get_path(&job.witness_input_blob_key).await?;
        let types = decode_witness_input_body(&key, &body)?;
        Ok((types, job.meta.batch))
    }

    fn execute(
        _fleet: &Fleet,
        types: Self::Input,
        batch: &L1BatchId,
    ) -> Result<Produced<BasicWitnessOutput>, BenchError> {
        let (chain, number) = (batch.chain_id, batch.batch_number);
        let instances: usize = types.iter().map(|&(_, n)| n as usize).sum();
        let mut blobs = Vec::with_capacity(instances + types.len() + 2);
        let mut prover_jobs = Vec::with_capacity(instances);
        let mut leaf_jobs = Vec::with_capacity(types.len());
        for &(circuit, count) in &types {
            for sequence in 0..count {
                let (key, payload) = placeholder(ObjectKey::CircuitWitness {
                    chain,
                    batch: number,
                    round: AggregationRound::Basic,
                    circuit,
                    depth: 0,
                    sequence,
                })?;
                prover_jobs.push(NewBasicProverJob {
                    circuit_id: circuit,
                    sequence_number: sequence,
                    circuit_blob_key: key.path(),
                });
                blobs.push((key, payload));
            }
            let (key, payload) = placeholder(ObjectKey::ClosedFormInputs {
                chain,
                batch: number,
                circuit,
            })?;
            leaf_jobs.push(NewLeafWitnessJob {
                circuit_id: circuit,
                number_of_basic_circuits: count,
                closed_form_inputs_blob_key: key.path(),
            });
            blobs.push((key, payload));
        }
        let scheduler_input = placeholder(ObjectKey::SchedulerInput {
            chain,
            batch: number,
        })?;
        let scheduler_partial_input_blob_key = scheduler_input.0.path();
        blobs.push(scheduler_input);
        blobs.push(placeholder(ObjectKey::AuxOutput {
            chain,
            batch: number,
        })?);
        Ok(Produced {
            blobs,
            record: BasicWitnessOutput {
                prover_jobs,
                leaf_jobs,
                scheduler_partial_input_blob_key,
            },
        })
    }

    async fn complete(
        fleet: &Fleet,
        batch: &L1BatchId,
        record: BasicWitnessOutput,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        fleet
            .dal
            .complete_basic_witness_job(*batch, &record, time_taken)
            .await
    }

    fn job(batch: &L1BatchId) -> JobRef {
        JobRef::WitnessInput(*batch)
    }

    fn stage(_: &L1BatchId) -> Stage {
        Stage::BasicWitness
    }
}
