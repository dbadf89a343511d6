#!/usr/bin/env bash
# Lists every unresolved shared-library dependency ("=> not found" in ldd) of every native file that a build output
# folder ships for this machine (the folder itself and runtimes/linux-x64/native; other RIDs are never loaded here).
# Exits 1 if any is missing, naming the file and the library, so a native dependency that a bare Debian 12 machine
# lacks fails CI instead of a test or notebook cell later.
#   scripts/check-native-deps.sh DIR [DIR…]
# A "weak version … not found" note is not a failure: that is the TorchSharp fix (build/TorchSharpFix.targets) at work.
set -uo pipefail
[[ $# -ge 1 ]] || { echo "usage: scripts/check-native-deps.sh DIR [DIR…]" >&2; exit 2; }
missing=0; checked=0
for dir in "$@"; do
  [[ -d "$dir" ]] || { echo "error: $dir is not a folder" >&2; exit 2; }
  while IFS= read -r -d '' f; do
    case "$f" in */runtimes/*) [[ "$f" == */runtimes/linux-x64/* ]] || continue ;; esac
    file -b "$f" 2>/dev/null | grep -q '^ELF 64-bit' || continue
    checked=$((checked + 1))
    while read -r lib; do
      echo "unresolved: $f needs $lib"; missing=$((missing + 1))
    done < <(ldd "$f" 2>/dev/null | awk '/=> not found/ {print $1}')
  done < <(find "$dir" -type f \( -name '*.so' -o -name '*.so.*' \) -print0)
done
echo "native dependency check: $checked ELF files, $missing unresolved dependencies"
[[ $missing -eq 0 ]]
