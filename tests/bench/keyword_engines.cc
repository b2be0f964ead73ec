#include "tests/bench/keyword_engines.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>

#ifdef TIDE_BENCH_HAVE_XAPIAN
#include <xapian.h>
#endif
#ifdef TIDE_BENCH_HAVE_SQLITE
#include <sqlite3.h>
#endif

#include "common/analysis/analyzer.h"
#include "common/index/container_set.h"
#include "common/index/keyword_index.h"
#include "common/index/keyword_segments.h"
#include "query/query_pipeline.h"

namespace tide::bench {

std::size_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * 4096;
}

namespace {

class TideEngine : public Engine {
 public:
  // segment_max_chunks 0: one KeywordIndex (up to 2^24 chunks, KeywordIndex::kMaxSlots); else sealed every so many chunks, as tide-query's.
  explicit TideEngine(std::size_t segment_max_chunks)
      : index_({.segment_max_chunks = segment_max_chunks, .keep_sealed = true}) {}
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
    for (const index::KeywordIndex* segment : index_.InMemory()) segment->AppendTo(&snapshot);
    char note[96];
    std::snprintf(note, sizeof(note), "snapshot bytes (in memory: %.0f MB RSS growth)",
                  static_cast<double>(rss_growth_) / 1e6);
    return {snapshot.size(), note};
  }

 private:
  analysis::Analyzer analyzer_;
  const query::QueryRules rules_;  // built-in defaults, no files
  index::KeywordSegments index_;
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

}  // namespace

std::vector<System> Systems(const PeerPrograms& peers) {
  std::vector<System> s;
  s.push_back({{"tide", "tide-scoped", "tide-one-container", "tide-top100", "tide-scoped-top100"}, 1, [](const std::filesystem::path&) { return std::make_unique<TideEngine>(0); }});
  s.push_back({{"tide-segments", "tide-segments-scoped", "tide-segments-one-container", "tide-segments-top100",
                "tide-segments-scoped-top100"},
               1, [](const std::filesystem::path&) { return std::make_unique<TideEngine>(kSegmentMaxChunks); }});
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

}  // namespace tide::bench
