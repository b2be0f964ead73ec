// What physical replication of the growing vector graph costs (decision 0011): a writer
// inserts the benchmark corpus's `hash` vectors (384 dimensions, configs/ingest.conf's graph:
// M 16, ef_construction 200, 2 insert threads) in rounds, takes each round's changes
// (VectorIndex::TakeChanges), and a follower applies them (ApplyChanges) instead of inserting.
// Reported: CPU seconds of each part (process CPU time, all threads), bytes of changes per
// chunk, and whether the follower's graph is the writer's (ContentHash) at the end.
//
//   graph_changes_bench --klue DIR [--help_events FILE] [--chunks N] [--round N]
//
// Prints a Markdown table on stdout; tests/bench/graph_changes_bench.sh writes it to
// docs/benchmarks.md.

#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/embedding/hash_embedder.h"
#include "common/index/vector_index.h"
#include "tests/bench/bench_corpus.h"

namespace tide {
namespace {

constexpr int kDim = 384;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "graph_changes_bench: %s\n", what.c_str());
  std::exit(1);
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) Die(std::string(what) + ": " + s.ToString());
}

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

int Main(int argc, char** argv) {
  bench::CorpusOptions corpus_options;
  corpus_options.klue_dir = "/work/shared/data/klue-nli-retrieval";
  corpus_options.queries = 0;
  std::size_t round = 64;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) Die("missing value for " + key);
    const std::string value = argv[++i];
    if (key == "--klue") corpus_options.klue_dir = value;
    else if (key == "--help_events") corpus_options.help_events = value;
    else if (key == "--chunks") corpus_options.chunks = std::stoul(value);
    else if (key == "--round") round = std::stoul(value);
    else Die("unknown option " + key);
  }
  Result<bench::Corpus> corpus = bench::MakeCorpus(corpus_options);
  Check(corpus.status(), "making the corpus");
  const std::size_t n = corpus->texts.size();
  std::fprintf(stderr, "graph_changes_bench: %s; embedding\n", corpus->Describe().c_str());
  embedding::HashEmbedder embedder(embedding::HashEmbedder::Options{kDim});
  std::vector<float> vectors;
  vectors.reserve(n * kDim);
  for (std::size_t begin = 0; begin < n; begin += 4096) {
    const std::size_t end = std::min(n, begin + 4096);
    Check(embedder.Embed({corpus->texts.begin() + static_cast<std::ptrdiff_t>(begin),
                          corpus->texts.begin() + static_cast<std::ptrdiff_t>(end)},
                         embedding::InputType::kPassage, &vectors),
          "embedding");
  }

  index::VectorIndex::Options options;  // configs/ingest.conf's graph
  options.dim = kDim;
  options.m = 16;
  options.ef_construction = 200;
  options.insert_threads = 2;
  auto writer = index::VectorIndex::Create(options);
  auto follower = index::VectorIndex::Create(options);
  Check(writer.status(), "creating the writer");
  Check(follower.status(), "creating the follower");
  (*writer)->StartTracking();

  double insert_cpu = 0, take_cpu = 0, apply_cpu = 0;
  std::size_t bytes = 0, rounds = 0, max_round_bytes = 0;
  double last_take_ms = 0;
  std::vector<std::uint64_t> labels;
  for (std::size_t begin = 0; begin < n; begin += round) {
    const std::size_t end = std::min(n, begin + round);
    labels.clear();
    for (std::size_t i = begin; i < end; ++i) labels.push_back(i + 1);
    double t = CpuSeconds();
    Check((*writer)->AddBatch(labels, std::span<const float>(vectors.data() + begin * kDim, (end - begin) * kDim)),
          "inserting");
    double t2 = CpuSeconds();
    insert_cpu += t2 - t;
    const std::string changes = (*writer)->TakeChanges();
    double t3 = CpuSeconds();
    take_cpu += t3 - t2;
    last_take_ms = (t3 - t2) * 1e3;
    Check((*follower)->ApplyChanges(changes), "applying");
    apply_cpu += CpuSeconds() - t3;
    bytes += changes.size();
    max_round_bytes = std::max(max_round_bytes, changes.size());
    ++rounds;
    if (rounds % 200 == 0) std::fprintf(stderr, "graph_changes_bench: %zu of %zu chunks\n", end, n);
  }
  const bool same = (*writer)->ContentHash() == (*follower)->ContentHash();

  const double per = 1e6 / static_cast<double>(n);  // seconds in total -> microseconds per chunk
  std::printf("| | CPU µs per chunk | share of the insert |\n|---|---|---|\n");
  std::printf("| writer: insert (hnswlib `addPoint`, 2 threads) | %.0f | 1.00 |\n", insert_cpu * per);
  std::printf("| writer: take the round's changes | %.1f | %.3f |\n", take_cpu * per, take_cpu / insert_cpu);
  std::printf("| follower: apply them | %.1f | %.3f |\n", apply_cpu * per, apply_cpu / insert_cpu);
  std::printf("| **writer + follower** | **%.0f** | **%.2f×** (two inserting processes: 2.00×) |\n\n",
              (insert_cpu + take_cpu + apply_cpu) * per, (insert_cpu + take_cpu + apply_cpu) / insert_cpu);
  std::printf("%zu chunks in %zu rounds of %zu; changes: %.0f bytes per chunk (a chunk's vector alone is %d), "
              "%zu bytes in the largest round; the last round's take, over %zu slots: %.1f ms. "
              "Follower's graph equal to the writer's at the end: %s.\n",
              n, rounds, round, static_cast<double>(bytes) / static_cast<double>(n), kDim * 4, max_round_bytes,
              (*writer)->slots(), last_take_ms, same ? "yes" : "NO");
  return same ? 0 : 1;
}

}  // namespace
}  // namespace tide

int main(int argc, char** argv) { return tide::Main(argc, argv); }
