//! `run`: what the gateway refuses to start with, and a start and stop in push mode.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use zkfleet_gateway::{GatewayConfig, GatewayError};
use zkfleet_types::{HashDigest, VkDigest};

use crate::harness::{fleet_version, gateway_config, TestEnv};

async fn run(env: &TestEnv, config: GatewayConfig) -> Result<(), GatewayError> {
    let cancel = CancellationToken::new();
    // A start that succeeds would serve until cancelled: stop it shortly after.
    let stopper = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cancel.cancel();
        })
    };
    let result = zkfleet_gateway::run(env.dal.clone(), env.store.clone(), config, cancel).await;
    stopper.abort();
    result
}

pub(crate) async fn startup_refuses_unsafe_or_inconsistent_configurations(env: &TestEnv) {
    // Push mode on every interface without tokens.
    let exposed = GatewayConfig {
        listen_address: "0.0.0.0:0".parse().unwrap(),
        ..gateway_config()
    };
    let err = run(env, exposed.clone()).await.unwrap_err();
    assert!(
        matches!(err, GatewayError::UnauthenticatedExposure { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("without authentication"), "{err}");

    // Explicitly allowed, it starts (and stops when cancelled).
    let mut allowed = exposed;
    allowed.auth.allow_unauthenticated_non_loopback = true;
    run(env, allowed).await.unwrap();

    // No protocol version: nothing could ever be accepted.
    let err = run(
        env,
        GatewayConfig {
            protocol_versions: Vec::new(),
            ..gateway_config()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("protocol_versions"), "{err}");

    // The database knows the version with other keys than this gateway's.
    let mut other_keys = fleet_version();
    other_keys.final_vk_digest = VkDigest(HashDigest([9, 9, 9, 9]));
    env.dal.insert_protocol_version(&other_keys).await.unwrap();
    let err = run(env, gateway_config()).await.unwrap_err();
    assert!(matches!(err, GatewayError::VersionMismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&other_keys.final_vk_digest.to_string()),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&fleet_version().final_vk_digest.to_string()),
        "{err}"
    );
}
