//! Configuration of a compressor process (`[compressor]`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use zkfleet_circuits::recursion::CompressionProfile;
use zkfleet_circuits::{BasicGeometry, ProvingConfiguration};
use zkfleet_runner::check_idle_backoff_ms;
use zkfleet_types::ProtocolSemanticVersion;

use crate::backend::CompressorBackend;
use crate::error::CompressorError;

/// What a compressor process serves and how it paces itself.
///
/// ```toml
/// [compressor]
/// protocol_version = "0.1.0"
/// keys_dir = "./keys"
/// arity = 3
/// compression = "standard"     # or "light"
/// backend = "cpu"              # batched Merkle hasher; "plonky2": plonky2's prove (the
///                              # reference); "gpu": zkfleet's prover on the card (docs/gpu.md)
/// gpu_device = 0               # the CUDA ordinal backend = "gpu" proves on
/// idle_backoff_initial_ms = 1000
/// idle_backoff_max_ms = 10000
/// # picked_by = "compressor-1" # default: compressor@HOST-PID
/// # [compressor.geometry]      # default: BasicGeometry::default()
/// ```
///
/// `geometry`, `arity` and `compression` name the proving configuration whose circuits are
/// loaded at start; its final verifying-key digest must be the protocol version's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressorConfig {
    /// The protocol version whose compression jobs this process picks.
    pub protocol_version: ProtocolSemanticVersion,
    /// Recorded in `picked_by` of every job this process picks.
    #[serde(default)]
    pub picked_by: Option<String>,
    /// The keystore directory (circuit data built on a miss and cached there).
    #[serde(default = "default_keys_dir")]
    pub keys_dir: PathBuf,
    /// Geometry of the basic circuits (must be the fleet's).
    #[serde(default)]
    pub geometry: BasicGeometry,
    /// Aggregation arity (must be the fleet's).
    #[serde(default = "default_arity")]
    pub arity: u32,
    /// The compression chain run over each scheduler proof.
    #[serde(default)]
    pub compression: CompressionProfile,
    /// Who proves the compression steps: zkfleet's prover with the batched Merkle hasher on
    /// the CPU (`cpu`, the default), plonky2's `prove` (`plonky2`, the reference), or zkfleet's
    /// prover on the GPU `gpu_device` (`gpu`; the `cpu` backend, said at start, where no GPU is
    /// usable).
    #[serde(default)]
    pub backend: CompressorBackend,
    /// The CUDA ordinal (among the cards `CUDA_VISIBLE_DEVICES` leaves visible) of
    /// `backend = "gpu"`.
    #[serde(default)]
    pub gpu_device: usize,
    /// First wait after finding no job; doubles up to the maximum. Compression jobs come one
    /// per batch, so the compressor polls less eagerly than a prover.
    #[serde(default = "default_idle_initial_ms")]
    pub idle_backoff_initial_ms: u64,
    /// Ceiling of the idle wait (10 s by default: a batch waits at most that long for its
    /// compression to start once its scheduler proof is ready, unless a wake-up comes first).
    #[serde(default = "default_idle_max_ms")]
    pub idle_backoff_max_ms: u64,
}

fn default_keys_dir() -> PathBuf {
    PathBuf::from("./keys")
}

/// The fleet's default arity, [`zkfleet_circuits::DEFAULT_ARITY`] (serde needs a function).
fn default_arity() -> u32 {
    zkfleet_circuits::DEFAULT_ARITY
}

fn default_idle_initial_ms() -> u64 {
    1000
}

fn default_idle_max_ms() -> u64 {
    10_000
}

impl CompressorConfig {
    /// The defaults for `protocol_version`.
    pub fn new(protocol_version: ProtocolSemanticVersion) -> Self {
        Self {
            protocol_version,
            picked_by: None,
            keys_dir: default_keys_dir(),
            geometry: BasicGeometry::default(),
            arity: default_arity(),
            compression: CompressionProfile::default(),
            backend: CompressorBackend::default(),
            gpu_device: 0,
            idle_backoff_initial_ms: default_idle_initial_ms(),
            idle_backoff_max_ms: default_idle_max_ms(),
        }
    }

