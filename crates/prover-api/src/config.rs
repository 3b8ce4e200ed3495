//! The `[prover_api]` section: where the API listens, how long leases last, which jobs may go
//! outside (the operator's policy), what each job kind pays, and when a prover is suspended.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zkfleet_circuits::basic::BasicCircuitKind;
use zkfleet_circuits::ProvingConfiguration;
use zkfleet_types::{AggregationRound, CircuitId, ProtocolSemanticVersion};

use crate::wire::Capabilities;

/// Which prover jobs may be leased to outside provers at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutsidePolicy {
    /// Rounds whose jobs may go outside (default: every round).
    pub rounds: Vec<AggregationRound>,
    /// Circuit ids that may go outside (empty: every circuit of the allowed rounds).
    pub circuits: Vec<u8>,
    /// Jobs of batches with a priority above this stay with the fleet (unset: no limit).
    pub max_batch_priority: Option<i32>,
    /// Percent of prover jobs that may go outside (0..=100), chosen by job id: stable.
    pub share_percent: u8,
}

impl Default for OutsidePolicy {
    fn default() -> Self {
        Self {
            rounds: AggregationRound::ALL.to_vec(),
            circuits: Vec::new(),
            max_batch_priority: None,
            share_percent: 100,
        }
    }
}

/// What a prover must have to be handed a job of one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoundRequirement {
    /// Memory the prover must report, in MiB.
    pub min_memory_mib: u64,
    /// Whether only provers with a GPU take the round.
    pub gpu: bool,
}

/// When a prover is suspended without an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuspensionLimits {
    /// Penalised refusals (invalid proof, wrong public inputs, garbage) after which the prover
    /// is suspended; counted since its last status change.
    pub max_refusals: u64,
    /// Missed deadlines after which the prover is suspended.
    pub max_misses: u64,
}

impl Default for SuspensionLimits {
    fn default() -> Self {
        Self {
            max_refusals: 3,
            max_misses: 5,
        }
    }
}

/// The prover API's configuration. Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProverApiConfig {
    /// HTTP address: HTTPS with `[tls]`, else plain HTTP (terminate TLS in front of it;
    /// docs/prover-api.md, "TLS").
    pub listen_address: SocketAddr,
    /// The protocol version whose jobs are leased.
    pub protocol_version: ProtocolSemanticVersion,
    /// The proving configuration whose circuits verify submitted proofs (must be the fleet's).
    pub proving: ProvingConfiguration,
    /// The keystore directory the circuits are loaded from (built and cached on a miss).
    pub keys_dir: PathBuf,
    /// A lease's first deadline, from the lease.
    #[serde(with = "zkfleet_service::duration")]
    pub lease_duration: Duration,
    /// Longest a lease may last, extensions included.
    #[serde(with = "zkfleet_service::duration")]
    pub max_lease_duration: Duration,
    /// How long a login challenge may be answered.
    #[serde(with = "zkfleet_service::duration")]
    pub challenge_ttl: Duration,
    /// How long a session token lasts before the prover logs in again.
    #[serde(with = "zkfleet_service::duration")]
    pub session_ttl: Duration,
    /// How often expired leases are swept back into the queue.
    #[serde(with = "zkfleet_service::duration")]
    pub sweep_interval: Duration,
    /// Largest request body (a proof submission is the largest request).
    pub max_request_body_bytes: usize,
    /// Inputs up to this size come inline in the lease; larger ones as a link.
    pub inline_input_max_bytes: usize,
    /// Requests per second each prover (and each client address) may make, sustained.
    pub rate_limit_per_second: f64,
    /// Requests a prover may make in a burst.
    pub rate_limit_burst: u32,
    /// Unsettled leases one prover may hold at once.
    pub max_active_leases_per_prover: u32,
    /// A job picked this many times stays with the fleet (keep it below the job monitor's
    /// `max_attempts`, so outside provers never exhaust a job).
    pub max_job_attempts: u32,
    /// Proofs verified at once (each takes a core).
    pub max_concurrent_verifications: usize,
    /// Which prover jobs may be leased outside at all.
    pub policy: OutsidePolicy,
    /// Per round (`basic`, `leaf`, `node`, `recursion_tip`, `scheduler`).
    pub requirements: BTreeMap<AggregationRound, RoundRequirement>,
    /// What an accepted proof of each round earns, in the operator's unit (default 0).
    pub prices: BTreeMap<AggregationRound, u64>,
    /// When a prover is suspended without an operator.
    pub suspension: SuspensionLimits,
    /// TLS in this process (`[tls] cert_file`, `key_file`, PEM); unset: plain HTTP, for a
    /// terminator in front or loopback only (docs/prover-api.md, "TLS").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<crate::tls::TlsFiles>,
}

