//! The proving backend: zkfleet's prover with the batched Merkle hasher on the CPU (the
//! default, issue 18), plonky2's own CPU prover (the reference), or zkfleet's prover with the
//! batch commitments on a GPU (issue 17, `docs/gpu.md`).
//!
//! `backend = "cpu"` proves every job with [`CpuProver::Batched`]: `zkfleet_gpu::prover` over
//! `HostBatchedCommit`, whose Merkle trees (the three batch commitments and FRI's) hash eight
//! leaves at a time with AVX-512 where the CPU has it (plonky2's scalar Poseidon otherwise). Its
//! proofs are byte for byte plonky2's and deterministic (the smallest proof-of-work nonce).
//! `backend = "plonky2"` proves with plonky2's `prove`, unchanged, the reference.
//!
//! `backend = "gpu"` (flag `--backend gpu`, config `[circuit_prover] backend`) replaces every
//! registered [`CircuitProver`] by a [`CommitCircuitProver`] over the GPU: the same
//! witness-vector generation,
//! then `zkfleet_gpu::prover` — plonky2's `prove_with_partition_witness` transcribed, its three
//! batch commitments (wires, Z/partial products, quotient) on the card — and plonky2's own
//! verifier on the proof before it is stored, as on the CPU. Where no GPU is usable (no driver,
//! no NVRTC, no device) the process says so at start and proves on the CPU. A GPU failure during
//! a job (out of memory, a failed launch, a lost device) fails that job with a transient error
//! naming the GPU, so the job monitor requeues it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use plonky2::field::types::PrimeField64;
use plonky2::iop::witness::PartitionWitness;
use zkfleet_circuits::pipeline::{CpuProver, PipelineError};
use zkfleet_circuits::proving::WitnessVector;
use zkfleet_circuits::recursion::BatchCircuits;
use zkfleet_circuits::CircuitError;
use zkfleet_gpu::prover::{self, ProveError};
use zkfleet_gpu::{CommitBackend, GpuCommit};
use zkfleet_types::{AggregationRound, CircuitId};

use crate::error::ProverError;
use crate::registry::{BatchCircuitProver, CircuitProver, CircuitRegistry};

/// Which prover proves the jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProverBackend {
    /// zkfleet's prover with the batched Merkle hasher on the host's cores
    /// ([`CpuProver::Batched`]).
    #[default]
    Cpu,
    /// plonky2's `prove` on the host's cores, unchanged (the reference).
    Plonky2,
    /// zkfleet's prover with the commitments on the GPU `gpu_device` (the `cpu` backend where
    /// no GPU is usable).
    Gpu,
}

impl fmt::Display for ProverBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Plonky2 => "plonky2",
            Self::Gpu => "gpu",
        })
    }
}

impl FromStr for ProverBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "plonky2" => Ok(Self::Plonky2),
            "gpu" => Ok(Self::Gpu),
            other => Err(format!(
                "unknown prover backend {other:?} (cpu, plonky2 or gpu)"
            )),
        }
    }
}