    /// Rejects a configuration that cannot work or would spin on the database.
    pub fn validate(&self) -> Result<(), CompressorError> {
        check_idle_backoff_ms(self.idle_backoff_initial_ms, self.idle_backoff_max_ms)
            .map_err(|e| CompressorError::Config(e.to_string()))?;
        if matches!(&self.picked_by, Some(name) if name.trim().is_empty()) {
            return Err(CompressorError::Config("picked_by is empty".into()));
        }
        self.proving_configuration()
            .validate()
            .map_err(|e| CompressorError::Config(e.to_string()))
    }

    /// The proving configuration whose circuits this process loads.
    pub fn proving_configuration(&self) -> ProvingConfiguration {
        ProvingConfiguration {
            geometry: self.geometry,
            arity: self.arity,
            compression: self.compression,
        }
    }

    /// `picked_by`, or `compressor@{hostname}-{pid}` so an operator can find the process
    /// holding a job.
    pub fn worker_name(&self) -> String {
        zkfleet_runner::worker_name("compressor", self.picked_by.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_from_a_minimal_table_and_are_valid() {
        let config: CompressorConfig =
            serde_json::from_str(r#"{"protocol_version": "0.1.0"}"#).expect("minimal config");
        assert_eq!(
            config,
            CompressorConfig::new(ProtocolSemanticVersion::new(1, 0))
        );
        assert_eq!(config.arity, zkfleet_circuits::DEFAULT_ARITY);
        assert_eq!(config.compression, CompressionProfile::Standard);
        assert_eq!(config.idle_backoff_initial_ms, 1000);
        config.validate().expect("defaults are valid");
        assert!(!config.worker_name().is_empty());
    }

    #[test]
    fn bad_configs_are_named() {
        let good = CompressorConfig::new(ProtocolSemanticVersion::new(1, 0));

        let mut flat = good.clone();
        flat.arity = 1;
        let message = flat.validate().expect_err("arity 1").to_string();
        assert!(message.contains("arity 1"), "{message}");

        let mut busy = good.clone();
        busy.idle_backoff_initial_ms = 0;
        let message = busy.validate().expect_err("busy loop").to_string();
        assert!(message.contains("idle_backoff_initial_ms"), "{message}");

        let mut inverted = good.clone();
        inverted.idle_backoff_max_ms = 10;
        inverted.idle_backoff_initial_ms = 20;
        assert!(inverted.validate().is_err());

        let mut anonymous = good.clone();
        anonymous.picked_by = Some("  ".into());
        assert!(anonymous.validate().is_err());

        let light: CompressorConfig = serde_json::from_str(
            r#"{"protocol_version": "0.1.0", "compression": "light", "arity": 4}"#,
        )
        .expect("config");
        assert_eq!(
            light.proving_configuration().compression,
            CompressionProfile::Light
        );
        assert_eq!(light.proving_configuration().arity, 4);
        assert_eq!(light.backend, CompressorBackend::Cpu);

        let gpu: CompressorConfig = serde_json::from_str(
            r#"{"protocol_version": "0.1.0", "backend": "gpu", "gpu_device": 2}"#,
        )
        .expect("config");
        assert_eq!((gpu.backend, gpu.gpu_device), (CompressorBackend::Gpu, 2));
        let reference: CompressorConfig =
            serde_json::from_str(r#"{"protocol_version": "0.1.0", "backend": "plonky2"}"#)
                .expect("config");
        assert_eq!(reference.backend, CompressorBackend::Plonky2);
        assert!(serde_json::from_str::<CompressorConfig>(
            r#"{"protocol_version": "0.1.0", "backend": "tpu"}"#
        )
        .is_err());

        assert!(serde_json::from_str::<CompressorConfig>(
            r#"{"protocol_version": "0.1.0", "arrity": 2}"#
        )
        .is_err());
    }
}
