// Keyword benchmark: TideSearch's BM25 index against Lucene, Tantivy, Xapian and SQLite FTS5 on the same
// texts and queries.
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
//
// Two parts:
//   1. quality on the retrieval sets given by --quality (default: the --klue set; each a
//      directory of corpus.jsonl, queries.jsonl, qrels.tsv; unscoped): recall@1/10 and MRR@10
//      (tests/bench/ranking_metrics.h);
//      On the sets whose corpus.jsonl gives each document's "title" and "body" apart (the
//      judged help set), a second table scores them as two fields: `tide-one-field` and
//      `lucene-nori-bigram-concat` (the baseline: title and body joined in one field, the same
//      text as the fields rows, where the first table's help-ko text has no tags),
//      `tide-fields` (our title and body BM25 lists, scores added), `lucene-nori-bigram-fields` (Lucene
//      most_fields), `lucene-nori-bigram-bm25f` (Lucene CombinedFieldQuery: BM25F), each
//      Lucene one also `-title2` (the title weighted 2);
//   2. speed on the benchmark corpus of tests/bench/bench_corpus.h (N chunks of real
//      Korean/English text and its queries): build time, index size and queries/s on one
//      thread (top 10; --top_k 100 is what the daemon asks each retriever for before fusion).
// Xapian and FTS5 are optional at build time (TIDE_BENCH_HAVE_XAPIAN / _SQLITE).
//
// Run through tests/bench/keyword_bench.sh (--quick: 100k chunks, --full: 1M), or directly:
//   build/tests/bench/keyword_bench --klue /work/shared/data/klue-nli-retrieval
//     --help_events events.jsonl --chunks 100000 --queries 1000 [--systems tide,xapian-or]
//     [--top_k 100] [--quality DIR]... [--lucene_classpath 'JARS/*:CLASSES'] [--tantivy BIN]
//     [--quality_only]
// Markdown tables go to stdout, progress to stderr.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#ifdef TIDE_BENCH_HAVE_XAPIAN
#include <xapian.h>
#endif
#ifdef TIDE_BENCH_HAVE_SQLITE
#include <sqlite3.h>
#endif

#include "common/analysis/analyzer.h"
#include "common/index/container_set.h"
#include "common/index/keyword_index.h"
#include "query/query_pipeline.h"
#include "tests/bench/bench_corpus.h"
#include "tests/bench/peer_process.h"
#include "tests/bench/ranking_metrics.h"
#include "tests/testutil/temp_dir.h"

namespace tide::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kK = 10;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "keyword_bench: %s\n", what.c_str());
  std::exit(1);
}

// Resident set size of this process, from /proc/self/statm (0 where unavailable).
std::size_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * 4096;
}

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
bool InHalfScope(std::uint32_t container) { return container % 2 == 0; }

// What tide-query asks each retriever for before fusion (search.candidates).
constexpr std::size_t kFusionCandidates = 100;

