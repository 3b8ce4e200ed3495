//! Bearer-token authentication, as a reusable axum layer.
//!
//! Clients are named and each has its own token. Tokens come from two sources, merged:
//!
//! - the environment variable [`TOKENS_ENV_VAR`], `client=token,client2=token2`, read once at
//!   start;
//! - a tokens file, one `client_name token` per line, `#` starting a comment, re-read on SIGHUP
//!   and whenever its modification time (or size) changes, so revoking a token is an edit of
//!   the file and needs no restart.
//!
//! A request must carry `Authorization: Bearer <token>`. The token is compared with every
//! configured token in constant time (no early exit on the first match, no timing difference
//! between a near miss and a far one beyond the token's length). A refused request gets 401
//! with `WWW-Authenticate: Bearer` and a JSON error, and one log line with the client address,
//! the path and the reason, never the token. The handler never runs, so a refused request
//! changes nothing.
//!
//! [`TokenAuth::protect`] applies the check to every route of a router; the job monitor's
//! status page, queue report and operator endpoints are protected the same way.
//!
//! A reload that fails (file missing, malformed line) keeps the previous tokens and logs an
//! error: a typo in the file must not lock every client out, nor silently let everyone in.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use subtle::ConstantTimeEq;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::config::AuthConfig;
use crate::log_limit::RefusalLog;
use crate::metrics;

/// The environment variable holding `client=token,client2=token2`.
pub const TOKENS_ENV_VAR: &str = "ZKFLEET_GATEWAY_TOKENS";

/// Tokens shorter than this are refused: a bearer token is a password that never changes
/// hands interactively, so there is no reason for it to be guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// A token source that cannot be used; the message names the source and the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("{source_name}, line {line}: {reason}")]
    Malformed {
        source_name: String,
        line: usize,
        reason: String,
    },
    #[error("cannot read tokens file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("client {client:?} is configured twice ({first} and {second})")]
    DuplicateClient {
        client: String,
        first: String,
        second: String,
    },
    #[error("clients {first:?} and {second:?} have the same token")]
    DuplicateToken { first: String, second: String },
    #[error(
        "authentication is required but no token is configured (set {TOKENS_ENV_VAR} or \
         auth.tokens_file)"
    )]
    RequiredWithoutTokens,
}

/// One client's token. Its `Debug` never prints the token.
#[derive(Clone)]
struct ClientToken {
    client: String,
    token: Vec<u8>,
    /// Where it was configured (`ZKFLEET_GATEWAY_TOKENS` or the file path), for error messages.
    origin: String,
}

impl fmt::Debug for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ClientToken({} from {}, <redacted>)",
            self.client, self.origin
        )
    }
}

/// The set of valid tokens at one moment.
#[derive(Debug, Clone, Default)]
pub struct TokenSet {
    clients: Vec<ClientToken>,
}

