//! The keystore: circuit data built once per (circuit, geometry) and cached on disk.
//!
//! Building circuit data takes seconds to minutes and is deterministic, so it is built once and
//! serialized (plonky2's `CircuitData::to_bytes` with the default gate and generator
//! serializers; the basic circuits use no custom gates or generators). Each cached circuit is two
//! files in the keystore directory:
//!
//! - `{name}-{key digest prefix}.bin`: the serialized circuit data;
//! - `{name}-{key digest prefix}.manifest.json`: its [`ManifestEntry`] (the key, the key digest,
//!   the SHA-256 of the `.bin`, the circuit digest, degree and size).
//!
//! The key digest covers the crate version, [`CIRCUIT_FORMAT_VERSION`] (bumped whenever a
//! circuit's definition changes), the circuit kind and the geometry; the directory of manifest
//! entries is the keystore's manifest (one file per entry, so concurrent builders of different
//! circuits never overwrite each other's records). Writes go to a temporary file and are renamed
//! into place, so a reader never sees half a file.
//!
//! A cached file whose SHA-256, key digest or gate count does not match is **refused** with
//! [`CircuitError::KeystoreDigestMismatch`], never silently rebuilt or used: it means the
//! directory was tampered with or written by another build, which an operator must see.
//! [`Keystore::build_basic`] (what `zkfleet keys generate` runs) rebuilds and overwrites it.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use plonky2::field::types::PrimeField64;
use plonky2::plonk::circuit_data::CircuitData;
use plonky2::util::serialization::{DefaultGateSerializer, DefaultGeneratorSerializer};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::basic::{define, BasicCircuit, BasicCircuitKind};
use crate::config::BasicGeometry;
use crate::error::CircuitError;
use crate::pipeline::FinalVerifyingKey;
use crate::recursion::{BatchCircuits, CompressionProfile};
use crate::{C, D, F};

/// Version of the circuit definitions; part of every key digest. Bump it with any change to a
/// circuit's constraints or witness layout, so stale cached data is never paired with new code.
pub const CIRCUIT_FORMAT_VERSION: u32 = 4;

/// Which circuit data a cache entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "round", rename_all = "snake_case")]
pub enum CircuitKey {
    /// One basic (round-0) circuit.
    Basic {
        /// Which of the three types.
        kind: BasicCircuitKind,
        /// The geometry it is built for.
        geometry: BasicGeometry,
    },
    /// Every circuit above round 0 (leaves, node, tip, scheduler, compression chain) of one
    /// configuration, in one file (`BatchCircuits::to_bytes`): they are built from each other
    /// and only valid together.
    Aggregation {
        /// The geometry of the basic circuits whose proofs the leaves verify.
        geometry: BasicGeometry,
        /// Proofs one leaf or node verifies at most.
        arity: u32,
        /// The compression chain after the scheduler.
        compression: CompressionProfile,
    },
}

impl CircuitKey {
    /// Stable human-readable name, e.g. `basic_signature_verification`.
    pub fn name(&self) -> String {
        match self {
            Self::Basic { kind, .. } => format!("basic_{}", kind.name()),
            Self::Aggregation {
                arity, compression, ..
            } => format!("aggregation_a{arity}_{}", compression.name()),
        }
    }

    /// Hex SHA-256 of (crate version, circuit format version, key).
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"zkfleet-circuits-key-v1\0");
        hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
        hasher.update([0]);
        hasher.update(CIRCUIT_FORMAT_VERSION.to_le_bytes());
        match self {
            Self::Basic { kind, geometry } => {
                hasher.update(b"basic\0");
                hasher.update([kind.circuit_id().0]);
                hasher.update(geometry.digest());
            }
            Self::Aggregation {
                geometry,
                arity,
                compression,
            } => {
                hasher.update(b"aggregation\0");
                hasher.update(crate::recursion::FORMAT_VERSION.to_le_bytes());
                hasher.update(geometry.digest());
                hasher.update(arity.to_le_bytes());
                hasher.update(compression.name().as_bytes());
                // A profile whose steps changed gets another key, so an entry built with an
                // earlier chain is never loaded as it; revision 1 adds nothing to the hash
                // (every key still changes with CIRCUIT_FORMAT_VERSION above).
                if compression.revision() > 1 {
                    hasher.update(b"\0revision");
                    hasher.update(compression.revision().to_le_bytes());
                }
            }
        }
        hex::encode(hasher.finalize())
    }

    /// File stem in the keystore directory.
    pub fn file_stem(&self) -> String {
        format!("{}-{}", self.name(), &self.digest()[..16])
    }
}

