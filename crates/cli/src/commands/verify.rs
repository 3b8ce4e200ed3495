//! `zkfleet verify --proof FILE --vk FILE --expect-vk-digest DIGEST`: check a batch's final
//! proof with nothing but the final verifying key, and print the batch public output it attests.
//!
//! The key file is trusted only if its digest (SHA-256 of every byte) is the one the caller
//! pins: given on the command line (`keys generate` prints it, `insert-version` records it), or
//! computed from circuits this build constructs from its own code (`--rebuild-keys`). A file
//! that is not the pinned one is refused before it is parsed (docs/proofs.md, "Trust in the
//! final proof").
//!
//! The proof file is either the raw final proof (`zkfleet prove` writes `DATA_DIR/proofs/…`) or
//! a stored final-proof blob (`final_proofs/{chain}/{batch}_{version}.bin` of the object store,
//! or the gateway's answer saved as such), whose recorded public output must then equal the one
//! the proof attests. The key file's layout is documented in docs/proofs.md ("Verifying a
//! final proof").

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use zkfleet_circuits::keystore::final_key_from_code;
use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_store::codec::{self, MAGIC};
use zkfleet_store::{BlobKind, StoredObject};
use zkfleet_types::api::FinalProof;
use zkfleet_types::{BatchPublicOutput, VkDigest};

use crate::fleet::Fleet;
use crate::GlobalArgs;

#[derive(clap::Args)]
#[command(group(
    clap::ArgGroup::new("pin").required(true).args(["expect_vk_digest", "rebuild_keys"])
))]
pub(crate) struct Args {
    /// The final proof: raw proof bytes, or a stored final-proof blob.
    #[arg(long, value_name = "FILE")]
    proof: PathBuf,
    /// The final verifying key (`*.final_vk.bin` of the keystore).
    #[arg(long, value_name = "FILE")]
    vk: PathBuf,
    /// The digest the key file must have (SHA-256 of the whole file, as `keys generate`
    /// prints it and `insert-version` records it); the file is refused before it is read
    /// otherwise.
    #[arg(long, value_name = "DIGEST")]
    expect_vk_digest: Option<VkDigest>,
    /// Instead of a digest, build every circuit of the `[proving]` configuration from this
    /// build's code (minutes) and require the key file to be the one they give.
    #[arg(long)]
    rebuild_keys: bool,
    /// Print the public output as JSON only.
    #[arg(long)]
    json: bool,
}

/// What a proof file holds: the proof, and the output a stored blob claims for it.
fn read_proof(path: &PathBuf) -> anyhow::Result<(Vec<u8>, Option<BatchPublicOutput>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !bytes.starts_with(&MAGIC) {
        return Ok((bytes, None));
    }
    let envelope = codec::decode(&bytes, BlobKind::FinalProof)
        .with_context(|| format!("{} is a stored blob but not a final proof", path.display()))?;
    let stored = FinalProof::decode_payload(envelope.payload_version, envelope.payload)
        .with_context(|| format!("{} is not a readable final proof blob", path.display()))?;
    Ok((stored.proof.0.to_vec(), Some(stored.public_output)))
}

pub(crate) fn run(args: &Args, global: &GlobalArgs) -> anyhow::Result<()> {
    // Where the pinned digest comes from: never from the key file itself.
    let (pinned, source) = match (args.expect_vk_digest, args.rebuild_keys) {
        (Some(digest), _) => (digest, "--expect-vk-digest".to_string()),
        (None, true) => {
            let fleet = Fleet::load(global)?;
            let config = fleet.config.proving.circuits();
            eprintln!("building every circuit of the [proving] configuration (minutes)…");
            let key = final_key_from_code(&config)
                .context("building the final verifying key from this build's code")?;
            (
                key.digest(),
                "the circuits built from this build's code".to_string(),
            )
        }
        (None, false) => bail!("give --expect-vk-digest DIGEST or --rebuild-keys"),
    };
    let key_bytes =
        std::fs::read(&args.vk).with_context(|| format!("reading {}", args.vk.display()))?;
    let key = FinalVerifyingKey::from_pinned_bytes(&key_bytes, pinned).with_context(|| {
        format!(
            "{} is not the final verifying key pinned by {source}",
            args.vk.display()
        )
    })?;
    let (proof, claimed) = read_proof(&args.proof)?;
    let output = key.verify(&proof).with_context(|| {
        format!(
            "{} is NOT a valid final proof under {} (key digest {pinned})",
            args.proof.display(),
            args.vk.display(),
        )
    })?;
    if let Some(claimed) = claimed {
        if claimed != output {
            bail!(
                "{} verifies, but the output recorded beside it differs from the one it attests",
                args.proof.display()
            );
        }
    }
    if args.json {
        out!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        out!(
            "valid final proof ({} bytes) under the final verifying key with digest {pinned} \
             (SHA-256 of every byte of {}, pinned by {source})",
            proof.len(),
            args.vk.display()
        );
        print_output(&output);
    }
    Ok(())
}

/// The batch public output, one field per line.
pub(crate) fn print_output(output: &BatchPublicOutput) {
    match serde_json::to_value(output) {
        Ok(serde_json::Value::Object(fields)) => {
            for (name, value) in fields {
                let text = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                out!("  {name:<28} {text}");
            }
        }
        _ => out!("  {output:?}"),
    }
}
