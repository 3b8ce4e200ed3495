//! `[witness_generator]` configuration: which rounds run, for which protocol version, the
//! shape of the proof tree (geometry, arity), and how hard a job may push the object store.

use serde::{Deserialize, Serialize};
use zkfleet_circuits::recursion::{check_arity, MAX_ARITY};
use zkfleet_circuits::BasicGeometry;
use zkfleet_runner::{check_idle_backoff_ms, IdleBackoffError, JobRunnerConfig};
use zkfleet_types::{AggregationRound, ProtocolSemanticVersion};

/// Rounds whose witness generator this build has (all five). A round missing here would be
/// refused by [`WitnessGeneratorConfig::validate`] rather than silently idle.
pub const AVAILABLE_ROUNDS: [AggregationRound; 5] = AggregationRound::ALL;

/// The fleet's default arity: proofs aggregated per leaf and per node. Defined once, in
/// zkfleet-circuits, for every component (its documentation says why 3).
pub use zkfleet_circuits::DEFAULT_ARITY;

/// Configuration of a witness generator process.
///
/// ```toml
/// [witness_generator]
/// rounds = ["basic"]              # default: ["basic"]
/// protocol_version = "0.1.0"      # default
/// picked_by = "wg-host-1"         # default: witness-generator@HOST-PID
/// max_circuits_in_flight = 64     # default
/// arity = 3                       # default
/// idle_backoff_initial_ms = 1000  # default
/// idle_backoff_max_ms = 5000      # default
/// [witness_generator.geometry]    # default: BasicGeometry::default()
/// signatures_per_instance = 45
/// operations_per_instance = 163
/// deposits_per_instance = 256
/// xmss_height = 10
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WitnessGeneratorConfig {
    /// Rounds to run, one job runner each (`--round` / `--all-rounds` choose them).
    pub rounds: Vec<AggregationRound>,
    /// Only jobs of this protocol version are picked.
    pub protocol_version: ProtocolSemanticVersion,
    /// Written to `picked_by` of every picked job (host or pod name).
    pub picked_by: String,
    /// Store transfers at the same time within one job: circuit witnesses uploaded (every
    /// round) and proofs downloaded (rounds 1 to 4). Bounds the memory held by transfers (each
    /// holds one blob) and the connections opened to the store.
    pub max_circuits_in_flight: usize,
    /// Shape of the basic circuits the batch is cut for; must match the circuit provers'.
    pub geometry: BasicGeometry,
    /// Proofs aggregated per leaf and per node (2..=16); must match the circuit provers'
    /// recursion circuits, which are built for one arity.
    pub arity: u32,
    /// First wait when there is no job to pick; doubles up to `idle_backoff_max_ms`.
    pub idle_backoff_initial_ms: u64,
    /// Ceiling of the idle wait.
    pub idle_backoff_max_ms: u64,
}

impl Default for WitnessGeneratorConfig {
    fn default() -> Self {
        Self {
            rounds: vec![AggregationRound::Basic],
            protocol_version: ProtocolSemanticVersion::new(1, 0),
            picked_by: zkfleet_runner::worker_name("witness-generator", None),
            max_circuits_in_flight: 64,
            geometry: BasicGeometry::default(),
            arity: DEFAULT_ARITY,
            idle_backoff_initial_ms: 1000,
            idle_backoff_max_ms: 5000,
        }
    }
}

