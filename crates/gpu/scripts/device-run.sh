#!/usr/bin/env bash
# Runs on the device machine (repo root), with the test binary built here and carried:
#
#   CARGO_TARGET_DIR=/work/target-gpu cargo test -p zkfleet-gpu --release --no-run
#   crates/gpu/scripts/stage-binary.sh          # copies the stripped binary to .gpu-bin/device
#   run(command="bash crates/gpu/scripts/device-run.sh", carry=[".gpu-bin"])
#
# 1. the GPU-vs-plonky2 correctness tests (ZKFLEET_REQUIRE_GPU=1: no silent skip);
# 2. the commit bench (GPU vs PolynomialBatch::from_values on RAYON_NUM_THREADS=16).
# Everything lands under $OUT: env.txt, correctness.log, bench.log, bench.json.
set -uo pipefail
OUT=${OUT:-/tmp/zkfleet-gpu-out}
mkdir -p "$OUT"
BIN=${BIN:-.gpu-bin/device}
export ZKFLEET_REQUIRE_GPU=1 RAYON_NUM_THREADS=16

# The kernels are compiled with NVRTC at run time: find libnvrtc (toolkit or pip wheel).
nvrtc=$(find /usr/local/cuda/lib64/ /usr/local/cuda/ /usr/lib/x86_64-linux-gnu /opt /usr/local/lib \
  -name 'libnvrtc.so*' 2>/dev/null | grep -v builtins | head -1)
[ -n "$nvrtc" ] && export LD_LIBRARY_PATH="$(dirname "$nvrtc"):${LD_LIBRARY_PATH:-}"

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,temperature.gpu --format=csv
  echo "cpus: $(nproc)"; grep -m1 'model name' /proc/cpuinfo; grep MemTotal /proc/meminfo
  echo "libnvrtc: ${nvrtc:-not found}"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

timeout 170 "$BIN" --test-threads=1 --nocapture 2>&1 | tee "$OUT/correctness.log"
echo "correctness exit status: ${PIPESTATUS[0]}" | tee -a "$OUT/correctness.log"

ZKFLEET_GPU_BENCH_JSON="$OUT/bench.json" timeout "${BENCH_TIMEOUT:-380}" "$BIN" bench_commit --ignored \
  --test-threads=1 --nocapture 2>&1 | tee "$OUT/bench.log"
echo "bench exit status: ${PIPESTATUS[0]}" | tee -a "$OUT/bench.log"
[ -f "$OUT/bench.json" ] && cat "$OUT/bench.json"
