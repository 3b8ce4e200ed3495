//! `zkfleet insert-version`: register a protocol version with its verifying-key digests.

use anyhow::Context as _;
use zkfleet_dal::InsertOutcome;
use zkfleet_types::{ProtocolSemanticVersion, ProtocolVersion, VkDigest};

use crate::fleet::Fleet;

#[derive(clap::Args)]
pub struct Args {
    /// The version, `0.MINOR.PATCH`.
    #[arg(long)]
    version: ProtocolSemanticVersion,
    /// Digest of every verifying key of the recursion tree (0x + 64 hex digits).
    #[arg(long, value_name = "DIGEST")]
    recursion_tree_vk: VkDigest,
    /// Digest of the final (compression) verifying key (0x + 64 hex digits).
    #[arg(long, value_name = "DIGEST")]
    final_vk: VkDigest,
}

pub async fn run(args: &Args, fleet: &Fleet) -> anyhow::Result<()> {
    let dal = fleet.dal().await?;
    let version = ProtocolVersion {
        version: args.version,
        recursion_tree_vk_digest: args.recursion_tree_vk,
        final_vk_digest: args.final_vk,
    };
    let outcome = dal
        .insert_protocol_version(&version)
        .await
        .with_context(|| format!("inserting protocol version {}", args.version))?;
    match outcome {
        InsertOutcome::Inserted => println!(
            "inserted protocol version {}: recursion tree vk {}, final vk {}",
            version.version, version.recursion_tree_vk_digest, version.final_vk_digest
        ),
        InsertOutcome::AlreadyPresent => println!(
            "protocol version {} already exists with the same digests; nothing changed",
            version.version
        ),
    }
    Ok(())
}
