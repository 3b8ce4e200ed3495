//! The prover API: lets provers the operator does not trust take the fleet's prover jobs,
//! safely (docs/prover-api.md).
//!
//! Outside provers never touch the job database or the object store. They log in by signing a
//! single-use challenge with an Ed25519 key the operator registered (`zkfleet provers add`),
//! lease a job that fits what they can prove and what the operator's policy lets go outside,
//! receive its input, a deadline and a fencing token, extend the lease while they work, and
//! submit the proof with the token. A proof is verified under the job's circuit and its public
//! inputs compared with the job's (through `zkfleet-circuits`, the circuit prover's own
//! verification) **before** it is stored or completes the job. Expired leases go back to the
//! queue, where the fleet's own provers take them; every lease, acceptance, refusal and miss is
//! on a per-prover ledger (`crates/dal/src/provers.rs`), and provers past their limits are
//! suspended automatically.
//!
//! - [`config`]: `[prover_api]`: limits, policy, prices, suspension limits;
//! - [`wire`]: every request and response;
//! - [`server`]: the HTTP routes and the sweep of expired leases;
//! - `checker`: verification of submitted proofs;
//! - [`keys`]: key files, signatures, session tokens; `rate`: per-prover rate limits;
//! - [`tls`]: HTTPS in this process (`[tls]`, rustls);
//! - [`client`]: the remote prover (`zkfleet remote-prover`).
//!
//! No other component is a dependency (DESIGN.md: components never import components).

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod checker;
pub mod client;
pub mod config;
pub mod error;
pub mod keys;
mod metrics;
mod rate;
pub mod server;
pub mod tls;
pub mod wire;

pub use client::{
    load_circuits, run_remote_prover, ApiClient, ClientError, JobProver, RemoteProverOptions,
    RemoteProverSummary,
};
pub use config::{OutsidePolicy, ProverApiConfig, RoundRequirement, SuspensionLimits};
pub use error::ApiError;
pub use keys::{ProverKey, ProverKeyFile};
pub use server::{enforce_limits, router, run, serve, serve_tls, sweep_once, ApiState, StartError};
pub use tls::{TlsError, TlsFiles, TlsListener};