/// A configuration that cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No round is configured: the process would do nothing.
    #[error("no round to run: give --round or --all-rounds")]
    NoRounds,
    /// A round this build has no witness generator for.
    #[error("the {0} round's witness generator is not available in this build")]
    RoundNotAvailable(&'static str),
    /// A round listed twice would run two runners on one table.
    #[error("round {0} is listed twice")]
    DuplicateRound(&'static str),
    /// No store transfer could ever start.
    #[error("max_circuits_in_flight must be at least 1")]
    NoUploads,
    /// An empty worker name would record nobody in `picked_by`.
    #[error("picked_by must not be empty (it names the worker in the job tables)")]
    EmptyPickedBy,
    /// The basic geometry cannot be built.
    #[error("invalid basic geometry: {0}")]
    Geometry(String),
    /// No recursion circuit exists for this arity.
    #[error("arity {0} is outside 2..={MAX_ARITY} (proofs aggregated per leaf and per node)")]
    Arity(u32),
    /// The idle backoff cannot work (the error names the setting).
    #[error(transparent)]
    IdleBackoff(#[from] IdleBackoffError),
    /// A round's runner refused its configuration.
    #[error(transparent)]
    Runner(#[from] zkfleet_runner::ConfigError),
}

impl WitnessGeneratorConfig {
    /// Every round of the pipeline (`--all-rounds`).
    pub fn all_rounds() -> Vec<AggregationRound> {
        AggregationRound::ALL.to_vec()
    }

    /// Refuses a configuration that cannot run (see [`ConfigError`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.rounds.is_empty() {
            return Err(ConfigError::NoRounds);
        }
        let mut seen = Vec::new();
        for &round in &self.rounds {
            if !AVAILABLE_ROUNDS.contains(&round) {
                return Err(ConfigError::RoundNotAvailable(round.name()));
            }
            if seen.contains(&round) {
                return Err(ConfigError::DuplicateRound(round.name()));
            }
            seen.push(round);
        }
        if self.max_circuits_in_flight == 0 {
            return Err(ConfigError::NoUploads);
        }
        if self.picked_by.trim().is_empty() {
            return Err(ConfigError::EmptyPickedBy);
        }
        self.geometry
            .validate()
            .map_err(|e| ConfigError::Geometry(e.to_string()))?;
        check_arity(self.arity).map_err(|_| ConfigError::Arity(self.arity))?;
        check_idle_backoff_ms(self.idle_backoff_initial_ms, self.idle_backoff_max_ms)?;
        Ok(())
    }

    /// The runner configuration of one round: one worker, as ZKsync (a job is already parallel
    /// inside: its uploads and proof reads), named `witness_generator_{round}` in metrics.
    pub fn runner_config(&self, round: AggregationRound) -> JobRunnerConfig {
        JobRunnerConfig::new(format!("witness_generator_{}", round.name()), 1)
            .with_idle_backoff_ms(self.idle_backoff_initial_ms, self.idle_backoff_max_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_all_rounds_are_valid() {
        let config = WitnessGeneratorConfig::default();
        config.validate().expect("defaults are valid");
        assert_eq!(config.arity, DEFAULT_ARITY);
        let all = WitnessGeneratorConfig {
            rounds: WitnessGeneratorConfig::all_rounds(),
            ..config
        };
        all.validate().expect("every round is available");
        assert_eq!(all.rounds.len(), 5);
    }

    #[test]
    fn refuses_what_cannot_run() {
        let config = WitnessGeneratorConfig::default();
        let none = WitnessGeneratorConfig {
            max_circuits_in_flight: 0,
            ..config.clone()
        };
        assert_eq!(none.validate(), Err(ConfigError::NoUploads));
        let twice = WitnessGeneratorConfig {
            rounds: vec![AggregationRound::Leaf, AggregationRound::Leaf],
            ..config.clone()
        };
        assert_eq!(twice.validate(), Err(ConfigError::DuplicateRound("leaf")));
        for arity in [0, 1, 17] {
            let bad = WitnessGeneratorConfig {
                arity,
                ..config.clone()
            };
            assert_eq!(bad.validate(), Err(ConfigError::Arity(arity)));
        }
        let no_rounds = WitnessGeneratorConfig {
            rounds: Vec::new(),
            ..config
        };
        assert_eq!(no_rounds.validate(), Err(ConfigError::NoRounds));
    }

    #[test]
    fn arity_defaults_when_absent_from_a_file() {
        let parsed: WitnessGeneratorConfig =
            serde_json::from_str(r#"{"rounds": ["leaf", "node"], "max_circuits_in_flight": 8}"#)
                .expect("parse");
        assert_eq!(parsed.arity, DEFAULT_ARITY);
        assert_eq!(
            parsed.rounds,
            [AggregationRound::Leaf, AggregationRound::Node]
        );
    }
}
