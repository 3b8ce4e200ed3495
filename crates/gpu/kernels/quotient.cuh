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
#define GATE_ARITHMETIC_EXT 5
#define GATE_MUL_EXT 6
#define GATE_COSET_INTERP 7
#define GATE_REDUCING 8
#define GATE_REDUCING_EXT 9
#define GATE_RANDOM_ACCESS 10
#define GATE_EXPONENTIATION 11
#define GATE_BASE_SUM 12
#define GATE_POSEIDON_MDS 13
// The largest list a random-access gate may select from (2^RA_MAX_BITS items): the fold runs in
// a local array of that size. The host refuses larger gates (src/quotient.rs).
#define RA_MAX_BITS 6
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

// The quadratic extension F[X]/(X^2 - EXT_W) of plonky2's `QuadraticExtension<GoldilocksField>`
// (EXT_W, plonky2's `Extendable<2>::W`, comes from the prelude). An extension value on wires
// j, j+1 is `w(j) + w(j+1) X`, as plonky2's `get_local_ext`.
struct Ext {
    u64 a, b;
};
static __device__ __forceinline__ Ext ext_add(Ext x, Ext y) { return {gl_add(x.a, y.a), gl_add(x.b, y.b)}; }
static __device__ __forceinline__ Ext ext_sub(Ext x, Ext y) { return {gl_sub(x.a, y.a), gl_sub(x.b, y.b)}; }
static __device__ __forceinline__ Ext ext_scale(Ext x, u64 c) { return {gl_mul(x.a, c), gl_mul(x.b, c)}; }
static __device__ __forceinline__ Ext ext_mul(Ext x, Ext y) {
    return {gl_add(gl_mul(x.a, y.a), gl_mul(EXT_W, gl_mul(x.b, y.b))),
            gl_add(gl_mul(x.a, y.b), gl_mul(x.b, y.a))};
}
template <class W>
static __device__ __forceinline__ Ext ext_at(W w, u32 j) { return {w(j), w(j + 1)}; }
// An extension constraint is D = 2 base constraints, its coefficients in order
// (plonky2's `to_basefield_array`).
template <class E>
static __device__ __forceinline__ void emit_ext(E& emit, u32& c, Ext v) {
    emit(c++, v.a);
    emit(c++, v.b);
}

// ArithmeticExtensionGate { num_ops }: per operation, wires 8i.. multiplicand 0, multiplicand 1,
// addend, output (2 wires each); output - (m0 * m1 * c0 + addend * c1).
template <class W, class K, class E>
static __device__ __forceinline__ void gate_arithmetic_ext(u32 num_ops, W w, K k, E& emit) {
    u64 c0 = k(0), c1 = k(1);
    u32 c = 0;
    for (u32 i = 0; i < num_ops; i++) {
        Ext computed = ext_add(ext_scale(ext_mul(ext_at(w, 8 * i), ext_at(w, 8 * i + 2)), c0),
                               ext_scale(ext_at(w, 8 * i + 4), c1));
        emit_ext(emit, c, ext_sub(ext_at(w, 8 * i + 6), computed));
    }
}

// MulExtensionGate { num_ops }: per operation, wires 6i.. multiplicand 0, multiplicand 1,
// output; output - m0 * m1 * c0.
template <class W, class K, class E>
static __device__ __forceinline__ void gate_mul_ext(u32 num_ops, W w, K k, E& emit) {
    u64 c0 = k(0);
    u32 c = 0;
    for (u32 i = 0; i < num_ops; i++) {
        Ext computed = ext_scale(ext_mul(ext_at(w, 6 * i), ext_at(w, 6 * i + 2)), c0);
        emit_ext(emit, c, ext_sub(ext_at(w, 6 * i + 4), computed));
    }
}

