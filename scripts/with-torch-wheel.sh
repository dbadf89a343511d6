#!/usr/bin/env bash
# Runs a command with an installed PyTorch CUDA wheel's libraries on LD_LIBRARY_PATH, so that TorchSharp's own
# libLibTorchSharp.so binds to the wheel's libtorch (verified: TorchSharp 0.107 against the PyTorch 2.11 / CUDA 13
# wheel on an H100). Use it for a CLI built with -p:TorchBackend=none (scripts/publish-gpu.sh) or =cuda.
#   scripts/with-torch-wheel.sh COMMAND [ARGS...]
# The wheel is found through $TORCH_SITE_PACKAGES, else /opt/torch/.venv, else the python3 on PATH.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: scripts/with-torch-wheel.sh COMMAND [ARGS...]" >&2; exit 2; }
site="${TORCH_SITE_PACKAGES:-}"
if [[ -z "$site" ]]; then
  for py in /opt/torch/.venv/bin/python python3 python; do
    command -v "$py" >/dev/null 2>&1 || [[ -x "$py" ]] || continue
    site="$("$py" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))' 2>/dev/null || true)"
    [[ -n "$site" ]] && break
  done
fi
if [[ -z "$site" || ! -d "$site/torch/lib" ]]; then
  echo "error: no PyTorch wheel found (set TORCH_SITE_PACKAGES to the site-packages folder that holds torch/)" >&2
  exit 1
fi
libs="$site/torch/lib"
for d in "$site"/nvidia/*/lib "$site"/nvidia/*/*/lib; do [[ -d "$d" ]] && libs="$libs:$d"; done
export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# XaiLab loads libtorch from this folder by absolute path (XaiLab.Imaging.TorchNatives), not from the library path.
export XAILAB_LIBTORCH_DIR="$site/torch/lib"
exec "$@"