class TideEngine : public Engine {
 public:
  void Build(const std::vector<std::string>& texts,
             const std::vector<std::uint32_t>& containers) override {
    const std::size_t rss = ResidentBytes();
    for (std::size_t i = 0; i < texts.size(); ++i) {
      index::KeywordIndex::FieldTerms terms;
      terms[static_cast<int>(index::Field::kBody)] = analyzer_.Terms(texts[i]);
      index_.Add(i + 1, containers[i], terms);
      all_.Add(containers[i]);
      if (InHalfScope(containers[i])) even_.Add(containers[i]);
    }
    // The container nearest 1 % of the chunks: a request that may read one team's space.
    std::map<std::uint32_t, std::size_t> sizes;
    for (std::uint32_t c : containers) ++sizes[c];
    auto distance = [&](std::size_t size) {
      const auto target = static_cast<double>(texts.size()) / 100;
      return std::abs(static_cast<double>(size) - target);
    };
    auto nearest = std::min_element(sizes.begin(), sizes.end(), [&](const auto& a, const auto& b) {
      return distance(a.second) < distance(b.second);
    });
    one_ = index::ContainerSet();
    if (nearest != sizes.end()) one_.Add(nearest->first);
    rss_growth_ = ResidentBytes() - std::min(rss, ResidentBytes());
  }
  std::vector<std::size_t> Search(const std::string& query, std::size_t k) override {
    std::vector<std::size_t> out;
    // The daemon's query pipeline without rules files (no stopwords, synonyms or spelling): its
    // terms and their weights (every word weighs alike whatever its script).
    const query::AnalyzedQuery q = query::AnalyzeQuery(query, rules_, analyzer_);
    for (const index::KeywordHit& h : index_.Search(index::Field::kBody, q.terms, fusion_k_ ? kFusionCandidates : k,
                                                    *scope_, bm25_, nullptr, &q.term_weights)) {
      out.push_back(h.label - 1);
    }
    return out;
  }
  // Modes (Systems()): 0 every container, 1 the even ones, 2 one container; 3 and 4 are 0
  // and 1 asking for the daemon's fusion candidates instead of k.
  void SetQueryMode(std::size_t mode) override {
    scope_ = mode == 2 ? &one_ : mode == 1 || mode == 4 ? &even_ : &all_;
    fusion_k_ = mode >= 3;
  }
  std::pair<std::size_t, std::string> Size() override {
    std::string snapshot;
    index_.AppendTo(&snapshot);
    char note[96];
    std::snprintf(note, sizeof(note), "snapshot bytes (in memory: %.0f MB RSS growth)",
                  static_cast<double>(rss_growth_) / 1e6);
    return {snapshot.size(), note};
  }

 private:
  analysis::Analyzer analyzer_;
  const query::QueryRules rules_;  // built-in defaults, no files
  index::KeywordIndex index_;
  index::KeywordIndex::Bm25 bm25_;
  index::ContainerSet all_;   // every container: statistics of the whole index
  index::ContainerSet even_;  // the even container ordinals: a request scoped to part of it
  index::ContainerSet one_;   // the one container nearest 1 % of the chunks
  const index::ContainerSet* scope_ = &all_;
  bool fusion_k_ = false;
  std::size_t rss_growth_ = 0;
};

// TideSearch's two BM25 fields, title and body (KeywordIndex fields kTitle and kBody, the
// terms of the same query pipeline), each searched for every document and the scores added:
// the `most_fields` way, exactly, with no fusion weights or title coverage (the daemon fuses
// each field's top 100 instead; its keyword mode is measured in the quality sections of
// docs/benchmarks.md).
class TideFieldsEngine : public Engine {
 public:
  // `one_field`: the title and the body joined in one body field instead (the baseline the
  // fields are measured against, with the same text).
  explicit TideFieldsEngine(bool one_field = false) : one_field_(one_field) {}
  void Build(const std::vector<std::string>&, const std::vector<std::uint32_t>&) override {
    Die("tide-fields takes titles (BuildFields)");
  }
  void BuildFields(const std::vector<std::string>& titles, const std::vector<std::string>& bodies) override {
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      index::KeywordIndex::FieldTerms terms;
      if (one_field_) {
        terms[static_cast<int>(index::Field::kBody)] = analyzer_.Terms(titles[i] + "\n" + bodies[i]);
      } else {
        terms[static_cast<int>(index::Field::kTitle)] = analyzer_.Terms(titles[i]);
        terms[static_cast<int>(index::Field::kBody)] = analyzer_.Terms(bodies[i]);
      }
      index_.Add(i + 1, 0, terms);
    }
    all_.Add(0);
  }
  std::vector<std::size_t> Search(const std::string& query, std::size_t k) override {
    const query::AnalyzedQuery q = query::AnalyzeQuery(query, rules_, analyzer_);
    std::map<std::uint64_t, double> score;
    for (index::Field field : {index::Field::kTitle, index::Field::kBody}) {
      for (const index::KeywordHit& h : index_.Search(field, q.terms, index_.size(), all_, bm25_, nullptr, &q.term_weights)) {
        score[h.label] += h.score;
      }
    }
    std::vector<std::pair<double, std::uint64_t>> ranked;
    for (const auto& [label, s] : score) ranked.emplace_back(-s, label);
    std::sort(ranked.begin(), ranked.end());
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < ranked.size() && i < k; ++i) out.push_back(ranked[i].second - 1);
    return out;
  }
  std::pair<std::size_t, std::string> Size() override { return {0, "not measured"}; }

 private:
  analysis::Analyzer analyzer_;
  const query::QueryRules rules_;
  index::KeywordIndex index_;
  index::KeywordIndex::Bm25 bm25_;
  index::ContainerSet all_;
  bool one_field_;
};

