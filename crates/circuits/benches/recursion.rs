//! Recursion benchmark: cost per aggregated child at several arities, the layers of a toy
//! 256-item batch, and the compression chain.
//!
//! ```text
//! cargo bench -p zkfleet-circuits --bench recursion
//! ZKFLEET_BENCH_ARITIES=2,4 ZKFLEET_BENCH_RUNS=3 ZKFLEET_BENCH_BATCH_ARITY=2 \
//!     cargo bench -p zkfleet-circuits --bench recursion
//! ZKFLEET_BENCH_RENDER_ONLY=1 cargo bench -p zkfleet-circuits --bench recursion  # markdown from the JSON
//! ```
//!
//! Writes docs/benchmarks/recursion.json and the `recursion` section of docs/benchmarks.md at the workspace
//! root. The basic proofs are toy "power-sum counter" circuits of degree 2^12 (the recursion
//! layers only see their shape and key), so leaf and node figures are those of the real
//! pipeline; the basic-round figures are not.

// A benchmark links every dependency of its package and uses only some.
#![allow(unused_crate_dependencies)]

#[path = "../tests/recursion_support/mod.rs"]
mod recursion_support;

#[path = "support/report.rs"]
mod report;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use recursion_support::ToyType;
use serde_json::{json, Value};
use zkfleet_circuits::recursion::*;

/// Closed-form length, capacity and degree of the toy type used for the arity sweep.
const SWEEP_TYPE: (usize, usize, usize) = (2, 4, 12);
/// Items and capacity of the toy 256-item batch.
const BATCH_ITEMS: usize = 256;
const BATCH_CAPACITY: usize = 16;
/// Anchor from proof-system-notes.md §1.4: plain 2^12 aggregation, seconds per child.
const PLAIN_AGGREGATION_PER_CHILD_S: (f64, f64) = (0.75, 0.83);

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, secs(start.elapsed()))
}

fn env_list(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("{name}: bad number {s:?}"))
            })
            .collect(),
        Err(_) => default.to_vec(),
    }
}

fn sweep_arity(arity: usize, runs: usize) -> Value {
    let (n, cap, bits) = SWEEP_TYPE;
    let toy = ToyType::build(1, n, cap, bits);
    let (circuits, build_s) = timed(|| RecursionCircuits::build(&[toy.shape()], arity).unwrap());
    let leaf = circuits.leaf(toy.circuit_id).unwrap();
    let node = circuits.node();
    // arity² full instances: arity full leaves, then one full node over them.
    let items: Vec<u64> = (1..=(arity * arity * cap) as u64).collect();
    let basic = toy.prove_chain(&toy.genesis(), &items);
    let mut leaf_times = Vec::new();
    let mut leaves = Vec::new();
    for (i, chunk) in basic.chunks(arity).enumerate() {
        let (proof, t) = timed(|| leaf.prove(chunk).unwrap());
        if i < runs {
            leaf_times.push(t);
        }
        leaves.push(proof);
    }
    let mut node_times = Vec::new();
    let mut node_proof = None;
    for _ in 0..runs {
        let (proof, t) = timed(|| node.prove(&leaves).unwrap());
        node_times.push(t);
        node_proof = Some(proof);
    }
    let node_proof = node_proof.unwrap();
    let leaf_s = median(leaf_times.clone());
    let node_s = median(node_times.clone());
    let bytes = node_proof.to_bytes().len();
    let data_bytes = node.to_bytes().unwrap().len();
    eprintln!(
        "arity {arity}: degree 2^{}, leaf {leaf_s} s, node {node_s} s, per child {:.3} s",
        node.common().degree_bits(),
        node_s / arity as f64
    );
    json!({
        "arity": arity,
        "degree_bits": node.common().degree_bits(),
        "setup_s": build_s,
        "leaf_prove_s": leaf_times,
        "node_prove_s": node_times,
        "leaf_prove_median_s": leaf_s,
        "node_prove_median_s": node_s,
        "leaf_per_child_s": (leaf_s / arity as f64 * 1000.0).round() / 1000.0,
        "node_per_child_s": (node_s / arity as f64 * 1000.0).round() / 1000.0,
        "proof_bytes": bytes,
        "node_circuit_bytes": data_bytes,
    })
}

