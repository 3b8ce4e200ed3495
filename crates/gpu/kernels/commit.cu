// Kernels of the batch commitment (plonky2's `PolynomialBatch::from_values` without blinding):
//
//   values (w columns of n = 2^k, natural order)
//     -> canonicalise -> inverse NTT (DIF: natural in, bit-reversed out)
//     -> coefficients in natural order, times 1/n                    (`bitrev_scale`)
//     -> LDE buffer of w * B chunks of n, B = 2^rate_bits            (`lde_expand`)
//        chunk (col, jb) holds c_i * g_j^i with j = bitrev(jb), g_j = shift * w_N^j
//     -> forward NTT of every chunk (DIF: natural in, bit-reversed out)
//     -> the LDE, column-major, already in plonky2's leaf order
//     -> leaf hashes (hash_or_noop of each row) -> two-to-one levels up to the cap.
//
// Why this layout gives plonky2's leaf order: leaf L of plonky2's tree is the LDE row
// t = bitrev_{k+r}(L), i.e. the evaluation at shift * w_N^t. Writing L = jb * n + p, we get
// t = bitrev_k(p) * B + bitrev_r(jb) = m * B + j, and shift * w_N^(mB + j) = g_j * w_n^m. So
// the n leaves of block jb are the size-n NTT of (c_i g_j^i) in bit-reversed order, which a DIF
// NTT with natural-order input produces directly: no permutation pass over the large buffer.
//
// Twiddle tables: tw[e] = w_n^e (forward) or w_n^-e (inverse), e < n/2, built on the device.
// A DIF butterfly at stage half-size h, offset `off` within its block uses tw[off * (n / 2h)].

extern "C" __global__ void gl_canonicalize(u64* data, u64 count) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < count) data[t] = gl_canon(data[t]);
}

// out[i] = scale * base^i for i < count.
extern "C" __global__ void pow_table(u64* out, u64 base, u64 scale, u64 count) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t < count) out[t] = gl_mul(scale, gl_pow(base, t));
}

// data[p][i] *= shift^i for each of the contiguous polynomials p of 2^log_n: `coset_fft(shift)`
// is the FFT of these (FRI's layers, both components of each); with shift^-1 after the inverse
// NTT, `coset_ifft(shift)` (the quotient's coefficients).
extern "C" __global__ void coset_scale(u64* data, u64 shift, u32 log_n, u64 total) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= total) return;
    u64 i = t & ((1ULL << log_n) - 1);
    data[t] = gl_mul(data[t], gl_pow(shift, i));
}

// One radix-2 DIF stage with half-size h = 2^log_h over `polys` contiguous polynomials of size
// 2^log_n; one thread per butterfly. Used for the stages whose pairs lie further apart than a
// thread block's shared-memory chunk.
extern "C" __global__ void ntt_dif_stage(u64* data, const u64* tw, u32 log_n, u32 log_h, u64 total) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= total) return;
    u64 poly = t >> (log_n - 1);
    u64 b = t & ((1ULL << (log_n - 1)) - 1);
    u64 h = 1ULL << log_h;
    u64 blk = b >> log_h;
    u64 off = b & (h - 1);
    u64 i = (poly << log_n) + (blk << (log_h + 1)) + off;
    u64 u = data[i];
    u64 v = data[i + h];
    data[i] = gl_add(u, v);
    data[i + h] = gl_mul(gl_sub(u, v), tw[off << (log_n - 1 - log_h)]);
}

// The last log_s DIF stages (half-sizes 2^(log_s-1) .. 1) of every chunk of 2^log_s contiguous
// elements, in shared memory: one block per chunk, one global read and write per element
// instead of one per stage.
extern "C" __global__ void ntt_dif_local(u64* data, const u64* tw, u32 log_n, u32 log_s) {
    extern __shared__ u64 sh[];
    const u32 S = 1u << log_s;
    const u64 base = (u64)blockIdx.x << log_s;
    for (u32 k = threadIdx.x; k < S; k += blockDim.x) sh[k] = data[base + k];
    __syncthreads();
    for (int lh = (int)log_s - 1; lh >= 0; lh--) {
        const u32 h = 1u << lh;
        for (u32 b = threadIdx.x; b < S / 2; b += blockDim.x) {
            u32 blk = b >> lh;
            u32 off = b & (h - 1);
            u32 i = (blk << (lh + 1)) + off;
            u64 u = sh[i];
            u64 v = sh[i + h];
            sh[i] = gl_add(u, v);
            sh[i + h] = gl_mul(gl_sub(u, v), tw[(u64)off << (log_n - 1 - lh)]);
        }
        __syncthreads();
    }
    for (u32 k = threadIdx.x; k < S; k += blockDim.x) data[base + k] = sh[k];
}

