//! GPU against plonky2's CPU prover, on fresh random data. Without a usable GPU every test here
//! prints why and passes, unless `ZKFLEET_REQUIRE_GPU=1`, which turns that into a failure (the
//! device script sets it).
//!
//! The `#[ignore]`d `bench_commit` times the GPU commitment against plonky2's
//! `PolynomialBatch::from_values` and writes JSON to `$ZKFLEET_GPU_BENCH_JSON`
//! (see `scripts/device-run.sh`).

// The crate's dependencies are the library's; each test binary uses a few of them.
#![allow(unused_crate_dependencies)]

use std::time::Instant;

use plonky2::field::extension::{flatten, FieldExtension};
use plonky2::field::polynomial::{PolynomialCoeffs, PolynomialValues};
use plonky2::field::types::{Field, Field64, PrimeField64, Sample};
use plonky2::fri::oracle::PolynomialBatch;
use plonky2::hash::merkle_tree::{MerkleCap, MerkleTree};
use plonky2::plonk::config::PoseidonGoldilocksConfig;
use plonky2::plonk::plonk_common::reduce_with_powers;
use plonky2::util::reverse_index_bits_in_place;
use plonky2::util::timing::TimingTree;
use rand::Rng;
use zkfleet_gpu::backend::Ext;
use zkfleet_gpu::{CommitPhases, GpuContext, GpuError, Hasher, F};

type Batch = PolynomialBatch<F, PoseidonGoldilocksConfig, 2>;

fn gpu() -> Option<GpuContext> {
    let required = std::env::var("ZKFLEET_REQUIRE_GPU").is_ok_and(|v| v == "1");
    match GpuContext::new() {
        Ok(g) => {
            eprintln!(
                "GPU: {} (compute capability {:?})",
                g.device_name(),
                g.compute_capability()
            );
            Some(g)
        }
        Err(e) if e.is_unavailable() && !required => {
            // Straight to stderr: the harness captures eprintln! of passing tests, and a skip
            // should show in a plain `cargo test`.
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "skipping GPU test: {e} (set ZKFLEET_REQUIRE_GPU=1 to fail instead)"
            );
            None
        }
        Err(e) => panic!("GPU unusable: {e}"),
    }
}

fn random_values(log_n: usize, width: usize) -> Vec<PolynomialValues<F>> {
    (0..width)
        .map(|_| PolynomialValues::new(F::rand_vec(1 << log_n)))
        .collect()
}

fn cpu_commit(values: Vec<PolynomialValues<F>>, rate_bits: usize, cap_height: usize) -> Batch {
    Batch::from_values(
        values,
        rate_bits,
        false,
        cap_height,
        &mut TimingTree::default(),
        None,
    )
}

/// Every leaf, every coefficient and the cap, GPU against CPU.
fn check_case(gpu: &GpuContext, log_n: usize, width: usize, rate_bits: usize, cap_height: usize) {
    let mut values = random_values(log_n, width);
    // A non-canonical representative (p + 5) must be read as 5, as plonky2 does.
    values[0].values[0] = plonky2::field::goldilocks_field::GoldilocksField(F::ORDER + 5);
    let t = Instant::now();
    let g = gpu
        .commit_polynomials(&values, rate_bits, cap_height)
        .unwrap();
    let gpu_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let c = cpu_commit(values, rate_bits, cap_height);
    let cpu_s = t.elapsed().as_secs_f64();
    let what =
        format!("2^{log_n} rows x {width} cols, rate_bits {rate_bits}, cap_height {cap_height}");
    assert_eq!(g.coeffs, c.polynomials, "coefficients differ: {what}");
    assert_eq!(g.num_leaves(), c.merkle_tree.leaves.len(), "{what}");
    for (i, leaf) in c.merkle_tree.leaves.iter().enumerate() {
        assert_eq!(g.leaf(i), &leaf[..], "leaf {i} differs: {what}");
    }
    assert_eq!(g.cap, c.merkle_tree.cap, "cap differs: {what}");
    eprintln!("ok: {what} (GPU {gpu_s:.3} s incl. transfers, CPU {cpu_s:.3} s)");
}

