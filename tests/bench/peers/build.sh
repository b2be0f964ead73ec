#!/usr/bin/env bash
# Compiles the keyword benchmark's peers that run in their own process (tests/bench/
# peer_process.h) into <build>/bench-peers, from what `deploy/setup.sh --bench` fetched:
#   lucene/classes   LucenePeer.java against Lucene's jars (build/third_party/lucene/lib)
#   tantivy/target/release/tantivy-peer   tests/bench/peers/tantivy (cargo, crates.io)
# A peer whose dependencies are missing is skipped with a message, not an error: keyword_bench
# then leaves it out of its tables. Recompiles only when the source is newer.
#
#   tests/bench/peers/build.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
bin=${TIDE_BUILD_DIR:-$repo/build}
third_party=${TIDE_THIRD_PARTY:-$repo/build/third_party}
out=$bin/bench-peers

lucene_jars=$third_party/lucene/lib
lucene_src=$repo/tests/bench/peers/lucene/LucenePeer.java
if ! ls "$lucene_jars"/lucene-core-*.jar >/dev/null 2>&1 || ! command -v javac >/dev/null; then
  echo "peers/build.sh: Lucene not built (needs deploy/setup.sh --bench: its jars and javac)" >&2
elif [ ! -f "$out/lucene/classes/LucenePeer.class" ] || [ "$lucene_src" -nt "$out/lucene/classes/LucenePeer.class" ]; then
  mkdir -p "$out/lucene/classes"
  javac -encoding UTF-8 -cp "$lucene_jars/*" -d "$out/lucene/classes" "$lucene_src"
  echo "peers/build.sh: LucenePeer compiled into $out/lucene/classes" >&2
fi

# Tantivy: crates from crates.io pinned by tests/bench/peers/tantivy/Cargo.lock; cargo rebuilds
# only what changed (the first build takes about two minutes on 2 cores).
tantivy_dir=$repo/tests/bench/peers/tantivy
if ! command -v cargo >/dev/null; then
  echo "peers/build.sh: Tantivy not built (needs cargo)" >&2
else
  cargo build -q --release --locked --manifest-path "$tantivy_dir/Cargo.toml" --target-dir "$out/tantivy/target"
  echo "peers/build.sh: tantivy-peer in $out/tantivy/target/release" >&2
fi
