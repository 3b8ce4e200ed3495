//! Round 4: the scheduler — the recursion tip tied to the rollup's batch statement.
//!
//! The scheduler verifies ONE recursion-tip proof against the tip's verifying key (a constant),
//! takes the tip's per-type outputs as witness (present flag, first input, last output, count
//! of the signature, state and priority types), recomputes the tip's `types_commitment` from
//! them and connects it to the tip proof's public inputs, and then enforces the cross-type
//! links of docs/rollup-circuits.md §5:
//!
//! - every running chain starts at `ZERO`: the signature type's signed-operations chain, the
//!   priority type's deposits chain, and the state type's operations, signed-operations,
//!   deposits, withdrawals and pubdata chains;
//! - signatures ↔ state: the signature type's final signed-operations chain equals the state
//!   type's (so both saw the same signed operations, in order, with the same keys and nonces);
//! - deposits ↔ state: the priority type's final deposits chain equals the state type's (the
//!   state applied exactly the L1 queue's deposits, in order); `deposits_consumed` is the
//!   priority type's count (its circuit advances the serial by one per deposit);
//! - state ↔ batch: the state type's first root is the previous state root, its last outputs
//!   are the new root and the operations, withdrawals and pubdata commitments;
//! - the tip's key digest equals the constant digest of the leaf and node keys.
//!
//! The state type must be present (a batch proof covers at least one operation). Absent
//! signature and priority types need no special case: the tip forces an absent type's first input to equal
//! its last output and its count to 0, so with its chain starting at `ZERO` an absent priority
//! type gives `deposits_consumed = 0` and a `ZERO` deposits commitment, which the state type
//! must then match.
//!
//! Public inputs ([`SCHEDULER_PUBLIC_INPUTS`] = 33 field elements), in the order of
//! `zkfleet_types::BatchPublicOutput` (see [`batch_public_inputs`] / [`decode_public_output`]):
//! chain id (lo, hi), batch number, previous state root (4), new state root (4), operations
//! commitment (4), deposits consumed (lo, hi), deposits commitment (4), withdrawals commitment
//! (4), pubdata commitment (4), recursion tree key digest (4).
//!
//! Every public input has one encoding (the decoder refuses any other): the chain id limbs are
//! the state type's 32-bit run constants themselves (range-checked here), the batch number is a
//! range-checked 32-bit witness, `deposits_consumed` is the priority type's count range-checked
//! to 32 bits with a constant zero high limb, the digests are field elements (read canonically)
//! copied from the tip's outputs, and the tree key digest is a constant.
//!
//! The chain id is the state type's run constant (the leaf makes it equal in every state
//! instance). The batch number is in no closed form: it is a witness, range-checked to 32 bits,
//! that the proof merely repeats. What binds it is the verifier: the final proof is accepted
//! for a batch only if its public inputs equal that batch's expected output, batch number
//! included. The operator id is a run constant of the state type as well, but
//! `BatchPublicOutput` has no field for it, so it is not exposed.
//!
//! The recursion tree key digest is `hash_no_pad(for each type: circuit id, basic key digest;
//! recursion_vk_digest of the tip (leaf keys and node key); tip key digest)`: a constant of the
//! scheduler circuit, so the scheduler's key (and through the compression chain the final key)
//! commits to every key of the tree, and the verifier can compare the exposed digest with the
//! keys it expects.

use plonky2::field::types::{Field, PrimeField64};
use plonky2::hash::hash_types::HashOut;
use plonky2::hash::poseidon::PoseidonHash;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::{PartialWitness, WitnessWrite};
use plonky2::plonk::circuit_builder::CircuitBuilder;
use plonky2::plonk::circuit_data::{CircuitData, VerifierOnlyCircuitData};
use plonky2::plonk::config::Hasher;
use plonky2::plonk::proof::{ProofWithPublicInputs, ProofWithPublicInputsTarget};
use plonky2::util::serialization::{Buffer, Read, Write};
use zkfleet_types::{BatchNumber, BatchPublicOutput, ChainId, CircuitId, HashDigest};

