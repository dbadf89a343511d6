#!/usr/bin/env bash
# A pointing-game run shared by N GPUs (or machines) as a Slurm job array, then merged into one summary that is
# byte-identical to the unsharded run's. Each array task K runs `xailab pointing-game … --shard K/N` into
# $RUN_DIR/shard-K (a deterministic split by scene id); a job that depends on the whole array runs
# `xailab pointing-game merge`. A requeued or rerun task resumes its shard; a folder of another run is refused.
#
# Submit from the repository root on a shared file system (N shards, everything after `submit` goes to pointing-game):
#   N=8 RUN_DIR=runs/voc07-vgg16 scripts/slurm-pointing-game.sh submit \
#       --dataset voc07-test --model vgg16-voc --methods centre,gradient,grad-cam,rise,extremal-perturbation
# Environment: N (shards, default 4), RUN_DIR (default runs/pointing-game), XAILAB (the CLI; default
# "dotnet artifacts/xailab/xailab.dll", or gpu/xailab-gpu/run-on-gpu.sh for the published package), DEVICE
# (default cuda), SBATCH_ARGS (extra sbatch arguments, e.g. "--partition=gpu --account=me").
# The two other modes are what the jobs run: `shard ARGS…` (needs $SLURM_ARRAY_TASK_ID) and `merge`.
#SBATCH --job-name=xailab-pointing-game
#SBATCH --gpus-per-task=1
#SBATCH --cpus-per-task=4
#SBATCH --mem=32G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=xailab-pointing-game-%A_%a.log
set -euo pipefail
N="${N:-4}"
RUN_DIR="${RUN_DIR:-runs/pointing-game}"
XAILAB="${XAILAB:-dotnet artifacts/xailab/xailab.dll}"
DEVICE="${DEVICE:-cuda}"
mode="${1:?usage: scripts/slurm-pointing-game.sh submit|shard|merge [pointing-game options…]}"
shift
[[ -n "${SLURM_SUBMIT_DIR:-}" ]] && cd "$SLURM_SUBMIT_DIR"
case "$mode" in
  submit)
    command -v sbatch >/dev/null || { echo "error: sbatch not found; this script submits to Slurm" >&2; exit 2; }
    (( N >= 1 )) || { echo "error: N must be a positive number of shards; got '$N'" >&2; exit 2; }
    mkdir -p "$RUN_DIR"
    script="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
    # shellcheck disable=SC2086 # SBATCH_ARGS is a list of words on purpose
    array=$(sbatch --parsable --array="0-$((N - 1))" ${SBATCH_ARGS:-} \
      --export="ALL,N=$N,RUN_DIR=$RUN_DIR,DEVICE=$DEVICE,XAILAB=$XAILAB" "$script" shard "$@")
    # The merge needs no GPU: --wrap does not read this script's #SBATCH lines.
    # shellcheck disable=SC2086
    merge=$(sbatch --parsable --dependency="afterok:${array%%;*}" --job-name=xailab-pointing-game-merge --ntasks=1 --cpus-per-task=1 \
      --time=1:00:00 --output="xailab-pointing-game-merge-%j.log" ${SBATCH_ARGS:-} \
      --export="ALL,N=$N,RUN_DIR=$RUN_DIR,XAILAB=$XAILAB" --wrap="$(printf '%q ' "$script" merge)")
    echo "submitted shards: job array $array (0-$((N - 1))); merge: job $merge -> $RUN_DIR/merged"
    ;;
  shard)
    k="${SLURM_ARRAY_TASK_ID:?shard mode runs inside a Slurm array task}"
    # shellcheck disable=SC2086 # XAILAB may be "dotnet path/xailab.dll"
    exec $XAILAB pointing-game "$@" --device "$DEVICE" --shard "$k/$N" --out "$RUN_DIR/shard-$k"
    ;;
  merge)
    shards=()
    for ((k = 0; k < N; k++)); do shards+=("$RUN_DIR/shard-$k"); done
    # shellcheck disable=SC2086
    exec $XAILAB pointing-game merge --out "$RUN_DIR/merged" "${shards[@]}"
    ;;
  *) echo "error: unknown mode '$mode'; expected submit, shard or merge" >&2; exit 2 ;;
esac
