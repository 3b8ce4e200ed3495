//! Object keys: a deterministic path for every blob zkfleet writes.
//!
//! Every key is a pure function of the job's identity — (chain, batch, round, circuit, depth,
//! sequence) or the prover job id — so a re-executed job overwrites the same blob and never
//! leaves a duplicate behind, and any process can find a blob from a database row alone.
//! Every key of batch data carries the chain id; verifying keys are per protocol version and
//! shared by all chains.
//!
//! [`ObjectKey::parse`] is the exact inverse of [`ObjectKey::path`]: it accepts only the
//! canonical spelling (no leading zeros, no extra segments), so a path found in a listing names
//! exactly one key.

use std::fmt;

use zkfleet_types::{
    ids::ProverJobId, AggregationRound, BatchNumber, ChainId, CircuitId, L1BatchId,
    ProtocolSemanticVersion,
};

use crate::bucket::Bucket;
use crate::codec::BlobKind;

/// File extension of every blob (the envelope is binary).
const EXT: &str = ".bin";

/// The key of one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKey {
    /// `witness_inputs/{chain}/{batch}.bin`: the key of inputs stored before intake became
    /// content-addressed (rows inserted by older releases and by tests still name it).
    WitnessInput {
        /// The batch's chain.
        chain: ChainId,
        /// The batch.
        batch: BatchNumber,
    },
    /// `witness_inputs/{chain}/{batch}/{sha256 of the input, 64 hex digits}.bin`: where intake
    /// stores a submitted input. Two different submissions of one batch never share a key, so
    /// the loser of a race can never overwrite the winner's input (docs/gateway.md).
    WitnessInputContent {
        /// The batch's chain.
        chain: ChainId,
        /// The batch.
        batch: BatchNumber,
        /// SHA-256 of the stored input's bytes.
        digest: ContentDigest,
    },
    /// `prover_jobs/{chain}/{batch}/{round}/{circuit}/{depth}/{sequence}.bin`
    CircuitWitness {
        /// The batch's chain.
        chain: ChainId,
        /// The batch.
        batch: BatchNumber,
        /// The round the circuit is proven in.
        round: AggregationRound,
        /// The circuit id (for rounds 0–2, the basic type of the branch).
        circuit: CircuitId,
        /// The node depth (0 outside the node round).
        depth: u32,
        /// The instance's index among the circuits of its (round, circuit, depth).
        sequence: u32,
    },
    /// `leaf_aggregation/{chain}/{batch}/{circuit}.bin`
    ClosedFormInputs {
        /// The batch's chain.
        chain: ChainId,
        /// The batch.
        batch: BatchNumber,
        /// The basic circuit type whose instances' closed forms these are.
        circuit: CircuitId,
    },
    /// `node_aggregation/{chain}/{batch}/{circuit}/{depth}.bin`
    AggregationList {
        /// The batch's chain.
        chain: ChainId,
        /// The batch.
        batch: BatchNumber,
        /// The basic circuit type of the branch.
        circuit: CircuitId,
        /// The depth of the node jobs that read the list (the leaf round writes depth 0, node
        /// depth `d` writes `d + 1`).
        depth: u32,
    },
    /// `scheduler_witness/{chain}/{batch}/partial_input.bin`
    SchedulerInput {
        /// The batch's chain.
        chain: ChainId,
        /// The batch.
        batch: BatchNumber,
    },
    /// `scheduler_witness/{chain}/{batch}/aux_output.bin`
    AuxOutput {
        /// The batch's chain.
        chain: ChainId,
        /// The batch.
        batch: BatchNumber,
    },
    /// `proofs/{chain}/{prover_job_id}.bin`
    Proof {
        /// The chain of the job's batch.
        chain: ChainId,
        /// The prover job whose proof this is.
        job: ProverJobId,
    },
    /// `final_proofs/{chain}/{batch}_{protocol_version}.bin`, e.g. `final_proofs/270/42_0.1.0.bin`
    FinalProof {
        /// The batch's chain.
        chain: ChainId,
        /// The batch.
        batch: BatchNumber,
        /// The protocol version the batch was proven under.
        protocol_version: ProtocolSemanticVersion,
    },
    /// `keys/{protocol_version}/{round}/{circuit}.bin`
    VerifyingKey {
        /// The protocol version whose circuits the key is for.
        protocol_version: ProtocolSemanticVersion,
        /// The circuit's round.
        round: AggregationRound,
        /// The circuit id within the round.
        circuit: CircuitId,
    },
}

const PARTIAL_INPUT: &str = "partial_input";
const AUX_OUTPUT: &str = "aux_output";

