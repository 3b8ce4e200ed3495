//! Compression: the last proof re-proved with size-optimised configurations.
//!
//! Each step verifies one proof of a fixed common data against a constant verifying key and
//! re-exposes its public inputs unchanged, so the final proof attests exactly what the first
//! one did. The default chain ([`default_compression_steps`], issue 18) has two steps:
//!
//! 1. `shrink`: blowup 2^4, 21 queries, 16 PoW bits (4·21 + 16 = 100 bits), cap height 4;
//!    brings the scheduler's 2^13 rows down to 2^12. Its 21 queries (the standard
//!    configuration's 28 at blowup 2^3) make its proof cheaper to verify in the next step.
//! 2. `final`: blowup 2^7, 12 queries, 16 PoW bits (7·12 + 16 = 100 bits), cap height 4,
//!    `MinSize` FRI arities, 56 routed wires: a proof under 64 KB (63,568 bytes).
//!
//! It replaced plonky2's size-optimised three-step chain (shrink, high rate 2^7, final 2^8 with
//! 10 queries and cap height 0: 59,220 bytes), whose last two steps committed low-degree
//! extensions of 2^19 and 2^20 points: 49 CPU-s against 16 for the sample batch's scheduler
//! proof (docs/benchmarks.md, "Compression chains"). Why these knobs: a final step of blowup
//! 2^8 costs twice one of 2^7; a lower rate needs more queries, and each query adds ~5 KB to the
//! proof (the 64 KB bound); cap height 4 is the smallest uncompressed proof at 12 queries (each
//! level of cap removes one hash from every query's paths); 56 routed wires open 24 fewer sigma
//! columns per query than 80. After a standard shrink, 56 routed wires is the fewest that keep
//! the final step's verifier in 2^12 rows (48, or plonky2's 37, land in 2^13: twice the cost,
//! 65,776 bytes); after the 21-query shrink, 48 still fit, so 56 leaves headroom in those rows
//! for inner proofs of other shapes, for one CPU-second more of shrink.
//!
//! Conjectured security of a FRI configuration is `rate_bits · num_query_rounds +
//! proof_of_work_bits` (plonky2's own target for `standard_recursion_config`: 3·28 + 16 = 100);
//! every step is checked to reach [`TARGET_SECURITY_BITS`].

use plonky2::fri::reduction_strategies::FriReductionStrategy;
use plonky2::fri::FriConfig;
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{
    CircuitConfig, CircuitData, CommonCircuitData, VerifierOnlyCircuitData,
};
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};
use plonky2::util::serialization::{Buffer, Write};

use super::codec;
use super::error::prove_guarded;
use super::shape::check_proof_shape;
use super::{RecursionError, C, D, F};

const LAYER: &str = "compression";

/// Proves one compression step's witness under the step's circuit data, in place of plonky2's
/// `prove`: another prover of the same proofs (zkfleet's GPU prover, `zkfleet-gpu`, which the
/// compressor plugs in with `backend = "gpu"`). Its error text becomes the step's
/// [`RecursionError::Proving`] reason. The step still verifies what it returns.
pub type StepProver<'a> = dyn Fn(&CircuitData<F, C, D>, PartialWitness<F>) -> Result<ProofWithPublicInputs<F, C, D>, String>
    + Sync
    + 'a;

/// Conjectured security every compression step must reach.
pub const TARGET_SECURITY_BITS: usize = 100;

/// Conjectured security of a FRI configuration, in bits.
pub fn conjectured_security_bits(fri: &FriConfig) -> usize {
    fri.rate_bits * fri.num_query_rounds + fri.proof_of_work_bits as usize
}

/// One named configuration of the chain.
#[derive(Debug, Clone)]
pub struct CompressionStep {
    /// The step's name (`shrink`, `final`, ...), part of the circuit's name in manifests.
    pub name: &'static str,
    /// The step's plonky2 configuration (FRI rate, queries, wires).
    pub config: CircuitConfig,
}

/// The default chain: shrink → final (see the module docs).
pub fn default_compression_steps() -> Vec<CompressionStep> {
    let standard = CircuitConfig::standard_recursion_config();
    let shrink = CircuitConfig {
        fri_config: FriConfig {
            rate_bits: 4,
            proof_of_work_bits: 16,
            num_query_rounds: 21,
            ..standard.fri_config.clone()
        },
        ..standard.clone()
    };
    let final_config = CircuitConfig {
        num_routed_wires: 56,
        fri_config: FriConfig {
            rate_bits: 7,
            cap_height: 4,
            proof_of_work_bits: 16,
            reduction_strategy: FriReductionStrategy::MinSize(None),
            num_query_rounds: 12,
        },
        ..standard.clone()
    };
    vec![
        CompressionStep {
            name: "shrink",
            config: shrink,
        },
        CompressionStep {
            name: "final",
            config: final_config,
        },
    ]
}