/// Puts the requested backend in place over every registered circuit and returns the backend
/// that will actually prove: the CPU backend asked for ([`ProverBackend::Cpu`],
/// [`ProverBackend::Plonky2`]), or [`ProverBackend::Cpu`] when the GPU was and no GPU is usable
/// here (logged at `warn`, naming why). Which CPU path proves, and whether AVX-512 was
/// detected, is logged at `info`. The GPU backend proves on
/// card `gpu_device` (a CUDA ordinal among the cards `CUDA_VISIBLE_DEVICES` leaves visible).
/// A GPU that is present but fails to start (e.g. NVRTC refusing the kernels), and an ordinal
/// the driver does not have on a host that has cards, are errors: proving on the CPU then
/// would hide a broken installation or a wrong configuration.
pub fn select_backend(
    registry: &mut CircuitRegistry,
    requested: ProverBackend,
    gpu_device: usize,
) -> Result<ProverBackend, ProverError> {
    match requested {
        ProverBackend::Cpu => {
            install_cpu(registry, CpuProver::Batched);
            Ok(ProverBackend::Cpu)
        }
        ProverBackend::Plonky2 => {
            install_cpu(registry, CpuProver::Plonky2);
            Ok(ProverBackend::Plonky2)
        }
        // The process's one backend for that card: a compressor in the same process
        // (`zkfleet prove`) shares it and its memory budget (`GpuCommit::shared`).
        ProverBackend::Gpu => match GpuCommit::shared(gpu_device) {
            Ok(commit) => {
                let gpu = commit.context();
                tracing::info!(
                    backend = "gpu",
                    gpu_device,
                    device = gpu.device_name(),
                    compute_capability = ?gpu.compute_capability(),
                    "proving with the zkfleet prover, batch commitments on the GPU"
                );
                install_gpu(registry, commit);
                Ok(ProverBackend::Gpu)
            }
            Err(e) if e.is_unavailable() => {
                tracing::warn!(
                    backend = "cpu",
                    reason = %e,
                    "backend gpu requested but no GPU is usable here: proving on the CPU"
                );
                install_cpu(registry, CpuProver::Batched);
                Ok(ProverBackend::Cpu)
            }
            Err(e) => Err(ProverError::Gpu {
                stage: "starting the GPU backend (gpu_device)",
                message: e.to_string(),
            }),
        },
    }
}

/// Registers a [`BatchCircuitProver`] proving with `cpu` for every circuit of the registry,
/// and logs which CPU path proves and whether AVX-512 was detected.
pub fn install_cpu(registry: &mut CircuitRegistry, cpu: CpuProver) {
    let backend = match cpu {
        CpuProver::Batched => ProverBackend::Cpu,
        CpuProver::Plonky2 => ProverBackend::Plonky2,
    };
    tracing::info!(
        backend = %backend,
        cpu_prover = %cpu,
        avx512 = CpuProver::avx512(),
        hasher = %CpuProver::hasher(),
        "proving on the CPU with {}",
        cpu.describe()
    );
    let circuits = Arc::clone(registry.batch_circuits());
    let all: Vec<_> = registry.circuits().collect();
    for (round, circuit) in all {
        let prover = BatchCircuitProver::new(Arc::clone(&circuits), round, circuit).with_cpu(cpu);
        registry.register(round, circuit, Arc::new(prover));
    }
}

/// Registers a [`CommitCircuitProver`] for every circuit of the registry, all sharing `gpu`,
/// and logs what the card's memory budget keeps: how many proofs of the largest registered
/// circuit fit on the card at once (each proof reserves its peak before it starts, and waits
/// or fails, transient, when the proofs in flight hold too much).
pub fn install_gpu(registry: &mut CircuitRegistry, commit: Arc<GpuCommit>) {
    let circuits = registry.batch_circuits();
    let largest = registry
        .circuits()
        .filter_map(|(round, circuit)| circuits.circuit_data(round, circuit).ok())
        .map(|data| zkfleet_gpu::memory::proof_bytes(&data.common).total())
        .max()
        .unwrap_or(0);
    let budget = commit.budget();
    let proofs = budget.proofs_that_fit(largest, 0);
    tracing::info!(
        proofs_in_flight = proofs,
        commitments = proofs.saturating_mul(3),
        largest_proof_mib = largest >> 20,
        budget = %budget,
        "GPU memory: keeps up to {proofs} proofs of the largest circuit ({} commitments) in {budget}",
        proofs.saturating_mul(3)
    );
    install_commit_backend(registry, commit);
}

/// Registers a [`CommitCircuitProver`] over `commit` for every circuit of the registry (the
/// GPU's, or plonky2's CPU commitments in tests that compare the two provers without a GPU).
pub fn install_commit_backend(registry: &mut CircuitRegistry, commit: Arc<dyn CommitBackend>) {
    let circuits = Arc::clone(registry.batch_circuits());
    let all: Vec<_> = registry.circuits().collect();
    for (round, circuit) in all {
        let prover = CommitCircuitProver {
            cpu: BatchCircuitProver::new(Arc::clone(&circuits), round, circuit),
            circuits: Arc::clone(&circuits),
            commit: Arc::clone(&commit),
            round,
            circuit,
        };
        registry.register(round, circuit, Arc::new(prover));
    }
}

