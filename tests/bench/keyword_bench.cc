// Keyword benchmark: TideSearch's BM25 index against Lucene, Tantivy, Xapian and SQLite FTS5 on the same
// texts and queries.
//
// Systems: keyword_engines.h.
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
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_corpus.h"
#include "tests/bench/keyword_engines.h"
#include "tests/bench/ranking_metrics.h"
#include "tests/testutil/temp_dir.h"

namespace tide::bench {
namespace {

constexpr std::size_t kK = 10;

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
void QualityTable(const std::vector<System>& systems, const std::vector<const KlueSet*>& sets, bool fields) {
  std::printf("| system |");
  for (const KlueSet* set : sets) std::printf(" %s R@1 | R@10 | MRR@10 |", set->name.c_str());
  std::printf("\n|---|");
  for (std::size_t i = 0; i < sets.size(); ++i) std::printf("---:|---:|---:|");
  std::printf("\n");
  for (const System& sys : systems) {
    std::vector<std::vector<RankingSummary>> by_mode(sys.quality_modes);
    for (const KlueSet* set_in : sets) {
      const KlueSet& set = *set_in;
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
  std::vector<const KlueSet*> all, titled;  // titled: title and body as two fields
  for (const KlueSet& set : sets) {
    all.push_back(&set);
    if (!set.doc_titles.empty()) titled.push_back(&set);
  }
  if (!systems.empty()) QualityTable(systems, all, false);
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