impl TokenSet {
    /// Parses a tokens file's content: `client_name token` per line, `#` comments, blank lines
    /// ignored. `source_name` (the path) appears in error messages.
    pub fn parse_file(text: &str, source_name: &str) -> Result<Self, TokenError> {
        let mut set = Self::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let malformed = |reason: &str| TokenError::Malformed {
                source_name: source_name.to_owned(),
                line: i + 1,
                reason: reason.to_owned(),
            };
            let mut fields = line.split_whitespace();
            let (Some(client), Some(token), None) = (fields.next(), fields.next(), fields.next())
            else {
                return Err(malformed("expected `client_name token`"));
            };
            set.add(client, token, source_name)
                .map_err(|reason| malformed(&reason))?;
        }
        set.check_duplicates()?;
        Ok(set)
    }

    /// Parses the environment variable's value: `client=token,client2=token2`.
    pub fn parse_env(text: &str) -> Result<Self, TokenError> {
        let mut set = Self::default();
        for (i, entry) in text.split(',').enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let malformed = |reason: &str| TokenError::Malformed {
                source_name: TOKENS_ENV_VAR.to_owned(),
                line: i + 1,
                reason: format!("entry {}: {reason}", i + 1),
            };
            let Some((client, token)) = entry.split_once('=') else {
                return Err(malformed("expected `client=token`"));
            };
            set.add(client.trim(), token.trim(), TOKENS_ENV_VAR)
                .map_err(|reason| malformed(&reason))?;
        }
        set.check_duplicates()?;
        Ok(set)
    }

    fn add(&mut self, client: &str, token: &str, origin: &str) -> Result<(), String> {
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
        self.clients.push(ClientToken {
            client: client.to_owned(),
            token: token.as_bytes().to_vec(),
            origin: origin.to_owned(),
        });
        Ok(())
    }

    fn check_duplicates(&self) -> Result<(), TokenError> {
        for (i, a) in self.clients.iter().enumerate() {
            for b in &self.clients[..i] {
                if a.client == b.client {
                    return Err(TokenError::DuplicateClient {
                        client: a.client.clone(),
                        first: b.origin.clone(),
                        second: a.origin.clone(),
                    });
                }
                if bool::from(a.token.ct_eq(&b.token)) {
                    return Err(TokenError::DuplicateToken {
                        first: b.client.clone(),
                        second: a.client.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Both sets together; a client may not be configured in both.
    pub fn merged(&self, other: &TokenSet) -> Result<TokenSet, TokenError> {
        let merged = TokenSet {
            clients: self.clients.iter().chain(&other.clients).cloned().collect(),
        };
        merged.check_duplicates()?;
        Ok(merged)
    }

    /// The client whose token `presented` is, comparing with every token in constant time.
    pub fn authenticate(&self, presented: &[u8]) -> Option<&str> {
        let mut found: Option<&str> = None;
        for entry in &self.clients {
            // No early return: every token is compared whatever the outcome.
            if bool::from(entry.token.ct_eq(presented)) {
                found = Some(&entry.client);
            }
        }
        found
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// The configured client names.
    pub fn clients(&self) -> impl Iterator<Item = &str> {
        self.clients.iter().map(|c| c.client.as_str())
    }
}

/// The name of the client a request was authenticated as, inserted into the request's
/// extensions for handlers that want to log it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedClient(pub String);

/// Modification time and size of the tokens file when it was last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    std::fs::metadata(path).ok().map(|m| FileStamp {
        modified: m.modified().ok(),
        len: m.len(),
    })
}

struct AuthInner {
    required: bool,
    env_tokens: TokenSet,
    tokens_file: Option<PathBuf>,
    reload_interval: Duration,
    current: RwLock<Arc<TokenSet>>,
    file_stamp: Mutex<Option<FileStamp>>,
}

/// Bearer-token authentication shared by every route it protects. Cheap to clone.
#[derive(Clone)]
pub struct TokenAuth {
    inner: Arc<AuthInner>,
}

impl fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuth")
            .field("required", &self.inner.required)
            .field("clients", &self.tokens().len())
            .field("tokens_file", &self.inner.tokens_file)
            .finish()
    }
}

/// What a reload did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// Clients valid after the reload.
    pub clients: usize,
}

impl TokenAuth {
    /// Builds the layer from the configuration and the value of [`TOKENS_ENV_VAR`] (passed in,
    /// so the caller decides where the environment comes from).
    pub fn from_config(config: &AuthConfig, env_tokens: Option<&str>) -> Result<Self, TokenError> {
        let env_tokens = match env_tokens {
            Some(text) => TokenSet::parse_env(text)?,
            None => TokenSet::default(),
        };
        let (file_tokens, file_stamp) = match &config.tokens_file {
            Some(path) => {
                let stamp = stamp(path);
                (read_tokens_file(path)?, stamp)
            }
            None => (TokenSet::default(), None),
        };
        let all = env_tokens.merged(&file_tokens)?;
        let required = config.required.unwrap_or(!all.is_empty());
        if required && all.is_empty() {
            return Err(TokenError::RequiredWithoutTokens);
        }
        Ok(Self {
            inner: Arc::new(AuthInner {
                required,
                env_tokens,
                tokens_file: config.tokens_file.clone(),
                reload_interval: config.reload_interval,
                current: RwLock::new(Arc::new(all)),
                file_stamp: Mutex::new(file_stamp),
            }),
        })
    }

    /// No authentication: every request passes (a loopback-only gateway, tests).
    pub fn disabled() -> Self {
        Self {
            inner: Arc::new(AuthInner {
                required: false,
                env_tokens: TokenSet::default(),
                tokens_file: None,
                reload_interval: Duration::from_secs(5),
                current: RwLock::new(Arc::new(TokenSet::default())),
                file_stamp: Mutex::new(None),
            }),
        }
    }

    /// Whether requests need a valid token.
    pub fn is_required(&self) -> bool {
        self.inner.required
    }