#[test]
fn lde_and_cap_match_plonky2() {
    let Some(gpu) = gpu() else { return };
    // (log2 rows, columns, rate_bits, cap_height). Widths <= 4 take hash_or_noop's no-op path,
    // 8 is one full absorption, 9 and 135 end on a partial chunk; 2^11 is the largest size done
    // wholly in shared memory, 2^12 and up add global stages.
    let cases = [
        (10, 1, 1, 0),
        (10, 4, 2, 4),
        (10, 5, 3, 1),
        (11, 8, 1, 2),
        (12, 9, 2, 3),
        (12, 16, 3, 4),
        (13, 3, 3, 0),
        (14, 135, 3, 4),
        (15, 7, 1, 2),
        (16, 20, 2, 4),
        (18, 12, 1, 3),
        (18, 2, 3, 4),
        (20, 8, 1, 4),
        (20, 4, 2, 0),
        (20, 10, 3, 2),
    ];
    for (log_n, width, rate_bits, cap_height) in cases {
        check_case(&gpu, log_n, width, rate_bits, cap_height);
    }
}

#[test]
fn random_shapes_match_plonky2() {
    let Some(gpu) = gpu() else { return };
    let mut rng = rand::thread_rng();
    for _ in 0..12 {
        let log_n = rng.gen_range(10..=17);
        let width = rng.gen_range(1..=40);
        let rate_bits = rng.gen_range(1..=3);
        let cap_height = rng.gen_range(0..=4);
        check_case(&gpu, log_n, width, rate_bits, cap_height);
    }
}

/// A race shows up as results that move between runs on the same input.
#[test]
fn repeated_commits_agree() {
    let Some(gpu) = gpu() else { return };
    let values = random_values(16, 33);
    let batch = gpu.upload(&values).unwrap();
    let first = gpu.commit_device(&batch, 3, 4).unwrap();
    for _ in 0..5 {
        let again = gpu.commit_device(&batch, 3, 4).unwrap();
        assert_eq!(again.cap(), first.cap());
    }
    assert_eq!(first.cap(), &cpu_commit(values, 3, 4).merkle_tree.cap);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let Some(gpu) = gpu() else { return };
    let odd = vec![PolynomialValues::new(F::rand_vec(12))];
    assert!(matches!(
        gpu.commit_polynomials(&odd, 1, 0),
        Err(GpuError::InvalidInput(_))
    ));
    let small = random_values(2, 3);
    assert!(matches!(
        gpu.commit_polynomials(&small, 1, 4),
        Err(GpuError::InvalidInput(_))
    ));
    assert!(matches!(
        gpu.commit_polynomials(&[], 1, 0),
        Err(GpuError::InvalidInput(_))
    ));
}

/// FRI's commit-phase trees on the card (`CommitBackend::merkle_tree` of `GpuCommit`): every
/// digest and the cap equal to plonky2's `MerkleTree::new`, for FRI's leaves (32 and 16
/// elements), leaves of at most 4 elements (their own digests), one leaf, and caps from a single
/// digest up to every leaf; bad shapes are errors.
#[test]
fn merkle_trees_of_rows_match_plonky2() {
    use plonky2::hash::merkle_tree::MerkleTree;
    use plonky2::hash::poseidon::PoseidonHash;
    use zkfleet_gpu::{CommitBackend, GpuCommit};
    let Some(gpu) = gpu() else { return };
    let backend = GpuCommit::new(gpu);
    for (log_leaves, width, cap_height) in [
        (17usize, 32usize, 4usize),
        (12, 32, 4),
        (9, 16, 0),
        (6, 4, 6),
        (5, 3, 2),
        (0, 32, 0),
        (3, 1, 1),
    ] {
        let leaves: Vec<Vec<F>> = (0..1usize << log_leaves)
            .map(|_| F::rand_vec(width))
            .collect();
        let theirs = MerkleTree::<F, PoseidonHash>::new(leaves.clone(), cap_height);
        let ours = backend
            .merkle_tree(leaves, cap_height)
            .expect("tree on the card");
        let what = format!("2^{log_leaves} leaves of {width}, cap height {cap_height}");
        assert_eq!(ours.cap, theirs.cap, "{what}: cap");
        assert!(ours.digests == theirs.digests, "{what}: digests");
        assert!(ours.leaves == theirs.leaves, "{what}: leaves");
    }
    // Not a power of two of leaves, a cap above the leaves, leaves of two widths.
    for (leaves, cap_height) in [
        (vec![F::rand_vec(8); 3], 0usize),
        (vec![F::rand_vec(8); 4], 3),
        (vec![F::rand_vec(8), F::rand_vec(7)], 0),
    ] {
        assert!(matches!(
            backend.merkle_tree(leaves, cap_height),
            Err(GpuError::InvalidInput(_))
        ));
    }
}

