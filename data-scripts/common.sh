# shellcheck shell=bash
# Shared helpers for the fetch scripts (sourced, not run). Data go to $XAILAB_DATA, else <repo>/data.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2034  # used by the scripts that source this file
DATA_ROOT="${XAILAB_DATA:-$REPO_ROOT/data}"

die() { echo "$SCRIPT_NAME: $*" >&2; exit 1; }

need_tools() {
  local t
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || die "needs '$t' (install it, e.g. apt-get install $t)"; done
}

# check_online URL: one quick request; offline → one line on stderr and exit 1, before anything is written.
check_online() {
  local url="$1" host
  host="$(echo "$url" | sed -E 's#^[a-z]+://([^/]+).*#\1#')"
  curl -sS -o /dev/null --head --max-time 15 --retry 0 "$url" >/dev/null 2>&1 \
    || die "cannot reach $host (offline or blocked); nothing was downloaded"
}

# download URL DEST: resumable, to DEST.part then renamed; skipped when DEST exists.
download() {
  local url="$1" dest="$2"
  if [[ -s "$dest" ]]; then echo "have $(basename "$dest")"; return 0; fi
  mkdir -p "$(dirname "$dest")"
  echo "downloading $url"
  curl -fL --retry 3 --retry-delay 5 -C - -o "$dest.part" "$url" || die "download failed: $url (rerun to resume)"
  mv "$dest.part" "$dest"
}

# check_sha256_prefix FILE PREFIX: torch.hub convention, the file name carries the first hex digits of its SHA-256.
check_sha256_prefix() {
  local file="$1" prefix="$2" sum
  sum="$(sha256sum "$file" | cut -c1-${#prefix})"
  [[ "$sum" == "$prefix" ]] || { rm -f "$file"; die "checksum mismatch for $(basename "$file") (sha256 starts $sum, expected $prefix); removed it, rerun"; }
}