impl ObjectKey {
    /// Where basic witness generation stores instance `sequence` of `circuit` in `batch`. The
    /// key is deterministic, so a re-executed job overwrites the same blob.
    pub fn basic_circuit_witness(batch: L1BatchId, circuit: CircuitId, sequence: u32) -> Self {
        Self::CircuitWitness {
            chain: batch.chain_id,
            batch: batch.batch_number,
            round: AggregationRound::Basic,
            circuit,
            depth: 0,
            sequence,
        }
    }

    /// The bucket (first path segment) the key lives in.
    pub fn bucket(&self) -> Bucket {
        match self {
            Self::WitnessInput { .. } | Self::WitnessInputContent { .. } => Bucket::WitnessInputs,
            Self::CircuitWitness { .. } => Bucket::ProverJobs,
            Self::ClosedFormInputs { .. } => Bucket::LeafAggregation,
            Self::AggregationList { .. } => Bucket::NodeAggregation,
            Self::SchedulerInput { .. } | Self::AuxOutput { .. } => Bucket::SchedulerWitness,
            Self::Proof { .. } => Bucket::Proofs,
            Self::FinalProof { .. } => Bucket::FinalProofs,
            Self::VerifyingKey { .. } => Bucket::Keys,
        }
    }

    /// The only kind of blob that may be stored under this key.
    pub fn kind(&self) -> BlobKind {
        match self {
            Self::WitnessInput { .. } | Self::WitnessInputContent { .. } => BlobKind::WitnessInput,
            Self::CircuitWitness { .. } => BlobKind::CircuitWitness,
            Self::ClosedFormInputs { .. } => BlobKind::ClosedFormInputs,
            Self::AggregationList { .. } => BlobKind::AggregationList,
            Self::SchedulerInput { .. } => BlobKind::SchedulerInput,
            Self::AuxOutput { .. } => BlobKind::AuxOutput,
            Self::Proof { .. } => BlobKind::Proof,
            Self::FinalProof { .. } => BlobKind::FinalProof,
            Self::VerifyingKey { .. } => BlobKind::VerifyingKey,
        }
    }

    /// The chain the blob belongs to (`None` for verifying keys, which all chains share).
    pub fn chain(&self) -> Option<ChainId> {
        match *self {
            Self::WitnessInput { chain, .. }
            | Self::WitnessInputContent { chain, .. }
            | Self::CircuitWitness { chain, .. }
            | Self::ClosedFormInputs { chain, .. }
            | Self::AggregationList { chain, .. }
            | Self::SchedulerInput { chain, .. }
            | Self::AuxOutput { chain, .. }
            | Self::Proof { chain, .. }
            | Self::FinalProof { chain, .. } => Some(chain),
            Self::VerifyingKey { .. } => None,
        }
    }

    /// The path of the blob inside the configured bucket or directory.
    pub fn path(&self) -> String {
        let b = self.bucket();
        match *self {
            Self::WitnessInput { chain, batch } => format!("{b}/{chain}/{batch}{EXT}"),
            Self::WitnessInputContent {
                chain,
                batch,
                digest,
            } => format!("{b}/{chain}/{batch}/{}{EXT}", digest.to_hex()),
            Self::CircuitWitness {
                chain,
                batch,
                round,
                circuit,
                depth,
                sequence,
            } => format!("{b}/{chain}/{batch}/{round}/{circuit}/{depth}/{sequence}{EXT}"),
            Self::ClosedFormInputs {
                chain,
                batch,
                circuit,
            } => format!("{b}/{chain}/{batch}/{circuit}{EXT}"),
            Self::AggregationList {
                chain,
                batch,
                circuit,
                depth,
            } => format!("{b}/{chain}/{batch}/{circuit}/{depth}{EXT}"),
            Self::SchedulerInput { chain, batch } => {
                format!("{b}/{chain}/{batch}/{PARTIAL_INPUT}{EXT}")
            }
            Self::AuxOutput { chain, batch } => format!("{b}/{chain}/{batch}/{AUX_OUTPUT}{EXT}"),
            Self::Proof { chain, job } => format!("{b}/{chain}/{job}{EXT}"),
            Self::FinalProof {
                chain,
                batch,
                protocol_version,
            } => format!("{b}/{chain}/{batch}_{protocol_version}{EXT}"),
            Self::VerifyingKey {
                protocol_version,
                round,
                circuit,
            } => format!("{b}/{protocol_version}/{round}/{circuit}{EXT}"),
        }
    }

