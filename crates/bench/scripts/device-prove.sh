#!/usr/bin/env bash
# Issue 18's end-to-end figures on the device machine's CPU: batches proven end to end by
# `zkfleet prove` (every component in one process, as an operator's single host runs it), with
# the process's CPU time (user + system, every thread) per operation. Unlike the cost suite
# (one proof at a time on every core), this is the pipeline with `[circuit_prover]
# concurrent_proofs` proofs in flight, which is what the 16-core target is about; and the
# sample batch pinned to a few cores (taskset), the 2-core target's proxy on a quiet host.
#
# Stage here: cargo build --release -p zkfleet-cli && bash crates/bench/scripts/device-cost.sh --stage
# Run there:  run(command="bash crates/bench/scripts/device-prove.sh", carry=[".cost-bin"])
#
# Settings (environment):
#   GEOMETRIES   space-separated "default" or SIGS,OPS,DEPOSITS, each with an optional "/ARITY"
#                (`[proving] arity`; default: the configuration's), e.g. "default default/3"
#                (default "default"); each gets its own keystore, built first (keys-<g>.log)
#   OPERATIONS   the generated batch (default 1024; "" skips it)
#   LAYOUTS      space-separated CONCURRENT:LIGHT:HEAVY[:BACKEND] for that batch (default
#                "1:1:1 4:4:2"); BACKEND is the circuit prover's `backend`, cpu (default) or gpu
#                (issue 17's end-to-end comparison: the same batch, CPU-only against GPU, one host)
#   SAMPLE_CORES cores the sample batch (8 operations) is pinned to (default 2; "" skips it)
#   SEED of the generated batch (default 7; `zkfleet rollup generate`, its default accounts, written
#   before any timing; the sample uses prove --example's own), BIN (default .cost-bin/zkfleet)
# Under $OUT: keys-<g>.log, prove-<g>-<layout>.log, sample-<g>.log and prove.tsv (geometry,
# batch, layout, wall, user, system, CPU-s per operation, the batch's new state root).
set -uo pipefail

OUT=${OUT:-/tmp/zkfleet-device-prove}
mkdir -p "$OUT"
BIN=${BIN:-.cost-bin/zkfleet}
WORK=$(realpath -m target/device-prove)
GEOMETRIES=${GEOMETRIES:-default}
OPERATIONS=${OPERATIONS-1024}
LAYOUTS=${LAYOUTS:-"1:1:1 4:4:2"}
SAMPLE_CORES=${SAMPLE_CORES-2}
SEED=${SEED:-7}
mkdir -p "$WORK"
if [ ! -x "$BIN" ]; then
  echo "no executable $BIN: stage it first and carry .cost-bin" >&2
  exit 2
fi
{
  date -u
  echo "cpus: $(nproc)"
  grep -m1 'model name' /proc/cpuinfo
  # The batched CPU hasher (zkfleet_gpu::poseidon_x8) needs AVX-512 F; without it plonky2's scalar code runs.
  echo "avx512: $(grep -o 'avx512[a-z]*' /proc/cpuinfo | sort -u | tr '\n' ' ')"
  lscpu 2>/dev/null | grep -E '^(Thread|Core|Socket)' || true
  grep MemTotal /proc/meminfo
  echo "binary: $BIN $(sha256sum "$BIN" | cut -c1-16)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null || echo "no GPU"
} | tee "$OUT/env.txt"
# NVRTC for backend = "gpu" (the kernels are compiled at start); as crates/gpu/scripts do.
nvrtc=$(find /usr/local/cuda/lib64/ /usr/local/cuda/ /usr/lib/x86_64-linux-gnu /opt /usr/local/lib \
  -name 'libnvrtc.so*' 2>/dev/null | grep -v builtins | head -1)
[ -n "$nvrtc" ] && export LD_LIBRARY_PATH="$(dirname "$nvrtc"):${LD_LIBRARY_PATH:-}"

printf 'geometry\tbatch\tlayout\twall_s\tuser_s\tsystem_s\tcpu_s_per_operation\tnew_state_root\n' > "$OUT/prove.tsv"
status=0

