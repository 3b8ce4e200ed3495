//! Measure key generation, signing and verification.
//!
//! `cargo run --release -p zkfleet-rollup --example keygen -- [HEIGHT]` (default 10). Key
//! generation runs twice: on one thread, then on rayon's default pool (all cores).

// An example links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::time::Instant;

use zkfleet_rollup::signature::{verify, XmssKeyPair};
use zkfleet_rollup::spec::{tx_message_digest, TxMessage, DEFAULT_XMSS_HEIGHT, KIND_TRANSFER};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let height = match std::env::args().nth(1) {
        Some(h) => h.parse()?,
        None => DEFAULT_XMSS_HEIGHT,
    };
    let keys = 1u64 << height;
    // Per one-time key: 133 chain starts, 399 chain steps, ceil(534 / 8) = 67 for its public key;
    // plus one per tree node.
    let permutations = keys * (133 + 399 + 67) + (keys - 1);
    println!("height {height}: {keys} one-time keys, {permutations} Poseidon permutations");

    let single = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let started = Instant::now();
    let one = single.install(|| XmssKeyPair::generate([1; 32], height))?;
    let t1 = started.elapsed();
    println!(
        "keygen, 1 thread:  {t1:.2?} ({:.2} µs per permutation)",
        t1.as_secs_f64() * 1e6 / permutations as f64
    );

    let started = Instant::now();
    let mut pair = XmssKeyPair::generate([1; 32], height)?;
    let tn = started.elapsed();
    println!(
        "keygen, {} threads: {tn:.2?} (speed-up {:.2}x)",
        rayon::current_num_threads(),
        t1.as_secs_f64() / tn.as_secs_f64()
    );
    assert_eq!(one.public_key(), pair.public_key());

    let message = tx_message_digest(&TxMessage {
        kind: KIND_TRANSFER,
        chain_id: 270,
        from: 1,
        to: 2,
        amount: 1_000,
        fee: 1,
        nonce: 0,
        l1_recipient: [0; 20],
    });
    let started = Instant::now();
    let signature = pair.sign(0, message)?;
    println!("sign:   {:.2?}", started.elapsed());
    let started = Instant::now();
    verify(pair.public_key_digest(), message, &signature)?;
    println!("verify: {:.2?}", started.elapsed());
    Ok(())
}