use super::codec;
use super::error::prove_guarded;
use super::setup::RecursionCircuits;
use super::shape::check_proof_shape;
use super::tip::{tip_commitment_target, TipOutput, TipProof, TypeOutput, TypeOutputTargets};
use super::vk::{to_hash_digest, verifying_key_digest};
use super::{recursion_config, RecursionError, C, D, F};

const LAYER: &str = "scheduler";

/// Public inputs of a scheduler proof (and of the final proof, which repeats them).
pub const SCHEDULER_PUBLIC_INPUTS: usize = 33;

/// Closed-form layouts the scheduler reads (docs/rollup-circuits.md §2–4).
mod layout {
    /// Signature type: the signed-operations chain (4).
    pub(crate) const SIGNATURE_LEN: usize = 4;
    /// State type, carried closed form: root, operations, signed operations, deposits,
    /// withdrawals, pubdata (4 each), then the run constants chain id (lo, hi) and operator.
    pub(crate) const STATE_LEN: usize = 27;
    pub(crate) const STATE_ROOT: usize = 0;
    pub(crate) const STATE_OPERATIONS: usize = 4;
    pub(crate) const STATE_SIGNED: usize = 8;
    pub(crate) const STATE_DEPOSITS: usize = 12;
    pub(crate) const STATE_WITHDRAWALS: usize = 16;
    pub(crate) const STATE_PUBDATA: usize = 20;
    pub(crate) const STATE_CHAIN_ID: usize = 24;
    /// The chains of the state type, which all start at `ZERO`.
    pub(crate) const STATE_CHAINS: [usize; 5] = [
        STATE_OPERATIONS,
        STATE_SIGNED,
        STATE_DEPOSITS,
        STATE_WITHDRAWALS,
        STATE_PUBDATA,
    ];
    /// Priority type: deposits chain (4), next priority serial (lo, hi).
    pub(crate) const PRIORITY_LEN: usize = 6;
    pub(crate) const PRIORITY_DEPOSITS: usize = 0;
}

/// The positions of the three rollup types in the tip's type list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TypeSlots {
    signature: usize,
    state: usize,
    priority: usize,
}

impl TypeSlots {
    fn locate(ids: &[(CircuitId, usize)]) -> Result<Self, RecursionError> {
        let find = |id: CircuitId, len: usize| -> Result<usize, RecursionError> {
            let at = ids.iter().position(|(c, _)| *c == id).ok_or_else(|| {
                RecursionError::InvalidGeometry(format!(
                    "the recursion tip has no slot for {} (circuit id {id})",
                    id.name()
                ))
            })?;
            if ids[at].1 != len {
                return Err(RecursionError::InvalidGeometry(format!(
                    "{} has a closed form of {} elements in the tip, the scheduler reads {len}",
                    id.name(),
                    ids[at].1
                )));
            }
            Ok(at)
        };
        if ids.len() != 3 {
            return Err(RecursionError::InvalidGeometry(format!(
                "the scheduler expects the three rollup types in the tip, it lists {}",
                ids.len()
            )));
        }
        Ok(Self {
            signature: find(CircuitId::SIGNATURE_VERIFICATION, layout::SIGNATURE_LEN)?,
            state: find(CircuitId::STATE_TRANSITION, layout::STATE_LEN)?,
            priority: find(CircuitId::PRIORITY_OPERATIONS, layout::PRIORITY_LEN)?,
        })
    }
}

/// The digest of every key of the recursion tree (layout in the module docs).
pub fn recursion_tree_vk_digest(
    circuits: &RecursionCircuits,
    tip_key: &VerifierOnlyCircuitData<C, D>,
) -> HashOut<F> {
    let mut preimage = Vec::new();
    for leaf in circuits.leaves() {
        preimage.push(F::from_canonical_u8(leaf.circuit_id().0));
        preimage.extend_from_slice(&verifying_key_digest(&leaf.shape().verifier_only).elements);
    }
    preimage.extend_from_slice(&circuits.tip().recursion_vk_digest().elements);
    preimage.extend_from_slice(&verifying_key_digest(tip_key).elements);
    PoseidonHash::hash_no_pad(&preimage)
}