#ifdef TIDE_BENCH_HAVE_XAPIAN
std::size_t DirectoryBytes(const std::filesystem::path& dir) {
  std::size_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

class XapianEngine : public Engine {
 public:
  explicit XapianEngine(const std::filesystem::path& dir) : dir_(dir) {}
  void SetQueryMode(std::size_t mode) override { stock_ = mode == 1; }
  void Build(const std::vector<std::string>& texts, const std::vector<std::uint32_t>&) override {
    Xapian::WritableDatabase db(dir_.string(), Xapian::DB_CREATE_OR_OVERWRITE);
    Xapian::TermGenerator generator;
    generator.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
    for (const std::string& text : texts) {
      Xapian::Document doc;
      generator.set_document(doc);
      generator.index_text(text);
      db.add_document(doc);  // docids 1, 2, ... in order
    }
    db.commit();
    db.close();
    db_ = Xapian::Database(dir_.string());
    parser_.set_database(db_);
  }
  std::vector<std::size_t> Search(const std::string& query, std::size_t k) override {
    Xapian::Query q;
    if (stock_) {
      try {
        q = parser_.parse_query(query, Xapian::QueryParser::FLAG_DEFAULT |
                                           Xapian::QueryParser::FLAG_CJK_NGRAM);
      } catch (const Xapian::QueryParserError&) {
        // Query syntax in plain text (a stray quote, "AND" at the end): parse it again with
        // no operators, as an application would.
        try {
          q = parser_.parse_query(query, Xapian::QueryParser::FLAG_CJK_NGRAM);
        } catch (const Xapian::QueryParserError& e) {
          std::fprintf(stderr, "xapian-stock: %s: %s\n", e.get_msg().c_str(), query.c_str());
          ++parse_failures_;
          return {};
        }
      }
    } else {
      Xapian::Document scratch;
      generator_.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
      generator_.set_document(scratch);
      generator_.index_text(query);
      std::vector<std::string> terms(scratch.termlist_begin(), scratch.termlist_end());
      q = Xapian::Query(Xapian::Query::OP_OR, terms.begin(), terms.end());
    }
    Xapian::Enquire enquire(db_);
    enquire.set_query(q);
    Xapian::MSet mset = enquire.get_mset(0, static_cast<Xapian::doccount>(k));
    std::vector<std::size_t> out;
    for (Xapian::MSetIterator it = mset.begin(); it != mset.end(); ++it) out.push_back(*it - 1);
    return out;
  }
  std::pair<std::size_t, std::string> Size() override {
    return {DirectoryBytes(dir_), "on disk (glass, with positions)"};
  }

 private:
  std::filesystem::path dir_;
  std::size_t parse_failures_ = 0;
  bool stock_ = false;  // mode 0: OR of the query's terms; mode 1: QueryParser
  Xapian::Database db_;
  Xapian::QueryParser parser_;
  Xapian::TermGenerator generator_;
};
#endif

#ifdef TIDE_BENCH_HAVE_SQLITE
class Fts5Engine : public Engine {
 public:
  explicit Fts5Engine(const std::filesystem::path& file) : file_(file) {}
  ~Fts5Engine() override {
    sqlite3_finalize(query_);
    sqlite3_close(db_);
  }
  void Build(const std::vector<std::string>& texts, const std::vector<std::uint32_t>&) override {
    if (sqlite3_open(file_.string().c_str(), &db_) != SQLITE_OK) Die("sqlite3_open");
    Exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
         "CREATE VIRTUAL TABLE docs USING fts5(text, tokenize='trigram'); BEGIN;");
    sqlite3_stmt* insert = nullptr;
    Prepare("INSERT INTO docs(rowid, text) VALUES (?, ?)", &insert);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      sqlite3_bind_int64(insert, 1, static_cast<sqlite3_int64>(i + 1));
      sqlite3_bind_text(insert, 2, texts[i].data(), static_cast<int>(texts[i].size()), SQLITE_STATIC);
      if (sqlite3_step(insert) != SQLITE_DONE) Die(std::string("insert: ") + sqlite3_errmsg(db_));
      sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    Exec("COMMIT;");
    Prepare("SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT ?", &query_);
  }
  std::vector<std::size_t> Search(const std::string& query, std::size_t k) override {
    std::vector<std::size_t> out;
    const std::string match = TrigramsOr(query);
    if (match.empty()) return out;  // fewer than three characters: FTS5 trigram cannot match
    sqlite3_bind_text(query_, 1, match.data(), static_cast<int>(match.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(query_, 2, static_cast<sqlite3_int64>(k));
    int rc;
    while ((rc = sqlite3_step(query_)) == SQLITE_ROW) {
      out.push_back(static_cast<std::size_t>(sqlite3_column_int64(query_, 0)) - 1);
    }
    if (rc != SQLITE_DONE) Die(std::string("query: ") + sqlite3_errmsg(db_) + " for " + match);
    sqlite3_reset(query_);
    return out;
  }
  std::pair<std::size_t, std::string> Size() override {
    return {std::filesystem::file_size(file_), "on disk"};
  }

  // `"abc" OR "bcd" OR ...` over the code-point trigrams of the text (distinct, in order;
  // double quotes inside a trigram are doubled, FTS5's escape).
  static std::string TrigramsOr(const std::string& text) {
    std::vector<std::string> cps;
    for (std::size_t i = 0; i < text.size();) {
      std::size_t len = 1;
      const auto c = static_cast<unsigned char>(text[i]);
      if (c >= 0xF0) len = 4;
      else if (c >= 0xE0) len = 3;
      else if (c >= 0xC0) len = 2;
      cps.push_back(text.substr(i, len));
      i += len;
    }
    std::set<std::string> seen;
    std::string out;
    for (std::size_t i = 0; i + 3 <= cps.size(); ++i) {
      std::string tri = cps[i] + cps[i + 1] + cps[i + 2];
      if (!seen.insert(tri).second) continue;
      std::string quoted = "\"";
      for (char ch : tri) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      quoted += '"';
      if (!out.empty()) out += " OR ";
      out += quoted;
    }
    return out;
  }

 private:
  void Exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      std::string e = error != nullptr ? error : "?";
      sqlite3_free(error);
      Die(std::string(sql) + ": " + e);
    }
  }
  void Prepare(const char* sql, sqlite3_stmt** stmt) {
    if (sqlite3_prepare_v2(db_, sql, -1, stmt, nullptr) != SQLITE_OK) {
      Die(std::string(sql) + ": " + sqlite3_errmsg(db_));
    }
  }

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* query_ = nullptr;
};
#endif

