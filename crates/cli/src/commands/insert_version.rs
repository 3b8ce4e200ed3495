//! `zkfleet insert-version`: register a protocol version with its verifying-key digests, given
//! on the command line or read from the keystore of the `[proving]` configuration.

use std::path::PathBuf;

use anyhow::{bail, Context as _};
use zkfleet_circuits::Keystore;
use zkfleet_dal::{Dal, InsertOutcome};
use zkfleet_types::{ProtocolSemanticVersion, ProtocolVersion, VkDigest};

use crate::fleet::Fleet;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The version, `0.MINOR.PATCH`.
    #[arg(long)]
    version: ProtocolSemanticVersion,
    /// Digest of every verifying key of the recursion tree (0x + 64 hex digits).
    #[arg(
        long,
        value_name = "DIGEST",
        required_unless_present = "from_keys",
        conflicts_with = "from_keys"
    )]
    recursion_tree_vk: Option<VkDigest>,
    /// Digest of the final (compression) verifying key (0x + 64 hex digits).
    #[arg(
        long,
        value_name = "DIGEST",
        required_unless_present = "from_keys",
        conflicts_with = "from_keys"
    )]
    final_vk: Option<VkDigest>,
    /// Read both digests from the keystore of the `[proving]` configuration (written by
    /// `zkfleet keys generate`).
    #[arg(long)]
    from_keys: bool,
    /// The keystore directory for --from-keys (default: `[proving] keys_dir`, else DATA_DIR/keys).
    #[arg(long, value_name = "DIR", requires = "from_keys")]
    keys_dir: Option<PathBuf>,
}

/// The digests recorded in a keystore's aggregation entry.
pub(crate) fn digests_from_keys(
    fleet: &Fleet,
    dir: Option<PathBuf>,
) -> anyhow::Result<(VkDigest, VkDigest)> {
    let proving = &fleet.config.proving;
    let dir = dir.unwrap_or_else(|| proving.keys_dir(&fleet.config.data_dir));
    let keystore =
        Keystore::open(&dir).with_context(|| format!("opening the keystore {}", dir.display()))?;
    let entry = keystore
        .aggregation_entry(&proving.circuits())
        .with_context(|| {
            format!(
                "no usable keys of this configuration in {} (run `zkfleet keys generate` first)",
                dir.display()
            )
        })?;
    let parse = |value: Option<String>, what: &str| -> anyhow::Result<VkDigest> {
        let Some(text) = value else {
            bail!("the keystore manifest in {} has no {what}", dir.display());
        };
        text.parse()
            .map_err(|e| anyhow::anyhow!("the keystore's {what} {text:?}: {e}"))
    };
    Ok((
        parse(entry.recursion_tree_vk_digest, "recursion tree vk digest")?,
        parse(entry.final_vk_digest, "final vk digest")?,
    ))
}

/// Inserts the version, or checks that the existing row has the same digests.
pub(crate) async fn insert(dal: &Dal, version: &ProtocolVersion) -> anyhow::Result<InsertOutcome> {
    let outcome = dal
        .insert_protocol_version(version)
        .await
        .with_context(|| format!("inserting protocol version {}", version.version))?;
    Ok(outcome)
}

pub(crate) async fn run(args: &Args, fleet: &Fleet) -> anyhow::Result<()> {
    let (recursion_tree_vk_digest, final_vk_digest) = match (args.recursion_tree_vk, args.final_vk)
    {
        (Some(tree), Some(last)) => (tree, last),
        _ => digests_from_keys(fleet, args.keys_dir.clone())?,
    };
    let dal = fleet.dal().await?;
    let version = ProtocolVersion {
        version: args.version,
        recursion_tree_vk_digest,
        final_vk_digest,
    };
    match insert(&dal, &version).await? {
        InsertOutcome::Inserted => out!(
            "inserted protocol version {}: recursion tree vk {}, final vk {}",
            version.version,
            version.recursion_tree_vk_digest,
            version.final_vk_digest
        ),
        InsertOutcome::AlreadyPresent => out!(
            "protocol version {} already exists with the same digests; nothing changed",
            version.version
        ),
    }
    Ok(())
}
