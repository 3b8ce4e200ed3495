//! Witness vectors, proving and verification: the seam between witness generation and proving.
//!
//! Following plonky2's split (`generate_partial_witness` then `prove_with_partition_witness`),
//! a witness-vector generator runs every witness generator of a circuit and ships the resulting
//! `PartitionWitness.values` as an owned, serializable [`WitnessVector`]; the prover (possibly
//! another thread or machine) rebuilds the `PartitionWitness` around its own copy of the
//! circuit's `representative_map` and proves. Proofs travel as bytes
//! (`ProofWithPublicInputs::to_bytes`).

use plonky2::field::types::PrimeField64;
use plonky2::iop::generator::generate_partial_witness;
use plonky2::iop::witness::{PartialWitness, PartitionWitness};
use plonky2::plonk::circuit_data::{CommonCircuitData, ProverOnlyCircuitData, VerifierCircuitData};
use plonky2::plonk::proof::ProofWithPublicInputs;
use plonky2::plonk::prover::prove_with_partition_witness;
use plonky2::util::timing::TimingTree;

use crate::error::CircuitError;
use crate::{C, D, F};

/// Magic and version of the witness-vector encoding.
const WITNESS_VECTOR_MAGIC: &[u8; 4] = b"ZKWV";
const WITNESS_VECTOR_VERSION: u16 = 1;

/// Every wire value of one circuit instance, ready for the prover.
///
/// `values` is indexed like plonky2's `PartitionWitness.values` (one slot per wire and virtual
/// target; only representatives of copy-constraint partitions are filled). `circuit_digest` is
/// the circuit's own digest, so a vector is never proved against another circuit's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessVector {
    /// The digest of the circuit the values are for.
    pub circuit_digest: [u64; 4],
    /// The circuit's wires per row (with `degree`, the shape `values` is indexed by).
    pub num_wires: usize,
    /// The circuit's number of rows.
    pub degree: usize,
    /// The wire and virtual-target values (`None` for non-representatives).
    pub values: Vec<Option<F>>,
}

impl WitnessVector {
    /// Compact encoding: header, presence bitmap, then the present values as little-endian u64s.
    pub fn to_bytes(&self) -> Vec<u8> {
        let present = self.values.iter().filter(|v| v.is_some()).count();
        let mut out = Vec::with_capacity(64 + self.values.len().div_ceil(8) + present * 8);
        out.extend_from_slice(WITNESS_VECTOR_MAGIC);
        out.extend_from_slice(&WITNESS_VECTOR_VERSION.to_le_bytes());
        for limb in self.circuit_digest {
            out.extend_from_slice(&limb.to_le_bytes());
        }
        out.extend_from_slice(&(self.num_wires as u64).to_le_bytes());
        out.extend_from_slice(&(self.degree as u64).to_le_bytes());
        out.extend_from_slice(&(self.values.len() as u64).to_le_bytes());
        let mut bitmap = vec![0u8; self.values.len().div_ceil(8)];
        for (i, value) in self.values.iter().enumerate() {
            if value.is_some() {
                bitmap[i / 8] |= 1 << (i % 8);
            }
        }
        out.extend_from_slice(&bitmap);
        for value in self.values.iter().flatten() {
            out.extend_from_slice(&value.to_canonical_u64().to_le_bytes());
        }
        out
    }

    /// Decodes [`WitnessVector::to_bytes`], rejecting truncated or non-canonical input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CircuitError> {
        let mut reader = ByteReader { bytes, pos: 0 };
        if reader.take(4)? != WITNESS_VECTOR_MAGIC {
            return Err(CircuitError::MalformedWitnessVector("bad magic".into()));
        }
        let version = u16::from_le_bytes(reader.array()?);
        if version != WITNESS_VECTOR_VERSION {
            return Err(CircuitError::MalformedWitnessVector(format!(
                "version {version}, expected {WITNESS_VECTOR_VERSION}"
            )));
        }
        let mut circuit_digest = [0u64; 4];
        for limb in &mut circuit_digest {
            *limb = reader.u64()?;
        }
        let num_wires = reader.usize()?;
        let degree = reader.usize()?;
        let len = reader.usize()?;
        // The bitmap alone must fit in what is left: guards the allocation below.
        let bitmap = reader.take(len.div_ceil(8))?;
        let mut values = Vec::with_capacity(len);
        for i in 0..len {
            if bitmap[i / 8] & (1 << (i % 8)) != 0 {
                let raw = reader.u64()?;
                let value = crate::field_element(raw).map_err(|_| {
                    CircuitError::MalformedWitnessVector(format!(
                        "value {raw} at index {i} is not a canonical field element"
                    ))
                })?;
                values.push(Some(value));
            } else {
                values.push(None);
            }
        }
        if reader.pos != bytes.len() {
            return Err(CircuitError::MalformedWitnessVector(format!(
                "{} trailing bytes",
                bytes.len() - reader.pos
            )));
        }
        Ok(Self {
            circuit_digest,
            num_wires,
            degree,
            values,
        })
    }
}

struct ByteReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CircuitError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                CircuitError::MalformedWitnessVector(format!("truncated at byte {}", self.pos))
            })?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CircuitError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, CircuitError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn usize(&mut self) -> Result<usize, CircuitError> {
        let value = self.u64()?;
        usize::try_from(value)
            .map_err(|_| CircuitError::MalformedWitnessVector(format!("length {value} too large")))
    }
}

