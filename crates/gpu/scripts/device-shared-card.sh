#!/usr/bin/env bash
# Runs on the device machine (repo root), with the test binary built here and carried:
#
#   CARGO_TARGET_DIR=/work/target-gpu cargo test -p zkfleet-gpu --release --test shared_card --no-run
#   CARGO_TARGET_DIR=/work/target-gpu crates/gpu/scripts/stage-binary.sh   # .gpu-bin/shared_card
#   run(command="bash crates/gpu/scripts/device-shared-card.sh", carry=[".gpu-bin"])
#
# Two provers on one card (issue 20), ZKFLEET_REQUIRE_GPU=1, card ZKFLEET_GPU_DEVICE (default 0):
# 1. one process: two threads through one shared context, then two contexts on the same card;
# 2. two processes of the binary at once on the same card (two circuit provers sharing it).
# Every proof byte for byte equal to plonky2's on one thread. Under $OUT: env.txt, one.log,
# proc-a.log, proc-b.log.
set -uo pipefail
OUT=${OUT:-/tmp/zkfleet-gpu-out}
mkdir -p "$OUT"
BIN=${BIN:-.gpu-bin/shared_card}
export ZKFLEET_REQUIRE_GPU=1 ZKFLEET_GPU_DEVICE=${ZKFLEET_GPU_DEVICE:-0}
nvrtc=$(find /usr/local/cuda/lib64/ /usr/local/cuda/ /usr/lib/x86_64-linux-gnu /opt /usr/local/lib \
  -name 'libnvrtc.so*' 2>/dev/null | grep -v builtins | head -1)
[ -n "$nvrtc" ] && export LD_LIBRARY_PATH="$(dirname "$nvrtc"):${LD_LIBRARY_PATH:-}"
{
  date -u
  nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv
  echo "cpus: $(nproc)"; echo "libnvrtc: ${nvrtc:-not found}"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
echo "== one process, two threads"
timeout "${TEST_TIMEOUT:-45}" "$BIN" --test-threads=1 --nocapture 2>&1 | tee "$OUT/one.log"
echo "one process exit status: ${PIPESTATUS[0]}" | tee -a "$OUT/one.log"
echo "== two processes at once on device $ZKFLEET_GPU_DEVICE"
timeout "${TEST_TIMEOUT:-45}" "$BIN" two_provers_share_one_card --nocapture > "$OUT/proc-a.log" 2>&1 &
a=$!
timeout "${TEST_TIMEOUT:-45}" "$BIN" two_provers_share_one_card --nocapture > "$OUT/proc-b.log" 2>&1 &
b=$!
wait $a; ra=$?
wait $b; rb=$?
for p in a b; do echo "-- process $p"; cat "$OUT/proc-$p.log"; done
echo "two processes exit status: a=$ra b=$rb"
