//! The shape of the benchmark's proof tree: how many basic circuits of each type a batch has,
//! and the aggregation arity, from which every other job count follows.
//!
//! The full shape reproduces ZKsync mainnet batch 496134 as reported in the reference
//! (`zksync-prover.md` §2.5): 17,061 basic prover jobs over the 20 base-layer circuit types,
//! 544 leaf, 32 node, 1 recursion tip and 1 scheduler prover job (17,639 prover jobs) with
//! ZKsync's recursion arity of 32. The reference gives only these totals and the main VM's
//! share (about 3/4 of the basic jobs); the per-type split below is synthetic, chosen so that
//! arity 32 yields exactly those totals: the main VM has 12,288 instances (384 leaves, hence 12
//! node proofs at depth 0 and one final node proof at depth 1), and each of the 19 other types
//! fits in at most 32 leaves (one final node proof each).
//!
//! Circuit ids 1..=20 stand for ZKsync's base-layer types 1..=19 and 255 (EIP-4844 repack),
//! in that order: zkfleet's `CircuitId` reserves 253..=255 for compression, scheduler and
//! recursion tip, and the job database accepts any other id for a basic type.

use serde::{Deserialize, Serialize};
use zkfleet_types::CircuitId;

use crate::error::BenchError;

/// ZKsync's recursion arity: proofs per leaf and per node.
pub const MAINNET_ARITY: u32 = 32;

/// The quick shape divides every type's instance count by this (rounding up).
pub const QUICK_DIVISOR: u32 = 20;

/// The quick shape's arity: small enough that the scaled-down main VM still needs node
/// aggregation at several depths, so the quick mode exercises every path of the full tree.
pub const QUICK_ARITY: u32 = 8;

/// The 20 basic circuit types of the full shape: (name of the ZKsync base-layer type,
/// instances). Circuit id = position + 1.
const MAINNET_TYPES: [(&str, u32); 20] = [
    ("vm", 12_288),
    ("decommitments_filter", 41),
    ("decommiter", 430),
    ("log_demultiplexer", 627),
    ("keccak_precompile", 371),
    ("sha256_precompile", 7),
    ("ecrecover_precompile", 80),
    ("ram_validation", 1_017),
    ("storage_filter", 302),
    ("storage_applicator", 811),
    ("events_reverts_filter", 109),
    ("l1_messages_reverts_filter", 37),
    ("l1_messages_hasher", 12),
    ("transient_storage_checker", 71),
    ("secp256r1_verify", 2),
    ("modexp_precompile", 50),
    ("ecadd_precompile", 140),
    ("ecmul_precompile", 170),
    ("ecpairing_precompile", 240),
    ("eip4844_repack", 256),
];

/// One basic circuit type of the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicType {
    /// The circuit id its jobs carry in every round of its branch.
    pub circuit_id: CircuitId,
    /// The ZKsync base-layer type it stands for.
    pub name: String,
    /// Basic circuit instances (round-0 prover jobs) of this type.
    pub instances: u32,
}

/// A proof tree: basic instances per type and the aggregation arity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeShape {
    /// What the shape is (`mainnet batch 496134`, `quick: mainnet shape scaled 1/20, arity 8`...).
    pub name: String,
    /// Children per leaf and node proof.
    pub arity: u32,
    /// The basic circuit types present, with their instance counts.
    pub types: Vec<BasicType>,
}

/// Jobs of every table for one batch of a shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobCounts {
    /// Round-0 prover jobs: every basic circuit instance.
    pub basic_prover_jobs: u64,
    /// Round-1 prover jobs.
    pub leaf_prover_jobs: u64,
    /// Round-2 prover jobs, every depth.
    pub node_prover_jobs: u64,
    /// Round-3 prover jobs (one).
    pub recursion_tip_prover_jobs: u64,
    /// Round-4 prover jobs (one).
    pub scheduler_prover_jobs: u64,
    /// Basic witness jobs (one per batch).
    pub basic_witness_jobs: u64,
    /// Leaf witness jobs: one per basic circuit type.
    pub leaf_witness_jobs: u64,
    /// Node witness jobs: per type, one per depth.
    pub node_witness_jobs: u64,
    /// Recursion tip witness jobs (one).
    pub recursion_tip_witness_jobs: u64,
    /// Scheduler witness jobs (one).
    pub scheduler_witness_jobs: u64,
    /// Compression jobs (one).
    pub compression_jobs: u64,
}

