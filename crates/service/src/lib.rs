//! Plumbing shared by the fleet's long-running services (gateway, job monitor, sequencer and
//! the workers' metrics): one copy of each piece, so that every service behaves the same way.
//!
//! - [`auth`]: bearer-token authentication as an axum layer — named clients, tokens from an
//!   environment variable and a tokens file reloaded on SIGHUP or change, constant-time
//!   comparison, 401 with `WWW-Authenticate: Bearer`;
//! - [`duration`]: the one duration format of the configuration (`30`, `"500ms"`, `"1h30m"`);
//! - [`http_client`]: a bounded JSON-over-HTTP client and its error ([`HttpClientError`]), for
//!   a service that calls another (gateway → upstream, sequencer → gateway);
//! - [`metrics`]: the process-wide Prometheus recorder and the metrics listener;
//! - [`signal`]: a cancellation token cancelled by SIGINT or SIGTERM;
//! - [`log_limit`]: rate-limited logging of refused requests.
//!
//! A library, not a component: it knows nothing of jobs, batches or proofs.

pub mod auth;
pub mod duration;
pub mod http_client;
pub mod log_limit;
pub mod metrics;
pub mod signal;

pub use auth::{AuthSettings, AuthenticatedClient, TokenAuth, TokenError, TokenScheme, TokenSet};
pub use duration::DurationParseError;
pub use http_client::{HttpClientError, JsonClient};
pub use signal::shutdown_on_signal;
