#!/usr/bin/env bash
# Runs on the device machine (repo root): issue 17's streams and memory-budget check in one call.
#
# 1. crates/gpu/scripts/device-check.sh (the gpu crate's test binaries from .gpu-bin, among them
#    tests/shared_card.rs: four proofs at once through one GpuCommit, the memory budget; then
#    bench_prove at BENCH_SIZES), its files under $OUT/check/;
# 2. crates/bench/scripts/device-prove.sh (the 1,024-operation batch by `zkfleet prove`, GPU
#    layouts with 1, 2 and 4 proofs in flight and the CPU-only baseline in the same call), its
#    files under $OUT/prove/.
# At most 8 files come back from $OUT, so each part's folder is also packed into one tarball and
# only the tarballs and the two summaries stay under $OUT.
#
# Stage here:
#   CARGO_TARGET_DIR=/work/target-gpu cargo build --release -p zkfleet-cli --bin zkfleet
#   mkdir -p .cost-bin && strip -o .cost-bin/zkfleet /work/target-gpu/release/zkfleet
#   CARGO_TARGET_DIR=/work/target-gpu cargo test -p zkfleet-gpu --release --no-run
#   CARGO_TARGET_DIR=/work/target-gpu bash crates/gpu/scripts/stage-binary.sh
# Run there: run(command="bash crates/gpu/scripts/device-streams.sh", carry=[".gpu-bin", ".cost-bin"])
# Settings: CHECK=0 skips part 1, PROVE=0 part 2; LAYOUTS (default "1:8:4:gpu 2:8:4:gpu
# 4:8:4:gpu 4:4:2"); the two scripts' own settings pass through.
set -uo pipefail
OUT=${OUT:-/tmp/zkfleet-streams-out}
mkdir -p "$OUT"
work=$(mktemp -d)
if [ "${CHECK:-1}" = 1 ]; then
  mkdir -p "$work/check"
  OUT="$work/check" SKIP_PROCS=${SKIP_PROCS:-1} BENCH_SIZES=${BENCH_SIZES-16} BIG_SIZES=${BIG_SIZES-} \
    BUDGET=${BUDGET:-200} bash crates/gpu/scripts/device-check.sh
  echo "device-check rc $?" | tee -a "$work/check/summary.txt"
  cp "$work/check/summary.txt" "$OUT/check-summary.txt"
  tar -C "$work" -czf "$OUT/check.tar.gz" check
fi
if [ "${PROVE:-1}" = 1 ]; then
  mkdir -p "$work/prove"
  OUT="$work/prove" OPERATIONS=${OPERATIONS-1024} GEOMETRIES=${GEOMETRIES:-default} \
    LAYOUTS=${LAYOUTS:-"1:8:4:gpu 2:8:4:gpu 4:8:4:gpu 4:4:2"} SAMPLE_CORES=${SAMPLE_CORES-} \
    bash crates/bench/scripts/device-prove.sh
  rc=$?
  echo "device-prove rc $rc"
  { cat "$work/prove/prove.tsv"; echo "device-prove rc $rc"; } > "$OUT/prove-summary.tsv"
  tar -C "$work" -czf "$OUT/prove.tar.gz" prove
fi
ls -l "$OUT"
