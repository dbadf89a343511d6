#!/usr/bin/env bash
# Writes a Jupyter kernelspec for the .NET Interactive C# kernel that works from ANY folder: its argv names the
# dotnet host and the kernel's assembly by absolute paths (no tool manifest, no working-directory lookup).
#   scripts/install-jupyter-kernel.sh            → artifacts/jupyter/kernels/.net-csharp (use JUPYTER_PATH=<repo>/artifacts/jupyter)
#   scripts/install-jupyter-kernel.sh --user     → ~/.local/share/jupyter/kernels/.net-csharp (every Jupyter of this user finds it)
#   scripts/install-jupyter-kernel.sh --prefix D → D/kernels/.net-csharp
# The kernel binds to localhost only (--http-local-only). Idempotent.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
target="$repo/artifacts/jupyter"
case "${1:-}" in
  --user) target="${XDG_DATA_HOME:-$HOME/.local/share}/jupyter" ;;
  --prefix) target="${2:?--prefix needs a folder}" ;;
  "") ;;
  *) echo "usage: scripts/install-jupyter-kernel.sh [--user | --prefix DIR]" >&2; exit 2 ;;
esac
dotnet_host="$(command -v dotnet)" || { echo "error: dotnet is not on PATH (install the .NET 10 SDK)" >&2; exit 1; }
dotnet_host="$(readlink -f "$dotnet_host")"
version="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$repo/dotnet-tools.json" | head -1)"
(cd "$repo" && dotnet tool restore >/dev/null)
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
app="$(ls -d "${packages%/}"/microsoft.dotnet-interactive/"$version"/tools/net*/any/Microsoft.DotNet.Interactive.App.dll 2>/dev/null | sort | tail -1)"
[[ -n "$app" && -f "$app" ]] || { echo "error: Microsoft.DotNet.Interactive.App.dll $version not found under ${packages%/}/microsoft.dotnet-interactive (dotnet tool restore failed?)" >&2; exit 1; }
dir="$target/kernels/.net-csharp"
mkdir -p "$dir"
cat > "$dir/kernel.json" <<JSON
{
  "argv": ["$dotnet_host", "$app", "jupyter", "--default-kernel", "csharp", "--http-local-only", "{connection_file}"],
  "display_name": ".NET (C#)",
  "language": "C#",
  "env": { "DOTNET_ROOT": "$(dirname "$dotnet_host")", "DOTNET_INTERACTIVE_CLI_TELEMETRY_OPTOUT": "1", "DOTNET_CLI_TELEMETRY_OPTOUT": "1" },
  "metadata": { "debugger": false }
}
JSON
echo "$dir/kernel.json"
