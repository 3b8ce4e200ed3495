//! The circuits this process proves: loaded once at start, looked up per job.
//!
//! Circuit data (the prover-only data, the common data, the verifier data) takes seconds to
//! deserialize and hundreds of MB of memory; ZKsync loads all of its setup data at start, and so
//! do we: a job never waits for circuit data and two jobs of one circuit share one copy. One
//! [`BatchCircuits`] — every circuit of one proving configuration (geometry, arity, compression
//! profile), from the keystore — is loaded per process and shared behind an [`Arc`]; the
//! registry maps each (round, circuit) of it to an object-safe [`CircuitProver`]:
//!
//! | round | circuit ids registered |
//! |---|---|
//! | 0 basic | every basic type |
//! | 1 leaf | every basic type (one leaf circuit per type) |
//! | 2 node | every basic type (one node circuit, the job's circuit id is the type it aggregates) |
//! | 3 recursion tip | [`CircuitId::RECURSION_TIP`] |
//! | 4 scheduler | [`CircuitId::SCHEDULER`] |
//!
//! Every circuit proves with the batched CPU prover unless `backend` says otherwise
//! (`crate::backend`). Another backend (a GPU prover) plugs in by registering its own [`CircuitProver`] for the
//! (round, circuit) it serves; the runners do not change.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use zkfleet_circuits::keystore::KeySource;
use zkfleet_circuits::pipeline::{CpuProver, FinalVerifyingKey};
use zkfleet_circuits::proving::WitnessVector;
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_circuits::{Keystore, ProvingConfiguration};
use zkfleet_types::{AggregationRound, CircuitId, VkDigest};

use crate::config::ProverConfig;
use crate::error::ProverError;

/// One circuit's witness-vector generation and proving.
///
/// `witness_vector` is the CPU half run by witness-vector generators (many in parallel);
/// `prove` is run by the single prover and must **verify** the proof before returning it, so a
/// proof that does not verify is never stored (ZKsync's GPU prover does the same).
pub trait CircuitProver: Send + Sync {
    /// Decodes a stored circuit witness, checks it and runs witness generation.
    fn witness_vector(&self, witness: &[u8]) -> Result<WitnessVector, ProverError>;

    /// Proves a witness vector of this circuit, verifies the proof and returns its bytes.
    fn prove(&self, witness_vector: WitnessVector) -> Result<Vec<u8>, ProverError>;
}

/// One (round, circuit) of a loaded [`BatchCircuits`].
///
/// Witness-vector generation decodes the stored job witness (a basic circuit witness in round
/// 0, an `AggregationWitness` above) and checks it natively — every child proof verified under
/// its key, continuity of the running commitments — before generating, so a bad witness is
/// refused with the child at fault named instead of failing deep inside the prover.
pub struct BatchCircuitProver {
    circuits: Arc<BatchCircuits>,
    round: AggregationRound,
    circuit: CircuitId,
    cpu: CpuProver,
}

impl BatchCircuitProver {
    /// The prover of `circuit` in `round` out of the loaded `circuits` (shared by every
    /// prover of the registry: circuit data is loaded once per process), proving with the
    /// default [`CpuProver`] (the batched Merkle hasher).
    pub fn new(circuits: Arc<BatchCircuits>, round: AggregationRound, circuit: CircuitId) -> Self {
        Self {
            circuits,
            round,
            circuit,
            cpu: CpuProver::default(),
        }
    }

    /// The same prover proving with `cpu` (plonky2's `prove` for `backend = "plonky2"`).
    pub fn with_cpu(self, cpu: CpuProver) -> Self {
        Self { cpu, ..self }
    }

    /// Which CPU prover proves this circuit's jobs.
    pub fn cpu(&self) -> CpuProver {
        self.cpu
    }

    /// The round whose jobs this prover takes.
    pub fn round(&self) -> AggregationRound {
        self.round
    }

