//! The gateway's configuration: the `[gateway]` section of the fleet's configuration file.
//!
//! Every field has a default, so an empty section plus the protocol versions the fleet holds
//! keys for is a working push-mode gateway on loopback. Durations are a number of seconds or a
//! string with units (`"15s"`, `"500ms"`). Secrets (client tokens, the upstream's token) are
//! not in this file's values: they come from the environment or from a tokens file whose path
//! is configured here (see `docs/gateway.md`).
//!
//! ```toml
//! [gateway]
//! listen_address = "127.0.0.1:3322"
//! mode = "push"
//! [[gateway.protocol_versions]]
//! version = "0.1.0"
//! recursion_tree_vk_digest = "0x…"
//! final_vk_digest = "0x…"
//! [gateway.auth]
//! tokens_file = "/etc/zkfleet/gateway-tokens"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkfleet_service::auth::{AuthSettings, TokenScheme};
use zkfleet_types::{ChainId, ProtocolVersion};

const MIB: usize = 1024 * 1024;

/// Room left in a request body for the JSON around the base64 input (ids, version, digests).
pub const JSON_ENVELOPE_BYTES: usize = 4096;

/// Which side opens the connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayMode {
    /// The gateway serves `POST /submit_request_for_proofs` and `POST /poll_generated_proofs`;
    /// the client (the sequencer side) calls it.
    #[default]
    Push,
    /// The gateway calls an upstream's `POST /proof_generation_data` for batches and
    /// `POST /submit_proof/{batch_number}` with final proofs; it listens on nothing.
    Pull,
}

/// Configuration of the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Where the push-mode HTTP server listens (default `127.0.0.1:3322`).
    pub listen_address: SocketAddr,
    /// `push` (default) or `pull`.
    pub mode: GatewayMode,
    /// Largest accepted request body, in bytes (default 65 MiB: a 48 MiB input is 64 MiB of
    /// base64, plus room for the rest of the JSON).
    pub max_request_body_bytes: usize,
    /// Largest accepted batch input once decoded, in bytes (default 48 MiB).
    pub max_witness_input_bytes: usize,
    /// The protocol versions this fleet can prove, with the digests of its verifying keys. A
    /// batch for another version, or whose verifier configuration names other digests, is
    /// refused.
    pub protocol_versions: Vec<ProtocolVersion>,
    /// How long in-flight requests may take to finish once shutdown starts (default 5 s).
    #[serde(with = "zkfleet_service::duration")]
    pub shutdown_grace: Duration,
    /// Pull mode settings.
    pub pull: PullConfig,
    /// Client authentication.
    pub auth: AuthConfig,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen_address: SocketAddr::from(([127, 0, 0, 1], 3322)),
            mode: GatewayMode::Push,
            max_request_body_bytes: 65 * MIB,
            max_witness_input_bytes: 48 * MIB,
            protocol_versions: Vec::new(),
            shutdown_grace: Duration::from_secs(5),
            pull: PullConfig::default(),
            auth: AuthConfig::default(),
        }
    }
}

/// Pull mode: where the batches come from and where the proofs go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PullConfig {
    /// Base URL of the upstream (`http://…` or `https://…`); required in pull mode.
    pub upstream_url: Option<String>,
    /// Time between two polls of the upstream (default 15 s).
    #[serde(with = "zkfleet_service::duration")]
    pub poll_interval: Duration,
    /// Timeout of one upstream request, body included (default 60 s).
    #[serde(with = "zkfleet_service::duration")]
    pub request_timeout: Duration,
    /// Largest upstream response accepted, in bytes (default 65 MiB, like a push request).
    pub max_response_bytes: usize,
    /// Batches fetched per poll at most, so proof submission is never starved (default 16).
    pub max_batches_per_poll: u32,
    /// The chain the upstream serves. The legacy protocol addresses proofs by batch number
    /// only, so with several chains in one database set this: batches of other chains are
    /// refused and only this chain's proofs are submitted. Unset: every chain.
    pub chain_id: Option<ChainId>,
}

impl Default for PullConfig {
    fn default() -> Self {
        Self {
            upstream_url: None,
            poll_interval: Duration::from_secs(15),
            request_timeout: Duration::from_secs(60),
            max_response_bytes: 65 * MIB,
            max_batches_per_poll: 16,
            chain_id: None,
        }
    }
}

/// Who may call the gateway (and, through the same layer, the monitor's endpoints).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// A file of `client_name token` lines (`#` starts a comment). Re-read on SIGHUP and when
    /// its modification time changes, so a token is revoked by editing the file.
    pub tokens_file: Option<PathBuf>,
    /// Whether requests need a valid bearer token. Unset (default): required exactly when a
    /// token is configured (in the file or in `ZKFLEET_GATEWAY_TOKENS`). `true` with no token
    /// configured refuses to start.
    pub required: Option<bool>,
    /// How often the tokens file's modification time is checked (default 5 s).
    #[serde(with = "zkfleet_service::duration")]
    pub reload_interval: Duration,
    /// Allow a push-mode gateway without authentication on an address other than loopback.
    /// Default false: such a gateway refuses to start, since anyone who reaches it could
    /// submit batches.
    pub allow_unauthenticated_non_loopback: bool,
}

/// The environment variable holding the gateway's tokens, `client=token,client2=token2`.
pub const TOKENS_ENV_VAR: &str = "ZKFLEET_GATEWAY_TOKENS";

impl AuthSettings for AuthConfig {
    const SCHEME: TokenScheme = TokenScheme {
        service: "gateway",
        env_var: TOKENS_ENV_VAR,
        file_setting: "auth.tokens_file",
        failure_counter: Some(crate::metrics::AUTH_FAILURES),
    };

