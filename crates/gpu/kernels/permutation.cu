// The permutation argument's Z and partial products (plonky2's
// `wires_permutation_partial_products_and_zs`; src/permutation.rs is the host reference), in four
// launches and one small host step:
//
//   perm_chunk_quotients: per (challenge c, row), the prefix products over the chunks k of
//     degree-many routed wires of prod_j (w_j + beta k_j x + gamma) / (w_j + beta sigma_j + gamma),
//     into prefix[(c * chunks + k) * n + row]. The numerators and denominators of a chunk are
//     multiplied apart; prefix_k = (prod of numerators up to k) / (prod of denominators up to k),
//     with one inversion per thread (the last denominators' product) and one multiplication per
//     chunk walking back for the others. A zero denominator sets *zero_den.
//   perm_block_products: per (c, block of 2^log_block rows), the product of the rows' full
//     quotients (the last chunk's prefix): totals[c * blocks + b].
//   (host) carries = the exclusive prefix product of the totals, per challenge.
//   perm_zs: per (c, block), Z over the block's rows from its carry: out[c * n + row].
//   perm_partials: per (c, k < num_prods, row), partial product k = Z(row) * prefix_k(row), into
//     out[(challenges + c * num_prods + k) * n + row] (plonky2's order: the Zs, then the partial
//     products of challenge 0, of challenge 1, ...).
//
// The field is exact, so every value is plonky2's: a product's order does not change it.

#define PERM_MAX_CHUNKS 32

// wires: the routed columns, column j at j * n (canonical). sigmas: row-major, row * num_routed + j
// (the layout of plonky2's `prover_data.sigmas`). x = generator^row is the row's subgroup point.
extern "C" __global__ void perm_chunk_quotients(const u64* wires, const u64* sigmas,
                                                const u64* k_is, const u64* betas,
                                                const u64* gammas, u64 generator, u32 log_n,
                                                u32 num_routed, u32 degree, u32 challenges,
                                                u64* prefix, u32* zero_den) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    u64 n = 1ULL << log_n;
    if (t >= n * challenges) return;
    u64 c = t >> log_n;
    u64 row = t & (n - 1);
    u64 x = gl_pow(generator, row);
    u64 beta = betas[c], gamma = gammas[c];
    u32 chunks = (num_routed + degree - 1) / degree;
    u64 dens[PERM_MAX_CHUNKS];
    u64 num_acc = 1, den_acc = 1;
    for (u32 k = 0; k < chunks; k++) {
        u32 end = (k + 1) * degree < num_routed ? (k + 1) * degree : num_routed;
        u64 num = 1, den = 1;
        for (u32 j = k * degree; j < end; j++) {
            u64 w = wires[(u64)j * n + row];
            u64 s_id = gl_mul(k_is[j], x);
            num = gl_mul(num, gl_add(gl_add(w, gl_mul(beta, s_id)), gamma));
            den = gl_mul(den, gl_add(gl_add(w, gl_mul(beta, sigmas[row * num_routed + j])), gamma));
        }
        num_acc = gl_mul(num_acc, num);
        den_acc = gl_mul(den_acc, den);
        dens[k] = den;
        prefix[(c * chunks + k) * n + row] = num_acc;
    }
    if (den_acc == 0) {
        *zero_den = 1;
        return;
    }
    // inv = 1 / (den_0 ... den_k), from k = chunks - 1 down: times den_k gives 1 / (den_0 ... den_{k-1}).
    u64 inv = gl_pow(den_acc, GL_P - 2);
    for (u32 k = chunks; k-- > 0;) {
        u64 at = (c * chunks + k) * n + row;
        prefix[at] = gl_mul(prefix[at], inv);
        inv = gl_mul(inv, dens[k]);
    }
}

extern "C" __global__ void perm_block_products(const u64* prefix, u32 log_n, u32 chunks,
                                               u32 challenges, u32 log_block, u64* totals) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    u64 n = 1ULL << log_n;
    u32 log_blocks = log_n - log_block;
    if (t >= ((u64)challenges << log_blocks)) return;
    u64 c = t >> log_blocks;
    u64 b = t & ((1ULL << log_blocks) - 1);
    const u64* q = prefix + (c * chunks + chunks - 1) * n + (b << log_block);
    u64 acc = 1;
    for (u64 i = 0; i < (1ULL << log_block); i++) acc = gl_mul(acc, q[i]);
    totals[t] = acc;
}

extern "C" __global__ void perm_zs(const u64* prefix, const u64* carries, u32 log_n, u32 chunks,
                                   u32 challenges, u32 log_block, u64* out) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    u64 n = 1ULL << log_n;
    u32 log_blocks = log_n - log_block;
    if (t >= ((u64)challenges << log_blocks)) return;
    u64 c = t >> log_blocks;
    u64 b = t & ((1ULL << log_blocks) - 1);
    u64 first = b << log_block;
    const u64* q = prefix + (c * chunks + chunks - 1) * n + first;
    u64* z = out + c * n + first;
    u64 acc = carries[t];
    for (u64 i = 0; i < (1ULL << log_block); i++) {
        z[i] = acc;
        acc = gl_mul(acc, q[i]);
    }
}

extern "C" __global__ void perm_partials(const u64* prefix, u32 log_n, u32 chunks,
                                         u32 challenges, u32 num_prods, u64* out) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    u64 n = 1ULL << log_n;
    if (t >= (u64)challenges * num_prods * n) return;
    u64 row = t & (n - 1);
    u64 col = t >> log_n;  // c * num_prods + k
    u64 c = col / num_prods;
    u64 k = col - c * num_prods;
    out[(challenges + col) * n + row] = gl_mul(out[c * n + row], prefix[(c * chunks + k) * n + row]);
}
