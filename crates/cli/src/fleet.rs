//! The fleet a command talks to: the effective configuration, the job database's URL (a
//! secret, resolved from flag, environment or file) and connections to the database and store.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use zkfleet_dal::Dal;
use zkfleet_store::{Store, StoreBackend, StoreConfig};
use zkfleet_types::ChainId;

use crate::config::{self, FleetConfig, DATABASE_URL_FILE_ENV};
use crate::GlobalArgs;

/// Where the database URL came from (printed by `config show`, never the URL's password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UrlSource {
    Flag,
    Environment(String),
    File(PathBuf),
    /// No URL configured: the embedded SQLite file under the data directory.
    Embedded,
}

impl fmt::Display for UrlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Flag => f.write_str("--database-url"),
            Self::Environment(name) => write!(f, "environment variable {name}"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Embedded => f.write_str("embedded default (data_dir)"),
        }
    }
}

/// The job database's URL. Its `Debug` and `Display` are redacted.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct DatabaseUrl {
    url: String,
    pub(crate) source: UrlSource,
}

impl DatabaseUrl {
    pub(crate) fn expose(&self) -> &str {
        &self.url
    }

    /// The URL without its password (in the authority or as a `password=` parameter).
    pub(crate) fn redacted(&self) -> String {
        let url = zkfleet_dal::redact(&self.url);
        match url.split_once('?') {
            Some((base, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|pair| match pair.split_once('=') {
                        Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                            format!("{key}=***")
                        }
                        _ => pair.to_owned(),
                    })
                    .collect();
                format!("{base}?{}", query.join("&"))
            }
            None => url,
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({} from {})", self.redacted(), self.source)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Why the database URL could not be resolved.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UrlError {
    #[error("cannot read the database URL file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the database URL file {0} is empty")]
    EmptyFile(PathBuf),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Resolves the database URL: flag, then the variable `url_env`, then the URL file
/// (`ZKFLEET_DATABASE_URL_FILE`, else `database.url_file`), then the embedded SQLite file.
pub(crate) fn resolve_database_url(
    flag: Option<&str>,
    config: &FleetConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<DatabaseUrl, UrlError> {
    if let Some(url) = flag.filter(|u| !u.is_empty()) {
        return Ok(DatabaseUrl {
            url: url.to_owned(),
            source: UrlSource::Flag,
        });
    }
    let name = &config.database.url_env;
    if let Some(url) = env(name).filter(|u| !u.trim().is_empty()) {
        return Ok(DatabaseUrl {
            url: url.trim().to_owned(),
            source: UrlSource::Environment(name.clone()),
        });
    }
    let file = env(DATABASE_URL_FILE_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| config.database.url_file.clone());
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path).map_err(|source| UrlError::ReadFile {
            path: path.clone(),
            source,
        })?;
        let url = text.trim();
        if url.is_empty() {
            return Err(UrlError::EmptyFile(path));
        }
        return Ok(DatabaseUrl {
            url: url.to_owned(),
            source: UrlSource::File(path),
        });
    }
    Ok(DatabaseUrl {
        url: format!(
            "sqlite://{}",
            embedded_database_path(&config.data_dir).display()
        ),
        source: UrlSource::Embedded,
    })
}

/// The embedded default's SQLite file.
pub(crate) fn embedded_database_path(data_dir: &Path) -> PathBuf {
    data_dir.join("zkfleet.sqlite")
}

/// Everything a command needs to reach the fleet.
pub(crate) struct Fleet {
    pub(crate) config: FleetConfig,
    pub(crate) database_url: DatabaseUrl,
}

impl Fleet {
    /// Loads the configuration from file and process environment, applies the flags and
    /// resolves the database URL.
    pub(crate) fn load(global: &GlobalArgs) -> anyhow::Result<Self> {
        let mut config = config::load(global.config.as_deref(), std::env::vars())?;
        if let Some(chain_id) = global.chain_id {
            config.chain_id = ChainId(chain_id);
        }
        if let Some(data_dir) = &global.data_dir {
            config.data_dir = data_dir.clone();
        }
        let env = |name: &str| std::env::var(name).ok();
        let database_url = resolve_database_url(global.database_url.as_deref(), &config, &env)?;
        Ok(Self {
            config,
            database_url,
        })
    }

