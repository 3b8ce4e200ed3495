//! Configuration of a circuit prover process (`[circuit_prover]`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use zkfleet_circuits::recursion::CompressionProfile;
use zkfleet_circuits::{BasicGeometry, ProvingConfiguration};
use zkfleet_dal::HeavySet;
use zkfleet_runner::check_idle_backoff_ms;
use zkfleet_types::{AggregationRound, CircuitId, ProtocolSemanticVersion};

use crate::error::ProverError;

/// One (round, circuit) of the heavy set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeavyCircuit {
    /// The round of the prover jobs.
    pub round: AggregationRound,
    /// Their circuit (a basic type for rounds 0 to 2).
    pub circuit: CircuitId,
}

/// How a circuit prover process is sized and what it serves.
///
/// ```toml
/// [circuit_prover]
/// protocol_version = "0.1.0"
/// light_wvg_count = 1          # default: max(1, cores - 1)
/// heavy_wvg_count = 1          # default: 1
/// channel_capacity = 1
/// concurrent_proofs = 1        # default: sized from the cores and memory (see below)
/// max_batch = 8                # jobs per pick statement and per completing transaction
/// heavy_circuits = [{ round = "basic", circuit = 1 }]
/// idle_backoff_initial_ms = 1000
/// idle_backoff_max_ms = 5000
/// keys_dir = "./keys"
/// # picked_by = "prover-7"     # default: circuit-prover@HOST-PID
/// arity = 3                    # proofs aggregated per leaf / node job
/// compression = "standard"     # or "light"; selects the keystore entry, hence the final key
/// backend = "cpu"              # batched Merkle hasher (AVX-512); "plonky2": plonky2's prove
///                              # (the reference); "gpu": commitments on a GPU (cpu where none)
/// gpu_device = 0               # the CUDA ordinal `backend = "gpu"` proves on (one process per card)
/// # rounds = ["leaf", "node", "recursion_tip", "scheduler"]  # default: every round
/// # [circuit_prover.geometry]  # default: BasicGeometry::default()
/// ```
///
/// `geometry`, `arity` and `compression` together name the proving configuration: the
/// circuits loaded at start and the final verifying key whose digest the protocol version row
/// must record (checked at start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProverConfig {
    /// The protocol version whose jobs this process picks (jobs of other versions are left to
    /// provers with the matching circuits).
    pub protocol_version: ProtocolSemanticVersion,
    /// Light witness-vector generators: take only jobs outside the heavy set.
    #[serde(default = "default_light")]
    pub light_wvg_count: usize,
    /// Heavy witness-vector generators: take heavy jobs first, light ones when no heavy job is
    /// queued (so they never idle).
    #[serde(default = "default_heavy")]
    pub heavy_wvg_count: usize,
    /// Capacity of the channel from the generators to the prover. 1, as in ZKsync: one witness
    /// vector waits while one is proved; generators beyond that block, so a generator never
    /// holds more than one finished vector (memory) and never picks ahead of the prover.
    #[serde(default = "default_channel_capacity")]
    pub channel_capacity: usize,
    /// Jobs proved at the same time. One plonky2 proof of our circuits (2^12–2^14 rows) does
    /// not keep a large host's cores busy, so a host with cores to spare proves several at
    /// once; the default is [`HostSizing::concurrent_proofs`] of this host (1 on 2 cores).
    #[serde(default = "default_concurrent_proofs")]
    pub concurrent_proofs: usize,
    /// Most prover jobs one generator pick takes (jobs of one circuit, in one statement, as
    /// many as there are idle generators) and most proofs the prover completes in one
    /// transaction (those that finished while it saved the previous ones). 1: one job per
    /// statement, as before batching.
    #[serde(default = "default_max_batch")]
    pub max_batch: usize,
    /// Jobs whose memory footprint calls for a heavy generator.
    #[serde(default = "default_heavy_circuits")]
    pub heavy_circuits: Vec<HeavyCircuit>,
    /// First wait of a generator that found no job; doubles up to the maximum.
    #[serde(default = "default_idle_initial_ms")]
    pub idle_backoff_initial_ms: u64,
    /// Ceiling of a generator's idle wait (with wake-ups on PostgreSQL it is only the safety
    /// poll's floor, docs/store-and-runner.md "Wake-ups").
    #[serde(default = "default_idle_max_ms")]
    pub idle_backoff_max_ms: u64,
    /// Recorded in `picked_by` of every job this process picks.
    #[serde(default)]
    pub picked_by: Option<String>,
    /// The keystore directory (circuit data built on a miss and cached there).
    #[serde(default = "default_keys_dir")]
    pub keys_dir: PathBuf,
    /// Geometry of the basic circuits (must be the witness generator's).
    #[serde(default)]
    pub geometry: BasicGeometry,
    /// How many proofs a leaf or node job aggregates (must be the witness generator's).
    #[serde(default = "default_arity")]
    pub arity: u32,
    /// The compression chain of the configuration. The circuit prover does not compress, but
    /// the profile is part of the keystore entry it loads and of the final key it checks.
    #[serde(default)]
    pub compression: CompressionProfile,
    /// Which prover proves: `cpu` (default), zkfleet's prover with the batched Merkle hasher
    /// on the host's cores, byte for byte plonky2's proofs; `plonky2`, plonky2's own `prove`
    /// (the reference); `gpu`, zkfleet's prover with the commitments on the GPU
    /// (`crate::backend`, docs/gpu.md).
    #[serde(default)]
    pub backend: crate::backend::ProverBackend,
    /// The card `backend = "gpu"` proves on: its CUDA ordinal, counted among the cards
    /// `CUDA_VISIBLE_DEVICES` leaves visible (so `CUDA_VISIBLE_DEVICES=3` with `gpu_device = 0`
    /// is the host's fourth card). A host with several cards runs one circuit prover per card
    /// (docs/gpu.md, "Several GPUs per host"). An ordinal the driver does not have is an error
    /// at start.
    #[serde(default)]
    pub gpu_device: usize,
    /// The rounds whose jobs this process picks; unset: every round. A fleet that leaves a
    /// round to outside provers (docs/prover-api.md) runs its own provers without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounds: Option<Vec<AggregationRound>>,
}

