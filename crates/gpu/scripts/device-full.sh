#!/usr/bin/env bash
# One device call for everything GPU (repo root of the device machine): device-check.sh (the gpu
# crate's tests on the card, bench_prove, the circuit prover's tests/backend.rs GPU test) and
# then device-bench.sh (`zkfleet bench --suites gpu`), the bench reusing the small test keystore
# the backend test built. Stage first, here:
#
#   CARGO_TARGET_DIR=/work/target-gpu cargo test -p zkfleet-gpu --release --no-run
#   CARGO_TARGET_DIR=/work/target-gpu cargo test -p zkfleet-circuit-prover --release --test backend --no-run
#   CARGO_TARGET_DIR=/work/target-gpu cargo build --release -p zkfleet-cli --bin zkfleet
#   CARGO_TARGET_DIR=/work/target-gpu STAGE_BACKEND=1 crates/gpu/scripts/stage-binary.sh
#   strip -o .gpu-bin/zkfleet /work/target-gpu/release/zkfleet
#   run(command="bash crates/gpu/scripts/device-full.sh", carry=[".gpu-bin"])
#
# At most 8 files come back from a call, so each script writes into its own folder and every
# file is packed into $OUT/all.tgz; the two summaries are also copied to $OUT as they are.
# CHECK_LIMIT / BENCH_LIMIT: seconds for each part (defaults 330 and 230).
set -uo pipefail
OUT=${OUT:-/tmp/zkfleet-gpu-out}
mkdir -p "$OUT/check" "$OUT/bench"
here=$(dirname "$0")
# The backend test's keystore: its CARGO_TARGET_TMPDIR, as compiled in on the build host.
keys=/work/target-gpu/tmp/test-keys-small-light
OUT="$OUT/check" BUDGET=${CHECK_LIMIT:-330} SKIP_PROCS=${SKIP_PROCS:-0} \
  BENCH_SIZES=${BENCH_SIZES-16} BIG_SIZES=${BIG_SIZES-} timeout $(( ${CHECK_LIMIT:-330} + 20 )) \
  bash "$here/device-check.sh"
echo "device-check.sh exit status: $?"
[ -d "$keys" ] && export KEYS_DIR=$keys
OUT="$OUT/bench" LIMIT=${BENCH_LIMIT:-230} bash "$here/device-bench.sh" > "$OUT/bench/summary.txt" 2>&1
echo "device-bench.sh exit status: $?"
tail -n 20 "$OUT/bench/summary.txt"
cp "$OUT/check/summary.txt" "$OUT/check-summary.txt" 2>/dev/null
cp "$OUT/bench/summary.txt" "$OUT/bench-summary.txt" 2>/dev/null
tar -C "$OUT" -czf "$OUT/all.tgz" check bench
rm -rf "$OUT/check" "$OUT/bench"
ls -l "$OUT"
