//! How a basic circuit type is described to the recursion layers, and the shape checks on
//! proofs that arrive from outside (object store, other processes).

use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::plonk::circuit_data::{CommonCircuitData, VerifierOnlyCircuitData};
use plonky2::plonk::config::Hasher;
use plonky2::plonk::proof::ProofWithPublicInputs;
use zkfleet_types::CircuitId;

use super::{RecursionError, C, D, F};

/// Number of public inputs of every basic proof: one Poseidon digest.
pub const BASIC_PUBLIC_INPUTS: usize = 4;

/// A basic circuit type as the recursion layers see it (the binding interface to round 0).
///
/// A basic proof's public inputs are exactly `PoseidonHash::hash_no_pad(input ‖ output' ‖
/// [count])` (see [`basic_public_inputs`]), where `input` is the instance's closed-form input
/// (`closed_form_len` elements), `output'` its closed-form output (`public_output_len`
/// elements) and `count` the number of real items in the instance.
///
/// The recursion layers carry a closed form of `closed_form_len` elements at both ends: the
/// *carried output* of an instance is `output' ‖ input[public_output_len..]`, i.e. the input's
/// tail holds run constants (the state type's chain id and operator) that the basic circuit
/// takes as input and does not repeat in its output. The leaf enforces that the tail of every
/// carried output equals the tail of its input, so continuity makes the constants equal in
/// every instance of the type.
#[derive(Debug, Clone)]
pub struct BasicTypeShape {
    /// The branch id (the basic type); leaf and node proofs keep it.
    pub circuit_id: CircuitId,
    /// n: field elements of the closed-form input (= of the output).
    pub closed_form_len: usize,
    /// Elements of the basic proof's own output (`1..=closed_form_len`); the remaining tail of
    /// the carried closed form is the input's tail (run constants).
    pub public_output_len: usize,
    /// Items one instance holds when full. The leaf enforces `1 ≤ count ≤ capacity` for every
    /// instance and `count = capacity` for every instance but the type's last one.
    pub instance_capacity: u64,
    /// Common circuit data of every instance of the type.
    pub common: CommonCircuitData<F, D>,
    /// The type's verifying key; the leaf embeds it as a constant.
    pub verifier_only: VerifierOnlyCircuitData<C, D>,
}

impl BasicTypeShape {
    /// Checks what the leaf relies on: four public inputs, a usable closed form and capacity.
    pub fn validate(&self) -> Result<(), RecursionError> {
        let invalid = |reason: String| RecursionError::InvalidBasicShape {
            circuit_id: self.circuit_id,
            reason,
        };
        if self.common.num_public_inputs != BASIC_PUBLIC_INPUTS {
            return Err(invalid(format!(
                "basic proofs must have {BASIC_PUBLIC_INPUTS} public inputs (one digest), the \
                 common data says {}",
                self.common.num_public_inputs
            )));
        }
        if self.closed_form_len == 0 {
            return Err(invalid("closed-form length must be at least 1".into()));
        }
        if self.public_output_len == 0 || self.public_output_len > self.closed_form_len {
            return Err(invalid(format!(
                "public output length {} outside 1..={}",
                self.public_output_len, self.closed_form_len
            )));
        }
        // Counts are summed in the field; a bound far below 2^32 keeps every range check
        // and every sum of a whole batch exact.
        if self.instance_capacity == 0 || self.instance_capacity > (1 << 24) {
            return Err(invalid(format!(
                "instance capacity must be in 1..=2^24, got {}",
                self.instance_capacity
            )));
        }
        if self.common.config.zero_knowledge {
            return Err(invalid(
                "zero-knowledge basic circuits are not supported".into(),
            ));
        }
        Ok(())
    }
}

/// One proven basic circuit instance, with the witness the leaf needs to open its public inputs.
#[derive(Debug, Clone)]
pub struct BasicProof {
    /// The basic proof; its public inputs are the closed-form hash.
    pub proof: ProofWithPublicInputs<F, C, D>,
    /// Closed-form input of the instance (what the previous instance of the type output).
    pub input: Vec<F>,
    /// Carried closed-form output of the instance: the basic proof's output followed by the
    /// input's run-constant tail (see [`BasicTypeShape`]).
    pub output: Vec<F>,
    /// Real items in the instance.
    pub count: u64,
}

/// The public inputs a basic proof must carry for `(input, output, count)`, with `output` the
/// basic circuit's own output (not the carried one).
pub fn basic_public_inputs(input: &[F], output: &[F], count: u64) -> HashOut<F> {
    let mut preimage = Vec::with_capacity(input.len() + output.len() + 1);
    preimage.extend_from_slice(input);
    preimage.extend_from_slice(output);
    preimage.push(F::from_canonical_u64(count));
    PoseidonHash::hash_no_pad(&preimage)
}

