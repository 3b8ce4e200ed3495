//! The store: typed and raw blob operations over one object_store backend, with retries,
//! per-attempt timeouts and metrics.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use tracing::{debug, warn};

use crate::bucket::Bucket;
use crate::codec::{self, DecodeError};
use crate::config::{ConfigError, StoreBackend, StoreConfig};
use crate::error::{BackendFailure, Operation, StoreError};
use crate::key::ObjectKey;
use crate::object::StoredObject;
use crate::retry::{is_transient, RetryPolicy};

/// Metric names (see docs/store-and-runner.md).
pub mod metric_names {
    /// Counter: bytes moved, labelled `bucket`, `op` (`put` written, `get` read).
    pub const BYTES: &str = "zkfleet_store_bytes_total";
    /// Histogram: seconds per operation including retries and backoff, labelled `bucket`, `op`.
    pub const REQUEST_SECONDS: &str = "zkfleet_store_request_seconds";
    /// Counter: retries after a transient failure, labelled `bucket`, `op`.
    pub const RETRIES: &str = "zkfleet_store_retries_total";
    /// Counter: operations that failed (not-found excluded), labelled `bucket`, `op`, `error`
    /// (`backend`, `corrupt`).
    pub const ERRORS: &str = "zkfleet_store_errors_total";
}

