#!/usr/bin/env bash
# Trains the registered Fashion-scene models on this machine's CPU (2 torch threads) and writes
# assets/models/NAME.dat (TorchSharp Module.save), NAME.json (training record of the last stage) and
# data-scripts/logs/train-NAME.log (all stages). Needs the full Fashion-MNIST (data-scripts/prepare-fashion.sh).
#
# Usage: data-scripts/train-models.sh [STAGE ...]   (default: all stages, in order)
# Stages (batch 32, AdamW, cosine learning rate, seed 0; every stage sees fresh on-the-fly scenes):
#   1  fashion-cnn         from scratch, 3 epochs × 8000 scenes, lr 0.002
#   2  fashion-cnn         continued from stage 1 with scenes 24000.., 3 × 8000, lr 0.0015
#   3  fashion-cnn-biased  fine-tuned from fashion-cnn on the biased split, 1 × 6400, lr 0.001
#   4  fashion-cnn-multi   fine-tuned from fashion-cnn on the multi-label split (sigmoid/BCE), 2 × 6400, lr 0.0015
#   5  fashion-resnet      from scratch, 2 × 6400, lr 0.002
#   6  fashion-cnn         continued again (scenes 48000..), 2 × 6400, lr 0.001
#   7  fashion-resnet      continued (scenes 12800..), 2 × 6400, lr 0.0015
# On the shared 2-core machine (load 10–18) the seven stages took about 70 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
data-scripts/prepare-fashion.sh
dotnet build src/XaiLab.Cli -c Release -v q -nologo
mkdir -p data-scripts/logs
# Run from a private copy of the build, so that rebuilding the repository meanwhile cannot disturb a long run.
RUN=$(mktemp -d /tmp/xailab-train.XXXXXX); cp -r artifacts/xailab/. "$RUN/"; trap 'rm -rf "$RUN"' EXIT
export XAILAB_ASSETS="$PWD/assets"
M=assets/models

stage() {
  local n=$1; shift
  local model=$1; shift
  local log="data-scripts/logs/train-$model.log"
  # a model's first stage starts its log afresh; a continuing stage appends
  case $n in 1|3|4|5) : >"$log" ;; esac
  echo "== stage $n: $model $* ($(date -u +%H:%M:%S) UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$log"
  dotnet "$RUN/xailab.dll" train classifier --model "$model" --seed 0 --threads 2 "$@" 2>&1 | tee -a "$log"
}

STAGES=("$@")
[ ${#STAGES[@]} -gt 0 ] || STAGES=(1 2 3 4 5 6 7)
for s in "${STAGES[@]}"; do
  case $s in
    1) stage 1 fashion-cnn --epochs 3 --scenes 8000 --lr 0.002 ;;
    2) stage 2 fashion-cnn --init $M/fashion-cnn.dat --first-scene 24000 --epochs 3 --scenes 8000 --lr 0.0015 ;;
    3) stage 3 fashion-cnn-biased --init $M/fashion-cnn.dat --epochs 1 --scenes 6400 --lr 0.001 ;;
    4) stage 4 fashion-cnn-multi --init $M/fashion-cnn.dat --epochs 2 --scenes 6400 --lr 0.0015 ;;
    5) stage 5 fashion-resnet --epochs 2 --scenes 6400 --lr 0.002 ;;
    6) stage 6 fashion-cnn --init $M/fashion-cnn.dat --first-scene 48000 --epochs 2 --scenes 6400 --lr 0.001 ;;
    7) stage 7 fashion-resnet --init $M/fashion-resnet.dat --first-scene 12800 --epochs 2 --scenes 6400 --lr 0.0015 ;;
    *) echo "unknown stage $s (1–7)"; exit 2 ;;
  esac
done
ls -l $M/
