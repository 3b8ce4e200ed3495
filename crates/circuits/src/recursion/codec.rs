//! Byte encoding of the recursion circuits (circuit data plus the targets a prover fills), so
//! that the keystore can cache them on disk instead of rebuilding them per job.
//!
//! Circuit data goes through plonky2's `DefaultGateSerializer` and
//! `DefaultGeneratorSerializer`; targets through plonky2's own target encoders. Every blob
//! starts with a tag naming the circuit kind and a format version, so that a cache entry of the
//! wrong kind or of an older layout is refused with an error instead of misread.

use plonky2::plonk::circuit_data::{CircuitData, CommonCircuitData, VerifierOnlyCircuitData};
use plonky2::util::serialization::{
    Buffer, DefaultGateSerializer, DefaultGeneratorSerializer, Read, Remaining,
};

use super::{RecursionError, C, D, F};

/// Version of the layout written by this module; bump it on any change.
pub const FORMAT_VERSION: u32 = 3;

pub(crate) fn write_header(out: &mut Vec<u8>, tag: &[u8; 4]) {
    out.extend_from_slice(tag);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
}

pub(crate) fn read_header(
    buffer: &mut Buffer<'_>,
    tag: &[u8; 4],
    what: &'static str,
) -> Result<(), RecursionError> {
    let mut got = [0u8; 8];
    buffer
        .read_exact(&mut got)
        .map_err(|e| RecursionError::serialization(what, e))?;
    if &got[..4] != tag {
        return Err(RecursionError::Serialization {
            what,
            reason: format!("tag {:?}, expected {:?}", &got[..4], tag),
        });
    }
    let version = u32::from_le_bytes([got[4], got[5], got[6], got[7]]);
    if version != FORMAT_VERSION {
        return Err(RecursionError::Serialization {
            what,
            reason: format!("format version {version}, this build reads {FORMAT_VERSION}"),
        });
    }
    Ok(())
}

pub(crate) fn write_blob(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The next length-prefixed blob, borrowed from the buffer's bytes (not copied: the keystore's
/// aggregation entry is over a gigabyte of blobs, deserialised in parallel from these slices).
pub(crate) fn read_blob<'a>(
    buffer: &mut Buffer<'a>,
    what: &'static str,
) -> Result<&'a [u8], RecursionError> {
    let mut len = [0u8; 8];
    buffer
        .read_exact(&mut len)
        .map_err(|e| RecursionError::serialization(what, e))?;
    let len = usize::try_from(u64::from_le_bytes(len))
        .map_err(|e| RecursionError::serialization(what, e))?;
    if len > buffer.remaining() {
        return Err(RecursionError::Serialization {
            what,
            reason: format!("blob of {len} bytes, only {} left", buffer.remaining()),
        });
    }
    let (blob, rest) = buffer.unread_bytes().split_at(len);
    *buffer = Buffer::new(rest);
    Ok(blob)
}

pub(crate) fn circuit_data_to_bytes(
    data: &CircuitData<F, C, D>,
    what: &'static str,
) -> Result<Vec<u8>, RecursionError> {
    data.to_bytes(
        &DefaultGateSerializer,
        &DefaultGeneratorSerializer::<C, D>::default(),
    )
    .map_err(|e| RecursionError::serialization(what, e))
}

pub(crate) fn circuit_data_from_bytes(
    bytes: &[u8],
    what: &'static str,
) -> Result<CircuitData<F, C, D>, RecursionError> {
    CircuitData::from_bytes(
        bytes,
        &DefaultGateSerializer,
        &DefaultGeneratorSerializer::<C, D>::default(),
    )
    .map_err(|e| RecursionError::serialization(what, e))
}

pub(crate) fn common_to_bytes(
    common: &CommonCircuitData<F, D>,
    what: &'static str,
) -> Result<Vec<u8>, RecursionError> {
    common
        .to_bytes(&DefaultGateSerializer)
        .map_err(|e| RecursionError::serialization(what, e))
}

pub(crate) fn common_from_bytes(
    bytes: &[u8],
    what: &'static str,
) -> Result<CommonCircuitData<F, D>, RecursionError> {
    CommonCircuitData::from_bytes(bytes.to_vec(), &DefaultGateSerializer)
        .map_err(|e| RecursionError::serialization(what, e))
}

pub(crate) fn verifier_only_to_bytes(
    key: &VerifierOnlyCircuitData<C, D>,
    what: &'static str,
) -> Result<Vec<u8>, RecursionError> {
    key.to_bytes()
        .map_err(|e| RecursionError::serialization(what, e))
}

pub(crate) fn verifier_only_from_bytes(
    bytes: &[u8],
    what: &'static str,
) -> Result<VerifierOnlyCircuitData<C, D>, RecursionError> {
    VerifierOnlyCircuitData::from_bytes(bytes.to_vec())
        .map_err(|e| RecursionError::serialization(what, e))
}

/// Runs plonky2 target writers into a byte vector.
pub(crate) fn targets_to_bytes(
    what: &'static str,
    write: impl FnOnce(&mut Vec<u8>) -> plonky2::util::serialization::IoResult<()>,
) -> Result<Vec<u8>, RecursionError> {
    let mut out = Vec::new();
    write(&mut out).map_err(|e| RecursionError::serialization(what, e))?;
    Ok(out)
}

/// Fails unless the whole buffer was consumed (trailing bytes mean a foreign or corrupt blob).
pub(crate) fn expect_end(buffer: &Buffer<'_>, what: &'static str) -> Result<(), RecursionError> {
    if buffer.remaining() != 0 {
        return Err(RecursionError::Serialization {
            what,
            reason: format!("{} trailing bytes", buffer.remaining()),
        });
    }
    Ok(())
}

/// A length or count, as 8 little-endian bytes.
pub(crate) fn write_usize(out: &mut Vec<u8>, value: usize) {
    out.extend_from_slice(&(value as u64).to_le_bytes());
}

pub(crate) fn read_usize(
    buffer: &mut Buffer<'_>,
    what: &'static str,
) -> Result<usize, RecursionError> {
    let mut b = [0u8; 8];
    buffer
        .read_exact(&mut b)
        .map_err(|e| RecursionError::serialization(what, e))?;
    usize::try_from(u64::from_le_bytes(b)).map_err(|e| RecursionError::serialization(what, e))
}
