//! The fleet's configuration: one TOML file, environment overrides, flags.
//!
//! Layers, later wins:
//!
//! 1. built-in defaults ([`FleetConfig::default`], documented field by field in
//!    `crates/cli/zkfleet.example.toml`, which a test keeps equal to the defaults);
//! 2. the file given with `--config FILE` (or `ZKFLEET_CONFIG`), optional;
//! 3. environment overrides `ZKFLEET_<SECTION>__<FIELD>` (double underscore between path
//!    segments, case-insensitive), e.g. `ZKFLEET_STORE__ROOT=/srv/blobs`,
//!    `ZKFLEET_DATABASE__MAX_CONNECTIONS=20`;
//! 4. flags (`--chain-id`, `--data-dir`, `--database-url`), applied by the caller.
//!
//! Why a small scheme of our own rather than `figment` or `config`: the whole behaviour fits in
//! this file (merge two `toml::Value` trees, set leaves from the environment, deserialize once),
//! its rules are easy to state in the operations guide, and it fails on a misspelt section or
//! field — also in an environment variable — instead of ignoring it. Values from the
//! environment are read as TOML literals (`20`, `true`, `"text"`), except where the field
//! already holds a string, where the text is taken as it is (so a bucket named `2024` stays a
//! string).
//!
//! Adding a component's section is one field of [`FleetConfig`] whose type implements
//! `Default + Serialize + Deserialize` with `#[serde(default)]`: the file, the overrides, the
//! example test and `zkfleet config show` pick it up.
//!
//! Secrets (the database URL, store credentials) are never fields here: the configuration
//! names where they come from (an environment variable, a file), see [`crate::fleet`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zkfleet_gateway::GatewayConfig;
use zkfleet_job_monitor::MonitorConfig;
use zkfleet_sequencer::SequencerConfig;
use zkfleet_store::StoreConfig;
use zkfleet_types::ChainId;

pub(crate) use crate::proving::{
    CircuitProverSection, CompressorSection, PollingConfig, ProvingConfig, WitnessGeneratorSection,
};

/// Prefix of every environment variable the fleet reads.
pub(crate) const ENV_PREFIX: &str = "ZKFLEET_";
/// Separator of path segments in an override variable.
pub(crate) const ENV_PATH_SEPARATOR: &str = "__";

/// The whole configuration of a fleet process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct FleetConfig {
    /// The chain batch-scoped commands act on when `--chain-id` is not given.
    pub(crate) chain_id: ChainId,
    /// The embedded default's directory: SQLite file `DATA_DIR/zkfleet.sqlite` when no database
    /// URL is configured, local store `DATA_DIR/store/` when no `[store]` section is.
    pub(crate) data_dir: PathBuf,
    pub(crate) database: DatabaseConfig,
    /// The object store; absent means a local directory under `data_dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) store: Option<StoreConfig>,
    /// `zkfleet job-monitor` (docs/job-monitor.md).
    pub(crate) monitor: MonitorConfig,
    /// `zkfleet gateway` (docs/gateway.md).
    pub(crate) gateway: GatewayConfig,
    /// `zkfleet sequencer` (docs/sequencer.md).
    pub(crate) sequencer: SequencerConfig,
    /// What every proving component agrees on: the protocol version and its circuits.
    pub(crate) proving: ProvingConfig,
    /// `zkfleet witness-generator` (and the witness generator of `zkfleet prove`).
    pub(crate) witness_generator: WitnessGeneratorSection,
    /// `zkfleet circuit-prover` (and the circuit prover of `zkfleet prove`).
    pub(crate) circuit_prover: CircuitProverSection,
    /// `zkfleet compressor` (and the compressor of `zkfleet prove`).
    pub(crate) compressor: CompressorSection,
    /// Where each component serves its Prometheus metrics (the job monitor serves them on its
    /// own `listen_address`).
    pub(crate) metrics: MetricsConfig,
    /// How often each component looks for work while none is queued.
    pub(crate) polling: PollingConfig,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            chain_id: ChainId(0),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            database: DatabaseConfig::default(),
            store: None,
            monitor: MonitorConfig::default(),
            gateway: GatewayConfig::default(),
            sequencer: SequencerConfig::default(),
            proving: ProvingConfig::default(),
            witness_generator: WitnessGeneratorSection::default(),
            circuit_prover: CircuitProverSection::default(),
            compressor: CompressorSection::default(),
            metrics: MetricsConfig::default(),
            polling: PollingConfig::default(),
        }
    }
}