fn batch_layers(arity: usize) -> Value {
    let sig = ToyType::build(1, 2, BATCH_CAPACITY, 12);
    let other = ToyType::build(2, 3, BATCH_CAPACITY, 13);
    let absent = ToyType::build(3, 2, BATCH_CAPACITY, 12);
    let (circuits, setup_s) = timed(|| {
        RecursionCircuits::build(&[sig.shape(), other.shape(), absent.shape()], arity).unwrap()
    });
    let items: Vec<u64> = (1..=BATCH_ITEMS as u64).collect();
    let (basic, basic_s) = timed(|| sig.prove_chain(&sig.genesis(), &items));
    let leaf = circuits.leaf(sig.circuit_id).unwrap();
    let (leaves, leaf_s) = timed(|| {
        basic
            .chunks(arity)
            .map(|c| leaf.prove(c).unwrap())
            .collect::<Vec<_>>()
    });
    let mut level = leaves;
    let mut depths = Vec::new();
    loop {
        let (next, t) = timed(|| {
            level
                .chunks(arity)
                .map(|c| circuits.node().prove(c).unwrap())
                .collect::<Vec<_>>()
        });
        depths.push(json!({ "proofs": next.len(), "seconds": t }));
        level = next;
        if level.len() == 1 {
            break;
        }
    }
    let final_node = level.remove(0);
    let other_basic = other.prove_chain(&other.genesis(), &[7, 8, 9]);
    let other_agg = aggregate_type(&circuits, other.circuit_id, &other_basic).unwrap();
    let slots = vec![
        TipSlot::Present {
            final_node: Box::new(final_node.clone()),
            first_input: sig.genesis(),
            last_output: basic.last().unwrap().output.clone(),
        },
        other_agg.into_tip_slot(),
        TipSlot::Absent {
            closed_form: absent.genesis(),
        },
    ];
    let (tip, tip_s) = timed(|| prove_tip(circuits.tip(), circuits.node(), &slots).unwrap());
    let tip_data = circuits.tip().circuit_data();
    let tip_size = proof_size(&tip.proof, tip_data).unwrap();
    let (chain, chain_build_s) = timed(|| {
        CompressionChain::build(
            &default_compression_steps(),
            &tip_data.common,
            &tip_data.verifier_only,
        )
        .unwrap()
    });
    let mut steps = Vec::new();
    let mut inner = tip.proof.clone();
    for step in chain.steps() {
        let (proof, t) = timed(|| step.prove(&inner).unwrap());
        let size = proof_size(&proof, step.circuit_data()).unwrap();
        let fri = &step.circuit_data().common.config.fri_config;
        eprintln!("compression {}: {t} s, {size:?}", step.name());
        steps.push(json!({
            "name": step.name(),
            "degree_bits": step.circuit_data().common.degree_bits(),
            "rate_bits": fri.rate_bits,
            "num_query_rounds": fri.num_query_rounds,
            "proof_of_work_bits": fri.proof_of_work_bits,
            "cap_height": fri.cap_height,
            "num_routed_wires": step.circuit_data().common.config.num_routed_wires,
            "conjectured_security_bits": conjectured_security_bits(fri),
            "prove_s": t,
            "proof_bytes": size.bytes,
            "compressed_bytes": size.compressed_bytes,
        }));
        inner = proof;
    }
    let pis = chain.verify_final(&inner).unwrap();
    assert_eq!(
        pis,
        tip.output.public_inputs(),
        "final proof must carry the tip outputs"
    );
    json!({
        "arity": arity,
        "items": BATCH_ITEMS,
        "instance_capacity": BATCH_CAPACITY,
        "basic_instances": basic.len(),
        "setup_s": setup_s,
        "basic_s": basic_s,
        "leaf": { "proofs": basic.len().div_ceil(arity), "seconds": leaf_s, "degree_bits": leaf.common().degree_bits(), "proof_bytes": final_node.to_bytes().len() },
        "node_depths": depths,
        "tip": { "seconds": tip_s, "degree_bits": tip_data.common.degree_bits(), "proof_bytes": tip_size.bytes, "compressed_bytes": tip_size.compressed_bytes },
        "compression_build_s": chain_build_s,
        "compression": steps,
        "final_proof_bytes": proof_size(&inner, chain.final_circuit().circuit_data()).unwrap().bytes,
        "final_proof_compressed_bytes": proof_size(&inner, chain.final_circuit().circuit_data()).unwrap().compressed_bytes,
    })
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let json_path = root.join("docs/benchmarks/recursion.json");
    let md_path = root.join("docs/benchmarks.md");
    // Re-render the markdown from the last JSON without proving anything.
    if std::env::var_os("ZKFLEET_BENCH_RENDER_ONLY").is_some() {
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
        write_section(&md_path, &markdown(&report));
        return;
    }
    let arities = env_list("ZKFLEET_BENCH_ARITIES", &[2, 4, 8]);
    let runs = env_list("ZKFLEET_BENCH_RUNS", &[3])[0].max(1);
    let batch_arity = env_list("ZKFLEET_BENCH_BATCH_ARITY", &[2])[0];
    let machine = report::machine();
    let sweep: Vec<Value> = arities.iter().map(|&a| sweep_arity(a, runs)).collect();
    let batch = batch_layers(batch_arity);
    let report = json!({
        "command": "cargo bench -p zkfleet-circuits --bench recursion",
        "machine": machine,
        "runs": runs,
        "plain_aggregation_per_child_s": [PLAIN_AGGREGATION_PER_CHILD_S.0, PLAIN_AGGREGATION_PER_CHILD_S.1],
        "arity_sweep": sweep,
        "batch": batch,
    });
    std::fs::create_dir_all(json_path.parent().unwrap()).unwrap();
    std::fs::write(
        &json_path,
        serde_json::to_string_pretty(&report).unwrap() + "\n",
    )
    .unwrap();
    write_section(&md_path, &markdown(&report));
    eprintln!("wrote {}", json_path.display());
}

