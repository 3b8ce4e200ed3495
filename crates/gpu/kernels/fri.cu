// FRI's query rounds read a few rows of each commitment and their Merkle paths; a commitment whose
// LDE and tree stay on the card answers them with one launch and one small copy back, instead of
// every row and digest crossing the link for plonky2's CPU code.
//
// For query q (leaf index idx = indices[q]) `out` gets, at q * (width + 4 * layers):
//   the row: lde[c * 2^log_leaves + idx] for c < width (column-major LDE in leaf order);
//   the sibling digest of each layer below the cap, bottom first (plonky2's MerkleProof order):
//   at layer l, digest (idx >> l) ^ 1 of level l, level l starting at
//   4 * sum_{m < l} 2^(log_leaves - m) in `digests` (the device keeps the levels one after the
//   other, the leaf digests first).
// One thread per output word.
extern "C" __global__ void gather_openings(const u64* lde, const u64* digests, const u64* indices,
                                           u32 num_queries, u32 width, u32 log_leaves, u32 layers,
                                           u64* out) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    u64 per = (u64)width + 4ULL * layers;
    if (t >= (u64)num_queries * per) return;
    u64 q = t / per;
    u64 e = t - q * per;
    u64 idx = indices[q];
    u64 n = 1ULL << log_leaves;
    u64 v;
    if (e < width) {
        v = lde[e * n + idx];
    } else {
        u64 k = e - width;
        u32 l = (u32)(k / 4);
        u64 word = k & 3;
        u64 offset = 0;
        for (u32 m = 0; m < l; m++) offset += (n >> m) * 4;
        u64 sibling = (idx >> l) ^ 1;
        v = digests[offset + sibling * 4 + word];
    }
    out[t] = v;
}

// FRI's commit phase (plonky2's `fri_committed_trees`), one layer at a time on the card. An
// extension-field polynomial is two base-field columns of 2^log_n (its `to_basefield_array`
// components), one after the other: the FFT's twiddles and the coset shifts are base-field
// elements, so each component is transformed on its own by the commitment's NTT kernels.
//
// Per layer (arity 2^arity_bits, shift = g^(product of the earlier arities)):
//   copy of the coefficients -> coset_scale (c_i shift^i, commit.cu) -> DIF NTT (natural in,
//   bit-reversed out: plonky2's `coset_fft` then `reverse_index_bits_in_place`) -> fri_leaves
//   (chunks of `arity` values flattened, column-major for hash_leaves and gather_openings) ->
//   the tree (hash_leaves, hash_level) -> beta from the transcript on the host (the cap is all
//   that crosses) -> fri_fold (the next layer's coefficients).

// Leaf j of the layer's tree is plonky2's `flatten(values[j * arity..(j + 1) * arity])`, the
// values in bit-reversed order: element c = 2k + d of the leaf is component d of value
// j * arity + k. Column-major, m = 2^(log_n - arity_bits) leaves: leaves[c * m + j].
// One thread per element (total = 2^(log_n + 1)).
extern "C" __global__ void fri_leaves(const u64* vals, u64* leaves, u32 log_n, u32 arity_bits,
                                      u64 total) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= total) return;
    u32 log_m = log_n - arity_bits;
    u64 c = t >> log_m;
    u64 j = t & ((1ULL << log_m) - 1);
    u64 k = c >> 1;
    u64 d = c & 1;
    leaves[t] = vals[(d << log_n) + (j << arity_bits) + k];
}

// (a + bX)(c + dX) in F[X]/(X^2 - EXT_W) (plonky2's `QuadraticExtension` multiplication).
static __device__ __forceinline__ void fri_ext_mul(u64& a, u64& b, u64 c, u64 d) {
    u64 re = gl_add(gl_mul(a, c), gl_mul(EXT_W, gl_mul(b, d)));
    u64 im = gl_add(gl_mul(a, d), gl_mul(b, c));
    a = re;
    b = im;
}

// The fold by beta: out[i] = sum_k beta^k in[i * arity + k] (plonky2's
// `reduce_with_powers(chunk, beta)`, Horner from the last coefficient), for both components;
// `in` has 2^log_n coefficients per component, `out` total = 2^(log_n - arity_bits).
extern "C" __global__ void fri_fold(const u64* in, u64* out, u32 log_n, u32 arity_bits,
                                    u64 beta_a, u64 beta_b, u64 total) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= total) return;
    const u64* in_b = in + (1ULL << log_n);
    u64 base = t << arity_bits;
    u64 a = 0, b = 0;
    for (int k = (1 << arity_bits) - 1; k >= 0; k--) {
        fri_ext_mul(a, b, beta_a, beta_b);
        a = gl_add(a, in[base + k]);
        b = gl_add(b, in_b[base + k]);
    }
    out[t] = a;
    out[total + t] = b;
}
