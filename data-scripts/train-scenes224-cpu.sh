#!/usr/bin/env bash
# The CPU route for fashion-resnet-224: the same `xailab train` as train-scenes224.sh, run as a chain of short chunks
# (each continues from the previous chunk's weights with --init/--first-scene, so no scene is seen twice and a stopped
# chain loses at most one chunk). Each chunk restarts the cosine schedule at its own peak rate (warm restarts), stepping
# the peak down over the chain. Writes OUTDIR/chunk-K.dat|json and OUTDIR/train.log; the last chunk's weights are the model.
#
# Usage: data-scripts/train-scenes224-cpu.sh OUTDIR [CHUNKS] [SCENES_PER_CHUNK]
#   default 12 chunks × 6000 scenes, batch 32, 2 torch threads, run under nice so other work keeps the CPU.
# Needs the full Fashion-MNIST (data-scripts/prepare-fashion.sh) and a Release build (artifacts/xailab).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: train-scenes224-cpu.sh OUTDIR [CHUNKS] [SCENES_PER_CHUNK]}"; CHUNKS="${2:-12}"; SCENES="${3:-6000}"
mkdir -p "$OUT"
export XAILAB_ASSETS="$PWD/assets"
RUN=$(mktemp -d /tmp/xailab-train.XXXXXX); cp -r artifacts/xailab/. "$RUN/"; trap 'rm -rf "$RUN"' EXIT
LOG="$OUT/train.log"
echo "== fashion-resnet-224 CPU chain: $CHUNKS × $SCENES scenes ($(date -u +%H:%M:%S) UTC, $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2))" | tee -a "$LOG"
for ((k = 1; k <= CHUNKS; k++)); do
  [[ -f "$OUT/chunk-$k.dat" ]] && { echo "chunk $k done, skipping" | tee -a "$LOG"; continue; }
  INIT=(); [[ $k -gt 1 ]] && INIT=(--init "$OUT/chunk-$((k - 1)).dat")
  # peak rate: 0.002 for the first half of the chain, then 0.001, then 0.0005 for the last quarter
  LR=0.002; (( 2 * k > CHUNKS )) && LR=0.001; (( 4 * k > 3 * CHUNKS )) && LR=0.0005
  TEST=200; [[ $k -eq $CHUNKS ]] && TEST=2000
  nice -n 19 dotnet "$RUN/xailab.dll" train classifier --model fashion-resnet-224 --epochs 1 --scenes "$SCENES" --first-scene $(((k - 1) * SCENES)) \
    --batch 32 --lr "$LR" --seed "$k" --threads 2 --test-scenes "$TEST" "${INIT[@]}" --out "$OUT/chunk-$k.dat.part" 2>&1 | tee -a "$LOG"
  mv "$OUT/chunk-$k.dat.part" "$OUT/chunk-$k.dat"; mv "$OUT/chunk-$k.json.part" "$OUT/chunk-$k.json" 2>/dev/null || mv "$OUT/chunk-$k.dat.json" "$OUT/chunk-$k.json" 2>/dev/null || true
done