/// The manifest record of one cached circuit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// The cache key the entry is for.
    pub key: CircuitKey,
    /// [`CircuitKey::digest`] as written; a load under another build's digest is refused.
    pub key_digest: String,
    /// The crate version that built it (informative; also inside the key digest).
    pub crate_version: String,
    /// [`CIRCUIT_FORMAT_VERSION`] of the build that wrote it.
    pub circuit_format_version: u32,
    /// SHA-256 of the `.bin` file.
    pub file_sha256: String,
    /// Size of the `.bin` file.
    pub file_bytes: u64,
    /// plonky2's circuit digest (the verifying key's hash), canonical limbs.
    pub circuit_digest: [u64; 4],
    /// log2 of the circuit's rows (for the aggregation entry, of its final compression
    /// circuit, as is `circuit_digest`).
    pub degree_bits: usize,
    /// Gates of the circuit before padding, checked against a fresh definition on load
    /// (0 for the aggregation entry, whose circuits are checked by their digests).
    pub defined_gates: usize,
    /// The aggregation entry: every circuit it holds, with its digest and degree.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<ComponentDigest>,
    /// The aggregation entry: the final verifying key's digest (hex), what a protocol version
    /// records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_vk_digest: Option<String>,
    /// The aggregation entry: the digest of every verifying key of the recursion tree (hex),
    /// the other digest a protocol version records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursion_tree_vk_digest: Option<String>,
}

/// One circuit inside the aggregation entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentDigest {
    /// e.g. `leaf_2`, `node`, `recursion_tip`, `scheduler`, `compression_final`.
    pub name: String,
    /// plonky2's circuit digest of the component, canonical limbs.
    pub circuit_digest: [u64; 4],
    /// log2 of the component's rows.
    pub degree_bits: usize,
}

/// The circuits of one proving configuration, loaded through the keystore.
#[derive(Debug)]
pub struct LoadedBatchCircuits {
    /// Every circuit of the configuration, ready to prove a batch.
    pub circuits: BatchCircuits,
    /// Per keystore entry (three basic, one aggregation): its name and where it came from.
    pub sources: Vec<(String, KeySource)>,
    /// Wall time of the whole load (reads, digest checks, any build).
    pub elapsed: Duration,
}

/// What a proving configuration is: the keystore entries it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvingConfiguration {
    /// Items per basic circuit instance and the signature tree height.
    pub geometry: BasicGeometry,
    /// Proofs one leaf or node verifies at most.
    pub arity: u32,
    /// The compression chain that makes the final proof.
    pub compression: CompressionProfile,
}

impl Default for ProvingConfiguration {
    /// The fleet's defaults: [`BasicGeometry::default`], [`crate::DEFAULT_ARITY`] and the
    /// standard compression chain, the configuration every component proves when its file
    /// names none.
    fn default() -> Self {
        Self {
            geometry: BasicGeometry::default(),
            arity: crate::DEFAULT_ARITY,
            compression: CompressionProfile::default(),
        }
    }
}

impl ProvingConfiguration {
    /// Checks the configuration before any circuit is built or loaded: a usable geometry and an
    /// arity the recursion circuits support. The components' configurations call it.
    pub fn validate(&self) -> Result<(), CircuitError> {
        self.geometry.validate()?;
        crate::recursion::check_arity(self.arity)
    }

    fn aggregation_key(&self) -> CircuitKey {
        CircuitKey::Aggregation {
            geometry: self.geometry,
            arity: self.arity,
            compression: self.compression,
        }
    }

    /// Every keystore key of the configuration: the basic types, then the aggregation entry.
    pub fn keys(&self) -> Vec<CircuitKey> {
        let mut keys: Vec<CircuitKey> = BasicCircuitKind::ALL
            .into_iter()
            .map(|kind| CircuitKey::Basic {
                kind,
                geometry: self.geometry,
            })
            .collect();
        keys.push(self.aggregation_key());
        keys
    }
}

fn digest_limbs(data: &CircuitData<F, C, D>) -> [u64; 4] {
    data.prover_only
        .circuit_digest
        .elements
        .map(|e| e.to_canonical_u64())
}

