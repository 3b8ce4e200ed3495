//! The placeholder blobs the benchmark writes instead of circuits and proofs, and the protocol
//! version its jobs live under. Both exist so that nothing the benchmark produces can be taken
//! for real work, and nothing real can be fed to the benchmark.
//!
//! Every blob the benchmark stores is a normal store envelope (kind tag, checksum) whose
//! payload is, byte for byte:
//!
//! ```text
//! offset  size  field
//!      0    32  magic "zkfleet-orchestration-benchmark\0"
//!     32     2  placeholder layout version (u16 LE), currently 1
//!     34     2  length L of the key path (u16 LE)
//!     36     L  the object key path the blob was written under (UTF-8)
//!   36+L     …  body: empty, except for the witness input (5 bytes per basic type:
//!               circuit id u8, instances u32 LE)
//! ```
//!
//! Why no component of the fleet accepts these:
//! - the jobs are registered under [`BENCHMARK_PROTOCOL_VERSION`] (0.65535.65535, reserved for
//!   this benchmark) with [`BENCHMARK_VK_DIGEST`] as both verifying-key digests; real
//!   witness generators, provers and compressors pick only the version whose keys they hold;
//! - a placeholder proof is not a serialized plonky2 proof (it starts with the magic above), so
//!   a real verifier or recursive witness generator fails to deserialize it;
//! - the final proof is stored as raw bytes (payload version 0), where the gateway reads a
//!   structured final proof (payload version 1) and refuses anything else;
//! - the benchmark only ever runs against a database and a store it created for the run and
//!   deletes afterwards.
//!
//! Conversely the benchmark's workers check every blob they read ([`check`]): a real circuit
//! or proof is refused by name, so the benchmark cannot be pointed at real batches.

use bytes::Bytes;
use zkfleet_store::ObjectKey;
use zkfleet_types::{CircuitId, HashDigest, ProtocolSemanticVersion, VkDigest};

use crate::error::BenchError;

/// The protocol version reserved for the orchestration benchmark.
pub const BENCHMARK_PROTOCOL_VERSION: ProtocolSemanticVersion =
    ProtocolSemanticVersion::new(u16::MAX, u16::MAX);

/// Both verifying-key digests of [`BENCHMARK_PROTOCOL_VERSION`]: the magic's first 32 bytes
/// read as a digest, which no circuit's key hashes to.
pub const BENCHMARK_VK_DIGEST: VkDigest = VkDigest(HashDigest([
    u64::from_le_bytes(*b"zkfleet-"),
    u64::from_le_bytes(*b"orchestr"),
    u64::from_le_bytes(*b"ation-be"),
    u64::from_le_bytes(*b"nchmark\0"),
]));

/// The first bytes of every placeholder payload.
pub const MAGIC: [u8; 32] = *b"zkfleet-orchestration-benchmark\0";

/// The placeholder layout this build writes and reads.
pub const LAYOUT_VERSION: u16 = 1;

const HEADER_LEN: usize = MAGIC.len() + 2 + 2;

/// The payload of a placeholder stored under `key`, with `body`.
pub fn encode(key: &ObjectKey, body: &[u8]) -> Result<Bytes, BenchError> {
    let path = key.path();
    let path_len = u16::try_from(path.len()).map_err(|_| {
        BenchError::Inconsistent(format!("key path {path} is longer than 65535 bytes"))
    })?;
    let mut out = Vec::with_capacity(HEADER_LEN + path.len() + body.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&LAYOUT_VERSION.to_le_bytes());
    out.extend_from_slice(&path_len.to_le_bytes());
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(body);
    Ok(Bytes::from(out))
}

