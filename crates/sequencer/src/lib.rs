//! The reference sequencer (`zkfleet sequencer`): the other side of the fleet, so that the
//! whole flow — batches made, proven, verified, accepted — can be seen and tested.
//!
//! It keeps the reference rollup's state ([`chain`]: a `DiskState` in a data directory, so a
//! restart resumes), makes a batch of signed operations every `batch_interval` ([`producer`]),
//! and hands each batch to the fleet as the witness input the witness generator expects (the
//! batch plus its pre-state, `zkfleet_rollup::witness_input::BatchWitnessInput`):
//!
//! - **pull mode** ([`server`]): it is the gateway's upstream and serves
//!   `POST /proof_generation_data` and `POST /submit_proof/{batch_number}` with the wire types
//!   of `zkfleet_types::api`;
//! - **push mode** ([`push`]): it calls a gateway's `POST /submit_request_for_proofs`, then
//!   `POST /poll_generated_proofs` until the proof arrives.
//!
//! A final proof is accepted only if it verifies under the final verifying key
//! ([`verifier`], the check `zkfleet verify` does) and attests exactly the public output the
//! sequencer computed when it executed the batch, and only for the next batch in order; then
//! the *proven* state root moves (see [`sequencer`]). Anything else is refused with a clear
//! reason, counted, and changes nothing. `GET /status` and `GET /metrics` show where it is.
//!
//! ```no_run
//! # async fn demo(config: zkfleet_sequencer::SequencerConfig,
//! #               params: zkfleet_sequencer::ChainParameters) -> Result<(), zkfleet_sequencer::SequencerError> {
//! // The key file must have the digest the operator pinned (SHA-256 of the file).
//! let pinned = "0x…".parse().expect("the pinned digest");
//! let verifier =
//!     zkfleet_sequencer::FinalKeyVerifier::from_file("keys/x.final_vk.bin".as_ref(), pinned)?;
//! let sequencer = zkfleet_sequencer::Sequencer::open(
//!     "data/sequencer".into(), config, params, std::sync::Arc::new(verifier))?;
//! zkfleet_sequencer::run(std::sync::Arc::new(sequencer), None, Default::default()).await
//! # }
//! ```

// The unit tests link the dev-dependencies the integration tests use.
#![cfg_attr(test, allow(unused_crate_dependencies))]

pub mod chain;
pub mod config;
pub mod error;
pub mod ledger;
pub mod metrics;
pub mod producer;
pub mod push;
pub mod sequencer;
pub mod server;
pub mod verifier;

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};
use zkfleet_service::auth::{AuthSettings, TokenScheme};
use zkfleet_service::TokenAuth;

pub use chain::{Acceptance, Chain};
pub use config::{ChainParameters, ConfigError, PushConfig, SequencerConfig, SequencerMode};
pub use error::{Refusal, SequencerError, SubmitError};
pub use push::{GatewayClient, GatewayError, GATEWAY_TOKEN_ENV_VAR};
pub use sequencer::{Sequencer, SequencerStatus};
pub use verifier::{FinalKeyVerifier, ProofVerifier, VerifierError};

/// Environment variable with the tokens a pull-mode gateway must present to this sequencer,
/// `name=token,…` as the gateway's own `ZKFLEET_GATEWAY_TOKENS` (the gateway sends its
/// `ZKFLEET_GATEWAY_UPSTREAM_TOKEN`). Unset: no authentication (keep it on loopback then).
pub const UPSTREAM_TOKENS_ENV_VAR: &str = "ZKFLEET_SEQUENCER_TOKENS";

/// Where the upstream API's tokens come from: the environment only (no tokens file), required
/// exactly when a token is set.
struct UpstreamAuth;

impl AuthSettings for UpstreamAuth {
    const SCHEME: TokenScheme = TokenScheme {
        service: "sequencer",
        env_var: UPSTREAM_TOKENS_ENV_VAR,
        // Never named: with no tokens file and `required` unset, no token means no check.
        file_setting: "a tokens file",
        failure_counter: None,
    };

    fn tokens_file(&self) -> Option<&std::path::Path> {
        None
    }

    fn required(&self) -> Option<bool> {
        None
    }
}

/// Runs the sequencer until `cancel`: the HTTP server on `listen_address`, batch production
/// every `batch_interval`, and in push mode the gateway client. `metrics` is what
/// `GET /metrics` renders (the process's recorder; `None` answers 404).
pub async fn run(
    sequencer: Arc<Sequencer>,
    metrics: Option<PrometheusHandle>,
    cancel: CancellationToken,
) -> Result<(), SequencerError> {
    let config = sequencer.config().clone();
    let auth = match config.mode {
        SequencerMode::Pull => {
            let tokens = std::env::var(UPSTREAM_TOKENS_ENV_VAR).ok();
            TokenAuth::from_config(&UpstreamAuth, tokens.as_deref())?
        }
        SequencerMode::Push => TokenAuth::disabled(),
    };
    let push_client = match config.mode {
        SequencerMode::Push => Some(GatewayClient::new(
            &config.push,
            std::env::var(GATEWAY_TOKEN_ENV_VAR).ok(),
        )?),
        SequencerMode::Pull => None,
    };
    let address = config.listen_address;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| SequencerError::Bind { address, source })?;
    info!(
        %address,
        mode = ?config.mode,
        authenticated = auth.is_required(),
        final_vk = %sequencer.final_vk_digest(),
        "sequencer listening"
    );
    let app = server::router(sequencer.clone(), auth, metrics);
    let server = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(cancel.cancelled_owned())
                .await
        })
    };
    let producer = tokio::spawn(produce_batches(sequencer.clone(), cancel.clone()));
    let pusher = push_client.map(|client| {
        tokio::spawn(push::run_push(
            sequencer.clone(),
            client,
            config.push.clone(),
            cancel.clone(),
        ))
    });
    let served = server.await;
    // The server ends on cancel (or on a fatal error): stop the rest either way.
    cancel.cancel();
    let _ = producer.await;
    if let Some(pusher) = pusher {
        let _ = pusher.await;
    }
    match served {
        Ok(result) => result.map_err(SequencerError::Serve),
        Err(e) => Err(SequencerError::Task(e.to_string())),
    }
}

/// Produces a batch every `batch_interval` (the first at once) until `cancel`. A failure is
/// logged and retried at the next tick: a full disk must not stop the sequencer serving the
/// batches it has.
async fn produce_batches(sequencer: Arc<Sequencer>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(sequencer.batch_interval());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = sequencer.produce_if_due().await {
            error!(error = %e, "cannot produce a batch; retrying at the next interval");
        }
    }
}
