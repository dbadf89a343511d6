#!/usr/bin/env bash
# Trains the registered Fashion-scene models on this machine's CPU and writes assets/models/NAME.{dat,json} and
# data-scripts/logs/train-NAME.log. Needs the full Fashion-MNIST (data-scripts/prepare-fashion.sh).
# Usage: data-scripts/train-models.sh [NAME ...]   (default: all four below; about 45 min on a busy 2-core machine)
# Schedules (epochs × fresh scenes per epoch, batch 32, AdamW, cosine lr from 0.002, seed 0):
set -euo pipefail
cd "$(dirname "$0")/.."
data-scripts/prepare-fashion.sh
dotnet build src/XaiLab.Cli -c Release -v q -nologo
declare -A SCHEDULE=(
  [fashion-cnn]="--epochs 3 --scenes 8000"
  [fashion-cnn-biased]="--epochs 2 --scenes 6400"
  [fashion-cnn-multi]="--epochs 3 --scenes 6400"
  [fashion-resnet]="--epochs 3 --scenes 6400"
  [fashion-resnet-multi]="--epochs 3 --scenes 6400"
)
MODELS=("$@")
[ ${#MODELS[@]} -gt 0 ] || MODELS=(fashion-cnn fashion-cnn-biased fashion-cnn-multi fashion-resnet)
mkdir -p data-scripts/logs
# Run from a private copy of the build, so that rebuilding the repository meanwhile cannot disturb a long run.
RUN=$(mktemp -d /tmp/xailab-train.XXXXXX); cp -r artifacts/xailab/. "$RUN/"; trap 'rm -rf "$RUN"' EXIT
export XAILAB_ASSETS="$PWD/assets"
for m in "${MODELS[@]}"; do
  [ -n "${SCHEDULE[$m]:-}" ] || { echo "unknown model $m (known: ${!SCHEDULE[*]})"; exit 2; }
  echo "== $m ${SCHEDULE[$m]} ($(date -u +%H:%M:%S) UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))" | tee "data-scripts/logs/train-$m.log"
  # shellcheck disable=SC2086
  dotnet "$RUN/xailab.dll" train --model "$m" ${SCHEDULE[$m]} --seed 0 --threads 2 2>&1 | tee -a "data-scripts/logs/train-$m.log"
done
ls -l assets/models/
