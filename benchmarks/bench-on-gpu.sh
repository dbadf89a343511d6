#!/usr/bin/env bash
# The GPU figures of the performance table in one command.
#   Here (a machine with .NET):   scripts/publish-gpu.sh            → gpu/xailab-gpu.tar.xz (< 64 MiB)
#   On the GPU machine (repository root, the package carried along, e.g. the device tool's
#   carry ["gpu/xailab-gpu.tar.xz"]):  XAILAB_COMMIT=<commit> benchmarks/bench-on-gpu.sh
# Writes $OUT (or ./out)/bench-gpu.json and bench-gpu.txt; then, here:
#   xailab bench table benchmarks/bench-cpu.json out/bench-gpu.json   → the README table with both columns.
set -euo pipefail
out="${OUT:-$PWD/out}"
mkdir -p "$out"
pkg="${1:-gpu/xailab-gpu.tar.xz}"
[[ -f "$pkg" ]] || { echo "error: $pkg not found: run scripts/publish-gpu.sh first and carry the package" >&2; exit 2; }
stage="$(mktemp -d)"
tar -C "$stage" -xf "$pkg"
run="$stage/xailab-gpu/run-on-gpu.sh"
export XAILAB_COMMIT="${XAILAB_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
"$run" bench run --device cuda --json "$out/bench-gpu.json" --markdown 2>&1 | tee "$out/bench-gpu.txt"
# The reference figure: ResNet50-size stand-in, 14×64×64 masks, 100 iterations, split synchronised.
"$run" bench ablation-path --device cuda --standin resnet50 --mask-size 64 --iterations 100 2>&1 | tee -a "$out/bench-gpu.txt"