/// The scheduler's public inputs for `output` (order in the module docs).
pub fn batch_public_inputs(output: &BatchPublicOutput) -> Result<Vec<F>, RecursionError> {
    let mut out = Vec::with_capacity(SCHEDULER_PUBLIC_INPUTS);
    let limbs = |v: u64| {
        [
            F::from_canonical_u64(v & 0xffff_ffff),
            F::from_canonical_u64(v >> 32),
        ]
    };
    let digest = |what: &str, d: &HashDigest| -> Result<[F; 4], RecursionError> {
        let mut e = [F::ZERO; 4];
        for (x, &v) in e.iter_mut().zip(&d.0) {
            *x = crate::field_element(v).map_err(|_| {
                RecursionError::InvalidBatchOutput(format!(
                    "{what} element {v} is not a field element"
                ))
            })?;
        }
        Ok(e)
    };
    out.extend(limbs(output.chain_id.0));
    out.push(F::from_canonical_u32(output.batch_number.0));
    out.extend(digest("previous state root", &output.prev_state_root)?);
    out.extend(digest("new state root", &output.new_state_root)?);
    out.extend(digest(
        "operations commitment",
        &output.operations_commitment,
    )?);
    if output.deposits_consumed > u64::from(u32::MAX) {
        return Err(RecursionError::InvalidBatchOutput(format!(
            "deposits consumed {} is not below 2^32, which the scheduler requires",
            output.deposits_consumed
        )));
    }
    out.extend(limbs(output.deposits_consumed));
    out.extend(digest("deposits commitment", &output.deposits_commitment)?);
    out.extend(digest(
        "withdrawals commitment",
        &output.withdrawals_commitment,
    )?);
    out.extend(digest("pubdata commitment", &output.pubdata_commitment)?);
    out.extend(digest(
        "recursion tree key digest",
        &output.recursion_tree_vk_digest,
    )?);
    Ok(out)
}

/// Reads the batch public output from a scheduler or final proof's public inputs.
pub fn decode_public_output(public_inputs: &[F]) -> Result<BatchPublicOutput, RecursionError> {
    let bad = |reason: String| RecursionError::InvalidBatchOutput(reason);
    if public_inputs.len() != SCHEDULER_PUBLIC_INPUTS {
        return Err(bad(format!(
            "{} public inputs, the batch output has {SCHEDULER_PUBLIC_INPUTS}",
            public_inputs.len()
        )));
    }
    let u64_at = |at: usize, what: &str| -> Result<u64, RecursionError> {
        let lo = public_inputs[at].to_canonical_u64();
        let hi = public_inputs[at + 1].to_canonical_u64();
        if lo > u64::from(u32::MAX) || hi > u64::from(u32::MAX) {
            return Err(bad(format!("{what} limbs ({lo}, {hi}) are not 32-bit")));
        }
        Ok(lo | (hi << 32))
    };
    let digest = |at: usize| {
        HashDigest([
            public_inputs[at].to_canonical_u64(),
            public_inputs[at + 1].to_canonical_u64(),
            public_inputs[at + 2].to_canonical_u64(),
            public_inputs[at + 3].to_canonical_u64(),
        ])
    };
    // deposits_consumed: the circuit exposes (count, 0) with count < 2^32. Any other high limb
    // is refused by name; in particular (count + 1, 2^32 - 1) reads as count + p, which the
    // field cannot tell from count.
    let deposits_consumed = {
        let lo = public_inputs[15].to_canonical_u64();
        let hi = public_inputs[16].to_canonical_u64();
        if hi != 0 {
            let note = if hi == u64::from(u32::MAX) && lo != 0 {
                " (the limbs encode a value of at least p, equal in the field to a smaller one)"
            } else {
                ""
            };
            return Err(bad(format!(
                "deposits consumed limbs ({lo}, {hi}) are not canonical: the high limb must be \
                 0, the scheduler exposes deposits_consumed < 2^32{note}"
            )));
        }
        if lo > u64::from(u32::MAX) {
            return Err(bad(format!(
                "deposits consumed low limb {lo} is not 32-bit"
            )));
        }
        lo
    };
    let batch = public_inputs[2].to_canonical_u64();
    let batch_number = u32::try_from(batch)
        .map(BatchNumber)
        .map_err(|_| bad(format!("batch number {batch} is not 32-bit")))?;
    Ok(BatchPublicOutput {
        chain_id: ChainId(u64_at(0, "chain id")?),
        batch_number,
        prev_state_root: digest(3),
        new_state_root: digest(7),
        operations_commitment: digest(11),
        deposits_consumed,
        deposits_commitment: digest(17),
        withdrawals_commitment: digest(21),
        pubdata_commitment: digest(25),
        recursion_tree_vk_digest: digest(29),
    })
}

