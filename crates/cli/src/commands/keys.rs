//! `zkfleet keys generate|verify`: the keystore of the configured circuits.
//!
//! `generate` builds the circuit data of every circuit of the `[proving]` configuration (the
//! three basic types, then leaves, node, recursion tip, scheduler and the compression chain),
//! writes it with a manifest entry per file and the final verifying key, and prints the digests
//! a protocol version records. `verify` checks the directory against this build's code: it
//! rebuilds every circuit (minutes) and compares every byte of every file with the rebuilt
//! serialization, and the manifests' digests with the rebuilt ones. Proving components load the keystore instead of building.

use std::path::PathBuf;

use anyhow::Context as _;
use zkfleet_circuits::keystore::ManifestEntry;
use zkfleet_circuits::pipeline::FinalVerifyingKey;
use zkfleet_circuits::Keystore;
use zkfleet_types::{HashDigest, VkDigest};

use crate::config::ProvingConfig;
use crate::fleet::Fleet;

#[derive(clap::Subcommand)]
pub(crate) enum KeysCommand {
    /// Build and write every circuit's data, its manifest and the final verifying key.
    Generate(KeysArgs),
    /// Check the keystore against this build's code (rebuilds every circuit to compare).
    Verify(KeysArgs),
}

#[derive(clap::Args)]
pub(crate) struct KeysArgs {
    /// The keystore directory (default: `[proving] keys_dir`, else DATA_DIR/keys).
    #[arg(long, value_name = "DIR")]
    keys_dir: Option<PathBuf>,
}

/// The digests a protocol version records for a configuration's circuits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VersionDigests {
    pub(crate) recursion_tree_vk: VkDigest,
    pub(crate) final_vk: VkDigest,
}

impl VersionDigests {
    pub(crate) fn of(
        circuits: &zkfleet_circuits::recursion::BatchCircuits,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            recursion_tree_vk: VkDigest(circuits.scheduler().tree_vk_digest()),
            final_vk: FinalVerifyingKey::of(circuits)
                .context("encoding the final verifying key")?
                .digest(),
        })
    }
}

pub(crate) fn keys_dir(fleet: &Fleet, args: &KeysArgs) -> PathBuf {
    args.keys_dir
        .clone()
        .unwrap_or_else(|| fleet.config.proving.keys_dir(&fleet.config.data_dir))
}

pub(crate) fn run(command: KeysCommand, fleet: &Fleet) -> anyhow::Result<()> {
    let proving = &fleet.config.proving;
    match command {
        KeysCommand::Generate(args) => {
            let dir = keys_dir(fleet, &args);
            let keystore = Keystore::open(&dir)
                .with_context(|| format!("opening the keystore {}", dir.display()))?;
            let started = std::time::Instant::now();
            eprintln!(
                "building every circuit of {} into {} (minutes at the default geometry)…",
                describe(proving),
                dir.display()
            );
            let (circuits, entries) = keystore
                .generate(&proving.circuits())
                .context("building the circuits")?;
            print_entries(&entries);
            let digests = VersionDigests::of(&circuits)?;
            out!(
                "final verifying key: {} ({} bytes)",
                keystore.final_vk_path(&proving.circuits()).display(),
                std::fs::metadata(keystore.final_vk_path(&proving.circuits()))
                    .map(|m| m.len())
                    .unwrap_or_default()
            );
            out!("recursion tree vk digest: {}", digests.recursion_tree_vk);
            out!(
                "final vk digest:          {} (SHA-256 of the key file: pin it in `zkfleet \
                 verify --expect-vk-digest` and the sequencer's final_vk_digest)",
                digests.final_vk
            );
            out!(
                "register them: zkfleet insert-version --version {} --from-keys",
                proving.protocol_version
            );
            out!("done in {:.1} s", started.elapsed().as_secs_f64());
        }
        KeysCommand::Verify(args) => {
            let dir = keys_dir(fleet, &args);
            let keystore = Keystore::open(&dir)
                .with_context(|| format!("opening the keystore {}", dir.display()))?;
            eprintln!(
                "checking {} against this build's circuits ({}); rebuilding them takes minutes…",
                dir.display(),
                describe(proving)
            );
            let entries = keystore.verify_against_code(&proving.circuits()).with_context(|| {
                format!(
                    "the keystore {} does not match this build (regenerate it with `zkfleet keys generate`)",
                    dir.display()
                )
            })?;
            print_entries(&entries);
            out!(
                "ok: every byte of every key file (basic circuits, aggregation entry, final \
                 verifying key) equals this build's circuits"
            );
        }
    }
    Ok(())
}

fn describe(proving: &ProvingConfig) -> String {
    format!(
        "arity {}, {} compression, geometry {}/{}/{} items per instance, XMSS height {}",
        proving.arity,
        proving.compression.name(),
        proving.geometry.signatures_per_instance,
        proving.geometry.operations_per_instance,
        proving.geometry.deposits_per_instance,
        proving.geometry.xmss_height
    )
}

fn print_entries(entries: &[ManifestEntry]) {
    for entry in entries {
        out!(
            "{:<40} {:>12} bytes  degree 2^{:<2}  circuit {}",
            entry.key.name(),
            entry.file_bytes,
            entry.degree_bits,
            HashDigest(entry.circuit_digest)
        );
        for component in &entry.components {
            out!(
                "    {:<36} degree 2^{:<2}  circuit {}",
                component.name,
                component.degree_bits,
                HashDigest(component.circuit_digest)
            );
        }
    }
}
