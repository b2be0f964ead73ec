#!/usr/bin/env bash
# Configures and builds TideSearch with CMake + Ninja. Assumes deploy/setup.sh has run.
#
#   deploy/build.sh [--sanitize | --tsan | --fuzz] [--no-tests] [target...]
#
# Builds into build/ (or build-asan/ with --sanitize: AddressSanitizer + UBSan, clang++-14; build-tsan/
# with --tsan: ThreadSanitizer, clang++-14; build-fuzz/ with --fuzz: the libFuzzer targets, with clang++-14,
# ASan and UBSan, no GoogleTest suites). Warnings are errors when CI is set.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$repo/build
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DTIDE_THIRD_PARTY=$repo/build/third_party")
targets=()
for arg in "$@"; do
  case "$arg" in
    # clang's ASan: GCC 12 took four times as long to build the same targets with it
    # (about 23 min against 6 on two cores), most of CI's time.
    --sanitize) build_dir=$repo/build-asan; cmake_args+=(-DTIDE_SANITIZE=ON -DCMAKE_CXX_COMPILER=clang++-14) ;;
    # clang's ThreadSanitizer: GCC 12's records no stacks for lock-order reports, so its
    # suppressions (tests/tsan.supp) cannot match them.
    --tsan) build_dir=$repo/build-tsan; cmake_args+=(-DTIDE_TSAN=ON -DCMAKE_CXX_COMPILER=clang++-14) ;;
    --fuzz)
      build_dir=$repo/build-fuzz
      cmake_args+=(-DTIDE_FUZZ=ON -DTIDE_BUILD_TESTS=OFF -DCMAKE_CXX_COMPILER=clang++-14)
      targets+=(fuzzers) ;;
    --no-tests) cmake_args+=(-DTIDE_BUILD_TESTS=OFF) ;;
    -*) echo "build.sh: unknown option '$arg'" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done
if [ -n "${CI:-}" ]; then cmake_args+=(-DTIDE_WERROR=ON); fi
cmake -S "$repo" -B "$build_dir" "${cmake_args[@]}" >/dev/null
# Two cores and C++ templates: more jobs than cores only thrashes memory.
ninja -C "$build_dir" -j "$(nproc)" "${targets[@]}"
