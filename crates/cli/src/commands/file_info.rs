//! `zkfleet file-info FILE`: what a stored blob is. Reads the envelope header (magic, versions,
//! kind, sizes, checksum), then decodes what this build understands: a batch's witness input
//! (the rollup batch and its pre-state), a final proof (version and public output); other kinds by kind and size.
//! A corrupt or truncated file gives the codec's error. When the file lies inside a local
//! store, its object key is inferred from the path.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _};
use zkfleet_rollup::batch::Batch;
use zkfleet_rollup::operation::OperationKind;
use zkfleet_store::codec::{self, BlobKind, Envelope, HEADER_LEN, MAGIC, TRAILER_LEN};
use zkfleet_store::{ObjectKey, StoredObject};
use zkfleet_types::api::FinalProof;
use zkfleet_witness_generator::BatchWitnessInput;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The blob: a file downloaded from the store, or a path inside a local store.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let blob =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let (report, outcome) = describe(&args.file, &blob);
    // What could be read is printed even when the blob is corrupt: the header helps tell a
    // truncated upload from a foreign file.
    out_str!("{report}");
    outcome
}

/// The report on one blob, and the codec's (or payload decoder's) error naming the file when
/// the blob is not valid.
pub(crate) fn describe(path: &Path, blob: &[u8]) -> (String, anyhow::Result<()>) {
    let mut out = String::new();
    let _ = writeln!(out, "file:             {}", path.display());
    let _ = writeln!(out, "size:             {} bytes", blob.len());
    let key = infer_key(path);
    if let Some(key) = key {
        let _ = writeln!(out, "object key:       {} ({})", key.path(), key.kind());
    }
    let _ = write!(out, "{}", raw_header(blob));
    let envelope = match codec::inspect(blob) {
        Ok(envelope) => envelope,
        Err(e @ codec::DecodeError::WrongMagic { .. }) => {
            // Not an envelope: maybe a batch file as `rollup generate` writes it (batch.bin).
            if let Ok(batch) = zkfleet_rollup::encoding::binary::decode(blob) {
                let _ = writeln!(
                    out,
                    "kind:             batch (binary encoding, not enveloped)"
                );
                let _ = write!(out, "{}", describe_batch(&batch));
                return (out, Ok(()));
            }
            return (out, Err(invalid_blob(path, e)));
        }
        Err(e) => return (out, Err(invalid_blob(path, e))),
    };
    let _ = writeln!(out, "checksum:         ok (CRC-32C)");
    let _ = writeln!(
        out,
        "kind:             {} (tag {})",
        envelope.kind,
        envelope.kind.tag()
    );
    if let Some(key) = key.filter(|k| k.kind() != envelope.kind) {
        let _ = writeln!(
            out,
            "warning:          the key {} holds {} blobs, this one is a {}",
            key.path(),
            key.kind(),
            envelope.kind
        );
    }
    match payload(&envelope, path) {
        Ok(text) => {
            out.push_str(&text);
            (out, Ok(()))
        }
        Err(e) => (out, Err(e)),
    }
}

fn invalid_blob(path: &Path, error: codec::DecodeError) -> anyhow::Error {
    anyhow::anyhow!("{} is not a valid zkfleet blob: {error}", path.display())
}

/// The header fields as written, before any check (so that a corrupt blob still shows them).
fn raw_header(blob: &[u8]) -> String {
    let mut out = String::new();
    if blob.len() < MAGIC.len() {
        return out;
    }
    let magic = &blob[..MAGIC.len()];
    let _ = writeln!(
        out,
        "magic:            {:?}{}",
        String::from_utf8_lossy(magic),
        if magic == MAGIC { " (ok)" } else { "" }
    );
    if blob.len() < HEADER_LEN || magic != MAGIC {
        return out;
    }
    let u16_at = |i: usize| u16::from_le_bytes([blob[i], blob[i + 1]]);
    let mut length = [0u8; 8];
    length.copy_from_slice(&blob[10..18]);
    let _ = writeln!(out, "envelope version: {}", u16_at(4));
    let _ = writeln!(out, "payload version:  {}", u16_at(8));
    let _ = writeln!(
        out,
        "payload length:   {} bytes (+{} header, {} checksum)",
        u64::from_le_bytes(length),
        HEADER_LEN,
        TRAILER_LEN
    );
    out
}

