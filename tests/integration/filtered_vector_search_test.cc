// Issue 4: a filtered vector search returns the brute-force top-k over the permitted chunks —
// exactly when 1% of the chunks are permitted, recall@10 >= 0.99 at 10% and 50% — measured on
// 50,000 chunks of real Korean text (KLUE sentences recombined) against an exact scan.
//
// Two levels search one graph (level (a) loads level (b)'s snapshot):
//   * VectorIndex::Search with a LabelFilter: hnswlib's own filtered walk, at the configured
//     ef (reported) and at the filtered ef the production path walks with (held to the bar);
//   * IndexSet::SearchVector, fed from a real RocksDB store through CatchUp, as the query
//     daemon is: this is the path the requirement is about. It scans small scopes exactly
//     and walks large ones.
// Scopes come in two shapes: containers drawn at random from the corpus, and "topic"
// containers whose chunks all lead with sentences of two KLUE domains (permissions follow
// teams, and teams write about their own topics), which puts the permitted chunks far from
// most queries and is the hard case for a filtered graph walk.
//
// The data file is found through $TIDE_SHARED_DATA, else <source>/../shared/data.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/embedding/hash_embedder.h"
#include "common/index/index_set.h"
#include "common/index/replayer.h"
#include "common/index/vector_index.h"
#include "common/storage/schema.h"
#include "common/storage/store.h"
#include "tests/testutil/temp_dir.h"

#ifndef TIDE_SOURCE_DIR
#define TIDE_SOURCE_DIR "."
#endif

namespace tide::index {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunks = 50'000;
constexpr std::size_t kQueries = 250;
constexpr std::size_t kK = 10;
// 128, not the embedder's default 384: with M 16 and ef_construction 200, building the 50k
// graph takes 60-100 s at 384 on this shared 2-core machine, 25-30 s at 128. The test passes
// at 384 too, with more margin at 50% (recall 0.996 there, 0.993 at 128).
constexpr int kDim = 128;
constexpr std::size_t kChunksPerChange = 1'000;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::filesystem::path SharedDataDir() {
  if (const char* env = std::getenv("TIDE_SHARED_DATA"); env != nullptr && *env != '\0') return env;
  return std::filesystem::path(TIDE_SOURCE_DIR) / ".." / "shared" / "data";
}

struct Sentence {
  std::string text;
  std::string domain;  // KLUE source: airbnb, NSMC, policy, wikinews, wikipedia, wikitree
};

std::vector<Sentence> ReadSentences(const std::filesystem::path& file) {
  std::vector<Sentence> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line);
    out.push_back({j.at("text").get<std::string>(), j.at("container").get<std::string>()});
  }
  return out;
}

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

struct Scope {
  std::string name;
  std::vector<std::string> containers;
  std::vector<std::uint64_t> labels;  // permitted, ascending
  std::vector<char> allowed;          // indexed by label
};

// Everything the test uses, built once: the texts, their vectors, the indexes.
struct World {
  std::vector<std::string> texts;         // texts[label - 1]
  std::vector<float> vectors;             // kChunks * kDim
  std::vector<std::string> container_of;  // container_of[label - 1]
  std::vector<std::string> query_texts;
  std::vector<float> queries;  // kQueries * kDim
  std::map<std::string, Scope> scopes;
  std::map<std::string, std::vector<std::vector<VectorHit>>> truth;  // per scope, filled lazily
  std::string model_id;

  std::unique_ptr<testutil::TempDir> dir;
  std::unique_ptr<VectorIndex> bare;  // level (a): the IndexSet's graph, from its snapshot
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<IndexSet> set;  // level (b)

  std::span<const float> Query(std::size_t q) const {
    return {queries.data() + q * kDim, static_cast<std::size_t>(kDim)};
  }
  std::span<const float> Vector(std::uint64_t label) const {
    return {vectors.data() + (label - 1) * kDim, static_cast<std::size_t>(kDim)};
  }
};