impl JobCounts {
    /// Prover jobs of every round (what the reference counts as the batch's 17,639 jobs).
    pub fn prover_jobs(&self) -> u64 {
        self.basic_prover_jobs
            + self.leaf_prover_jobs
            + self.node_prover_jobs
            + self.recursion_tip_prover_jobs
            + self.scheduler_prover_jobs
    }

    /// Witness generation jobs of every round.
    pub fn witness_jobs(&self) -> u64 {
        self.basic_witness_jobs
            + self.leaf_witness_jobs
            + self.node_witness_jobs
            + self.recursion_tip_witness_jobs
            + self.scheduler_witness_jobs
    }

    /// Every job the fleet runs for the batch: prover, witness and compression jobs.
    pub fn all_jobs(&self) -> u64 {
        self.prover_jobs() + self.witness_jobs() + self.compression_jobs
    }
}

impl TreeShape {
    /// The shape of ZKsync mainnet batch 496134 (see the module documentation).
    pub fn mainnet() -> Self {
        Self {
            name: "mainnet batch 496134".to_owned(),
            arity: MAINNET_ARITY,
            types: MAINNET_TYPES
                .iter()
                .zip(1u8..)
                .map(|(&(name, instances), id)| BasicType {
                    circuit_id: CircuitId(id),
                    name: name.to_owned(),
                    instances,
                })
                .collect(),
        }
    }

    /// The mainnet shape with every type's instances divided by `divisor` (rounded up, so
    /// every type stays present) and the given arity.
    pub fn scaled(divisor: u32, arity: u32) -> Result<Self, BenchError> {
        if divisor == 0 {
            return Err(BenchError::InvalidOptions(
                "the scale divisor must be at least 1".to_owned(),
            ));
        }
        let mut shape = Self::mainnet();
        shape.name = format!("mainnet batch 496134 scaled 1/{divisor}, arity {arity}");
        shape.arity = arity;
        for t in &mut shape.types {
            t.instances = t.instances.div_ceil(divisor);
        }
        shape.validate()?;
        Ok(shape)
    }

    /// The `--quick` shape: 1/[`QUICK_DIVISOR`] of the instances, arity [`QUICK_ARITY`].
    pub fn quick() -> Self {
        let mut shape = Self::mainnet();
        shape.name = format!("quick: mainnet shape scaled 1/{QUICK_DIVISOR}, arity {QUICK_ARITY}");
        shape.arity = QUICK_ARITY;
        for t in &mut shape.types {
            t.instances = t.instances.div_ceil(QUICK_DIVISOR);
        }
        shape
    }

    /// Checks that the shape makes a tree the job database can hold.
    pub fn validate(&self) -> Result<(), BenchError> {
        let invalid = |reason: String| Err(BenchError::InvalidOptions(reason));
        if self.arity < 2 {
            return invalid(format!(
                "arity {} is below 2: the tree never narrows",
                self.arity
            ));
        }
        if self.types.is_empty() {
            return invalid("a tree needs at least one basic circuit type".to_owned());
        }
        let mut ids: Vec<CircuitId> = self.types.iter().map(|t| t.circuit_id).collect();
        ids.sort();
        ids.dedup();
        if ids.len() != self.types.len() {
            return invalid("two basic types share a circuit id".to_owned());
        }
        for t in &self.types {
            if t.instances == 0 {
                return invalid(format!("basic type {} has no instances", t.name));
            }
            if [
                CircuitId::RECURSION_TIP,
                CircuitId::SCHEDULER,
                CircuitId::COMPRESSION,
            ]
            .contains(&t.circuit_id)
            {
                return invalid(format!(
                    "basic type {} uses circuit id {}, reserved for the upper rounds",
                    t.name, t.circuit_id
                ));
            }
        }
        Ok(())
    }

    /// Leaf prover jobs of a type with `instances` basic circuits.
    pub fn leaves(&self, instances: u32) -> u32 {
        instances.div_ceil(self.arity)
    }

