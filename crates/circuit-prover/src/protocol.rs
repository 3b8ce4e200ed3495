//! The start-up check that the loaded circuits are those of the protocol version served.
//!
//! A protocol version row records the digest of the final verifying key its proofs are checked
//! with. A prover whose keystore holds circuits of another configuration (another geometry,
//! arity or compression profile, or circuits of another build) would prove every job of the
//! version and end in a final proof nobody can verify; it is refused before the first pick.

use zkfleet_dal::Dal;
use zkfleet_types::{ProtocolSemanticVersion, VkDigest};

use crate::error::ProverError;

/// Refuses to start unless `version` is registered with final verifying-key digest `loaded`.
pub async fn check_protocol_version(
    dal: &Dal,
    version: ProtocolSemanticVersion,
    loaded: VkDigest,
) -> Result<(), ProverError> {
    let row = dal
        .protocol_version(version)
        .await?
        .ok_or(ProverError::UnknownProtocolVersion(version))?;
    if row.final_vk_digest != loaded {
        return Err(ProverError::FinalKeyMismatch {
            version,
            recorded: row.final_vk_digest,
            loaded,
        });
    }
    Ok(())
}
