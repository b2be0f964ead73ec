# Shared by the benchmark scripts in tests/bench/ (source it; it defines functions only).
#
#   wait_until, write_api_key_file   from deploy/lib.sh
#   bench_machine_line               "Measured <date> on N cores (<cpu>), X GiB RAM, commit `c`."
#   bench_suffix MODE                sets $heading_suffix and $plot_suffix: empty for quick, and
#                                    ", 1M chunks (--full)" / "_full" for full, so the full run's
#                                    sections and plots sit beside the quick run's
#   replace_section HEADING FILE     puts FILE (which starts with HEADING, a "## " line) into
#                                    docs/benchmarks.md in place of the old section of that
#                                    heading, or appends it; other sections are kept
#   find_matplotlib                  sets $py to a python3 that can import matplotlib (the Debian
#                                    one when a pyenv shim shadows it), or to "" if there is none
#
# Expects $repo (the repository root) to be set by the caller.

. "$repo/deploy/lib.sh"  # wait_until, write_api_key_file

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