/// `GET /metrics` listeners of the components other than the job monitor (which serves them
/// on its `listen_address`), one per process: two circuit provers on one machine need two
/// ports (`ZKFLEET_METRICS__CIRCUIT_PROVER=0.0.0.0:3316`). The ports are ZKsync's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct MetricsConfig {
    pub(crate) witness_generator: std::net::SocketAddr,
    pub(crate) circuit_prover: std::net::SocketAddr,
    pub(crate) compressor: std::net::SocketAddr,
    pub(crate) gateway: std::net::SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        let local = |port| std::net::SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            witness_generator: local(3116),
            circuit_prover: local(3315),
            compressor: local(3321),
            gateway: local(3310),
        }
    }
}

/// The default data directory, relative to the working directory: a newcomer's
/// `zkfleet prove` and `zkfleet status` in the same directory see the same fleet.
pub(crate) const DEFAULT_DATA_DIR: &str = ".zkfleet";

/// Where the job database is and how many connections to hold. The URL itself is a secret:
/// it comes from `--database-url`, the variable named by `url_env`, or the file `url_file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DatabaseConfig {
    /// Environment variable holding the database URL.
    pub(crate) url_env: String,
    /// File holding the database URL (a mounted secret); `ZKFLEET_DATABASE_URL_FILE` sets it too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url_file: Option<PathBuf>,
    pub(crate) max_connections: u32,
    pub(crate) min_connections: u32,
    /// How long an operation waits for a free connection.
    pub(crate) acquire_timeout_secs: u64,
}

/// The variable that holds the database URL unless the configuration names another.
pub(crate) const DEFAULT_DATABASE_URL_ENV: &str = "ZKFLEET_DATABASE_URL";
/// The variable naming a file that holds the database URL.
pub(crate) const DATABASE_URL_FILE_ENV: &str = "ZKFLEET_DATABASE_URL_FILE";
/// The variable that holds a separate URL for the wake-up listener's connection (PostgreSQL
/// `LISTEN`): set it when the database URL goes through a pooler in transaction mode, which
/// cannot carry `LISTEN` (docs/operations.md, "Connection budget").
pub(crate) const DATABASE_LISTEN_URL_ENV: &str = "ZKFLEET_DATABASE_LISTEN_URL";

impl Default for DatabaseConfig {
    fn default() -> Self {
        let pool = zkfleet_dal::PoolOptions::default();
        Self {
            url_env: DEFAULT_DATABASE_URL_ENV.to_owned(),
            url_file: None,
            max_connections: pool.max_connections,
            min_connections: pool.min_connections,
            acquire_timeout_secs: pool.acquire_timeout.as_secs(),
        }
    }
}

impl DatabaseConfig {
    pub(crate) fn pool_options(&self) -> zkfleet_dal::PoolOptions {
        zkfleet_dal::PoolOptions {
            max_connections: self.max_connections,
            min_connections: self.min_connections,
            acquire_timeout: std::time::Duration::from_secs(self.acquire_timeout_secs),
            // A secret like the URL: set from `DATABASE_LISTEN_URL_ENV` by `Fleet::dal`.
            listen_url: None,
        }
    }
}

impl FleetConfig {
    /// The object store to use: the configured one, or the local directory `DATA_DIR/store`.
    pub(crate) fn effective_store(&self) -> StoreConfig {
        self.store
            .clone()
            .unwrap_or_else(|| StoreConfig::local(self.data_dir.join("store")))
    }
}

/// Why the configuration could not be loaded. Each case names the file or variable at fault.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {source}")]
    InvalidFile {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("environment variable {variable}: {reason}")]
    InvalidOverride { variable: String, reason: String },
    #[error("invalid configuration after applying the ZKFLEET_*__* environment overrides: {0}")]
    Invalid(Box<toml::de::Error>),
    #[error("cannot represent the configuration as TOML: {0}")]
    Serialize(#[from] toml::ser::Error),
}

