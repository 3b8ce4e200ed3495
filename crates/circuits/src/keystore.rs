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
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::basic::{define, BasicCircuit, BasicCircuitKind};
use crate::config::BasicGeometry;
use crate::error::CircuitError;
use crate::{C, D, F};

/// Version of the circuit definitions; part of every key digest. Bump it with any change to a
/// circuit's constraints or witness layout, so stale cached data is never paired with new code.
pub const CIRCUIT_FORMAT_VERSION: u32 = 1;

/// Which circuit data a cache entry holds. The aggregation rounds add their variants here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "round", rename_all = "snake_case")]
pub enum CircuitKey {
    Basic {
        kind: BasicCircuitKind,
        geometry: BasicGeometry,
    },
}

impl CircuitKey {
    /// Stable human-readable name, e.g. `basic_signature_verification`.
    pub fn name(&self) -> String {
        match self {
            Self::Basic { kind, .. } => format!("basic_{}", kind.name()),
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
    pub key: CircuitKey,
    pub key_digest: String,
    pub crate_version: String,
    pub circuit_format_version: u32,
    /// SHA-256 of the `.bin` file.
    pub file_sha256: String,
    pub file_bytes: u64,
    /// plonky2's circuit digest (the verifying key's hash), canonical limbs.
    pub circuit_digest: [u64; 4],
    pub degree_bits: usize,
    /// Gates of the circuit before padding, checked against a fresh definition on load.
    pub defined_gates: usize,
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
    pub circuit: BasicCircuit,
    pub source: KeySource,
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
        };
        // Data first, manifest last: a crash in between leaves a file whose manifest is stale,
        // which the next load refuses instead of trusting.
        write_atomically(&self.data_path(&key), &bytes)?;
        let json =
            serde_json::to_vec_pretty(&entry).map_err(|e| CircuitError::KeystoreManifest {
                path: self.manifest_path(&key),
                reason: e.to_string(),
            })?;
        write_atomically(&self.manifest_path(&key), &json)?;
        Ok(BasicCircuit::from_parts(layout, data))
    }
}

fn read_manifest(path: &Path) -> Result<ManifestEntry, CircuitError> {
    let bytes = fs::read(path).map_err(|e| CircuitError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| CircuitError::KeystoreManifest {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}
