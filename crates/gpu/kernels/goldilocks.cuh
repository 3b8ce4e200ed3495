// Goldilocks field arithmetic, p = 2^64 - 2^32 + 1, on 64-bit words.
//
// Every function here takes canonical inputs (< p) and returns a canonical output. plonky2 keeps
// some values non-canonical internally, but its equality and hashing work on the canonical form,
// so canonical values everywhere on the device give bit-identical digests and make the LDE output
// directly comparable. Inputs from the host are canonicalised once (`gl_canonicalize` kernel).
//
// This file is compiled by NVRTC (device code) and, for the CPU-side unit test of the arithmetic,
// by the host C++ compiler through `host_shim.h`; hence no CUDA headers are included.

typedef unsigned long long u64;
typedef unsigned int u32;

#define GL_P 0xFFFFFFFF00000001ULL
// 2^64 mod p = 2^32 - 1.
#define GL_EPS 0xFFFFFFFFULL

static __device__ __forceinline__ u64 gl_canon(u64 a) { return a >= GL_P ? a - GL_P : a; }

static __device__ __forceinline__ u64 gl_add(u64 a, u64 b) {
    u64 s = a + b;
    // a + b < 2p < 2^65: on a carry out of 64 bits, or a sum >= p, subtract p once. With a carry,
    // the wrapped `s - p` equals the true sum minus p because 2^64 - p = EPS is added implicitly.
    if (s < a || s >= GL_P) s -= GL_P;
    return s;
}

static __device__ __forceinline__ u64 gl_sub(u64 a, u64 b) {
    u64 d = a - b;
    if (a < b) d += GL_P;  // wrapping: a - b + 2^64 + p mod 2^64 = a - b + p
    return d;
}

// Reduces lo + 2^64 * hi mod p, for any 128-bit value (the same steps as plonky2's `reduce128`:
// 2^64 = EPS and 2^96 = -1 mod p), then canonicalises.
static __device__ __forceinline__ u64 gl_reduce128(u64 lo, u64 hi) {
    u64 hi_hi = hi >> 32;
    u64 hi_lo = hi & GL_EPS;
    u64 t0 = lo - hi_hi;
    if (lo < hi_hi) t0 -= GL_EPS;  // borrow: the wrapped value has 2^64 = EPS too much
    u64 t1 = hi_lo * GL_EPS;       // < 2^64, no overflow
    u64 t2 = t0 + t1;
    if (t2 < t0) t2 += GL_EPS;     // carry: 2^64 = EPS; cannot overflow again (see plonky2)
    return gl_canon(t2);
}

static __device__ __forceinline__ u64 gl_mul(u64 a, u64 b) {
    return gl_reduce128(a * b, __umul64hi(a, b));
}

static __device__ __forceinline__ u64 gl_pow(u64 base, u64 exp) {
    u64 r = 1;
    while (exp) {
        if (exp & 1) r = gl_mul(r, base);
        base = gl_mul(base, base);
        exp >>= 1;
    }
    return r;
}

// Reverses the low `bits` bits of i.
static __device__ __forceinline__ u64 bitrev(u64 i, u32 bits) {
    return bits == 0 ? 0 : (__brevll(i) >> (64 - bits));
}