/// What the payload holds, for the kinds this build can decode.
fn payload(envelope: &Envelope<'_>, path: &Path) -> anyhow::Result<String> {
    let mut out = String::new();
    match envelope.kind {
        BlobKind::WitnessInput => {
            let invalid = || format!("{}: not a valid witness input", path.display());
            let input = BatchWitnessInput::decode(envelope.payload).with_context(invalid)?;
            let accounts = input.pre_state.len();
            let prepared = input.prepare().with_context(invalid)?;
            let _ = writeln!(out, "pre-state:        {accounts} accounts");
            let _ = write!(out, "{}", describe_batch(&prepared.batch));
        }
        BlobKind::FinalProof => {
            if !<FinalProof as StoredObject>::supports_payload_version(envelope.payload_version) {
                bail!(
                    "{}: final proof payload version {} (this build reads {})",
                    path.display(),
                    envelope.payload_version,
                    <FinalProof as StoredObject>::PAYLOAD_VERSION
                );
            }
            let proof = FinalProof::decode_payload(envelope.payload_version, envelope.payload)
                .with_context(|| format!("{}: invalid final proof", path.display()))?;
            let output = &proof.public_output;
            let _ = writeln!(out, "protocol version: {}", proof.protocol_version);
            let _ = writeln!(out, "proof:            {} bytes", proof.proof.0.len());
            let _ = writeln!(out, "public output:");
            let _ = writeln!(out, "  chain id:                 {}", output.chain_id);
            let _ = writeln!(out, "  batch number:             {}", output.batch_number);
            let _ = writeln!(
                out,
                "  prev state root:          {}",
                output.prev_state_root
            );
            let _ = writeln!(out, "  new state root:           {}", output.new_state_root);
            let _ = writeln!(
                out,
                "  operations commitment:    {}",
                output.operations_commitment
            );
            let _ = writeln!(
                out,
                "  deposits consumed:        {}",
                output.deposits_consumed
            );
            let _ = writeln!(
                out,
                "  deposits commitment:      {}",
                output.deposits_commitment
            );
            let _ = writeln!(
                out,
                "  withdrawals commitment:   {}",
                output.withdrawals_commitment
            );
            let _ = writeln!(
                out,
                "  pubdata commitment:       {}",
                output.pubdata_commitment
            );
            let _ = writeln!(
                out,
                "  recursion tree vk digest: {}",
                output.recursion_tree_vk_digest
            );
        }
        // Circuit witnesses, proofs, keys...: serialized by the circuits crate, opaque here.
        kind => {
            let _ = writeln!(
                out,
                "payload:          {} bytes of {kind} (serialized by its producer; not decoded here)",
                envelope.payload.len()
            );
        }
    }
    Ok(out)
}

/// Number, chain, previous root and operations by kind.
pub(crate) fn describe_batch(batch: &Batch) -> String {
    let count = |kind: OperationKind| {
        batch
            .operations
            .iter()
            .filter(|op| op.kind() == kind)
            .count()
    };
    let mut out = String::new();
    let _ = writeln!(out, "batch:            {}", batch.id());
    let _ = writeln!(
        out,
        "prev state root:  {}",
        zkfleet_rollup::spec::digest_to_hash_digest(batch.prev_state_root)
    );
    let _ = writeln!(out, "operator:         account {}", batch.operator);
    let _ = writeln!(
        out,
        "first priority serial: {}",
        batch.first_priority_serial
    );
    let _ = writeln!(
        out,
        "operations:       {} ({} deposits, {} transfers, {} withdrawals)",
        batch.operations.len(),
        count(OperationKind::Deposit),
        count(OperationKind::Transfer),
        count(OperationKind::Withdraw)
    );
    out
}

/// The object key of a file inside a local store: the path from some ancestor directory on
/// parses as a key (`.../store/witness_inputs/270/5.bin`).
fn infer_key(path: &Path) -> Option<ObjectKey> {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    (0..parts.len()).find_map(|start| ObjectKey::parse(&parts[start..].join("/")).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkfleet_types::{BatchNumber, ChainId};

    #[test]
    fn infers_keys_from_store_paths() {
        assert_eq!(
            infer_key(Path::new("/srv/zkfleet/store/witness_inputs/270/5.bin")),
            Some(ObjectKey::WitnessInput {
                chain: ChainId(270),
                batch: BatchNumber(5)
            })
        );
        assert_eq!(infer_key(Path::new("/tmp/blob.bin")), None);
    }

    #[test]
    fn truncated_and_foreign_files_are_clear_errors() {
        let blob = codec::encode(BlobKind::Proof, 0, &[7u8; 100]);
        let (report, outcome) = describe(Path::new("p.bin"), &blob);
        assert!(outcome.is_ok());
        assert!(report.contains("100 bytes of proof"), "{report}");
        let (report, outcome) = describe(Path::new("p.bin"), &blob[..60]);
        let err = outcome.unwrap_err().to_string();
        assert!(
            err.contains("truncated: expected 122 bytes, found 60"),
            "{err}"
        );
        assert!(report.contains("payload length:   100 bytes"), "{report}");
        let (_, outcome) = describe(Path::new("x.txt"), b"hello world");
        let err = outcome.unwrap_err().to_string();
        assert!(err.contains("not a zkfleet blob"), "{err}");
    }
}
