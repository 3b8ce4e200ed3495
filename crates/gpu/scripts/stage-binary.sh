#!/usr/bin/env bash
# Copies the newest release builds of crates/gpu's tests/device.rs, tests/prover.rs and
# tests/shared_card.rs, stripped, to .gpu-bin/{device,prover,shared_card} (a folder
# .git/info/exclude ignores), for `run(..., carry=[".gpu-bin"])`; with STAGE_BACKEND=1 also the
# circuit prover's tests/backend.rs as .gpu-bin/backend (build it with
# `cargo test -p zkfleet-circuit-prover --release --test backend --no-run`).
set -euo pipefail
target=${CARGO_TARGET_DIR:-target}
mkdir -p .gpu-bin
names="device prover shared_card"
[ "${STAGE_BACKEND:-0}" = 1 ] && names="$names backend"
rm -f .gpu-bin/backend
for name in $names; do
  bin=$(ls -t "$target"/release/deps/$name-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
  if [ -n "$bin" ]; then strip -o ".gpu-bin/$name" "$bin"; fi
done
mkdir -p "$(git rev-parse --git-path info)"
exclude=$(git rev-parse --git-path info/exclude)
grep -qsx "/.gpu-bin/" "$exclude" || echo "/.gpu-bin/" >> "$exclude"
ls -l .gpu-bin/