impl Default for ProverApiConfig {
    fn default() -> Self {
        Self {
            listen_address: SocketAddr::from(([127, 0, 0, 1], 3340)),
            protocol_version: ProtocolSemanticVersion::new(1, 0),
            proving: ProvingConfiguration::default(),
            keys_dir: PathBuf::from("./keys"),
            lease_duration: Duration::from_secs(600),
            max_lease_duration: Duration::from_secs(3600),
            challenge_ttl: Duration::from_secs(60),
            session_ttl: Duration::from_secs(3600),
            sweep_interval: Duration::from_secs(5),
            max_request_body_bytes: 16 << 20,
            inline_input_max_bytes: 4 << 20,
            rate_limit_per_second: 10.0,
            rate_limit_burst: 40,
            max_active_leases_per_prover: 4,
            max_job_attempts: 3,
            max_concurrent_verifications: 2,
            policy: OutsidePolicy::default(),
            requirements: BTreeMap::new(),
            prices: BTreeMap::new(),
            suspension: SuspensionLimits::default(),
            tls: None,
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error)]
#[error("invalid [prover_api] configuration: {0}")]
pub struct ConfigError(pub String);

impl ProverApiConfig {
    /// Refuses a configuration that cannot work (zero durations or limits, a share over 100
    /// percent, a longest lease shorter than a lease), naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |s: &str| Err(ConfigError(s.to_owned()));
        if self.lease_duration.is_zero() {
            return bad("lease_duration must be positive");
        }
        if self.max_lease_duration < self.lease_duration {
            return bad("max_lease_duration must be at least lease_duration");
        }
        if self.challenge_ttl.is_zero() || self.session_ttl.is_zero() {
            return bad("challenge_ttl and session_ttl must be positive");
        }
        if self.sweep_interval.is_zero() {
            return bad("sweep_interval must be positive (zero would busy-loop on the database)");
        }
        if self.max_request_body_bytes < 1024 {
            return bad("max_request_body_bytes must be at least 1024");
        }
        // Written so that NaN is refused too.
        if self.rate_limit_per_second.is_nan()
            || self.rate_limit_per_second <= 0.0
            || self.rate_limit_burst == 0
        {
            return bad("rate_limit_per_second and rate_limit_burst must be positive");
        }
        if self.max_active_leases_per_prover == 0 || self.max_job_attempts == 0 {
            return bad("max_active_leases_per_prover and max_job_attempts must be positive");
        }
        if self.max_concurrent_verifications == 0 {
            return bad("max_concurrent_verifications must be positive");
        }
        if self.policy.share_percent > 100 {
            return bad("policy.share_percent must be in 0..=100");
        }
        Ok(())
    }

    /// Every (round, circuit) of the proving configuration.
    pub fn all_circuits() -> Vec<(AggregationRound, CircuitId)> {
        let mut pairs = Vec::new();
        for round in [
            AggregationRound::Basic,
            AggregationRound::Leaf,
            AggregationRound::Node,
        ] {
            for kind in BasicCircuitKind::ALL {
                pairs.push((round, kind.circuit_id()));
            }
        }
        pairs.push((AggregationRound::RecursionTip, CircuitId::RECURSION_TIP));
        pairs.push((AggregationRound::Scheduler, CircuitId::SCHEDULER));
        pairs
    }

    /// The (round, circuit) pairs a prover with `capabilities` may lease under the policy.
    pub fn allowed_for(&self, capabilities: &Capabilities) -> Vec<(AggregationRound, CircuitId)> {
        Self::all_circuits()
            .into_iter()
            .filter(|(round, circuit)| {
                let requirement = self.requirements.get(round).copied().unwrap_or_default();
                self.policy.rounds.contains(round)
                    && (self.policy.circuits.is_empty()
                        || self.policy.circuits.contains(&circuit.0))
                    && (capabilities.rounds.is_empty() || capabilities.rounds.contains(round))
                    && (capabilities.circuits.is_empty()
                        || capabilities.circuits.contains(&circuit.0))
                    && capabilities.memory_mib >= requirement.min_memory_mib
                    && (!requirement.gpu || capabilities.gpu)
            })
            .collect()
    }

    /// What an accepted proof of `round` earns (0 when no price is set).
    pub fn price(&self, round: AggregationRound) -> u64 {
        self.prices.get(&round).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_and_capabilities_intersect() {
        let mut config = ProverApiConfig::default();
        config.policy.rounds = vec![AggregationRound::Basic, AggregationRound::Leaf];
        config.requirements.insert(
            AggregationRound::Leaf,
            RoundRequirement {
                min_memory_mib: 8192,
                gpu: false,
            },
        );
        let small = Capabilities {
            memory_mib: 4096,
            ..Capabilities::default()
        };
        let allowed = config.allowed_for(&small);
        assert_eq!(allowed.len(), 3, "{allowed:?}");
        assert!(allowed.iter().all(|(r, _)| *r == AggregationRound::Basic));
        let big = Capabilities {
            memory_mib: 16384,
            circuits: vec![2],
            ..Capabilities::default()
        };
        assert_eq!(
            config.allowed_for(&big),
            vec![
                (AggregationRound::Basic, CircuitId(2)),
                (AggregationRound::Leaf, CircuitId(2))
            ]
        );
    }

    #[test]
    fn validation_refuses_what_cannot_work() {
        let mut config = ProverApiConfig::default();
        config.validate().unwrap();
        config.policy.share_percent = 101;
        assert!(config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("share_percent"));
        let config = ProverApiConfig {
            max_lease_duration: Duration::from_secs(1),
            ..ProverApiConfig::default()
        };
        assert!(config.validate().is_err());
        let parsed: Result<ProverApiConfig, _> =
            serde_json::from_str(r#"{"lease_duraton": "10s"}"#);
        assert!(parsed.unwrap_err().to_string().contains("lease_duraton"));
        let parsed: ProverApiConfig = serde_json::from_str(
            r#"{"lease_duration": "90s", "prices": {"basic": 5, "scheduler": 50}}"#,
        )
        .unwrap();
        assert_eq!(parsed.lease_duration, Duration::from_secs(90));
        assert_eq!(parsed.price(AggregationRound::Scheduler), 50);
        assert_eq!(parsed.price(AggregationRound::Leaf), 0);
    }
}
