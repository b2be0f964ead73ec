// The reference points of the ingest benchmark (tests/bench/ingest_bench.sh), on the very
// chunks and vectors the worker stored:
//   - bare hnswlib: the vectors inserted one by one into hnswlib::HierarchicalNSW (inner
//     product, M 16, ef_construction 200 by default), sized up front, on --threads threads
//     (as many as the worker's hnsw.insert_threads: each calls addPoint for the next vector,
//     the way hnswlib's own Python binding parallelises add_items); the rate DESIGN §6
//     compares ingest against;
//   - what the worker's "index" stage does besides HNSW: reading each chunk and vector back
//     from RocksDB (as IndexSet::CatchUp does), and analysing and adding it to the BM25 index.
// Prints one JSON object on stdout.
//
//   index_build_bench --data_dir DIR [--m 16] [--ef_construction 200] [--limit N] [--threads 1]
//
// Opens the store read-only as a RocksDB secondary (in a temporary directory), so it is safe
// while tide-ingest runs, but it is meant to run on an idle machine.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <unistd.h>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/analysis/analyzer.h"
#include "common/index/hnswlib.h"
#include "common/index/keyword_index.h"
#include "common/storage/schema.h"
#include "common/storage/store.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::filesystem::path data_dir;
  std::size_t m = 16;
  std::size_t ef_construction = 200;
  std::size_t limit = 0;  // 0: every vector
  std::size_t threads = 1;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "index_build_bench: %s\n", message.c_str());
  std::exit(1);
}

Options ParseArgs(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) Die("missing value for " + arg);
    const std::string value = argv[++i];
    if (arg == "--data_dir") {
      opt.data_dir = value;
    } else if (arg == "--m") {
      opt.m = std::stoul(value);
    } else if (arg == "--ef_construction") {
      opt.ef_construction = std::stoul(value);
    } else if (arg == "--limit") {
      opt.limit = std::stoul(value);
    } else if (arg == "--threads") {
      opt.threads = std::stoul(value);
    } else {
      Die("unknown option " + arg +
          " (--data_dir DIR [--m 16] [--ef_construction 200] [--limit N] [--threads 1])");
    }
  }
  if (opt.data_dir.empty()) Die("--data_dir is required");
  if (opt.threads == 0) Die("--threads must be at least 1");
  return opt;
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// CPU time of this process, all threads: robust to other processes on the machine.
double CpuSeconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

}  // namespace

int main(int argc, char** argv) {
  const Options opt = ParseArgs(argc, argv);
  namespace fs = std::filesystem;
  const fs::path secondary =
      fs::temp_directory_path() / ("index-build-bench-" + std::to_string(::getpid()));
  auto store = tide::storage::Store::OpenSecondary(opt.data_dir / "store", secondary, {});
  if (!store) Die(store.status().ToString());
  using tide::storage::Cf;

  // Every stored vector, in label order (the order the worker inserted them).
  std::vector<std::uint64_t> labels;
  std::vector<float> vectors;
  std::size_t dim = 0;
  tide::Status scan = (*store)->Scan(Cf::kVectors, "", "", [&](std::string_view key, std::string_view value) {
    auto label = tide::storage::DecodeU64(key);
    auto v = tide::storage::DecodeVector(value);
    if (!label || !v) Die("undecodable vector record");
    if (dim == 0) dim = v->size();
    if (v->size() != dim) Die("vectors of different dimensions");
    labels.push_back(*label);
    vectors.insert(vectors.end(), v->begin(), v->end());
    return opt.limit == 0 || labels.size() < opt.limit;
  });
  if (!scan.ok()) Die(scan.ToString());
  if (labels.empty()) Die("the store holds no vectors");
  const std::size_t n = labels.size();

  // 1. What CatchUp reads per chunk: a point lookup of the chunk and of its vector, decoded.
  std::vector<tide::storage::ChunkRecord> chunks;
  chunks.reserve(n);
  auto start = Clock::now();
  for (std::uint64_t label : labels) {
    const std::string key = tide::storage::EncodeU64(label);
    auto chunk = (*store)->Get(Cf::kChunks, key);
    auto vec = (*store)->Get(Cf::kVectors, key);
    if (!chunk || !vec || !chunk->has_value() || !vec->has_value()) Die("chunk or vector missing");
    auto rec = tide::storage::DecodeChunk(**chunk);
    auto v = tide::storage::DecodeVector(**vec);
    if (!rec || !v) Die("undecodable chunk");
    chunks.push_back(std::move(*rec));
  }
  const double read_seconds = SecondsSince(start);

  // 2. The BM25 side of IndexSet::ApplyUpsert: analyse title/heading/keywords and body, add.
  tide::analysis::Analyzer analyzer;
  tide::index::KeywordIndex keywords;
  start = Clock::now();
  std::uint64_t text_bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const tide::storage::ChunkRecord& c = chunks[i];
    tide::index::KeywordIndex::FieldTerms terms;
    terms[static_cast<int>(tide::index::Field::kTitle)] = analyzer.Terms(c.title + "\n" + c.heading + "\n" + c.keywords);
    terms[static_cast<int>(tide::index::Field::kBody)] = analyzer.Terms(c.text);
    keywords.Add(labels[i], 0, terms);
    text_bytes += c.text.size();
  }
  const double keyword_seconds = SecondsSince(start);

  // 3. Bare hnswlib, the peer: same vectors, same parameters, sized up front.
  hnswlib::InnerProductSpace space(dim);
  hnswlib::HierarchicalNSW<float> hnsw(&space, n, opt.m, opt.ef_construction, /*random_seed=*/100);
  start = Clock::now();
  const double cpu_start = CpuSeconds();
  std::atomic<std::size_t> next{0};
  auto insert = [&] {
    for (std::size_t i = next++; i < n; i = next++) hnsw.addPoint(vectors.data() + i * dim, labels[i]);
  };
  std::vector<std::thread> helpers;
  for (std::size_t t = 1; t < opt.threads; ++t) helpers.emplace_back(insert);
  insert();
  for (std::thread& t : helpers) t.join();
  const double hnsw_seconds = SecondsSince(start);
  const double hnsw_cpu_seconds = CpuSeconds() - cpu_start;

  store->reset();
  std::error_code ignored;
  fs::remove_all(secondary, ignored);

  nlohmann::json out = {
      {"chunks", n},
      {"dim", dim},
      {"m", opt.m},
      {"ef_construction", opt.ef_construction},
      {"hnswlib_threads", opt.threads},
      {"chunk_text_bytes", text_bytes},
      {"hnswlib_seconds", hnsw_seconds},
      {"hnswlib_inserts_per_s", static_cast<double>(n) / hnsw_seconds},
      {"hnswlib_cpu_seconds", hnsw_cpu_seconds},
      {"read_seconds", read_seconds},
      {"keyword_seconds", keyword_seconds},
  };
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