// A peer in another process (tests/bench/peer_process.h). Mode 0 asks for k hits, mode 1 for
// the daemon's fusion candidates (the `-top100` rows).
class PeerEngine : public Engine {
 public:
  explicit PeerEngine(const std::vector<std::string>& argv) : peer_(argv) {}
  void Build(const std::vector<std::string>& texts, const std::vector<std::uint32_t>& containers) override {
    size_ = peer_.Build(texts, containers);
  }
  void BuildFields(const std::vector<std::string>& titles, const std::vector<std::string>& bodies) override {
    size_ = peer_.Build(bodies, std::vector<std::uint32_t>(bodies.size(), 0), &titles);
  }
  std::vector<std::size_t> Search(const std::string& query, std::size_t k) override {
    return std::move(SearchBatch({query}, k, 0, 0).hits.at(0));
  }
  QueryBatch SearchBatch(const std::vector<std::string>& queries, std::size_t k, double budget_seconds,
                         double min_seconds) override {
    return peer_.Search(queries, top100_ ? kFusionCandidates : k, budget_seconds, min_seconds);
  }
  void SetQueryMode(std::size_t mode) override { top100_ = mode == 1; }
  std::pair<std::size_t, std::string> Size() override { return size_; }

 private:
  PeerProcess peer_;
  bool top100_ = false;
  std::pair<std::size_t, std::string> size_;
};

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

