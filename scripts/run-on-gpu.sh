#!/usr/bin/env bash
# Runs the published CLI (scripts/publish-gpu.sh) on a GPU machine that has no .NET, through an installed PyTorch
# CUDA wheel (scripts/with-torch-wheel.sh). Arguments go to xailab, e.g.:
#   ./run-on-gpu.sh info --device cuda
#   ./run-on-gpu.sh reproduce notebooks/00-quickstart.ipynb --device cuda --out out
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 XAILAB_ASSETS="$here/assets"
exec "$here/with-torch-wheel.sh" "$here/artifacts/xailab/xailab" "$@"