/// What the scheduler is proven over.
#[derive(Debug, Clone)]
pub struct SchedulerWitness {
    /// The recursion-tip proof.
    pub tip_proof: ProofWithPublicInputs<F, C, D>,
    /// The per-type outputs the tip proof commits to, in the tip's type order.
    pub types: Vec<TypeOutput>,
    /// The batch's number, which the scheduler puts in the public output.
    pub batch_number: BatchNumber,
}

/// A scheduler proof with the batch output it attests.
#[derive(Debug, Clone)]
pub struct SchedulerProof {
    /// The proof; its public inputs encode `output`.
    pub proof: ProofWithPublicInputs<F, C, D>,
    /// The batch public output, decoded.
    pub output: BatchPublicOutput,
}

#[derive(Debug, Clone)]
struct SchedulerTargets {
    tip_proof: ProofWithPublicInputsTarget<D>,
    /// Per type, in the tip's order: present, first input, last output, count.
    types: Vec<(BoolTarget, Vec<Target>, Vec<Target>, Target)>,
    batch_number: Target,
}

/// The scheduler circuit of one recursion geometry.
#[derive(Debug)]
pub struct SchedulerCircuit {
    /// The tip's types (circuit id, closed-form length), in order.
    types: Vec<(CircuitId, usize)>,
    slots: TypeSlots,
    recursion_vk_digest: HashOut<F>,
    tree_vk_digest: HashOut<F>,
    tip_common: plonky2::plonk::circuit_data::CommonCircuitData<F, D>,
    data: CircuitData<F, C, D>,
    targets: SchedulerTargets,
}

