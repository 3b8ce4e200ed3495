#!/usr/bin/env bash
# Copies the newest release build of tests/device.rs, stripped, to .gpu-bin/device (a folder
# .git/info/exclude ignores), for `run(..., carry=[".gpu-bin"])`.
set -euo pipefail
target=${CARGO_TARGET_DIR:-target}
bin=$(ls -t "$target"/release/deps/device-* | grep -v '\.d$' | head -1)
mkdir -p .gpu-bin
strip -o .gpu-bin/device "$bin"
mkdir -p "$(git rev-parse --git-path info)"
exclude=$(git rev-parse --git-path info/exclude)
grep -qsx "/.gpu-bin/" "$exclude" || echo "/.gpu-bin/" >> "$exclude"
ls -l .gpu-bin/device
