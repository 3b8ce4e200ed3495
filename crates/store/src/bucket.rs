//! Buckets: the top-level key prefixes of the object store.
//!
//! One physical bucket (or directory) holds everything; a `Bucket` is the first path segment of
//! every key, as ZKsync's object store nests `{bucket}/{key}` inside the configured bucket.

use std::fmt;
use std::str::FromStr;

/// A top-level key prefix, named after what the blobs under it are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    /// Batch witness inputs (gateway → basic witness generator).
    WitnessInputs,
    /// Circuit witnesses to prove, one per prover job (witness generators → circuit prover).
    ProverJobs,
    /// Closed-form inputs of leaf aggregation (basic witness generator → leaf witness generator).
    LeafAggregation,
    /// Aggregation lists of node aggregation (leaf/node witness generators → node witness generator).
    NodeAggregation,
    /// Scheduler partial input and auxiliary output (basic witness generator → scheduler, compressor).
    SchedulerWitness,
    /// Proofs, one per prover job (circuit prover → witness generators, compressor).
    Proofs,
    /// Final compressed proofs with the batch public output (compressor → gateway).
    FinalProofs,
    /// Verifying keys per protocol version (key generation → verification, operators).
    Keys,
}

impl Bucket {
    /// Every bucket, e.g. to register the per-bucket metrics at zero.
    pub const ALL: [Bucket; 8] = [
        Self::WitnessInputs,
        Self::ProverJobs,
        Self::LeafAggregation,
        Self::NodeAggregation,
        Self::SchedulerWitness,
        Self::Proofs,
        Self::FinalProofs,
        Self::Keys,
    ];

    /// The path segment, also used as the `bucket` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WitnessInputs => "witness_inputs",
            Self::ProverJobs => "prover_jobs",
            Self::LeafAggregation => "leaf_aggregation",
            Self::NodeAggregation => "node_aggregation",
            Self::SchedulerWitness => "scheduler_witness",
            Self::Proofs => "proofs",
            Self::FinalProofs => "final_proofs",
            Self::Keys => "keys",
        }
    }
}

impl fmt::Display for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a path segment that is not a bucket name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown bucket {0:?}")]
pub struct UnknownBucket(pub String);

impl FromStr for Bucket {
    type Err = UnknownBucket;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| UnknownBucket(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        let mut names: Vec<&str> = Bucket::ALL.iter().map(|b| b.as_str()).collect();
        for b in Bucket::ALL {
            assert_eq!(b.as_str().parse::<Bucket>(), Ok(b));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Bucket::ALL.len());
        assert!("proofs_fri".parse::<Bucket>().is_err());
    }
}
