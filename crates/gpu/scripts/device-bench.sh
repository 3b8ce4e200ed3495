#!/usr/bin/env bash
# Runs `zkfleet bench --suites gpu` on the device machine (repo root), with the stripped release
# `zkfleet` built here and carried as .gpu-bin/zkfleet:
#
#   CARGO_TARGET_DIR=/work/target-gpu cargo build --release -p zkfleet-cli --bin zkfleet
#   strip -o .gpu-bin/zkfleet /work/target-gpu/release/zkfleet
#   run(command="bash crates/gpu/scripts/device-bench.sh", carry=[".gpu-bin"])
#
# The proving configuration is the small test one (arity 2, light compression, geometry
# 2/1/2/2), its keystore built on this host's cores first (KEYS_DIR: a keystore directory to use
# instead, e.g. the one the circuit prover's backend test built earlier on the same warm machine);
# CIRCUITS=default: the default configuration instead (KEYS_DIR, e.g. the keystore
# crates/bench/scripts/device-prove.sh built on the same warm machine, target/device-prove/keys-default).
# BENCH_ARGS (default "--quick --runs 3"): the suite's mode. SUITES (default gpu): gpu,
# gpu-fleet or both ("gpu,gpu-fleet"). Under $OUT: env.txt, bench-gpu.json, bench-gpu.log and
# gpu-util.csv (the card's utilisation and memory every 0.5 s, with timestamps, over the run).
set -uo pipefail
OUT=${OUT:-/tmp/zkfleet-gpu-out}
mkdir -p "$OUT"
export RAYON_NUM_THREADS=${RAYON_NUM_THREADS:-16}
nvrtc=$(find /usr/local/cuda/lib64/ /usr/local/cuda/ /usr/lib/x86_64-linux-gnu /opt /usr/local/lib \
  -name 'libnvrtc.so*' 2>/dev/null | grep -v builtins | head -1)
[ -n "$nvrtc" ] && export LD_LIBRARY_PATH="$(dirname "$nvrtc"):${LD_LIBRARY_PATH:-}"
work=$(mktemp -d)
if [ "${CIRCUITS:-small}" = default ]; then
  # The default proving configuration (geometry, arity, standard compression): the full
  # suite's job kinds at the size a fleet proves.
  printf '[proving]\nkeys_dir = "%s"\n' "${KEYS_DIR:-$work/keys}" > "$work/zkfleet.toml"
else
  cat > "$work/zkfleet.toml" <<TOML
[proving]
protocol_version = "0.1.0"
keys_dir = "${KEYS_DIR:-$work/keys}"
arity = 2
compression = "light"

[proving.geometry]
signatures_per_instance = 2
operations_per_instance = 1
deposits_per_instance = 2
xmss_height = 2
TOML
fi
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  echo "cpus: $(nproc)"; grep -m1 'model name' /proc/cpuinfo
  sha256sum .gpu-bin/zkfleet
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
sampler=""
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -lms 500 \
    > "$OUT/gpu-util.csv" 2>&1 &
  sampler=$!
fi
# shellcheck disable=SC2086
timeout "${LIMIT:-220}" .gpu-bin/zkfleet --config "$work/zkfleet.toml" --data-dir "$work/data" \
  bench ${BENCH_ARGS:---quick --runs 3} --suites "${SUITES:-gpu}" --out "$OUT/bench-gpu.json" --no-publish 2>&1 \
  | tail -c 30000 | tee "$OUT/bench-gpu.log"
echo "zkfleet bench exit status: ${PIPESTATUS[0]}"
[ -n "$sampler" ] && kill "$sampler" 2> /dev/null
python3 - "$OUT/bench-gpu.json" <<'PY' || true
import json, sys
suites = json.load(open(sys.argv[1]))["suites"]
if "gpu" in suites:
    r = suites["gpu"]["report"]
    print(r["device"], "threads", r["cpu_threads"], "runs", r["runs"], "commit", r["git_commit"])
    for c in r["circuits"]:
        print(f'{c["circuit"]:28s} 2^{c["degree_bits"]:<3d} plonky2 {c["plonky2_prove_s"]["median"]:.3f} '
              f'gpu {c["gpu_prove_s"]["median"]:.3f} {c["speedup"]:.2f}x quotient_on_gpu={c["quotient_on_gpu"]}')
if "gpu_fleet" in suites:
    r = suites["gpu_fleet"]["report"]
    print("gpu-fleet:", r["operations"], "operations,", r["prover_jobs"], "prover jobs, runs", r["runs"], "commit", r["git_commit"])
    for c in r["cells"]:
        x = c["speedup"]
        print(f'{c["fleet"]:12s} ready {c["ready_s"]["median"]:.2f} s, wall {c["wall_s"]["median"]:.2f} s '
              f'{c["wall_s"]["runs"]}, provers {c["provers_wall_s"]["median"]:.2f} s, '
              f'vs cpu-only {"-" if x is None else f"{x:.2f}x"}, jobs {c["jobs_by_prover"]}')
PY