/// plonky2's `fri_committed_trees` on the host, as `plonky2::fri::prover` writes it (the last
/// folded polynomial not evaluated), with each layer's beta from `beta(cap)`.
fn host_commit_phase(
    lde_coeffs: &[Ext],
    arity_bits: &[usize],
    cap_height: usize,
    rate_bits: usize,
    beta: impl Fn(&MerkleCap<F, Hasher>) -> Ext,
) -> (Vec<MerkleTree<F, Hasher>>, Vec<Ext>) {
    let mut coeffs = PolynomialCoeffs::new(lde_coeffs.to_vec());
    let mut shift = F::MULTIPLICATIVE_GROUP_GENERATOR;
    let mut trees = Vec::new();
    for &bits in arity_bits {
        let mut values = coeffs.coset_fft(shift.into()).values;
        reverse_index_bits_in_place(&mut values);
        let leaves: Vec<Vec<F>> = values.chunks(1 << bits).map(flatten::<F, 2>).collect();
        let tree = MerkleTree::<F, Hasher>::new(leaves, cap_height);
        let b = beta(&tree.cap);
        trees.push(tree);
        coeffs = PolynomialCoeffs::new(
            coeffs
                .coeffs
                .chunks_exact(1 << bits)
                .map(|chunk| reduce_with_powers(chunk, b))
                .collect(),
        );
        shift = shift.exp_u64(1 << bits);
    }
    coeffs.coeffs.truncate(coeffs.len() >> rate_bits);
    (trees, coeffs.coeffs)
}

/// A beta that depends on the cap it follows, as the transcript's does.
fn beta_of(cap: &MerkleCap<F, Hasher>) -> Ext {
    let h = cap.0[cap.0.len() - 1].elements;
    Ext::from_basefield_array([h[0] * h[2] + F::ONE, h[1] + h[3]])
}

#[test]
fn fri_commit_phase_matches_plonky2() {
    let Some(gpu) = gpu() else { return };
    // (log2 of the LDE, reduction arities, cap height, rate bits): plonky2's standard
    // recursion FRI shape (arity 16 down to a small final polynomial), mixed arities, arity 2
    // (leaves of 4 elements: their own digests), sizes above and below the NTT's shared chunk.
    for (log_n, arity_bits, cap_height, rate_bits) in [
        (19usize, vec![4usize, 4, 4], 4usize, 3usize),
        (16, vec![4, 4, 4], 4, 3),
        (13, vec![3, 2, 1, 4], 0, 1),
        (10, vec![1, 1], 2, 3),
        (6, vec![4], 1, 1),
    ] {
        let what = format!("2^{log_n}, arities {arity_bits:?}, cap {cap_height}, rate {rate_bits}");
        // The LDE of a polynomial of 2^(log_n - rate_bits) coefficients: the rest zero.
        let mut coeffs: Vec<Ext> = (0..1usize << (log_n - rate_bits))
            .map(|_| Ext::rand())
            .collect();
        coeffs.resize(1 << log_n, Ext::ZERO);
        let (trees, final_poly) =
            host_commit_phase(&coeffs, &arity_bits, cap_height, rate_bits, beta_of);
        let mut words = vec![0u64; 2 << log_n];
        for (i, c) in coeffs.iter().enumerate() {
            let [a, b] = c.to_basefield_array();
            words[i] = a.to_canonical_u64();
            words[(1 << log_n) + i] = b.to_canonical_u64();
        }
        let mut seen = 0usize;
        let done = gpu
            .fri_commit_phase(
                &words,
                log_n as u32,
                &arity_bits,
                cap_height,
                rate_bits,
                &mut |cap| {
                    seen += 1;
                    let [a, b] = beta_of(cap).to_basefield_array();
                    [a.to_canonical_u64(), b.to_canonical_u64()]
                },
            )
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(seen, arity_bits.len(), "{what}: one beta per layer");
        assert_eq!(done.layers.len(), arity_bits.len(), "{what}: layers");
        for (l, tree) in trees.iter().enumerate() {
            assert_eq!(done.caps[l], tree.cap, "{what}: cap of layer {l}");
            let leaves = tree.leaves.len();
            let indices: Vec<usize> = (0..28).map(|q| (q * 7919 + 13) % leaves).collect();
            let opened = done.layers.open(l, &indices).expect("opens");
            for (&i, (row, siblings)) in indices.iter().zip(&opened) {
                assert_eq!(row, &tree.get(i).to_vec(), "{what}: layer {l}, leaf {i}");
                assert_eq!(
                    siblings,
                    &tree.prove(i).siblings,
                    "{what}: layer {l}, path of {i}"
                );
            }
            assert!(
                done.layers.open(l, &[leaves]).is_err(),
                "{what}: leaf past the end"
            );
        }
        let got: Vec<Ext> = done
            .final_coeffs
            .iter()
            .map(|&c| Ext::from_basefield_array(c))
            .collect();
        assert_eq!(got, final_poly, "{what}: final polynomial");
    }
    // Bad shapes are errors, not panics: a cap above a layer's leaves, a wrong length, arity 0.
    let words = vec![0u64; 2 << 8];
    let mut beta = |_: &MerkleCap<F, Hasher>| [1u64, 0];
    assert!(gpu
        .fri_commit_phase(&words, 8, &[4, 4], 1, 0, &mut beta)
        .is_err());
    assert!(gpu
        .fri_commit_phase(&words[1..], 8, &[4], 0, 0, &mut beta)
        .is_err());
    assert!(gpu
        .fri_commit_phase(&words, 8, &[0], 0, 0, &mut beta)
        .is_err());
    assert!(gpu
        .fri_commit_phase(&words, 8, &[4], 0, 5, &mut beta)
        .is_err());
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().parse().expect("a list of integers"))
        .collect()
}