impl SchedulerCircuit {
    /// Builds the scheduler over the tip of `circuits`.
    pub fn build(circuits: &RecursionCircuits) -> Result<Self, RecursionError> {
        let tip = circuits.tip();
        let types: Vec<(CircuitId, usize)> = tip
            .types()
            .iter()
            .map(|t| (t.circuit_id, t.closed_form_len))
            .collect();
        let slots = TypeSlots::locate(&types)?;
        let tip_data = tip.circuit_data();
        let tip_common = tip_data.common.clone();
        let recursion_vk_digest = tip.recursion_vk_digest();
        let tree_vk_digest = recursion_tree_vk_digest(circuits, &tip_data.verifier_only);

        let mut builder = CircuitBuilder::<F, D>::new(recursion_config());
        let tip_proof = builder.add_virtual_proof_with_pis(&tip_common);
        let tip_key = builder.constant_verifier_data(&tip_data.verifier_only);
        builder.verify_proof::<C>(&tip_proof, &tip_key, &tip_common);

        let mut outputs = Vec::with_capacity(types.len());
        let mut type_targets = Vec::with_capacity(types.len());
        for &(id, len) in &types {
            let present = builder.add_virtual_bool_target_safe();
            let first_input = builder.add_virtual_targets(len);
            let last_output = builder.add_virtual_targets(len);
            let count = builder.add_virtual_target();
            outputs.push(TypeOutputTargets {
                present,
                circuit_id: builder.constant(F::from_canonical_u8(id.0)),
                first_input: first_input.clone(),
                last_output: last_output.clone(),
                count,
            });
            type_targets.push((present, first_input, last_output, count));
        }
        // The witnessed per-type outputs are the ones the tip proof commits to.
        let commitment = tip_commitment_target(&mut builder, &outputs);
        for (c, pi) in commitment
            .elements
            .iter()
            .zip(&tip_proof.public_inputs[0..4])
        {
            builder.connect(*c, *pi);
        }
        // The tip accepted exactly the leaf and node keys of this geometry.
        for (d, pi) in recursion_vk_digest
            .elements
            .iter()
            .zip(&tip_proof.public_inputs[4..8])
        {
            let d = builder.constant(*d);
            builder.connect(d, *pi);
        }

        let zero = builder.zero();
        let assert_zero = |b: &mut CircuitBuilder<F, D>, t: &[Target]| {
            for x in t {
                b.connect(*x, zero);
            }
        };
        let assert_equal = |b: &mut CircuitBuilder<F, D>, x: &[Target], y: &[Target]| {
            for (p, q) in x.iter().zip(y) {
                b.connect(*p, *q);
            }
        };
        let (_, sig_first, sig_last, _) = type_targets[slots.signature].clone();
        let (state_present, state_first, state_last, _) = type_targets[slots.state].clone();
        // A batch proof covers at least one operation, so the state type is never absent (an
        // absent state type's closed form would be an unconstrained witness).
        let one = builder.one();
        builder.connect(state_present.target, one);
        let (_, prio_first, prio_last, prio_count) = type_targets[slots.priority].clone();
        let digest = |v: &[Target], at: usize| v[at..at + 4].to_vec();

        // Every chain starts at ZERO.
        assert_zero(&mut builder, &sig_first);
        for at in layout::STATE_CHAINS {
            assert_zero(&mut builder, &digest(&state_first, at));
        }
        assert_zero(
            &mut builder,
            &digest(&prio_first, layout::PRIORITY_DEPOSITS),
        );
        // Signatures ↔ state, deposits ↔ state.
        assert_equal(
            &mut builder,
            &sig_last,
            &digest(&state_last, layout::STATE_SIGNED),
        );
        assert_equal(
            &mut builder,
            &digest(&prio_last, layout::PRIORITY_DEPOSITS),
            &digest(&state_last, layout::STATE_DEPOSITS),
        );

        let batch_number = builder.add_virtual_target();
        builder.range_check(batch_number, 32);
        // The state circuit range-checks the chain id limbs of every instance; an absent state
        // type has an unconstrained closed form, so check them here too.
        for k in 0..2 {
            builder.range_check(state_first[layout::STATE_CHAIN_ID + k], 32);
        }
        // deposits_consumed = the priority type's count, range-checked to 32 bits and exposed
        // as the limbs (count, 0). A split of the count into two 32-bit limbs would not be
        // canonical: `split_low_high(count, 32, 64)` also accepts (count + 1, 2^32 - 1), whose
        // value count + p is the count in the field, so a decoder would read count + p.
        builder.range_check(prio_count, 32);
        let (consumed_lo, consumed_hi) = (prio_count, zero);

        let mut public = Vec::with_capacity(SCHEDULER_PUBLIC_INPUTS);
        public.extend_from_slice(&state_first[layout::STATE_CHAIN_ID..layout::STATE_CHAIN_ID + 2]);
        public.push(batch_number);
        public.extend(digest(&state_first, layout::STATE_ROOT));
        public.extend(digest(&state_last, layout::STATE_ROOT));
        public.extend(digest(&state_last, layout::STATE_OPERATIONS));
        public.extend([consumed_lo, consumed_hi]);
        public.extend(digest(&state_last, layout::STATE_DEPOSITS));
        public.extend(digest(&state_last, layout::STATE_WITHDRAWALS));
        public.extend(digest(&state_last, layout::STATE_PUBDATA));
        let tree = builder.constant_hash(tree_vk_digest);
        public.extend(tree.elements);
        debug_assert_eq!(public.len(), SCHEDULER_PUBLIC_INPUTS);
        builder.register_public_inputs(&public);

        let data = builder.build::<C>();
        Ok(Self {
            types,
            slots,
            recursion_vk_digest,
            tree_vk_digest,
            tip_common,
            data,
            targets: SchedulerTargets {
                tip_proof,
                types: type_targets,
                batch_number,
            },
        })
    }

    /// The scheduler's plonky2 circuit data.
    pub fn circuit_data(&self) -> &CircuitData<F, C, D> {
        &self.data
    }