// CosetInterpolationGate { subgroup_bits, degree }: wire 0 the coset shift, then the 2^bits
// values (ext), the evaluation point (ext), the evaluation value (ext), the intermediate evals,
// the intermediate products, the shifted evaluation point. `data` holds the subgroup's points
// (plonky2's `two_adic_subgroup`, in order) then the barycentric weights, 2^bits each.
//
// Constraints: point - shifted * shift; then per intermediate i its eval and its product against
// the running barycentric fold (plonky2's `partial_interpolate`: eval = eval * (z - x_j) +
// v_j * w_j * prod, prod = prod * (z - x_j)) over points [1 + (degree-1) i, ...) , the first
// chunk being [0, degree); finally the evaluation value against the last eval.
template <class W, class E>
static __device__ __forceinline__ void gate_coset_interp(u32 bits, u32 degree, const u64* data, W w,
                                                         E& emit) {
    u32 n = 1u << bits;
    u32 inter = (n - 2) / (degree - 1);
    u32 start_point = 1 + 2 * n, start_value = start_point + 2, start_inter = start_value + 2;
    u32 start_shifted = start_inter + 4 * inter;
    const u64* domain = data;
    const u64* weights = data + n;
    u64 shift = w(0);
    Ext z = ext_at(w, start_shifted);
    u32 c = 0;
    emit_ext(emit, c, ext_sub(ext_at(w, start_point), ext_scale(z, shift)));
    Ext eval = {0, 0}, prod = {1, 0};
    auto fold = [&](u32 from, u32 to) {
        for (u32 j = from; j < to; j++) {
            Ext term = {gl_sub(z.a, domain[j]), z.b};
            Ext val = ext_scale(ext_at(w, 1 + 2 * j), weights[j]);
            eval = ext_add(ext_mul(eval, term), ext_mul(val, prod));
            prod = ext_mul(prod, term);
        }
    };
    fold(0, degree);
    for (u32 i = 0; i < inter; i++) {
        Ext ie = ext_at(w, start_inter + 2 * i);
        Ext ip = ext_at(w, start_inter + 2 * (inter + i));
        emit_ext(emit, c, ext_sub(ie, eval));
        emit_ext(emit, c, ext_sub(ip, prod));
        u32 from = 1 + (degree - 1) * (i + 1);
        u32 to = from + degree - 1;
        if (to > n) to = n;
        eval = ie;
        prod = ip;
        fold(from, to);
    }
    emit_ext(emit, c, ext_sub(ext_at(w, start_value), eval));
}

// ReducingGate { num_coeffs } (base-field coefficients) and ReducingExtensionGate { num_coeffs }
// (extension coefficients): wires 0..2 output, 2..4 alpha, 4..6 old accumulator, then the
// coefficients (1 or 2 wires each), then the accumulators but the last (which is the output).
// acc_{i-1} * alpha + coeff_i - acc_i per coefficient.
template <class W, class E>
static __device__ __forceinline__ void gate_reducing(u32 num_coeffs, bool ext_coeffs, W w, E& emit) {
    Ext alpha = ext_at(w, 2);
    Ext acc = ext_at(w, 4);
    u32 coeff_width = ext_coeffs ? 2 : 1;
    u32 start_accs = 6 + coeff_width * num_coeffs;
    u32 c = 0;
    for (u32 i = 0; i < num_coeffs; i++) {
        Ext coeff = ext_coeffs ? ext_at(w, 6 + 2 * i) : Ext{w(6 + i), 0};
        Ext acc_i = i + 1 == num_coeffs ? ext_at(w, 0) : ext_at(w, start_accs + 2 * i);
        emit_ext(emit, c, ext_sub(ext_add(ext_mul(acc, alpha), coeff), acc_i));
        acc = acc_i;
    }
}

// RandomAccessGate { bits, num_copies, num_extra_constants }: per copy, at (2 + 2^bits) * copy
// the index, the claimed element and the list; after the copies the extra constants' wires; after
// those (the routed wires) the index bits of each copy. Per copy: each bit boolean, the bits'
// little-endian sum minus the index, the list folded by the bits minus the claimed element; then
// constant_i - wire_i for the extra constants.
template <class W, class K, class E>
static __device__ __forceinline__ void gate_random_access(u32 bits, u32 copies, u32 extra, W w, K k,
                                                          E& emit) {
    u32 size = 1u << bits;
    u32 stride = 2 + size;
    u32 routed = stride * copies + extra;
    u32 c = 0;
    for (u32 copy = 0; copy < copies; copy++) {
        u32 base = stride * copy;
        u32 bit0 = routed + copy * bits;
        for (u32 i = 0; i < bits; i++) {
            u64 b = w(bit0 + i);
            emit(c++, gl_mul(b, gl_sub(b, 1)));
        }
        u64 index = 0;
        for (u32 i = bits; i-- > 0;) index = gl_add(gl_add(index, index), w(bit0 + i));
        emit(c++, gl_sub(index, w(base)));
        u64 items[1u << RA_MAX_BITS];
        for (u32 i = 0; i < size; i++) items[i] = w(base + 2 + i);
        u32 len = size;
        for (u32 i = 0; i < bits; i++) {
            u64 b = w(bit0 + i);
            len >>= 1;
            for (u32 j = 0; j < len; j++) {
                u64 x = items[2 * j], y = items[2 * j + 1];
                items[j] = gl_add(x, gl_mul(b, gl_sub(y, x)));
            }
        }
        emit(c++, gl_sub(items[0], w(base + 1)));
    }
    for (u32 i = 0; i < extra; i++) emit(c++, gl_sub(k(i), w(stride * copies + i)));
}

