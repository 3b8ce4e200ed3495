//! Measures basic witness generation of one generated batch on the embedded setup (SQLite file
//! and local directory in a temporary directory).
//!
//! `cargo run -p zkfleet-witness-generator --example basic_witness -- [operations] [tree_height]
//! [max_circuits_in_flight]` (defaults 1024, 4, 64). Prints the job's time, the circuits
//! written, the bytes stored and the process's peak resident memory.

// An example links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

use std::time::{Duration, Instant};

use chrono::Utc;
use zkfleet_circuits::BasicGeometry;
use zkfleet_dal::{Dal, NewBatch};
use zkfleet_rollup::generate::{generate, GeneratorConfig};
use zkfleet_runner::CancellationToken;
use zkfleet_store::{ObjectKey, Store, StoreConfig, WitnessInputBytes};
use zkfleet_types::{
    BatchNumber, ChainId, HashDigest, JobStatus, ProtocolSemanticVersion, ProtocolVersion, VkDigest,
};
use zkfleet_witness_generator::{run, BatchWitnessInput, WitnessGeneratorConfig};

fn arg(index: usize, default: usize) -> usize {
    std::env::args()
        .nth(index)
        .map(|a| {
            a.parse()
                .unwrap_or_else(|_| panic!("argument {index} must be a number, got {a:?}"))
        })
        .unwrap_or(default)
}

/// Peak resident set size of this process, from /proc (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() {
    let operations = arg(1, 1024);
    let tree_height = arg(2, 4);
    let max_circuits_in_flight = arg(3, 64);
    let dir = tempfile::tempdir().expect("temporary directory");
    let dal = Dal::connect(&format!(
        "sqlite://{}",
        dir.path().join("zkfleet.db").display()
    ))
    .await
    .expect("database");
    let store = Store::open(&StoreConfig::local(dir.path().join("artifacts"))).expect("store");
    let version = ProtocolSemanticVersion::new(1, 0);
    dal.insert_protocol_version(&ProtocolVersion {
        version,
        recursion_tree_vk_digest: VkDigest(HashDigest::ZERO),
        final_vk_digest: VkDigest(HashDigest::ZERO),
    })
    .await
    .expect("protocol version");

    let started = Instant::now();
    let generated = generate(&GeneratorConfig {
        accounts: 32,
        operations,
        seed: 7,
        tree_height,
        chain_id: ChainId(270),
        batch_number: BatchNumber(1),
        invalid: None,
    })
    .expect("generate");
    println!(
        "generated {operations} operations (tree height {tree_height}) in {:.2?}",
        started.elapsed()
    );
    let id = generated.batch.id();
    let input = BatchWitnessInput::from_genesis(&generated.batch, &generated.genesis)
        .expect("input")
        .encode()
        .expect("encode");
    let input_size = input.len();
    let key = ObjectKey::WitnessInput {
        chain: id.chain_id,
        batch: id.batch_number,
    };
    let path = store
        .put(&key, &WitnessInputBytes::new(input))
        .await
        .expect("store input");
    dal.insert_batch(&NewBatch {
        batch: id,
        protocol_version: version,
        witness_input_blob_key: path,
        priority: 0,
        batch_sealed_at: Utc::now(),
    })
    .await
    .expect("insert batch");

    let config = WitnessGeneratorConfig {
        max_circuits_in_flight,
        geometry: BasicGeometry {
            xmss_height: tree_height as u32,
            ..BasicGeometry::default()
        },
        idle_backoff_initial_ms: 10,
        idle_backoff_max_ms: 50,
        ..WitnessGeneratorConfig::default()
    };
    let cancel = CancellationToken::new();
    let handle = tokio::spawn(run(dal.clone(), store.clone(), config, cancel.clone()));
    let job = loop {
        let status = dal.batch_status(id).await.expect("status");
        let job = status.witness_input.expect("witness job");
        if !matches!(job.status, JobStatus::Queued | JobStatus::InProgress) {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    cancel.cancel();
    handle.await.expect("task").expect("run");
    assert_eq!(job.status, JobStatus::Successful, "{:?}", job.error);

    let blobs = store.list("").await.expect("list");
    let circuits: Vec<_> = blobs
        .iter()
        .filter(|b| matches!(b.key, Some(ObjectKey::CircuitWitness { .. })))
        .collect();
    let circuit_bytes: u64 = circuits.iter().map(|b| b.size).sum();
    println!(
        "witness input {input_size} bytes; job time {:.2?}; {} circuits, {:.1} KiB of circuit \
         blobs; {} blobs in all; peak RSS {:.1} MiB",
        job.time_taken.unwrap_or_default(),
        circuits.len(),
        circuit_bytes as f64 / 1024.0,
        blobs.len(),
        peak_rss_mib().unwrap_or(f64::NAN),
    );
}