/// The `light` chain: shrink → one high-rate step at blowup 2^6 with 14 queries, 16 PoW bits,
/// cap height 0 (6·14 + 16 = 100 bits), plonky2's default FRI arities, 80 routed wires.
/// Its steps are unchanged since it was introduced (revision 1).
pub fn light_compression_steps() -> Vec<CompressionStep> {
    let standard = CircuitConfig::standard_recursion_config();
    let high_rate_light = CircuitConfig {
        fri_config: FriConfig {
            rate_bits: 6,
            cap_height: 0,
            proof_of_work_bits: 16,
            num_query_rounds: 14,
            ..standard.fri_config.clone()
        },
        ..standard.clone()
    };
    vec![
        CompressionStep {
            name: "shrink",
            config: standard,
        },
        CompressionStep {
            name: "high_rate_light",
            config: high_rate_light,
        },
    ]
}

/// A named compression chain, as configuration files and keystore keys name it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CompressionProfile {
    /// [`default_compression_steps`]: shrink → final, a proof under 64 KB.
    #[default]
    Standard,
    /// [`light_compression_steps`]: shrink → one high-rate step at blowup 2^6 (still 100 bits):
    /// a little cheaper than `standard` for a proof about 30% larger; for tests and laptops.
    Light,
}

impl CompressionProfile {
    /// Every profile this build knows (the final key's verification rules accept the final
    /// step of each, and no other configuration).
    pub const ALL: [Self; 2] = [Self::Standard, Self::Light];

    /// The name configuration files and keystore keys use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Light => "light",
        }
    }

    /// The steps of the chain.
    pub fn steps(self) -> Vec<CompressionStep> {
        match self {
            Self::Standard => default_compression_steps(),
            Self::Light => light_compression_steps(),
        }
    }

    /// Revision of the profile's steps, part of its keystore key: bumped whenever the steps
    /// change, so that an aggregation entry built with an earlier chain is never loaded as
    /// this one. 1 for a profile unchanged since revisions were introduced (it adds nothing
    /// to the key; `CIRCUIT_FORMAT_VERSION` changes every key on its own).
    pub fn revision(self) -> u32 {
        match self {
            // 2: shrink → final at blowup 2^7 (issue 18), was shrink → high rate → final.
            Self::Standard => 2,
            Self::Light => 1,
        }
    }
}

impl std::str::FromStr for CompressionProfile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "standard" => Ok(Self::Standard),
            "light" => Ok(Self::Light),
            other => Err(format!(
                "unknown compression profile {other:?} (expected standard or light)"
            )),
        }
    }
}

/// One compression step: verifies a proof of `inner_common` under a constant key.
#[derive(Debug)]
pub struct CompressionCircuit {
    name: String,
    inner_common: CommonCircuitData<F, D>,
    data: CircuitData<F, C, D>,
    proof_target: ProofWithPublicInputsTarget<D>,
}

impl CompressionCircuit {
    /// Builds a step that verifies proofs of the inner circuit (`inner_common`, with its key
    /// fixed as a constant) under `config`, and re-exposes their public inputs unchanged.
    pub fn build(
        name: &str,
        config: &CircuitConfig,
        inner_common: &CommonCircuitData<F, D>,
        inner_key: &VerifierOnlyCircuitData<C, D>,
    ) -> Self {
        let mut builder = CircuitBuilder::<F, D>::new(config.clone());
        let proof_target = builder.add_virtual_proof_with_pis(inner_common);
        let key = builder.constant_verifier_data(inner_key);
        builder.verify_proof::<C>(&proof_target, &key, inner_common);
        builder.register_public_inputs(&proof_target.public_inputs.clone());
        let data = builder.build::<C>();
        Self {
            name: name.to_owned(),
            inner_common: inner_common.clone(),
            data,
            proof_target,
        }
    }

    /// The step's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The step's plonky2 circuit data.
    pub fn circuit_data(&self) -> &CircuitData<F, C, D> {
        &self.data
    }