// ExponentiationGate { num_power_bits }: wire 0 the base, 1.. the exponent's bits (little
// endian), then the output, then the intermediate values. Square-and-multiply from the top bit:
// prev * (bit * base + 1 - bit) - intermediate_i, prev = intermediate_{i-1}^2 (1 at first);
// finally output - the last intermediate.
template <class W, class E>
static __device__ __forceinline__ void gate_exponentiation(u32 num_bits, W w, E& emit) {
    u64 base = w(0);
    u32 out_wire = 1 + num_bits;
    u32 c = 0;
    u64 last = 1;
    for (u32 i = 0; i < num_bits; i++) {
        u64 prev = i == 0 ? 1 : gl_mul(last, last);
        u64 bit = w(1 + (num_bits - i - 1));
        u64 computed = gl_mul(prev, gl_add(gl_mul(bit, base), gl_sub(1, bit)));
        u64 inter = w(out_wire + 1 + i);
        emit(c++, gl_sub(computed, inter));
        last = inter;
    }
    emit(c++, gl_sub(w(out_wire), last));
}

// BaseSumGate<B> { num_limbs }: wire 0 the sum, 1.. the limbs (little endian). The limbs' sum in
// base B minus the sum, then per limb prod_{i < B} (limb - i).
template <class W, class E>
static __device__ __forceinline__ void gate_base_sum(u32 num_limbs, u32 radix, W w, E& emit) {
    u64 sum = 0;
    for (u32 i = num_limbs; i-- > 0;) sum = gl_add(gl_mul(sum, radix), w(1 + i));
    u32 c = 0;
    emit(c++, gl_sub(sum, w(0)));
    for (u32 l = 0; l < num_limbs; l++) {
        u64 limb = w(1 + l), p = 1;
        for (u32 i = 0; i < radix; i++) p = gl_mul(p, gl_sub(limb, i));
        emit(c++, p);
    }
}

// PoseidonMdsGate: 12 extension inputs on wires 0..24, 12 extension outputs on 24..48; output -
// MDS(input). The MDS matrix has base-field entries, so it acts on each coefficient separately.
template <class W, class E>
static __device__ __forceinline__ void gate_poseidon_mds(W w, E& emit) {
    u64 sa[POSEIDON_WIDTH], sb[POSEIDON_WIDTH];
#pragma unroll
    for (int i = 0; i < POSEIDON_WIDTH; i++) {
        sa[i] = w(2 * i);
        sb[i] = w(2 * i + 1);
    }
    mds_layer(sa);
    mds_layer(sb);
    u32 c = 0;
#pragma unroll
    for (int i = 0; i < POSEIDON_WIDTH; i++)
        emit_ext(emit, c, ext_sub(ext_at(w, 2 * (POSEIDON_WIDTH + i)), Ext{sa[i], sb[i]}));
}

// One entry of the gate table (src/quotient.rs builds it): kind, the gate's index (its `row` in
// the selector group), its selector column, its group [start, end), and three parameters:
//   constant: num_consts; arithmetic, arithmetic ext, mul ext: num_ops; reducing (ext):
//   num_coeffs; exponentiation: num_power_bits; base sum: num_limbs, B;
//   coset interpolation: subgroup_bits, degree, offset of its points and weights in `gate_data`;
//   random access: bits, num_copies, num_extra_constants.
struct GateEntry {
    u32 kind, row, selector, group_start, group_end, p0, p1, p2;
};

// Dispatches one gate.
template <class W, class K, class E>
static __device__ __forceinline__ void eval_gate(const GateEntry& g, const u64* pi_hash, const u64* gate_data,
                                                 W w, K k, E& emit) {
    switch (g.kind) {
        case GATE_CONSTANT: gate_constant(g.p0, w, k, emit); break;
        case GATE_PUBLIC_INPUT: gate_public_input(pi_hash, w, emit); break;
        case GATE_ARITHMETIC: gate_arithmetic(g.p0, w, k, emit); break;
        case GATE_POSEIDON: gate_poseidon(w, emit); break;
        case GATE_ARITHMETIC_EXT: gate_arithmetic_ext(g.p0, w, k, emit); break;
        case GATE_MUL_EXT: gate_mul_ext(g.p0, w, k, emit); break;
        case GATE_COSET_INTERP: gate_coset_interp(g.p0, g.p1, gate_data + g.p2, w, emit); break;
        case GATE_REDUCING: gate_reducing(g.p0, false, w, emit); break;
        case GATE_REDUCING_EXT: gate_reducing(g.p0, true, w, emit); break;
        case GATE_RANDOM_ACCESS: gate_random_access(g.p0, g.p1, g.p2, w, k, emit); break;
        case GATE_EXPONENTIATION: gate_exponentiation(g.p0, w, emit); break;
        case GATE_BASE_SUM: gate_base_sum(g.p0, g.p1, w, emit); break;
        case GATE_POSEIDON_MDS: gate_poseidon_mds(w, emit); break;
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