/// The digest and degree of every circuit of the aggregation entry, in a fixed order.
pub fn aggregation_components(circuits: &BatchCircuits) -> Vec<ComponentDigest> {
    let component = |name: String, data: &CircuitData<F, C, D>| ComponentDigest {
        name,
        circuit_digest: digest_limbs(data),
        degree_bits: data.common.degree_bits(),
    };
    let recursion = circuits.recursion();
    let mut out: Vec<ComponentDigest> = recursion
        .leaves()
        .iter()
        .map(|leaf| component(format!("leaf_{}", leaf.circuit_id()), leaf.circuit_data()))
        .collect();
    out.push(component("node".into(), recursion.node().circuit_data()));
    out.push(component(
        "recursion_tip".into(),
        recursion.tip().circuit_data(),
    ));
    out.push(component(
        "scheduler".into(),
        circuits.scheduler().circuit_data(),
    ));
    for step in circuits.compression().steps() {
        out.push(component(
            format!("compression_{}", step.name()),
            step.circuit_data(),
        ));
    }
    out
}

/// Where a loaded circuit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Deserialized from the keystore directory.
    Cached,
    /// Built now (and written to the keystore).
    Built,
}

/// A loaded circuit and how long getting it took.
#[derive(Debug)]
pub struct LoadedCircuit {
    /// The basic circuit.
    pub circuit: BasicCircuit,
    /// Whether it was read from the keystore or built.
    pub source: KeySource,
    /// Wall time of the read or build.
    pub elapsed: Duration,
}

/// A directory of cached circuit data.
#[derive(Debug, Clone)]
pub struct Keystore {
    dir: PathBuf,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CircuitError> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    let mut file = fs::File::create(&tmp).map_err(|e| CircuitError::io(&tmp, e))?;
    file.write_all(bytes)
        .map_err(|e| CircuitError::io(&tmp, e))?;
    file.sync_all().map_err(|e| CircuitError::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| CircuitError::io(path, e))
}

