#!/usr/bin/env bash
# Trains fashion-resnet-224 (SceneResNet, 2,806,600 parameters) on fashion-scenes-224 with the project's own
# `xailab train classifier`, evaluates it on the 2000-scene test split with the fp16 weights and writes
# assets/models/fashion-resnet-224.dat (fp16, ≈ 5.6 MB) + .json and data-scripts/logs/train-fashion-resnet-224.log.
# Needs the full Fashion-MNIST (data-scripts/prepare-fashion.sh).
#
# Usage: data-scripts/train-scenes224.sh [cuda|cpu] [EPOCHS] [SCENES_PER_EPOCH]
#   default cuda, 24 epochs × 20,000 fresh scenes, batch 64, lr 0.002 (cosine), seed 0.
#   On a GPU run it through the CUDA route of the README (e.g. scripts/with-torch-wheel.sh or the published CLI).
# CPU measurement (this repository's shared 2-core machine, load ≈ 40): 10 steps of 32 scenes took 41 s
# (1 epoch × 320 scenes, val mAP 0.28 — a smoke test, not a model); a full CPU run is impractical (≈ 15 s per 100 scenes).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE="${1:-cuda}"; EPOCHS="${2:-24}"; SCENES="${3:-20000}"
data-scripts/prepare-fashion.sh
dotnet build src/XaiLab.Cli -c Release -v q -nologo
mkdir -p data-scripts/logs
RUN=$(mktemp -d /tmp/xailab-train.XXXXXX); cp -r artifacts/xailab/. "$RUN/"; trap 'rm -rf "$RUN"' EXIT
export XAILAB_ASSETS="$PWD/assets"
LOG=data-scripts/logs/train-fashion-resnet-224.log
echo "== fashion-resnet-224 on $DEVICE: $EPOCHS × $SCENES ($(date -u +%H:%M:%S) UTC, $(nproc) cores)" | tee "$LOG"
dotnet "$RUN/xailab.dll" train classifier --model fashion-resnet-224 --device "$DEVICE" --epochs "$EPOCHS" --scenes "$SCENES" \
  --batch 64 --lr 0.002 --seed 0 --threads "$(nproc)" --test-scenes 2000 2>&1 | tee -a "$LOG"
ls -l assets/models/fashion-resnet-224.*
