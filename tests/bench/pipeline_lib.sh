# Shared by ingest_bench.sh and serving_bench.sh (source it after lib.sh; functions only).
# The caller sets $repo, $bin (build dir), $run (a fresh run directory) and calls
# `trap pipeline_cleanup EXIT` itself; every process started here is recorded in $pids and
# stopped there, newest first.
#
#   pipeline_copy_binaries            copies the binaries into $run/bin and configs/ into
#                                     $run/configs, and points $bin and $configs there
#   pipeline_corpus CHUNKS            events.jsonl, load.jsonl, queries.json, corpus.json in $run
#   pipeline_start_broker             sets $brokers
#   pipeline_start_worker [ARGS...]   sets $worker_pid, $worker_metrics (URL)
#   pipeline_start_query [ARGS...]    sets $query_pid, $port, $api_key (writes api_keys.json)
#   pipeline_publish_paced FILE       publishes FILE in slices while the worker consumes (below)
#   pipeline_stop PID                 SIGTERM, then SIGKILL after 30 s; returns its exit code
#   metric URL NAME [LABELS]          one sample's value from a Prometheus text page (0 if absent)
#   worker_caught_up DOCS             true once the worker has consumed DOCS events and its
#                                     indexes have every change it applied
#   proc_status_kb PID FIELD          VmRSS / VmHWM in kB
#   proc_cpu_s PID                    user + system CPU seconds so far
#   proc_write_bytes PID              bytes written to storage so far (/proc/PID/io)
#   now_ms                            wall clock in milliseconds

pids=()
keep=${keep:-0}
ok=0

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

pipeline_stop() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