    /// The digest of every key of the recursion tree, as the scheduler exposes it.
    pub fn tree_vk_digest(&self) -> HashDigest {
        to_hash_digest(self.tree_vk_digest)
    }

    /// The native scheduler: checks every link the circuit enforces on the tip's outputs and
    /// returns the batch public output they give. A refusal names the link that fails.
    pub fn check(
        &self,
        tip: &TipOutput,
        batch_number: BatchNumber,
    ) -> Result<BatchPublicOutput, RecursionError> {
        let link =
            |link: &'static str, reason: String| RecursionError::CrossTypeLink { link, reason };
        if tip.recursion_vk_digest != self.recursion_vk_digest {
            return Err(link(
                "keys",
                "the tip accepted other leaf or node keys than this geometry's".into(),
            ));
        }
        if tip.types.len() != self.types.len() {
            return Err(link(
                "types",
                format!(
                    "{} type outputs, the tip has {}",
                    tip.types.len(),
                    self.types.len()
                ),
            ));
        }
        for (t, &(id, len)) in tip.types.iter().zip(&self.types) {
            if t.circuit_id != id || t.first_input.len() != len || t.last_output.len() != len {
                return Err(link(
                    "types",
                    format!(
                        "type output for circuit id {} does not fit slot {id}",
                        t.circuit_id
                    ),
                ));
            }
        }
        let sig = &tip.types[self.slots.signature];
        let state = &tip.types[self.slots.state];
        let prio = &tip.types[self.slots.priority];
        let digest = |v: &[F], at: usize| -> Vec<F> { v[at..at + 4].to_vec() };
        let is_zero = |v: &[F]| v.iter().all(|x| *x == F::ZERO);
        if !state.present {
            return Err(link(
                "state present",
                "the state type is absent: a batch proof covers at least one operation".into(),
            ));
        }
        if !is_zero(&sig.first_input) {
            return Err(link(
                "signatures start",
                "signed-operations chain does not start at ZERO".into(),
            ));
        }
        for at in layout::STATE_CHAINS {
            if !is_zero(&digest(&state.first_input, at)) {
                return Err(link(
                    "state start",
                    format!("state chain at element {at} does not start at ZERO"),
                ));
            }
        }
        if !is_zero(&digest(&prio.first_input, layout::PRIORITY_DEPOSITS)) {
            return Err(link(
                "deposits start",
                "the priority type's deposits chain does not start at ZERO".into(),
            ));
        }
        if sig.last_output != digest(&state.last_output, layout::STATE_SIGNED) {
            return Err(link(
                "signatures ↔ state",
                "the signature and state types saw different signed-operation sequences".into(),
            ));
        }
        if digest(&prio.last_output, layout::PRIORITY_DEPOSITS)
            != digest(&state.last_output, layout::STATE_DEPOSITS)
        {
            return Err(link(
                "deposits ↔ state",
                "the state type applied other deposits than the priority queue's".into(),
            ));
        }
        if prio.count > u64::from(u32::MAX) {
            return Err(link(
                "deposits consumed",
                format!(
                    "{} deposits: the scheduler exposes deposits_consumed below 2^32",
                    prio.count
                ),
            ));
        }
        let hd =
            |v: &[F], at: usize| HashDigest(std::array::from_fn(|k| v[at + k].to_canonical_u64()));
        let chain_lo = state.first_input[layout::STATE_CHAIN_ID].to_canonical_u64();
        let chain_hi = state.first_input[layout::STATE_CHAIN_ID + 1].to_canonical_u64();
        if chain_lo > u64::from(u32::MAX) || chain_hi > u64::from(u32::MAX) {
            return Err(link("chain id", "chain id limbs are not 32-bit".into()));
        }
        Ok(BatchPublicOutput {
            chain_id: ChainId(chain_lo | (chain_hi << 32)),
            batch_number,
            prev_state_root: hd(&state.first_input, layout::STATE_ROOT),
            new_state_root: hd(&state.last_output, layout::STATE_ROOT),
            operations_commitment: hd(&state.last_output, layout::STATE_OPERATIONS),
            deposits_consumed: prio.count,
            deposits_commitment: hd(&state.last_output, layout::STATE_DEPOSITS),
            withdrawals_commitment: hd(&state.last_output, layout::STATE_WITHDRAWALS),
            pubdata_commitment: hd(&state.last_output, layout::STATE_PUBDATA),
            recursion_tree_vk_digest: self.tree_vk_digest(),
        })
    }

