//! The quotient kernel (`kernels/quotient.cu` with every gate evaluator of `kernels/quotient.cuh`)
//! compiled for the host with the system's C++ compiler and run thread by thread over LDEs laid
//! out as on the card, against the CPU prover's quotient values (`prover::compute_quotient_values`,
//! plonky2's own gate code) for one circuit, on random wires, Z and partial products and random
//! challenges. The values need not satisfy anything: both sides evaluate the same formulas point by
//! point, so an unsatisfying witness checks every constraint, not just that they vanish.
//!
//! Public so that the circuit prover's tests can run it on zkfleet's real circuits (basic, leaf,
//! node, ...) without a GPU; it is a check, not part of proving.

use std::path::Path;
use std::process::{Command, Stdio};

use plonky2::field::polynomial::PolynomialValues;
use plonky2::field::types::{PrimeField64, Sample};
use plonky2::hash::hash_types::HashOut;
use plonky2::plonk::circuit_data::CircuitData;

use crate::backend::{Batch, CommitBackend, CpuCommit, C, D};
use crate::prover::{compute_quotient_values, selectors};
use crate::quotient::{plan, QuotientInputs};
use crate::F;

const SHIM: &str = include_str!("../kernels/host_shim.h");

const MAIN: &str = r#"
#include <cstdio>
#include <cstdlib>
#include <vector>
static FILE* in;
static u64 read_u64() {
    u64 v;
    if (fread(&v, 8, 1, in) != 1) { fprintf(stderr, "short input\n"); exit(2); }
    return v;
}
static std::vector<u64> read_vec() {
    size_t n = (size_t)read_u64();
    std::vector<u64> v(n);
    if (n && fread(v.data(), 8, n, in) != n) { fprintf(stderr, "short input\n"); exit(2); }
    return v;
}
int main(int argc, char** argv) {
    in = fopen(argv[1], "rb");
    if (!in) return 3;
    QuotientDims d;
    u32* dd = &d.log_leaves;
    for (int i = 0; i < 12; i++) dd[i] = (u32)read_u64();
    d.shift = read_u64(); d.w = read_u64(); d.n_field = read_u64();
    auto k_is = read_vec(), chal = read_vec(), apow = read_vec(), misc = read_vec();
    auto gates64 = read_vec();
    std::vector<u32> gates(gates64.begin(), gates64.end());
    auto wires = read_vec(), cs = read_vec(), zs = read_vec();
    fclose(in);
    u64 points = 1ULL << d.log_lde;
    std::vector<u64> out(points * d.num_ch, 0);
    blockDim.x = 128;
    for (u64 t = 0; t < points; t++) {
        blockIdx.x = t / 128; threadIdx.x = t % 128;
        quotient_values(wires.data(), cs.data(), zs.data(), k_is.data(), chal.data(), apow.data(),
                        misc.data(), (const GateEntry*)gates.data(), d, out.data());
    }
    FILE* o = fopen(argv[2], "wb");
    if (!o || fwrite(out.data(), 8, out.size(), o) != out.size()) return 4;
    fclose(o);
    return 0;
}
"#;

