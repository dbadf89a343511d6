#!/usr/bin/env bash
# One-call GPU check for a machine with an NVIDIA GPU, a PyTorch CUDA wheel and no .NET (run from the repo root,
# with gpu/xailab-gpu.tar.xz from scripts/publish-gpu.sh and, for training, gpu/fashion/ holding the Fashion-MNIST
# train set: train-images-idx3-ubyte.xz and train-labels-idx1-ubyte.gz). Results go to $OUT (default out/gpu):
#   info.txt, reproduce/ (the quickstart executed on CUDA), bench-*.txt (ablation-path timings, CUDA and CPU),
#   models/ (Fashion-scene models trained on CUDA, with their logs).
set -uo pipefail
repo="$(pwd)"
out="${OUT:-$repo/out/gpu}"; mkdir -p "$out/models"
work=/tmp/xailab-gpu-check; rm -rf "$work"; mkdir -p "$work"
tar -C "$work" -xJf gpu/xailab-gpu.tar.xz
x="$work/xailab-gpu/run-on-gpu.sh"
log() { echo "== $* ($(date -u +%H:%M:%S))" | tee -a "$out/steps.txt"; }

log info
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; nproc; "$x" info --device cuda; } > "$out/info.txt" 2>&1
cat "$out/info.txt"

log "reproduce quickstart on cuda"
"$x" reproduce "$work/xailab-gpu/notebooks/00-quickstart.ipynb" --device cuda --out "$out/reproduce" > "$out/reproduce.txt" 2>&1; echo "exit $?" >> "$out/reproduce.txt"
tail -8 "$out/reproduce.txt"

log "bench ablation-path (ResNet50-size stand-in, 14×64×64 masks, 224 px)"
timeout 90 "$x" bench ablation-path --device cuda --standin resnet50 --mask-size 64 --iterations 100 > "$out/bench-cuda-resnet50.txt" 2>&1; cat "$out/bench-cuda-resnet50.txt"
timeout 30 "$x" bench ablation-path --device cuda --mask-size 32 --iterations 100 > "$out/bench-cuda-small.txt" 2>&1; cat "$out/bench-cuda-small.txt"

if [[ -f gpu/fashion/train-images-idx3-ubyte.xz ]]; then
  fm="$work/fashion"; mkdir -p "$fm"
  xz -dc gpu/fashion/train-images-idx3-ubyte.xz | gzip -1 > "$fm/train-images-idx3-ubyte.gz"
  cp gpu/fashion/train-labels-idx1-ubyte.gz "$fm/"
  export XAILAB_FASHION_MNIST="$fm"
  m="$out/models"
  train() { local name=$1 limit=$2; shift 2; log "train $name $*"
    timeout "$limit" "$x" train classifier --model "$name" --device cuda --threads 8 --seed 0 --out "$m/$name.dat" "$@" > "$m/train-$name.log" 2>&1
    echo "exit $?" >> "$m/train-$name.log"; tail -3 "$m/train-$name.log"; }
  train fashion-cnn 150 --epochs 6 --scenes 12000 --lr 0.002
  [[ -f "$m/fashion-cnn.dat" ]] && train fashion-cnn-multi 75 --init "$m/fashion-cnn.dat" --epochs 3 --scenes 10000 --lr 0.0015
  [[ -f "$m/fashion-cnn.dat" ]] && train fashion-cnn-biased 45 --init "$m/fashion-cnn.dat" --epochs 2 --scenes 6000 --lr 0.001
fi
log done