    /// The circuit whose jobs this prover takes.
    pub fn circuit(&self) -> CircuitId {
        self.circuit
    }
}

impl CircuitProver for BatchCircuitProver {
    fn witness_vector(&self, witness: &[u8]) -> Result<WitnessVector, ProverError> {
        self.circuits
            .witness_vector(self.round, self.circuit, witness)
            .map_err(|source| ProverError::Pipeline {
                stage: "checking the witness and generating the witness vector",
                source,
            })
    }

    fn prove(&self, witness_vector: WitnessVector) -> Result<Vec<u8>, ProverError> {
        self.circuits
            .prove_job_with(self.round, self.circuit, witness_vector, self.cpu)
            .map_err(|source| ProverError::Pipeline {
                stage: "proving and verifying",
                source,
            })
    }
}

/// How one keystore entry of the configuration was obtained at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedEntry {
    /// The keystore entry: `basic_<type>` or the aggregation entry's name.
    pub entry: String,
    /// `cached` (deserialized from the keystore) or `built` (a keystore miss, now cached).
    pub source: &'static str,
}

/// Every (round, circuit) of a proving configuration, in round order.
pub fn configuration_circuits() -> Vec<(AggregationRound, CircuitId)> {
    let mut out = Vec::with_capacity(3 * CircuitId::BASIC_TYPES.len() + 2);
    for round in [
        AggregationRound::Basic,
        AggregationRound::Leaf,
        AggregationRound::Node,
    ] {
        out.extend(
            CircuitId::BASIC_TYPES
                .iter()
                .map(|&circuit| (round, circuit)),
        );
    }
    out.push((AggregationRound::RecursionTip, CircuitId::RECURSION_TIP));
    out.push((AggregationRound::Scheduler, CircuitId::SCHEDULER));
    out
}

/// The provers of every (round, circuit) this process serves, over one [`BatchCircuits`].
#[derive(Clone)]
pub struct CircuitRegistry {
    circuits: Arc<BatchCircuits>,
    final_vk_digest: VkDigest,
    provers: BTreeMap<(AggregationRound, CircuitId), Arc<dyn CircuitProver>>,
    loaded: Vec<LoadedEntry>,
    load_time: Duration,
}