    /// Node prover jobs per depth for a type with `leaves` leaf proofs: depth d aggregates the
    /// proofs of depth d − 1 (the leaves at depth 0) until one proof remains.
    pub fn node_levels(&self, leaves: u32) -> Vec<u32> {
        let mut levels = Vec::new();
        let mut below = leaves;
        loop {
            let here = below.div_ceil(self.arity);
            levels.push(here);
            if here <= 1 {
                return levels;
            }
            below = here;
        }
    }

    /// The job count of every table for one batch of this shape.
    pub fn job_counts(&self) -> JobCounts {
        let mut counts = JobCounts {
            basic_witness_jobs: 1,
            recursion_tip_prover_jobs: 1,
            recursion_tip_witness_jobs: 1,
            scheduler_prover_jobs: 1,
            scheduler_witness_jobs: 1,
            compression_jobs: 1,
            ..JobCounts::default()
        };
        for t in &self.types {
            let leaves = self.leaves(t.instances);
            let levels = self.node_levels(leaves);
            counts.basic_prover_jobs += u64::from(t.instances);
            counts.leaf_witness_jobs += 1;
            counts.leaf_prover_jobs += u64::from(leaves);
            counts.node_witness_jobs += levels.len() as u64;
            counts.node_prover_jobs += levels.iter().map(|&n| u64::from(n)).sum::<u64>();
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainnet_shape_has_the_reference_job_counts() {
        let shape = TreeShape::mainnet();
        shape.validate().unwrap();
        assert_eq!(shape.types.len(), 20);
        let counts = shape.job_counts();
        assert_eq!(counts.basic_prover_jobs, 17_061);
        assert_eq!(counts.leaf_prover_jobs, 544);
        assert_eq!(counts.node_prover_jobs, 32);
        assert_eq!(counts.recursion_tip_prover_jobs, 1);
        assert_eq!(counts.scheduler_prover_jobs, 1);
        assert_eq!(counts.prover_jobs(), 17_639);
        // 20 leaf witness jobs; the VM's node job at depths 0 and 1, one node job per other type.
        assert_eq!(counts.leaf_witness_jobs, 20);
        assert_eq!(counts.node_witness_jobs, 21);
        assert_eq!(counts.all_jobs(), 17_639 + 1 + 20 + 21 + 1 + 1 + 1);
    }

    #[test]
    fn node_levels_narrow_to_one_proof() {
        let shape = TreeShape::mainnet();
        assert_eq!(shape.node_levels(1), vec![1]);
        assert_eq!(shape.node_levels(32), vec![1]);
        assert_eq!(shape.node_levels(33), vec![2, 1]);
        assert_eq!(shape.node_levels(384), vec![12, 1]);
        assert_eq!(shape.node_levels(32 * 32 + 1), vec![33, 2, 1]);
    }

    #[test]
    fn quick_shape_keeps_every_type_and_several_node_depths() {
        let quick = TreeShape::quick();
        quick.validate().unwrap();
        assert_eq!(quick.types.len(), 20);
        assert!(quick.types.iter().all(|t| t.instances >= 1));
        let vm_leaves = quick.leaves(quick.types[0].instances);
        assert!(
            quick.node_levels(vm_leaves).len() >= 3,
            "{vm_leaves} leaves"
        );
        let counts = quick.job_counts();
        assert!(counts.basic_prover_jobs * 15 < 17_061, "{counts:?}");
        assert_eq!(
            TreeShape::scaled(QUICK_DIVISOR, QUICK_ARITY).unwrap().types,
            quick.types
        );
    }

    #[test]
    fn invalid_shapes_are_refused_by_name() {
        let err = TreeShape::scaled(1, 1).unwrap_err().to_string();
        assert!(err.contains("arity 1"), "{err}");
        assert!(TreeShape::scaled(0, 32).is_err());
        let mut shape = TreeShape::mainnet();
        shape.types[3].circuit_id = CircuitId::SCHEDULER;
        let err = shape.validate().unwrap_err().to_string();
        assert!(err.contains("reserved"), "{err}");
        let mut shape = TreeShape::mainnet();
        shape.types[1].circuit_id = CircuitId(1);
        assert!(shape.validate().is_err());
    }
}
