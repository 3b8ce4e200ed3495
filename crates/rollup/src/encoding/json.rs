//! The JSON encoding: the batch's fields plus `"version": 1`, digests as `0x`-hex strings.

use serde::{Deserialize, Serialize};

use super::{DecodeError, BATCH_FORMAT_VERSION};
use crate::batch::{Batch, MAX_OPERATIONS_PER_BATCH};

#[derive(Serialize)]
struct VersionedRef<'a> {
    version: u16,
    #[serde(flatten)]
    batch: &'a Batch,
}

#[derive(Deserialize)]
struct VersionOnly {
    version: u64,
}

#[derive(Deserialize)]
struct Versioned {
    #[allow(dead_code)]
    version: u64,
    #[serde(flatten)]
    batch: Batch,
}

/// The batch as pretty-printed JSON.
pub fn encode(batch: &Batch) -> String {
    serde_json::to_string_pretty(&VersionedRef {
        version: BATCH_FORMAT_VERSION,
        batch,
    })
    .expect("a batch has only string map keys and plain values: serialisation cannot fail")
}

/// Parse a batch, refusing an unknown version or more than [`MAX_OPERATIONS_PER_BATCH`]
/// operations.
pub fn decode(text: &str) -> Result<Batch, DecodeError> {
    let version: VersionOnly =
        serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
    if version.version != u64::from(BATCH_FORMAT_VERSION) {
        return Err(DecodeError::UnsupportedVersion {
            found: version.version,
            supported: BATCH_FORMAT_VERSION,
        });
    }
    let v: Versioned = serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
    if v.batch.operations.len() > MAX_OPERATIONS_PER_BATCH {
        return Err(DecodeError::Json(format!(
            "{} operations, at most {MAX_OPERATIONS_PER_BATCH} allowed",
            v.batch.operations.len()
        )));
    }
    Ok(v.batch)
}
