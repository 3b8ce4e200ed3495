//! Bearer-token authentication, as a reusable axum layer: the gateway's API, the job monitor's
//! data endpoints and the sequencer's upstream API all sit behind it.
//!
//! Clients are named and each has its own token. Tokens come from two sources, merged:
//!
//! - the service's environment variable ([`TokenScheme::env_var`], e.g.
//!   `ZKFLEET_GATEWAY_TOKENS`), `client=token,client2=token2`, read once at start;
//! - a tokens file, one `client_name token` per line, `#` starting a comment, re-read on SIGHUP
//!   and whenever its modification time (or size) changes when the service runs
//!   [`TokenAuth::watch`], so revoking a token is an edit of the file and needs no restart.
//!
//! A request must carry `Authorization: Bearer <token>`. The token is compared with every
//! configured token in constant time (no early exit on the first match, no timing difference
//! between a near miss and a far one beyond the token's length). A refused request gets 401
//! with `WWW-Authenticate: Bearer` and a JSON error, and one log line with the client address,
//! the path and the reason, never the token. The handler never runs, so a refused request
//! changes nothing.
//!
//! [`TokenAuth::protect`] applies the check to every route of a router. A service says where
//! its tokens come from by implementing [`AuthSettings`] on its configuration section.
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

use crate::log_limit::RefusalLog;

/// The names under which a service's tokens appear in its errors, logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenScheme {
    /// The service, in log lines (`gateway`, `job monitor`, `sequencer`).
    pub service: &'static str,
    /// The environment variable holding `client=token,client2=token2`.
    pub env_var: &'static str,
    /// The configuration key of the tokens file, as an operator writes it (`auth.tokens_file`).
    pub file_setting: &'static str,
    /// Counter of refused requests, labelled `reason` (`missing`, `malformed`, `invalid`), if
    /// the service has one.
    pub failure_counter: Option<&'static str>,
}

/// Where a service's tokens come from: implemented by its configuration section.
pub trait AuthSettings {
    /// The service's names.
    const SCHEME: TokenScheme;
    /// A file of `client_name token` lines, if configured.
    fn tokens_file(&self) -> Option<&Path>;
    /// Whether requests need a valid token; `None`: exactly when a token is configured.
    fn required(&self) -> Option<bool>;
    /// How often [`TokenAuth::watch`] checks the tokens file for changes (default 5 s).
    fn reload_interval(&self) -> Duration {
        Duration::from_secs(5)
    }
}

/// The scheme of [`TokenAuth::disabled`]: it never refuses, so its names never show.
const DISABLED: TokenScheme = TokenScheme {
    service: "unauthenticated service",
    env_var: "",
    file_setting: "",
    failure_counter: None,
};

/// Tokens shorter than this are refused: a bearer token is a password that never changes
/// hands interactively, so there is no reason for it to be guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// A token source that cannot be used; the message names the source and the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// A `client=token` line that cannot be read.
    #[error("{source_name}, line {line}: {reason}")]
    Malformed {
        /// The variable or file the line comes from.
        source_name: String,
        /// The line's number (from 1).
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The tokens file cannot be read.
    #[error("cannot read tokens file {path}: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// One client name given twice.
    #[error("client {client:?} is configured twice ({first} and {second})")]
    DuplicateClient {
        /// The client's name.
        client: String,
        /// Where it is given first.
        first: String,
        /// Where it is given again.
        second: String,
    },
    /// Two clients with one token (a request could not be attributed).
    #[error("clients {first:?} and {second:?} have the same token")]
    DuplicateToken {
        /// The first client.
        first: String,
        /// The second client.
        second: String,
    },
    /// Authentication required, but no token configured: every request would be refused.
    #[error(
        "authentication is required but no token is configured (set {env_var} or \
         {file_setting})"
    )]
    RequiredWithoutTokens {
        /// The variable that holds the tokens.
        env_var: &'static str,
        /// The configuration key naming a tokens file.
        file_setting: &'static str,
    },
}

/// One client's token. Its `Debug` never prints the token.
#[derive(Clone)]
struct ClientToken {
    client: String,
    token: Vec<u8>,
    /// Where it was configured (the environment variable or the file path), for error messages.
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

