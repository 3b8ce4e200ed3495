//! Stopping on a signal: every long-running component stops gracefully on the first SIGINT
//! (Ctrl-C) or SIGTERM (what process supervisors send). Reloading on SIGHUP is the tokens'
//! business ([`crate::auth::TokenAuth::watch`]).

use tokio_util::sync::CancellationToken;

/// A token cancelled by the first SIGINT or SIGTERM. Must be called from a Tokio runtime (the
/// listener is a task on it).
pub fn shutdown_on_signal() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::terminate()) {
                Ok(mut terminate) => {
                    tokio::select! {
                        _ = interrupt => {}
                        _ = terminate.recv() => {}
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for SIGTERM; stopping on SIGINT only");
                    let _ = interrupt.await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = interrupt.await;
        tracing::info!("shutdown requested; stopping gracefully");
        token.cancel();
    });
    cancel
}