// coeffs[poly][i] = scale * in[poly][bitrev_k(i)]: undoes the DIF output order of the inverse
// NTT and applies its 1/n factor.
extern "C" __global__ void bitrev_scale(const u64* in, u64* out, u32 log_n, u64 scale, u64 total) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= total) return;
    u64 poly = t >> log_n;
    u64 i = t & ((1ULL << log_n) - 1);
    out[t] = gl_mul(in[(poly << log_n) + bitrev(i, log_n)], scale);
}

// lde[col][jb * n + i] = coeffs[col][i] * coset_pows[jb * n + i], where coset_pows holds
// g_j^i, j = bitrev_r(jb) (built by `pow_table` per block).
extern "C" __global__ void lde_expand(const u64* coeffs, u64* lde, const u64* coset_pows, u32 log_n,
                                      u32 log_big_n, u64 total) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= total) return;
    u64 col = t >> log_big_n;
    u64 rem = t & ((1ULL << log_big_n) - 1);
    u64 i = rem & ((1ULL << log_n) - 1);
    lde[t] = gl_mul(coeffs[(col << log_n) + i], coset_pows[rem]);
}

// digests[L] = hash_or_noop(row L), row L = (lde[0][L], ..., lde[width-1][L]). plonky2's
// hash_no_pad: a zero state, each chunk of 8 overwrites lanes 0..len (overwrite mode), permute;
// the digest is lanes 0..4. Rows of at most 4 elements are their own digest, zero-padded.
extern "C" __global__ void hash_leaves(const u64* lde, u64* digests, u32 width, u64 num_leaves) {
    u64 L = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (L >= num_leaves) return;
    if (width <= 4) {
#pragma unroll
        for (u32 c = 0; c < 4; c++) digests[4 * L + c] = c < width ? lde[(u64)c * num_leaves + L] : 0;
        return;
    }
    u64 s[POSEIDON_WIDTH];
#pragma unroll
    for (int i = 0; i < POSEIDON_WIDTH; i++) s[i] = 0;
    for (u32 c0 = 0; c0 < width; c0 += POSEIDON_RATE) {
        u32 m = width - c0 < POSEIDON_RATE ? width - c0 : POSEIDON_RATE;
#pragma unroll
        for (u32 i = 0; i < POSEIDON_RATE; i++)
            if (i < m) s[i] = lde[(u64)(c0 + i) * num_leaves + L];
        poseidon_permute(s);
    }
#pragma unroll
    for (int i = 0; i < 4; i++) digests[4 * L + i] = s[i];
}

// next[i] = two_to_one(cur[2i], cur[2i+1]): lanes 0..4 = left, 4..8 = right, 8..12 = 0, permute,
// lanes 0..4 (plonky2's `compress`).
extern "C" __global__ void hash_level(const u64* cur, u64* next, u64 count) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= count) return;
    u64 s[POSEIDON_WIDTH];
#pragma unroll
    for (int i = 0; i < 8; i++) s[i] = cur[8 * t + i];
#pragma unroll
    for (int i = 8; i < POSEIDON_WIDTH; i++) s[i] = 0;
    poseidon_permute(s);
#pragma unroll
    for (int i = 0; i < 4; i++) next[4 * t + i] = s[i];
}

// Column-major (width x rows) to row-major (rows x width) through 32x32 shared tiles, so both the
// reads and the writes are coalesced. Block (32, 8); grid (ceil(rows/32), ceil(width/32)).
extern "C" __global__ void transpose_cols_to_rows(const u64* in, u64* out, u32 width, u64 rows) {
    __shared__ u64 tile[32][33];
    u64 r0 = (u64)blockIdx.x * 32;
    u32 c0 = blockIdx.y * 32;
    for (u32 k = threadIdx.y; k < 32; k += 8) {
        u32 c = c0 + k;
        u64 r = r0 + threadIdx.x;
        if (c < width && r < rows) tile[k][threadIdx.x] = in[(u64)c * rows + r];
    }
    __syncthreads();
    for (u32 k = threadIdx.y; k < 32; k += 8) {
        u64 r = r0 + k;
        u32 c = c0 + threadIdx.x;
        if (c < width && r < rows) out[r * width + c] = tile[threadIdx.x][k];
    }
}