/// The first C++ compiler found on `PATH`, if any.
pub(crate) fn compiler() -> Option<&'static str> {
    ["c++", "g++", "clang++"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Builds `source` into `exe` with `cxx`.
pub(crate) fn build(cxx: &str, dir: &Path, source: &str, exe: &Path) -> Result<(), String> {
    let src = dir.join("check.cpp");
    std::fs::write(&src, source).map_err(|e| format!("writing {}: {e}", src.display()))?;
    let out = Command::new(cxx)
        .args(["-O2", "-std=c++17", "-w", "-o"])
        .arg(exe)
        .arg(&src)
        .output()
        .map_err(|e| format!("running {cxx}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "host build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Column-major, leaf order: what the card holds for a commitment.
fn device_layout(batch: &Batch) -> Vec<u64> {
    let leaves = &batch.merkle_tree.leaves;
    let width = leaves.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(width * leaves.len());
    for c in 0..width {
        out.extend(leaves.iter().map(|row| row[c].to_canonical_u64()));
    }
    out
}

fn push_vec(buf: &mut Vec<u8>, v: &[u64]) {
    buf.extend((v.len() as u64).to_le_bytes());
    for x in v {
        buf.extend(x.to_le_bytes());
    }
}

/// What [`quotient_kernel_on_host`] compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostCheck {
    /// Points of the quotient's coset, each compared for every challenge.
    pub points: usize,
    /// Challenge rounds (quotient columns) compared.
    pub challenges: usize,
    /// Gates of the circuit, every one evaluated by the kernel.
    pub gates: usize,
}

/// Runs the quotient kernel on the host for `data`'s circuit and compares every value with the
/// CPU prover's. `Ok(None)`: no C++ compiler here (nothing was checked). `Err`: the kernel cannot
/// take the circuit (a gate without an evaluator, ...), the host build failed, or a value differs
/// (the message names the challenge and point).
pub fn quotient_kernel_on_host(data: &CircuitData<F, C, D>) -> Result<Option<HostCheck>, String> {
    let Some(cxx) = compiler() else {
        return Ok(None);
    };
    let common = &data.common;
    let sel = selectors(common).map_err(|e| e.to_string())?;
    let config = &common.config;
    let (rate_bits, cap_height) = (config.fri_config.rate_bits, config.fri_config.cap_height);
    let n = common.degree();
    let random_batch = |width: usize| {
        let values = (0..width)
            .map(|_| PolynomialValues::new(F::rand_vec(n)))
            .collect();
        CpuCommit
            .commit_values(values, rate_bits, cap_height, None)
            .map_err(|e| e.to_string())
    };
    let wires = random_batch(config.num_wires)?;
    let zs = random_batch(config.num_challenges * (1 + common.num_partial_products))?;
    let betas = F::rand_vec(config.num_challenges);
    let gammas = F::rand_vec(config.num_challenges);
    let alphas = F::rand_vec(config.num_challenges);
    let hash = HashOut::<F>::rand();
    let q = QuotientInputs {
        common_data: common,
        selector_indices: &sel.selector_indices,
        groups: &sel.groups,
        constants_sigmas: &data.prover_only.constants_sigmas_commitment,
        wires_cap: &wires.merkle_tree.cap,
        zs_cap: &zs.merkle_tree.cap,
        public_inputs_hash: &hash,
        betas: &betas,
        gammas: &gammas,
        alphas: &alphas,
    };
    let plan = plan(&q)?;
    let expected = compute_quotient_values(
        common,
        &data.prover_only,
        &sel,
        &hash,
        &wires,
        &zs,
        &betas,
        &gammas,
        &alphas,
    )
    .map_err(|e| e.to_string())?;

    let d = &plan.dims;
    let mut input = Vec::new();
    for v in [
        d.log_leaves,
        d.log_lde,
        d.qdb,
        d.num_ch,
        d.num_routed,
        d.num_prods,
        d.max_degree,
        d.num_constants,
        d.num_selectors,
        d.num_terms,
        d.t0,
        d.num_gates,
    ] {
        input.extend(u64::from(v).to_le_bytes());
    }
    for v in [d.shift, d.w, d.n_field] {
        input.extend(v.to_le_bytes());
    }
    push_vec(&mut input, &plan.k_is);
    push_vec(&mut input, &plan.challenges);
    push_vec(&mut input, &plan.alpha_powers);
    push_vec(&mut input, &plan.misc);
    let gates: Vec<u64> = plan.gates.iter().map(|&g| u64::from(g)).collect();
    push_vec(&mut input, &gates);
    push_vec(&mut input, &device_layout(&wires));
    drop(wires);
    push_vec(
        &mut input,
        &device_layout(&data.prover_only.constants_sigmas_commitment),
    );
    push_vec(&mut input, &device_layout(&zs));
    drop(zs);

    let dir = std::env::temp_dir().join(format!(
        "zkfleet-gpu-quotient-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let result = (|| {
        let exe = dir.join("quotient");
        build(
            cxx,
            &dir,
            &format!(
                "{SHIM}\n{}\n{}\n{MAIN}",
                crate::source::device_functions_source(),
                include_str!("../kernels/quotient.cu")
            ),
            &exe,
        )?;
        let (input_path, output_path) = (dir.join("input.bin"), dir.join("output.bin"));
        std::fs::write(&input_path, &input).map_err(|e| format!("writing the input: {e}"))?;
        drop(input);
        let status = Command::new(&exe)
            .arg(&input_path)
            .arg(&output_path)
            .status()
            .map_err(|e| format!("running the host kernel: {e}"))?;
        if !status.success() {
            return Err(format!("the host kernel exited with {status}"));
        }
        let raw = std::fs::read(&output_path).map_err(|e| format!("reading the output: {e}"))?;
        let got: Vec<u64> = raw
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect();
        let points = 1usize << d.log_lde;
        if got.len() != expected.len() * points {
            return Err(format!(
                "{} values from the kernel, {} expected",
                got.len(),
                expected.len() * points
            ));
        }
        for (ch, col) in expected.iter().enumerate() {
            for (i, v) in col.values.iter().enumerate() {
                if got[ch * points + i] != v.to_canonical_u64() {
                    return Err(format!(
                        "challenge {ch}, point {i} of {points}: kernel {} vs CPU prover {}",
                        got[ch * points + i],
                        v.to_canonical_u64()
                    ));
                }
            }
        }
        Ok(Some(HostCheck {
            points,
            challenges: expected.len(),
            gates: common.gates.len(),
        }))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A kernel program compiled for the host, for the host-compiled kernel tests: built with the
/// first C++ compiler in a folder of its own (removed when dropped), run on a file of u64 words,
/// its output file read back as u64 words.
#[cfg(test)]
pub(crate) struct HostProgram {
    dir: std::path::PathBuf,
    exe: std::path::PathBuf,
}

#[cfg(test)]
impl HostProgram {
    /// Builds `host_shim.h`, then `kernels`, then `main`. `None` where no C++ compiler is found
    /// (the caller skips, saying so); a failed build panics with the compiler's message.
    pub(crate) fn build(name: &str, kernels: &str, main: &str) -> Option<Self> {
        let cxx = compiler()?;
        let dir = std::env::temp_dir().join(format!("zkfleet-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        let exe = dir.join(name);
        build(cxx, &dir, &format!("{SHIM}\n{kernels}\n{main}"), &exe)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        Some(Self { dir, exe })
    }

    /// Runs the program with an input file of `input` (little-endian) and the output file's
    /// path as its arguments; the words it wrote. A non-zero exit fails the test.
    pub(crate) fn run(&self, input: &[u64]) -> Vec<u64> {
        let (inp, outp) = (self.dir.join("in.bin"), self.dir.join("out.bin"));
        let bytes: Vec<u8> = input.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&inp, bytes).expect("writing the input");
        let status = Command::new(&self.exe)
            .arg(&inp)
            .arg(&outp)
            .status()
            .expect("running the program");
        assert!(status.success(), "{}: {status}", self.exe.display());
        std::fs::read(&outp)
            .expect("reading the output")
            .chunks_exact(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect()
    }
}

#[cfg(test)]
impl Drop for HostProgram {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