fn circuit_digest(prover_only: &ProverOnlyCircuitData<F, C, D>) -> [u64; 4] {
    prover_only
        .circuit_digest
        .elements
        .map(|e| e.to_canonical_u64())
}

/// Runs every witness generator of the circuit on `inputs` (the instance's assigned targets).
///
/// Fails when generators conflict (the witness contradicts a copy constraint) or cannot all run.
pub fn generate_witness_vector(
    prover_only: &ProverOnlyCircuitData<F, C, D>,
    common: &CommonCircuitData<F, D>,
    inputs: PartialWitness<F>,
) -> Result<WitnessVector, CircuitError> {
    let partition = generate_partial_witness(inputs, prover_only, common)
        .map_err(|e| CircuitError::WitnessGeneration(e.to_string()))?;
    Ok(WitnessVector {
        circuit_digest: circuit_digest(prover_only),
        num_wires: partition.num_wires,
        degree: partition.degree,
        values: partition.values,
    })
}

/// Proves a witness vector against the circuit it was generated for, with plonky2's `prove`
/// (the reference prover; the pipeline's default is `BatchCircuits::prove_job`'s batched
/// prover, whose proofs are the same bytes).
pub fn prove_witness_vector(
    prover_only: &ProverOnlyCircuitData<F, C, D>,
    common: &CommonCircuitData<F, D>,
    witness_vector: WitnessVector,
) -> Result<ProofWithPublicInputs<F, C, D>, CircuitError> {
    let partition = partition_witness(prover_only, common, witness_vector)?;
    let mut timing = TimingTree::default();
    prove_with_partition_witness::<F, C, D>(prover_only, common, partition, &mut timing)
        .map_err(|e| CircuitError::Proving(e.to_string()))
}

/// Checks a witness vector against the circuit (digest, shape, every public input set) and
/// rebuilds plonky2's `PartitionWitness` around the circuit's own `representative_map`: what
/// any prover of the vector needs.
pub fn partition_witness<'a>(
    prover_only: &'a ProverOnlyCircuitData<F, C, D>,
    common: &CommonCircuitData<F, D>,
    witness_vector: WitnessVector,
) -> Result<PartitionWitness<'a, F>, CircuitError> {
    let expected = circuit_digest(prover_only);
    if witness_vector.circuit_digest != expected {
        return Err(CircuitError::MalformedWitnessVector(format!(
            "generated for circuit digest {:x?}, this circuit's digest is {expected:x?}",
            witness_vector.circuit_digest
        )));
    }
    let representative_map = &prover_only.representative_map;
    if witness_vector.values.len() != representative_map.len()
        || witness_vector.num_wires != common.config.num_wires
        || witness_vector.degree != common.degree()
    {
        return Err(CircuitError::MalformedWitnessVector(format!(
            "shape {} values / {} wires / degree {} does not match the circuit's \
             {} / {} / {}",
            witness_vector.values.len(),
            witness_vector.num_wires,
            witness_vector.degree,
            representative_map.len(),
            common.config.num_wires,
            common.degree()
        )));
    }
    // The prover reads the public inputs with a panicking getter: check them here instead.
    for &target in &prover_only.public_inputs {
        let index = target.index(common.config.num_wires, common.degree());
        if witness_vector.values[representative_map[index]].is_none() {
            return Err(CircuitError::MalformedWitnessVector(format!(
                "public input {target:?} has no value"
            )));
        }
    }
    Ok(PartitionWitness {
        values: witness_vector.values,
        representative_map,
        num_wires: witness_vector.num_wires,
        degree: witness_vector.degree,
    })
}

/// Verifies a proof against a circuit's verifier data.
pub fn verify(
    verifier: &VerifierCircuitData<F, C, D>,
    proof: ProofWithPublicInputs<F, C, D>,
) -> Result<(), CircuitError> {
    verifier
        .verify(proof)
        .map_err(|e| CircuitError::Verification(e.to_string()))
}

/// Serializes a proof for the object store.
pub fn proof_to_bytes(proof: &ProofWithPublicInputs<F, C, D>) -> Vec<u8> {
    proof.to_bytes()
}

/// Decodes proof bytes against the circuit's common data.
pub fn proof_from_bytes(
    bytes: Vec<u8>,
    common: &CommonCircuitData<F, D>,
) -> Result<ProofWithPublicInputs<F, C, D>, CircuitError> {
    ProofWithPublicInputs::from_bytes(bytes, common)
        .map_err(|e| CircuitError::MalformedProof(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use plonky2::field::types::Field;

    #[test]
    fn witness_vector_round_trips_and_rejects_damage() {
        let wv = WitnessVector {
            circuit_digest: [1, 2, 3, 4],
            num_wires: 135,
            degree: 8,
            values: vec![
                Some(F::from_canonical_u64(7)),
                None,
                Some(F::NEG_ONE),
                None,
                None,
            ],
        };
        let bytes = wv.to_bytes();
        assert_eq!(WitnessVector::from_bytes(&bytes).unwrap(), wv);
        assert!(WitnessVector::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(WitnessVector::from_bytes(&extra).is_err());
        let mut non_canonical = bytes;
        let n = non_canonical.len();
        non_canonical[n - 8..].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(WitnessVector::from_bytes(&non_canonical).is_err());
    }
}