std::vector<System> Systems(const PeerPrograms& peers) {
  std::vector<System> s;
  s.push_back({{"tide", "tide-scoped", "tide-one-container", "tide-top100", "tide-scoped-top100"}, 1, [](const std::filesystem::path&) { return std::make_unique<TideEngine>(); }});
#ifdef TIDE_BENCH_HAVE_XAPIAN
  s.push_back({{"xapian-or", "xapian-stock"}, 2, [](const std::filesystem::path& d) {
                 return std::make_unique<XapianEngine>(d / "xapian");
               }});
#endif
  if (!peers.lucene_classpath.empty()) {
    for (std::string variant : {"nori", "nori-bigram", "ngram"}) {
      const std::string name = "lucene-" + variant;
      s.push_back({{name, name + "-top100"}, 1, [variant, cp = peers.lucene_classpath](const std::filesystem::path& d) {
                     return std::make_unique<PeerEngine>(std::vector<std::string>{
                         "java", "-Xmx6g", "-cp", cp, "LucenePeer", variant, (d / ("lucene-" + variant)).string()});
                   }});
    }
  }
  if (!peers.tantivy.empty()) {
    for (std::string variant : {"ngram", "wordgram"}) {
      const std::string name = "tantivy-" + variant;
      s.push_back({{name, name + "-top100"}, 1, [variant, bin = peers.tantivy](const std::filesystem::path& d) {
                     return std::make_unique<PeerEngine>(
                         std::vector<std::string>{bin, variant, (d / ("tantivy-" + variant)).string()});
                   }});
    }
  }
#ifdef TIDE_BENCH_HAVE_SQLITE
  s.push_back({{"fts5-trigram"}, 1, [](const std::filesystem::path& d) {
                 return std::make_unique<Fts5Engine>(d / "fts5.db");
               }});
#endif
  return s;
}

// The systems of the fields table: title and body scored as two fields, on the sets whose
// documents have titles (the judged help set). Quality only.
std::vector<System> FieldSystems(const PeerPrograms& peers) {
  std::vector<System> s;
  s.push_back({{"tide-one-field"}, 1, [](const std::filesystem::path&) { return std::make_unique<TideFieldsEngine>(true); }});
  s.push_back({{"tide-fields"}, 1, [](const std::filesystem::path&) { return std::make_unique<TideFieldsEngine>(); }});
  if (!peers.lucene_classpath.empty()) {
    for (std::string variant : {"nori-bigram-concat", "nori-bigram-fields", "nori-bigram-fields-title2", "nori-bigram-bm25f",
                                "nori-bigram-bm25f-title2"}) {
      s.push_back({{"lucene-" + variant}, 1, [variant, cp = peers.lucene_classpath](const std::filesystem::path& d) {
                     return std::make_unique<PeerEngine>(std::vector<std::string>{
                         "java", "-Xmx6g", "-cp", cp, "LucenePeer", variant, (d / ("lucene-" + variant)).string()});
                   }});
    }
  }
  return s;
}

