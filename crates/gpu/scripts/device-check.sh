#!/usr/bin/env bash
# Runs on the device machine (repo root): every GPU test binary of crates/gpu, staged by
# stage-binary.sh into .gpu-bin/ and carried, with ZKFLEET_REQUIRE_GPU=1 (a test that finds no
# usable GPU fails instead of skipping) and RAYON_NUM_THREADS=16:
#
#   CARGO_TARGET_DIR=/work/target-gpu cargo test -p zkfleet-gpu --release --no-run
#   CARGO_TARGET_DIR=/work/target-gpu crates/gpu/scripts/stage-binary.sh
#   run(command="bash crates/gpu/scripts/device-check.sh", carry=[".gpu-bin"])
#
# 1. tests/device.rs (commitments vs plonky2), tests/prover.rs (whole proofs vs plonky2, both
#    backends, the quotient on the card where every gate has a kernel), tests/shared_card.rs
#    (one process, then two processes on one card);
#    (SKIP_PROCS=1 skips the two-process run);
# 2. bench_prove (plonky2 on 16 threads vs ours + GPU) at BENCH_SIZES (default "16,18"; "" skips)
#    with BENCH_RUNS runs (default 3), then BIG_SIZES (default "20") with 1 run;
# 3. .gpu-bin/backend if staged (the circuit prover's tests/backend.rs, GPU test only: builds the
#    small test keystore on this host's cores first).
# Logs and bench JSON under $OUT; a summary last.
set -uo pipefail
OUT=${OUT:-/tmp/zkfleet-gpu-out}
mkdir -p "$OUT"
export ZKFLEET_REQUIRE_GPU=1 RAYON_NUM_THREADS=16
nvrtc=$(find /usr/local/cuda/lib64/ /usr/local/cuda/ /usr/lib/x86_64-linux-gnu /opt /usr/local/lib \
  -name 'libnvrtc.so*' 2>/dev/null | grep -v builtins | head -1)
[ -n "$nvrtc" ] && export LD_LIBRARY_PATH="$(dirname "$nvrtc"):${LD_LIBRARY_PATH:-}"
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,temperature.gpu --format=csv
  echo "cpus: $(nproc)"; grep -m1 'model name' /proc/cpuinfo; grep MemTotal /proc/meminfo
  echo "libnvrtc: ${nvrtc:-not found}"
  sha256sum .gpu-bin/* 2>/dev/null
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
summary=""
LOGS=$(mktemp -d)
# At most 8 files come back from $OUT: tests.log, bench.log, backend.log, two bench JSON files,
# env.txt and summary.txt.
run_test() {  # name binary args...
  local name=$1; shift
  echo "== $name" | tee -a "$OUT/tests.log"
  timeout "${TEST_TIMEOUT:-200}" "$@" 2>&1 | tee "$LOGS/$name.log" | tee -a "$OUT/tests.log"
  local rc=${PIPESTATUS[0]}
  summary+="$name: exit $rc $(grep 'test result' "$LOGS/$name.log" | tail -1)"$'\n'
}
for name in device prover shared_card; do
  if [ -x ".gpu-bin/$name" ]; then run_test "$name" ".gpu-bin/$name" --test-threads=1
  else summary+="$name: missing"$'\n'; fi
done
if [ -x .gpu-bin/shared_card ] && [ "${SKIP_PROCS:-0}" != 1 ]; then
  echo "== two processes on one card" | tee -a "$OUT/tests.log"
  timeout 60 .gpu-bin/shared_card two_provers_share_one_card > "$LOGS/proc-a.log" 2>&1 & a=$!
  timeout 60 .gpu-bin/shared_card two_provers_share_one_card > "$LOGS/proc-b.log" 2>&1 & b=$!
  wait $a; ra=$?; wait $b; rb=$?
  cat "$LOGS/proc-a.log" "$LOGS/proc-b.log" >> "$OUT/tests.log"
  summary+="two processes: a=$ra $(grep 'test result' "$LOGS/proc-a.log") / b=$rb $(grep 'test result' "$LOGS/proc-b.log")"$'\n'
fi
bench() {  # sizes runs tag
  [ -n "$1" ] || return 0
  echo "== bench_prove sizes $1 runs $2" | tee -a "$OUT/bench.log"
  ZKFLEET_GPU_PROVE_SIZES="$1" ZKFLEET_GPU_PROVE_RUNS="$2" ZKFLEET_GPU_PROVE_BENCH_JSON="$OUT/bench-$3.json" \
    timeout "${BENCH_TIMEOUT:-300}" .gpu-bin/prover bench_prove --ignored --test-threads=1 --nocapture 2>&1 \
    | tee "$LOGS/bench-$3.log" | grep -v '^ ' | tee -a "$OUT/bench.log"
  summary+="bench $3: exit ${PIPESTATUS[0]}"$'\n'"$(grep -E '^(recursive|poseidon)' "$LOGS/bench-$3.log")"$'\n'
}
bench "${BENCH_SIZES-16,18}" "${BENCH_RUNS:-3}" main
bench "${BIG_SIZES-20}" 1 big
if [ -x .gpu-bin/backend ]; then
  # Whatever is left of BUDGET seconds (the device call's limit, less a margin).
  left=$(( ${BUDGET:-560} - SECONDS - 15 )); [ $left -lt 30 ] && left=30
  echo "== circuit prover tests/backend.rs (GPU), limit ${left}s"
  timeout "$left" .gpu-bin/backend gpu_backend --nocapture --test-threads=1 2>&1 | tee "$OUT/backend.log"
  summary+="backend: exit ${PIPESTATUS[0]} $(grep 'test result' "$OUT/backend.log" | tail -1)"$'\n'
fi
echo "== summary (${SECONDS}s)"
printf '%s' "$summary" | tee "$OUT/summary.txt"
