//! Where the object store lives and how hard to try: the `[store]` section of the fleet's
//! configuration file.
//!
//! ```toml
//! [store]
//! backend = "s3"                      # or "local" (the default) or "gcs"
//! bucket = "zkfleet-artifacts"
//! endpoint = "http://127.0.0.1:9000"  # omit for AWS itself
//! region = "us-east-1"
//! allow_http = true
//! credentials = { source = "file", path = "/etc/zkfleet/aws-credentials", profile = "prover" }
//! max_retries = 5
//! retry_initial_backoff_ms = 1000
//! retry_max_backoff_ms = 30000
//! request_timeout_secs = 300
//! ```
//!
//! Secrets never sit in this struct: credentials are named by source (environment or file) and
//! read when the store is opened, into [`AwsCredentials`], whose `Debug` hides them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::retry::RetryPolicy;

/// The object store's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreConfig {
    /// Which store and where (the `backend` key and its settings, flattened into `[store]`).
    #[serde(flatten)]
    pub backend: StoreBackend,
    /// Retries after the first attempt, on transient errors only.
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// Delay before the first retry; doubles per retry.
    #[serde(default = "default_initial_backoff_ms")]
    pub retry_initial_backoff_ms: u64,
    /// Ceiling of the delay between retries.
    #[serde(default = "default_max_backoff_ms")]
    pub retry_max_backoff_ms: u64,
    /// Time limit of one attempt (one request, including the transfer of the blob).
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
}

/// Which object store, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum StoreBackend {
    /// A local directory (the embedded default). Created if missing.
    Local {
        /// The directory that holds every bucket.
        root: PathBuf,
    },
    /// Amazon S3 or any S3-compatible server (MinIO, Ceph, R2, GCS in HMAC mode, moto).
    S3 {
        /// The physical bucket; zkfleet's buckets are key prefixes inside it.
        bucket: String,
        /// Base URL of an S3-compatible server; `None` for AWS.
        #[serde(default)]
        endpoint: Option<String>,
        /// The bucket's region (`us-east-1` if omitted; S3-compatible servers mostly ignore
        /// it, but request signing needs one).
        #[serde(default = "default_region")]
        region: String,
        /// Allow a plain-HTTP endpoint (test servers, in-cluster MinIO).
        #[serde(default)]
        allow_http: bool,
        /// Use `https://{bucket}.{endpoint}` instead of path-style `{endpoint}/{bucket}`.
        #[serde(default)]
        virtual_hosted_style: bool,
        /// Where the access key comes from (the environment if omitted).
        #[serde(default)]
        credentials: S3Credentials,
    },
    /// Google Cloud Storage.
    Gcs {
        /// The physical bucket; zkfleet's buckets are key prefixes inside it.
        bucket: String,
        /// A service-account JSON key; `None` uses the application default credentials.
        #[serde(default)]
        service_account_path: Option<PathBuf>,
    },
}

/// Where S3 credentials come from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum S3Credentials {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.
    #[default]
    Environment,
    /// An AWS shared-credentials file (`[profile]` sections of `aws_access_key_id`,
    /// `aws_secret_access_key`, optional `aws_session_token`).
    File {
        /// The credentials file.
        path: PathBuf,
        /// The section to read; `default` if omitted.
        #[serde(default)]
        profile: Option<String>,
    },
}

fn default_max_retries() -> u32 {
    5
}
fn default_initial_backoff_ms() -> u64 {
    1_000
}
fn default_max_backoff_ms() -> u64 {
    30_000
}
fn default_request_timeout_secs() -> u64 {
    300
}
fn default_region() -> String {
    "us-east-1".to_owned()
}

impl StoreConfig {
    /// A local directory with the default retry settings.
    pub fn local(root: impl Into<PathBuf>) -> Self {
        Self::with_backend(StoreBackend::Local { root: root.into() })
    }

    /// The given backend with the default retry settings (5 retries, 1 s doubling to 30 s,
    /// 300 s per request).
    pub fn with_backend(backend: StoreBackend) -> Self {
        Self {
            backend,
            max_retries: default_max_retries(),
            retry_initial_backoff_ms: default_initial_backoff_ms(),
            retry_max_backoff_ms: default_max_backoff_ms(),
            request_timeout_secs: default_request_timeout_secs(),
        }
    }

