//! The compressor's proving backend, as the circuit prover's: zkfleet's prover with the batched
//! Merkle hasher on the CPU (`backend = "cpu"`, the default, issue 18: `HostBatchedCommit`,
//! eight leaves at a time with AVX-512 where the CPU has it, proofs byte for byte plonky2's),
//! plonky2's own `prove` (`backend = "plonky2"`, the reference), or zkfleet's prover with the
//! batch commitments, the quotient and FRI's proof of work on a GPU (issue 17, `docs/gpu.md`).
//!
//! With `backend = "gpu"` every compression step is proved by `zkfleet_gpu::prover` over a
//! [`GpuCommit`] instead of plonky2's `prove` (`BatchCircuits::compress_with`); the scheduler
//! proof, each step's proof and the final proof are still verified with plonky2's verifier. Where
//! no GPU is usable (no driver, no NVRTC, no device) the compressor says so at start and proves
//! with the `cpu` backend; a GPU that is present but fails to start is an error at start. A GPU failure
//! during a job (out of memory, a failed launch, a lost device) fails that job with
//! [`CompressorError::Gpu`], transient, so the job is retried.

use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use zkfleet_circuits::pipeline::CpuProver;
use zkfleet_circuits::recursion::StepProver;
use zkfleet_gpu::prover::{self, ProveError};
use zkfleet_gpu::{CommitBackend, GpuCommit, HostBatchedCommit};

use crate::error::CompressorError;

/// Which prover proves the compression steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CompressorBackend {
    /// zkfleet's prover with the batched Merkle hasher on the host's cores.
    #[default]
    Cpu,
    /// plonky2's `prove` on the host's cores, unchanged (the reference).
    Plonky2,
    /// zkfleet's prover on the GPU `gpu_device` (the `cpu` backend where no GPU is usable).
    Gpu,
}

impl fmt::Display for CompressorBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Plonky2 => "plonky2",
            Self::Gpu => "gpu",
        })
    }
}

impl FromStr for CompressorBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "plonky2" => Ok(Self::Plonky2),
            "gpu" => Ok(Self::Gpu),
            other => Err(format!(
                "unknown compressor backend {other:?} (cpu, plonky2 or gpu)"
            )),
        }
    }
}

/// The zkfleet prover over a commitment backend, as a compression step prover.
pub struct CommitProver {
    commit: Arc<dyn CommitBackend>,
}

impl fmt::Debug for CommitProver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommitProver")
            .field("backend", &self.commit.name())
            .finish()
    }
}

impl CommitProver {
    /// A prover whose commitments `commit` makes (the GPU's, the batched CPU commitments of
    /// `backend = "cpu"`, or plonky2's CPU commitments in tests that compare the provers).
    pub fn new(commit: Arc<dyn CommitBackend>) -> Self {
        Self { commit }
    }

    /// The backend's name ("gpu", "host-batched", "cpu").
    pub fn backend_name(&self) -> &'static str {
        self.commit.name()
    }

    /// Runs `f` with a step prover over this backend and returns its result, or
    /// [`CompressorError::Gpu`] where a step failed on the backend (a commitment, the quotient,
    /// the nonce search: a device fault) or panicked inside the prover, whatever `f` made of
    /// that step's error. A failure of the proof itself (an unsatisfied witness) stays `f`'s.
    pub fn with_step_prover<T, E>(
        &self,
        f: impl FnOnce(&StepProver<'_>) -> Result<T, E>,
        wrap: impl FnOnce(E) -> CompressorError,
    ) -> Result<T, CompressorError> {
        let fault: Mutex<Option<String>> = Mutex::new(None);
        let note = |message: String| {
            let mut slot = fault.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert(message.clone());
            message
        };
        let commit = self.commit.as_ref();
        let step: &StepProver<'_> = &|data, witness| {
            // A circuit our prover does not handle (zero knowledge, lookups: no compression
            // step of ours) is proved by plonky2.
            if prover::check_supported(&data.common).is_err() {
                return data.prove(witness).map_err(|e| format!("{e:#}"));
            }
            let run = std::panic::AssertUnwindSafe(|| {
                prover::prove(&data.prover_only, &data.common, witness, commit)
            });
            match std::panic::catch_unwind(run) {
                Ok(Ok(proof)) => Ok(proof),
                Ok(Err(e @ ProveError::Commit { .. })) => Err(note(e.to_string())),
                Ok(Err(e)) => Err(e.to_string()),
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "non-text panic".into());
                    Err(note(format!("the zkfleet prover panicked: {message}")))
                }
            }
        };
        let result = f(step);
        let fault = fault.into_inner().unwrap_or_else(|e| e.into_inner());
        match (result, fault) {
            (Ok(v), _) => Ok(v),
            (Err(_), Some(message)) => Err(CompressorError::Gpu {
                backend: self.commit.name(),
                message,
            }),
            (Err(e), None) => Err(wrap(e)),
        }
    }
}

/// The batched CPU prover of `backend = "cpu"`, logging which CPU path runs and whether
/// AVX-512 was detected.
fn batched_cpu() -> CommitProver {
    tracing::info!(
        backend = "cpu",
        avx512 = CpuProver::avx512(),
        hasher = %CpuProver::hasher(),
        "compressing on the CPU with {}",
        CpuProver::Batched.describe()
    );
    CommitProver::new(Arc::new(HostBatchedCommit))
}

/// The prover of the compression steps for `requested`: `None` for plonky2's `prove`
/// (`backend = "plonky2"`), the zkfleet prover over the batched CPU commitments for `cpu` (and
/// for `gpu` where no GPU is usable here: logged at `warn` with the reason), or the zkfleet
/// prover on card `gpu_device`. A card that is present but fails to start (NVRTC refusing the
/// kernels, an ordinal the driver does not have) is an error.
pub fn select_backend(
    requested: CompressorBackend,
    gpu_device: usize,
) -> Result<Option<CommitProver>, CompressorError> {
    match requested {
        CompressorBackend::Cpu => Ok(Some(batched_cpu())),
        CompressorBackend::Plonky2 => {
            tracing::info!(
                backend = "plonky2",
                "compressing on the CPU with {}",
                CpuProver::Plonky2.describe()
            );
            Ok(None)
        }
        // Shared with a circuit prover of the same process on that card (`zkfleet prove`):
        // one context, one memory budget (`GpuCommit::shared`).
        CompressorBackend::Gpu => match GpuCommit::shared(gpu_device) {
            Ok(commit) => {
                tracing::info!(
                    backend = "gpu",
                    gpu_device,
                    device = commit.context().device_name(),
                    "compressing with the zkfleet prover on the GPU"
                );
                Ok(Some(CommitProver::new(commit)))
            }
            Err(e) if e.is_unavailable() => {
                tracing::warn!(
                    backend = "cpu",
                    reason = %e,
                    "backend gpu requested but no GPU is usable here: compressing on the CPU"
                );
                Ok(Some(batched_cpu()))
            }
            Err(e) => Err(CompressorError::Gpu {
                backend: "gpu",
                message: format!("starting on gpu_device {gpu_device}: {e}"),
            }),
        },
    }
}