// A retrieval set in the shared layout (corpus.jsonl, queries.jsonl, qrels.tsv).
struct KlueSet {
  std::string name;  // the directory's name
  std::vector<std::string> doc_ids, doc_texts;
  // Documents' titles and bodies apart, when corpus.jsonl gives them ("title", "body"; "text"
  // is then the two joined): only such sets are in the fields table.
  std::vector<std::string> doc_titles, doc_bodies;
  std::vector<std::string> query_ids, query_texts;
  std::map<std::string, std::set<std::string>> qrels;
};

void ReadJsonl(const std::filesystem::path& file, std::vector<std::string>* ids,
               std::vector<std::string>* texts, std::vector<std::string>* titles = nullptr,
               std::vector<std::string>* bodies = nullptr) {
  std::ifstream in(file);
  if (!in) Die("cannot read " + file.string());
  bool fields = true;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line);
    ids->push_back(j.at("_id").get<std::string>());
    texts->push_back(j.at("text").get<std::string>());
    if (titles == nullptr) continue;
    fields = fields && j.contains("title") && j.contains("body");
    if (fields) {
      titles->push_back(j.at("title").get<std::string>());
      bodies->push_back(j.at("body").get<std::string>());
    }
  }
  if (titles != nullptr && !fields) {
    titles->clear();
    bodies->clear();
  }
}

KlueSet ReadKlue(const std::filesystem::path& dir) {
  KlueSet k;
  k.name = dir.filename().string();
  ReadJsonl(dir / "corpus.jsonl", &k.doc_ids, &k.doc_texts, &k.doc_titles, &k.doc_bodies);
  ReadJsonl(dir / "queries.jsonl", &k.query_ids, &k.query_texts);
  std::ifstream in(dir / "qrels.tsv");
  if (!in) Die("cannot read qrels.tsv");
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string q, d, score;
    if (std::getline(fields, q, '\t') && std::getline(fields, d, '\t') && std::getline(fields, score) &&
        std::stod(score) > 0) {
      k.qrels[q].insert(d);
    }
  }
  return k;
}

struct Args {
  CorpusOptions corpus;
  double budget_seconds = 3.0;
  double min_seconds = 0.5;
  bool speed = true;
  std::size_t top_k = kK;  // of the speed part; quality is always @10
  std::string systems;  // comma-separated first mode names (tide,xapian-or,fts5-trigram); all if empty
  std::vector<std::string> quality_dirs;  // --quality, repeated; default: the --klue set
  PeerPrograms peers;
};

Args ParseArgs(int argc, char** argv) {
  Args a;
  a.corpus.klue_dir = "/work/shared/data/klue-nli-retrieval";
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + key);
      return argv[++i];
    };
    if (key == "--chunks") a.corpus.chunks = std::stoul(value());
    else if (key == "--queries") a.corpus.queries = std::stoul(value());
    else if (key == "--seed") a.corpus.seed = std::stoull(value());
    else if (key == "--klue") a.corpus.klue_dir = value();
    else if (key == "--help_events") a.corpus.help_events = value();
    else if (key == "--budget_seconds") a.budget_seconds = std::stod(value());
    else if (key == "--min_seconds") a.min_seconds = std::stod(value());
    else if (key == "--quality_only") a.speed = false;
    else if (key == "--systems") a.systems = value();
    else if (key == "--top_k") a.top_k = std::stoul(value());
    else if (key == "--quality") a.quality_dirs.push_back(value());
    else if (key == "--lucene_classpath") a.peers.lucene_classpath = value();
    else if (key == "--tantivy") a.peers.tantivy = value();
    else Die("unknown argument " + key + " (see the comment at the top of keyword_bench.cc)");
  }
  if (a.quality_dirs.empty()) a.quality_dirs.push_back(a.corpus.klue_dir);
  return a;
}

