//! `zkfleet sequencer`: the reference sequencer (`zkfleet_sequencer`, docs/sequencer.md).
//!
//! What it shares with the fleet comes from the rest of the configuration, so that one file
//! configures both sides alike: the chain (`--chain-id` / `chain_id`), the protocol version and
//! the XMSS height (`[proving]`), and the verifying keys — the final key file and the recursion
//! tree digest from the `[proving]` keystore unless `[sequencer]` names them (a sequencer on
//! another machine needs only the 1 KB key file and the digest, not the keystore).

use anyhow::{bail, Context as _};
use zkfleet_circuits::Keystore;
use zkfleet_sequencer::{ChainParameters, FinalKeyVerifier, ProofVerifier as _, Sequencer};

use crate::commands::components::shutdown_on_signal;
use crate::commands::insert_version::digests_from_keys;
use crate::fleet::Fleet;

pub(crate) async fn run(fleet: &Fleet) -> anyhow::Result<()> {
    let config = fleet.config.sequencer.clone();
    let proving = &fleet.config.proving;
    let final_vk = match &config.final_vk_file {
        Some(path) => path.clone(),
        None => {
            let dir = proving.keys_dir(&fleet.config.data_dir);
            Keystore::open(&dir)
                .with_context(|| format!("opening the keystore {}", dir.display()))?
                .final_vk_path(&proving.circuits())
        }
    };
    let Some(pinned) = config.final_vk_digest else {
        bail!(
            "the sequencer needs [sequencer] final_vk_digest: the digest of the final verifying \
             key it must trust (SHA-256 of the key file, printed by `zkfleet keys generate` and \
             recorded by `insert-version`); a key file is never trusted on its own"
        );
    };
    let verifier = FinalKeyVerifier::from_file(&final_vk, pinned).with_context(|| {
        format!(
            "loading the final verifying key {} (set [sequencer] final_vk_file, or run \
             `zkfleet keys generate`)",
            final_vk.display()
        )
    })?;
    let recursion_tree_vk_digest = match config.recursion_tree_vk_digest {
        Some(digest) => digest,
        None => {
            let (tree, last) = digests_from_keys(fleet, None)?;
            // The key file and the keystore's manifest must be of the same circuits, or every
            // proof would be refused for a reason nobody would guess.
            if last != verifier.key_digest() {
                bail!(
                    "the final verifying key {} has digest {}, but the keystore records {}",
                    final_vk.display(),
                    verifier.key_digest(),
                    last
                );
            }
            tree
        }
    };
    let params = ChainParameters {
        chain_id: fleet.chain_id(),
        protocol_version: proving.protocol_version,
        // Lossless: u32 fits in usize on every target zkfleet builds for (64-bit).
        tree_height: proving.geometry.xmss_height as usize,
        recursion_tree_vk_digest,
    };
    let data_dir = config
        .data_dir
        .clone()
        .unwrap_or_else(|| fleet.config.data_dir.join("sequencer"));
    // GET /metrics is served by the sequencer's own listener, so the recorder has no listener.
    let metrics = zkfleet_service::metrics::install_prometheus_recorder()
        .context("installing the metrics recorder")?;
    let sequencer = {
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || {
            Sequencer::open(dir, config, params, std::sync::Arc::new(verifier))
        })
        .await
        .context("opening the sequencer")?
        .with_context(|| format!("opening the sequencer's data in {}", data_dir.display()))?
    };
    tracing::info!(
        data_dir = %data_dir.display(),
        final_vk = %final_vk.display(),
        "sequencer starting"
    );
    let cancel = shutdown_on_signal();
    zkfleet_sequencer::run(std::sync::Arc::new(sequencer), Some(metrics), cancel)
        .await
        .context("sequencer")
}
