// FRI's proof-of-work search (plonky2's `fri_proof_of_work`) on the card: candidate nonces
// `first + t`, one per thread. Observing a nonce and drawing the next challenge is one duplexing
// of the transcript's sponge: the permutation of `start` (the state with the buffered inputs
// written in, from `challenger::Transcript::pow_start`) with the nonce in lane `nonce_at`; the
// challenge is lane 7 of the result. A nonce works when that challenge has at least
// `min_leading_zeros` leading zeros; every thread that finds one offers it to `found` with an
// atomic minimum, so after the launch `found` holds the smallest working nonce of the range (or
// stays at its initial all-ones). Searching ranges in increasing order, the first range with a hit
// gives the smallest nonce overall, which is what the CPU search returns.
extern "C" __global__ void pow_search(const u64* start, u32 nonce_at, u64 first, u64 count,
                                      u32 min_leading_zeros, unsigned long long* found) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= count) return;
    u64 nonce = first + t;
    if (nonce >= GL_P) return;  // nonces are field elements
    u64 s[POSEIDON_WIDTH];
    // A select per lane, not `s[nonce_at] = nonce`: a store at a run-time index would put the
    // whole state in local memory instead of registers.
#pragma unroll
    for (int i = 0; i < POSEIDON_WIDTH; i++) s[i] = (u32)i == nonce_at ? nonce : start[i];
    poseidon_permute(s);
    u64 response = s[POSEIDON_RATE - 1];
    u32 zeros = response == 0 ? 64 : (u32)__clzll((long long)response);
    if (zeros >= min_leading_zeros) atomicMin(found, (unsigned long long)nonce);
}
