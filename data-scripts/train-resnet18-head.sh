#!/usr/bin/env bash
# Trains the linear head of fashion-resnet18 (frozen ImageNet ResNet18 backbone of the NuGet package
# Microsoft.ML.DnnImageFeaturizer.ResNet18 + Linear 512→10) on the CPU and writes
# assets/models/fashion-resnet18-head.{dat,json} and data-scripts/logs/train-fashion-resnet18-head.log.
# Needs the full Fashion-MNIST (data-scripts/prepare-fashion.sh) and the restored NuGet package (dotnet restore).
# Schedule: backbone features of 10000 train scenes (128 px, no_grad), 1000 val and 2000 test scenes, then full-batch
# Adam fits of the head for 6 L2 strengths, the best on val kept (about 13 min on a busy 2-core machine).
# Usage: data-scripts/train-resnet18-head.sh [extra xailab train resnet18-head options]
set -euo pipefail
cd "$(dirname "$0")/.."
data-scripts/prepare-fashion.sh
dotnet build src/XaiLab.Cli -c Release -v q -nologo
mkdir -p data-scripts/logs
# Run from a private copy of the build, so that rebuilding the repository meanwhile cannot disturb the run.
RUN=$(mktemp -d /tmp/xailab-train-r18.XXXXXX); cp -r artifacts/xailab/. "$RUN/"; trap 'rm -rf "$RUN"' EXIT
export XAILAB_ASSETS="$PWD/assets"
LOG=data-scripts/logs/train-fashion-resnet18-head.log
echo "== fashion-resnet18 head ($(date -u +%H:%M:%S) UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))" | tee "$LOG"
dotnet "$RUN/xailab.dll" train resnet18-head --scenes 10000 --seed 0 --threads 2 "$@" 2>&1 | tee -a "$LOG"
ls -l assets/models/fashion-resnet18-head.*
