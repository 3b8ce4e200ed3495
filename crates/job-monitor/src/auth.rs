//! Bearer-token protection of the monitor's data endpoints: the fleet's token layer
//! (`zkfleet_service::auth`, the gateway's scheme) with the monitor's names.
//!
//! Named clients, each with its own token, from the environment variable [`TOKENS_ENV_VAR`]
//! (`client=token,client2=token2`) and from a tokens file (`client_name token` per line, `#`
//! comments), both read at start; a request carries `Authorization: Bearer <token>`; a refused
//! request gets 401 with `WWW-Authenticate: Bearer` and a JSON error, and one log line without
//! the token. The monitor does not run the layer's watcher: its tokens file is not re-read
//! while running (restart the monitor to revoke a token).

use std::path::Path;

use zkfleet_service::auth::{AuthSettings, TokenScheme};

use crate::config::AuthConfig;

/// The environment variable holding the monitor's tokens, `client=token,client2=token2`.
pub const TOKENS_ENV_VAR: &str = "ZKFLEET_MONITOR_TOKENS";

/// The bearer-token check of the monitor's data endpoints. Cheap to clone.
pub type MonitorAuth = zkfleet_service::TokenAuth;

/// A token source that cannot be used; the message names the source and the line, never a
/// token.
pub type AuthError = zkfleet_service::TokenError;

impl AuthSettings for AuthConfig {
    const SCHEME: TokenScheme = TokenScheme {
        service: "job monitor",
        env_var: TOKENS_ENV_VAR,
        file_setting: "monitor.auth.tokens_file",
        failure_counter: None,
    };

    fn tokens_file(&self) -> Option<&Path> {
        self.tokens_file.as_deref()
    }

    fn required(&self) -> Option<bool> {
        self.required
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "aaaaaaaaaaaaaaaa1111";

    #[test]
    fn the_monitor_names_its_own_token_sources() {
        let required = AuthConfig {
            tokens_file: None,
            required: Some(true),
        };
        let err = MonitorAuth::from_config(&required, None).unwrap_err();
        assert!(err.to_string().contains(TOKENS_ENV_VAR), "{err}");
        assert!(
            err.to_string().contains("monitor.auth.tokens_file"),
            "{err}"
        );
        let err = MonitorAuth::from_config(&AuthConfig::default(), Some("a=short")).unwrap_err();
        assert!(err.to_string().starts_with(TOKENS_ENV_VAR), "{err}");
        let auth = MonitorAuth::from_config(&AuthConfig::default(), Some(&format!("grafana={T1}")))
            .unwrap();
        assert!(auth.is_required());
        assert_eq!(auth.tokens().authenticate(T1.as_bytes()), Some("grafana"));
    }
}