/// One (round, circuit) proved by the zkfleet prover with the commitments of `commit` (the
/// GPU's). Circuits the zkfleet prover does not support (zero-knowledge configurations, lookup
/// tables; none of ours today) are proved on the CPU (where plonky2 proves them).
pub struct CommitCircuitProver {
    cpu: BatchCircuitProver,
    circuits: Arc<BatchCircuits>,
    commit: Arc<dyn CommitBackend>,
    round: AggregationRound,
    circuit: CircuitId,
}

impl CommitCircuitProver {
    fn pipeline(&self, stage: &'static str, source: PipelineError) -> ProverError {
        ProverError::Pipeline { stage, source }
    }
}

impl CircuitProver for CommitCircuitProver {
    fn witness_vector(&self, witness: &[u8]) -> Result<WitnessVector, ProverError> {
        self.cpu.witness_vector(witness)
    }

    fn prove(&self, witness_vector: WitnessVector) -> Result<Vec<u8>, ProverError> {
        let stage = "proving with the zkfleet prover";
        let data = self
            .circuits
            .circuit_data(self.round, self.circuit)
            .map_err(|e| self.pipeline(stage, e))?;
        if prover::check_supported(&data.common).is_err() {
            return self.cpu.prove(witness_vector);
        }
        let malformed = |reason: String| {
            self.pipeline(
                stage,
                PipelineError::Circuit(CircuitError::MalformedWitnessVector(reason)),
            )
        };
        // The checks `prove_witness_vector` makes before plonky2's prover.
        let digest = data
            .prover_only
            .circuit_digest
            .elements
            .map(|e| e.to_canonical_u64());
        if witness_vector.circuit_digest != digest {
            return Err(malformed(format!(
                "generated for circuit digest {:x?}, this circuit's digest is {digest:x?}",
                witness_vector.circuit_digest
            )));
        }
        let representative_map = &data.prover_only.representative_map;
        if witness_vector.values.len() != representative_map.len()
            || witness_vector.num_wires != data.common.config.num_wires
            || witness_vector.degree != data.common.degree()
        {
            return Err(malformed(format!(
                "shape {} values / {} wires / degree {} does not match the circuit's {} / {} / {}",
                witness_vector.values.len(),
                witness_vector.num_wires,
                witness_vector.degree,
                representative_map.len(),
                data.common.config.num_wires,
                data.common.degree()
            )));
        }
        let partition = PartitionWitness {
            values: witness_vector.values,
            representative_map,
            num_wires: witness_vector.num_wires,
            degree: witness_vector.degree,
        };
        let proof = prover::prove_with_partition_witness(
            &data.prover_only,
            &data.common,
            partition,
            self.commit.as_ref(),
        )
        .map_err(|e| match e {
            ProveError::Commit { source, .. } => ProverError::Gpu {
                stage: "committing a batch of polynomials",
                message: source.to_string(),
            },
            ProveError::Witness(m) => malformed(m),
            other => self.pipeline(
                stage,
                PipelineError::Circuit(CircuitError::Proving(other.to_string())),
            ),
        })?;
        let bytes = proof.to_bytes();
        // plonky2's unmodified verifier, as the CPU path (`BatchCircuits::prove_job`).
        let verified = match self.round {
            AggregationRound::Scheduler => self
                .circuits
                .scheduler()
                .verify(&proof)
                .map(|_| ())
                .map_err(|e| e.to_string()),
            _ => data.verify(proof).map_err(|e| e.to_string()),
        };
        verified.map_err(|reason| {
            self.pipeline(
                stage,
                PipelineError::ProofRejected {
                    round: self.round,
                    circuit: self.circuit,
                    reason,
                },
            )
        })?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_names_parse_and_print() {
        for b in [
            ProverBackend::Cpu,
            ProverBackend::Plonky2,
            ProverBackend::Gpu,
        ] {
            assert_eq!(b.to_string().parse::<ProverBackend>(), Ok(b));
        }
        assert!("cuda".parse::<ProverBackend>().is_err());
        assert_eq!(ProverBackend::default(), ProverBackend::Cpu);
    }
}