/// Digest of a closed-form value, as leaf and node statements carry it.
pub fn closed_form_digest(values: &[F]) -> HashOut<F> {
    PoseidonHash::hash_no_pad(values)
}

/// Checks that `proof` has exactly the shape `common` describes, so that it can be assigned to a
/// proof target of that shape (plonky2 panics on a length mismatch; we answer with an error).
///
/// This is structure only (lengths of every vector, Merkle path lengths, FRI steps); whether the
/// proof verifies is the circuit's business.
pub fn check_proof_shape(
    proof: &ProofWithPublicInputs<F, C, D>,
    common: &CommonCircuitData<F, D>,
) -> Result<(), String> {
    let config = &common.config;
    let params = &common.fri_params;
    let cap_len = config.fri_config.num_cap_elements();
    let expect = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_owned()) };
    let p = &proof.proof;
    expect(
        proof.public_inputs.len() == common.num_public_inputs,
        &format!(
            "{} public inputs, the circuit expects {}",
            proof.public_inputs.len(),
            common.num_public_inputs
        ),
    )?;
    expect(p.wires_cap.0.len() == cap_len, "wires cap length")?;
    expect(
        p.plonk_zs_partial_products_cap.0.len() == cap_len,
        "Z/partial-products cap length",
    )?;
    expect(
        p.quotient_polys_cap.0.len() == cap_len,
        "quotient cap length",
    )?;
    let o = &p.openings;
    let lookups = config.num_challenges * common.num_lookup_polys;
    let quotient_polys = config.num_challenges * common.quotient_degree_factor;
    expect(
        o.constants.len() == common.num_constants,
        "constants openings",
    )?;
    expect(
        o.plonk_sigmas.len() == config.num_routed_wires,
        "sigma openings",
    )?;
    expect(o.wires.len() == config.num_wires, "wire openings")?;
    expect(o.plonk_zs.len() == config.num_challenges, "Z openings")?;
    expect(
        o.plonk_zs_next.len() == config.num_challenges,
        "Z-next openings",
    )?;
    expect(
        o.partial_products.len() == config.num_challenges * common.num_partial_products,
        "partial-product openings",
    )?;
    expect(
        o.quotient_polys.len() == quotient_polys,
        "quotient openings",
    )?;
    expect(o.lookup_zs.len() == lookups, "lookup openings")?;
    expect(o.lookup_zs_next.len() == lookups, "lookup-next openings")?;

    let fri = &p.opening_proof;
    let arities = &params.reduction_arity_bits;
    expect(
        fri.commit_phase_merkle_caps.len() == arities.len(),
        &format!(
            "{} FRI commit-phase caps, the circuit expects {} (wrong degree?)",
            fri.commit_phase_merkle_caps.len(),
            arities.len()
        ),
    )?;
    for cap in &fri.commit_phase_merkle_caps {
        expect(cap.0.len() == cap_len, "FRI commit-phase cap length")?;
    }
    expect(
        fri.query_round_proofs.len() == config.fri_config.num_query_rounds,
        "number of FRI query rounds",
    )?;
    let leaf_lens = [
        common.num_constants + config.num_routed_wires,
        config.num_wires,
        config.num_challenges * (1 + common.num_partial_products) + lookups,
        quotient_polys,
    ];
    let lde_bits = params.lde_bits();
    for round in &fri.query_round_proofs {
        let trees = &round.initial_trees_proof.evals_proofs;
        expect(trees.len() == leaf_lens.len(), "FRI initial oracles")?;
        for ((leaf, path), want) in trees.iter().zip(leaf_lens) {
            expect(leaf.len() == want, "FRI initial leaf length")?;
            expect(
                path.siblings.len() + config.fri_config.cap_height == lde_bits,
                "FRI initial Merkle path length (wrong degree?)",
            )?;
        }
        expect(round.steps.len() == arities.len(), "FRI query steps")?;
        let mut codeword_bits = lde_bits;
        for (step, &arity_bits) in round.steps.iter().zip(arities) {
            codeword_bits -= arity_bits;
            expect(step.evals.len() == 1 << arity_bits, "FRI step evaluations")?;
            expect(
                step.merkle_proof.siblings.len() + config.fri_config.cap_height == codeword_bits,
                "FRI step Merkle path length",
            )?;
        }
    }
    expect(
        fri.final_poly.len() == params.final_poly_len(),
        "FRI final polynomial length",
    )?;
    Ok(())
}

/// Verifies `proof` natively under `key` and `common` (plonky2 checks the shape first).
pub(crate) fn verify_under(
    proof: &ProofWithPublicInputs<F, C, D>,
    key: &VerifierOnlyCircuitData<C, D>,
    common: &CommonCircuitData<F, D>,
) -> anyhow::Result<()> {
    plonky2::plonk::circuit_data::VerifierCircuitData {
        verifier_only: key.clone(),
        common: common.clone(),
    }
    .verify(proof.clone())
}