    /// The retry policy these settings describe (the other knobs at their defaults).
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_retries: self.max_retries,
            initial_backoff: Duration::from_millis(self.retry_initial_backoff_ms),
            max_backoff: Duration::from_millis(self.retry_max_backoff_ms),
            ..RetryPolicy::default()
        }
    }

    /// The time limit of one attempt.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

impl Default for StoreConfig {
    /// `./artifacts`, as ZKsync's file-backed store.
    fn default() -> Self {
        Self::local("artifacts")
    }
}

/// A secret string: usable, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, to hand to the backend's client when the store is opened.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// S3 credentials as read from their source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCredentials {
    /// The access key id (not secret: it names the key, and logs may show it).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// A temporary session token, for short-lived (STS) credentials.
    pub session_token: Option<Secret>,
}

/// Error in the store's configuration, found when opening it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A credential variable the `environment` source needs is unset or empty (it names the
    /// variable).
    #[error("environment variable {0} is not set (S3 credentials source is `environment`)")]
    MissingEnv(&'static str),
    /// The credentials file could not be read.
    #[error("cannot read S3 credentials file {path}: {source}")]
    CredentialsFile {
        /// The file named by the configuration.
        path: PathBuf,
        /// The read error.
        source: std::io::Error,
    },
    /// The credentials file was read but does not hold the profile's keys.
    #[error("S3 credentials file {path}: {reason}")]
    CredentialsFormat {
        /// The file named by the configuration.
        path: PathBuf,
        /// What is wrong: a malformed line, a missing section or key.
        reason: String,
    },
    /// The local backend's root directory could not be created.
    #[error("cannot create the local store directory {path}: {source}")]
    LocalRoot {
        /// The configured root.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `object_store` could not build the backend from these settings.
    #[error("invalid {backend} store configuration: {source}")]
    Backend {
        /// The backend: `local`, `s3` or `gcs`.
        backend: &'static str,
        /// `object_store`'s error.
        source: object_store::Error,
    },
}

impl S3Credentials {
    /// Reads the credentials from their source.
    pub fn load(&self) -> Result<AwsCredentials, ConfigError> {
        match self {
            Self::Environment => {
                let var = |name: &'static str| std::env::var(name).ok().filter(|v| !v.is_empty());
                Ok(AwsCredentials {
                    access_key_id: var("AWS_ACCESS_KEY_ID")
                        .ok_or(ConfigError::MissingEnv("AWS_ACCESS_KEY_ID"))?,
                    secret_access_key: Secret(
                        var("AWS_SECRET_ACCESS_KEY")
                            .ok_or(ConfigError::MissingEnv("AWS_SECRET_ACCESS_KEY"))?,
                    ),
                    session_token: var("AWS_SESSION_TOKEN").map(Secret),
                })
            }
            Self::File { path, profile } => {
                let text = std::fs::read_to_string(path).map_err(|source| {
                    ConfigError::CredentialsFile {
                        path: path.clone(),
                        source,
                    }
                })?;
                parse_credentials_file(path, &text, profile.as_deref().unwrap_or("default"))
            }
        }
    }
}

/// Parses the INI-like AWS shared-credentials format: `[profile]` headers, `key = value` lines,
/// `#`/`;` comments.
fn parse_credentials_file(
    path: &Path,
    text: &str,
    profile: &str,
) -> Result<AwsCredentials, ConfigError> {
    let format_err = |reason: String| ConfigError::CredentialsFormat {
        path: path.to_owned(),
        reason,
    };
    let mut section: Option<&str> = None;
    let mut found_profile = false;
    let (mut key_id, mut secret, mut token) = (None, None, None);
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.trim());
            found_profile |= section == Some(profile);
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format_err(format!("line {}: expected `key = value`", n + 1)))?;
        if section != Some(profile) {
            continue;
        }
        let value = value.trim().to_owned();
        match key.trim() {
            "aws_access_key_id" => key_id = Some(value),
            "aws_secret_access_key" => secret = Some(Secret(value)),
            "aws_session_token" => token = Some(Secret(value)),
            _ => {}
        }
    }
    if !found_profile {
        return Err(format_err(format!("no [{profile}] section")));
    }
    Ok(AwsCredentials {
        access_key_id: key_id
            .ok_or_else(|| format_err(format!("[{profile}] has no aws_access_key_id")))?,
        secret_access_key: secret
            .ok_or_else(|| format_err(format!("[{profile}] has no aws_secret_access_key")))?,
        session_token: token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_a_local_directory() {
        let config: StoreConfig =
            serde_json::from_str(r#"{"backend": "local", "root": "/var/zkfleet"}"#).unwrap();
        assert_eq!(config, StoreConfig::local("/var/zkfleet"));
        assert_eq!(config.max_retries, 5);
        assert_eq!(config.request_timeout(), Duration::from_secs(300));
        assert_eq!(StoreConfig::default(), StoreConfig::local("artifacts"));
    }

    #[test]
    fn parses_s3_and_gcs() {
        let config: StoreConfig = serde_json::from_str(
            r#"{"backend": "s3", "bucket": "b", "endpoint": "http://127.0.0.1:9000",
                "allow_http": true, "max_retries": 2,
                "credentials": {"source": "file", "path": "/etc/creds", "profile": "prover"}}"#,
        )
        .unwrap();
        assert_eq!(
            config.backend,
            StoreBackend::S3 {
                bucket: "b".into(),
                endpoint: Some("http://127.0.0.1:9000".into()),
                region: "us-east-1".into(),
                allow_http: true,
                virtual_hosted_style: false,
                credentials: S3Credentials::File {
                    path: "/etc/creds".into(),
                    profile: Some("prover".into())
                },
            }
        );
        assert_eq!(config.max_retries, 2);
        let round_trip: StoreConfig =
            serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(round_trip, config);

        let config: StoreConfig =
            serde_json::from_str(r#"{"backend": "gcs", "bucket": "g"}"#).unwrap();
        assert_eq!(
            config.backend,
            StoreBackend::Gcs {
                bucket: "g".into(),
                service_account_path: None
            }
        );
        assert!(serde_json::from_str::<StoreConfig>(r#"{"backend": "ftp"}"#).is_err());
        assert!(serde_json::from_str::<StoreConfig>(r#"{"backend": "s3"}"#).is_err());
    }

    #[test]
    fn reads_the_shared_credentials_format_and_hides_secrets() {
        let text = "# comment\n[default]\naws_access_key_id = AKIDEFAULT\n\
                    aws_secret_access_key = s3cr3t-default\n\n[prover]\n\
                    aws_access_key_id=AKIPROVER\naws_secret_access_key=s3cr3t-prover\n\
                    aws_session_token = tok3n\n";
        let path = Path::new("/creds");
        let creds = parse_credentials_file(path, text, "prover").unwrap();
        assert_eq!(creds.access_key_id, "AKIPROVER");
        assert_eq!(creds.secret_access_key.expose(), "s3cr3t-prover");
        assert_eq!(creds.session_token.as_ref().unwrap().expose(), "tok3n");
        let debug = format!("{creds:?}");
        assert!(
            !debug.contains("s3cr3t") && !debug.contains("tok3n"),
            "{debug}"
        );

        let default = parse_credentials_file(path, text, "default").unwrap();
        assert_eq!(default.access_key_id, "AKIDEFAULT");
        assert_eq!(default.session_token, None);

        let err = parse_credentials_file(path, text, "missing").unwrap_err();
        assert!(err.to_string().contains("no [missing] section"), "{err}");
        let err = parse_credentials_file(path, "[default]\naws_access_key_id=x\n", "default")
            .unwrap_err();
        assert!(err.to_string().contains("aws_secret_access_key"), "{err}");
        let err = parse_credentials_file(path, "[default]\ngarbage\n", "default").unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    #[test]
    fn missing_credentials_file_is_named() {
        let err = S3Credentials::File {
            path: "/nonexistent/zkfleet-creds".into(),
            profile: None,
        }
        .load()
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/zkfleet-creds"),
            "{err}"
        );
    }
}
