//! The CUDA source handed to NVRTC: a prelude with plonky2's Poseidon constants, then the
//! kernel files of `kernels/` (the commitment, the quotient, then FRI's query openings and commit
//! phase, the proof of work, the permutation argument).

use std::fmt::Write;

use plonky2::field::extension::Extendable;
use plonky2::field::goldilocks_field::GoldilocksField;
use plonky2::field::types::PrimeField64;
use plonky2::hash::poseidon::{Poseidon, ALL_ROUND_CONSTANTS, N_ROUNDS, SPONGE_WIDTH};

const GOLDILOCKS: &str = include_str!("../kernels/goldilocks.cuh");
const POSEIDON: &str = include_str!("../kernels/poseidon.cuh");
const COMMIT: &str = include_str!("../kernels/commit.cu");
const QUOTIENT_FNS: &str = include_str!("../kernels/quotient.cuh");
const QUOTIENT: &str = include_str!("../kernels/quotient.cu");
const FRI: &str = include_str!("../kernels/fri.cu");
const POW: &str = include_str!("../kernels/pow.cu");
const PERMUTATION: &str = include_str!("../kernels/permutation.cu");

const P: u64 = 0xFFFF_FFFF_0000_0001;

/// Prelude defining `POSEIDON_RC`, `MDS_CIRC` and `MDS_DIAG` from plonky2's tables, and `EXT_W`
/// (the quadratic extension's `X^2 = W`). The round
/// constants are reduced mod p: plonky2 adds them as integers (`add_canonical_u64`), which is the
/// same field element, and the device `gl_add` expects canonical operands.
pub(crate) fn poseidon_prelude() -> String {
    let mut s = String::new();
    let rc = &ALL_ROUND_CONSTANTS[..SPONGE_WIDTH * N_ROUNDS];
    s.push_str("// Generated from plonky2::hash::poseidon at run time.\n");
    let _ = writeln!(s, "__constant__ u64 POSEIDON_RC[{}] = {{", rc.len());
    for chunk in rc.chunks(4) {
        let line: Vec<String> = chunk
            .iter()
            .map(|c| format!("0x{:016x}ULL", c % P))
            .collect();
        let _ = writeln!(s, "    {},", line.join(", "));
    }
    s.push_str("};\n");
    let list = |v: &[u64]| {
        v.iter()
            .map(|c| format!("{c}ULL"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        s,
        "static constexpr u64 MDS_CIRC[12] = {{ {} }};",
        list(&<GoldilocksField as Poseidon>::MDS_MATRIX_CIRC)
    );
    let _ = writeln!(
        s,
        "static constexpr u64 MDS_DIAG[12] = {{ {} }};",
        list(&<GoldilocksField as Poseidon>::MDS_MATRIX_DIAG)
    );
    let _ = writeln!(
        s,
        "static constexpr u64 EXT_W = {}ULL;",
        <GoldilocksField as Extendable<2>>::W.to_canonical_u64()
    );
    s
}

/// The complete source compiled by NVRTC (public so that it can be inspected or compiled
/// offline, e.g. with `nvcc -ptx`, when debugging).
pub fn kernel_source() -> String {
    // The prelude needs `u64` from goldilocks.cuh and must precede poseidon.cuh.
    format!(
        "{GOLDILOCKS}\n{}\n{POSEIDON}\n{COMMIT}\n{QUOTIENT_FNS}\n{QUOTIENT}\n{FRI}\n{POW}\n{PERMUTATION}\n",
        poseidon_prelude()
    )
}

/// FRI's kernels (the query-opening gather, the commit phase's scale, leaves and fold) with the
/// commitment's NTT and hash kernels they run with, for their host-compiled tests.
#[cfg(test)]
pub(crate) fn fri_source() -> String {
    format!(
        "{GOLDILOCKS}\n{}\n{POSEIDON}\n{COMMIT}\n{FRI}\n",
        poseidon_prelude()
    )
}

/// The proof-of-work kernel with what it needs (arithmetic, constants, the permutation), for its
/// host-compiled test.
#[cfg(test)]
pub(crate) fn pow_source() -> String {
    format!("{GOLDILOCKS}\n{}\n{POSEIDON}\n{POW}\n", poseidon_prelude())
}

/// The permutation argument's kernels with the arithmetic they need, for their host-compiled
/// test.
#[cfg(test)]
pub(crate) fn permutation_source() -> String {
    format!("{GOLDILOCKS}\n{PERMUTATION}\n")
}

/// Sources of the arithmetic, the permutation and the gates' evaluators, for the host-compiled
/// checks (`host_check`, the `host_compiled` test).
pub(crate) fn device_functions_source() -> String {
    format!(
        "{GOLDILOCKS}\n{}\n{POSEIDON}\n{QUOTIENT_FNS}\n",
        poseidon_prelude()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_holds_all_kernels_and_constants() {
        let src = kernel_source();
        for k in [
            "gl_canonicalize",
            "pow_table",
            "ntt_dif_stage",
            "ntt_dif_local",
            "bitrev_scale",
            "lde_expand",
            "hash_leaves",
            "hash_level",
            "transpose_cols_to_rows",
            "quotient_values",
            "gather_openings",
            "coset_scale",
            "fri_leaves",
            "fri_fold",
            "pow_search",
            "perm_chunk_quotients",
            "perm_block_products",
            "perm_zs",
            "perm_partials",
        ] {
            assert!(src.contains(&format!("void {k}(")), "kernel {k} missing");
        }
        assert!(src.contains("POSEIDON_RC[360]"));
        assert!(src.contains("MDS_CIRC[12] = { 17ULL, 15ULL, 41ULL"));
    }
}

/// NVRTC needs no GPU: where libnvrtc can be loaded, check that the kernels compile for Hopper
/// (the card the device runs use) before any device time is spent.
#[cfg(test)]
mod nvrtc_tests {
    #[test]
    fn kernels_compile_with_nvrtc() {
        // SAFETY: only tries dlopen on the candidate names.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            // CI installs NVRTC from PyPI and sets this, so that a kernel that does not
            // compile fails there instead of skipping.
            assert!(
                std::env::var_os("ZKFLEET_REQUIRE_NVRTC").is_none(),
                "ZKFLEET_REQUIRE_NVRTC is set but libnvrtc cannot be loaded (LD_LIBRARY_PATH?)"
            );
            skip_note!("skipping: libnvrtc not found (put it on LD_LIBRARY_PATH to run this test)");
            return;
        }
        let opts = cudarc::nvrtc::CompileOptions {
            options: vec!["--gpu-architecture=compute_90".into(), "--std=c++17".into()],
            ..Default::default()
        };
        let ptx = cudarc::nvrtc::compile_ptx_with_opts(super::kernel_source(), opts)
            .unwrap_or_else(|e| panic!("NVRTC rejected the kernels: {e:?}"));
        let text = ptx.to_src();
        for k in [
            "hash_leaves",
            "ntt_dif_local",
            "lde_expand",
            "quotient_values",
            "gather_openings",
            "coset_scale",
            "fri_leaves",
            "fri_fold",
            "pow_search",
            "perm_chunk_quotients",
            "perm_partials",
        ] {
            assert!(text.contains(k), "{k} missing from the PTX");
        }
    }
}