impl Keystore {
    /// Opens (creating if needed) a keystore directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, CircuitError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| CircuitError::io(&dir, e))?;
        Ok(Self { dir })
    }

    /// The keystore's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn data_path(&self, key: &CircuitKey) -> PathBuf {
        self.dir.join(format!("{}.bin", key.file_stem()))
    }

    fn manifest_path(&self, key: &CircuitKey) -> PathBuf {
        self.dir.join(format!("{}.manifest.json", key.file_stem()))
    }

    /// Every manifest entry in the directory, sorted by file name.
    pub fn manifest(&self) -> Result<Vec<ManifestEntry>, CircuitError> {
        let mut paths = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| CircuitError::io(&self.dir, e))? {
            let path = entry.map_err(|e| CircuitError::io(&self.dir, e))?.path();
            if path.to_string_lossy().ends_with(".manifest.json") {
                paths.push(path);
            }
        }
        paths.sort();
        paths.iter().map(|path| read_manifest(path)).collect()
    }

    /// The circuit of `kind` at `geometry`: loaded from the cache, or built and cached if absent.
    /// A cached entry that fails its checks is an error (see the module docs).
    pub fn basic_circuit(
        &self,
        kind: BasicCircuitKind,
        geometry: &BasicGeometry,
    ) -> Result<LoadedCircuit, CircuitError> {
        let started = Instant::now();
        match self.load_basic(kind, geometry)? {
            Some(circuit) => Ok(LoadedCircuit {
                circuit,
                source: KeySource::Cached,
                elapsed: started.elapsed(),
            }),
            None => {
                let circuit = self.build_basic(kind, geometry)?;
                Ok(LoadedCircuit {
                    circuit,
                    source: KeySource::Built,
                    elapsed: started.elapsed(),
                })
            }
        }
    }

    /// Loads a cached circuit; `Ok(None)` if it has never been built into this keystore.
    pub fn load_basic(
        &self,
        kind: BasicCircuitKind,
        geometry: &BasicGeometry,
    ) -> Result<Option<BasicCircuit>, CircuitError> {
        let key = CircuitKey::Basic {
            kind,
            geometry: *geometry,
        };
        let data_path = self.data_path(&key);
        let manifest_path = self.manifest_path(&key);
        if !data_path.exists() && !manifest_path.exists() {
            return Ok(None);
        }
        let (entry, bytes) = self.read_checked(&key)?;
        let (builder, layout) = define(kind, geometry)?;
        if builder.num_gates() != entry.defined_gates {
            return Err(CircuitError::KeystoreDigestMismatch {
                path: manifest_path,
                expected: format!("{} gates (this build's definition)", builder.num_gates()),
                found: format!("{} gates", entry.defined_gates),
            });
        }
        let data = CircuitData::<F, C, D>::from_bytes(
            &bytes,
            &DefaultGateSerializer,
            &DefaultGeneratorSerializer::<C, D>::default(),
        )
        .map_err(|e| CircuitError::Serialization {
            key: key.name(),
            reason: format!("{e:?}"),
        })?;
        Ok(Some(BasicCircuit::from_parts(layout, data)))
    }

    /// The aggregation entry's manifest of a configuration, checked against its file (what
    /// `insert-version --from-keys` reads the digests from).
    pub fn aggregation_entry(
        &self,
        config: &ProvingConfiguration,
    ) -> Result<ManifestEntry, CircuitError> {
        self.check(&config.aggregation_key())
    }

    /// Checks a cached entry without deserializing it: the manifest names this key and this
    /// build's key digest, and the data file has the recorded SHA-256 (what `keys verify` runs).
    pub fn check(&self, key: &CircuitKey) -> Result<ManifestEntry, CircuitError> {
        self.read_checked(key).map(|(entry, _)| entry)
    }

    fn read_checked(&self, key: &CircuitKey) -> Result<(ManifestEntry, Vec<u8>), CircuitError> {
        let manifest_path = self.manifest_path(key);
        let data_path = self.data_path(key);
        let entry = read_manifest(&manifest_path)?;
        let expected_key_digest = key.digest();
        if entry.key_digest != expected_key_digest || entry.key != *key {
            return Err(CircuitError::KeystoreDigestMismatch {
                path: manifest_path,
                expected: expected_key_digest,
                found: entry.key_digest,
            });
        }
        let bytes = fs::read(&data_path).map_err(|e| CircuitError::io(&data_path, e))?;
        let found = sha256_hex(&bytes);
        if found != entry.file_sha256 {
            return Err(CircuitError::KeystoreDigestMismatch {
                path: data_path,
                expected: entry.file_sha256,
                found,
            });
        }
        Ok((entry, bytes))
    }

    /// Builds the circuit and writes it (and its manifest entry) to the keystore, replacing any
    /// previous entry for the same key.
    pub fn build_basic(
        &self,
        kind: BasicCircuitKind,
        geometry: &BasicGeometry,
    ) -> Result<BasicCircuit, CircuitError> {
        let key = CircuitKey::Basic {
            kind,
            geometry: *geometry,
        };
        let (builder, layout) = define(kind, geometry)?;
        let defined_gates = builder.num_gates();
        let data = builder.build::<C>();
        let bytes = data
            .to_bytes(
                &DefaultGateSerializer,
                &DefaultGeneratorSerializer::<C, D>::default(),
            )
            .map_err(|e| CircuitError::Serialization {
                key: key.name(),
                reason: format!("{e:?}"),
            })?;
        let entry = ManifestEntry {
            key,
            key_digest: key.digest(),
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            circuit_format_version: CIRCUIT_FORMAT_VERSION,
            file_sha256: sha256_hex(&bytes),
            file_bytes: bytes.len() as u64,
            circuit_digest: data
                .prover_only
                .circuit_digest
                .elements
                .map(|e| e.to_canonical_u64()),
            degree_bits: data.common.degree_bits(),
            defined_gates,
            components: Vec::new(),
            final_vk_digest: None,
            recursion_tree_vk_digest: None,
        };
        self.write_entry(&key, &bytes, &entry)?;
        Ok(BasicCircuit::from_parts(layout, data))
    }

    fn write_entry(
        &self,
        key: &CircuitKey,
        bytes: &[u8],
        entry: &ManifestEntry,
    ) -> Result<(), CircuitError> {
        // Data first, manifest last: a crash in between leaves a file whose manifest is stale,
        // which the next load refuses instead of trusting.
        write_atomically(&self.data_path(key), bytes)?;
        let json =
            serde_json::to_vec_pretty(entry).map_err(|e| CircuitError::KeystoreManifest {
                path: self.manifest_path(key),
                reason: e.to_string(),
            })?;
        write_atomically(&self.manifest_path(key), &json)
    }

    /// Where the final verifying key of a configuration is written (next to its aggregation
    /// entry): the file a third party needs to check final proofs (`zkfleet verify --vk`).
    pub fn final_vk_path(&self, config: &ProvingConfiguration) -> PathBuf {
        self.dir.join(format!(
            "{}.final_vk.bin",
            config.aggregation_key().file_stem()
        ))
    }

    /// Every circuit of a configuration: loaded from the cache, or built and cached where
    /// absent. A cached entry that fails its checks is an error (see the module docs).
    pub fn batch_circuits(
        &self,
        config: &ProvingConfiguration,
    ) -> Result<LoadedBatchCircuits, CircuitError> {
        let started = Instant::now();
        let key = config.aggregation_key();
        let aggregation_cached = self.data_path(&key).exists() || self.manifest_path(&key).exists();
        // Cached entries load in parallel: each is read, hashed and deserialised on one
        // thread (1.7 GB at the default geometry, 6.4 s one after the other on the 16-core
        // host, most of a GPU host's time for a 1,024-operation batch). The aggregation file
        // is read and checked while the basic circuits load; it is deserialised after them,
        // because its leaves are checked against them. Missing entries are built afterwards,
        // one at a time (each build uses every core already, and three at once would triple
        // the peak memory).
        let (cached_basic, aggregation_bytes) = rayon::join(
            || {
                BasicCircuitKind::ALL
                    .par_iter()
                    .map(|&kind| self.load_basic(kind, &config.geometry))
                    .collect::<Vec<_>>()
            },
            || aggregation_cached.then(|| self.read_checked(&key)),
        );
        let mut sources = Vec::with_capacity(4);
        let mut basic = Vec::with_capacity(BasicCircuitKind::ALL.len());
        for (kind, cached) in BasicCircuitKind::ALL.into_iter().zip(cached_basic) {
            let (circuit, source) = match cached? {
                Some(circuit) => (circuit, KeySource::Cached),
                None => (self.build_basic(kind, &config.geometry)?, KeySource::Built),
            };
            sources.push((format!("basic_{}", kind.name()), source));
            basic.push(circuit);
        }
        let circuits = if let Some(read) = aggregation_bytes {
            let (entry, bytes) = read?;
            let circuits = BatchCircuits::from_bytes(basic, &bytes).map_err(|e| {
                CircuitError::Serialization {
                    key: key.name(),
                    reason: e.to_string(),
                }
            })?;
            // The file matches its manifest (SHA-256); its circuits must match the digests the
            // manifest recorded when it was built.
            let components = aggregation_components(&circuits);
            if components != entry.components {
                return Err(CircuitError::KeystoreDigestMismatch {
                    path: self.manifest_path(&key),
                    expected: "the circuit digests recorded in the manifest".into(),
                    found: "other circuits in the data file".into(),
                });
            }
            sources.push((key.name(), KeySource::Cached));
            circuits
        } else {
            let circuits = self.build_aggregation(basic, config)?;
            sources.push((key.name(), KeySource::Built));
            circuits
        };
        Ok(LoadedBatchCircuits {
            circuits,
            sources,
            elapsed: started.elapsed(),
        })
    }

    /// Builds every circuit above round 0 over `basic` and writes the aggregation entry and
    /// the final verifying key, replacing previous ones.
    fn build_aggregation(
        &self,
        basic: Vec<BasicCircuit>,
        config: &ProvingConfiguration,
    ) -> Result<BatchCircuits, CircuitError> {
        let key = config.aggregation_key();
        let circuits =
            BatchCircuits::from_basic(basic, config.arity as usize, &config.compression.steps())
                .map_err(|e| CircuitError::Serialization {
                    key: key.name(),
                    reason: format!("building: {e}"),
                })?;
        let bytes = circuits
            .to_bytes()
            .map_err(|e| CircuitError::Serialization {
                key: key.name(),
                reason: e.to_string(),
            })?;
        let final_key =
            FinalVerifyingKey::of(&circuits).map_err(|e| CircuitError::Serialization {
                key: "final verifying key".into(),
                reason: e.to_string(),
            })?;
        let final_circuit = circuits.compression().final_circuit().circuit_data();
        let entry = ManifestEntry {
            key,
            key_digest: key.digest(),
            crate_version: env!("CARGO_PKG_VERSION").to_string(),
            circuit_format_version: CIRCUIT_FORMAT_VERSION,
            file_sha256: sha256_hex(&bytes),
            file_bytes: bytes.len() as u64,
            circuit_digest: digest_limbs(final_circuit),
            degree_bits: final_circuit.common.degree_bits(),
            defined_gates: 0,
            components: aggregation_components(&circuits),
            final_vk_digest: Some(final_key.digest().to_string()),
            recursion_tree_vk_digest: Some(circuits.scheduler().tree_vk_digest().to_string()),
        };
        write_atomically(&self.final_vk_path(config), final_key.to_bytes())?;
        self.write_entry(&key, &bytes, &entry)?;
        Ok(circuits)
    }

    /// Builds every circuit of a configuration and writes them all, replacing what was there
    /// (`zkfleet keys generate`). Returns the circuits and the configuration's manifest entries.
    pub fn generate(
        &self,
        config: &ProvingConfiguration,
    ) -> Result<(BatchCircuits, Vec<ManifestEntry>), CircuitError> {
        let basic = BasicCircuitKind::ALL
            .into_iter()
            .map(|kind| self.build_basic(kind, &config.geometry))
            .collect::<Result<Vec<_>, _>>()?;
        let circuits = self.build_aggregation(basic, config)?;
        let entries = config
            .keys()
            .iter()
            .map(|key| self.check(key))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((circuits, entries))
    }

    /// Checks a configuration's entries against this build's code (`zkfleet keys verify`):
    /// every circuit is rebuilt from the code and serialized, and **every byte** of every file
    /// (each basic circuit, the aggregation entry, the final verifying key) must equal the
    /// rebuilt bytes; the manifests must record the rebuilt files' SHA-256, circuit digests and
    /// final key digest. No file is parsed, so an altered one cannot make the check misbehave.
    /// Slow: it builds every circuit.
    pub fn verify_against_code(
        &self,
        config: &ProvingConfiguration,
    ) -> Result<Vec<ManifestEntry>, CircuitError> {
        let entries = config
            .keys()
            .iter()
            .map(|key| self.check(key))
            .collect::<Result<Vec<_>, _>>()?;
        let mut basic = Vec::with_capacity(BasicCircuitKind::ALL.len());
        for (kind, entry) in BasicCircuitKind::ALL.into_iter().zip(&entries) {
            let circuit = BasicCircuit::build(kind, &config.geometry)?;
            let rebuilt = circuit
                .data
                .to_bytes(
                    &DefaultGateSerializer,
                    &DefaultGeneratorSerializer::<C, D>::default(),
                )
                .map_err(|e| CircuitError::Serialization {
                    key: entry.key.name(),
                    reason: format!("{e:?}"),
                })?;
            self.compare_with_rebuilt(&self.data_path(&entry.key), &rebuilt)?;
            let built = digest_limbs(&circuit.data);
            if built != entry.circuit_digest {
                return Err(CircuitError::KeystoreDigestMismatch {
                    path: self.manifest_path(&entry.key),
                    expected: format!("circuit digest {built:x?} (built from this code)"),
                    found: format!("{:x?}", entry.circuit_digest),
                });
            }
            basic.push(circuit);
        }
        let key = config.aggregation_key();
        let circuits =
            BatchCircuits::from_basic(basic, config.arity as usize, &config.compression.steps())
                .map_err(|e| CircuitError::Serialization {
                    key: key.name(),
                    reason: format!("building: {e}"),
                })?;
        let rebuilt = circuits
            .to_bytes()
            .map_err(|e| CircuitError::Serialization {
                key: key.name(),
                reason: e.to_string(),
            })?;
        self.compare_with_rebuilt(&self.data_path(&key), &rebuilt)?;
        let aggregation = &entries[entries.len() - 1];
        let built = aggregation_components(&circuits);
        if built != aggregation.components {
            let differing = built
                .iter()
                .zip(&aggregation.components)
                .find(|(a, b)| a != b)
                .map(|(a, _)| a.name.clone())
                .unwrap_or_else(|| "the list of circuits".into());
            return Err(CircuitError::KeystoreDigestMismatch {
                path: self.manifest_path(&key),
                expected: format!("{differing} as built from this code"),
                found: format!("another {differing} recorded"),
            });
        }
        let final_key =
            FinalVerifyingKey::of(&circuits).map_err(|e| CircuitError::Serialization {
                key: "final verifying key".into(),
                reason: e.to_string(),
            })?;
        let vk_path = self.final_vk_path(config);
        self.compare_with_rebuilt(&vk_path, final_key.to_bytes())?;
        let final_digest = final_key.digest().to_string();
        if aggregation.final_vk_digest.as_deref() != Some(final_digest.as_str()) {
            return Err(CircuitError::KeystoreDigestMismatch {
                path: self.manifest_path(&key),
                expected: format!("final vk digest {final_digest}"),
                found: format!("{:?}", aggregation.final_vk_digest),
            });
        }
        Ok(entries)
    }

    /// `path` must hold exactly `rebuilt`; the error names the first differing offset.
    fn compare_with_rebuilt(&self, path: &Path, rebuilt: &[u8]) -> Result<(), CircuitError> {
        let on_disk = fs::read(path).map_err(|e| CircuitError::io(path, e))?;
        if on_disk == rebuilt {
            return Ok(());
        }
        let offset = on_disk
            .iter()
            .zip(rebuilt)
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| on_disk.len().min(rebuilt.len()));
        Err(CircuitError::KeystoreDigestMismatch {
            path: path.to_path_buf(),
            expected: format!("the {} bytes built from this code", rebuilt.len()),
            found: format!(
                "{} bytes that differ from them at byte offset {offset}",
                on_disk.len()
            ),
        })
    }
}

