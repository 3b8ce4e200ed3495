#!/usr/bin/env bash
# The cost suite (issue 18) on the device machine's CPU: it has no Rust toolchain, so the
# stripped release `zkfleet` binary is carried in, builds the keystore there and runs
# `zkfleet bench --suites cost` (CPU only: the cost suite never touches a GPU).
#
# Stage here (repo root):
#
#   cargo build --release -p zkfleet-cli
#   bash crates/bench/scripts/device-cost.sh --stage     # .cost-bin/zkfleet, stripped (~37 MB)
#
# Run there (the keystore stays in target/device-cost/ while the machine is warm, so a second
# call skips the keys; each call must fit the device's 10-minute command limit):
#
#   run(command="STAGE=keys bash crates/bench/scripts/device-cost.sh", carry=[".cost-bin"])
#   run(command="STAGE=cost bash crates/bench/scripts/device-cost.sh", carry=[".cost-bin"])
#   (STAGE=all, the default, does both in one call when they fit)
#
# Settings (environment): OPERATIONS (generated batch sizes, default 1024; "" = the sample
# batch only), RUNS (default 1), GEOMETRY=SIGS,OPS,DEPOSITS (default: the build's default
# geometry), ARITY (default 2), COMPRESSION (default: the build's default profile),
# BIN (default .cost-bin/zkfleet), KEYS_DIR (default target/device-cost/keys).
#
# Under $OUT: env.txt (CPU, cores, memory, binary), keys.log (`zkfleet keys generate`, with
# its wall and CPU time: how long building the keys takes there), cost.json (the suite's
# report), cost.md (its tables, as printed), cost.log (stderr).
set -uo pipefail

if [ "${1:-}" = "--stage" ]; then
  set -e
  target=${CARGO_TARGET_DIR:-target}
  mkdir -p .cost-bin
  strip -o .cost-bin/zkfleet "$target/release/zkfleet"
  exclude=$(git rev-parse --git-path info/exclude)
  mkdir -p "$(dirname "$exclude")"
  grep -qsx "/.cost-bin/" "$exclude" || echo "/.cost-bin/" >> "$exclude"
  ls -l .cost-bin/
  echo "carry [\".cost-bin\"] ($(du -sm .cost-bin | cut -f1) MiB of the 64 MiB allowed)"
  exit 0
fi

OUT=${OUT:-/tmp/zkfleet-device-cost}
mkdir -p "$OUT"
BIN=${BIN:-.cost-bin/zkfleet}
STAGE=${STAGE:-all}
KEYS_DIR=$(realpath -m "${KEYS_DIR:-target/device-cost/keys}")
WORK=$(realpath -m target/device-cost)
mkdir -p "$KEYS_DIR" "$WORK"
if [ ! -x "$BIN" ]; then
  echo "no executable $BIN: stage it first (--stage) and carry .cost-bin" >&2
  exit 2
fi

config="$WORK/zkfleet.toml"
{
  echo "[proving]"
  echo "keys_dir = \"$KEYS_DIR\""
  echo "arity = ${ARITY:-2}"
  [ -n "${COMPRESSION:-}" ] && echo "compression = \"$COMPRESSION\""
  if [ -n "${GEOMETRY:-}" ]; then
    IFS=, read -r sigs ops deps <<< "$GEOMETRY"
    echo
    echo "[proving.geometry]"
    echo "signatures_per_instance = $sigs"
    echo "operations_per_instance = $ops"
    echo "deposits_per_instance = $deps"
    echo "xmss_height = 10"
  fi
} > "$config"

{
  date -u
  echo "cpus: $(nproc)"
  grep -m1 'model name' /proc/cpuinfo
  grep MemTotal /proc/meminfo
  echo "load: $(cat /proc/loadavg)"
  echo "binary: $BIN $(sha256sum "$BIN" | cut -c1-16) $("$BIN" --version 2>&1 | head -1)"
  echo "config:"; cat "$config"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

zkfleet() { "$BIN" --config "$config" --data-dir "$WORK/data" "$@"; }

# Wall and CPU time (user + system, the command and its children) of one command, into a log.
timed() {
  local log=$1; shift
  local TIMEFORMAT="wall %R s, CPU user %U s + system %S s"
  { time "$@" >> "$log" 2>&1; } 2>> "$log"
  local status=$?
  echo "exit status $status" >> "$log"
  return $status
}

if [ "$STAGE" = keys ] || [ "$STAGE" = all ]; then
  if ls "$KEYS_DIR"/aggregation_*.final_vk.bin > /dev/null 2>&1; then
    echo "keystore already in $KEYS_DIR (kept from an earlier call): not rebuilt" | tee "$OUT/keys.log"
  else
    echo "building the keystore in $KEYS_DIR" | tee "$OUT/keys.log"
    timed "$OUT/keys.log" zkfleet keys generate || exit 1
  fi
  ls -l "$KEYS_DIR" >> "$OUT/keys.log"
  tail -3 "$OUT/keys.log"
fi

if [ "$STAGE" = cost ] || [ "$STAGE" = all ]; then
  ops=${OPERATIONS-1024}
  args=(bench --suites cost --runs "${RUNS:-1}" --out "$OUT/cost.json" --no-publish --docs-dir "$WORK/docs")
  mkdir -p "$WORK/docs"
  [ -n "$ops" ] && args+=(--operations "$ops")
  # An empty OPERATIONS proves the sample batch only: the quick mode of the suite.
  [ -z "$ops" ] && args+=(--quick)
  echo "zkfleet ${args[*]}" | tee "$OUT/cost.log"
  started=$(date +%s)
  zkfleet "${args[@]}" > "$OUT/cost.md" 2>> "$OUT/cost.log"
  status=$?
  echo "exit status $status after $(( $(date +%s) - started )) s; load $(cat /proc/loadavg)" | tee -a "$OUT/cost.log"
  cat "$OUT/cost.md"
  exit $status
fi
