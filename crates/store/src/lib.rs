//! The object store: where zkfleet keeps its blobs (witness inputs, circuit witnesses,
//! aggregation inputs, proofs, final proofs, verifying keys).
//!
//! The database says what is to be done; the object store holds the bytes. This crate is the
//! only one that talks to the store, through the `object_store` crate, so every backend — a
//! local directory (the embedded default), S3 or an S3-compatible server, Google Cloud
//! Storage — behaves the same to the rest of the fleet:
//!
//! - [`bucket`]: buckets are key prefixes inside one physical bucket or directory;
//! - [`key`]: every key is a deterministic function of the job's identity and parses back;
//! - [`codec`]: every blob sits in a versioned, checksummed envelope;
//! - [`object`]: how a Rust value becomes a payload ([`StoredObject`]);
//! - [`retry`]: which failures are retried, and the backoff;
//! - [`config`]: the `[store]` configuration section;
//! - [`store`]: the [`Store`] itself, its operations and metrics;
//! - [`error`]: not found, corrupt and backend failures, distinct.
//!
//! The format, key scheme and policies are described in `docs/store-and-runner.md`.

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod bucket;
pub mod codec;
pub mod config;
pub mod error;
pub mod key;
pub mod object;
pub mod retry;
pub mod store;

pub use bucket::Bucket;
pub use codec::{BlobKind, DecodeError};
pub use config::{S3Credentials, StoreBackend, StoreConfig};
pub use error::{Operation, StoreError};
pub use key::{ContentDigest, DigestParseError, KeyParseError, ObjectKey};
pub use object::{
    AggregationListBytes, AuxOutputBytes, CircuitWitnessBytes, ClosedFormInputsBytes,
    FinalProofBytes, ProofBytes, RawPayload, SchedulerInputBytes, SerdeObject, StoredObject,
    VerifyingKeyBytes, WitnessInputBytes,
};
pub use retry::RetryPolicy;
pub use store::{register_metrics, ListedObject, Store};
