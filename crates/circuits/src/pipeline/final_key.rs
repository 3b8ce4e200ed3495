//! The final verifying key: what a third party needs to check a batch's final proof, and
//! nothing else.
//!
//! Layout of the file `zkfleet keys generate` writes (`final_vk.bin`) and `zkfleet verify
//! --vk` reads:
//!
//! ```text
//! offset  size  field
//!      0     4  magic "ZKVK"
//!      4     2  format version (u16 LE), currently 1
//!      6     N  plonky2 1.1.0 `VerifierCircuitData::to_bytes(&DefaultGateSerializer)` of the
//!               last compression step: the verifier-only data (constants/sigmas Merkle cap,
//!               circuit digest) and the common circuit data (configuration, FRI parameters,
//!               gate list, public input count)
//! ```
//!
//! The proof is plonky2's `ProofWithPublicInputs::to_bytes` of that circuit; its 33 public
//! inputs are the batch public output (`recursion::decode_public_output`; docs/proofs.md).
//! The key's digest ([`FinalVerifyingKey::digest`], the Poseidon hash of the verifier-only data
//! as the recursion layers compute it) is what a protocol version records as its final
//! verifying-key digest.

use plonky2::field::types::PrimeField64;
use plonky2::plonk::circuit_data::VerifierCircuitData;
use plonky2::plonk::proof::ProofWithPublicInputs;
use plonky2::util::serialization::DefaultGateSerializer;
use zkfleet_types::{BatchPublicOutput, VkDigest};

use super::PipelineError;
use crate::recursion::{
    check_proof_shape, decode_public_output, to_vk_digest, verifying_key_digest, BatchCircuits,
};
use crate::{C, D, F};

const MAGIC: &[u8; 4] = b"ZKVK";
/// Version of the final verifying-key file.
pub const FINAL_VK_VERSION: u16 = 1;

/// The verifier data of the last compression step.
#[derive(Debug)]
pub struct FinalVerifyingKey {
    data: VerifierCircuitData<F, C, D>,
}

impl FinalVerifyingKey {
    /// The final key of a configuration's circuits.
    pub fn of(circuits: &BatchCircuits) -> Self {
        Self {
            data: circuits
                .compression()
                .final_circuit()
                .circuit_data()
                .verifier_data(),
        }
    }

    /// Digest of the verifying key (what protocol versions record).
    pub fn digest(&self) -> VkDigest {
        to_vk_digest(verifying_key_digest(&self.data.verifier_only))
    }

    /// The key's limbs as canonical integers (for manifests).
    pub fn digest_limbs(&self) -> [u64; 4] {
        verifying_key_digest(&self.data.verifier_only)
            .elements
            .map(|e| e.to_canonical_u64())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, PipelineError> {
        let body =
            self.data
                .to_bytes(&DefaultGateSerializer)
                .map_err(|e| PipelineError::Encode {
                    what: "final verifying key",
                    reason: format!("{e:?}"),
                })?;
        let mut out = Vec::with_capacity(6 + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FINAL_VK_VERSION.to_le_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PipelineError> {
        let malformed = |reason: String| PipelineError::MalformedWitness {
            what: "final verifying key",
            reason,
        };
        if bytes.len() < 6 || &bytes[..4] != MAGIC {
            return Err(malformed("does not start with \"ZKVK\"".into()));
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != FINAL_VK_VERSION {
            return Err(malformed(format!(
                "format version {version}, this build reads {FINAL_VK_VERSION}"
            )));
        }
        let data =
            VerifierCircuitData::<F, C, D>::from_bytes(bytes[6..].to_vec(), &DefaultGateSerializer)
                .map_err(|e| malformed(format!("{e:?}")))?;
        Ok(Self { data })
    }

    /// Verifies final proof bytes and returns the batch output they attest.
    pub fn verify(&self, proof_bytes: &[u8]) -> Result<BatchPublicOutput, PipelineError> {
        let proof =
            ProofWithPublicInputs::<F, C, D>::from_bytes(proof_bytes.to_vec(), &self.data.common)
                .map_err(|e| {
                PipelineError::InvalidInput(format!("not a final proof of this key: {e}"))
            })?;
        check_proof_shape(&proof, &self.data.common).map_err(|reason| {
            PipelineError::InvalidInput(format!("not a final proof of this key: {reason}"))
        })?;
        self.data
            .verify(proof.clone())
            .map_err(|e| PipelineError::FinalProofRejected(e.to_string()))?;
        Ok(decode_public_output(&proof.public_inputs)?)
    }
}
