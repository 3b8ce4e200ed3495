//! The proving components' configuration and start-up, in one module: the shared `[proving]`
//! section (protocol version and circuits), each component's own section (`[witness_generator]`,
//! `[circuit_prover]`, `[compressor]`), their idle waits (`[polling]`), and the one builder
//! ([`ProvingComponents`]) that turns them into the components' configurations.
//!
//! `zkfleet prove` and the component subcommands (`zkfleet witness-generator`, `circuit-prover`,
//! `compressor`) both build their components here, so a setting means the same thing in the
//! all-in-one command and in a fleet of separate processes. Flags of a subcommand override its
//! section; `zkfleet prove` differs in one default only: one light and one heavy witness-vector
//! generator where neither `[circuit_prover]` nor its flags give counts (one batch in one
//! process gains nothing from more generators but their memory).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use zkfleet_circuit_prover::{ProverBackend, ProverConfig};
use zkfleet_circuits::recursion::CompressionProfile;
use zkfleet_circuits::{BasicGeometry, ProvingConfiguration};
use zkfleet_compressor::CompressorConfig;
use zkfleet_types::{AggregationRound, ProtocolSemanticVersion};
use zkfleet_witness_generator::WitnessGeneratorConfig;

use crate::config::FleetConfig;

/// The idle waits of the components that pick jobs. Every round of a batch waits for the one
/// before, so each transition costs up to a witness generator's wait plus a circuit prover's:
/// a fleet with one batch in flight at a time proves it faster with shorter waits, at the price
/// of more idle queries on the shared database (one per runner per wait). A busy fleet never
/// waits: a picked job resets the wait to `initial_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct PollingConfig {
    /// Each round runner of `zkfleet witness-generator`.
    pub(crate) witness_generator: IdleBackoff,
    /// Each witness-vector generator of `zkfleet circuit-prover`.
    pub(crate) circuit_prover: IdleBackoff,
    /// `zkfleet compressor` (one job per batch, hence the longer ceiling).
    pub(crate) compressor: IdleBackoff,
}

impl Default for PollingConfig {
    /// The components' own defaults.
    fn default() -> Self {
        let witness = zkfleet_witness_generator::WitnessGeneratorConfig::default();
        let prover = zkfleet_circuit_prover::ProverConfig::new(DEFAULT_PROTOCOL_VERSION);
        let compressor = zkfleet_compressor::CompressorConfig::new(DEFAULT_PROTOCOL_VERSION);
        Self {
            witness_generator: IdleBackoff {
                initial_ms: witness.idle_backoff_initial_ms,
                max_ms: witness.idle_backoff_max_ms,
            },
            circuit_prover: IdleBackoff {
                initial_ms: prover.idle_backoff_initial_ms,
                max_ms: prover.idle_backoff_max_ms,
            },
            compressor: IdleBackoff {
                initial_ms: compressor.idle_backoff_initial_ms,
                max_ms: compressor.idle_backoff_max_ms,
            },
        }
    }
}

/// An idle runner's wait before it picks again: `initial_ms`, doubling while nothing is queued,
/// up to `max_ms`. The component refuses 0 (a busy loop on the database) and `initial_ms`
/// above `max_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct IdleBackoff {
    pub(crate) initial_ms: u64,
    pub(crate) max_ms: u64,
}

impl Default for IdleBackoff {
    /// 1–5 s. Only for a section given in part: a field left out of a file is taken from
    /// [`PollingConfig::default`], which holds each component's own defaults (the compressor's
    /// ceiling is 10 s), because the file is merged onto them.
    fn default() -> Self {
        Self {
            initial_ms: 1000,
            max_ms: 5000,
        }
    }
}

/// The circuits a fleet proves with, and the protocol version they stand for. Every witness
/// generator, circuit prover and compressor of one protocol version must use the same values:
/// the circuits' digests are checked against the protocol version's row at start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ProvingConfig {
    /// The protocol version whose jobs the components pick (and `zkfleet prove` inserts).
    pub(crate) protocol_version: ProtocolSemanticVersion,
    /// The keystore: cached circuit data and the final verifying key (default DATA_DIR/keys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) keys_dir: Option<PathBuf>,
    /// Proofs aggregated per leaf and node (docs/benchmarks.md explains the default).
    pub(crate) arity: u32,
    /// The compression chain: "standard" (smallest proof) or "light" (faster, larger).
    pub(crate) compression: CompressionProfile,
    /// Items per basic circuit instance, and the signature tree height.
    pub(crate) geometry: BasicGeometry,
}

