//! The circuits this process proves: loaded once at start, looked up per job.
//!
//! Circuit data (the prover-only data, the common data, the verifier data) takes seconds to
//! deserialize and tens of MB of memory; ZKsync loads all of its setup data at start, and so do
//! we: a job never waits for circuit data and two jobs of one circuit share one copy. The
//! registry maps (round, circuit id) to an object-safe [`CircuitProver`], so the aggregation
//! rounds plug in by registering their circuits; the runners do not change.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use zkfleet_circuits::keystore::KeySource;
use zkfleet_circuits::proving::{proof_to_bytes, WitnessVector};
use zkfleet_circuits::{BasicCircuit, BasicCircuitKind, BasicGeometry, Keystore};
use zkfleet_types::{AggregationRound, CircuitId};

use crate::config::ProverConfig;
use crate::error::ProverError;

/// One circuit's witness-vector generation and proving.
///
/// `witness_vector` is the CPU half run by witness-vector generators (many in parallel);
/// `prove` is run by the single prover and must **verify** the proof before returning it, so a
/// proof that does not verify is never stored (ZKsync's GPU prover does the same).
pub trait CircuitProver: Send + Sync {
    /// Decodes a stored circuit witness and runs witness generation.
    fn witness_vector(&self, witness: &[u8]) -> Result<WitnessVector, ProverError>;

    /// Proves a witness vector of this circuit, verifies the proof and returns its bytes.
    fn prove(&self, witness_vector: WitnessVector) -> Result<Vec<u8>, ProverError>;
}

/// A round-0 circuit: one basic type at one geometry.
pub struct BasicCircuitProver {
    circuit: BasicCircuit,
}

impl BasicCircuitProver {
    pub fn new(circuit: BasicCircuit) -> Self {
        Self { circuit }
    }

    pub fn circuit(&self) -> &BasicCircuit {
        &self.circuit
    }
}

impl CircuitProver for BasicCircuitProver {
    fn witness_vector(&self, witness: &[u8]) -> Result<WitnessVector, ProverError> {
        let witness =
            self.circuit
                .decode_witness(witness)
                .map_err(|source| ProverError::Circuit {
                    stage: "decoding the circuit witness",
                    source,
                })?;
        self.circuit
            .generate_witness_vector(&witness)
            .map_err(|source| ProverError::Circuit {
                stage: "generating the witness vector",
                source,
            })
    }

    fn prove(&self, witness_vector: WitnessVector) -> Result<Vec<u8>, ProverError> {
        let proof = self
            .circuit
            .prove_witness_vector(witness_vector)
            .map_err(|source| ProverError::Circuit {
                stage: "proving",
                source,
            })?;
        let bytes = proof_to_bytes(&proof);
        self.circuit
            .verify(proof)
            .map_err(|source| ProverError::Circuit {
                stage: "verifying the proof",
                source,
            })?;
        Ok(bytes)
    }
}

/// How one registered circuit was obtained at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedEntry {
    pub round: AggregationRound,
    pub circuit: CircuitId,
    /// `cached` (deserialized from the keystore) or `built` (a keystore miss, now cached).
    pub source: &'static str,
    pub elapsed: std::time::Duration,
}

/// The provers of every (round, circuit) this process serves.
#[derive(Default, Clone)]
pub struct CircuitRegistry {
    provers: BTreeMap<(AggregationRound, CircuitId), Arc<dyn CircuitProver>>,
    loaded: Vec<LoadedEntry>,
}

impl fmt::Debug for CircuitRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitRegistry")
            .field("circuits", &self.provers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl CircuitRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything a process configured by `config` proves, from its keystore directory (what
    /// `zkfleet circuit-prover` loads once at start): round 0 for now.
    pub fn for_config(config: &ProverConfig) -> Result<Self, ProverError> {
        let keystore = Keystore::open(&config.keys_dir).map_err(ProverError::Keystore)?;
        Self::basic(&keystore, &config.geometry)
    }

    /// Round 0: the three basic circuit types at `geometry`, from the keystore (built and cached
    /// on a miss; a cached entry failing its checks is an error, see the keystore docs).
    pub fn basic(keystore: &Keystore, geometry: &BasicGeometry) -> Result<Self, ProverError> {
        let mut registry = Self::new();
        registry.register_basic(keystore, geometry)?;
        Ok(registry)
    }

    /// Adds the three basic circuit types at `geometry` to the registry.
    pub fn register_basic(
        &mut self,
        keystore: &Keystore,
        geometry: &BasicGeometry,
    ) -> Result<(), ProverError> {
        for kind in BasicCircuitKind::ALL {
            let round = AggregationRound::Basic;
            let loaded = keystore.basic_circuit(kind, geometry).map_err(|source| {
                ProverError::LoadCircuitData {
                    round,
                    circuit: kind.circuit_id(),
                    source,
                }
            })?;
            let entry = LoadedEntry {
                round,
                circuit: kind.circuit_id(),
                source: match loaded.source {
                    KeySource::Cached => "cached",
                    KeySource::Built => "built",
                },
                elapsed: loaded.elapsed,
            };
            tracing::info!(
                round = %round,
                circuit = kind.name(),
                source = entry.source,
                seconds = entry.elapsed.as_secs_f64(),
                degree_bits = loaded.circuit.degree_bits(),
                "circuit data loaded"
            );
            self.loaded.push(entry);
            self.register(
                round,
                kind.circuit_id(),
                Arc::new(BasicCircuitProver::new(loaded.circuit)),
            );
        }
        Ok(())
    }

    /// Registers (or replaces) the prover of one (round, circuit).
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

    /// How each circuit loaded through the keystore was obtained, in load order.
    pub fn loaded(&self) -> &[LoadedEntry] {
        &self.loaded
    }

    pub fn is_empty(&self) -> bool {
        self.provers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unregistered_circuit_is_a_clear_error() {
        let registry = CircuitRegistry::new();
        assert!(registry.is_empty());
        let error = registry
            .get(AggregationRound::Leaf, CircuitId::SIGNATURE_VERIFICATION)
            .err()
            .expect("nothing registered");
        assert_eq!(
            error.to_string(),
            "no prover registered for round leaf, circuit 1 (signature_verification): this \
             process proves only the circuits it loaded at start"
        );
    }
}
