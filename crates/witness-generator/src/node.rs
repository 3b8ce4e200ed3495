//! Round 2, node witness generation: one job per (batch, basic circuit type, depth).
//!
//! Depth 0 aggregates the type's leaf proofs, depth d > 0 the node proofs of depth d − 1, up to
//! `arity` per node. How many proofs each depth must have is computed from the type's instance
//! count in round 0's scheduler partial input ([`AggregationTree`]), and the row's proofs are
//! refused unless they are exactly those. Writes the node witnesses under
//! `prover_jobs/{chain}/{batch}/node/{circuit}/{depth}/{i}.bin`; the completing transaction
//! inserts the round-2 prover jobs at this depth — one job is the type's final node proof,
//! more make the database create the job of depth + 1.

use std::time::Duration;

use zkfleet_circuits::pipeline::{node_job_witnesses, AggregationWitness, NodeChildren};
use zkfleet_dal::{
    CompleteOutcome, Dal, DalError, DalResult, JobRef, NewAggregationProverJob, NodeWitnessJob,
    NodeWitnessOutput,
};
use zkfleet_store::Store;
use zkfleet_types::{AggregationRound, ProtocolSemanticVersion};

use crate::aggregation::keys::{check_proof_refs, ExpectedProofs};
use crate::aggregation::load::{load_partial_input, load_proofs};
use crate::aggregation::tree::AggregationTree;
use crate::aggregation::{AggregationError, AggregationJobMeta, WitnessRound};

/// The node round at one arity (proofs per node).
#[derive(Debug, Clone, Copy)]
pub struct NodeRound {
    arity: u32,
}

impl NodeRound {
    /// The node round aggregating `arity` proofs per node.
    pub fn new(arity: u32) -> Self {
        Self { arity }
    }
}

/// A node job's inputs: which layer its children are and their proofs, in sequence order.
#[derive(Debug)]
pub struct LoadedNode {
    /// Whether the children are leaf proofs (depth 0) or node proofs.
    pub children: NodeChildren,
    /// The children's proofs, in sequence order.
    pub proofs: Vec<Vec<u8>>,
}

impl WitnessRound for NodeRound {
    const ROUND: AggregationRound = AggregationRound::Node;
    type Job = NodeWitnessJob;
    type Loaded = LoadedNode;

    async fn pick(
        &self,
        dal: &Dal,
        version: ProtocolSemanticVersion,
        picked_by: &str,
    ) -> DalResult<Option<NodeWitnessJob>> {
        dal.pick_node_witness_job(version, picked_by).await
    }

    fn meta(&self, job: &NodeWitnessJob) -> AggregationJobMeta {
        AggregationJobMeta::picked(
            Self::ROUND,
            JobRef::NodeWitness(job.id),
            &job.meta,
            job.circuit_id,
            job.depth,
        )
    }

    async fn load(
        &self,
        store: &Store,
        job: NodeWitnessJob,
        meta: &AggregationJobMeta,
        max_in_flight: usize,
    ) -> Result<LoadedNode, AggregationError> {
        let (batch, circuit, depth) = (meta.batch, job.circuit_id, job.depth);
        let partial = load_partial_input(store, batch).await?;
        let instances = partial
            .type_summary(circuit)
            .map(|t| t.instances)
            .unwrap_or(0);
        if instances == 0 {
            return Err(AggregationError::Inconsistent(format!(
                "circuit {} {} has no instance in {batch} (scheduler partial input): there is \
                 nothing for a node job to aggregate",
                circuit.0,
                circuit.name()
            )));
        }
        let tree = AggregationTree::of(instances, self.arity)?;
        let count = tree.node_children(depth).ok_or_else(|| {
            AggregationError::Inconsistent(format!(
                "node job at depth {depth}, but circuit {} {} ({instances} instances, arity {}) \
                 has its final node proof at depth {}",
                circuit.0,
                circuit.name(),
                self.arity,
                tree.final_depth()
            ))
        })?;
        let (children, layer, child_depth) = match depth.checked_sub(1) {
            None => (NodeChildren::Leaf, "leaf", 0),
            Some(below) => (NodeChildren::Node, "node", below),
        };
        check_proof_refs(
            batch,
            &job.proofs,
            &ExpectedProofs {
                layer,
                circuit,
                depth: child_depth,
                count: count as usize,
            },
        )?;
        let proofs =
            load_proofs(store, batch, Self::ROUND, layer, &job.proofs, max_in_flight).await?;
        Ok(LoadedNode { children, proofs })
    }

    fn build(
        &self,
        loaded: LoadedNode,
        meta: &AggregationJobMeta,
    ) -> Result<Vec<AggregationWitness>, AggregationError> {
        node_job_witnesses(
            meta.circuit,
            loaded.children,
            loaded.proofs,
            self.arity as usize,
        )
        .map_err(AggregationError::building(Self::ROUND))
    }

    async fn complete(
        &self,
        dal: &Dal,
        meta: &AggregationJobMeta,
        prover_jobs: Vec<NewAggregationProverJob>,
        time_taken: Duration,
    ) -> DalResult<CompleteOutcome> {
        let JobRef::NodeWitness(id) = meta.job else {
            return Err(DalError::InvalidInput(format!(
                "{} is not a node witness job",
                meta.job
            )));
        };
        let output = NodeWitnessOutput {
            prover_jobs,
            // The next depth reads its proofs from the prover job rows; no list blob.
            next_aggregations_blob_key: None,
        };
        dal.complete_node_witness_job(id, &output, time_taken).await
    }
}