impl Default for ProvingConfig {
    fn default() -> Self {
        Self {
            protocol_version: DEFAULT_PROTOCOL_VERSION,
            keys_dir: None,
            arity: zkfleet_circuits::DEFAULT_ARITY,
            compression: CompressionProfile::Standard,
            geometry: BasicGeometry::default(),
        }
    }
}

/// The protocol version a fresh fleet proves.
pub(crate) const DEFAULT_PROTOCOL_VERSION: ProtocolSemanticVersion =
    ProtocolSemanticVersion { minor: 1, patch: 0 };

impl ProvingConfig {
    /// The keystore directory: `keys_dir`, or `DATA_DIR/keys`.
    pub(crate) fn keys_dir(&self, data_dir: &Path) -> PathBuf {
        self.keys_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("keys"))
    }

    /// The keystore's name for these circuits.
    pub(crate) fn circuits(&self) -> ProvingConfiguration {
        ProvingConfiguration {
            geometry: self.geometry,
            arity: self.arity,
            compression: self.compression,
        }
    }
}

/// `[witness_generator]`: what one witness generator process does besides the shared
/// `[proving]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct WitnessGeneratorSection {
    /// Circuit uploads (and other store transfers of one job) in flight at once: bounds memory.
    pub(crate) max_circuits_in_flight: usize,
    /// Recorded in `picked_by` of every job the process picks (default `witness-generator@HOST-PID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) picked_by: Option<String>,
}

impl Default for WitnessGeneratorSection {
    fn default() -> Self {
        Self {
            max_circuits_in_flight: WitnessGeneratorConfig::default().max_circuits_in_flight,
            picked_by: None,
        }
    }
}

/// `[circuit_prover]`: how one circuit prover process is sized. Unset counts take the
/// component's defaults (light: one per core but one; heavy: 1), or one each in `zkfleet prove`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct CircuitProverSection {
    /// Light witness-vector generators (`--light`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) light_wvg_count: Option<usize>,
    /// Heavy witness-vector generators: heavy circuits first, then light ones (`--heavy`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) heavy_wvg_count: Option<usize>,
    /// Which prover proves: "cpu" (the batched Merkle hasher, the default), "plonky2"
    /// (plonky2's `prove`, the reference) or "gpu" (commitments on the GPU, docs/gpu.md)
    /// (`--backend`).
    pub(crate) backend: ProverBackend,
    /// The CUDA ordinal `backend = "gpu"` proves on (`--gpu-device`; default 0): one circuit
    /// prover per card (docs/gpu.md, "Several GPUs per host").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) gpu_device: Option<usize>,
    /// Jobs proved at the same time. Unset: sized from this host's cores and memory when the
    /// process starts (one per 4 cores, bounded by memory; the start-up log says the value), so
    /// the value depends on the host and is not written here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) concurrent_proofs: Option<usize>,
    /// Most prover jobs one generator pick takes (jobs of one circuit, one statement) and most
    /// proofs completed in one transaction; 1: one job per statement.
    pub(crate) max_batch: usize,
    /// Recorded in `picked_by` of every job the process picks (default `circuit-prover@HOST-PID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) picked_by: Option<String>,
    /// The rounds whose jobs the process picks (default: every round); e.g. without "basic"
    /// where round 0 goes to outside provers (docs/prover-api.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rounds: Option<Vec<AggregationRound>>,
}

impl Default for CircuitProverSection {
    /// The component's own defaults where they do not depend on the host.
    fn default() -> Self {
        Self {
            light_wvg_count: None,
            heavy_wvg_count: None,
            backend: ProverBackend::default(),
            gpu_device: None,
            concurrent_proofs: None,
            max_batch: ProverConfig::new(DEFAULT_PROTOCOL_VERSION).max_batch,
            picked_by: None,
            rounds: None,
        }
    }
}

/// `[compressor]`: what one compressor process does besides the shared `[proving]` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct CompressorSection {
    /// Recorded in `picked_by` of every job the process picks (default `compressor@HOST-PID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) picked_by: Option<String>,
    /// Who proves the compression steps (default: `[circuit_prover] backend`, so one key moves
    /// a GPU host's proving to the card).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) backend: Option<zkfleet_compressor::CompressorBackend>,
    /// The card of `backend = "gpu"` (default: `[circuit_prover] gpu_device`, else 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) gpu_device: Option<usize>,
}

