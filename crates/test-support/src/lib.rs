//! What zkfleet's tests share, in one place: the throwaway job database of a test
//! ([`database`]), test object stores ([`store`]), the small test keystore ([`keys`]), the
//! fixture batches ([`fixtures`]) and round 0 done by hand for the components after the
//! witness generator ([`basic_round`]).
//!
//! Tests talk to real services (docs: "Real parts, not mocks"): a PostgreSQL server named by
//! `ZKFLEET_TEST_DATABASE_URL` and an S3-compatible server named by `ZKFLEET_TEST_S3_ENDPOINT`,
//! both started by `scripts/test`. A test whose service is not configured fails with a message
//! saying how to run it; it never skips.
//!
//! This crate is a dev-dependency only (`publish = false`). Each part is a feature so that a
//! crate's tests build only what they use: `db`, `store`, `keys`, `fixtures`, `basic-round`.

#[cfg(feature = "basic-round")]
pub mod basic_round;
#[cfg(feature = "db")]
pub mod database;
#[cfg(feature = "fixtures")]
pub mod fixtures;
#[cfg(feature = "keys")]
pub mod keys;
#[cfg(feature = "store")]
pub mod store;
