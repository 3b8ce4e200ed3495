// The gates' constraints and the vanishing polynomial of plonky2's quotient, per LDE point.
//
// Every gate evaluator mirrors plonky2 1.1.0's `eval_unfiltered_base_one` /
// `eval_unfiltered_base_packed` for that gate, constraint for constraint and in the same order
// (the order decides which power of alpha each constraint gets). `W` reads wire j of the point,
// `K` reads the gate's local constant j (after the selector columns), `emit(j, value)` receives
// constraint j. Field results are exact, so the order of additions inside one constraint does not
// matter; only the constraint index does.
//
// Compiled by NVRTC for the device and, through host_shim.h, by the host C++ compiler for the
// CPU-side test against plonky2's gates (src/host_compiled.rs).

// Gate kinds in the gate table the host builds (src/quotient.rs).
#define GATE_NOOP 0
#define GATE_CONSTANT 1
#define GATE_PUBLIC_INPUT 2
#define GATE_ARITHMETIC 3
#define GATE_POSEIDON 4
// plonky2's `UNUSED_SELECTOR` (u32::MAX), the extra filter factor when there are several selector
// columns.
#define UNUSED_SELECTOR 0xFFFFFFFFULL

static __device__ __forceinline__ u64 gl_inv(u64 a) { return gl_pow(a, GL_P - 2); }

// ConstantGate { num_consts }: c_j - w_j.
template <class W, class K, class E>
static __device__ __forceinline__ void gate_constant(u32 num_consts, W w, K k, E& emit) {
    for (u32 j = 0; j < num_consts; j++) emit(j, gl_sub(k(j), w(j)));
}

// PublicInputGate: w_j - hash_j, j < 4.
template <class W, class E>
static __device__ __forceinline__ void gate_public_input(const u64* hash, W w, E& emit) {
    for (u32 j = 0; j < 4; j++) emit(j, gl_sub(w(j), hash[j]));
}

// ArithmeticGate { num_ops }: out - (m0 * m1 * c0 + addend * c1) per operation.
template <class W, class K, class E>
static __device__ __forceinline__ void gate_arithmetic(u32 num_ops, W w, K k, E& emit) {
    u64 c0 = k(0), c1 = k(1);
    for (u32 i = 0; i < num_ops; i++) {
        u64 computed = gl_add(gl_mul(gl_mul(w(4 * i), w(4 * i + 1)), c0), gl_mul(w(4 * i + 2), c1));
        emit(i, gl_sub(w(4 * i + 3), computed));
    }
}

// PoseidonGate (width 12): wires 0..12 input, 12..24 output, 24 swap, 25..29 delta, then the
// S-box inputs of full rounds 1..3, of the 22 partial rounds and of the last 4 full rounds.
// plonky2 evaluates the partial rounds in its "fast" form; the S-box input of lane 0 of each
// partial round, the only value a constraint reads, is the same in the plain form used here
// (checked against plonky2's gate on random, unsatisfying wires in `cargo test`).
#define PG_SWAP 24
#define PG_DELTA 25
#define PG_FULL0 29
#define PG_PARTIAL (PG_FULL0 + 12 * 3)
#define PG_FULL1 (PG_PARTIAL + 22)
template <class W, class E>
static __device__ __forceinline__ void gate_poseidon(W w, E& emit) {
    u32 c = 0;
    u64 swap = w(PG_SWAP);
    emit(c++, gl_mul(swap, gl_sub(swap, 1)));
    u64 s[POSEIDON_WIDTH];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        u64 lhs = w(i), rhs = w(i + 4), delta = w(PG_DELTA + i);
        emit(c++, gl_sub(gl_mul(swap, gl_sub(rhs, lhs)), delta));
        s[i] = gl_add(lhs, delta);
        s[i + 4] = gl_sub(rhs, delta);
    }
#pragma unroll
    for (int i = 8; i < 12; i++) s[i] = w(i);
    int round = 0;
#pragma unroll 1
    for (int r = 0; r < POSEIDON_HALF_FULL; r++, round++) {
#pragma unroll
        for (int i = 0; i < 12; i++) s[i] = gl_add(s[i], POSEIDON_RC[round * 12 + i]);
        if (r != 0) {
#pragma unroll
            for (int i = 0; i < 12; i++) {
                u64 in = w(PG_FULL0 + 12 * (r - 1) + i);
                emit(c++, gl_sub(s[i], in));
                s[i] = in;
            }
        }
#pragma unroll
        for (int i = 0; i < 12; i++) s[i] = sbox7(s[i]);
        mds_layer(s);
    }
#pragma unroll 1
    for (int r = 0; r < POSEIDON_PARTIAL; r++, round++) {
#pragma unroll
        for (int i = 0; i < 12; i++) s[i] = gl_add(s[i], POSEIDON_RC[round * 12 + i]);
        u64 in = w(PG_PARTIAL + r);
        emit(c++, gl_sub(s[0], in));
        s[0] = sbox7(in);
        mds_layer(s);
    }
#pragma unroll 1
    for (int r = 0; r < POSEIDON_HALF_FULL; r++, round++) {
#pragma unroll
        for (int i = 0; i < 12; i++) s[i] = gl_add(s[i], POSEIDON_RC[round * 12 + i]);
#pragma unroll
        for (int i = 0; i < 12; i++) {
            u64 in = w(PG_FULL1 + 12 * r + i);
            emit(c++, gl_sub(s[i], in));
            s[i] = in;
        }
#pragma unroll
        for (int i = 0; i < 12; i++) s[i] = sbox7(s[i]);
        mds_layer(s);
    }
#pragma unroll
    for (int i = 0; i < 12; i++) emit(c++, gl_sub(s[i], w(12 + i)));
}

// One entry of the gate table: kind, the gate's index (its `row` in the selector group), its
// selector column, its group [start, end), and the gate's parameter (num_consts / num_ops).
struct GateEntry {
    u32 kind, row, selector, group_start, group_end, param;
};

// Dispatches one gate.
template <class W, class K, class E>
static __device__ __forceinline__ void eval_gate(const GateEntry& g, const u64* pi_hash, W w, K k, E& emit) {
    switch (g.kind) {
        case GATE_CONSTANT: gate_constant(g.param, w, k, emit); break;
        case GATE_PUBLIC_INPUT: gate_public_input(pi_hash, w, emit); break;
        case GATE_ARITHMETIC: gate_arithmetic(g.param, w, k, emit); break;
        case GATE_POSEIDON: gate_poseidon(w, emit); break;
        default: break;  // GATE_NOOP: no constraints
    }
}

// plonky2's `compute_filter`: prod over the group's other rows j of (j - s), times
// (UNUSED_SELECTOR - s) when there are several selector columns.
static __device__ __forceinline__ u64 gate_filter(const GateEntry& g, u64 s, bool many_selectors) {
    u64 f = 1;
    for (u32 j = g.group_start; j < g.group_end; j++)
        if (j != g.row) f = gl_mul(f, gl_sub((u64)j, s));
    if (many_selectors) f = gl_mul(f, gl_sub(UNUSED_SELECTOR, s));
    return f;
}