    /// The tokens valid now.
    pub fn tokens(&self) -> Arc<TokenSet> {
        // A poisoned lock only means a writer panicked between two complete assignments of an
        // `Arc`; the value inside is whole.
        self.inner
            .current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Re-reads the tokens file (the environment's tokens stay as read at start). On error the
    /// previous tokens stay in force.
    pub fn reload(&self) -> Result<ReloadOutcome, TokenError> {
        let Some(path) = &self.inner.tokens_file else {
            return Ok(ReloadOutcome {
                clients: self.tokens().len(),
            });
        };
        // Recorded even if the content is refused: the watcher retries when the file changes
        // again, not on every tick (one error per broken edit, not one per interval).
        *self
            .inner
            .file_stamp
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = stamp(path);
        let file_tokens = read_tokens_file(path)?;
        let all = self.inner.env_tokens.merged(&file_tokens)?;
        let clients = all.len();
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(all);
        Ok(ReloadOutcome { clients })
    }

    /// Whether the tokens file changed (modification time or size) since it was last read.
    fn file_changed(&self) -> bool {
        let Some(path) = &self.inner.tokens_file else {
            return false;
        };
        let last = *self
            .inner
            .file_stamp
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        stamp(path) != last
    }

    fn reload_and_log(&self, why: &str) {
        match self.reload() {
            Ok(outcome) => info!(clients = outcome.clients, why, "reloaded gateway tokens"),
            Err(e) => error!(
                error = %e,
                why,
                "cannot reload gateway tokens; the previous tokens stay in force"
            ),
        }
    }

    /// Reloads the tokens file on SIGHUP and when it changes, until `cancel`. Does nothing
    /// without a tokens file.
    pub async fn watch(self, cancel: CancellationToken) {
        if self.inner.tokens_file.is_none() {
            return;
        }
        #[cfg(unix)]
        let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        {
            Ok(signal) => Some(signal),
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGHUP; tokens reload on file change only");
                None
            }
        };
        let mut tick = tokio::time::interval(self.inner.reload_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            #[cfg(unix)]
            let sighup = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let sighup = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = sighup => self.reload_and_log("SIGHUP"),
                _ = tick.tick() => {
                    if self.file_changed() {
                        self.reload_and_log("tokens file changed");
                    }
                }
            }
        }
    }

    /// `router` with every one of its routes behind this authentication (routes added to the
    /// result later are not covered; unknown paths still answer 404).
    pub fn protect<S>(&self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        router.route_layer(middleware::from_fn_with_state(self.clone(), require_bearer))
    }
}

fn read_tokens_file(path: &Path) -> Result<TokenSet, TokenError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                warn!(
                    path = %path.display(),
                    mode = format!("{:o}", meta.permissions().mode() & 0o777),
                    "the tokens file is readable by other users; `chmod 600` it"
                );
            }
        }
    }
    let text = std::fs::read_to_string(path).map_err(|e| TokenError::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    TokenSet::parse_file(&text, &path.display().to_string())
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthFailure {
    Missing,
    Malformed,
    Invalid,
}

impl AuthFailure {
    fn label(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::Invalid => "invalid",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::Missing => "missing Authorization header: send `Authorization: Bearer <token>`",
            Self::Malformed => "malformed Authorization header: expected `Bearer <token>`",
            Self::Invalid => "invalid or revoked bearer token",
        }
    }
}

/// The middleware behind [`TokenAuth::protect`]: passes a request with a valid bearer token
/// (recording the client as [`AuthenticatedClient`]), refuses any other with 401.
pub async fn require_bearer(
    State(auth): State<TokenAuth>,
    mut request: Request,
    next: Next,
) -> Response {
    if !auth.is_required() {
        return next.run(request).await;
    }
    let outcome = match request.headers().get(header::AUTHORIZATION) {
        None => Err(AuthFailure::Missing),
        Some(value) => match bearer_token(value) {
            None => Err(AuthFailure::Malformed),
            Some(token) => auth
                .tokens()
                .authenticate(token)
                .map(str::to_owned)
                .ok_or(AuthFailure::Invalid),
        },
    };
    match outcome {
        Ok(client) => {
            debug!(client, path = request.uri().path(), "authenticated request");
            request.extensions_mut().insert(AuthenticatedClient(client));
            next.run(request).await
        }
        Err(failure) => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(addr)| addr.to_string())
                .unwrap_or_else(|| "unknown".to_owned());
            // Informative only (a client can forge it), but behind a TLS proxy the peer
            // address is the proxy's.
            let forwarded_for = request
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            // Rate-limited: anyone can send unauthenticated requests (see `log_limit`).
            static REFUSALS: RefusalLog = RefusalLog::new();
            if let Some(suppressed) = REFUSALS.admit() {
                warn!(
                    client_address = %peer,
                    forwarded_for,
                    method = %request.method(),
                    path = request.uri().path(),
                    reason = failure.label(),
                    suppressed,
                    "request refused: not authenticated"
                );
            }
            ::metrics::counter!(metrics::AUTH_FAILURES, "reason" => failure.label()).increment(1);
            unauthorized(failure)
        }
    }
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

