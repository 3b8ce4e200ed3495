#!/usr/bin/env bash
# Copies the newest release builds of tests/device.rs and tests/prover.rs, stripped, to
# .gpu-bin/device and .gpu-bin/prover (a folder .git/info/exclude ignores), for
# `run(..., carry=[".gpu-bin"])`.
set -euo pipefail
target=${CARGO_TARGET_DIR:-target}
mkdir -p .gpu-bin
for name in device prover shared_card; do
  bin=$(ls -t "$target"/release/deps/$name-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
  if [ -n "$bin" ]; then strip -o ".gpu-bin/$name" "$bin"; fi
done
mkdir -p "$(git rev-parse --git-path info)"
exclude=$(git rev-parse --git-path info/exclude)
grep -qsx "/.gpu-bin/" "$exclude" || echo "/.gpu-bin/" >> "$exclude"
ls -l .gpu-bin/