/// Checks that `payload`, read from `key`, is a placeholder written under that very key, and
/// returns its body.
pub fn check<'a>(key: &ObjectKey, payload: &'a [u8]) -> Result<&'a [u8], BenchError> {
    let refuse = |reason: String| BenchError::NotAPlaceholder {
        key: key.path(),
        reason,
    };
    if payload.len() < HEADER_LEN || payload[..MAGIC.len()] != MAGIC {
        return Err(refuse(
            "it does not start with the benchmark's magic (a real circuit or proof?)".to_owned(),
        ));
    }
    let version = u16::from_le_bytes([payload[32], payload[33]]);
    if version != LAYOUT_VERSION {
        return Err(refuse(format!(
            "placeholder layout {version}, this build reads {LAYOUT_VERSION}"
        )));
    }
    let path_len = usize::from(u16::from_le_bytes([payload[34], payload[35]]));
    let path = payload
        .get(HEADER_LEN..HEADER_LEN + path_len)
        .ok_or_else(|| refuse("truncated key path".to_owned()))?;
    if path != key.path().as_bytes() {
        return Err(refuse(format!(
            "it was written for {}",
            String::from_utf8_lossy(path)
        )));
    }
    Ok(&payload[HEADER_LEN + path_len..])
}

/// The body of the batch's witness input: the basic circuit types and their instance counts,
/// which the benchmark's basic witness generator "executes" into circuits.
pub fn encode_witness_input_body(types: &[(CircuitId, u32)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(types.len() * 5);
    for (circuit, instances) in types {
        body.push(circuit.0);
        body.extend_from_slice(&instances.to_le_bytes());
    }
    body
}

/// The inverse of [`encode_witness_input_body`].
pub fn decode_witness_input_body(
    key: &ObjectKey,
    body: &[u8],
) -> Result<Vec<(CircuitId, u32)>, BenchError> {
    if body.is_empty() || !body.len().is_multiple_of(5) {
        return Err(BenchError::NotAPlaceholder {
            key: key.path(),
            reason: format!(
                "witness input body of {} bytes is not a list of (circuit id, instances)",
                body.len()
            ),
        });
    }
    Ok(body
        .chunks_exact(5)
        .map(|c| {
            (
                CircuitId(c[0]),
                u32::from_le_bytes([c[1], c[2], c[3], c[4]]),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkfleet_types::ids::ProverJobId;
    use zkfleet_types::ChainId;

    fn proof_key(job: i64) -> ObjectKey {
        ObjectKey::Proof {
            chain: ChainId(324),
            job: ProverJobId(job),
        }
    }

    #[test]
    fn placeholders_round_trip_under_their_own_key_only() {
        let key = proof_key(7);
        let blob = encode(&key, b"body").unwrap();
        assert_eq!(check(&key, &blob).unwrap(), b"body");
        let err = check(&proof_key(8), &blob).unwrap_err().to_string();
        assert!(err.contains("written for proofs/324/7.bin"), "{err}");
    }

    #[test]
    fn refuses_what_is_not_a_placeholder() {
        let key = proof_key(1);
        for bad in [&b""[..], &b"plonky2 proof bytes, not ours........."[..]] {
            let err = check(&key, bad).unwrap_err().to_string();
            assert!(err.contains("magic"), "{err}");
        }
        let mut blob = encode(&key, b"").unwrap().to_vec();
        blob[32] = 9;
        assert!(check(&key, &blob)
            .unwrap_err()
            .to_string()
            .contains("layout 9"));
        let blob = encode(&key, b"").unwrap();
        assert!(check(&key, &blob[..blob.len() - 1]).is_err());
    }

    #[test]
    fn witness_input_body_round_trips() {
        let key = ObjectKey::WitnessInput {
            chain: ChainId(324),
            batch: zkfleet_types::BatchNumber(1),
        };
        let types = vec![(CircuitId(1), 12_288), (CircuitId(20), 256)];
        let body = encode_witness_input_body(&types);
        assert_eq!(decode_witness_input_body(&key, &body).unwrap(), types);
        assert!(decode_witness_input_body(&key, &body[1..]).is_err());
        assert!(decode_witness_input_body(&key, &[]).is_err());
    }

    #[test]
    fn the_reserved_version_and_digest_are_recognisable() {
        assert_eq!(BENCHMARK_PROTOCOL_VERSION.to_string(), "0.65535.65535");
        assert_eq!(&BENCHMARK_VK_DIGEST.0.to_bytes()[..31], &MAGIC[..31]);
    }
}
