//! The object store: buckets, deterministic keys, a versioned codec and retries.
