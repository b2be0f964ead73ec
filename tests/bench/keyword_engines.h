// The engines keyword_bench compares (keyword_bench.cc says what it measures with them).
//
// Systems:
//   tide           tide::index::KeywordIndex (BM25, k1 1.2, b 0.75) over the terms of
//                  tide::analysis::Analyzer (particle-stripped Hangul stems plus "#" syllable
//                  unigrams and bigrams, whole Latin words), the code path ingest and search
//                  use; the query's terms and weights are the daemon's query pipeline's
//                  (query::AnalyzeQuery) with no rules files (no stopwords, synonyms, spelling
//                  or typo matching: those need configs/ or the scope's index). Speed only: `tide-scoped` searches the same
//                  index scoped to the even container ordinals, `tide-one-container` scoped
//                  to the container nearest 1% of the chunks (statistics of that scope);
//                  `tide-top100` and `tide-scoped-top100` are the first two asking for 100
//                  hits, what tide-query asks each BM25 retriever for before fusion.
//   tide-segments  the same, in tide::index::KeywordSegments sealed every kSegmentMaxChunks
//                  chunks as tide-query's are (hnsw.segment_max_chunks): one search over
//                  every segment with their summed statistics, so the cost of segments shows
//                  beside one index. Its modes are tide's.
//   xapian-or      Xapian 1.4 TermGenerator with FLAG_CJK_NGRAM (Hangul unigrams and
//                  bigrams, no stemmer), default BM25 weighting; query = OR of the terms the
//                  same TermGenerator makes from the query text. DESIGN §6 found this the
//                  best way to query Xapian on Korean, so it is the fair comparison.
//   xapian-stock   the same index, query from QueryParser with FLAG_DEFAULT | FLAG_CJK_NGRAM,
//                  whose n-grams of one word must all match (the stock behaviour).
//   fts5-trigram   SQLite FTS5, tokenize='trigram', ORDER BY rank (BM25); query = OR of the
//                  character trigrams of the query text.
//   lucene-nori, lucene-nori-bigram, lucene-ngram
//                  Apache Lucene 9.12.3 in a JVM (tests/bench/peers/lucene/LucenePeer.java says
//                  exactly how each analyses and queries; spoken to over the pipe protocol of
//                  tests/bench/peer_process.h, timing itself after a warm-up); nori is what
//                  Elasticsearch and OpenSearch users get for Korean. `-top100` rows ask for
//                  100 hits. Compared when --lucene_classpath is given.
//   tantivy-ngram, tantivy-wordgram
//                  Tantivy 0.27 (tests/bench/peers/tantivy/src/main.rs says how each analyses
//                  and queries; same protocol). Compared when --tantivy is given.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tests/bench/peer_process.h"

namespace tide::bench {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "keyword_bench: %s\n", what.c_str());
  std::exit(1);
}

// Resident set size of this process, from /proc/self/statm (0 where unavailable).
std::size_t ResidentBytes();

// One full-text engine: built once over `texts` (document i is texts[i]), then queried.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual void Build(const std::vector<std::string>& texts,
                     const std::vector<std::uint32_t>& containers) = 0;
  // For the engines of the fields table (FieldSystems): document i has the title titles[i]
  // and the body bodies[i], scored as two fields.
  virtual void BuildFields(const std::vector<std::string>& /*titles*/, const std::vector<std::string>& /*bodies*/) {
    Die("this engine scores one field");
  }
  // Up to k document indexes, best first.
  virtual std::vector<std::size_t> Search(const std::string& query, std::size_t k) = 0;
  // Engines with several ways to query one index (Xapian) switch between them here.
  virtual void SetQueryMode(std::size_t /*mode*/) {}
  // Runs `queries` in order until all have run or `budget_seconds` have passed (at least one;
  // 0: all), then repeats those that ran until `min_seconds` are spent (the protocol's
  // `search`, tests/bench/peer_process.h). Peers in other processes time themselves.
  virtual QueryBatch SearchBatch(const std::vector<std::string>& queries, std::size_t k, double budget_seconds,
                                 double min_seconds) {
    const double budget = budget_seconds > 0 ? budget_seconds : 1e300;
    QueryBatch batch;
    const Clock::time_point t = Clock::now();
    while (batch.hits.size() < queries.size() && (batch.hits.empty() || SecondsSince(t) < budget)) {
      batch.hits.push_back(Search(queries[batch.hits.size()], k));
    }
    batch.seconds = SecondsSince(t);
    batch.timed = batch.hits.size();
    while (batch.seconds < min_seconds) {
      const Clock::time_point again = Clock::now();
      for (std::size_t q = 0; q < batch.hits.size(); ++q) Search(queries[q], k);
      batch.seconds += SecondsSince(again);
      batch.timed += batch.hits.size();
    }
    return batch;
  }
  // Bytes of the index and how they were counted.
  virtual std::pair<std::size_t, std::string> Size() = 0;
};

// The `tide-scoped` mode's scope: the even container ordinals.
inline bool InHalfScope(std::uint32_t container) { return container % 2 == 0; }

// What tide-query asks each retriever for before fusion (search.candidates).
inline constexpr std::size_t kFusionCandidates = 100;

// tide-segments' segment size: tide-query's default (hnsw.segment_max_chunks).
inline constexpr std::size_t kSegmentMaxChunks = std::size_t{1} << 18;

// Where the peers in other processes are (tests/bench/peers/build.sh); empty: not compared.
struct PeerPrograms {
  std::string lucene_classpath;  // LucenePeer's classes and Lucene's jars, for java -cp
  std::string tantivy;           // the tantivy-peer binary
};

struct System {
  std::vector<std::string> modes;  // one name per query mode (Engine::SetQueryMode)
  std::size_t quality_modes;       // the first this many modes are measured on KLUE too
  std::function<std::unique_ptr<Engine>(const std::filesystem::path& dir)> make;
};

// Every system of the quality and speed tables.
std::vector<System> Systems(const PeerPrograms& peers);
// The systems of the fields table: title and body scored as two fields, on the sets whose
// documents have titles (the judged help set). Quality only.
std::vector<System> FieldSystems(const PeerPrograms& peers);

}  // namespace tide::bench