std::string Mb(std::size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", static_cast<double>(bytes) / 1e6);
  return buf;
}

// One row per system and quality mode: recall@1, recall@10 and MRR@10 on each set, unscoped.
// `fields`: documents are built with their titles apart (Engine::BuildFields).
void QualityTable(const std::vector<System>& systems, const std::vector<KlueSet>& sets, bool fields) {
  std::printf("| system |");
  for (const KlueSet& set : sets) std::printf(" %s R@1 | R@10 | MRR@10 |", set.name.c_str());
  std::printf("\n|---|");
  for (std::size_t i = 0; i < sets.size(); ++i) std::printf("---:|---:|---:|");
  std::printf("\n");
  for (const System& sys : systems) {
    std::vector<std::vector<RankingSummary>> by_mode(sys.quality_modes);
    for (const KlueSet& set : sets) {
      testutil::TempDir dir;
      std::unique_ptr<Engine> engine = sys.make(dir.path());
      if (fields) {
        engine->BuildFields(set.doc_titles, set.doc_bodies);
      } else {
        engine->Build(set.doc_texts, std::vector<std::uint32_t>(set.doc_texts.size(), 0));
      }
      std::vector<std::string> texts;
      std::vector<const std::set<std::string>*> relevant;
      for (std::size_t q = 0; q < set.query_texts.size(); ++q) {
        auto rel = set.qrels.find(set.query_ids[q]);
        if (rel == set.qrels.end()) continue;
        texts.push_back(set.query_texts[q]);
        relevant.push_back(&rel->second);
      }
      for (std::size_t mode = 0; mode < sys.quality_modes; ++mode) {
        engine->SetQueryMode(mode);
        const QueryBatch batch = engine->SearchBatch(texts, kK, 0, 0);
        RankingSummary summary;
        for (std::size_t q = 0; q < texts.size(); ++q) {
          std::vector<std::string> ranked;
          for (std::size_t d : batch.hits.at(q)) ranked.push_back(set.doc_ids.at(d));  // a peer's ordinal, checked
          summary.Add(ranked, *relevant[q]);
        }
        by_mode[mode].push_back(summary.Mean());
      }
      std::fprintf(stderr, "[quality] %s on %s done\n", sys.modes[0].c_str(), set.name.c_str());
    }
    for (std::size_t mode = 0; mode < sys.quality_modes; ++mode) {
      std::printf("| %s |", sys.modes[mode].c_str());
      for (const RankingSummary& m : by_mode[mode]) std::printf(" %.3f | %.3f | %.3f |", m.recall_1, m.recall_10, m.mrr_10);
      std::printf("\n");
    }
    std::fflush(stdout);
  }
}