    fn tokens_file(&self) -> Option<&Path> {
        self.tokens_file.as_deref()
    }

    fn required(&self) -> Option<bool> {
        self.required
    }

    fn reload_interval(&self) -> Duration {
        self.reload_interval
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            tokens_file: None,
            required: None,
            reload_interval: Duration::from_secs(5),
            allow_unauthenticated_non_loopback: false,
        }
    }
}

/// A configuration that cannot work; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid gateway configuration: {field}: {reason}")]
pub struct ConfigError {
    /// The configuration field at fault, as the file spells it.
    pub field: &'static str,
    /// Why its value cannot work.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl GatewayConfig {
    /// Checks what serde cannot: limits, the version list, pull-mode settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_request_body_bytes == 0 {
            return Err(ConfigError::new("max_request_body_bytes", "must be > 0"));
        }
        if self.max_witness_input_bytes == 0 {
            return Err(ConfigError::new("max_witness_input_bytes", "must be > 0"));
        }
        // An input the body limit cannot carry would be refused with "body too large" instead
        // of its own, clearer message; and the operator would believe the input limit holds.
        let encoded = self.max_witness_input_bytes.div_ceil(3).saturating_mul(4);
        if encoded.saturating_add(JSON_ENVELOPE_BYTES) > self.max_request_body_bytes {
            return Err(ConfigError::new(
                "max_request_body_bytes",
                format!(
                    "{} bytes cannot carry an input of max_witness_input_bytes = {} ({encoded} \
                     bytes of base64 plus {JSON_ENVELOPE_BYTES} for the rest of the JSON)",
                    self.max_request_body_bytes, self.max_witness_input_bytes
                ),
            ));
        }
        if self.protocol_versions.is_empty() {
            return Err(ConfigError::new(
                "protocol_versions",
                "empty: the gateway would refuse every batch; list the versions this fleet \
                 has keys for (`zkfleet keys generate` prints their digests)",
            ));
        }
        for (i, v) in self.protocol_versions.iter().enumerate() {
            if self.protocol_versions[..i]
                .iter()
                .any(|w| w.version == v.version)
            {
                return Err(ConfigError::new(
                    "protocol_versions",
                    format!("version {} is listed twice", v.version),
                ));
            }
        }
        if self.auth.reload_interval.is_zero() {
            return Err(ConfigError::new("auth.reload_interval", "must be > 0"));
        }
        if self.mode == GatewayMode::Pull {
            let url =
                self.pull.upstream_url.as_deref().ok_or_else(|| {
                    ConfigError::new("pull.upstream_url", "required in pull mode")
                })?;
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| ConfigError::new("pull.upstream_url", format!("{url:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::new(
                    "pull.upstream_url",
                    format!("{url:?}: scheme must be http or https"),
                ));
            }
            if self.pull.poll_interval.is_zero() {
                return Err(ConfigError::new("pull.poll_interval", "must be > 0"));
            }
            if self.pull.request_timeout.is_zero() {
                return Err(ConfigError::new("pull.request_timeout", "must be > 0"));
            }
            if self.pull.max_response_bytes == 0 {
                return Err(ConfigError::new("pull.max_response_bytes", "must be > 0"));
            }
            if self.pull.max_batches_per_poll == 0 {
                return Err(ConfigError::new("pull.max_batches_per_poll", "must be > 0"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zkfleet_types::{HashDigest, ProtocolSemanticVersion, VkDigest};

    fn version(minor: u16) -> ProtocolVersion {
        ProtocolVersion {
            version: ProtocolSemanticVersion::new(minor, 0),
            recursion_tree_vk_digest: VkDigest(HashDigest([1, 2, 3, 4])),
            final_vk_digest: VkDigest(HashDigest([5, 6, 7, 8])),
        }
    }

    #[test]
    fn defaults_and_durations_read_from_json() {
        let config: GatewayConfig = serde_json::from_value(serde_json::json!({
            "protocol_versions": [version(1)],
            "pull": { "poll_interval": "500ms" },
        }))
        .unwrap();
        assert_eq!(config.listen_address.to_string(), "127.0.0.1:3322");
        assert_eq!(config.mode, GatewayMode::Push);
        assert_eq!(config.max_request_body_bytes, 65 * MIB);
        assert_eq!(config.pull.poll_interval, Duration::from_millis(500));
        assert_eq!(config.auth.required, None);
        config.validate().unwrap();
        let err =
            serde_json::from_value::<GatewayConfig>(serde_json::json!({"port": 1})).unwrap_err();
        assert!(err.to_string().contains("unknown field `port`"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let err = GatewayConfig::default().validate().unwrap_err();
        assert_eq!(err.field, "protocol_versions");
        let mut config = GatewayConfig {
            protocol_versions: vec![version(1), version(1)],
            ..GatewayConfig::default()
        };
        assert!(config.validate().unwrap_err().reason.contains("twice"));
        config.protocol_versions = vec![version(1)];
        config.max_request_body_bytes = 64 * MIB;
        let err = config.validate().unwrap_err();
        assert_eq!(err.field, "max_request_body_bytes");
        assert!(err.reason.contains("67108864 bytes of base64"), "{err}");
        config.max_request_body_bytes = 65 * MIB;
        config.protocol_versions = vec![version(1)];
        config.mode = GatewayMode::Pull;
        assert_eq!(config.validate().unwrap_err().field, "pull.upstream_url");
        config.pull.upstream_url = Some("ftp://example.com".into());
        assert!(config.validate().unwrap_err().reason.contains("scheme"));
        config.pull.upstream_url = Some("http://127.0.0.1:3320".into());
        config.validate().unwrap();
    }
}
