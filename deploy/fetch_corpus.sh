#!/usr/bin/env bash
# Fetches the demo corpus: Debian's libreoffice-help-ko (Korean LibreOffice help, MPL-2.0,
# about 2,560 HTML pages) unpacked with dpkg -x, so nothing is installed system-wide.
# Idempotent: when the pages are already there it downloads nothing.
#
#   deploy/fetch_corpus.sh [DEST]
#
# DEST defaults to ${TIDE_THIRD_PARTY:-<repo>/build/third_party}/libreoffice-help-ko.
# TIDE_HELP_DEB=<file.deb> unpacks that package instead of downloading one (offline hosts).
# Progress goes to stderr; the last line on stdout is the help root for `tidectl import-help`:
# DEST/usr/share/libreoffice/help/ko
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -gt 1 ]; then
  echo "usage: $0 [DEST]" >&2
  exit 2
fi
dest=${1:-${TIDE_THIRD_PARTY:-$repo/build/third_party}/libreoffice-help-ko}
help_root=$dest/usr/share/libreoffice/help/ko

if [ -d "$help_root/text" ]; then
  echo "fetch_corpus: help pages already in $help_root" >&2
  echo "$help_root"
  exit 0
fi
if [ -e "$dest" ] && [ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
  echo "fetch_corpus: $dest exists but holds no help pages; remove it or pick another DEST" >&2
  exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# As root, apt downloads as its sandbox user _apt, which must be able to write here.
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$work"; fi

deb=${TIDE_HELP_DEB:-}
if [ -z "$deb" ]; then
  echo "fetch_corpus: downloading libreoffice-help-ko" >&2
  # apt-get prints progress on stdout, which is reserved for the result.
  if ! (cd "$work" && apt-get download -q libreoffice-help-ko >&2); then
    echo "fetch_corpus: download failed; refreshing the package lists once" >&2
    "${sudo_cmd[@]}" apt-get update -q >&2
    (cd "$work" && apt-get download -q libreoffice-help-ko >&2)
  fi
  deb=$(find "$work" -maxdepth 1 -name 'libreoffice-help-ko_*.deb' | head -n 1)
fi
if [ ! -f "$deb" ]; then
  echo "fetch_corpus: no package file at '$deb'" >&2
  exit 1
fi

# Unpack next to DEST and rename into place, so an interrupted run never leaves a DEST
# that the check above would take for complete.
parent=$(dirname "$dest")
mkdir -p "$parent"
staging=$(mktemp -d "$parent/.libreoffice-help-ko.XXXXXX")
trap 'rm -rf "$work" "$staging"' EXIT
dpkg -x "$deb" "$staging"
if [ ! -d "$staging/usr/share/libreoffice/help/ko/text" ]; then
  echo "fetch_corpus: $deb has no usr/share/libreoffice/help/ko/text" >&2
  exit 1
fi
chmod 0755 "$staging"
rmdir "$dest" 2>/dev/null || true  # DEST may exist as an empty directory
mv "$staging" "$dest"
echo "fetch_corpus: $(find "$help_root/text" -name '*.html' | wc -l) pages in $help_root" >&2
echo "$help_root"