    pub(crate) fn chain_id(&self) -> ChainId {
        self.config.chain_id
    }

    /// Connects to the job database (applying pending migrations: the embedded default must
    /// work on a fresh data directory).
    pub(crate) async fn dal(&self) -> anyhow::Result<Dal> {
        if self.database_url.source == UrlSource::Embedded {
            std::fs::create_dir_all(&self.config.data_dir).map_err(|source| UrlError::DataDir {
                path: self.config.data_dir.clone(),
                source,
            })?;
        }
        let mut options = self.config.database.pool_options();
        options.listen_url = std::env::var(crate::config::DATABASE_LISTEN_URL_ENV)
            .ok()
            .map(|url| url.trim().to_owned())
            .filter(|url| !url.is_empty());
        Dal::connect_with(self.database_url.expose(), &options)
            .await
            .with_context(|| {
                format!(
                    "connecting to the job database at {} (from {})",
                    self.database_url, self.database_url.source
                )
            })
    }

    pub(crate) fn store_config(&self) -> StoreConfig {
        self.config.effective_store()
    }

    pub(crate) fn store(&self) -> anyhow::Result<Store> {
        let config = self.store_config();
        Store::open(&config)
            .with_context(|| format!("opening the object store ({})", describe_store(&config)))
    }
}

/// One line naming a store, without credentials.
pub(crate) fn describe_store(config: &StoreConfig) -> String {
    match &config.backend {
        StoreBackend::Local { root } => format!("local directory {}", root.display()),
        StoreBackend::S3 {
            bucket, endpoint, ..
        } => match endpoint {
            Some(endpoint) => format!("S3 bucket {bucket} at {endpoint}"),
            None => format!("S3 bucket {bucket}"),
        },
        StoreBackend::Gcs { bucket, .. } => format!("GCS bucket {bucket}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn flag_then_env_then_file_then_embedded() {
        let config = FleetConfig::default();
        let url = resolve_database_url(
            Some("postgres://u:pw@h/db"),
            &config,
            &env_of(&[("ZKFLEET_DATABASE_URL", "postgres://e@h/db")]),
        )
        .unwrap();
        assert_eq!(url.source, UrlSource::Flag);

        let url = resolve_database_url(
            None,
            &config,
            &env_of(&[("ZKFLEET_DATABASE_URL", "postgres://e:secret@h/db")]),
        )
        .unwrap();
        assert_eq!(url.expose(), "postgres://e:secret@h/db");
        assert_eq!(url.redacted(), "postgres://e:***@h/db");
        assert!(!format!("{url:?}").contains("secret"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("url");
        std::fs::write(
            &file,
            "postgres://f:secret@h/db?password=x&sslmode=require\n",
        )
        .unwrap();
        let config = FleetConfig {
            database: crate::config::DatabaseConfig {
                url_file: Some(file.clone()),
                ..Default::default()
            },
            ..FleetConfig::default()
        };
        let url = resolve_database_url(None, &config, &env_of(&[])).unwrap();
        assert_eq!(url.source, UrlSource::File(file));
        assert_eq!(
            url.redacted(),
            "postgres://f:***@h/db?password=***&sslmode=require"
        );

        let url = resolve_database_url(None, &FleetConfig::default(), &env_of(&[])).unwrap();
        assert_eq!(url.source, UrlSource::Embedded);
        assert_eq!(url.expose(), "sqlite://.zkfleet/zkfleet.sqlite");

        let err = resolve_database_url(
            None,
            &FleetConfig::default(),
            &env_of(&[("ZKFLEET_DATABASE_URL_FILE", "/nonexistent/zkfleet-url")]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/zkfleet-url"),
            "{err}"
        );
    }
}