// Builds kChunks distinct chunk texts: one whole sentence followed by word windows of two
// others, drawn with a fixed seed. Chunks are ~20 words, like short real chunks, and inherit
// the leading sentence's domain for the topic containers.
void MakeTexts(const std::vector<Sentence>& sentences, World* w, std::vector<std::size_t>* lead) {
  std::vector<std::vector<std::string>> words;
  for (const Sentence& s : sentences) words.push_back(Words(s.text));
  std::mt19937 rng(20261122);
  auto window = [&](std::size_t s) {
    const std::vector<std::string>& ws = words[s];
    std::size_t len = std::min<std::size_t>(ws.size(), 3 + rng() % 4);
    std::size_t start = ws.size() == len ? 0 : rng() % (ws.size() - len + 1);
    std::string out;
    for (std::size_t i = start; i < start + len; ++i) out += " " + ws[i];
    return out;
  };
  std::unordered_set<std::string> seen;
  while (w->texts.size() < kChunks) {
    std::size_t a = rng() % sentences.size();
    std::string text =
        sentences[a].text + window(rng() % sentences.size()) + window(rng() % sentences.size());
    if (!seen.insert(text).second) continue;
    w->texts.push_back(std::move(text));
    lead->push_back(a);
  }
}

// Skewed container sizes, and scopes of exactly 1%, 10% and 50% of the chunks:
//   random-1%   {tiny}                          500
//   random-10%  {tiny, team-a, team-b}          5,000
//   random-50%  {tiny, team-a, team-b, big}     25,000
//   topic-1%    {topic-small}                   500  (chunks led by ~17 sentences)
//   topic-10%   {topic-small, topic-large}      5,000 (led by policy/wikitree sentences)
//   solo        {solo}                          7    (fewer than k)
// and the rest in 20 Zipf-sized containers.
void AssignContainers(const std::vector<Sentence>& sentences, const std::vector<std::size_t>& lead,
                      World* w) {
  w->container_of.assign(kChunks, "");
  std::vector<std::uint64_t> topical, rest;
  for (std::uint64_t label = 1; label <= kChunks; ++label) {
    const std::string& d = sentences[lead[label - 1]].domain;
    (d == "policy" || d == "wikitree" ? topical : rest).push_back(label);
  }
  ASSERT_GE(topical.size(), 5'000u);
  // Topic containers: the 5,000 topical chunks with the lowest leading-sentence index, so the
  // small one holds near-duplicates of a handful of sentences.
  std::stable_sort(topical.begin(), topical.end(),
                   [&](std::uint64_t x, std::uint64_t y) { return lead[x - 1] < lead[y - 1]; });
  for (std::size_t i = 0; i < 5'000; ++i)
    w->container_of[topical[i] - 1] = i < 500 ? "topic-small" : "topic-large";
  rest.insert(rest.end(), topical.begin() + 5'000, topical.end());
  std::mt19937 rng(7);
  std::shuffle(rest.begin(), rest.end(), rng);
  std::vector<std::pair<std::string, std::size_t>> sizes = {
      {"tiny", 500}, {"team-a", 1'500}, {"team-b", 3'000}, {"big", 20'000}, {"solo", 7}};
  std::size_t fixed = 0;
  for (const auto& [name, n] : sizes) fixed += n;
  const std::size_t zipf_total = rest.size() - fixed;
  double h = 0;
  for (int r = 1; r <= 20; ++r) h += 1.0 / r;
  std::size_t assigned = 0;
  for (int r = 1; r <= 20; ++r) {
    std::size_t n =
        r == 20 ? zipf_total - assigned : static_cast<std::size_t>(zipf_total / (h * r));
    sizes.push_back({"zipf-" + std::to_string(r), n});
    assigned += n;
  }
  std::size_t next = 0;
  for (const auto& [name, n] : sizes) {
    for (std::size_t i = 0; i < n; ++i) w->container_of[rest[next++] - 1] = name;
  }
  ASSERT_EQ(next, rest.size());

  auto add_scope = [&](std::string name, std::vector<std::string> containers) {
    Scope s{std::move(name), std::move(containers), {}, std::vector<char>(kChunks + 1, 0)};
    for (std::uint64_t label = 1; label <= kChunks; ++label) {
      if (std::find(s.containers.begin(), s.containers.end(), w->container_of[label - 1]) !=
          s.containers.end()) {
        s.labels.push_back(label);
        s.allowed[label] = 1;
      }
    }
    w->scopes[s.name] = std::move(s);
  };
  add_scope("random-1%", {"tiny"});
  add_scope("random-10%", {"tiny", "team-a", "team-b"});
  add_scope("random-50%", {"tiny", "team-a", "team-b", "big"});
  add_scope("topic-1%", {"topic-small"});
  add_scope("topic-10%", {"topic-small", "topic-large"});
  add_scope("solo", {"solo"});
  ASSERT_EQ(w->scopes["random-1%"].labels.size(), kChunks / 100);
  ASSERT_EQ(w->scopes["random-10%"].labels.size(), kChunks / 10);
  ASSERT_EQ(w->scopes["random-50%"].labels.size(), kChunks / 2);
  ASSERT_EQ(w->scopes["topic-1%"].labels.size(), kChunks / 100);
  ASSERT_EQ(w->scopes["topic-10%"].labels.size(), kChunks / 10);
}

// Writes the chunks the way the ingest applier does: chunk and vector records keyed by label,
// one change record per kChunksPerChange chunks, and the meta counters.
Status WriteStore(const World& w, storage::Store* store) {
  std::uint64_t seq = 1;
  for (std::size_t begin = 0; begin < kChunks; begin += kChunksPerChange) {
    storage::WriteBatch wb;
    storage::ChangeRecord change;
    const std::size_t end = std::min(kChunks, begin + kChunksPerChange);
    for (std::size_t i = begin; i < end; ++i) {
      const std::uint64_t label = i + 1;
      storage::ChunkRecord chunk;
      chunk.container_id = w.container_of[i];
      chunk.doc_id = "doc-" + std::to_string(label);
      chunk.title = "";
      chunk.char_end = static_cast<std::uint32_t>(w.texts[i].size());
      chunk.text = w.texts[i];
      const std::string key = storage::EncodeU64(label);
      wb.Put(storage::Cf::kChunks, key, storage::EncodeChunk(chunk));
      wb.Put(storage::Cf::kVectors, key, storage::EncodeVector(w.Vector(label).data(), kDim));
      change.entries.push_back({storage::ChangeRecord::Op::kUpsert, label});
    }
    change.offsets["tide.documents/0"] = static_cast<std::int64_t>(end);
    wb.Put(storage::Cf::kChanges, storage::EncodeU64(seq), storage::EncodeChange(change));
    ++seq;
    wb.Put(storage::Cf::kMeta, storage::kMetaNextLabel, storage::EncodeU64(end + 1));
    wb.Put(storage::Cf::kMeta, storage::kMetaNextChangeSeq, storage::EncodeU64(seq));
    TIDE_RETURN_IF_ERROR(store->Write(&wb));
  }
  return Status();
}

class ScopeLabelFilter : public LabelFilter {
 public:
  explicit ScopeLabelFilter(const Scope& scope) : scope_(scope) {}
  bool Allowed(std::uint64_t label) const override {
    return label < scope_.allowed.size() && scope_.allowed[label] != 0;
  }

 private:
  const Scope& scope_;
};

struct Quality {
  double mean_recall = 0;
  double min_recall = 1;
  std::size_t identical = 0;  // queries whose label list equals the exact one, in order
  std::size_t out_of_scope = 0;
  std::size_t short_answers = 0;  // fewer than min(k, permitted) hits
  double qps = 0;
};

using SearchFn = std::function<Result<std::vector<VectorHit>>(std::span<const float>)>;

// Recall@k over the first `queries` queries against the exact answers. A hit counts when its label
// is in scope, not repeated, and scores at least the exact k-th score: both paths compute the score
// with the same function on the same floats, so an equal-score tie at the boundary is not a miss.
Quality Measure(const World& w, const Scope& scope,
                const std::vector<std::vector<VectorHit>>& truth, std::size_t queries,
                const SearchFn& search) {
  Quality q;
  std::vector<std::vector<VectorHit>> answers(queries);
  Clock::time_point start = Clock::now();
  for (std::size_t i = 0; i < queries; ++i) {
    Result<std::vector<VectorHit>> hits = search(w.Query(i));
    EXPECT_TRUE(hits.ok()) << hits.status().ToString();
    if (hits) answers[i] = std::move(*hits);
  }
  q.qps = queries / SecondsSince(start);
  const std::size_t want = std::min(kK, scope.labels.size());
  for (std::size_t i = 0; i < queries; ++i) {
    const std::vector<VectorHit>& exact = truth[i];
    const std::vector<VectorHit>& got = answers[i];
    std::unordered_set<std::uint64_t> labels;
    std::size_t good = 0;
    for (const VectorHit& h : got) {
      const bool in_scope = h.label < scope.allowed.size() && scope.allowed[h.label] != 0;
      if (!in_scope) ++q.out_of_scope;
      if (in_scope && labels.insert(h.label).second && !exact.empty() &&
          h.score >= exact.back().score) {
        ++good;
      }
    }
    if (got.size() < want) ++q.short_answers;
    const double recall = want == 0 ? 1.0 : static_cast<double>(std::min(good, want)) / want;
    q.mean_recall += recall / queries;
    q.min_recall = std::min(q.min_recall, recall);
    bool same = got.size() == exact.size();
    for (std::size_t j = 0; same && j < got.size(); ++j) same = got[j].label == exact[j].label;
    if (same) ++q.identical;
  }
  return q;
}

class FilteredVectorSearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The data sits beside the repository (shared/), not in it: a clone without it skips
    // this test, loudly, instead of failing for want of data.
    if (!std::filesystem::exists(SharedDataDir() / "klue-nli-retrieval" / "corpus.jsonl")) return;
    world_ = new World();
    Build(world_);
  }
  static void TearDownTestSuite() {
    delete world_;
    world_ = nullptr;
  }

  static void Build(World* w) {
    Clock::time_point start = Clock::now();
    const std::filesystem::path data = SharedDataDir() / "klue-nli-retrieval";
    std::vector<Sentence> corpus = ReadSentences(data / "corpus.jsonl");
    std::vector<Sentence> queries = ReadSentences(data / "queries.jsonl");
    ASSERT_EQ(corpus.size(), 1'000u) << "KLUE corpus not found under " << data;
    ASSERT_EQ(queries.size(), 1'000u) << "KLUE queries not found under " << data;
    // Chunks are built from the corpus and the first 750 queries; the last 250 queries (whose
    // paraphrases sit in the corpus) are held out as the test queries.
    std::vector<Sentence> sentences = corpus;
    sentences.insert(sentences.end(), queries.begin(), queries.end() - kQueries);
    for (auto it = queries.end() - kQueries; it != queries.end(); ++it)
      w->query_texts.push_back(it->text);

    std::vector<std::size_t> lead;
    MakeTexts(sentences, w, &lead);
    AssignContainers(sentences, lead, w);
    if (::testing::Test::HasFatalFailure()) return;

    embedding::HashEmbedder embedder(embedding::HashEmbedder::Options{kDim});
    w->model_id = embedder.model_id();
    ASSERT_TRUE(embedder.Embed(w->texts, embedding::InputType::kPassage, &w->vectors).ok());
    ASSERT_TRUE(embedder.Embed(w->query_texts, embedding::InputType::kQuery, &w->queries).ok());
    std::printf("[ data ] %zu chunks, %zu queries, dim %d: generated and embedded in %.1f s\n",
                kChunks, kQueries, kDim, SecondsSince(start));

    // Level (b) is built the way the query daemon follows the worker: records in a RocksDB
    // store, replayed by CatchUp. Level (a) loads the graph from the IndexSet's snapshot
    // (docs/storage-format.md), so both levels search the very same graph, built once.
    VectorIndex::Options vopt;  // production defaults: M 16, ef_construction 200
    vopt.dim = kDim;
    Clock::time_point t = Clock::now();
    w->dir = std::make_unique<testutil::TempDir>();
    storage::Store::Options sopt;
    sopt.sync_writes = false;
    Result<std::unique_ptr<storage::Store>> store =
        storage::Store::OpenPrimary(w->dir->path() / "store", sopt);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    w->store = std::move(*store);
    Status s = WriteStore(*w, w->store.get());
    ASSERT_TRUE(s.ok()) << s.ToString();
    const double store_seconds = SecondsSince(t);

    t = Clock::now();
    IndexSet::Options iopt;
    iopt.model_id = w->model_id;
    iopt.vector = vopt;
    Result<std::unique_ptr<IndexSet>> set = IndexSet::Create(iopt);
    ASSERT_TRUE(set.ok()) << set.status().ToString();
    w->set = std::move(*set);
    for (;;) {
      Result<std::size_t> applied = index::CatchUp(*w->set, *w->store, 10);
      ASSERT_TRUE(applied.ok()) << applied.status().ToString();
      if (*applied == 0) break;
    }
    ASSERT_EQ(w->set->size(), kChunks);
    const double catchup_seconds = SecondsSince(t);

    t = Clock::now();
    const std::filesystem::path snapshots = w->dir->path() / "snapshots";
    s = w->set->SaveSnapshot(snapshots, 1);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::filesystem::path graph;
    for (const auto& entry : std::filesystem::directory_iterator(snapshots)) {
      if (entry.path().filename().string().rfind("snap-", 0) == 0)
        graph = entry.path() / "vectors.hnsw";
    }
    Result<std::unique_ptr<VectorIndex>> bare = VectorIndex::Load(graph, vopt);
    ASSERT_TRUE(bare.ok()) << bare.status().ToString();
    w->bare = std::move(*bare);
    ASSERT_EQ(w->bare->size(), kChunks);
    std::printf(
        "[ build ] store write %.1f s, IndexSet CatchUp %.1f s (%.0f chunks/s), "
        "snapshot save+load %.1f s; total setup %.1f s\n",
        store_seconds, catchup_seconds, kChunks / catchup_seconds, SecondsSince(t),
        SecondsSince(start));
  }

  // Exact top-k over the scope's labels for every query, ties broken by label.
  static const std::vector<std::vector<VectorHit>>& Truth(const Scope& scope) {
    std::vector<std::vector<VectorHit>>& truth = world_->truth[scope.name];
    if (!truth.empty()) return truth;
    truth.resize(kQueries);
    for (std::size_t i = 0; i < kQueries; ++i) {
      Result<std::vector<VectorHit>> hits =
          world_->bare->ExactSearch(world_->Query(i), kK, scope.labels);
      EXPECT_TRUE(hits.ok());
      if (hits) truth[i] = std::move(*hits);
    }
    return truth;
  }

  static void Print(const std::string& level, const Scope& scope, std::size_t queries,
                    const Quality& q) {
    std::printf(
        "[ recall ] %-18s %-10s permitted %6zu  recall@10 mean %.4f min %.2f  "
        "identical %3zu/%-3zu short %zu  out-of-scope %zu  %6.0f q/s\n",
        level.c_str(), scope.name.c_str(), scope.labels.size(), q.mean_recall, q.min_recall,
        q.identical, queries, q.short_answers, q.out_of_scope, q.qps);
  }

  // The three parts of the test, below.
  static void HnswlibWalkMeetsTheBarAtTheFilteredEf();
  static void IndexSetReturnsBruteForceTopK();
  static void FewerThanKOnlyWhenThePermittedSetIsExhausted();

  static World* world_;
};

World* FilteredVectorSearchTest::world_ = nullptr;

// hnswlib's own filtered walk on the same graph: at ef_search (64), as configured, and at
// filtered_ef_search (256), the ef IndexSet walks with. Only the latter is held to the bar;
// 1% runs on fewer queries because each such walk crosses most of the graph.
void FilteredVectorSearchTest::HnswlibWalkMeetsTheBarAtTheFilteredEf() {
  const VectorIndex::Options defaults;
  struct Row {
    const char* scope;
    std::size_t ef;
    std::size_t queries;
    bool held_to_bar;
  };
  const Row rows[] = {
      {"random-1%", defaults.ef_search, 100, false},
      {"random-10%", defaults.ef_search, kQueries, false},
      {"topic-10%", defaults.ef_search, kQueries, false},
      {"random-50%", defaults.ef_search, kQueries, false},
      {"random-10%", defaults.filtered_ef_search, kQueries, true},
      {"topic-10%", defaults.filtered_ef_search, kQueries, true},
      {"random-50%", defaults.filtered_ef_search, kQueries, true},
  };
  for (const Row& row : rows) {
    const Scope& scope = world_->scopes.at(row.scope);
    ScopeLabelFilter filter(scope);
    Quality q =
        Measure(*world_, scope, Truth(scope), row.queries, [&](std::span<const float> query) {
          return world_->bare->Search(query, kK, &filter, row.ef);
        });
    Print("VectorIndex ef " + std::to_string(row.ef), scope, row.queries, q);
    EXPECT_EQ(q.out_of_scope, 0u) << row.scope;
    EXPECT_EQ(q.short_answers, 0u) << row.scope;
    if (row.held_to_bar) {
      EXPECT_GE(q.mean_recall, 0.99) << row.scope << " at ef " << row.ef;
    }
  }
}

// The production path, held to issue 4's bar: exact at 1%, recall@10 >= 0.99 at 10% and 50%,
// nothing out of scope, never short.
void FilteredVectorSearchTest::IndexSetReturnsBruteForceTopK() {
  for (const char* name : {"random-1%", "topic-1%", "random-10%", "topic-10%", "random-50%"}) {
    const Scope& scope = world_->scopes.at(name);
    const ContainerSet containers = world_->set->ResolveContainers(scope.containers);
    ASSERT_EQ(world_->set->CountChunks(containers), scope.labels.size()) << name;
    Quality q = Measure(*world_, scope, Truth(scope), kQueries, [&](std::span<const float> query) {
      return world_->set->SearchVector(query, kK, containers);
    });
    Print("IndexSet", scope, kQueries, q);
    EXPECT_EQ(q.out_of_scope, 0u) << name;
    EXPECT_EQ(q.short_answers, 0u) << name;
    if (scope.labels.size() <= kChunks / 100) {
      // At 1%: the exact answer, label for label, ties broken by label.
      EXPECT_EQ(q.identical, kQueries) << name;
      EXPECT_EQ(q.min_recall, 1.0) << name;
    } else {
      EXPECT_GE(q.mean_recall, 0.99) << name;
    }
  }
}

void FilteredVectorSearchTest::FewerThanKOnlyWhenThePermittedSetIsExhausted() {
  const Scope& solo = world_->scopes.at("solo");
  ASSERT_LT(solo.labels.size(), kK);
  const ContainerSet containers = world_->set->ResolveContainers(solo.containers);
  for (std::size_t i = 0; i < kQueries; i += 25) {
    Result<std::vector<VectorHit>> hits =
        world_->set->SearchVector(world_->Query(i), kK, containers);
    ASSERT_TRUE(hits.ok());
    std::vector<std::uint64_t> got;
    for (const VectorHit& h : *hits) got.push_back(h.label);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, solo.labels) << "query " << i;
  }
  // A scope naming only containers that do not exist permits nothing.
  const ContainerSet none = world_->set->ResolveContainers({"no-such-container"});
  Result<std::vector<VectorHit>> hits = world_->set->SearchVector(world_->Query(0), kK, none);
  ASSERT_TRUE(hits.ok());
  EXPECT_TRUE(hits->empty());
}

// One test, so that the graph is built once: ctest runs each discovered test in a process of
// its own.
TEST_F(FilteredVectorSearchTest, Issue4_FilteredSearchReturnsBruteForceTopKOverPermittedChunks) {
  if (world_ == nullptr) {
    GTEST_SKIP() << "klue-nli-retrieval not found under " << SharedDataDir()
                 << " (set TIDE_SHARED_DATA to the shared/data directory)";
  }
  ASSERT_NE(world_, nullptr);
  ASSERT_NE(world_->set, nullptr);
  ASSERT_NE(world_->bare, nullptr);
  {
    SCOPED_TRACE("VectorIndex::Search, hnswlib's filtered walk");
    HnswlibWalkMeetsTheBarAtTheFilteredEf();
  }
  {
    SCOPED_TRACE("IndexSet::SearchVector");
    IndexSetReturnsBruteForceTopK();
  }
  {
    SCOPED_TRACE("IndexSet::SearchVector, scopes of fewer than k chunks");
    FewerThanKOnlyWhenThePermittedSetIsExhausted();
  }
}

}  // namespace
}  // namespace tide::index
