//! The sequencer's configuration: the `[sequencer]` section of the fleet's configuration file.
//!
//! Every field has a default: an empty section is a pull-mode sequencer on loopback that makes
//! a 2-operation batch every 30 s for 4 accounts. What the sequencer must agree on with the
//! fleet — chain, protocol version, XMSS height, verifying keys — is not repeated here: the
//! `zkfleet sequencer` command takes it from the rest of the configuration (the chain id and
//! the `[proving]` section) and hands it over in [`ChainParameters`].
//!
//! Secrets are not fields: the bearer token sent to a push-mode gateway comes from
//! [`crate::GATEWAY_TOKEN_ENV_VAR`], the tokens a pull-mode gateway must present from
//! [`crate::UPSTREAM_TOKENS_ENV_VAR`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkfleet_types::{ChainId, ProtocolSemanticVersion, VkDigest};

const MIB: usize = 1024 * 1024;

/// How batches reach the fleet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SequencerMode {
    /// The sequencer is the gateway's upstream: it serves `POST /proof_generation_data` and
    /// `POST /submit_proof/{batch_number}` and the gateway (`mode = "pull"`) calls it.
    #[default]
    Pull,
    /// The sequencer calls a gateway (`mode = "push"`): `POST /submit_request_for_proofs` for
    /// every batch, then `POST /poll_generated_proofs` until the proof is there.
    Push,
}

/// The `[sequencer]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SequencerConfig {
    /// `pull` (default: the gateway polls this sequencer) or `push` (this sequencer calls the
    /// gateway).
    pub mode: SequencerMode,
    /// Where `/status`, `/metrics` and (pull mode) the upstream endpoints are served.
    pub listen_address: SocketAddr,
    /// Where the rollup state and the batches live (default `DATA_DIR/sequencer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Operations per produced batch.
    pub operations_per_batch: usize,
    /// Time between two produced batches.
    #[serde(with = "zkfleet_service::duration")]
    pub batch_interval: Duration,
    /// Accounts of the genesis state (account 0 is the operator, which collects fees).
    pub accounts: u32,
    /// Seed of everything generated: genesis keys and balances, every batch's operations.
    pub seed: u64,
    /// Stop producing while this many batches are produced but not proven (backpressure: a
    /// slow fleet must not make the sequencer pile up work without bound).
    pub max_pending_batches: u32,
    /// Stop producing after this batch number (unset: never). For demonstrations and tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_batches: Option<u32>,
    /// Largest request body accepted (a final proof is tens to hundreds of KB).
    pub max_request_body_bytes: usize,
    /// How long a batch handed to a pull-mode gateway waits before it is handed out again
    /// (the gateway may have lost it; its ingest is idempotent, so a repeat is harmless).
    #[serde(with = "zkfleet_service::duration")]
    pub handout_retry: Duration,
    /// The final verifying key file (`*.final_vk.bin`); default: the keystore's of `[proving]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_vk_file: Option<PathBuf>,
    /// The digest the final verifying key file must have (SHA-256 of every byte, as `zkfleet
    /// keys generate` prints it and `insert-version` records it). Required: the sequencer
    /// refuses to start without it, since a key file alone could carry weakened verification
    /// rules (docs/proofs.md, "Trust in the final proof").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_vk_digest: Option<VkDigest>,
    /// The recursion tree's verifying-key digest the proofs must attest; default: the
    /// keystore's of `[proving]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recursion_tree_vk_digest: Option<VkDigest>,
    /// Push mode settings.
    pub push: PushConfig,
}

impl Default for SequencerConfig {
    fn default() -> Self {
        Self {
            mode: SequencerMode::Pull,
            listen_address: SocketAddr::from(([127, 0, 0, 1], 3320)),
            data_dir: None,
            operations_per_batch: 2,
            batch_interval: Duration::from_secs(30),
            accounts: 4,
            seed: 1,
            max_pending_batches: 8,
            max_batches: None,
            max_request_body_bytes: 16 * MIB,
            handout_retry: Duration::from_secs(300),
            final_vk_file: None,
            final_vk_digest: None,
            recursion_tree_vk_digest: None,
            push: PushConfig::default(),
        }
    }
}