/// What a subcommand's flags override (None: the configuration's value).
#[derive(Debug, Clone, Default)]
pub(crate) struct ComponentFlags {
    /// `--protocol-version`: the version whose jobs the process picks.
    pub(crate) protocol_version: Option<ProtocolSemanticVersion>,
    /// `--keys-dir`: the keystore.
    pub(crate) keys_dir: Option<PathBuf>,
    /// `--light` / `--heavy`: witness-vector generators of a circuit prover.
    pub(crate) light: Option<usize>,
    pub(crate) heavy: Option<usize>,
    /// `--max-circuits-in-flight` of a witness generator.
    pub(crate) max_circuits_in_flight: Option<usize>,
    /// `--backend` / `--gpu-device` of a circuit prover.
    pub(crate) backend: Option<ProverBackend>,
    pub(crate) gpu_device: Option<usize>,
}

/// Where a component runs: its own process (`zkfleet witness-generator`, ...) or in `zkfleet
/// prove` with the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Launch {
    Standalone,
    Embedded,
}

/// Witness-vector generators of each pool in `zkfleet prove` where nothing else says.
const EMBEDDED_GENERATORS: usize = 1;

/// The one builder of the proving components' configurations, from a fleet's configuration
/// and a subcommand's flags. Every configuration it returns has been validated.
pub(crate) struct ProvingComponents<'a> {
    config: &'a FleetConfig,
    flags: ComponentFlags,
    launch: Launch,
}

impl<'a> ProvingComponents<'a> {
    pub(crate) fn new(config: &'a FleetConfig, flags: ComponentFlags, launch: Launch) -> Self {
        Self {
            config,
            flags,
            launch,
        }
    }

    /// The protocol version whose jobs the components pick.
    pub(crate) fn protocol_version(&self) -> ProtocolSemanticVersion {
        self.flags
            .protocol_version
            .unwrap_or(self.config.proving.protocol_version)
    }

    /// The keystore directory.
    pub(crate) fn keys_dir(&self) -> PathBuf {
        self.flags
            .keys_dir
            .clone()
            .unwrap_or_else(|| self.config.proving.keys_dir(&self.config.data_dir))
    }

    /// The witness generator running `rounds`.
    pub(crate) fn witness_generator(
        &self,
        rounds: Vec<AggregationRound>,
    ) -> anyhow::Result<WitnessGeneratorConfig> {
        let section = &self.config.witness_generator;
        let proving = &self.config.proving;
        let polling = self.config.polling.witness_generator;
        let config = WitnessGeneratorConfig {
            rounds,
            protocol_version: self.protocol_version(),
            picked_by: picked_by(&section.picked_by, "witness-generator"),
            max_circuits_in_flight: self
                .flags
                .max_circuits_in_flight
                .unwrap_or(section.max_circuits_in_flight),
            geometry: proving.geometry,
            arity: proving.arity,
            idle_backoff_initial_ms: polling.initial_ms,
            idle_backoff_max_ms: polling.max_ms,
        };
        config.validate().context(
            "witness generator configuration ([proving], [witness_generator], \
             [polling.witness_generator], flags)",
        )?;
        Ok(config)
    }

    /// The circuit prover.
    pub(crate) fn circuit_prover(&self) -> anyhow::Result<ProverConfig> {
        let section = &self.config.circuit_prover;
        let proving = &self.config.proving;
        let polling = self.config.polling.circuit_prover;
        let mut config = ProverConfig::new(self.protocol_version());
        let embedded = (self.launch == Launch::Embedded).then_some(EMBEDDED_GENERATORS);
        if let Some(light) = self.flags.light.or(section.light_wvg_count).or(embedded) {
            config.light_wvg_count = light;
        }
        if let Some(heavy) = self.flags.heavy.or(section.heavy_wvg_count).or(embedded) {
            config.heavy_wvg_count = heavy;
        }
        config.backend = self.flags.backend.unwrap_or(section.backend);
        if let Some(gpu_device) = self.flags.gpu_device.or(section.gpu_device) {
            config.gpu_device = gpu_device;
        }
        if let Some(concurrent_proofs) = section.concurrent_proofs {
            config.concurrent_proofs = concurrent_proofs;
        }
        config.max_batch = section.max_batch;
        config.keys_dir = self.keys_dir();
        config.geometry = proving.geometry;
        config.arity = proving.arity;
        config.compression = proving.compression;
        config.picked_by = Some(picked_by(&section.picked_by, "circuit-prover"));
        config.rounds = section.rounds.clone();
        config.idle_backoff_initial_ms = polling.initial_ms;
        config.idle_backoff_max_ms = polling.max_ms;
        config.validate().context(
            "circuit prover configuration ([proving], [circuit_prover], \
             [polling.circuit_prover], flags)",
        )?;
        Ok(config)
    }

