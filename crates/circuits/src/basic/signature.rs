//! Signature verification: verifies the signatures of a chunk of signed operations.
//!
//! Each slot verifies one WOTS+XMSS signature of (message digest, signer public key, key index)
//! and advances the signed-operations chain with `H(acc, msg, pk, key_index)`
//! (`spec::signed_operations_step`). The state-transition circuit advances the same chain from
//! the message it rebuilds and the signer's leaf (with key index = the account nonce), so equal
//! chain ends prove both types saw the same signed operations with the same one-time keys.
//!
//! Closed form (`SIGNATURE_INPUT_LEN` + `SIGNATURE_OUTPUT_LEN` elements):
//! input = signed-operations chain before (4); output = signed-operations chain after (4).

use plonky2::hash::hash_types::HashOutTarget;
use plonky2::iop::target::{BoolTarget, Target};
use plonky2::iop::witness::PartialWitness;
use plonky2::plonk::circuit_builder::CircuitBuilder;
use serde::{Deserialize, Serialize};
use zkfleet_rollup::spec::WOTS_L;
use zkfleet_types::HashDigest;

use crate::basic::closed_form::register_closed_form;
use crate::basic::slots::{active_flags, slot_plan};
use crate::basic::witness::set_digest;
use crate::config::BasicGeometry;
use crate::error::CircuitError;
use crate::gadgets::hash::{conditional_assert_digest_eq, hash, select_digest};
use crate::gadgets::u64::{set_bool, set_target};
use crate::gadgets::xmss::{recover_public_key_and_digits, DigitBits, SignatureTargets};
use crate::{D, F};

/// Closed-form input length: the signed-operations chain before.
pub const SIGNATURE_INPUT_LEN: usize = 4;
/// Closed-form output length: the signed-operations chain after.
pub const SIGNATURE_OUTPUT_LEN: usize = 4;

/// One signature to verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureSlot {
    /// The signed message digest of the operation.
    pub message: HashDigest,
    /// The signer's account public key (the root of its one-time-key tree).
    pub public_key: HashDigest,
    /// The one-time key used: the sender's nonce.
    pub key_index: u32,
    /// The 133 chain values at the signed positions.
    pub chain_values: Vec<HashDigest>,
    /// The one-time-key tree path (`xmss_height` siblings).
    pub auth_path: Vec<HashDigest>,
}

/// Witness of one signature-verification instance: the chain value it starts from and up to
/// `signatures_per_instance` signatures (the rest of the slots are padding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureWitness {
    /// The signed-operations chain the instance starts from (the previous instance's output).
    pub signed_operations_before: HashDigest,
    /// The signatures, in batch order.
    pub slots: Vec<SignatureSlot>,
}

/// Targets of one signature slot: its witness inputs and, for the soundness tests
/// (`tests/soundness_basic.rs`), the hint outputs and running commitment they attack.
#[doc(hidden)]
#[derive(Debug, Clone)]
pub struct SignatureSlotTargets {
    pub active: BoolTarget,
    pub message: HashOutTarget,
    pub public_key: HashOutTarget,
    pub signature: SignatureTargets,
    /// The 133 signed digits (bit-decomposition hints: message bits, then checksum digits).
    pub digits: Vec<DigitBits>,
    /// The signed-operations chain after this slot.
    pub chain_after: HashOutTarget,
}

/// Targets of the signature-verification circuit.
#[derive(Debug, Clone)]
pub struct SignatureLayout {
    chain_before: HashOutTarget,
    slots: Vec<SignatureSlotTargets>,
    xmss_height: usize,
}

impl SignatureLayout {
    pub(crate) fn define(builder: &mut CircuitBuilder<F, D>, geometry: &BasicGeometry) -> Self {
        let xmss_height = geometry.xmss_height as usize;
        let capacity = geometry.signatures_per_instance as usize;
        let chain_before = builder.add_virtual_hash();
        let (actives, count) = active_flags(builder, capacity);
        let mut acc = chain_before;
        let mut slots = Vec::with_capacity(capacity);
        for active in actives {
            let message = builder.add_virtual_hash();
            let public_key = builder.add_virtual_hash();
            let signature = SignatureTargets::new_virtual(builder, xmss_height);
            let (recovered, digits) = recover_public_key_and_digits(builder, message, &signature);
            conditional_assert_digest_eq(builder, active.target, recovered, public_key);
            let mut inputs: Vec<Target> = Vec::with_capacity(13);
            inputs.extend_from_slice(&acc.elements);
            inputs.extend_from_slice(&message.elements);
            inputs.extend_from_slice(&public_key.elements);
            inputs.push(signature.key_index);
            let next = hash(builder, inputs);
            acc = select_digest(builder, active, next, acc);
            slots.push(SignatureSlotTargets {
                active,
                message,
                public_key,
                signature,
                digits,
                chain_after: acc,
            });
        }
        register_closed_form(builder, &chain_before.elements, &acc.elements, count);
        Self {
            chain_before,
            slots,
            xmss_height,
        }
    }

    /// The signed-operations chain before the first slot (a witness input).
    #[doc(hidden)]
    pub fn chain_before(&self) -> HashOutTarget {
        self.chain_before
    }

    /// Every slot's targets, for the soundness tests.
    #[doc(hidden)]
    pub fn slots(&self) -> &[SignatureSlotTargets] {
        &self.slots
    }

    pub(crate) fn set(
        &self,
        pw: &mut PartialWitness<F>,
        witness: &SignatureWitness,
        activity: Option<&[bool]>,
    ) -> Result<(), CircuitError> {
        let plan = slot_plan(self.slots.len(), witness.slots.len(), activity)?;
        set_digest(pw, self.chain_before, witness.signed_operations_before)?;
        let padding = SignatureSlot {
            message: HashDigest::ZERO,
            public_key: HashDigest::ZERO,
            key_index: 0,
            chain_values: vec![HashDigest::ZERO; WOTS_L],
            auth_path: vec![HashDigest::ZERO; self.xmss_height],
        };
        for (i, (targets, item)) in self.slots.iter().zip(plan).enumerate() {
            let (active, slot) = match item {
                Some(index) => (true, &witness.slots[index]),
                None => (false, &padding),
            };
            if slot.chain_values.len() != WOTS_L || slot.auth_path.len() != self.xmss_height {
                return Err(CircuitError::MalformedWitness(format!(
                    "signature {i} has {} chain values and {} path nodes, expected {WOTS_L} and {}",
                    slot.chain_values.len(),
                    slot.auth_path.len(),
                    self.xmss_height
                )));
            }
            set_bool(pw, targets.active, active)?;
            set_digest(pw, targets.message, slot.message)?;
            set_digest(pw, targets.public_key, slot.public_key)?;
            set_target(pw, targets.signature.key_index, u64::from(slot.key_index))?;
            for (&t, &v) in targets
                .signature
                .chain_values
                .iter()
                .zip(&slot.chain_values)
            {
                set_digest(pw, t, v)?;
            }
            for (&t, &v) in targets.signature.auth_path.iter().zip(&slot.auth_path) {
                set_digest(pw, t, v)?;
            }
        }
        Ok(())
    }
}
