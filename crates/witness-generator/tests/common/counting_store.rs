//! A real local-directory object store that measures how many circuit uploads run at once.
//! Each circuit `put` is held for a few milliseconds so that uploads allowed to overlap do.

use std::fmt;
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// How long each circuit upload is held open.
const UPLOAD_HOLD: Duration = Duration::from_millis(15);

#[derive(Debug)]
pub(crate) struct CountingStore {
    inner: LocalFileSystem,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    circuit_puts: AtomicUsize,
}

impl CountingStore {
    pub(crate) fn new(root: &FsPath) -> Arc<Self> {
        Arc::new(Self {
            inner: LocalFileSystem::new_with_prefix(root).expect("local store"),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            circuit_puts: AtomicUsize::new(0),
        })
    }

    /// Most circuit uploads seen running at the same time.
    pub(crate) fn max_concurrent_circuit_puts(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Circuit uploads so far.
    pub(crate) fn circuit_puts(&self) -> usize {
        self.circuit_puts.load(Ordering::SeqCst)
    }

    pub(crate) fn reset(&self) {
        self.max_in_flight.store(0, Ordering::SeqCst);
        self.circuit_puts.store(0, Ordering::SeqCst);
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingStore({})", self.inner)
    }
}

/// Decrements the in-flight count when an upload ends, however it ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if location.as_ref().starts_with("prover_jobs/") {
            self.circuit_puts.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            let _guard = InFlight(&self.in_flight);
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(UPLOAD_HOLD).await;
            return self.inner.put_opts(location, payload, opts).await;
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn delete(&self, location: &Path) -> object_store::Result<()> {
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
