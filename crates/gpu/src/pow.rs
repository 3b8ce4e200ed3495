//! FRI's proof-of-work search on the card (`kernels/pow.cu`): the smallest nonce whose
//! challenge has the required leading zeros, as [`crate::challenger::search_cpu`] finds it on the
//! host.
//!
//! Candidates go in ranges of [`RANGE`] in increasing order, one thread each; the kernel keeps
//! the smallest hit of a range with an atomic minimum, and the first range with a hit ends the
//! search, so the nonce is the smallest overall. With plonky2's 16 bits a range of 2^18 holds a
//! hit with probability 1 - e^-4 (98 %): one launch and one 8-byte copy back per proof, almost
//! always.

use cudarc::driver::PushKernelArg;

use crate::challenger::{PowStart, WIDTH};
use crate::context::{grid, guarded, GpuContext};
use crate::error::{During, GpuError};
use crate::F;
use plonky2::field::types::Field64;

/// Candidates per launch.
pub(crate) const RANGE: u64 = 1 << 18;
/// Threads per block: each holds a Poseidon state in registers, as the hash kernels do.
const POW_BLOCK: u32 = 128;

impl GpuContext {
    /// The smallest nonce `n` with `start.works(n, min_leading_zeros)`, searched on the card.
    /// An error if no field element works (plonky2 panics there).
    pub fn pow_search(&self, start: &PowStart, min_leading_zeros: u32) -> Result<u64, GpuError> {
        if start.nonce_at >= WIDTH {
            return Err(GpuError::InvalidInput(format!(
                "proof-of-work nonce lane {} of a {WIDTH}-lane state",
                start.nonce_at
            )));
        }
        let nonce_at = start.nonce_at as u32;
        guarded("searching the proof-of-work nonce", || {
            let (s, kernel) = self.pow_parts();
            let state = s
                .clone_htod(&start.state[..])
                .during("copying the sponge state")?;
            let mut found = s
                .clone_htod(&[u64::MAX][..])
                .during("allocating the nonce slot")?;
            let mut first = 0u64;
            while first < F::ORDER {
                let count = RANGE.min(F::ORDER - first);
                let mut b = s.launch_builder(kernel);
                b.arg(&state)
                    .arg(&nonce_at)
                    .arg(&first)
                    .arg(&count)
                    .arg(&min_leading_zeros)
                    .arg(&mut found);
                unsafe { b.launch(grid(count, POW_BLOCK)?) }.during("launching pow_search")?;
                let mut host = [0u64; 1];
                s.memcpy_dtoh(&found, &mut host[..])
                    .during("copying the nonce back")?;
                s.synchronize()
                    .during("searching the proof-of-work nonce")?;
                if host[0] != u64::MAX {
                    return Ok(host[0]);
                }
                first += count;
            }
            Err(GpuError::InvalidInput(
                "no proof-of-work nonce in the field".into(),
            ))
        })
    }
}

/// `kernels/pow.cu` compiled for the host and run thread by thread over a range, against the
/// CPU search and plonky2's own challenger.
#[cfg(test)]
mod tests {
    use plonky2::field::types::{Field, PrimeField64, Sample};
    use plonky2::iop::challenger::Challenger;

    use crate::challenger::{search_cpu, Transcript};
    use crate::Hasher;

    const MAIN: &str = r#"
#include <cstdio>
int main(int argc, char** argv) {
    FILE* in = fopen(argv[1], "rb");
    if (!in) return 3;
    u64 h[16];
    if (fread(h, 8, 16, in) != 16) return 2;
    fclose(in);
    // h: 12 state words, nonce lane, first, count, min leading zeros.
    unsigned long long found = ~0ULL;
    blockDim.x = 128;
    for (u64 t = 0; t < h[14] + 200; t++) {  // threads past the end must not write
        blockIdx.x = t / 128; threadIdx.x = t % 128;
        pow_search(h, (u32)h[12], h[13], h[14], (u32)h[15], &found);
    }
    FILE* o = fopen(argv[2], "wb");
    if (!o || fwrite(&found, 8, 1, o) != 1) return 4;
    fclose(o);
    return 0;
}
"#;

    #[test]
    fn pow_kernel_finds_the_smallest_nonce_like_the_cpu() {
        let Some(program) =
            crate::host_check::HostProgram::build("pow", &crate::source::pow_source(), MAIN)
        else {
            skip_note!("skipping: no C++ compiler found (c++, g++, clang++)");
            return;
        };
        let run = |start: &crate::challenger::PowStart, first: u64, count: u64, bits: u32| {
            let input: Vec<u64> = start
                .state
                .iter()
                .copied()
                .chain([start.nonce_at as u64, first, count, bits as u64])
                .collect();
            program.run(&input)[0]
        };
        let mut theirs = Challenger::<crate::F, Hasher>::new();
        let mut ours = Transcript::new();
        // The transcripts are random, so a range must hold the nonces it is asked for: at 10
        // bits 2^12 nonces miss the smallest one about 1.8 % of the time (the flake this test
        // had), 2^16 about e^-64 of the time.
        const SEARCH: u64 = 1 << 16;
        // Every nonce lane 0..8 (inputs buffered before the nonce), a few difficulties.
        for (case, bits) in [4u32, 6, 8, 9, 10, 7, 5, 8, 3].into_iter().enumerate() {
            let start = ours.pow_start();
            assert_eq!(start.nonce_at, case % 8);
            let expected = search_cpu(&start, bits).unwrap();
            let got = run(&start, 0, SEARCH, bits);
            assert_eq!(got, expected, "case {case}: {bits} bits");
            // plonky2's challenger agrees that the nonce works.
            let mut t = theirs.clone();
            t.observe_element(crate::F::from_canonical_u64(got));
            assert!(t.get_challenge().to_canonical_u64().leading_zeros() >= bits);
            // A range starting past the smallest nonce finds the next one, not an earlier one.
            let next = run(&start, expected + 1, SEARCH, bits);
            assert!(next > expected && start.works(next, bits));
            assert!((expected + 1..next).all(|c| !start.works(c, bits)));
            // A range with no hit leaves the slot untouched.
            assert_eq!(run(&start, 0, expected, bits), u64::MAX);
            let e = crate::F::rand();
            theirs.observe_element(e);
            ours.observe_element(e);
        }
    }
}