/// Registers the store's counters at 0 for every bucket and operation, so that `rate()` and
/// alerts over bytes, retries and errors have a series from a process's first scrape instead
/// of "no data" until the first retry or failure (a missing series is not a zero to
/// Prometheus). Request times are summaries and appear with each bucket's first request: an
/// empty summary per bucket and operation would be forty series of nothing. Idempotent;
/// without an installed recorder it does nothing.
pub fn register_metrics() {
    const OPERATIONS: [Operation; 5] = [
        Operation::Put,
        Operation::Get,
        Operation::Exists,
        Operation::Delete,
        Operation::List,
    ];
    for bucket in Bucket::ALL {
        let bucket = bucket.as_str();
        for op in [Operation::Put, Operation::Get] {
            metrics::counter!(metric_names::BYTES, "bucket" => bucket, "op" => op.as_str())
                .increment(0);
        }
        for op in OPERATIONS {
            let op = op.as_str();
            metrics::counter!(metric_names::RETRIES, "bucket" => bucket, "op" => op).increment(0);
            metrics::counter!(metric_names::ERRORS, "bucket" => bucket, "op" => op, "error" => "backend")
                .increment(0);
        }
        // Only a read can find a corrupt blob.
        metrics::counter!(metric_names::ERRORS, "bucket" => bucket, "op" => "get", "error" => "corrupt")
            .increment(0);
    }
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedObject {
    /// The path inside the store.
    pub path: String,
    /// The key the path names, if it is a zkfleet key.
    pub key: Option<ObjectKey>,
    /// The stored object's size in bytes.
    pub size: u64,
}

/// The object store of the fleet. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn ObjectStore>,
    retry: RetryPolicy,
    request_timeout: Duration,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The backend's Display names the store and bucket; its Debug may carry credentials.
        f.debug_struct("Store")
            .field("backend", &self.backend.to_string())
            .field("retry", &self.retry)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

impl Store {
    /// Opens the store a configuration describes (creating the local directory if needed).
    pub fn open(config: &StoreConfig) -> Result<Self, StoreError> {
        let timeout = config.request_timeout();
        let backend = build_backend(&config.backend, timeout)?;
        Ok(Self::new(backend, config.retry_policy(), timeout))
    }

    /// A store over any object_store backend (tests use this to inject faults).
    pub fn new(
        backend: Arc<dyn ObjectStore>,
        retry: RetryPolicy,
        request_timeout: Duration,
    ) -> Self {
        Self {
            backend,
            retry,
            request_timeout,
        }
    }

    /// Stores `value` under `key`, overwriting what is there; returns the path written (what
    /// job tables record as the blob's location).
    pub async fn put<T: StoredObject>(
        &self,
        key: &ObjectKey,
        value: &T,
    ) -> Result<String, StoreError> {
        check_kind::<T>(key)?;
        let payload = value
            .encode_payload()
            .map_err(|source| StoreError::Encode {
                key: key.path(),
                source,
            })?;
        let blob = codec::encode(T::KIND, T::PAYLOAD_VERSION, &payload);
        drop(payload);
        self.put_raw(key, Bytes::from(blob)).await?;
        Ok(key.path())
    }

    /// Reads the object under `key`.
    pub async fn get<T: StoredObject>(&self, key: &ObjectKey) -> Result<T, StoreError> {
        check_kind::<T>(key)?;
        let blob = self.get_raw(key).await?;
        let corrupt = |reason: DecodeError| {
            metrics::counter!(metric_names::ERRORS, "bucket" => key.bucket().as_str(), "op" => "get", "error" => "corrupt")
                .increment(1);
            StoreError::Corrupt {
                key: key.path(),
                reason,
            }
        };
        let envelope = codec::decode(&blob, T::KIND).map_err(corrupt)?;
        if !T::supports_payload_version(envelope.payload_version) {
            return Err(corrupt(DecodeError::UnsupportedPayloadVersion {
                kind: T::KIND,
                found: envelope.payload_version,
                supported: T::PAYLOAD_VERSION,
            }));
        }
        T::decode_payload(envelope.payload_version, envelope.payload).map_err(corrupt)
    }

    /// Writes bytes under `key` exactly as given, without an envelope. For tools and tests;
    /// components use [`Store::put`].
    pub async fn put_raw(&self, key: &ObjectKey, blob: Bytes) -> Result<(), StoreError> {
        let path = Path::from(key.path());
        let bucket = key.bucket().as_str();
        let len = blob.len() as u64;
        self.run(Operation::Put, bucket, &key.path(), || {
            let payload = PutPayload::from_bytes(blob.clone());
            let path = &path;
            async move { self.backend.put(path, payload).await.map(|_| ()) }
        })
        .await?;
        metrics::counter!(metric_names::BYTES, "bucket" => bucket, "op" => "put").increment(len);
        debug!(key = %key, bytes = len, "stored object");
        Ok(())
    }

    /// Reads the bytes under `key` as stored, envelope included (`zkfleet file-info` reads
    /// blobs this way and inspects them with [`codec::inspect`]).
    pub async fn get_raw(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        let path = Path::from(key.path());
        let bucket = key.bucket().as_str();
        let blob = self
            .run(Operation::Get, bucket, &key.path(), || async {
                // The body is read inside the attempt: a connection dropped mid-transfer is
                // retried like a failed request.
                self.backend.get(&path).await?.bytes().await
            })
            .await?;
        metrics::counter!(metric_names::BYTES, "bucket" => bucket, "op" => "get")
            .increment(blob.len() as u64);
        Ok(blob)
    }

    /// Whether a blob is stored under `key`.
    pub async fn exists(&self, key: &ObjectKey) -> Result<bool, StoreError> {
        let path = Path::from(key.path());
        match self
            .run(
                Operation::Exists,
                key.bucket().as_str(),
                &key.path(),
                || self.backend.head(&path),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes the blob under `key`; deleting a missing blob succeeds.
    pub async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let path = Path::from(key.path());
        match self
            .run(
                Operation::Delete,
                key.bucket().as_str(),
                &key.path(),
                || self.backend.delete(&path),
            )
            .await
        {
            Ok(()) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every blob whose path starts with the segments of `prefix` (e.g. `"proofs/270"` or
    /// `"prover_jobs/270/42/"`; matching is by whole segments, so `…/4` does not list `…/42`),
    /// sorted by path.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, StoreError> {
        let trimmed = prefix.trim_matches('/');
        let path = Path::parse(trimmed).map_err(|source| StoreError::InvalidPrefix {
            prefix: prefix.to_owned(),
            source,
        })?;
        let bucket = trimmed
            .split('/')
            .next()
            .and_then(|b| b.parse::<Bucket>().ok())
            .map_or("all", Bucket::as_str);
        let listed = self
            .run(Operation::List, bucket, prefix, || {
                let prefix = (!trimmed.is_empty()).then_some(&path);
                self.backend.list(prefix).try_collect::<Vec<_>>()
            })
            .await;
        let metas = match listed {
            Ok(metas) => metas,
            // A local directory that was never written to lists as not found.
            Err(StoreError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut objects: Vec<ListedObject> = metas
            .into_iter()
            .map(|meta| {
                let path = meta.location.to_string();
                ListedObject {
                    key: ObjectKey::parse(&path).ok(),
                    path,
                    size: meta.size,
                }
            })
            .collect();
        objects.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(objects)
    }

    /// Runs one backend operation with a timeout per attempt and retries on transient failures.
    async fn run<T, F, Fut>(
        &self,
        op: Operation,
        bucket: &'static str,
        key: &str,
        mut attempt_once: F,
    ) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, object_store::Error>>,
    {
        let started = Instant::now();
        let mut attempts = 0u32;
        let result = loop {
            attempts += 1;
            let (failure, transient) =
                match tokio::time::timeout(self.request_timeout, attempt_once()).await {
                    Ok(Ok(value)) => break Ok(value),
                    Ok(Err(object_store::Error::NotFound { .. })) => {
                        break Err(StoreError::NotFound {
                            key: key.to_owned(),
                        })
                    }
                    Ok(Err(e)) => {
                        let transient = is_transient(&e);
                        (BackendFailure::ObjectStore(e), transient)
                    }
                    Err(_elapsed) => (BackendFailure::TimedOut(self.request_timeout), true),
                };
            if transient && attempts <= self.retry.max_retries {
                let delay = self.retry.delay(attempts - 1);
                metrics::counter!(metric_names::RETRIES, "bucket" => bucket, "op" => op.as_str())
                    .increment(1);
                warn!(%op, key, attempt = attempts, ?delay, error = %failure, "transient object store failure, retrying");
                tokio::time::sleep(delay).await;
                continue;
            }
            metrics::counter!(metric_names::ERRORS, "bucket" => bucket, "op" => op.as_str(), "error" => "backend")
                .increment(1);
            break Err(StoreError::Backend {
                op,
                key: key.to_owned(),
                attempts,
                transient,
                source: failure,
            });
        };
        metrics::histogram!(metric_names::REQUEST_SECONDS, "bucket" => bucket, "op" => op.as_str())
            .record(started.elapsed().as_secs_f64());
        result
    }
}

fn check_kind<T: StoredObject>(key: &ObjectKey) -> Result<(), StoreError> {
    if key.kind() == T::KIND {
        Ok(())
    } else {
        Err(StoreError::KindMismatch {
            key: key.path(),
            key_kind: key.kind(),
            requested: T::KIND,
        })
    }
}

/// object_store's own retry loop is switched off: the store's policy is the only one (see
/// `retry`), so that attempts are not multiplied and every retry is counted.
fn no_client_retries() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 0,
        ..Default::default()
    }
}

fn build_backend(
    backend: &StoreBackend,
    request_timeout: Duration,
) -> Result<Arc<dyn ObjectStore>, ConfigError> {
    let client_options = object_store::ClientOptions::new().with_timeout(request_timeout);
    match backend {
        StoreBackend::Local { root } => {
            std::fs::create_dir_all(root).map_err(|source| ConfigError::LocalRoot {
                path: root.clone(),
                source,
            })?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(root)
                .map_err(|source| ConfigError::Backend {
                    backend: "local",
                    source,
                })?
                // Remove directories emptied by deletes, so collected batches leave no trace.
                .with_automatic_cleanup(true);
            Ok(Arc::new(store))
        }
        StoreBackend::S3 {
            bucket,
            endpoint,
            region,
            allow_http,
            virtual_hosted_style,
            credentials,
        } => {
            let creds = credentials.load()?;
            // allow_http lives in the client options: set it there, not on the builder,
            // where `with_client_options` would overwrite it.
            let mut builder = object_store::aws::AmazonS3Builder::new()
                .with_client_options(client_options.with_allow_http(*allow_http))
                .with_bucket_name(bucket)
                .with_region(region)
                .with_virtual_hosted_style_request(*virtual_hosted_style)
                .with_access_key_id(creds.access_key_id)
                .with_secret_access_key(creds.secret_access_key.expose())
                .with_retry(no_client_retries());
            if let Some(token) = &creds.session_token {
                builder = builder.with_token(token.expose());
            }
            if let Some(endpoint) = endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            let store = builder.build().map_err(|source| ConfigError::Backend {
                backend: "s3",
                source,
            })?;
            Ok(Arc::new(store))
        }
        StoreBackend::Gcs {
            bucket,
            service_account_path,
        } => {
            let mut builder = object_store::gcp::GoogleCloudStorageBuilder::new()
                .with_client_options(client_options)
                .with_bucket_name(bucket)
                .with_retry(no_client_retries());
            if let Some(path) = service_account_path {
                builder = builder.with_service_account_path(path.to_string_lossy());
            }
            let store = builder.build().map_err(|source| ConfigError::Backend {
                backend: "gcs",
                source,
            })?;
            Ok(Arc::new(store))
        }
    }
}