/// The fleet's default arity, [`zkfleet_circuits::DEFAULT_ARITY`] (serde needs a function).
fn default_arity() -> u32 {
    zkfleet_circuits::DEFAULT_ARITY
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Every core but one goes to light generators (witness generation is single-threaded per job);
/// the last core is left to the prover, which uses all cores while it proves but waits for
/// vectors in between. At least one, so a one-core machine still proves light jobs.
fn default_light() -> usize {
    cores().saturating_sub(1).max(1)
}

/// One heavy generator: heavy jobs are the rarer, memory-hungry ones, and one generator that
/// falls back to light jobs is never idle.
fn default_heavy() -> usize {
    1
}

fn default_channel_capacity() -> usize {
    1
}

fn default_concurrent_proofs() -> usize {
    HostSizing::of_this_host().concurrent_proofs()
}

/// Eight jobs per statement: on PostgreSQL, batches of 8 doubled picks + completions per
/// second against single jobs (docs/benchmarks.md, "Job database"), and a
/// generator pool seldom has more idle workers than that at once.
fn default_max_batch() -> usize {
    8
}

/// Cores one proof is given when sizing [`ProverConfig::concurrent_proofs`]: plonky2
/// parallelises a proof's FFTs and Merkle hashing over its rows, and at our circuits' 2^12–2^14
/// rows that work runs out of parallelism well before 16 cores (issue 18: one circuit prover
/// on a 16-core host). An estimate, not a measurement: override `concurrent_proofs` where
/// measured otherwise.
pub const CORES_PER_PROOF: usize = 4;

/// Memory set aside per concurrent proof: a proof of our largest circuit (the recursion tip,
/// 2^14 rows) grows the process by ~180 MiB over the 2.0 GiB of loaded circuits
/// (docs/benchmarks.md, "Proving cost"); 1 GiB leaves room for the witness vectors waiting in
/// the channel and for larger geometries.
pub const MEMORY_PER_PROOF: u64 = 1 << 30;

/// Memory the loaded circuits of the default configuration take (2.0 GiB measured) plus slack.
pub const MEMORY_FOR_CIRCUITS: u64 = 5 << 29;

/// What the host offers, for the defaults that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostSizing {
    /// Cores this process may use (available parallelism).
    pub cores: usize,
    /// Memory available to new work (`MemAvailable`), `None` where it cannot be read.
    pub available_memory: Option<u64>,
}

