#!/usr/bin/env bash
# Publishes the CLI self-contained for linux-x64 WITHOUT the CPU libtorch natives (-p:TorchBackend=none), together
# with notebooks/, assets/ and the run script, as gpu/xailab-gpu.tar.xz (kept under 64 MiB, the device tool's limit).
# On a GPU machine without .NET: tar xf xailab-gpu.tar.xz && xailab-gpu/run-on-gpu.sh reproduce --device cuda
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
stage="$repo/gpu/xailab-gpu"
rm -rf "$stage" && mkdir -p "$stage"
dotnet publish src/XaiLab.Cli -c Release -r linux-x64 --self-contained -p:TorchBackend=none \
  -p:OutputPath="$repo/artifacts/gpu-build/" -o "$stage/artifacts/xailab" -nologo -v q
rm -rf "$stage/artifacts/xailab/runtimes/"{osx,win}* 2>/dev/null || true
# Not needed at run time by the CLI or the C# kernel; dropped to stay under the transfer limit.
(cd "$stage/artifacts/xailab" && rm -f ./*.pdb FSharp.Compiler.Service.dll ./*VisualBasic* libmscordaccore.so libmscordbi.so createdump)
cp -r notebooks assets "$stage/"
cp scripts/with-torch-wheel.sh scripts/run-on-gpu.sh "$stage/"
tar -C "$repo/gpu" -cf - xailab-gpu | xz -T0 -6 > "$repo/gpu/xailab-gpu.tar.xz"
size=$(stat -c %s "$repo/gpu/xailab-gpu.tar.xz")
echo "gpu/xailab-gpu.tar.xz: $((size / 1024 / 1024)) MiB"
(( size < 64 * 1024 * 1024 )) || { echo "error: the package exceeds 64 MiB" >&2; exit 1; }
