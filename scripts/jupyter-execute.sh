#!/usr/bin/env bash
# Executes notebooks through real Jupyter (nbconvert + the .NET Interactive kernel), headless.
#   scripts/jupyter-execute.sh [--out DIR] NOTEBOOK.ipynb [...]
# Installs what is missing: Debian's jupyter-nbconvert/nbclient (apt, as root), the dotnet-interactive tool
# (local manifest dotnet-tools.json), and builds once so that the package feed artifacts/feed exists.
# The kernelspec (scripts/install-jupyter-kernel.sh → artifacts/jupyter/kernels/.net-csharp) names the kernel by absolute
# paths, so notebooks outside the repository run too, and binds the kernel to localhost only.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
out="$repo/out/jupyter"
if [[ "${1:-}" == "--out" ]]; then out="$2"; shift 2; fi
[[ $# -ge 1 ]] || { echo "usage: scripts/jupyter-execute.sh [--out DIR] NOTEBOOK.ipynb [...]" >&2; exit 2; }

if [[ ! -x /usr/bin/jupyter ]] || ! /usr/bin/python3 -c "import nbclient, nbconvert" 2>/dev/null; then
  echo "installing Debian packages: jupyter-nbconvert python3-nbclient jupyter-client"
  if [[ $(id -u) -ne 0 ]]; then echo "error: need root (or sudo) to apt-get install jupyter-nbconvert python3-nbclient jupyter-client" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jupyter-nbconvert python3-nbclient jupyter-client >/dev/null
fi
version="$(sed -n 's#.*<XaiLabVersion[^>]*>\([^<]*\)<.*#\1#p' "$repo/Directory.Build.props" | head -1)"
# Notebooks load XaiLab as a package from the local feed that every build writes.
[[ -f "$repo/artifacts/feed/XaiLab.Interactive.$version.nupkg" ]] || (cd "$repo" && dotnet build src/XaiLab.Cli -c Release -v q -nologo)
"$repo/scripts/install-jupyter-kernel.sh" >/dev/null
export JUPYTER_PATH="$repo/artifacts/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
mkdir -p "$out"
status=0
for nb in "$@"; do
  name="$(basename "$nb")"
  echo "jupyter nbconvert --execute $nb"
  if /usr/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=.net-csharp \
        --ExecutePreprocessor.timeout=1800 --ExecutePreprocessor.startup_timeout=180 \
        --output-dir "$out" --output "$name" "$nb"; then
    echo "ok: $out/$name"
  else
    echo "error: notebook $nb failed under Jupyter" >&2
    status=1
  fi
done
exit $status