    /// The native scheduler on a raw witness: the tip proof verifies under the tip key, the
    /// type outputs are the ones it commits to, and the links hold ([`Self::check`]).
    pub fn check_witness(
        &self,
        witness: &SchedulerWitness,
    ) -> Result<BatchPublicOutput, RecursionError> {
        check_proof_shape(&witness.tip_proof, &self.tip_common)
            .map_err(|e| RecursionError::child(LAYER, 0, format!("not a tip proof: {e}")))?;
        let tip = TipOutput {
            types: witness.types.clone(),
            recursion_vk_digest: self.recursion_vk_digest,
        };
        if witness.tip_proof.public_inputs != tip.public_inputs() {
            return Err(RecursionError::CrossTypeLink {
                link: "tip commitment",
                reason: "the type outputs (or key digest) are not those the tip proof commits to"
                    .into(),
            });
        }
        self.check(&tip, witness.batch_number)
    }

    /// Proves the scheduler over a verified tip proof after the native checks.
    pub fn prove(
        &self,
        tip: &TipProof,
        batch_number: BatchNumber,
    ) -> Result<SchedulerProof, RecursionError> {
        let output = self.check(&tip.output, batch_number)?;
        let witness = SchedulerWitness {
            tip_proof: tip.proof.clone(),
            types: tip.output.types.clone(),
            batch_number,
        };
        let proof = self.prove_witness(&witness)?;
        if proof.output != output {
            return Err(RecursionError::verification(
                LAYER,
                "the proof's batch output differs from the native scheduler's",
            ));
        }
        Ok(proof)
    }

    /// Fills the witness with structural checks only (the soundness tests use it to reach the
    /// circuit with witnesses the native scheduler refuses).
    pub fn assign_witness(
        &self,
        witness: &SchedulerWitness,
    ) -> Result<PartialWitness<F>, RecursionError> {
        check_proof_shape(&witness.tip_proof, &self.tip_common)
            .map_err(|e| RecursionError::child(LAYER, 0, format!("not a tip proof: {e}")))?;
        if witness.types.len() != self.types.len() {
            return Err(RecursionError::child(
                LAYER,
                0,
                format!(
                    "{} type outputs, the tip has {}",
                    witness.types.len(),
                    self.types.len()
                ),
            ));
        }
        let mut pw = PartialWitness::new();
        let set = |r: anyhow::Result<()>| r.map_err(|e| RecursionError::proving(LAYER, e));
        set(pw.set_proof_with_pis_target(&self.targets.tip_proof, &witness.tip_proof))?;
        for (i, (t, (present, first, last, count))) in
            witness.types.iter().zip(&self.targets.types).enumerate()
        {
            if t.first_input.len() != first.len() || t.last_output.len() != last.len() {
                return Err(RecursionError::child(
                    LAYER,
                    0,
                    format!("type output {i} has a closed form of the wrong length"),
                ));
            }
            set(pw.set_bool_target(*present, t.present))?;
            for (tg, v) in first.iter().zip(&t.first_input) {
                set(pw.set_target(*tg, *v))?;
            }
            for (tg, v) in last.iter().zip(&t.last_output) {
                set(pw.set_target(*tg, *v))?;
            }
            set(pw.set_target(*count, F::from_canonical_u64(t.count)))?;
        }
        set(pw.set_target(
            self.targets.batch_number,
            F::from_canonical_u32(witness.batch_number.0),
        ))?;
        Ok(pw)
    }

    /// Proves from a witness; the proof is verified before it is returned.
    pub fn prove_witness(
        &self,
        witness: &SchedulerWitness,
    ) -> Result<SchedulerProof, RecursionError> {
        let pw = self.assign_witness(witness)?;
        let proof = prove_guarded(LAYER, &self.data, pw)?;
        let output = self.verify(&proof)?;
        Ok(SchedulerProof { proof, output })
    }