    /// The compressor.
    pub(crate) fn compressor(&self) -> anyhow::Result<CompressorConfig> {
        let section = &self.config.compressor;
        let proving = &self.config.proving;
        let polling = self.config.polling.compressor;
        let mut config = CompressorConfig::new(self.protocol_version());
        config.keys_dir = self.keys_dir();
        config.geometry = proving.geometry;
        config.arity = proving.arity;
        config.compression = proving.compression;
        config.picked_by = Some(picked_by(&section.picked_by, "compressor"));
        let prover = &self.config.circuit_prover;
        config.backend =
            section
                .backend
                .unwrap_or(match self.flags.backend.unwrap_or(prover.backend) {
                    ProverBackend::Cpu => zkfleet_compressor::CompressorBackend::Cpu,
                    ProverBackend::Plonky2 => zkfleet_compressor::CompressorBackend::Plonky2,
                    ProverBackend::Gpu => zkfleet_compressor::CompressorBackend::Gpu,
                });
        config.gpu_device = section
            .gpu_device
            .or(self.flags.gpu_device)
            .or(prover.gpu_device)
            .unwrap_or(0);
        config.idle_backoff_initial_ms = polling.initial_ms;
        config.idle_backoff_max_ms = polling.max_ms;
        config
            .validate()
            .context("compressor configuration ([proving], [compressor], [polling.compressor])")?;
        Ok(config)
    }
}

