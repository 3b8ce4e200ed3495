//! Measure state-tree updates per second, in memory and on disk (redb).
//!
//! `cargo run --release -p zkfleet-rollup --example state_throughput -- [ACCOUNTS]` (default
//! 20,000): writes ACCOUNTS accounts at scattered ids, committing every 1,000 (a batch), then
//! reads a membership proof of each.

// An example links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::time::Instant;

use plonky2::field::types::Field;
use plonky2::hash::hash_types::HashOut;
use zkfleet_rollup::spec::F;
use zkfleet_rollup::state::{Account, DiskState, MemoryState, StateTree};

fn run(
    name: &str,
    state: &mut dyn StateTree,
    accounts: u32,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    for i in 0..accounts {
        let account = Account {
            public_key: HashOut {
                elements: [F::from_canonical_u32(i), F::ONE, F::ONE, F::ONE],
            },
            balance: u64::from(i),
            nonce: 0,
        };
        state.set_account(i.wrapping_mul(2_654_435_761), account)?;
        if i % 1_000 == 999 {
            state.commit()?;
        }
    }
    state.commit()?;
    let write = started.elapsed();
    let started = Instant::now();
    for i in 0..accounts {
        state.membership_proof(i.wrapping_mul(2_654_435_761))?;
    }
    let read = started.elapsed();
    println!(
        "{name}: {accounts} updates in {write:.2?} ({:.0}/s), {accounts} proofs in {read:.2?} ({:.0}/s)",
        f64::from(accounts) / write.as_secs_f64(),
        f64::from(accounts) / read.as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let accounts = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 20_000,
    };
    run("memory", &mut MemoryState::new(), accounts)?;
    let dir = std::env::temp_dir().join(format!("zkfleet-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run(
        "disk",
        &mut DiskState::open(&dir.join("state.redb"))?,
        accounts,
    );
    std::fs::remove_dir_all(&dir)?;
    result
}
