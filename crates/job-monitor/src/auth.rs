//! Bearer-token protection of the monitor's data endpoints, in the gateway's scheme.
//!
//! The gateway's `TokenAuth` (crates/gateway/src/auth.rs) cannot be reused here: the monitor
//! must not depend on the gateway. This is the same scheme, kept small: named clients, each with
//! its own token, from the environment variable [`TOKENS_ENV_VAR`] (`client=token,client2=token2`)
//! and from a tokens file (`client_name token` per line, `#` comments), both read at start; a
//! request carries `Authorization: Bearer <token>`; the token is compared with every configured
//! one in constant time; a refused request gets 401 with `WWW-Authenticate: Bearer` and a JSON
//! error, and one log line without the token. Unlike the gateway, the tokens file is not
//! re-read while running (restart the monitor to revoke a token).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use subtle::ConstantTimeEq;

use crate::config::AuthConfig;

/// The environment variable holding the monitor's tokens, `client=token,client2=token2`.
pub const TOKENS_ENV_VAR: &str = "ZKFLEET_MONITOR_TOKENS";

/// Tokens shorter than this are refused (the gateway's rule: a bearer token is a password that
/// never changes hands interactively, so it need not be guessable).
pub const MIN_TOKEN_LEN: usize = 16;

/// A token source that cannot be used; the message names the source and the line, never a
/// token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("{source_name}, line {line}: {reason}")]
    Malformed {
        source_name: String,
        line: usize,
        reason: String,
    },
    #[error("cannot read the monitor's tokens file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("monitor client {client:?} is configured twice")]
    DuplicateClient { client: String },
    #[error("monitor clients {first:?} and {second:?} have the same token")]
    DuplicateToken { first: String, second: String },
    #[error(
        "monitor.auth.required is set but no token is configured (set {TOKENS_ENV_VAR} or \
         monitor.auth.tokens_file)"
    )]
    RequiredWithoutTokens,
}

/// One client's token; its `Debug` never prints the token.
#[derive(Clone)]
struct ClientToken {
    client: String,
    token: Vec<u8>,
}

impl fmt::Debug for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientToken({}, <redacted>)", self.client)
    }
}

/// The bearer-token check of the monitor's data endpoints. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MonitorAuth {
    required: bool,
    clients: Arc<Vec<ClientToken>>,
}

impl MonitorAuth {
    /// No authentication: every request passes (a monitor on loopback, tests).
    pub fn disabled() -> Self {
        Self {
            required: false,
            clients: Arc::new(Vec::new()),
        }
    }

    /// Builds the check from the configuration and the value of [`TOKENS_ENV_VAR`] (passed in,
    /// so the caller decides where the environment comes from).
    pub fn from_config(config: &AuthConfig, env_tokens: Option<&str>) -> Result<Self, AuthError> {
        let mut clients = Vec::new();
        if let Some(text) = env_tokens {
            parse_env(text, &mut clients)?;
        }
        if let Some(path) = &config.tokens_file {
            parse_file(
                &read_tokens_file(path)?,
                &path.display().to_string(),
                &mut clients,
            )?;
        }
        check_duplicates(&clients)?;
        let required = config.required.unwrap_or(!clients.is_empty());
        if required && clients.is_empty() {
            return Err(AuthError::RequiredWithoutTokens);
        }
        Ok(Self {
            required,
            clients: Arc::new(clients),
        })
    }

    /// Whether requests need a valid token.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The client whose token `presented` is, comparing with every token in constant time (no
    /// early exit on a match).
    pub fn authenticate(&self, presented: &[u8]) -> Option<&str> {
        let mut found = None;
        for entry in self.clients.iter() {
            if bool::from(entry.token.ct_eq(presented)) {
                found = Some(entry.client.as_str());
            }
        }
        found
    }

    /// `router` with every one of its routes behind this check.
    pub fn protect<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.route_layer(middleware::from_fn_with_state(self.clone(), require_bearer))
    }
}

fn parse_env(text: &str, clients: &mut Vec<ClientToken>) -> Result<(), AuthError> {
    for (i, entry) in text.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let malformed = |reason: String| AuthError::Malformed {
            source_name: TOKENS_ENV_VAR.to_owned(),
            line: i + 1,
            reason: format!("entry {}: {reason}", i + 1),
        };
        let Some((client, token)) = entry.split_once('=') else {
            return Err(malformed("expected `client=token`".to_owned()));
        };
        clients.push(client_token(client.trim(), token.trim()).map_err(malformed)?);
    }
    Ok(())
}

fn parse_file(
    text: &str,
    source_name: &str,
    clients: &mut Vec<ClientToken>,
) -> Result<(), AuthError> {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let malformed = |reason: String| AuthError::Malformed {
            source_name: source_name.to_owned(),
            line: i + 1,
            reason,
        };
        let mut fields = line.split_whitespace();
        let (Some(client), Some(token), None) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(malformed("expected `client_name token`".to_owned()));
        };
        clients.push(client_token(client, token).map_err(malformed)?);
    }
    Ok(())
}