fn markdown(r: &Value) -> String {
    let mut s = String::new();
    let m = &r["machine"];
    writeln!(s, "# Recursion benchmark\n").unwrap();
    writeln!(
        s,
        "Command: `{}` (release profile). Machine: {} cores, {}, load average at start {}. \
         Commit: `{}`. Median of {} runs.\n",
        r["command"].as_str().unwrap_or(""),
        m["nproc"],
        m["cpu"].as_str().unwrap_or(""),
        m["load_average_at_start"]
            .as_str()
            .unwrap_or("not recorded"),
        m["commit"].as_str().unwrap_or(""),
        r["runs"]
    )
    .unwrap();
    writeln!(s, "## Cost per aggregated child\n").unwrap();
    writeln!(s, "Leaf: A toy basic proofs (2^12) per leaf; node: A leaf proofs per node. \
        Anchor: a plain 2^12 aggregation costs 0.75–0.83 s per child (proof-system-notes.md §1.4).\n").unwrap();
    writeln!(s, "| arity | degree | leaf prove (s) | leaf / child (s) | node prove (s) | node / child (s) | proof (B) | node circuit data (MB) | setup (s) |").unwrap();
    writeln!(s, "|---|---|---|---|---|---|---|---|---|").unwrap();
    for a in r["arity_sweep"].as_array().into_iter().flatten() {
        writeln!(
            s,
            "| {} | 2^{} | {} | {} | {} | {} | {} | {:.1} | {} |",
            a["arity"],
            a["degree_bits"],
            a["leaf_prove_median_s"],
            a["leaf_per_child_s"],
            a["node_prove_median_s"],
            a["node_per_child_s"],
            a["proof_bytes"],
            a["node_circuit_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            a["setup_s"]
        )
        .unwrap();
    }
    if let Some((arity, why)) = recommend_arity(r) {
        writeln!(s, "\n**Recommended default arity: {arity}.** {why}").unwrap();
    }
    let b = &r["batch"];
    writeln!(
        s,
        "\n## Layers of a toy {}-item batch (arity {})\n",
        b["items"], b["arity"]
    )
    .unwrap();
    writeln!(
        s,
        "{} toy instances of capacity {} (2^12) for one type, a second type with one instance, \
        a third absent.\n",
        b["basic_instances"], b["instance_capacity"]
    )
    .unwrap();
    writeln!(s, "| layer | proofs | time (s) | degree | proof (B) |").unwrap();
    writeln!(s, "|---|---|---|---|---|").unwrap();
    writeln!(
        s,
        "| basic (toy) | {} | {} | 2^12 | – |",
        b["basic_instances"], b["basic_s"]
    )
    .unwrap();
    writeln!(
        s,
        "| leaf | {} | {} | 2^{} | {} |",
        b["leaf"]["proofs"],
        b["leaf"]["seconds"],
        b["leaf"]["degree_bits"],
        b["leaf"]["proof_bytes"]
    )
    .unwrap();
    for (i, d) in b["node_depths"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        writeln!(
            s,
            "| node depth {i} | {} | {} | 2^{} | {} |",
            d["proofs"], d["seconds"], b["leaf"]["degree_bits"], b["leaf"]["proof_bytes"]
        )
        .unwrap();
    }
    writeln!(
        s,
        "| recursion tip | 1 | {} | 2^{} | {} |",
        b["tip"]["seconds"], b["tip"]["degree_bits"], b["tip"]["proof_bytes"]
    )
    .unwrap();
    for c in b["compression"].as_array().into_iter().flatten() {
        writeln!(
            s,
            "| compression `{}` | 1 | {} | 2^{} | {} ({} compressed) |",
            c["name"].as_str().unwrap_or(""),
            c["prove_s"],
            c["degree_bits"],
            c["proof_bytes"],
            c["compressed_bytes"]
        )
        .unwrap();
    }
    writeln!(s, "\nCompression configurations:\n").unwrap();
    writeln!(s, "| step | rate bits | queries | PoW bits | cap height | routed wires | conjectured security (bits) |").unwrap();
    writeln!(s, "|---|---|---|---|---|---|---|").unwrap();
    for c in b["compression"].as_array().into_iter().flatten() {
        writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            c["name"].as_str().unwrap_or(""),
            c["rate_bits"],
            c["num_query_rounds"],
            c["proof_of_work_bits"],
            c["cap_height"],
            c["num_routed_wires"],
            c["conjectured_security_bits"]
        )
        .unwrap();
    }
    writeln!(s, "\nFinal proof: **{} bytes** ({} bytes `compress()`ed). Compression circuits built in {} s (once per setup).",
        b["final_proof_bytes"], b["final_proof_compressed_bytes"], b["compression_build_s"]).unwrap();
    s
}

