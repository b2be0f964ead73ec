#!/usr/bin/env bash
# Installs everything TideSearch needs on a fresh Debian 12 (bookworm) machine and fetches
# hnswlib 0.8.0 from Debian trixie into the build tree. Idempotent: a second run installs
# nothing and downloads nothing.
#
#   deploy/setup.sh            build + test + demo dependencies
#   deploy/setup.sh --bench    also the benchmark peers (FAISS, Xapian, SQLite, wrk)
#
# Environment: TIDE_THIRD_PARTY (default: <repo>/build/third_party) is where hnswlib and the
# demo corpus are unpacked.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
third_party=${TIDE_THIRD_PARTY:-$repo/build/third_party}
with_bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) with_bench=1 ;;
    *) echo "setup.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

packages=(
  build-essential cmake ninja-build pkg-config ca-certificates curl jq
  libboost-dev libboost-program-options-dev
  librdkafka-dev librocksdb-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libicu-dev libgtest-dev libgmock-dev
)
if [ "$with_bench" -eq 1 ]; then
  packages+=(libfaiss-dev libxapian-dev libsqlite3-dev wrk python3 python3-matplotlib)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# hnswlib 0.8.0 (header-only) from Debian trixie. Bookworm's 0.6.2 has no filtered search
# and no slot reuse. A private apt state directory keeps trixie out of the system's sources.
hnsw_dir=$third_party/hnswlib
if [ ! -f "$hnsw_dir/usr/include/hnswlib/hnswalg.h" ]; then
  apt_root=$third_party/apt-trixie
  mkdir -p "$apt_root/lists/partial" "$apt_root/archives/partial" "$apt_root/etc"
  echo "deb http://deb.debian.org/debian trixie main" >"$apt_root/etc/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_root/etc/sources.list"
            -o "Dir::Etc::SourceParts=/dev/null"
            -o "Dir::State::Lists=$apt_root/lists"
            -o "Dir::Cache::Archives=$apt_root/archives"
            -o "Debug::NoLocking=1")
  echo "setup: fetching libhnswlib-dev from trixie"
  apt-get "${apt_opts[@]}" update -q
  (cd "$apt_root" && apt-get "${apt_opts[@]}" download libhnswlib-dev/trixie)
  deb=$(ls "$apt_root"/libhnswlib-dev_*.deb | head -n 1)
  case "$deb" in
    *libhnswlib-dev_0.8.0*) ;;
    *) echo "setup: expected hnswlib 0.8.0 from trixie, got $deb" >&2; exit 1 ;;
  esac
  rm -rf "$hnsw_dir" && mkdir -p "$hnsw_dir"
  dpkg -x "$deb" "$hnsw_dir"
fi
echo "setup: hnswlib headers in $hnsw_dir/usr/include"