    /// The key a path names; the inverse of [`ObjectKey::path`].
    pub fn parse(path: &str) -> Result<Self, KeyParseError> {
        let err = |reason: &str| KeyParseError {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let stem = path
            .strip_suffix(EXT)
            .ok_or_else(|| err("does not end in .bin"))?;
        let segments: Vec<&str> = stem.split('/').collect();
        let (bucket, rest) = segments.split_first().ok_or_else(|| err("empty path"))?;
        let bucket: Bucket = bucket
            .parse()
            .map_err(|e: crate::bucket::UnknownBucket| err(&e.to_string()))?;
        let key = match (bucket, rest) {
            (Bucket::WitnessInputs, [chain, batch]) => Self::WitnessInput {
                chain: chain_id(chain).map_err(|r| err(&r))?,
                batch: batch_number(batch).map_err(|r| err(&r))?,
            },
            (Bucket::WitnessInputs, [chain, batch, digest]) => Self::WitnessInputContent {
                chain: chain_id(chain).map_err(|r| err(&r))?,
                batch: batch_number(batch).map_err(|r| err(&r))?,
                digest: ContentDigest::from_hex(digest).map_err(|e| err(&e.to_string()))?,
            },
            (Bucket::ProverJobs, [chain, batch, round, circuit, depth, sequence]) => {
                Self::CircuitWitness {
                    chain: chain_id(chain).map_err(|r| err(&r))?,
                    batch: batch_number(batch).map_err(|r| err(&r))?,
                    round: aggregation_round(round).map_err(|r| err(&r))?,
                    circuit: circuit_id(circuit).map_err(|r| err(&r))?,
                    depth: number("depth", depth).map_err(|r| err(&r))?,
                    sequence: number("sequence number", sequence).map_err(|r| err(&r))?,
                }
            }
            (Bucket::LeafAggregation, [chain, batch, circuit]) => Self::ClosedFormInputs {
                chain: chain_id(chain).map_err(|r| err(&r))?,
                batch: batch_number(batch).map_err(|r| err(&r))?,
                circuit: circuit_id(circuit).map_err(|r| err(&r))?,
            },
            (Bucket::NodeAggregation, [chain, batch, circuit, depth]) => Self::AggregationList {
                chain: chain_id(chain).map_err(|r| err(&r))?,
                batch: batch_number(batch).map_err(|r| err(&r))?,
                circuit: circuit_id(circuit).map_err(|r| err(&r))?,
                depth: number("depth", depth).map_err(|r| err(&r))?,
            },
            (Bucket::SchedulerWitness, [chain, batch, what]) => {
                let chain = chain_id(chain).map_err(|r| err(&r))?;
                let batch = batch_number(batch).map_err(|r| err(&r))?;
                match *what {
                    PARTIAL_INPUT => Self::SchedulerInput { chain, batch },
                    AUX_OUTPUT => Self::AuxOutput { chain, batch },
                    _ => return Err(err("expected partial_input or aux_output")),
                }
            }
            (Bucket::Proofs, [chain, job]) => Self::Proof {
                chain: chain_id(chain).map_err(|r| err(&r))?,
                job: ProverJobId(number("prover job id", job).map_err(|r| err(&r))?),
            },
            (Bucket::FinalProofs, [chain, name]) => {
                let (batch, version) = name
                    .split_once('_')
                    .ok_or_else(|| err("expected {batch}_{protocol_version}"))?;
                Self::FinalProof {
                    chain: chain_id(chain).map_err(|r| err(&r))?,
                    batch: batch_number(batch).map_err(|r| err(&r))?,
                    protocol_version: protocol_version(version).map_err(|r| err(&r))?,
                }
            }
            (Bucket::Keys, [version, round, circuit]) => Self::VerifyingKey {
                protocol_version: protocol_version(version).map_err(|r| err(&r))?,
                round: aggregation_round(round).map_err(|r| err(&r))?,
                circuit: circuit_id(circuit).map_err(|r| err(&r))?,
            },
            (bucket, _) => {
                return Err(err(&format!(
                    "wrong number of path segments for bucket {bucket}"
                )))
            }
        };
        // Numbers parse leniently ("007", "+7"); insisting on the canonical spelling keeps
        // path ↔ key one-to-one.
        if key.path() != path {
            return Err(err(&format!("not canonical (expected {})", key.path())));
        }
        Ok(key)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// Prefix of every key of one batch in `bucket`, for listing (e.g. all circuit witnesses of
/// a batch). Buckets keyed by prover job id or protocol version have no batch prefix.
pub fn batch_prefix(bucket: Bucket, chain: ChainId, batch: BatchNumber) -> Option<String> {
    match bucket {
        // Content-addressed witness inputs (`WitnessInputContent`); the legacy
        // `witness_inputs/{chain}/{batch}.bin` is not under it.
        Bucket::WitnessInputs
        | Bucket::ProverJobs
        | Bucket::LeafAggregation
        | Bucket::NodeAggregation
        | Bucket::SchedulerWitness => Some(format!("{bucket}/{chain}/{batch}/")),
        Bucket::Proofs | Bucket::FinalProofs | Bucket::Keys => None,
    }
}

/// Prefix of every key of one chain in `bucket` (`None` for the chain-independent `keys`).
pub fn chain_prefix(bucket: Bucket, chain: ChainId) -> Option<String> {
    (bucket != Bucket::Keys).then(|| format!("{bucket}/{chain}/"))
}

/// The SHA-256 digest of a blob's payload (for a witness input: the input's bytes, before the
/// envelope). Names content-addressed keys and is what the job database compares to tell an
/// identical resubmission from a conflicting one. Written as 64 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentDigest(pub [u8; 32]);

impl ContentDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(sha2::Sha256::digest(bytes).into())
    }

    /// 64 lower-case hex digits (the spelling of keys and of the database column).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 lower-case hex digits (the canonical spelling only, so a digest has
    /// one key).
    pub fn from_hex(s: &str) -> Result<Self, DigestParseError> {
        let bad = || DigestParseError(s.to_owned());
        if s.len() != 64 || s.bytes().any(|b| !matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| bad())?;
        Ok(Self(out))
    }
}

impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContentDigest({})", self.to_hex())
    }
}

