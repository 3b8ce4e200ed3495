//! The final verifying key: what a third party needs to check a batch's final proof, and
//! nothing else — and how that third party knows it holds the right key.
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
//! **Trust.** plonky2's circuit digest covers the constants/sigmas cap and the degree, not the
//! common data: the FRI parameters, the number of challenges, the query rounds and the
//! proof-of-work bits are read from the file and obeyed by the verifier. A key file edited to
//! zero challenges and zero queries accepts an all-zero proof of any statement. So a key is
//! never taken from a file on its own word:
//!
//! - its digest ([`FinalVerifyingKey::digest`]) is the SHA-256 of **every byte** of the file
//!   (`sha256sum final_vk.bin` prints the same hex), and a key is loaded only through
//!   [`FinalVerifyingKey::from_pinned_bytes`], which compares that digest with the one the
//!   operator pinned (`insert-version`, `zkfleet verify --expect-vk-digest`, the sequencer's
//!   `final_vk_digest`) **before** the bytes are parsed;
//! - independently, the verification rules are fixed in code ([`check_policy`]): the
//!   configuration must be the final step of one of this build's compression profiles, with
//!   at least [`TARGET_SECURITY_BITS`] of conjectured security and two challenges, and 33 public
//!   inputs. A pinned digest of a weakened key is refused too.
//!
//! The proof is plonky2's `ProofWithPublicInputs::to_bytes` of that circuit; its 33 public
//! inputs are the batch public output (`recursion::decode_public_output`; docs/proofs.md). A
//! proof is accepted only in its canonical encoding (re-encoding it gives the same bytes: no
//! trailing bytes, no non-canonical field elements), and decoding and verifying never panic or
//! run unbounded: the sizes are bounded, the shape is checked against the key first, and a
//! panic inside plonky2 becomes an error.

use std::panic::{catch_unwind, AssertUnwindSafe};

use plonky2::plonk::circuit_data::{CircuitData, CommonCircuitData, VerifierCircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use plonky2::util::serialization::DefaultGateSerializer;
use sha2::{Digest as _, Sha256};
use zkfleet_types::{BatchPublicOutput, HashDigest, VkDigest};

use crate::recursion::{
    check_proof_shape, conjectured_security_bits, decode_public_output, BatchCircuits,
    CompressionProfile, RecursionError, SCHEDULER_PUBLIC_INPUTS, TARGET_SECURITY_BITS,
};
use crate::{C, D, F};

const MAGIC: &[u8; 4] = b"ZKVK";
/// Version of the final verifying-key file.
pub const FINAL_VK_VERSION: u16 = 1;
/// Largest key file read (the real one is about 1 KB): bounds what is hashed and parsed.
pub const MAX_FINAL_VK_BYTES: usize = 64 * 1024;
/// Largest final proof read (the real ones are 60–110 KB): bounds what is parsed.
pub const MAX_FINAL_PROOF_BYTES: usize = 1024 * 1024;
/// Largest degree a final circuit may claim: bounds the verifier's work whatever the key says.
const MAX_DEGREE_BITS: usize = 20;

/// Why a final key was refused or a final proof did not verify.
#[derive(Debug, thiserror::Error)]
pub enum FinalKeyError {
    /// The key file is larger than [`MAX_FINAL_VK_BYTES`]; refused unread.
    #[error("the key file is {len} bytes, more than a final verifying key can be ({MAX_FINAL_VK_BYTES})")]
    KeyTooLarge {
        /// The file's size.
        len: usize,
    },
    /// The file is not the pinned key: another key, or an altered one.
    #[error(
        "the key file's digest (SHA-256 of every byte) is {found}, not the pinned {expected}: \
         it is another key or it was altered, and it was refused before being read"
    )]
    NotPinned {
        /// The pinned digest.
        expected: VkDigest,
        /// The digest of the file given.
        found: VkDigest,
    },
    /// The file does not decode as a final verifying key, or is not the canonical encoding
    /// of the key it decodes to.
    #[error("malformed final verifying key: {0}")]
    MalformedKey(String),
    /// The key's verification rules are not the ones this build fixes in code.
    #[error("the final verifying key breaks the verification rules fixed in code: {0}")]
    Policy(String),
    /// The key could not be serialized.
    #[error("encoding the final verifying key: {0}")]
    Encode(String),
    /// The proof bytes do not decode as a proof of the key's circuit (or are too large).
    #[error("not a final proof of this key: {0}")]
    MalformedProof(String),
    /// plonky2's verifier refused the proof.
    #[error("the final proof does not verify: {0}")]
    Rejected(String),
    /// The proof verifies but its public inputs are not a (canonical) batch output.
    #[error(transparent)]
    Output(#[from] RecursionError),
}

