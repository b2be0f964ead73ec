# Shell functions shared by deploy/demo.sh and the benchmark scripts (source it; it defines
# functions only).
#
#   wait_until SECONDS CMD...          polls CMD every 0.2 s until it succeeds or time runs out
#   write_api_key_file FILE NAME       writes a keys file (mode 600) with one fresh random admin
#                                      key that may read every container, and prints the key

wait_until() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then return 1; fi
    sleep 0.2
  done
}

write_api_key_file() {
  local file=$1 name=$2 key
  key=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
  ( umask 077
    jq -n --arg key "$key" --arg name "$name" '{keys: [{name: $name, key: $key, containers: ["*"], role: "admin"}]}' >"$file" )
  echo "$key"
}
