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