/// Loads the configuration: defaults, then `file` (if any), then the overrides found in `env`
/// (all variables of the process, or a test's list).
pub(crate) fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<FleetConfig, ConfigError> {
    let mut tree = toml::Value::try_from(FleetConfig::default())?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |source: toml::de::Error| ConfigError::InvalidFile {
            path: path.to_owned(),
            source: Box::new(source),
        };
        // Deserializing the file on its own first gives errors with the file's line and column.
        toml::from_str::<FleetConfig>(&text).map_err(invalid)?;
        let table: toml::Table = toml::from_str(&text).map_err(invalid)?;
        merge(&mut tree, toml::Value::Table(table));
    }
    let mut overrides: Vec<(String, String)> = env
        .into_iter()
        .filter(|(name, _)| is_override(name))
        .collect();
    // Sorted, so that the result does not depend on the environment's order.
    overrides.sort();
    for (variable, value) in overrides {
        apply_override(&mut tree, &variable, &value)?;
    }
    FleetConfig::deserialize(tree).map_err(|e| ConfigError::Invalid(Box::new(e)))
}

/// Whether a variable is a configuration override (`ZKFLEET_A__B`), as opposed to the fleet's
/// other variables (`ZKFLEET_DATABASE_URL`, `ZKFLEET_CONFIG`, ...), which have no `__`.
fn is_override(name: &str) -> bool {
    name.strip_prefix(ENV_PREFIX)
        .is_some_and(|rest| rest.contains(ENV_PATH_SEPARATOR))
}

