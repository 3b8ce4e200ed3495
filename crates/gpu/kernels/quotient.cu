// plonky2's quotient values (`compute_quotient_polys` up to the coset iFFT) over the resident
// LDEs, one thread per point of the degree-2^quotient_degree_bits coset.
//
// Thread t takes leaf t: point i = bitrev(t) of the coset shift * <w> of 2^log_lde points reads
// row i * step of each LDE, which is leaf bitrev_{log_leaves}(i * step) = t (step = 2^(rate_bits
// - quotient_degree_bits)), so the reads of a warp are contiguous. For each challenge it adds up,
// with the powers of alpha plonky2's `reduce_with_powers_multi` gives each term (`apow`, built on
// the host: term t gets alpha^t; every term, whichever challenge it comes from, enters the sum of
// every challenge):
//   terms 0..num_ch:                       L_0(x) (Z(x) - 1)
//   then num_chunks per challenge:         the partial-product checks
//   then from t0, num_gate_constraints:    every gate's constraints times its filter
// and writes (sum) / Z_H(x) to out[ch * 2^log_lde + i].
//
// Column layout of each LDE: column c at c << log_leaves, in leaf order. `cs` is the constants
// and sigmas batch (constants first, selectors at its front), `zs` is Z per challenge then the
// partial products per challenge. `misc`: the public inputs hash (4), Z_H's evaluations on the
// 2^qdb cosets of H, their inverses, then the gates' data (the coset interpolation gates' points
// and weights; the gate table holds offsets into it).

#define Q_MAX_CH 4

struct QuotientDims {
    u32 log_leaves, log_lde, qdb, num_ch;
    u32 num_routed, num_prods, max_degree, num_constants;
    u32 num_selectors, num_terms, t0, num_gates;
    u64 shift, w, n_field;
};

extern "C" __global__ void quotient_values(
    const u64* __restrict__ wires, const u64* __restrict__ cs, const u64* __restrict__ zs,
    const u64* __restrict__ k_is, const u64* __restrict__ chal, const u64* __restrict__ apow,
    const u64* __restrict__ misc, const GateEntry* __restrict__ gates, QuotientDims d,
    u64* __restrict__ out) {
    u64 t = (u64)blockIdx.x * blockDim.x + threadIdx.x;
    u64 lde_size = 1ULL << d.log_lde;
    if (t >= lde_size) return;
    u64 nl = 1ULL << d.log_leaves;
    u64 i = bitrev(t, d.log_lde);
    u64 i_next = (i + (1ULL << d.qdb)) & (lde_size - 1);
    u64 t_next = bitrev(i_next, d.log_lde);
    u64 x = gl_mul(d.shift, gl_pow(d.w, i));
    u32 coset = (u32)(i & ((1ULL << d.qdb) - 1));
    const u64* pi_hash = misc;
    const u64* zh_evals = misc + 4;
    const u64* zh_inv = misc + 4 + (1u << d.qdb);
    const u64* gate_data = zh_inv + (1u << d.qdb);
    u64 l0 = gl_mul(zh_evals[coset], gl_inv(gl_mul(d.n_field, gl_sub(x, 1))));

    // Every term goes into every challenge's sum, with that challenge's alpha^t.
    u64 acc[Q_MAX_CH] = {0, 0, 0, 0};
    auto add_term = [&](u32 term_index, u64 v) {
#pragma unroll
        for (u32 a = 0; a < Q_MAX_CH; a++)
            if (a < d.num_ch) acc[a] = gl_add(acc[a], gl_mul(apow[(u64)a * d.num_terms + term_index], v));
    };
    u32 num_chunks = d.num_prods + 1;
    for (u32 ch = 0; ch < d.num_ch; ch++) {
        u64 z_x = zs[((u64)ch << d.log_leaves) + t];
        add_term(ch, gl_mul(l0, gl_sub(z_x, 1)));
    }
    for (u32 ch = 0; ch < d.num_ch; ch++) {
        u64 z_x = zs[((u64)ch << d.log_leaves) + t];
        u64 z_gx = zs[((u64)ch << d.log_leaves) + t_next];
        u64 beta = chal[ch], gamma = chal[d.num_ch + ch];
        u64 prev = z_x;
        for (u32 c = 0; c < num_chunks; c++) {
            u64 num = 1, den = 1;
            u32 end = (c + 1) * d.max_degree;
            if (end > d.num_routed) end = d.num_routed;
            for (u32 j = c * d.max_degree; j < end; j++) {
                u64 wj = wires[((u64)j << d.log_leaves) + t];
                u64 sigma = cs[((u64)(d.num_constants + j) << d.log_leaves) + t];
                num = gl_mul(num, gl_add(gl_add(wj, gl_mul(beta, gl_mul(k_is[j], x))), gamma));
                den = gl_mul(den, gl_add(gl_add(wj, gl_mul(beta, sigma)), gamma));
            }
            u64 next = c + 1 == num_chunks
                ? z_gx
                : zs[((u64)(d.num_ch + ch * d.num_prods + c) << d.log_leaves) + t];
            add_term(d.num_ch + ch * num_chunks + c, gl_sub(gl_mul(prev, num), gl_mul(next, den)));
            prev = next;
        }
    }

    auto w = [&](u32 j) -> u64 { return wires[((u64)j << d.log_leaves) + t]; };
    auto k = [&](u32 j) -> u64 { return cs[((u64)(d.num_selectors + j) << d.log_leaves) + t]; };
    bool many = d.num_selectors > 1;
    for (u32 g = 0; g < d.num_gates; g++) {
        GateEntry e = gates[g];
        if (e.kind == GATE_NOOP) continue;
        u64 f = gate_filter(e, cs[((u64)e.selector << d.log_leaves) + t], many);
        u64 sum[Q_MAX_CH] = {0, 0, 0, 0};
        auto emit = [&](u32 j, u64 v) {
#pragma unroll
            for (u32 ch = 0; ch < Q_MAX_CH; ch++)
                if (ch < d.num_ch) sum[ch] = gl_add(sum[ch], gl_mul(apow[(u64)ch * d.num_terms + d.t0 + j], v));
        };
        eval_gate(e, pi_hash, gate_data, w, k, emit);
#pragma unroll
        for (u32 ch = 0; ch < Q_MAX_CH; ch++)
            if (ch < d.num_ch) acc[ch] = gl_add(acc[ch], gl_mul(f, sum[ch]));
    }
    u64 inv = zh_inv[coset];
#pragma unroll
    for (u32 ch = 0; ch < Q_MAX_CH; ch++)
        if (ch < d.num_ch) out[((u64)ch << d.log_lde) + i] = gl_mul(acc[ch], inv);
}
