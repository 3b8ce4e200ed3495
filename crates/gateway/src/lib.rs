//! The gateway: batches in over HTTP, final proofs out (`zkfleet gateway`).
//!
//! The gateway is the fleet's only door to the outside. It takes a batch input, stores it in
//! the object store (`witness_inputs/{chain}/{batch}.bin`), registers the protocol version and
//! inserts the batch's basic witness job; later it hands out the final proof the compressor
//! stored and marks the compression job `sent_to_server`. It speaks both protocols of the
//! reference (`../shared/reference/zksync-prover.md` §6):
//!
//! - **push** ([`server`]): an HTTP server; the client calls `POST /submit_request_for_proofs`
//!   and `POST /poll_generated_proofs`;
//! - **pull** ([`pull`]): the gateway polls an upstream's `POST /proof_generation_data` and
//!   submits each final proof to `POST /submit_proof/{batch_number}`.
//!
//! Both go through the same validation ([`ingest`]): bounded sizes, a protocol version the
//! fleet holds keys for, verifier digests equal to the fleet's, idempotent resubmission and 409
//! for a conflicting one. Delivery ([`delivery`]) is idempotent too.
//!
//! Authentication is the fleet's bearer-token layer (`zkfleet_service::auth`): named clients
//! with tokens from [`TOKENS_ENV_VAR`] and/or a tokens file reloaded on SIGHUP or change. The gateway
//! speaks plain HTTP; TLS is terminated by a reverse proxy in front (`docs/gateway.md`).
//!
//! The gateway holds no state of its own: any number can run against one database and store.
//!
//! ```no_run
//! # async fn demo(dal: zkfleet_dal::Dal, store: zkfleet_store::Store,
//! #               config: zkfleet_gateway::GatewayConfig) -> Result<(), zkfleet_gateway::GatewayError> {
//! let cancel = tokio_util::sync::CancellationToken::new();
//! zkfleet_gateway::run(dal, store, config, cancel).await
//! # }
//! ```

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod config;
pub mod delivery;
pub mod ingest;
pub mod metrics;
pub mod pull;
pub mod server;
pub mod state;

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;
use tracing::info;
use zkfleet_dal::{Dal, DalError};
use zkfleet_store::Store;

pub use config::{AuthConfig, ConfigError, GatewayConfig, GatewayMode, PullConfig, TOKENS_ENV_VAR};
pub use delivery::DeliveryError;
pub use ingest::IngestError;
pub use pull::{PullClient, UpstreamError, UPSTREAM_TOKEN_ENV_VAR};
pub use server::{router, serve, ApiError};
pub use state::GatewayState;
pub use zkfleet_service::auth::{AuthenticatedClient, TokenAuth, TokenError, TokenSet};

/// Why the gateway could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration cannot work (the error names the field).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The bearer tokens could not be read (file or variable).
    #[error("gateway tokens: {0}")]
    Tokens(#[from] TokenError),
    /// Push mode would accept batches from anyone on a non-loopback address: refused unless
    /// the operator says so.
    #[error(
        "refusing to serve push mode on {address} without authentication: configure tokens \
         ({TOKENS_ENV_VAR} or auth.tokens_file), listen on loopback, or set \
         auth.allow_unauthenticated_non_loopback = true"
    )]
    UnauthenticatedExposure {
        /// The address the gateway was to listen on.
        address: SocketAddr,
    },
    /// The job database knows the configured protocol version with other key digests: the
    /// gateway would accept batches the fleet proves under other keys.
    #[error(
        "protocol version {} is registered in the job database with other verifying-key \
         digests (recursion tree {}, final {}) than this gateway's configuration \
         (recursion tree {}, final {})",
        configured.version, stored.recursion_tree_vk_digest, stored.final_vk_digest,
        configured.recursion_tree_vk_digest, configured.final_vk_digest
    )]
    VersionMismatch {
        /// The version and digests of this gateway's configuration.
        configured: zkfleet_types::ProtocolVersion,
        /// The row the job database holds for it.
        stored: zkfleet_types::ProtocolVersion,
    },
    /// The job database failed.
    #[error("job database: {0}")]
    Dal(#[from] DalError),
    /// The listening socket could not be opened.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The configured address.
        address: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("gateway server failed: {0}")]
    Serve(#[source] std::io::Error),
    /// Pull mode could not talk to its upstream.
    #[error("pull mode: {0}")]
    Upstream(#[from] UpstreamError),
}

/// Runs the gateway in the configured mode until `cancel`. Tokens come from
/// [`TOKENS_ENV_VAR`] and the configured file; pull mode sends [`UPSTREAM_TOKEN_ENV_VAR`] to
/// the upstream if set.
pub async fn run(
    dal: Dal,
    store: Store,
    config: GatewayConfig,
    cancel: CancellationToken,
) -> Result<(), GatewayError> {
    config.validate()?;
    // The fleet's keys must agree with what the database already recorded; finding out at the
    // first submission would turn an operator error into a client-visible 500.
    for configured in config.protocol_versions.iter() {
        if let Some(stored) = dal.protocol_version(configured.version).await? {
            if stored != *configured {
                return Err(GatewayError::VersionMismatch {
                    configured: *configured,
                    stored,
                });
            }
        }
    }
    match config.mode {
        GatewayMode::Push => {
            let env_tokens = std::env::var(TOKENS_ENV_VAR).ok();
            let auth = TokenAuth::from_config(&config.auth, env_tokens.as_deref())?;
            let address = config.listen_address;
            if !auth.is_required()
                && !address.ip().is_loopback()
                && !config.auth.allow_unauthenticated_non_loopback
            {
                return Err(GatewayError::UnauthenticatedExposure { address });
            }
            info!(
                clients = ?zkfleet_service::auth::client_names(&auth.tokens()),
                required = auth.is_required(),
                "gateway authentication"
            );
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|source| GatewayError::Bind { address, source })?;
            let state = GatewayState::new(dal, store, &config, auth.clone());
            let watcher = tokio::spawn(auth.watch(cancel.child_token()));
            let result = serve(listener, state, cancel.clone(), config.shutdown_grace).await;
            cancel.cancel();
            // The watcher only waits on the token; it ends as soon as it is cancelled.
            let _ = watcher.await;
            result.map_err(GatewayError::Serve)
        }
        GatewayMode::Pull => {
            let token = std::env::var(UPSTREAM_TOKEN_ENV_VAR).ok();
            let client = PullClient::new(&config.pull, token)?;
            let state = GatewayState::new(dal, store, &config, TokenAuth::disabled());
            pull::run_pull(state, client, config.pull.clone(), cancel).await;
            Ok(())
        }
    }
}
