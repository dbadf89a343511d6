#!/usr/bin/env bash
# Full-scale chapter-7 runs (thesis Figs 7.7–7.9), resumable across short GPU slots.
#
#   data-scripts/denoise-full.sh OUTDIR [--device cuda] [--seeds "0 1 2"] [--epochs 30] [--xailab "dotnet artifacts/xailab/xailab.dll"]
#
# Runs 3 scenarios (SNR 1/4, 1/64, 1/64 + rotation augmentation) × 2 nets × seeds with `xailab denoise train --resume`,
# one folder per run (OUTDIR/snr4-cartesian-s0, …). Every epoch is checkpointed (OUTDIR/RUN/checkpoint); a run killed by
# the end of a slot continues from its last finished epoch when the script is started again, and finished runs
# (history.json present) are skipped. Sizes are the notebook's full scale: 64×64 px, 4096 training / 512 validation
# images, depth 6, width 32, 5×5 kernels, SNR read as power ratio (pass --snr-reading norm via XAILAB_DENOISE_EXTRA).
set -euo pipefail
SCRIPT_NAME=denoise-full.sh
[[ $# -ge 1 ]] || { echo "usage: $SCRIPT_NAME OUTDIR [--device D] [--seeds \"0 1 2\"] [--epochs N] [--xailab CMD]" >&2; exit 2; }
OUT="$1"; shift
DEVICE="${XAILAB_DEVICE:-cpu}"; SEEDS="0 1 2"; EPOCHS=30
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
XAILAB="dotnet $REPO_ROOT/artifacts/xailab/xailab.dll"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --seeds) SEEDS="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --xailab) XAILAB="$2"; shift 2 ;;
    *) echo "$SCRIPT_NAME: unknown option $1 (expected --device, --seeds, --epochs or --xailab)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
for scenario in snr4 snr64 snr64aug; do
  case "$scenario" in
    snr4) SNR=0.25; AUG="" ;;
    snr64) SNR=0.015625; AUG="" ;;
    snr64aug) SNR=0.015625; AUG="--augment" ;;
  esac
  for seed in $SEEDS; do
    for net in cartesian spiral; do
      run="$OUT/$scenario-$net-s$seed"
      if [[ -s "$run/history.json" ]]; then echo "done: $run"; continue; fi
      echo "run: $run"
      # shellcheck disable=SC2086  # XAILAB and the extra options are word lists
      $XAILAB denoise train --net "$net" --snr "$SNR" $AUG --seed "$seed" --epochs "$EPOCHS" --size 64 \
        --train-count 4096 --val-count 512 --depth 6 --width 32 --kernel 5 --batch 16 --lr 1e-3 \
        --device "$DEVICE" --resume --out "$run" ${XAILAB_DENOISE_EXTRA:-}
    done
  done
done
echo "all runs finished under $OUT"