int Main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);
  std::vector<System> systems = Systems(args.peers);
  std::vector<System> field_systems = FieldSystems(args.peers);
  if (!args.systems.empty()) {
    const std::string wanted = "," + args.systems + ",";
    auto unwanted = [&](const System& s) { return wanted.find("," + s.modes[0] + ",") == std::string::npos; };
    std::erase_if(systems, unwanted);
    std::erase_if(field_systems, unwanted);
    if (systems.empty() && field_systems.empty()) Die("--systems " + args.systems + " names no system");
  }

  // --- 1. quality on the retrieval sets ------------------------------------------------------
  std::vector<KlueSet> sets;
  for (const std::string& dir : args.quality_dirs) sets.push_back(ReadKlue(dir));
  std::printf("**Quality** (unscoped, top 10):");
  for (const KlueSet& set : sets) {
    std::printf(" %s %zu documents, %zu queries;", set.name.c_str(), set.doc_texts.size(), set.query_texts.size());
  }
  std::printf("\n\n");
  if (!systems.empty()) QualityTable(systems, sets, false);
  // Title and body as two fields, on the sets that have titles.
  std::vector<KlueSet> titled;
  for (const KlueSet& set : sets) {
    if (!set.doc_titles.empty()) titled.push_back(set);
  }
  if (!titled.empty() && !field_systems.empty()) {
    std::printf("\n**Title and body as two fields** (sets whose documents have titles). The title field holds "
                "the title, headings and tags; the table above joins title and text without the tags, so the "
                "baseline here is `tide-one-field` / `lucene-nori-bigram-concat`: this title field and the "
                "body joined in one field.\n\n");
    QualityTable(field_systems, titled, true);
  }
  if (!args.speed) return 0;

  // --- 2. speed on the benchmark corpus ------------------------------------------------------
  Clock::time_point t = Clock::now();
  Result<Corpus> made = MakeCorpus(args.corpus);
  if (!made.ok()) Die(made.status().ToString());
  const Corpus& corpus = *made;
  std::fprintf(stderr, "[corpus] %s in %.1f s\n", corpus.Describe().c_str(), SecondsSince(t));
  std::size_t even_chunks = 0;
  for (std::size_t c = 0; c < corpus.container_size.size(); ++c) {
    if (InHalfScope(static_cast<std::uint32_t>(c))) even_chunks += corpus.container_size[c];
  }
  std::printf("\n**Speed** on %s. One thread; top %zu; slow systems stop after %.0f s of queries "
              "(`queries` says how many ran). `tide` searches every container; `tide-scoped` is "
              "scoped to the even container ordinals (%.0f%% of the chunks), as a request that may "
              "read part of the index; `tide-one-container` to the one container nearest 1%% of the "
              "chunks; the `-top100` rows ask for the %zu hits tide-query fuses per retriever "
              "(`search.candidates`).\n\n",
              corpus.Describe().c_str(), args.top_k, args.budget_seconds,
              100.0 * static_cast<double>(even_chunks) / static_cast<double>(corpus.texts.size()),
              kFusionCandidates);
  std::printf("| system | build s | docs/s | index MB | size counted as | q/s | queries | mean hits |\n");
  std::printf("|---|---:|---:|---:|---|---:|---:|---:|\n");
  testutil::TempDir dir;
  for (const System& sys : systems) {
    std::unique_ptr<Engine> engine = sys.make(dir.path());
    t = Clock::now();
    engine->Build(corpus.texts, corpus.container_of);
    const double build = SecondsSince(t);
    const auto [bytes, counted] = engine->Size();
    std::fprintf(stderr, "[build] %s %.1f s\n", sys.modes[0].c_str(), build);
    for (std::size_t mode = 0; mode < sys.modes.size(); ++mode) {
      engine->SetQueryMode(mode);
      const QueryBatch batch = engine->SearchBatch(corpus.queries, args.top_k, args.budget_seconds, args.min_seconds);
      const std::size_t done = batch.hits.size();
      std::size_t hits = 0;
      for (const auto& h : batch.hits) hits += h.size();
      // The index is shared by the modes: its build and size are shown once.
      if (mode == 0) {
        std::printf("| %s | %.1f | %.0f | %s | %s |", sys.modes[mode].c_str(), build,
                    static_cast<double>(corpus.texts.size()) / build, Mb(bytes).c_str(), counted.c_str());
      } else {
        std::printf("| %s | (same index) | | | |", sys.modes[mode].c_str());
      }
      std::printf(" %.0f | %zu | %.1f |\n", static_cast<double>(batch.timed) / batch.seconds, done,
                  static_cast<double>(hits) / static_cast<double>(done));
      std::fflush(stdout);
      std::fprintf(stderr, "[search] %s done\n", sys.modes[mode].c_str());
    }
  }
  return 0;
}

}  // namespace
}  // namespace tide::bench

int main(int argc, char** argv) { return tide::bench::Main(argc, argv); }