    /// Verifies a scheduler proof and decodes the batch output it attests.
    pub fn verify(
        &self,
        proof: &ProofWithPublicInputs<F, C, D>,
    ) -> Result<BatchPublicOutput, RecursionError> {
        check_proof_shape(proof, &self.data.common)
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        self.data
            .verify(proof.clone())
            .map_err(|e| RecursionError::verification(LAYER, e))?;
        decode_public_output(&proof.public_inputs)
    }

    /// Encodes the circuit (type list, key digests, tip common data, circuit data, targets).
    pub fn to_bytes(&self) -> Result<Vec<u8>, RecursionError> {
        const WHAT: &str = "scheduler circuit";
        let mut out = Vec::new();
        codec::write_header(&mut out, b"SCHD");
        codec::write_usize(&mut out, self.types.len());
        for (id, len) in &self.types {
            out.push(id.0);
            codec::write_usize(&mut out, *len);
        }
        for d in [self.recursion_vk_digest, self.tree_vk_digest] {
            for e in d.elements {
                out.extend_from_slice(&e.to_canonical_u64().to_le_bytes());
            }
        }
        codec::write_blob(&mut out, &codec::common_to_bytes(&self.tip_common, WHAT)?);
        codec::write_blob(&mut out, &codec::circuit_data_to_bytes(&self.data, WHAT)?);
        let targets = codec::targets_to_bytes(WHAT, |buf| {
            buf.write_target_proof_with_public_inputs(&self.targets.tip_proof)?;
            for (present, first, last, count) in &self.targets.types {
                buf.write_target_bool(*present)?;
                buf.write_target_vec(first)?;
                buf.write_target_vec(last)?;
                buf.write_target(*count)?;
            }
            buf.write_target(self.targets.batch_number)
        })?;
        codec::write_blob(&mut out, &targets);
        Ok(out)
    }

    /// Reads a circuit written by [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RecursionError> {
        const WHAT: &str = "scheduler circuit";
        let ser = |e| RecursionError::serialization(WHAT, e);
        let mut buffer = Buffer::new(bytes);
        codec::read_header(&mut buffer, b"SCHD", WHAT)?;
        let n = codec::read_usize(&mut buffer, WHAT)?;
        let mut types = Vec::with_capacity(n.min(256));
        for _ in 0..n {
            let id = CircuitId(buffer.read_u8().map_err(ser)?);
            types.push((id, codec::read_usize(&mut buffer, WHAT)?));
        }
        let slots = TypeSlots::locate(&types)?;
        let mut digests = [HashOut::<F>::ZERO; 2];
        for d in &mut digests {
            for e in &mut d.elements {
                let mut b = [0u8; 8];
                buffer.read_exact(&mut b).map_err(ser)?;
                let v = u64::from_le_bytes(b);
                *e = crate::field_element(v).map_err(|_| RecursionError::Serialization {
                    what: WHAT,
                    reason: format!("key digest element {v} is not a field element"),
                })?;
            }
        }
        let tip_common = codec::common_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
        let data = codec::circuit_data_from_bytes(codec::read_blob(&mut buffer, WHAT)?, WHAT)?;
        let target_bytes = codec::read_blob(&mut buffer, WHAT)?;
        codec::expect_end(&buffer, WHAT)?;
        let mut tb = Buffer::new(target_bytes);
        let tip_proof = tb.read_target_proof_with_public_inputs().map_err(ser)?;
        let mut type_targets = Vec::with_capacity(n);
        for _ in 0..n {
            type_targets.push((
                tb.read_target_bool().map_err(ser)?,
                tb.read_target_vec().map_err(ser)?,
                tb.read_target_vec().map_err(ser)?,
                tb.read_target().map_err(ser)?,
            ));
        }
        let batch_number = tb.read_target().map_err(ser)?;
        codec::expect_end(&tb, WHAT)?;
        Ok(Self {
            types,
            slots,
            recursion_vk_digest: digests[0],
            tree_vk_digest: digests[1],
            tip_common,
            data,
            targets: SchedulerTargets {
                tip_proof,
                types: type_targets,
                batch_number,
            },
        })
    }
}