impl HostSizing {
    /// This host: available parallelism, and `MemAvailable` from `/proc/meminfo`.
    pub fn of_this_host() -> Self {
        Self {
            cores: cores(),
            available_memory: available_memory(),
        }
    }

    /// One proof per [`CORES_PER_PROOF`] cores, no more than the memory beyond the loaded
    /// circuits holds at [`MEMORY_PER_PROOF`] each, and at least one.
    pub fn concurrent_proofs(&self) -> usize {
        let by_cores = self.cores / CORES_PER_PROOF;
        let by_memory = self.available_memory.map_or(usize::MAX, |bytes| {
            usize::try_from(bytes.saturating_sub(MEMORY_FOR_CIRCUITS) / MEMORY_PER_PROOF)
                .unwrap_or(usize::MAX)
        });
        by_cores.min(by_memory).max(1)
    }
}

/// `MemAvailable` of `/proc/meminfo` in bytes (Linux); `None` elsewhere or when unreadable.
fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo
        .lines()
        .find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line
        .trim_start_matches("MemAvailable:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// Signature verification: the largest basic circuit (docs/benchmarks.md: 2^13 rows and the
/// slowest witness generation at the default geometry). Aggregation rounds add their own.
fn default_heavy_circuits() -> Vec<HeavyCircuit> {
    vec![HeavyCircuit {
        round: AggregationRound::Basic,
        circuit: CircuitId::SIGNATURE_VERIFICATION,
    }]
}

fn default_idle_initial_ms() -> u64 {
    1000
}

fn default_idle_max_ms() -> u64 {
    5000
}

fn default_keys_dir() -> PathBuf {
    PathBuf::from("./keys")
}

impl ProverConfig {
    /// The defaults for `protocol_version`.
    pub fn new(protocol_version: ProtocolSemanticVersion) -> Self {
        Self {
            protocol_version,
            light_wvg_count: default_light(),
            heavy_wvg_count: default_heavy(),
            channel_capacity: default_channel_capacity(),
            concurrent_proofs: default_concurrent_proofs(),
            max_batch: default_max_batch(),
            heavy_circuits: default_heavy_circuits(),
            idle_backoff_initial_ms: default_idle_initial_ms(),
            idle_backoff_max_ms: default_idle_max_ms(),
            picked_by: None,
            keys_dir: default_keys_dir(),
            geometry: BasicGeometry::default(),
            arity: default_arity(),
            compression: CompressionProfile::default(),
            backend: crate::backend::ProverBackend::default(),
            gpu_device: 0,
            rounds: None,
        }
    }

    /// The proving configuration whose circuits this process loads.
    pub fn proving_configuration(&self) -> ProvingConfiguration {
        ProvingConfiguration {
            geometry: self.geometry,
            arity: self.arity,
            compression: self.compression,
        }
    }

    /// Rejects a configuration that cannot prove anything or would spin on the database.
    pub fn validate(&self) -> Result<(), ProverError> {
        if self.light_wvg_count == 0 && self.heavy_wvg_count == 0 {
            return Err(ProverError::Config(
                "light_wvg_count and heavy_wvg_count are both 0: nothing would pick jobs".into(),
            ));
        }
        if self.channel_capacity == 0 {
            return Err(ProverError::Config(
                "channel_capacity must be at least 1".into(),
            ));
        }
        if self.concurrent_proofs == 0 {
            return Err(ProverError::Config(
                "concurrent_proofs must be at least 1".into(),
            ));
        }
        if self.max_batch == 0 {
            return Err(ProverError::Config(
                "max_batch must be at least 1 (1: one job per statement)".into(),
            ));
        }
        check_idle_backoff_ms(self.idle_backoff_initial_ms, self.idle_backoff_max_ms)
            .map_err(|e| ProverError::Config(e.to_string()))?;
        if matches!(&self.picked_by, Some(name) if name.trim().is_empty()) {
            return Err(ProverError::Config("picked_by is empty".into()));
        }
        if matches!(&self.rounds, Some(rounds) if rounds.is_empty()) {
            return Err(ProverError::Config(
                "rounds is empty: nothing would be picked (leave it out for every round)".into(),
            ));
        }
        self.proving_configuration()
            .validate()
            .map_err(|e| ProverError::Config(e.to_string()))
    }

    /// The rounds this process picks jobs of (every round unless `rounds` says otherwise).
    pub fn picked_rounds(&self) -> Vec<AggregationRound> {
        let mut rounds = self
            .rounds
            .clone()
            .unwrap_or_else(|| AggregationRound::ALL.to_vec());
        rounds.sort();
        rounds.dedup();
        rounds
    }

    /// The heavy set as the job database takes it.
    pub fn heavy_set(&self) -> HeavySet {
        HeavySet::new(self.heavy_circuits.iter().map(|h| (h.round, h.circuit)))
    }

    /// `picked_by`, or `circuit-prover@{hostname}-{pid}` so an operator can find the process holding a job.
    pub fn worker_name(&self) -> String {
        zkfleet_runner::worker_name("circuit-prover", self.picked_by.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_cores_and_parse_from_a_minimal_table() {
        let config: ProverConfig =
            serde_json::from_str(r#"{"protocol_version": "0.1.0"}"#).expect("minimal config");
        assert_eq!(
            config,
            ProverConfig::new(ProtocolSemanticVersion::new(1, 0))
        );
        assert_eq!(config.heavy_wvg_count, 1);
        assert_eq!(config.arity, zkfleet_circuits::DEFAULT_ARITY);
        assert_eq!(config.compression, CompressionProfile::Standard);
        assert_eq!(config.light_wvg_count, cores().saturating_sub(1).max(1));
        assert_eq!(
            config.concurrent_proofs,
            HostSizing::of_this_host().concurrent_proofs()
        );
        assert_eq!(config.max_batch, 8);
        assert!(config
            .heavy_set()
            .contains(AggregationRound::Basic, CircuitId::SIGNATURE_VERIFICATION));
        assert!(!config
            .heavy_set()
            .contains(AggregationRound::Basic, CircuitId::STATE_TRANSITION));
        config.validate().expect("defaults are valid");
    }

    #[test]
    fn concurrent_proofs_follow_cores_and_memory() {
        const GIB: u64 = 1 << 30;
        let host = |cores, memory| HostSizing {
            cores,
            available_memory: memory,
        };
        // The 2-core development machine proves one job at a time.
        assert_eq!(host(2, Some(24 * GIB)).concurrent_proofs(), 1);
        // The GPU machine's 16-core host: four at once, memory permitting.
        assert_eq!(host(16, Some(128 * GIB)).concurrent_proofs(), 4);
        assert_eq!(host(16, None).concurrent_proofs(), 4);
        // Memory bounds it: 5 GiB available = 2.5 GiB of circuits + two proofs.
        assert_eq!(host(64, Some(5 * GIB)).concurrent_proofs(), 2);
        // Never zero, even when the circuits alone exceed what is available.
        assert_eq!(host(64, Some(GIB)).concurrent_proofs(), 1);
        assert_eq!(host(1, Some(64 * GIB)).concurrent_proofs(), 1);
        assert!(HostSizing::of_this_host().available_memory.is_some());

        let set: ProverConfig = serde_json::from_str(
            r#"{"protocol_version": "0.1.0", "concurrent_proofs": 3, "max_batch": 1}"#,
        )
        .expect("config");
        assert_eq!((set.concurrent_proofs, set.max_batch), (3, 1));
        set.validate().expect("valid");
        let mut zero = set.clone();
        zero.concurrent_proofs = 0;
        let message = zero.validate().expect_err("no proofs").to_string();
        assert!(message.contains("concurrent_proofs"), "{message}");
        let mut zero = set;
        zero.max_batch = 0;
        let message = zero.validate().expect_err("no batch").to_string();
        assert!(message.contains("max_batch"), "{message}");
    }

    #[test]
    fn heavy_circuits_parse_and_bad_configs_are_named() {
        let config: ProverConfig = serde_json::from_str(
            r#"{"protocol_version": "0.1.0", "heavy_circuits": [{"round": "basic", "circuit": 2}]}"#,
        )
        .expect("config");
        assert!(config
            .heavy_set()
            .contains(AggregationRound::Basic, CircuitId::STATE_TRANSITION));

        let mut none = config.clone();
        none.light_wvg_count = 0;
        none.heavy_wvg_count = 0;
        let message = none.validate().expect_err("no generators").to_string();
        assert!(message.contains("light_wvg_count"), "{message}");

        let mut busy = config.clone();
        busy.idle_backoff_initial_ms = 0;
        assert!(busy.validate().is_err());

        let mut flat = config.clone();
        flat.arity = 1;
        let message = flat.validate().expect_err("arity 1").to_string();
        assert!(message.contains("arity 1"), "{message}");

        let light: ProverConfig = serde_json::from_str(
            r#"{"protocol_version": "0.1.0", "arity": 4, "compression": "light"}"#,
        )
        .expect("config");
        // Not the default arity, so the key is seen to be read.
        assert_ne!(zkfleet_circuits::DEFAULT_ARITY, 4);
        assert_eq!(light.proving_configuration().arity, 4);
        assert_eq!(light.compression, CompressionProfile::Light);
        light.validate().expect("arity 4 is valid");

        assert!(serde_json::from_str::<ProverConfig>(
            r#"{"protocol_version": "0.1.0", "lite_wvg_count": 2}"#
        )
        .is_err());
    }

    #[test]
    fn rounds_default_to_every_round_and_an_empty_list_is_refused() {
        let every: ProverConfig =
            serde_json::from_str(r#"{"protocol_version": "0.1.0"}"#).expect("config");
        assert_eq!(every.picked_rounds(), AggregationRound::ALL.to_vec());
        let aggregation: ProverConfig = serde_json::from_str(
            r#"{"protocol_version": "0.1.0", "rounds": ["scheduler", "leaf", "node", "recursion_tip", "leaf"]}"#,
        )
        .expect("config");
        aggregation.validate().expect("valid");
        assert_eq!(
            aggregation.picked_rounds(),
            [
                AggregationRound::Leaf,
                AggregationRound::Node,
                AggregationRound::RecursionTip,
                AggregationRound::Scheduler
            ]
        );
        let none: ProverConfig =
            serde_json::from_str(r#"{"protocol_version": "0.1.0", "rounds": []}"#).expect("config");
        let message = none.validate().expect_err("no round").to_string();
        assert!(message.contains("rounds is empty"), "{message}");
        assert!(serde_json::from_str::<ProverConfig>(
            r#"{"protocol_version": "0.1.0", "rounds": ["bassic"]}"#
        )
        .is_err());
    }
}
