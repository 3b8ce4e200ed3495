//! The retry policy, checked with a fault-injecting wrapper around a real local-directory
//! backend: the wrapper fails chosen calls the way a network or a server does, then lets them
//! through to the directory.

// An integration test links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use zkfleet_store::{ObjectKey, ProofBytes, RetryPolicy, Store, StoreError};
use zkfleet_types::{ids::ProverJobId, ChainId};

/// The fault to inject into the next calls.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// A dropped connection (transient).
    ConnectionReset,
    /// Access refused (permanent).
    PermissionDenied,
    /// No answer for this long (longer than the request timeout).
    Hang(Duration),
}

/// Fails the next `remaining` put/get/head/delete calls with `fault`, then delegates.
#[derive(Debug)]
struct FaultyStore {
    inner: LocalFileSystem,
    fault: Mutex<(Fault, u32)>,
    calls: AtomicU32,
}

impl FaultyStore {
    fn new(root: &std::path::Path) -> Arc<Self> {
        Arc::new(Self {
            inner: LocalFileSystem::new_with_prefix(root).expect("local store"),
            fault: Mutex::new((Fault::ConnectionReset, 0)),
            calls: AtomicU32::new(0),
        })
    }

    fn fail_next(&self, fault: Fault, times: u32) {
        *self.fault.lock().expect("lock") = (fault, times);
        self.calls.store(0, Ordering::SeqCst);
    }

    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn inject(&self, location: &Path) -> object_store::Result<()> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let fault = {
            let mut state = self.fault.lock().expect("lock");
            if state.1 == 0 {
                return Ok(());
            }
            state.1 -= 1;
            state.0
        };
        match fault {
            Fault::ConnectionReset => Err(object_store::Error::Generic {
                store: "faulty",
                source: Box::new(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "connection reset by peer",
                )),
            }),
            Fault::PermissionDenied => Err(object_store::Error::PermissionDenied {
                path: location.to_string(),
                source: Box::new(io::Error::from(io::ErrorKind::PermissionDenied)),
            }),
            Fault::Hang(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        }
    }
}

impl fmt::Display for FaultyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FaultyStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inject(location).await?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inject(location).await?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inject(location).await?;
        self.inner.get_opts(location, options).await
    }

    async fn delete(&self, location: &Path) -> object_store::Result<()> {
        self.inject(location).await?;
        self.inner.delete(location).await
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy(from, to).await
    }

    async fn copy_if_not_exists(&self, from: &Path, to: &Path) -> object_store::Result<()> {
        self.inner.copy_if_not_exists(from, to).await
    }
}

fn setup(max_retries: u32) -> (tempfile::TempDir, Arc<FaultyStore>, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let faulty = FaultyStore::new(dir.path());
    let policy = RetryPolicy {
        max_retries,
        initial_backoff: Duration::from_millis(2),
        max_backoff: Duration::from_millis(20),
        jitter: 0.2,
    };
    let store = Store::new(faulty.clone(), policy, Duration::from_millis(500));
    (dir, faulty, store)
}

fn key() -> ObjectKey {
    ObjectKey::Proof {
        chain: ChainId(270),
        job: ProverJobId(1),
    }
}

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let (_dir, faulty, store) = setup(3);
    let proof = ProofBytes::new(vec![5u8; 1024]);
    faulty.fail_next(Fault::ConnectionReset, 2);
    store
        .put(&key(), &proof)
        .await
        .expect("succeeds on the third attempt");
    assert_eq!(faulty.calls(), 3);

    faulty.fail_next(Fault::ConnectionReset, 3);
    let back: ProofBytes = store
        .get(&key())
        .await
        .expect("succeeds on the fourth attempt");
    assert_eq!(back, proof);
    assert_eq!(faulty.calls(), 4);
}

