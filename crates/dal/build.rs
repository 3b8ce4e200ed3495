//! Rebuilds the crate when a migration is added, changed or removed: `sqlx::migrate!` embeds
//! `migrations/` at compile time but does not tell cargo on stable Rust, so without this an
//! incremental build keeps the migrations it first saw (a new migration file missing from the
//! binary until some source file of the crate changes).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