/// The final verifying key of a configuration, built from this build's code alone (every
/// circuit is built: minutes at the default geometry). What `zkfleet verify --rebuild-keys`
/// pins when no digest is given: it trusts the code, not any file.
pub fn final_key_from_code(
    config: &ProvingConfiguration,
) -> Result<FinalVerifyingKey, CircuitError> {
    let basic = BasicCircuitKind::ALL
        .into_iter()
        .map(|kind| BasicCircuit::build(kind, &config.geometry))
        .collect::<Result<Vec<_>, _>>()?;
    let key = config.aggregation_key();
    let circuits =
        BatchCircuits::from_basic(basic, config.arity as usize, &config.compression.steps())
            .map_err(|e| CircuitError::Serialization {
                key: key.name(),
                reason: format!("building: {e}"),
            })?;
    FinalVerifyingKey::of(&circuits).map_err(|e| CircuitError::Serialization {
        key: "final verifying key".into(),
        reason: e.to_string(),
    })
}

fn read_manifest(path: &Path) -> Result<ManifestEntry, CircuitError> {
    let bytes = fs::read(path).map_err(|e| CircuitError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| CircuitError::KeystoreManifest {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default configuration is one the components accept: an arity the recursion
    /// circuits are built for (a default of 1 or 17 would fail every component at start).
    #[test]
    fn the_default_proving_configuration_is_valid() {
        let default = ProvingConfiguration::default();
        assert_eq!(default.arity, crate::DEFAULT_ARITY);
        assert_eq!(default.geometry, BasicGeometry::default());
        default
            .validate()
            .expect("the default configuration validates");
    }

    /// The one check every component's configuration runs: both ends of the arity range are
    /// accepted, one past either end is refused by name, and a bad geometry is refused first.
    #[test]
    fn a_proving_configuration_is_checked_for_geometry_and_arity() {
        let good = ProvingConfiguration {
            geometry: BasicGeometry::default(),
            arity: 2,
            compression: CompressionProfile::default(),
        };
        let max = crate::recursion::MAX_ARITY as u32;
        for arity in [2, max] {
            assert!(
                ProvingConfiguration { arity, ..good }.validate().is_ok(),
                "arity {arity}"
            );
        }
        for arity in [0, 1, max + 1] {
            let err = ProvingConfiguration { arity, ..good }
                .validate()
                .unwrap_err();
            assert!(
                matches!(err, CircuitError::InvalidArity(a) if a == arity),
                "{err}"
            );
            assert_eq!(
                err.to_string(),
                format!("arity {arity} is outside 2..={max}")
            );
        }
        let geometry = BasicGeometry {
            operations_per_instance: 0,
            ..BasicGeometry::default()
        };
        let err = ProvingConfiguration {
            geometry,
            arity: 1,
            ..good
        }
        .validate()
        .unwrap_err();
        assert!(matches!(err, CircuitError::InvalidGeometry(_)), "{err}");
    }
}