    /// Proves `inner` (a proof of the inner circuit) again under this step, and verifies the
    /// result.
    pub fn prove(
        &self,
        inner: &ProofWithPublicInputs<F, C, D>,
    ) -> Result<ProofWithPublicInputs<F, C, D>, RecursionError> {
        self.prove_with(inner, None)
    }

    /// [`Self::prove`], the proof made by `prover` instead of plonky2's `prove` where one is
    /// given.
    pub fn prove_with(
        &self,
        inner: &ProofWithPublicInputs<F, C, D>,
        prover: Option<&StepProver<'_>>,
    ) -> Result<ProofWithPublicInputs<F, C, D>, RecursionError> {
        let pw = self.witness(inner)?;
        let proof = match prover {
            None => prove_guarded(LAYER, &self.data, pw)?,
            Some(prove) => prove(&self.data, pw).map_err(|reason| RecursionError::Proving {
                layer: LAYER,
                reason,
            })?,
        };
        self.data
            .verify(proof.clone())
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        Ok(proof)
    }

    /// The step's witness for `inner` (a proof of the inner circuit, its shape checked first):
    /// what [`Self::prove_with`] proves, and what a benchmark proves with two provers.
    pub fn witness(
        &self,
        inner: &ProofWithPublicInputs<F, C, D>,
    ) -> Result<PartialWitness<F>, RecursionError> {
        check_proof_shape(inner, &self.inner_common)
            .map_err(|e| RecursionError::child(LAYER, 0, e))?;
        let mut pw = PartialWitness::new();
        pw.set_proof_with_pis_target(&self.proof_target, inner)
            .map_err(|e| RecursionError::proving(LAYER, e))?;
        Ok(pw)
    }

    /// The keystore encoding of the step (tag `CMPR`).
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecursionError> {
        const WHAT: &str = "compression circuit";
        let mut out = Vec::new();
        codec::write_header(&mut out, b"CMPR");
        codec::write_blob(&mut out, self.name.as_bytes());
        codec::write_blob(&mut out, &codec::common_to_bytes(&self.inner_common, WHAT)?);
        codec::write_blob(&mut out, &codec::circuit_data_to_bytes(&self.data, WHAT)?);
        let targets = codec::targets_to_bytes(WHAT, |buf| {
            buf.write_target_proof_with_public_inputs(&self.proof_target)
        })?;
        codec::write_blob(&mut out, &targets);
        Ok(out)
    }

    /// Decodes [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecursionError> {
        const WHAT: &str = "compression circuit";
        use plonky2::util::serialization::Read;
        let mut buffer = Buffer::new(bytes);
        codec::read_header(&mut buffer, b"CMPR", WHAT)?;
        let name = String::from_utf8(codec::read_blob(&mut buffer, WHAT)?.to_vec())
            .map_err(|e| RecursionError::serialization(WHAT, e))?;
        let inner_common = codec::common_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
        let data = codec::circuit_data_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
        let target_bytes = codec::read_blob(&mut buffer, WHAT)?;
        codec::expect_end(&buffer, WHAT)?;
        let mut tb = Buffer::new(target_bytes);
        let proof_target = tb
            .read_target_proof_with_public_inputs()
            .map_err(|e| RecursionError::serialization(WHAT, e))?;
        codec::expect_end(&tb, WHAT)?;
        Ok(Self {
            name,
            inner_common,
            data,
            proof_target,
        })
    }
}

/// The compression chain from one inner circuit to the final proof.
#[derive(Debug)]
pub struct CompressionChain {
    steps: Vec<CompressionCircuit>,
}

/// Size of a proof, plain and with plonky2's Merkle-path compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofSize {
    /// Bytes of plonky2's proof encoding.
    pub bytes: usize,
    /// Bytes of the encoding after plonky2's Merkle-path compression.
    pub compressed_bytes: usize,
}

/// Measures `proof`'s size under `data`.
pub fn proof_size(
    proof: &ProofWithPublicInputs<F, C, D>,
    data: &CircuitData<F, C, D>,
) -> Result<ProofSize, RecursionError> {
    let compressed = proof
        .clone()
        .compress(&data.verifier_only.circuit_digest, &data.common)
        .map_err(|e| RecursionError::serialization("compressed proof", e))?;
    Ok(ProofSize {
        bytes: proof.to_bytes().len(),
        compressed_bytes: compressed.to_bytes().len(),
    })
}

