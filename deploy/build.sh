#!/usr/bin/env bash
# Configures and builds TideSearch with CMake + Ninja. Assumes deploy/setup.sh has run.
#
#   deploy/build.sh [--sanitize | --tsan] [--no-tests] [target...]
#
# Builds into build/ (or build-asan/ with --sanitize: AddressSanitizer + UBSan; build-tsan/
# with --tsan: ThreadSanitizer). Warnings are errors when CI is set.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$repo/build
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DTIDE_THIRD_PARTY=$repo/build/third_party")
targets=()
for arg in "$@"; do
  case "$arg" in
    --sanitize) build_dir=$repo/build-asan; cmake_args+=(-DTIDE_SANITIZE=ON) ;;
    --tsan) build_dir=$repo/build-tsan; cmake_args+=(-DTIDE_TSAN=ON) ;;
    --no-tests) cmake_args+=(-DTIDE_BUILD_TESTS=OFF) ;;
    -*) echo "build.sh: unknown option '$arg'" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done
if [ -n "${CI:-}" ]; then cmake_args+=(-DTIDE_WERROR=ON); fi
cmake -S "$repo" -B "$build_dir" "${cmake_args[@]}" >/dev/null
# Two cores and C++ templates: more jobs than cores only thrashes memory.
ninja -C "$build_dir" -j "$(nproc)" "${targets[@]}"