/// The configured name, or `component@host-pid`: what `picked_by` records, so an operator can
/// tell which process held a job.
fn picked_by(configured: &Option<String>, component: &str) -> String {
    zkfleet_runner::worker_name(component, configured.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> FleetConfig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("zkfleet.toml");
        std::fs::write(&path, text).unwrap();
        crate::config::load(Some(&path), Vec::new()).unwrap()
    }

    #[test]
    fn circuit_prover_rounds_come_from_the_section() {
        let fleet = config(
            "[circuit_prover]\nrounds = [\"leaf\", \"node\", \"recursion_tip\", \"scheduler\"]\n",
        );
        let prover = ProvingComponents::new(&fleet, ComponentFlags::default(), Launch::Standalone)
            .circuit_prover()
            .unwrap();
        assert_eq!(
            prover.picked_rounds(),
            AggregationRound::ALL[1..].to_vec(),
            "round 0 is left to others"
        );
        let every = config("");
        let prover = ProvingComponents::new(&every, ComponentFlags::default(), Launch::Standalone)
            .circuit_prover()
            .unwrap();
        assert_eq!(prover.picked_rounds(), AggregationRound::ALL.to_vec());
        let err = ProvingComponents::new(
            &config("[circuit_prover]\nrounds = []\n"),
            ComponentFlags::default(),
            Launch::Standalone,
        )
        .circuit_prover()
        .unwrap_err();
        assert!(format!("{err:#}").contains("rounds is empty"), "{err:#}");
    }

    #[test]
    fn the_compressor_backend_defaults_to_the_circuit_prover_s() {
        use zkfleet_compressor::CompressorBackend;
        let compressor = |text: &str| {
            ProvingComponents::new(&config(text), ComponentFlags::default(), Launch::Standalone)
                .compressor()
                .unwrap()
        };
        let plain = compressor("");
        assert_eq!(
            (plain.backend, plain.gpu_device),
            (CompressorBackend::Cpu, 0)
        );
        let own = compressor(
            "[circuit_prover]\nbackend = \"gpu\"\ngpu_device = 2\n\
             [compressor]\nbackend = \"cpu\"\n",
        );
        assert_eq!((own.backend, own.gpu_device), (CompressorBackend::Cpu, 2));
        // plonky2's own prover (the reference) follows the circuit prover's key too.
        let reference = compressor("[circuit_prover]\nbackend = \"plonky2\"\n");
        assert_eq!(reference.backend, CompressorBackend::Plonky2);
        let card = compressor("[compressor]\nbackend = \"gpu\"\ngpu_device = 3\n");
        assert_eq!((card.backend, card.gpu_device), (CompressorBackend::Gpu, 3));
        let flags = ProvingComponents::new(
            &config(""),
            ComponentFlags {
                backend: Some(ProverBackend::Gpu),
                gpu_device: Some(4),
                ..ComponentFlags::default()
            },
            Launch::Standalone,
        )
        .compressor()
        .unwrap();
        assert_eq!(
            (flags.backend, flags.gpu_device),
            (CompressorBackend::Gpu, 4)
        );
    }

    /// Components that defaulted to different arities would cut and prove different trees: a
    /// fleet started without `arity` anywhere must agree on zkfleet_circuits::DEFAULT_ARITY,
    /// in each component's own default and in what `[proving]` hands every component.
    #[test]
    fn every_component_defaults_to_the_one_arity() {
        let arity = zkfleet_circuits::DEFAULT_ARITY;
        assert_eq!(ProvingConfig::default().arity, arity);
        assert_eq!(WitnessGeneratorConfig::default().arity, arity);
        assert_eq!(ProverConfig::new(DEFAULT_PROTOCOL_VERSION).arity, arity);
        assert_eq!(
            zkfleet_compressor::CompressorConfig::new(DEFAULT_PROTOCOL_VERSION).arity,
            arity
        );
        assert_eq!(
            zkfleet_prover_api::ProverApiConfig::default().proving.arity,
            arity
        );
        let fleet = config("");
        let components =
            ProvingComponents::new(&fleet, ComponentFlags::default(), Launch::Embedded);
        let witness = components
            .witness_generator(vec![AggregationRound::Leaf])
            .unwrap();
        assert_eq!(witness.arity, arity);
        assert_eq!(components.circuit_prover().unwrap().arity, arity);
        assert_eq!(components.compressor().unwrap().arity, arity);
    }

    #[test]
    fn every_component_takes_proving_polling_and_its_section() {
        let fleet = config(
            "[proving]\narity = 4\ncompression = \"light\"\nkeys_dir = \"/k\"\n\
             [witness_generator]\nmax_circuits_in_flight = 7\npicked_by = \"wg-1\"\n\
             [circuit_prover]\nlight_wvg_count = 3\nheavy_wvg_count = 2\nbackend = \"gpu\"\n\
             gpu_device = 1\nconcurrent_proofs = 5\nmax_batch = 3\n\
             [compressor]\npicked_by = \"c-1\"\n\
             [polling.witness_generator]\ninitial_ms = 11\nmax_ms = 22\n\
             [polling.circuit_prover]\ninitial_ms = 33\nmax_ms = 44\n\
             [polling.compressor]\ninitial_ms = 55\nmax_ms = 66\n",
        );
        for launch in [Launch::Standalone, Launch::Embedded] {
            let components = ProvingComponents::new(&fleet, ComponentFlags::default(), launch);
            let witness = components
                .witness_generator(vec![AggregationRound::Leaf])
                .unwrap();
            // 4, not the default arity (3): the section's value is seen to be read.
            assert_eq!(
                (witness.arity, witness.max_circuits_in_flight),
                (4, 7),
                "{launch:?}"
            );
            assert_eq!(witness.picked_by, "wg-1");
            assert_eq!(
                (witness.idle_backoff_initial_ms, witness.idle_backoff_max_ms),
                (11, 22)
            );
            let prover = components.circuit_prover().unwrap();
            assert_eq!((prover.light_wvg_count, prover.heavy_wvg_count), (3, 2));
            assert_eq!((prover.backend, prover.gpu_device), (ProverBackend::Gpu, 1));
            assert_eq!((prover.concurrent_proofs, prover.max_batch), (5, 3));
            assert_eq!(prover.compression, CompressionProfile::Light);
            assert_eq!(prover.keys_dir, PathBuf::from("/k"));
            assert_eq!(
                (prover.idle_backoff_initial_ms, prover.idle_backoff_max_ms),
                (33, 44)
            );
            let compressor = components.compressor().unwrap();
            assert_eq!(compressor.picked_by.as_deref(), Some("c-1"));
            // The compressor follows [circuit_prover] backend and card unless its own keys say.
            assert_eq!(
                (compressor.backend, compressor.gpu_device),
                (zkfleet_compressor::CompressorBackend::Gpu, 1)
            );
            assert_eq!(
                (compressor.arity, compressor.keys_dir.clone()),
                (4, PathBuf::from("/k"))
            );
            assert_eq!(prover.arity, 4);
            assert_eq!(
                (
                    compressor.idle_backoff_initial_ms,
                    compressor.idle_backoff_max_ms
                ),
                (55, 66)
            );
        }
    }

    #[test]
    fn flags_override_sections_and_prove_defaults_to_one_generator_each() {
        let fleet = config("[circuit_prover]\nheavy_wvg_count = 2\ngpu_device = 1\n");
        let flags = ComponentFlags {
            light: Some(4),
            backend: Some(ProverBackend::Gpu),
            gpu_device: Some(3),
            max_circuits_in_flight: Some(9),
            keys_dir: Some(PathBuf::from("/flag")),
            ..ComponentFlags::default()
        };
        let components = ProvingComponents::new(&fleet, flags, Launch::Standalone);
        let prover = components.circuit_prover().unwrap();
        assert_eq!((prover.light_wvg_count, prover.heavy_wvg_count), (4, 2));
        assert_eq!(prover.keys_dir, PathBuf::from("/flag"));
        assert_eq!((prover.backend, prover.gpu_device), (ProverBackend::Gpu, 3));
        let witness = components
            .witness_generator(vec![AggregationRound::Basic])
            .unwrap();
        assert_eq!(witness.max_circuits_in_flight, 9);

        let defaults = FleetConfig::default();
        let embedded =
            ProvingComponents::new(&defaults, ComponentFlags::default(), Launch::Embedded)
                .circuit_prover()
                .unwrap();
        assert_eq!((embedded.light_wvg_count, embedded.heavy_wvg_count), (1, 1));
        assert_eq!(
            (embedded.backend, embedded.gpu_device),
            (ProverBackend::Cpu, 0)
        );
        let standalone =
            ProvingComponents::new(&defaults, ComponentFlags::default(), Launch::Standalone)
                .circuit_prover()
                .unwrap();
        let component_default = ProverConfig::new(DEFAULT_PROTOCOL_VERSION);
        assert_eq!(
            (standalone.light_wvg_count, standalone.heavy_wvg_count),
            (
                component_default.light_wvg_count,
                component_default.heavy_wvg_count
            )
        );
        // Unset, the batching keys are the component's: the host's sizing and 8.
        assert_eq!(
            (standalone.concurrent_proofs, standalone.max_batch),
            (
                component_default.concurrent_proofs,
                component_default.max_batch
            )
        );
        assert_eq!(embedded.max_batch, 8);
    }

    #[test]
    fn invalid_batching_keys_are_refused_and_max_batch_is_shown() {
        for (text, what) in [
            (
                "[circuit_prover]\nconcurrent_proofs = 0\n",
                "concurrent_proofs",
            ),
            ("[circuit_prover]\nmax_batch = 0\n", "max_batch"),
        ] {
            let fleet = config(text);
            let err = ProvingComponents::new(&fleet, ComponentFlags::default(), Launch::Standalone)
                .circuit_prover()
                .unwrap_err();
            let message = format!("{err:#}");
            assert!(message.contains(what), "{message}");
            assert!(message.contains("[circuit_prover]"), "{message}");
        }
        // `zkfleet config show` serializes the section: max_batch always, concurrent_proofs
        // only when set (unset, it depends on the host the prover starts on).
        let shown = toml::to_string(&CircuitProverSection::default()).unwrap();
        assert!(shown.contains("max_batch = 8"), "{shown}");
        assert!(!shown.contains("concurrent_proofs"), "{shown}");
        let set = CircuitProverSection {
            concurrent_proofs: Some(2),
            ..CircuitProverSection::default()
        };
        assert!(toml::to_string(&set)
            .unwrap()
            .contains("concurrent_proofs = 2"));
    }

    #[test]
    fn an_invalid_setting_is_refused_with_its_section() {
        let fleet = config("[polling.compressor]\ninitial_ms = 0\n");
        let err = ProvingComponents::new(&fleet, ComponentFlags::default(), Launch::Embedded)
            .compressor()
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("[polling.compressor]"),
            "{err:#}"
        );
    }
}