impl CompressionChain {
    /// Builds the chain for proofs of (`inner_common`, `inner_key`), checking every step's
    /// conjectured security first.
    pub fn build(
        steps: &[CompressionStep],
        inner_common: &CommonCircuitData<F, D>,
        inner_key: &VerifierOnlyCircuitData<C, D>,
    ) -> Result<Self, RecursionError> {
        if steps.is_empty() {
            return Err(RecursionError::InvalidGeometry(
                "empty compression chain".into(),
            ));
        }
        for (i, step) in steps.iter().enumerate() {
            let bits = conjectured_security_bits(&step.config.fri_config);
            if bits < TARGET_SECURITY_BITS {
                return Err(RecursionError::InsufficientSecurity {
                    step: i,
                    bits,
                    target: TARGET_SECURITY_BITS,
                });
            }
            if step.config.zero_knowledge {
                return Err(RecursionError::InvalidGeometry(format!(
                    "compression step {} uses zero knowledge, which the chain does not support",
                    step.name
                )));
            }
        }
        let mut built: Vec<CompressionCircuit> = Vec::with_capacity(steps.len());
        for step in steps {
            let circuit = match built.last() {
                None => CompressionCircuit::build(step.name, &step.config, inner_common, inner_key),
                Some(prev) => CompressionCircuit::build(
                    step.name,
                    &step.config,
                    &prev.data.common,
                    &prev.data.verifier_only,
                ),
            };
            built.push(circuit);
        }
        Ok(Self { steps: built })
    }

    /// Reassembles a chain from its steps (e.g. read back with
    /// [`CompressionCircuit::from_bytes`]), checking that each step verifies the previous one's
    /// proofs and that the first verifies proofs of `inner_common`. The inner key is a constant
    /// inside the first step and is not stored beside it: the caller checks which key the chain
    /// was built for (see `BatchCircuits::from_bytes`).
    pub fn from_circuits(
        steps: Vec<CompressionCircuit>,
        inner_common: &CommonCircuitData<F, D>,
    ) -> Result<Self, RecursionError> {
        let inconsistent = |reason: String| RecursionError::Serialization {
            what: "compression chain",
            reason,
        };
        let first = steps
            .first()
            .ok_or_else(|| RecursionError::InvalidGeometry("empty compression chain".into()))?;
        if first.inner_common != *inner_common {
            return Err(inconsistent(format!(
                "step {} verifies proofs of another circuit shape",
                first.name
            )));
        }
        for pair in steps.windows(2) {
            if pair[1].inner_common != pair[0].data.common {
                return Err(inconsistent(format!(
                    "step {} does not verify proofs of step {}",
                    pair[1].name, pair[0].name
                )));
            }
        }
        Ok(Self { steps })
    }

    /// The steps in order; each verifies the previous one's proofs.
    pub fn steps(&self) -> &[CompressionCircuit] {
        &self.steps
    }

    /// The circuit whose key verifies the final proof.
    pub fn final_circuit(&self) -> &CompressionCircuit {
        // `build` refuses an empty chain.
        &self.steps[self.steps.len() - 1]
    }

    /// Runs every step; returns the proof of each step, the last being the final proof.
    pub fn prove(
        &self,
        inner: &ProofWithPublicInputs<F, C, D>,
    ) -> Result<Vec<ProofWithPublicInputs<F, C, D>>, RecursionError> {
        self.prove_with(inner, None)
    }

    /// [`Self::prove`], each step proved by `prover` where one is given
    /// ([`CompressionCircuit::prove_with`]).
    pub fn prove_with(
        &self,
        inner: &ProofWithPublicInputs<F, C, D>,
        prover: Option<&StepProver<'_>>,
    ) -> Result<Vec<ProofWithPublicInputs<F, C, D>>, RecursionError> {
        let mut proofs: Vec<ProofWithPublicInputs<F, C, D>> = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            let next = step.prove_with(proofs.last().unwrap_or(inner), prover)?;
            proofs.push(next);
        }
        Ok(proofs)
    }

    /// Verifies a final proof and returns its public inputs (those of the compressed proof).
    pub fn verify_final(
        &self,
        proof: &ProofWithPublicInputs<F, C, D>,
    ) -> Result<Vec<F>, RecursionError> {
        let last = self.final_circuit();
        check_proof_shape(proof, &last.data.common)
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        last.data
            .verify(proof.clone())
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        Ok(proof.public_inputs.clone())
    }
}