# One `zkfleet prove --example` run: LABEL OPERATIONS CONFIG LIGHT HEAVY [command prefix...]
prove_once() {
  local label=$1 operations=$2 config=$3 light=$4 heavy=$5
  shift 5
  local log="$OUT/prove-$label.log" data="$WORK/data-$label"
  rm -rf "$data"
  echo "$label: $operations operations; $*; load $(cat /proc/loadavg)" | tee "$log"
  local TIMEFORMAT="wall %R user %U system %S"
  # The generated batch is written once beforehand (its XMSS keys and signatures are not
  # proving work); the sample is `zkfleet prove --example` itself, generation included, as
  # the README runs it.
  local batch_args=(--example --operations "$operations")
  [ "$operations" != 8 ] && batch_args=("$WORK/batch-$operations/batch.bin" --genesis "$WORK/batch-$operations/genesis.json")
  { time "$@" "$BIN" --config "$config" --data-dir "$data" prove "${batch_args[@]}" \
      --light "$light" --heavy "$heavy" >> "$log" 2>&1; } 2> "$OUT/time-$label.txt"
  local rc=$?
  cat "$OUT/time-$label.txt" >> "$log"
  echo "exit status $rc" >> "$log"
  [ $rc -eq 0 ] || status=$rc
  local wall user system
  read -r _ wall _ user _ system < "$OUT/time-$label.txt"
  local per_op root
  per_op=$(awk -v u="$user" -v s="$system" -v n="$operations" 'BEGIN { printf "%.3f", (u + s) / n }')
  root=$(grep -m1 "new_state_root" "$log" | awk '{print $2}')
  printf '%s\n' "$label" | tr '_' '\t' | tr -d '\n' >> "$OUT/prove.tsv"
  printf '\t%s\t%s\t%s\t%s\t%s\n' "$wall" "$user" "$system" "$per_op" "$root" >> "$OUT/prove.tsv"
  grep -E "jobs done|proven in" "$log" | tail -9
  tail -2 "$log"
  rm -rf "$data"
}

if [ -n "$OPERATIONS" ] && [ ! -f "$WORK/batch-$OPERATIONS/batch.bin" ]; then
  TIMEFORMAT="wall %R s, CPU user %U s + system %S s"
  { time "$BIN" rollup generate --operations "$OPERATIONS" --seed "$SEED" \
      --out "$WORK/batch-$OPERATIONS" > "$OUT/generate.log" 2>&1; } 2>> "$OUT/generate.log" || { tail "$OUT/generate.log"; exit 1; }
  echo "batch of $OPERATIONS operations generated: $(tail -1 "$OUT/generate.log")"
fi

for entry in $GEOMETRIES; do
  IFS=/ read -r geometry arity <<< "$entry"
  g=${geometry//,/-}
  [ -n "$arity" ] && g="$g-a$arity"
  keys="$WORK/keys-$g"
  mkdir -p "$keys"
  base="$WORK/base-$g.toml"
  {
    echo "[proving]"
    echo "keys_dir = \"$keys\""
    [ -n "$arity" ] && echo "arity = $arity"
    if [ "$geometry" != default ]; then
      IFS=, read -r sigs ops deps <<< "$geometry"
      echo
      echo "[proving.geometry]"
      echo "signatures_per_instance = $sigs"
      echo "operations_per_instance = $ops"
      echo "deposits_per_instance = $deps"
      echo "xmss_height = 10"
    fi
  } > "$base"
  TIMEFORMAT="wall %R s, CPU user %U s + system %S s"
  { time "$BIN" --config "$base" --data-dir "$WORK/keys-data" keys generate > "$OUT/keys-$g.log" 2>&1; } 2>> "$OUT/keys-$g.log" || { status=1; tail "$OUT/keys-$g.log"; continue; }
  echo "keys ($entry): $(tail -1 "$OUT/keys-$g.log")"
  grep -E "degree" "$OUT/keys-$g.log" | awk '{print "  " $1, $4, $5}'

  if [ -n "$OPERATIONS" ]; then
    for layout in $LAYOUTS; do
      IFS=: read -r concurrent light heavy backend <<< "$layout"
      backend=${backend:-cpu}
      config="$WORK/$g-$concurrent-$backend.toml"
      { cat "$base"; echo; echo "[circuit_prover]"; echo "concurrent_proofs = $concurrent"
        echo "backend = \"$backend\""; } > "$config"
      suffix=""
      [ "$backend" != cpu ] && suffix="-$backend"
      # The card's utilisation and memory every 0.5 s during a GPU run (nvidia-smi itself is
      # the background job, so the kill below stops it and not a subshell around it).
      sampler=""
      if [ "$backend" != cpu ] && command -v nvidia-smi > /dev/null; then
        nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader -lms 500 \
          > "$OUT/gpu-util-${g}-${concurrent}x${light}x${heavy}.csv" 2>&1 &
        sampler=$!
      fi
      prove_once "${g}_${OPERATIONS}_${concurrent}x${light}x${heavy}${suffix}" "$OPERATIONS" "$config" "$light" "$heavy"
      [ -n "$sampler" ] && kill "$sampler" 2>/dev/null
    done
  fi
  if [ -n "$SAMPLE_CORES" ] && command -v taskset > /dev/null; then
    cpus="0-$((SAMPLE_CORES - 1))"
    # The README's sample batch: `zkfleet prove --example`'s own seed.
    prove_once "${g}_8_sample-on-${SAMPLE_CORES}-cores" 8 "$base" 1 1 \
      env RAYON_NUM_THREADS="$SAMPLE_CORES" taskset -c "$cpus"
  fi
done
echo
cat "$OUT/prove.tsv"
exit $status
