//! Which prover proves a job on the CPU (issue 18): zkfleet's prover over the batched Merkle
//! hasher (the default), or plonky2's own `prove` (the reference).
//!
//! [`CpuProver::Batched`] is `zkfleet_gpu::prover` (plonky2's `prove_with_partition_witness`
//! transcribed) over [`HostBatchedCommit`]: plonky2's iFFT and coset LDE, the Merkle trees
//! hashed eight leaves at a time (`zkfleet_gpu::poseidon_x8`, AVX-512 where the CPU has it,
//! plonky2's scalar Poseidon otherwise), FRI's commit-phase trees too. Every commitment is
//! plonky2's bit for bit, and the proof-of-work nonce is the smallest one, so its proofs are
//! byte for byte plonky2's single-threaded proofs on any number of threads (plonky2's own
//! search takes whichever nonce a thread finds first) and deterministic: a job proven again
//! after a crash gives the same bytes. Circuits the zkfleet prover does not handle
//! (zero-knowledge configurations, lookup tables; none of ours) go to plonky2.

use std::fmt;
use std::str::FromStr;

use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::circuit_data::{CommonCircuitData, ProverOnlyCircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use zkfleet_gpu::prover::{self, ProveError};
use zkfleet_gpu::HostBatchedCommit;

use crate::error::CircuitError;
use crate::proving::{partition_witness, prove_witness_vector, WitnessVector};
use crate::recursion::StepProver;
use crate::{C, D, F};

/// Which prover proves jobs (and compression steps) on the CPU.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CpuProver {
    /// zkfleet's prover with the batched Merkle hasher (see the module docs).
    #[default]
    Batched,
    /// plonky2's `prove`, unchanged: the reference the batched prover is checked against.
    Plonky2,
}

impl fmt::Display for CpuProver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Batched => "batched",
            Self::Plonky2 => "plonky2",
        })
    }
}

impl FromStr for CpuProver {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "batched" => Ok(Self::Batched),
            "plonky2" => Ok(Self::Plonky2),
            other => Err(format!("unknown CPU prover {other:?} (batched or plonky2)")),
        }
    }
}

impl CpuProver {
    /// Whether the batched hasher runs its AVX-512 code on this CPU (else plonky2's scalar
    /// Poseidon, same outputs): what a process logs at start.
    pub fn avx512() -> bool {
        zkfleet_gpu::poseidon_x8::avx512_available()
    }

    /// The batched hasher's path in this process: AVX-512 where the CPU has it, else plonky2's
    /// scalar Poseidon, unless `ZKFLEET_POSEIDON` asked for another (docs/benchmarks.md,
    /// "Scalar, AVX2 and AVX-512 paths"). What a process logs at start, beside [`Self::avx512`]:
    /// detection alone does not say which path runs once the variable is set.
    pub fn hasher() -> zkfleet_gpu::poseidon_x8::Isa {
        zkfleet_gpu::poseidon_x8::selected_path().isa()
    }

    /// A line for the start-up log: which CPU path proves, and which hasher path it runs.
    pub fn describe(self) -> String {
        use zkfleet_gpu::poseidon_x8::Isa;
        match self {
            Self::Batched => match Self::hasher() {
                Isa::Avx512 => {
                    "zkfleet's prover, Merkle trees hashed eight leaves at a time (AVX-512)".into()
                }
                Isa::Avx2 => "zkfleet's prover, Merkle trees hashed four states per register \
                              (AVX2, chosen by ZKFLEET_POSEIDON)"
                    .into(),
                Isa::Scalar if Self::avx512() => "zkfleet's prover, batched Merkle trees on \
                                                  plonky2's scalar Poseidon (chosen by \
                                                  ZKFLEET_POSEIDON; AVX-512 is available)"
                    .into(),
                Isa::Scalar => "zkfleet's prover, batched Merkle trees on plonky2's scalar \
                                Poseidon (no AVX-512 on this CPU)"
                    .into(),
            },
            Self::Plonky2 => "plonky2's prove (the reference)".into(),
        }
    }

    /// Proves a witness vector against the circuit it was generated for (not verified here:
    /// `BatchCircuits::prove_job` verifies).
    pub fn prove_vector(
        self,
        prover_only: &ProverOnlyCircuitData<F, C, D>,
        common: &CommonCircuitData<F, D>,
        witness_vector: WitnessVector,
    ) -> Result<ProofWithPublicInputs<F, C, D>, CircuitError> {
        if self == Self::Plonky2 || prover::check_supported(common).is_err() {
            return prove_witness_vector(prover_only, common, witness_vector);
        }
        let partition = partition_witness(prover_only, common, witness_vector)?;
        prover::prove_with_partition_witness(prover_only, common, partition, &HostBatchedCommit)
            .map_err(|e| match e {
                ProveError::Witness(m) => CircuitError::MalformedWitnessVector(m),
                other => CircuitError::Proving(other.to_string()),
            })
    }
}

/// A compression step proved by zkfleet's prover over [`HostBatchedCommit`] (plonky2's `prove`
/// for a circuit it does not handle); a panic inside witness generation becomes the step's
/// error, as plonky2's path (`prove_guarded`) does.
pub fn batched_step(
    data: &plonky2::plonk::circuit_data::CircuitData<F, C, D>,
    witness: PartialWitness<F>,
) -> Result<ProofWithPublicInputs<F, C, D>, String> {
    if prover::check_supported(&data.common).is_err() {
        return data.prove(witness).map_err(|e| format!("{e:#}"));
    }
    let run = std::panic::AssertUnwindSafe(|| {
        prover::prove(&data.prover_only, &data.common, witness, &HostBatchedCommit)
    });
    match std::panic::catch_unwind(run) {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("non-text panic");
            Err(format!("witness generation aborted: {message}"))
        }
    }
}

/// [`batched_step`] as the compression chain's [`StepProver`].
pub fn batched_step_prover() -> &'static StepProver<'static> {
    &batched_step
}