/// A string that is not a [`ContentDigest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a SHA-256 digest (64 lower-case hex digits)")]
pub struct DigestParseError(pub String);

/// Error for a path that is not the path of any [`ObjectKey`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path:?} is not a zkfleet object key: {reason}")]
pub struct KeyParseError {
    /// The path that was rejected.
    pub path: String,
    /// Which segment is wrong, and how.
    pub reason: String,
}

fn number<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{what} {s:?} is not a number"))
}

fn chain_id(s: &str) -> Result<ChainId, String> {
    number("chain id", s).map(ChainId)
}

fn batch_number(s: &str) -> Result<BatchNumber, String> {
    number("batch number", s).map(BatchNumber)
}

fn circuit_id(s: &str) -> Result<CircuitId, String> {
    number("circuit id", s).map(CircuitId)
}

fn aggregation_round(s: &str) -> Result<AggregationRound, String> {
    s.parse::<AggregationRound>().map_err(|e| e.to_string())
}

fn protocol_version(s: &str) -> Result<ProtocolSemanticVersion, String> {
    s.parse::<ProtocolSemanticVersion>()
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAIN: ChainId = ChainId(270);
    const BATCH: BatchNumber = BatchNumber(42);

    /// One key of every variant, with the path the documentation promises.
    pub(crate) fn every_key() -> Vec<(ObjectKey, &'static str)> {
        vec![
            (
                ObjectKey::WitnessInput {
                    chain: CHAIN,
                    batch: BATCH,
                },
                "witness_inputs/270/42.bin",
            ),
            (
                ObjectKey::WitnessInputContent {
                    chain: CHAIN,
                    batch: BATCH,
                    digest: ContentDigest([0xab; 32]),
                },
                "witness_inputs/270/42/abababababababababababababababababababababababababababababababab.bin",
            ),
            (
                ObjectKey::CircuitWitness {
                    chain: CHAIN,
                    batch: BATCH,
                    round: AggregationRound::Node,
                    circuit: CircuitId::STATE_TRANSITION,
                    depth: 1,
                    sequence: 17,
                },
                "prover_jobs/270/42/node/2/1/17.bin",
            ),
            (
                ObjectKey::ClosedFormInputs {
                    chain: CHAIN,
                    batch: BATCH,
                    circuit: CircuitId::SIGNATURE_VERIFICATION,
                },
                "leaf_aggregation/270/42/1.bin",
            ),
            (
                ObjectKey::AggregationList {
                    chain: CHAIN,
                    batch: BATCH,
                    circuit: CircuitId::PRIORITY_OPERATIONS,
                    depth: 0,
                },
                "node_aggregation/270/42/3/0.bin",
            ),
            (
                ObjectKey::SchedulerInput {
                    chain: CHAIN,
                    batch: BATCH,
                },
                "scheduler_witness/270/42/partial_input.bin",
            ),
            (
                ObjectKey::AuxOutput {
                    chain: CHAIN,
                    batch: BATCH,
                },
                "scheduler_witness/270/42/aux_output.bin",
            ),
            (
                ObjectKey::Proof {
                    chain: CHAIN,
                    job: ProverJobId(123456),
                },
                "proofs/270/123456.bin",
            ),
            (
                ObjectKey::FinalProof {
                    chain: CHAIN,
                    batch: BATCH,
                    protocol_version: ProtocolSemanticVersion::new(31, 2),
                },
                "final_proofs/270/42_0.31.2.bin",
            ),
            (
                ObjectKey::VerifyingKey {
                    protocol_version: ProtocolSemanticVersion::new(1, 0),
                    round: AggregationRound::RecursionTip,
                    circuit: CircuitId::RECURSION_TIP,
                },
                "keys/0.1.0/recursion_tip/255.bin",
            ),
        ]
    }

    #[test]
    fn paths_are_as_documented_and_parse_back() {
        for (key, path) in every_key() {
            assert_eq!(key.path(), path);
            assert_eq!(ObjectKey::parse(path), Ok(key), "{path}");
            assert!(path.starts_with(key.bucket().as_str()));
        }
    }

    #[test]
    fn kinds_match_buckets_one_to_one_except_scheduler_witness() {
        let keys = every_key();
        let mut kinds: Vec<BlobKind> = keys.iter().map(|(k, _)| k.kind()).collect();
        kinds.dedup();
        assert_eq!(kinds.len(), BlobKind::ALL.len());
    }

    #[test]
    fn keys_are_deterministic_and_distinct() {
        let a = ObjectKey::CircuitWitness {
            chain: CHAIN,
            batch: BATCH,
            round: AggregationRound::Basic,
            circuit: CircuitId(1),
            depth: 0,
            sequence: 1,
        };
        let b = ObjectKey::CircuitWitness {
            chain: CHAIN,
            batch: BATCH,
            round: AggregationRound::Basic,
            circuit: CircuitId(1),
            depth: 0,
            sequence: 2,
        };
        assert_eq!(a.path(), a.path());
        assert_ne!(a.path(), b.path());
        let other_chain = ObjectKey::WitnessInput {
            chain: ChainId(271),
            batch: BATCH,
        };
        assert_ne!(
            other_chain.path(),
            ObjectKey::WitnessInput {
                chain: CHAIN,
                batch: BATCH
            }
            .path()
        );
    }

    #[test]
    fn rejects_what_is_not_a_key() {
        for bad in [
            "",
            "witness_inputs/270/42",
            "witness_inputs/270/42.cbor",
            "witness_inputs/270/042.bin",
            "witness_inputs/270/+42.bin",
            "witness_inputs/270/x.bin",
            "witness_inputs/270/42/1.bin",
            "proofs_fri/270/1.bin",
            "prover_jobs/270/42/tip/1/0/1.bin",
            "scheduler_witness/270/42/other.bin",
            "final_proofs/270/42.bin",
            "final_proofs/270/42_1.2.3.bin",
            "keys/0.1.0/basic.bin",
            "/witness_inputs/270/42.bin",
        ] {
            let err = ObjectKey::parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("is not a zkfleet object key"),
                "{bad}: {err}"
            );
        }
        assert!(ObjectKey::parse("witness_inputs/270/042.bin")
            .unwrap_err()
            .reason
            .contains("not canonical"));
        // Negative job ids are legal values of the type and round-trip.
        let key = ObjectKey::Proof {
            chain: CHAIN,
            job: ProverJobId(-1),
        };
        assert_eq!(ObjectKey::parse(&key.path()), Ok(key));
    }

    #[test]
    fn prefixes_cover_their_keys() {
        for (key, path) in every_key() {
            if let Some(chain) = key.chain() {
                assert!(path.starts_with(&chain_prefix(key.bucket(), chain).unwrap()));
            }
        }
        let witness = ObjectKey::CircuitWitness {
            chain: CHAIN,
            batch: BATCH,
            round: AggregationRound::Basic,
            circuit: CircuitId(1),
            depth: 0,
            sequence: 1,
        };
        let prefix = batch_prefix(Bucket::ProverJobs, CHAIN, BATCH).unwrap();
        assert!(witness.path().starts_with(&prefix));
        // Batch 4 must not list batch 42's blobs.
        let prefix4 = batch_prefix(Bucket::ProverJobs, CHAIN, BatchNumber(4)).unwrap();
        assert!(!witness.path().starts_with(&prefix4));
        assert_eq!(chain_prefix(Bucket::Keys, CHAIN), None);
    }
}
