#!/usr/bin/env bash
# Runs on the device machine (repo root), with the test binaries built here and carried:
#
#   CARGO_TARGET_DIR=/work/target-gpu cargo test -p zkfleet-gpu --release --no-run
#   CARGO_TARGET_DIR=/work/target-gpu crates/gpu/scripts/stage-binary.sh
#   run(command="bash crates/gpu/scripts/device-prove.sh", carry=[".gpu-bin"])
#
# 1. tests/prover.rs with ZKFLEET_REQUIRE_GPU=1: the prover with GPU commitments against
#    plonky2's prove (byte-identical on one thread, equal up to the grinding on 16), verified;
# 2. bench_prove: plonky2 prove vs ours with the GPU, RAYON_NUM_THREADS=16
#    (ZKFLEET_GPU_PROVE_SIZES, default "16,18"; SKIP_TESTS=1 runs the bench only).
# Under $OUT: env.txt, prover-tests.log, prove-bench.log, prove-bench.json.
set -uo pipefail
OUT=${OUT:-/tmp/zkfleet-gpu-out}
mkdir -p "$OUT"
BIN=${BIN:-.gpu-bin/prover}
export ZKFLEET_REQUIRE_GPU=1 RAYON_NUM_THREADS=16
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
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  timeout "${TEST_TIMEOUT:-150}" "$BIN" --test-threads=1 --nocapture 2>&1 | tee "$OUT/prover-tests.log"
  echo "prover tests exit status: ${PIPESTATUS[0]}" | tee -a "$OUT/prover-tests.log"
fi
ZKFLEET_GPU_PROVE_BENCH_JSON="$OUT/prove-bench.json" timeout "${BENCH_TIMEOUT:-200}" "$BIN" bench_prove \
  --ignored --test-threads=1 --nocapture 2>&1 | tee "$OUT/prove-bench.log"
echo "prove bench exit status: ${PIPESTATUS[0]}" | tee -a "$OUT/prove-bench.log"
