# Shared by ann_bench.sh and keyword_bench.sh (source it after lib.sh; functions only).
#
#   index_bench_args "$@"     parses --quick | --full | --no-build | --no-cache into
#                             $mode (quick|full), $build (1|0), $use_cache (1|0)
#   prepare_help_events       sets $help_events to the LibreOffice Korean help as
#                             `tidectl import-help` events (build/bench-data/help_events.jsonl,
#                             made once), or to "" with a warning when the help is not unpacked
#                             (deploy/fetch_corpus.sh): the corpus is then KLUE sentences only
#
# Expects $repo and $bin (the build directory) to be set by the caller.

index_bench_args() {
  mode=quick
  build=1
  use_cache=1
  while [ $# -gt 0 ]; do
    case "$1" in
      --quick) mode=quick ;;
      --full) mode=full ;;
      --no-build) build=0 ;;
      --no-cache) use_cache=0 ;;
      *) echo "usage: $(basename "$0") [--quick|--full] [--no-build] [--no-cache]" >&2; exit 2 ;;
    esac
    shift
  done
}

prepare_help_events() {
  local root="$bin/third_party/libreoffice-help-ko/usr/share/libreoffice/help/ko"
  help_events="$bin/bench-data/help_events.jsonl"
  if [ -s "$help_events" ]; then return 0; fi
  if [ ! -d "$root" ]; then
    echo "$(basename "$0"): $root not found (deploy/fetch_corpus.sh unpacks it); using KLUE sentences only" >&2
    help_events=""
    return 0
  fi
  mkdir -p "$bin/bench-data"
  "$bin/ingest/tidectl" import-help --help-root "$root" --output "$help_events.tmp" >&2
  mv "$help_events.tmp" "$help_events"
}

