// Lets the device functions of goldilocks.cuh and poseidon.cuh compile as host C++ for the
// CPU-side unit test (src/host_compiled.rs), which compares them with plonky2 bit for bit.
#define __device__
#define __forceinline__ inline
#define __constant__ static const
static inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
static inline unsigned long long __brevll(unsigned long long x) {
    unsigned long long r = 0;
    for (int i = 0; i < 64; i++) r |= ((x >> i) & 1ULL) << (63 - i);
    return r;
}
// For the quotient kernel run on the host (src/quotient.rs's test): the kernel body is called
// once per thread index with these set.
#define __global__
struct HostDim3 { unsigned x, y, z; };
static HostDim3 blockIdx, blockDim, threadIdx;
// For the proof-of-work kernel run on the host (src/pow.rs's test), one thread at a time.
static inline int __clzll(long long x) {
    return x == 0 ? 64 : __builtin_clzll((unsigned long long)x);
}
static inline unsigned long long atomicMin(unsigned long long* a, unsigned long long v) {
    unsigned long long old = *a;
    if (v < old) *a = v;
    return old;
}
// For the commitment's NTT kernels run on the host (src/fri.rs's commit-phase test) with one
// thread per block, which does the whole block's work in order, so a barrier has nothing to wait
// for. `ntt_dif_local`'s block-scope `extern __shared__ u64 sh[]` names this buffer (2^11 words:
// context.rs's LOCAL_LOG).
#define __shared__
static inline void __syncthreads() {}
static unsigned long long sh[1 << 11];