pipeline_cleanup() {
  local i
  for (( i=${#pids[@]}-1; i>=0; i-- )); do pipeline_stop "${pids[$i]}" || true; done
  if [ "$ok" -eq 1 ] && [ "$keep" -eq 0 ]; then
    rm -rf "$run"
  else
    echo "$(basename "$0"): run directory kept: $run" >&2
  fi
}

# Other builds may relink the binaries while a long benchmark runs (and a newer build may not
# read an older snapshot), and a config key added meanwhile would be refused by them: run
# private copies of both.
pipeline_copy_binaries() {
  local b
  for b in "$@"; do
    [ -x "$bin/$b" ] || { echo "$(basename "$0"): $bin/$b is missing (build it, or drop --no-build)" >&2; return 1; }
    mkdir -p "$run/bin/$(dirname "$b")"
    cp "$bin/$b" "$run/bin/$b"
  done
  bin=$run/bin
  cp -r "$repo/configs" "$run/configs"
  configs=$run/configs
}

pipeline_corpus() {
  local chunks=$1 help_root
  help_root=$("$repo/deploy/fetch_corpus.sh" | tail -n 1)
  "$bin/ingest/tidectl" import-help --help-root "$help_root" --output "$run/help.jsonl" 2>/dev/null
  python3 "$repo/tests/bench/make_bench_events.py" --help-events "$run/help.jsonl" \
    --klue "${KLUE_DATA:-/work/shared/data/klue-nli-retrieval}/corpus.jsonl" --chunks "$chunks" \
    --out "$run/events.jsonl" --stats "$run/corpus.json" --queries "$run/queries.json" \
    --load "$run/load.jsonl" --load-docs 10000
}

pipeline_start_broker() {
  "$bin/ingest/tidectl" dev-broker --bootstrap-file "$run/bootstrap" >"$run/broker.log" 2>&1 &
  pids+=($!)
  wait_until 20 test -s "$run/bootstrap" || { cat "$run/broker.log"; return 1; }
  brokers=$(cat "$run/bootstrap")
}

pipeline_start_worker() {
  rm -f "$run/ingest_metrics_port"
  "$bin/ingest/tide-ingest" --config "${configs:-$repo/configs}/ingest.conf" --data_dir "$run/data" \
    --kafka.brokers "$brokers" --metrics.port 0 --metrics.port_file "$run/ingest_metrics_port" "$@" \
    >>"$run/ingest.log" 2>&1 &
  worker_pid=$!
  pids+=($worker_pid)
  # A restarted worker loads its snapshot and replays the change log before it listens.
  wait_until 900 test -s "$run/ingest_metrics_port" || { tail -n 20 "$run/ingest.log"; return 1; }
  worker_metrics="http://127.0.0.1:$(cat "$run/ingest_metrics_port")/metrics"
}

pipeline_start_query() {
  if [ ! -f "$run/api_keys.json" ]; then
    write_api_key_file "$run/api_keys.json" bench >/dev/null
  fi
  api_key=$(jq -r '.keys[0].key' "$run/api_keys.json")
  rm -f "$run/port"
  "$bin/query/tide-query" --config "${configs:-$repo/configs}/query.conf" --data_dir "$run/data" \
    --http.port 0 --http.port_file "$run/port" --auth.api_keys_file "$run/api_keys.json" "$@" \
    >>"$run/query.log" 2>&1 &
  query_pid=$!
  pids+=($query_pid)
  wait_until 60 test -s "$run/port" || { tail -n 20 "$run/query.log"; return 1; }
  port=$(cat "$run/port")
}

# The dev broker (librdkafka's mock cluster) keeps at most 5 MiB or 100,000 messages per
# partition and silently drops the oldest beyond that (rdkafka_mock.c, max_size/max_cnt), so a
# large corpus published ahead of the worker would lose events. Publish it in slices of 1,000
# events instead, each once the worker has finished all but 1,000 of those already sent: the
# worker never waits for input, and the broker holds at most about 2,000 events.
worker_consumed_at_least() { [ "$(metric "$worker_metrics" tide_ingest_events_consumed_total)" -ge "$1" ]; }

pipeline_publish_paced() {
  local file=$1 slices="$run/slices" sent=0 lines slice
  rm -rf "$slices" && mkdir -p "$slices"
  split -l 1000 -d -a 5 "$file" "$slices/s."
  for slice in "$slices"/s.*; do
    lines=$(wc -l <"$slice")
    wait_until 3600 worker_consumed_at_least $(( sent - 1000 )) || return 1
    "$bin/ingest/tidectl" publish --brokers "$brokers" --file "$slice" >>"$run/publish.log" 2>&1
    sent=$(( sent + lines ))
  done
  rm -rf "$slices"
}

metric() {
  local url=$1 name=$2 labels=${3:-}
  curl -sf -H "Authorization: Bearer ${api_key:-}" "$url" |
    awk -v name="$name" -v labels="$labels" '
      $1 == name || $1 == name "{" labels "}" { v = $2 }
      END { print (v == "" ? 0 : v) }'
}

# Consumed is not yet indexed: the worker's indexes are built on a thread of their own, behind
# the consume loop, and a worker stopped before they catch up leaves the rest to its restart
# (its snapshot, and the graph records tide-query copies, end where its indexes did).
worker_caught_up() {
  [ "$(metric "$worker_metrics" tide_ingest_events_consumed_total)" -ge "$1" ] &&
    awk -v lag="$(metric "$worker_metrics" tide_ingest_index_lag_changes)" 'BEGIN { exit !(lag + 0 == 0) }'
}

proc_status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# CPU seconds of this shell's reaped children (the curl, awk and jq of its polling), into the
# variable named by $1. Not through $(...): a subshell's `times` starts from zero.
shell_children_cpu_s() {
  local f
  f=$(mktemp)
  times >"$f"
  printf -v "$1" '%s' "$(awk 'NR == 2 {
    split($1, u, "m"); split($2, s, "m"); sub(/s$/, "", u[2]); sub(/s$/, "", s[2])
    printf "%.2f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$f")"
  rm -f "$f"
}

# Bytes a running process has caused to be written to storage so far (its page-cache
# writeback included, whichever thread does it): write_bytes of /proc/PID/io.
proc_write_bytes() { awk '$1 == "write_bytes:" { print $2 }' "/proc/$1/io"; }

# CPU seconds (user + system) a running process has used so far.
proc_cpu_s() {
  # Fields 14 and 15 of /proc/PID/stat (after the parenthesised command name).
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f\n", ($12 + $13) / hz }' "/proc/$1/stat"
}