fn unauthorized(failure: AuthFailure) -> Response {
    let challenge = match failure {
        AuthFailure::Missing => HeaderValue::from_static("Bearer realm=\"zkfleet\""),
        AuthFailure::Malformed => {
            HeaderValue::from_static("Bearer realm=\"zkfleet\", error=\"invalid_request\"")
        }
        AuthFailure::Invalid => {
            HeaderValue::from_static("Bearer realm=\"zkfleet\", error=\"invalid_token\"")
        }
    };
    let mut response = (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({ "error": failure.message() })),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::WWW_AUTHENTICATE, challenge);
    // The request body was not read (auth comes first, so an unauthenticated client cannot make
    // the gateway buffer 65 MiB), so the connection cannot carry another request: say so, and a
    // client opens a new connection instead of writing its next request into a closed one.
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Client names of a set, for startup logs.
pub(crate) fn client_names(set: &TokenSet) -> Vec<String> {
    let mut names: Vec<String> = set.clients().map(str::to_owned).collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "aaaaaaaaaaaaaaaa1111";
    const T2: &str = "bbbbbbbbbbbbbbbb2222";

    #[test]
    fn file_format_comments_and_errors() {
        let text = format!("# clients\n\nsequencer {T1}  # main\n  explorer {T2}\n");
        let set = TokenSet::parse_file(&text, "tokens").unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.authenticate(T1.as_bytes()), Some("sequencer"));
        assert_eq!(set.authenticate(T2.as_bytes()), Some("explorer"));
        assert_eq!(set.authenticate(b"aaaaaaaaaaaaaaaa111"), None);
        assert_eq!(set.authenticate(b""), None);

        let err = TokenSet::parse_file(&format!("ok {T1}\nonly_a_name\n"), "f").unwrap_err();
        assert_eq!(err.to_string(), "f, line 2: expected `client_name token`");
        let err = TokenSet::parse_file("c short", "f").unwrap_err();
        assert!(err.to_string().contains("shorter than 16"), "{err}");
        let err = TokenSet::parse_file(&format!("a {T1}\na {T2}"), "f").unwrap_err();
        assert!(matches!(err, TokenError::DuplicateClient { .. }), "{err}");
        let err = TokenSet::parse_file(&format!("a {T1}\nb {T1}"), "f").unwrap_err();
        assert!(matches!(err, TokenError::DuplicateToken { .. }), "{err}");
        // The token never appears in an error.
        assert!(!err.to_string().contains(T1));
    }

    #[test]
    fn env_format() {
        let set = TokenSet::parse_env(&format!("a={T1}, b={T2},")).unwrap();
        assert_eq!(client_names(&set), ["a", "b"]);
        let err = TokenSet::parse_env("a").unwrap_err();
        assert!(err.to_string().contains("expected `client=token`"), "{err}");
        let file = TokenSet::parse_file(&format!("a {T2}x"), "f").unwrap();
        assert!(matches!(
            set.merged(&file).unwrap_err(),
            TokenError::DuplicateClient { .. }
        ));
    }

    #[test]
    fn required_follows_configuration() {
        let config = AuthConfig::default();
        assert!(!TokenAuth::from_config(&config, None).unwrap().is_required());
        assert!(TokenAuth::from_config(&config, Some(&format!("a={T1}")))
            .unwrap()
            .is_required());
        let required = AuthConfig {
            required: Some(true),
            ..AuthConfig::default()
        };
        assert_eq!(
            TokenAuth::from_config(&required, None).unwrap_err(),
            TokenError::RequiredWithoutTokens
        );
    }

    #[test]
    fn bearer_header_parsing() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(bearer_token(&v("Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer_token(&v("bearer  abc ")), Some(&b"abc"[..]));
        assert_eq!(bearer_token(&v("Basic abc")), None);
        assert_eq!(bearer_token(&v("Bearer ")), None);
        assert_eq!(bearer_token(&v("Bearer")), None);
    }
}