/// Push mode: the gateway this sequencer calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushConfig {
    /// Base URL of the gateway (`http://…` or `https://…`).
    pub gateway_url: String,
    /// Time between two rounds of submissions and polls.
    #[serde(with = "zkfleet_service::duration")]
    pub poll_interval: Duration,
    /// Timeout of one request to the gateway, body included.
    #[serde(with = "zkfleet_service::duration")]
    pub request_timeout: Duration,
    /// Largest answer accepted from the gateway.
    pub max_response_bytes: usize,
}

impl Default for PushConfig {
    fn default() -> Self {
        Self {
            gateway_url: "http://127.0.0.1:3322".to_owned(),
            poll_interval: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            max_response_bytes: 16 * MIB,
        }
    }
}

/// What the sequencer shares with the fleet, resolved by the caller from the rest of the
/// configuration: the sequencer refuses to reopen a data directory made with other values,
/// since its produced batches would no longer be provable or acceptable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainParameters {
    /// The chain this sequencer produces batches for.
    pub chain_id: ChainId,
    /// The version batches are proven under (what `ProofGenerationData` asks for).
    pub protocol_version: ProtocolSemanticVersion,
    /// Height of every account's one-time-key tree: the circuits' `xmss_height`.
    pub tree_height: usize,
    /// The digest every final proof must attest as `recursion_tree_vk_digest`.
    pub recursion_tree_vk_digest: VkDigest,
}

/// A configuration that cannot work; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sequencer configuration: {field}: {reason}")]
pub struct ConfigError {
    /// The configuration field at fault.
    pub field: &'static str,
    /// Why its value cannot work.
    pub reason: String,
}

impl ConfigError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl SequencerConfig {
    /// Checks what the types cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.accounts < 2 {
            return Err(ConfigError::new(
                "accounts",
                "at least 2 (the operator and one user)",
            ));
        }
        if self.operations_per_batch > zkfleet_rollup::batch::MAX_OPERATIONS_PER_BATCH {
            return Err(ConfigError::new(
                "operations_per_batch",
                format!(
                    "at most {} operations fit in a batch",
                    zkfleet_rollup::batch::MAX_OPERATIONS_PER_BATCH
                ),
            ));
        }
        if self.batch_interval.is_zero() {
            return Err(ConfigError::new("batch_interval", "must be above zero"));
        }
        if self.max_pending_batches == 0 {
            return Err(ConfigError::new(
                "max_pending_batches",
                "must be at least 1, or nothing is ever produced",
            ));
        }
        if self.max_request_body_bytes < 1024 {
            return Err(ConfigError::new(
                "max_request_body_bytes",
                "must be at least 1024 (a final proof does not fit in less)",
            ));
        }
        if self.mode == SequencerMode::Push {
            let url = &self.push.gateway_url;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::new(
                    "push.gateway_url",
                    format!("{url:?} is not an http:// or https:// URL"),
                ));
            }
            if self.push.poll_interval.is_zero() {
                return Err(ConfigError::new("push.poll_interval", "must be above zero"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_their_field() {
        SequencerConfig::default().validate().expect("defaults");
        let bad = SequencerConfig {
            accounts: 1,
            ..SequencerConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "accounts");
        let bad = SequencerConfig {
            mode: SequencerMode::Push,
            push: PushConfig {
                gateway_url: "gateway:3322".into(),
                ..PushConfig::default()
            },
            ..SequencerConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "push.gateway_url");
        let text = serde_json::to_string(&SequencerConfig::default()).expect("json");
        let back: SequencerConfig = serde_json::from_str(&text).expect("parse");
        assert_eq!(back, SequencerConfig::default());
        let err = serde_json::from_str::<SequencerConfig>(r#"{"acounts": 3}"#).unwrap_err();
        assert!(err.to_string().contains("acounts"), "{err}");
    }
}
