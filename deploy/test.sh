#!/usr/bin/env bash
# From a fresh clone on Debian 12: installs what is needed, builds, and runs every CTest
# test (unit, integration, e2e). Extra arguments go to ctest, e.g. `deploy/test.sh -L unit`.
#
#   deploy/test.sh [--sanitize | --tsan] [ctest args...]
#
# --sanitize builds the unit and integration tests with ASan + UBSan (build-asan/), --tsan with
# ThreadSanitizer (build-tsan/); pick the tests with ctest's -L / -R (.ci/run does).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$repo/build
build_args=()
ctest_args=()
for arg in "$@"; do
  case "$arg" in
    --sanitize) build_args+=(--sanitize unit_common unit_ingest unit_query integration_tests); build_dir=$repo/build-asan ;;
    --tsan)
      build_args+=(--tsan unit_common unit_query integration_tests); build_dir=$repo/build-tsan
      # TIDE_TSAN_OPTIONS adds options (e.g. detect_deadlocks=0, see .ci/run).
      export TSAN_OPTIONS="suppressions=$repo/tests/tsan.supp second_deadlock_stack=1 ${TIDE_TSAN_OPTIONS:-}" ;;
    *) ctest_args+=("$arg") ;;
  esac
done
"$repo/deploy/setup.sh"
"$repo/deploy/build.sh" "${build_args[@]}"
# The real Korean help corpus (Debian's libreoffice-help-ko, 3 MB, unpacked in the build tree)
# for the converter's test on real pages, so it runs instead of skipping.
TIDE_HELP_ROOT=$("$repo/deploy/fetch_corpus.sh" | tail -n 1)
export TIDE_HELP_ROOT
# The shared Korean sets (../shared/data beside the clone, or TIDE_SHARED_DATA) for the tests
# that measure against real data; without them those tests skip, and say so below.
if [ -z "${TIDE_SHARED_DATA:-}" ] && [ -d "$repo/../shared/data" ]; then
  TIDE_SHARED_DATA=$(cd "$repo/../shared/data" && pwd)
  export TIDE_SHARED_DATA
fi
echo "test.sh: shared data: ${TIDE_SHARED_DATA:-none (no ../shared/data beside this clone; set TIDE_SHARED_DATA)}"
cd "$build_dir"
# e2e tests start real processes; keep them sequential on a 2-core machine.
status=0
ctest --output-on-failure --timeout 600 "${ctest_args[@]}" || status=$?
# ctest names skipped tests but not why: print each skip's reason from the full log.
if grep -q ": Skipped$" Testing/Temporary/LastTest.log 2>/dev/null; then
  echo "test.sh: skipped tests and why:"
  { grep -A1 ": Skipped$" Testing/Temporary/LastTest.log | grep -v -- "^--$" | sed 's/^/  /'; } || true
fi
exit "$status"