    /// Parses the value of the environment variable `env_var`: `client=token,client2=token2`.
    pub fn parse_env(text: &str, env_var: &str) -> Result<Self, TokenError> {
        let mut set = Self::default();
        for (i, entry) in text.split(',').enumerate() {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let malformed = |reason: &str| TokenError::Malformed {
                source_name: env_var.to_owned(),
                line: i + 1,
                reason: format!("entry {}: {reason}", i + 1),
            };
            let Some((client, token)) = entry.split_once('=') else {
                return Err(malformed("expected `client=token`"));
            };
            set.add(client.trim(), token.trim(), env_var)
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

    /// How many clients have a token.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether no client has a token.
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
    scheme: TokenScheme,
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
            .field("service", &self.inner.scheme.service)
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
    /// Builds the layer from the configuration and the value of the service's environment
    /// variable ([`TokenScheme::env_var`]; passed in, so the caller decides where the
    /// environment comes from).
    pub fn from_config<C: AuthSettings>(
        config: &C,
        env_tokens: Option<&str>,
    ) -> Result<Self, TokenError> {
        let scheme = C::SCHEME;
        let env_tokens = match env_tokens {
            Some(text) => TokenSet::parse_env(text, scheme.env_var)?,
            None => TokenSet::default(),
        };
        let tokens_file = config.tokens_file().map(Path::to_owned);
        let (file_tokens, file_stamp) = match &tokens_file {
            Some(path) => {
                let stamp = stamp(path);
                (read_tokens_file(path)?, stamp)
            }
            None => (TokenSet::default(), None),
        };
        let all = env_tokens.merged(&file_tokens)?;
        let required = config.required().unwrap_or(!all.is_empty());
        if required && all.is_empty() {
            return Err(TokenError::RequiredWithoutTokens {
                env_var: scheme.env_var,
                file_setting: scheme.file_setting,
            });
        }
        Ok(Self {
            inner: Arc::new(AuthInner {
                scheme,
                required,
                env_tokens,
                tokens_file,
                reload_interval: config.reload_interval(),
                current: RwLock::new(Arc::new(all)),
                file_stamp: Mutex::new(file_stamp),
            }),
        })
    }

    /// No authentication: every request passes (a loopback-only gateway, tests).
    pub fn disabled() -> Self {
        Self {
            inner: Arc::new(AuthInner {
                scheme: DISABLED,
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
        let service = self.inner.scheme.service;
        match self.reload() {
            Ok(outcome) => info!(clients = outcome.clients, why, service, "reloaded tokens"),
            Err(e) => error!(
                error = %e,
                why,
                service,
                "cannot reload tokens; the previous tokens stay in force"
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
                    service = auth.inner.scheme.service,
                    "request refused: not authenticated"
                );
            }
            if let Some(counter) = auth.inner.scheme.failure_counter {
                ::metrics::counter!(counter, "reason" => failure.label()).increment(1);
            }
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
    // the service buffer up to its body limit), so the connection cannot carry another request:
    // say so, and a client opens a new connection instead of writing its next request into a
    // closed one.
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Client names of a set, sorted, for startup logs.
pub fn client_names(set: &TokenSet) -> Vec<String> {
    let mut names: Vec<String> = set.clients().map(str::to_owned).collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const T1: &str = "aaaaaaaaaaaaaaaa1111";
    const ENV: &str = "ZKFLEET_TEST_TOKENS";

    /// A service's `auth` section, as the gateway's.
    #[derive(Default)]
    struct Config {
        tokens_file: Option<std::path::PathBuf>,
        required: Option<bool>,
    }

    impl AuthSettings for Config {
        const SCHEME: TokenScheme = TokenScheme {
            service: "test service",
            env_var: ENV,
            file_setting: "test.auth.tokens_file",
            failure_counter: None,
        };
        fn tokens_file(&self) -> Option<&Path> {
            self.tokens_file.as_deref()
        }
        fn required(&self) -> Option<bool> {
            self.required
        }
    }
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
        let set = TokenSet::parse_env(&format!("a={T1}, b={T2},"), ENV).unwrap();
        assert_eq!(client_names(&set), ["a", "b"]);
        let err = TokenSet::parse_env("a", ENV).unwrap_err();
        assert!(err.to_string().contains("expected `client=token`"), "{err}");
        assert!(err.to_string().starts_with(ENV), "{err}");
        let file = TokenSet::parse_file(&format!("a {T2}x"), "f").unwrap();
        assert!(matches!(
            set.merged(&file).unwrap_err(),
            TokenError::DuplicateClient { .. }
        ));
    }

    #[test]
    fn required_follows_configuration() {
        let config = Config::default();
        assert!(!TokenAuth::from_config(&config, None).unwrap().is_required());
        assert!(TokenAuth::from_config(&config, Some(&format!("a={T1}")))
            .unwrap()
            .is_required());
        let required = Config {
            required: Some(true),
            ..Config::default()
        };
        let err = TokenAuth::from_config(&required, None).unwrap_err();
        assert_eq!(
            err,
            TokenError::RequiredWithoutTokens {
                env_var: ENV,
                file_setting: "test.auth.tokens_file"
            }
        );
        // The message names both places a token can come from.
        assert!(err.to_string().contains(ENV), "{err}");
        assert!(err.to_string().contains("test.auth.tokens_file"), "{err}");
    }

    #[test]
    fn tokens_from_env_and_file_merge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, format!("# operators\nalice {T2}  # laptop\n")).unwrap();
        let config = Config {
            tokens_file: Some(path),
            required: None,
        };
        let auth = TokenAuth::from_config(&config, Some(&format!("grafana={T1}"))).unwrap();
        assert!(auth.is_required());
        assert_eq!(auth.tokens().authenticate(T1.as_bytes()), Some("grafana"));
        assert_eq!(auth.tokens().authenticate(T2.as_bytes()), Some("alice"));
        let missing = Config {
            tokens_file: Some("/nonexistent/zkfleet-tokens".into()),
            required: None,
        };
        let err = TokenAuth::from_config(&missing, None).unwrap_err();
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
        assert_eq!(bearer_token(&v("Bearer")), None);
    }
}