/// The pinned digest of a final key file: SHA-256 of every byte.
pub fn final_vk_file_digest(bytes: &[u8]) -> VkDigest {
    VkDigest(HashDigest::from_bytes(Sha256::digest(bytes).into()))
}

/// The verifier data of the last compression step, with its canonical file bytes.
#[derive(Debug)]
pub struct FinalVerifyingKey {
    data: VerifierCircuitData<F, C, D>,
    bytes: Vec<u8>,
}

impl FinalVerifyingKey {
    /// The final key of a configuration's circuits.
    pub fn of(circuits: &BatchCircuits) -> Result<Self, FinalKeyError> {
        Self::of_final_circuit(circuits.compression().final_circuit().circuit_data())
    }

    /// The key of a last compression step's circuit (what [`Self::of`] takes from a
    /// configuration; the tests compress a small circuit of their own).
    pub fn of_final_circuit(circuit: &CircuitData<F, C, D>) -> Result<Self, FinalKeyError> {
        let data = circuit.verifier_data();
        let body = data
            .to_bytes(&DefaultGateSerializer)
            .map_err(|e| FinalKeyError::Encode(format!("{e:?}")))?;
        let mut bytes = Vec::with_capacity(6 + body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&FINAL_VK_VERSION.to_le_bytes());
        bytes.extend_from_slice(&body);
        Ok(Self { data, bytes })
    }

    /// Digest of the whole key file (what protocol versions record and operators pin).
    pub fn digest(&self) -> VkDigest {
        final_vk_file_digest(&self.bytes)
    }