/// GPU commitment against plonky2's `PolynomialBatch::from_values` (all rayon threads; the
/// device script sets RAYON_NUM_THREADS=16). Sizes: `ZKFLEET_GPU_BENCH_LOGS` (default 16,18,20),
/// columns `ZKFLEET_GPU_BENCH_WIDTH` (135, plonky2's standard wire count), rate_bits 3, cap
/// height 4; `ZKFLEET_GPU_BENCH_CPU_RUNS` (3) and `ZKFLEET_GPU_BENCH_GPU_RUNS` (5) runs, medians.
#[test]
#[ignore = "benchmark: needs a GPU and minutes of CPU time"]
fn bench_commit() {
    let Some(gpu) = gpu() else { return };
    let logs = env_list("ZKFLEET_GPU_BENCH_LOGS", "16,18,20");
    let width = env_list("ZKFLEET_GPU_BENCH_WIDTH", "135")[0];
    let cpu_runs = env_list("ZKFLEET_GPU_BENCH_CPU_RUNS", "3")[0];
    let gpu_runs = env_list("ZKFLEET_GPU_BENCH_GPU_RUNS", "5")[0];
    let (rate_bits, cap_height) = (3, 4);
    let threads = rayon_threads();
    let mut results = Vec::new();
    for log_n in logs {
        let values = random_values(log_n, width);

        let mut cpu_times = Vec::new();
        let mut cpu_cap = None;
        let mut cpu_leaves_sample = Vec::new();
        for _ in 0..cpu_runs {
            let v = values.clone();
            let t = Instant::now();
            let c = cpu_commit(v, rate_bits, cap_height);
            cpu_times.push(t.elapsed().as_secs_f64());
            if cpu_cap.is_none() {
                let n = c.merkle_tree.leaves.len();
                cpu_leaves_sample = (0..64)
                    .map(|k| {
                        let i = (k * 7919 * 131 + k) % n;
                        (i, c.merkle_tree.leaves[i].clone())
                    })
                    .collect();
                cpu_cap = Some(c.merkle_tree.cap.clone());
            }
            drop(c);
        }
        let cpu_cap = cpu_cap.unwrap();

        // Warm-up: module already loaded; this builds the twiddle/coset tables for the size.
        let warm = gpu
            .commit_polynomials(&values, rate_bits, cap_height)
            .unwrap();
        assert_eq!(warm.cap, cpu_cap, "GPU cap differs from CPU at 2^{log_n}");
        for (i, leaf) in &cpu_leaves_sample {
            assert_eq!(warm.leaf(*i), &leaf[..], "leaf {i} differs at 2^{log_n}");
        }
        drop(warm);

        let mut full = Vec::new();
        for _ in 0..gpu_runs {
            let t = Instant::now();
            let g = gpu
                .commit_polynomials(&values, rate_bits, cap_height)
                .unwrap();
            full.push(t.elapsed().as_secs_f64());
            assert_eq!(g.cap, cpu_cap);
        }

        let mut upload = Vec::new();
        let mut kernels = Vec::new();
        let mut download = Vec::new();
        let mut device_bytes = 0;
        for _ in 0..gpu_runs {
            let t = Instant::now();
            let batch = gpu.upload(&values).unwrap();
            gpu.synchronize().unwrap();
            upload.push(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let c = gpu.commit_device(&batch, rate_bits, cap_height).unwrap();
            kernels.push(t.elapsed().as_secs_f64());
            assert_eq!(c.cap(), &cpu_cap);
            device_bytes = c.device_bytes();
            drop(batch);
            let t = Instant::now();
            let h = gpu.download(&c).unwrap();
            download.push(t.elapsed().as_secs_f64());
            drop(h);
        }

        // Phase split (synchronizing between phases), a separate loop so that the kernels-only
        // figure above carries no extra synchronization.
        let batch = gpu.upload(&values).unwrap();
        let mut phases = Vec::new();
        for _ in 0..gpu_runs {
            let (c, p) = gpu
                .commit_device_profiled(&batch, rate_bits, cap_height)
                .unwrap();
            assert_eq!(c.cap(), &cpu_cap);
            phases.push(p);
        }
        drop(batch);
        let phase = |f: fn(&CommitPhases) -> f64| median(phases.iter().map(f).collect());

        let r = serde_json::json!({
            "log_rows": log_n,
            "rows": 1usize << log_n,
            "columns": width,
            "rate_bits": rate_bits,
            "cap_height": cap_height,
            "lde_rows": 1usize << (log_n + rate_bits),
            "cpu_threads": threads,
            "cpu_runs": cpu_runs,
            "gpu_runs": gpu_runs,
            "cpu_from_values_s": cpu_times,
            "cpu_from_values_median_s": median(cpu_times.clone()),
            "gpu_commit_with_transfers_s": full,
            "gpu_commit_with_transfers_median_s": median(full.clone()),
            "gpu_upload_median_s": median(upload.clone()),
            "gpu_kernels_only_median_s": median(kernels.clone()),
            "gpu_kernels_only_s": kernels,
            "gpu_download_median_s": median(download.clone()),
            "gpu_device_bytes": device_bytes,
            "gpu_phase_interpolate_median_s": phase(|p| p.interpolate_s),
            "gpu_phase_extend_median_s": phase(|p| p.extend_s),
            "gpu_phase_merkle_median_s": phase(|p| p.merkle_s),
            "speedup_with_transfers": median(cpu_times.clone()) / median(full.clone()),
            "speedup_kernels_only": median(cpu_times.clone()) / median(kernels.clone()),
            "caps_equal": true,
        });
        eprintln!("{r}");
        results.push(r);
        // Written after every size, so a run cut short by a time limit still leaves its figures.
        write_bench_json(&gpu, &results);
    }
}

fn write_bench_json(gpu: &GpuContext, results: &[serde_json::Value]) {
    let doc = serde_json::json!({
        "device": gpu.device_name(),
        "compute_capability": format!("{:?}", gpu.compute_capability()),
        "what": "plonky2 1.1.0 PolynomialBatch::from_values (blinding off) vs zkfleet-gpu commit; \
                 kernels_only = interpolation + LDE + Merkle tree on resident values, cap copied back; \
                 with_transfers = upload of values + kernels + download of coefficients and row-major leaves \
                 (pinned staging since the second device run); phases: synchronized split of kernels_only",
        "results": results,
    });
    if let Ok(path) = std::env::var("ZKFLEET_GPU_BENCH_JSON") {
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
        eprintln!("wrote {path}");
    }
}

fn rayon_threads() -> usize {
    // plonky2 re-exports rayon through plonky2_maybe_rayon; the global pool's size is what
    // RAYON_NUM_THREADS (or the core count) makes it.
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}