#[tokio::test]
async fn retries_run_out() {
    let (_dir, faulty, store) = setup(2);
    faulty.fail_next(Fault::ConnectionReset, 10);
    match store.put(&key(), &ProofBytes::new(vec![1])).await {
        Err(StoreError::Backend {
            attempts,
            transient,
            ..
        }) => {
            assert_eq!(attempts, 3);
            assert!(transient);
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert_eq!(faulty.calls(), 3, "1 attempt + max_retries");
}

#[tokio::test]
async fn not_found_is_not_retried() {
    let (_dir, faulty, store) = setup(5);
    faulty.fail_next(Fault::ConnectionReset, 0);
    let err = store.get::<ProofBytes>(&key()).await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(faulty.calls(), 1);
    // exists() answers false from one request too.
    faulty.fail_next(Fault::ConnectionReset, 0);
    assert!(!store.exists(&key()).await.expect("exists"));
    assert_eq!(faulty.calls(), 1);
}

#[tokio::test]
async fn permission_denied_is_not_retried() {
    let (_dir, faulty, store) = setup(5);
    faulty.fail_next(Fault::PermissionDenied, 10);
    match store.put(&key(), &ProofBytes::new(vec![1])).await {
        Err(StoreError::Backend {
            attempts,
            transient,
            ..
        }) => {
            assert_eq!(attempts, 1);
            assert!(!transient);
        }
        other => panic!("expected a backend error, got {other:?}"),
    }
    assert_eq!(faulty.calls(), 1);
}

#[tokio::test]
async fn corrupt_blobs_are_not_retried() {
    let (_dir, faulty, store) = setup(5);
    store
        .put_raw(&key(), Bytes::from_static(b"ZKFL garbage"))
        .await
        .expect("put_raw");
    faulty.fail_next(Fault::ConnectionReset, 0);
    let err = store.get::<ProofBytes>(&key()).await.unwrap_err();
    assert!(err.is_corrupt(), "{err}");
    assert_eq!(faulty.calls(), 1, "a corrupt blob is read once");
}

#[tokio::test]
async fn a_hung_request_times_out_and_is_retried() {
    let (_dir, faulty, store) = setup(2);
    faulty.fail_next(Fault::Hang(Duration::from_secs(5)), 1);
    let started = std::time::Instant::now();
    store
        .put(&key(), &ProofBytes::new(vec![3u8; 10]))
        .await
        .expect("the second attempt goes through");
    assert_eq!(faulty.calls(), 2);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(5),
        "one request timeout (500 ms) then success, took {elapsed:?}"
    );
}

/// The metrics of a run with retries, a corrupt read and a not-found, read from an in-memory
/// recorder installed for this thread (a current-thread runtime keeps every emission here).
#[test]
fn metrics_count_bytes_retries_and_errors() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let blob_len = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(async {
            let (_dir, faulty, store) = setup(3);
            faulty.fail_next(Fault::ConnectionReset, 2);
            store
                .put(&key(), &ProofBytes::new(vec![7u8; 1000]))
                .await
                .expect("put");
            let blob = store.get_raw(&key()).await.expect("get_raw");
            store
                .put_raw(&key(), Bytes::from_static(b"not an envelope"))
                .await
                .expect("put_raw");
            assert!(store
                .get::<ProofBytes>(&key())
                .await
                .unwrap_err()
                .is_corrupt());
            store.delete(&key()).await.expect("delete");
            assert!(store.get_raw(&key()).await.unwrap_err().is_not_found());
            blob.len() as u64
        })
    });

    let mut counters = std::collections::BTreeMap::new();
    let mut histogram_samples = std::collections::BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let id = format!("{}{{{}}}", key.name(), labels.join(","));
        match value {
            DebugValue::Counter(n) => {
                counters.insert(id, n);
            }
            DebugValue::Histogram(samples) => {
                histogram_samples.insert(id, samples.len());
            }
            DebugValue::Gauge(_) => {}
        }
    }
    let counter = |id: &str| counters.get(id).copied().unwrap_or(0);
    assert_eq!(
        counter("zkfleet_store_retries_total{bucket=proofs,op=put}"),
        2
    );
    assert_eq!(
        counter("zkfleet_store_bytes_total{bucket=proofs,op=put}"),
        blob_len + 15,
        "the envelope and the 15-byte raw blob"
    );
    assert_eq!(
        counter("zkfleet_store_bytes_total{bucket=proofs,op=get}"),
        blob_len + 15
    );
    assert_eq!(
        counter("zkfleet_store_errors_total{bucket=proofs,error=corrupt,op=get}"),
        1
    );
    assert_eq!(
        counter("zkfleet_store_errors_total{bucket=proofs,error=backend,op=get}"),
        0,
        "not-found is not a backend error"
    );
    // put, put_raw: one latency sample each (the retries are inside the first).
    assert_eq!(
        histogram_samples.get("zkfleet_store_request_seconds{bucket=proofs,op=put}"),
        Some(&2)
    );
    assert_eq!(
        histogram_samples.get("zkfleet_store_request_seconds{bucket=proofs,op=delete}"),
        Some(&1)
    );
}