    /// The key file's bytes.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Reads a key file that must be the one whose digest is `pinned`. The digest is compared
    /// before anything is parsed, so an altered file never reaches plonky2's decoder; the
    /// decoded key must then re-encode to the same bytes and obey [`check_policy`].
    pub fn from_pinned_bytes(bytes: &[u8], pinned: VkDigest) -> Result<Self, FinalKeyError> {
        if bytes.len() > MAX_FINAL_VK_BYTES {
            return Err(FinalKeyError::KeyTooLarge { len: bytes.len() });
        }
        let found = final_vk_file_digest(bytes);
        if found != pinned {
            return Err(FinalKeyError::NotPinned {
                expected: pinned,
                found,
            });
        }
        let malformed = |reason: String| FinalKeyError::MalformedKey(reason);
        if bytes.len() < 6 || &bytes[..4] != MAGIC {
            return Err(malformed("does not start with \"ZKVK\"".into()));
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != FINAL_VK_VERSION {
            return Err(malformed(format!(
                "format version {version}, this build reads {FINAL_VK_VERSION}"
            )));
        }
        let body = bytes[6..].to_vec();
        let data = catch_unwind(AssertUnwindSafe(|| {
            VerifierCircuitData::<F, C, D>::from_bytes(body, &DefaultGateSerializer)
        }))
        .map_err(|_| malformed("plonky2's decoder panicked on it".into()))?
        .map_err(|e| malformed(format!("{e:?}")))?;
        check_policy(&data.common)?;
        let key = Self {
            data,
            bytes: bytes.to_vec(),
        };
        let again = Self::encode_body(&key.data)?;
        if again != bytes[6..] {
            return Err(malformed(
                "it is not the canonical encoding of the key it decodes to".into(),
            ));
        }
        Ok(key)
    }

    fn encode_body(data: &VerifierCircuitData<F, C, D>) -> Result<Vec<u8>, FinalKeyError> {
        data.to_bytes(&DefaultGateSerializer)
            .map_err(|e| FinalKeyError::Encode(format!("{e:?}")))
    }

    /// Verifies final proof bytes and returns the batch output they attest. Never panics and
    /// never runs unbounded on any input (see the module docs).
    pub fn verify(&self, proof_bytes: &[u8]) -> Result<BatchPublicOutput, FinalKeyError> {
        let malformed = |reason: String| FinalKeyError::MalformedProof(reason);
        if proof_bytes.len() > MAX_FINAL_PROOF_BYTES {
            return Err(malformed(format!(
                "{} bytes, more than a final proof can be ({MAX_FINAL_PROOF_BYTES})",
                proof_bytes.len()
            )));
        }
        let common = &self.data.common;
        let proof = catch_unwind(AssertUnwindSafe(|| {
            ProofWithPublicInputs::<F, C, D>::from_bytes(proof_bytes.to_vec(), common)
        }))
        .map_err(|_| {
            malformed("plonky2's decoder panicked on it (an unreduced field element?)".into())
        })?
        .map_err(|e| malformed(e.to_string()))?;
        let again = proof.to_bytes();
        if again.len() != proof_bytes.len() {
            return Err(malformed(format!(
                "{} bytes, the proof it decodes to is {} (trailing or missing bytes)",
                proof_bytes.len(),
                again.len()
            )));
        }
        if again != proof_bytes {
            return Err(malformed(
                "not the canonical encoding (a field element is not reduced)".into(),
            ));
        }
        check_proof_shape(&proof, common).map_err(malformed)?;
        catch_unwind(AssertUnwindSafe(|| self.data.verify(proof.clone())))
            .map_err(|_| FinalKeyError::Rejected("plonky2's verifier panicked on it".into()))?
            .map_err(|e| FinalKeyError::Rejected(e.to_string()))?;
        Ok(decode_public_output(&proof.public_inputs)?)
    }
}

/// The verification rules a final key must follow, fixed in this build's code rather than
/// read from the key: the configuration is the last step of one of the compression profiles
/// (which reach [`TARGET_SECURITY_BITS`] of conjectured security), the FRI parameters are that
/// configuration's, at least two challenges, a bounded degree and the batch output's 33 public
/// inputs.
pub fn check_policy(common: &CommonCircuitData<F, D>) -> Result<(), FinalKeyError> {
    let policy = |reason: String| FinalKeyError::Policy(reason);
    let known = CompressionProfile::ALL
        .iter()
        .filter_map(|p| p.steps().pop().map(|s| (p.name(), s.config)))
        .find(|(_, config)| *config == common.config);
    let Some((profile, _)) = known else {
        return Err(policy(format!(
            "its circuit configuration is not the final step of any compression profile \
             (num_challenges {}, rate bits {}, query rounds {}, proof-of-work bits {})",
            common.config.num_challenges,
            common.config.fri_config.rate_bits,
            common.config.fri_config.num_query_rounds,
            common.config.fri_config.proof_of_work_bits
        )));
    };
    let bits = conjectured_security_bits(&common.config.fri_config);
    if bits < TARGET_SECURITY_BITS || common.config.num_challenges < 2 {
        return Err(policy(format!(
            "the {profile} profile's configuration gives {bits} bits and {} challenges",
            common.config.num_challenges
        )));
    }
    if common.fri_params.config != common.config.fri_config {
        return Err(policy(
            "its FRI parameters are not those of its configuration".into(),
        ));
    }
    let degree_bits = common.degree_bits();
    if degree_bits > MAX_DEGREE_BITS || common.fri_params.degree_bits != degree_bits {
        return Err(policy(format!(
            "degree 2^{degree_bits} (FRI parameters say 2^{}; at most 2^{MAX_DEGREE_BITS})",
            common.fri_params.degree_bits
        )));
    }
    if common.num_public_inputs != SCHEDULER_PUBLIC_INPUTS {
        return Err(policy(format!(
            "{} public inputs, the batch output has {SCHEDULER_PUBLIC_INPUTS}",
            common.num_public_inputs
        )));
    }
    Ok(())
}