fn client_token(client: &str, token: &str) -> Result<ClientToken, String> {
    if client.is_empty()
        || !client
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        return Err(format!(
            "client name {client:?} must be non-empty ASCII letters, digits or -_.@"
        ));
    }
    if token.len() < MIN_TOKEN_LEN {
        return Err(format!(
            "the token of client {client:?} is shorter than {MIN_TOKEN_LEN} characters"
        ));
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "the token of client {client:?} must be printable ASCII without spaces"
        ));
    }
    Ok(ClientToken {
        client: client.to_owned(),
        token: token.as_bytes().to_vec(),
    })
}

fn check_duplicates(clients: &[ClientToken]) -> Result<(), AuthError> {
    for (i, a) in clients.iter().enumerate() {
        for b in &clients[..i] {
            if a.client == b.client {
                return Err(AuthError::DuplicateClient {
                    client: a.client.clone(),
                });
            }
            if bool::from(a.token.ct_eq(&b.token)) {
                return Err(AuthError::DuplicateToken {
                    first: b.client.clone(),
                    second: a.client.clone(),
                });
            }
        }
    }
    Ok(())
}

fn read_tokens_file(path: &Path) -> Result<String, AuthError> {
    std::fs::read_to_string(path).map_err(|e| AuthError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(value: &HeaderValue) -> Option<&[u8]> {
    let bytes = value.as_bytes();
    let scheme = b"bearer ";
    if bytes.len() <= scheme.len() || !bytes[..scheme.len()].eq_ignore_ascii_case(scheme) {
        return None;
    }
    let token = bytes[scheme.len()..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// The middleware behind [`MonitorAuth::protect`].
async fn require_bearer(State(auth): State<MonitorAuth>, request: Request, next: Next) -> Response {
    if !auth.is_required() {
        return next.run(request).await;
    }
    let refusal = match request.headers().get(header::AUTHORIZATION) {
        None => Some((
            "missing",
            "missing Authorization header: send `Authorization: Bearer <token>`",
        )),
        Some(value) => match bearer_token(value) {
            None => Some((
                "malformed",
                "malformed Authorization header: expected `Bearer <token>`",
            )),
            Some(token) => match auth.authenticate(token) {
                Some(client) => {
                    tracing::debug!(client, path = request.uri().path(), "authenticated request");
                    None
                }
                None => Some(("invalid", "invalid or revoked bearer token")),
            },
        },
    };
    let Some((reason, message)) = refusal else {
        return next.run(request).await;
    };
    tracing::warn!(
        path = request.uri().path(),
        reason,
        "job monitor request refused: not authenticated"
    );
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({ "error": message })),
    )
        .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"zkfleet\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "aaaaaaaaaaaaaaaa1111";
    const T2: &str = "bbbbbbbbbbbbbbbb2222";

    #[test]
    fn tokens_from_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, format!("# operators\nalice {T2}  # laptop\n")).unwrap();
        let config = AuthConfig {
            tokens_file: Some(path),
            required: None,
        };
        let auth = MonitorAuth::from_config(&config, Some(&format!("grafana={T1}"))).unwrap();
        assert!(auth.is_required());
        assert_eq!(auth.authenticate(T1.as_bytes()), Some("grafana"));
        assert_eq!(auth.authenticate(T2.as_bytes()), Some("alice"));
        assert_eq!(auth.authenticate(b"aaaaaaaaaaaaaaaa111"), None);
        assert!(!MonitorAuth::from_config(&AuthConfig::default(), None)
            .unwrap()
            .is_required());
    }

    #[test]
    fn bad_sources_are_named_without_the_token() {
        let err = MonitorAuth::from_config(&AuthConfig::default(), Some("a=short")).unwrap_err();
        assert!(err.to_string().contains("shorter than 16"), "{err}");
        let err = MonitorAuth::from_config(&AuthConfig::default(), Some(&format!("a={T1},b={T1}")))
            .unwrap_err();
        assert!(matches!(err, AuthError::DuplicateToken { .. }), "{err}");
        assert!(!err.to_string().contains(T1));
        let required = AuthConfig {
            tokens_file: None,
            required: Some(true),
        };
        assert_eq!(
            MonitorAuth::from_config(&required, None).unwrap_err(),
            AuthError::RequiredWithoutTokens
        );
        let missing = AuthConfig {
            tokens_file: Some("/nonexistent/zkfleet-tokens".into()),
            required: None,
        };
        let err = MonitorAuth::from_config(&missing, None).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/zkfleet-tokens"),
            "{err}"
        );
    }

    #[test]
    fn bearer_header_parsing() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(bearer_token(&v("Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer_token(&v("bearer  abc ")), Some(&b"abc"[..]));
        assert_eq!(bearer_token(&v("Basic abc")), None);
        assert_eq!(bearer_token(&v("Bearer ")), None);
    }
}