/// The arity rule: aggregation cost per child is what a batch pays in total, so take the arities
/// whose node cost per child is within 10% of the cheapest; among them the largest (a shallower
/// tree, fewer jobs and less latency), as long as the circuit stays at or below 2^15 rows (its
/// prover data is ~300 MB and proving memory grows with the degree).
fn recommend_arity(r: &Value) -> Option<(u64, String)> {
    let sweep = r["arity_sweep"].as_array()?;
    let cost = |a: &Value| a["node_per_child_s"].as_f64().unwrap_or(f64::INFINITY);
    let best = sweep.iter().map(cost).fold(f64::INFINITY, f64::min);
    let pick = sweep
        .iter()
        .filter(|a| cost(a) <= best * 1.10 && a["degree_bits"].as_u64().unwrap_or(99) <= 15)
        .max_by_key(|a| a["arity"].as_u64().unwrap_or(0))?;
    let arity = pick["arity"].as_u64()?;
    Some((
        arity,
        format!(
            "Node cost per child is {} s at arity {arity} against {best} s for the cheapest arity \
             measured (within 10% counts as equal: the total proving work of a batch is the same), \
             and among those the largest arity gives the shallowest tree (fewer node jobs and \
             levels, so less latency and queue traffic) while keeping the leaf/node circuit at \
             2^{} rows or fewer (memory). Rule applied by the benchmark itself.",
            cost(pick),
            pick["degree_bits"]
        ),
    ))
}

/// Replaces the `recursion` section of docs/benchmarks.md (between its markers) with `body`,
/// leaving the other benchmarks' sections alone.
fn write_section(path: &std::path::Path, body: &str) {
    // The section starts below the page's own heading: drop the report's title line.
    let body = body
        .strip_prefix("# Recursion benchmark\n")
        .unwrap_or(body)
        .replace("\n## ", "\n### ");
    report::write_section(path, "recursion", "Recursion layers", &body);
}