/// Deep merge: tables merge key by key, anything else is replaced.
fn merge(base: &mut toml::Value, overlay: toml::Value) {
    match (base, overlay) {
        (toml::Value::Table(base), toml::Value::Table(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn apply_override(tree: &mut toml::Value, variable: &str, value: &str) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidOverride {
        variable: variable.to_owned(),
        reason,
    };
    let path: Vec<String> = variable[ENV_PREFIX.len()..]
        .split(ENV_PATH_SEPARATOR)
        .map(str::to_ascii_lowercase)
        .collect();
    if path.iter().any(String::is_empty) {
        return Err(invalid(
            "empty path segment (expected ZKFLEET_<SECTION>__<FIELD>)".to_owned(),
        ));
    }
    let data_dir = tree
        .get("data_dir")
        .and_then(toml::Value::as_str)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let Some((leaf, sections)) = path.split_last() else {
        return Err(invalid("no field named".to_owned()));
    };
    let mut node = tree;
    for (depth, section) in sections.iter().enumerate() {
        let toml::Value::Table(table) = node else {
            return Err(invalid(format!(
                "`{}` is not a section",
                path[..depth].join(".")
            )));
        };
        if !table.contains_key(section) {
            // Without a [store] section the store is the local directory under the data
            // directory: an override of one of its fields starts from that.
            let seed = if depth == 0 && section == "store" {
                toml::Value::try_from(StoreConfig::local(data_dir.join("store")))?
            } else {
                toml::Value::Table(toml::Table::new())
            };
            table.insert(section.clone(), seed);
        }
        node = table
            .get_mut(section)
            .ok_or_else(|| invalid(format!("cannot create section `{section}`")))?;
    }
    let toml::Value::Table(table) = node else {
        return Err(invalid(format!(
            "`{}` is not a section",
            sections.join(".")
        )));
    };
    let parsed = match table.get(leaf) {
        Some(toml::Value::String(_)) => toml::Value::String(value.to_owned()),
        _ => parse_literal(value),
    };
    table.insert(leaf.clone(), parsed);
    Ok(())
}

/// A TOML literal (`20`, `true`, `[1, 2]`, `"quoted"`), or the text itself as a string.
fn parse_literal(value: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proving::IdleBackoff;
    use zkfleet_store::StoreBackend;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("zkfleet.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn the_example_file_parses_and_equals_the_defaults() {
        let text = include_str!("../zkfleet.example.toml");
        let parsed: FleetConfig = toml::from_str(text).unwrap();
        assert_eq!(parsed, FleetConfig::default());
        // And every documented field appears in it (commented or not).
        for field in [
            "chain_id",
            "data_dir",
            "[database]",
            "url_env",
            "url_file",
            "max_connections",
            "min_connections",
            "acquire_timeout_secs",
            "[store]",
            "backend",
            "max_retries",
            "retry_initial_backoff_ms",
            "retry_max_backoff_ms",
            "request_timeout_secs",
            "[monitor]",
            "[monitor.intervals]",
            "[monitor.timeouts]",
            "[monitor.max_attempts]",
            "[gateway]",
            "[gateway.pull]",
            "[gateway.auth]",
            "[sequencer]",
            "[sequencer.push]",
            "[polling.witness_generator]",
            "[polling.circuit_prover]",
            "[polling.compressor]",
            "[witness_generator]",
            "max_circuits_in_flight",
            "[circuit_prover]",
            "light_wvg_count",
            "heavy_wvg_count",
            "[compressor]",
            "picked_by",
        ] {
            assert!(text.contains(field), "example lacks {field}");
        }
    }

    #[test]
    fn a_partial_polling_section_keeps_the_component_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "[polling.compressor]\ninitial_ms = 200\n[polling.circuit_prover]\nmax_ms = 250\n",
        );
        let config = load(Some(&path), env(&[])).unwrap();
        let defaults = PollingConfig::default();
        assert_eq!(
            config.polling.compressor,
            IdleBackoff {
                initial_ms: 200,
                max_ms: defaults.compressor.max_ms
            }
        );
        assert_eq!(defaults.compressor.max_ms, 10_000);
        assert_eq!(
            config.polling.circuit_prover,
            IdleBackoff {
                initial_ms: defaults.circuit_prover.initial_ms,
                max_ms: 250
            }
        );
        assert_eq!(config.polling.witness_generator, defaults.witness_generator);
    }

    #[test]
    fn no_file_no_env_is_the_defaults() {
        assert_eq!(load(None, env(&[])).unwrap(), FleetConfig::default());
    }

    #[test]
    fn file_then_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "chain_id = 270\n[database]\nmax_connections = 4\n\
             [store]\nbackend = \"s3\"\nbucket = \"blobs\"\n",
        );
        let config = load(
            Some(&path),
            env(&[
                ("ZKFLEET_DATABASE__MAX_CONNECTIONS", "20"),
                ("ZKFLEET_STORE__BUCKET", "2024"),
                ("ZKFLEET_DATABASE_URL", "postgres://not-an-override"),
                ("HOME", "/root"),
            ]),
        )
        .unwrap();
        assert_eq!(config.chain_id, ChainId(270));
        assert_eq!(config.database.max_connections, 20);
        assert_eq!(config.database.min_connections, 0);
        let store = config.store.unwrap();
        // A numeric text stays a string where the field is a string.
        assert!(
            matches!(&store.backend, StoreBackend::S3 { bucket, .. } if bucket == "2024"),
            "{store:?}"
        );
    }

    #[test]
    fn store_override_without_a_store_section_starts_from_the_local_default() {
        let config = load(None, env(&[("ZKFLEET_STORE__MAX_RETRIES", "1")])).unwrap();
        let store = config.store.unwrap();
        assert_eq!(store.max_retries, 1);
        assert_eq!(
            store.backend,
            StoreBackend::Local {
                root: PathBuf::from(DEFAULT_DATA_DIR).join("store")
            }
        );
        let config = load(None, env(&[("ZKFLEET_STORE__ROOT", "/srv/blobs")])).unwrap();
        assert_eq!(config.effective_store(), StoreConfig::local("/srv/blobs"));
    }

    #[test]
    fn misspelt_names_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "[databse]\nmax_connections = 4\n");
        let err = load(Some(&path), env(&[])).unwrap_err().to_string();
        assert!(
            err.contains("zkfleet.toml") && err.contains("databse"),
            "{err}"
        );

        let err = load(None, env(&[("ZKFLEET_DATABASE__MAX_CONECTIONS", "3")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_conections"), "{err}");

        let err = load(None, env(&[("ZKFLEET_DATABASE__MAX_CONNECTIONS", "many")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_connections"), "{err}");

        let err = load(None, env(&[("ZKFLEET_CHAIN_ID__X", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("ZKFLEET_CHAIN_ID__X"), "{err}");

        let err = load(None, env(&[("ZKFLEET___X", "1")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("empty path segment"), "{err}");
    }
}