impl fmt::Debug for CircuitRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitRegistry")
            .field("final_vk_digest", &self.final_vk_digest)
            .field("circuits", &self.provers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CircuitRegistry {
    /// Everything a process configured by `config` proves, from its keystore directory (what
    /// `zkfleet circuit-prover` loads once at start, on a blocking thread: a keystore miss
    /// builds the circuits, which takes minutes at the production geometry).
    pub fn for_config(config: &ProverConfig) -> Result<Self, ProverError> {
        let keystore = Keystore::open(&config.keys_dir).map_err(ProverError::Keystore)?;
        let proving = config.proving_configuration();
        let loaded =
            keystore
                .batch_circuits(&proving)
                .map_err(|source| ProverError::LoadCircuits {
                    configuration: describe(&proving),
                    source,
                })?;
        let entries = loaded
            .sources
            .iter()
            .map(|(entry, source)| LoadedEntry {
                entry: entry.clone(),
                source: match source {
                    KeySource::Cached => "cached",
                    KeySource::Built => "built",
                },
            })
            .collect::<Vec<_>>();
        for entry in &entries {
            tracing::info!(entry = %entry.entry, source = entry.source, "circuit data loaded");
        }
        let mut registry = Self::from_circuits(Arc::new(loaded.circuits))?;
        registry.loaded = entries;
        registry.load_time = loaded.elapsed;
        // `backend`: the batched CPU prover (the default), plonky2's, or the GPU prover on card
        // `gpu_device` (the batched CPU prover, saying so, where no GPU is usable).
        crate::backend::select_backend(&mut registry, config.backend, config.gpu_device)?;
        tracing::info!(
            configuration = %describe(&proving),
            seconds = loaded.elapsed.as_secs_f64(),
            final_vk_digest = %registry.final_vk_digest,
            "every circuit of the configuration is loaded"
        );
        Ok(registry)
    }

    /// Registers a [`BatchCircuitProver`] for every (round, circuit) of `circuits`.
    pub fn from_circuits(circuits: Arc<BatchCircuits>) -> Result<Self, ProverError> {
        let final_vk_digest = FinalVerifyingKey::of(&circuits)
            .map_err(|e| ProverError::Pipeline {
                stage: "encoding the final verifying key",
                source: e.into(),
            })?
            .digest();
        let provers = configuration_circuits()
            .into_iter()
            .map(|(round, circuit)| {
                let prover: Arc<dyn CircuitProver> = Arc::new(BatchCircuitProver::new(
                    Arc::clone(&circuits),
                    round,
                    circuit,
                ));
                ((round, circuit), prover)
            })
            .collect();
        Ok(Self {
            circuits,
            final_vk_digest,
            provers,
            loaded: Vec::new(),
            load_time: Duration::ZERO,
        })
    }

    /// Registers (or replaces) the prover of one (round, circuit), e.g. another backend's.
    pub fn register(
        &mut self,
        round: AggregationRound,
        circuit: CircuitId,
        prover: Arc<dyn CircuitProver>,
    ) {
        self.provers.insert((round, circuit), prover);
    }

    /// The prover of a job's (round, circuit).
    pub fn get(
        &self,
        round: AggregationRound,
        circuit: CircuitId,
    ) -> Result<&Arc<dyn CircuitProver>, ProverError> {
        self.provers
            .get(&(round, circuit))
            .ok_or(ProverError::NotRegistered { round, circuit })
    }

    /// Every registered (round, circuit), in order.
    pub fn circuits(&self) -> impl Iterator<Item = (AggregationRound, CircuitId)> + '_ {
        self.provers.keys().copied()
    }

    /// The loaded circuits (shared with every registered prover).
    pub fn batch_circuits(&self) -> &Arc<BatchCircuits> {
        &self.circuits
    }

    /// Digest of the final verifying key of the loaded circuits: what the protocol version row
    /// must record for this process to prove its jobs.
    pub fn final_vk_digest(&self) -> VkDigest {
        self.final_vk_digest
    }

    /// How each keystore entry was obtained, in load order (empty for [`Self::from_circuits`]).
    pub fn loaded(&self) -> &[LoadedEntry] {
        &self.loaded
    }

    /// How long loading (or building) the circuits took.
    pub fn load_time(&self) -> Duration {
        self.load_time
    }

    /// Whether no (round, circuit) is registered: such a process could prove nothing, and
    /// `run` refuses to start it.
    pub fn is_empty(&self) -> bool {
        self.provers.is_empty()
    }
}

/// `geometry …, arity 2, compression standard`, for logs and errors.
pub(crate) fn describe(config: &ProvingConfiguration) -> String {
    format!(
        "geometry {:?}, arity {}, compression {:?}",
        config.geometry, config.arity, config.compression
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_has_every_round_of_every_type() {
        let circuits = configuration_circuits();
        assert_eq!(circuits.len(), 3 * CircuitId::BASIC_TYPES.len() + 2);
        for round in [
            AggregationRound::Basic,
            AggregationRound::Leaf,
            AggregationRound::Node,
        ] {
            for &circuit in &CircuitId::BASIC_TYPES {
                assert!(circuits.contains(&(round, circuit)), "{round} {circuit}");
            }
        }
        assert!(circuits.contains(&(AggregationRound::RecursionTip, CircuitId::RECURSION_TIP)));
        assert!(circuits.contains(&(AggregationRound::Scheduler, CircuitId::SCHEDULER)));
        assert!(!circuits.contains(&(AggregationRound::Leaf, CircuitId::SCHEDULER)));
    }
}
