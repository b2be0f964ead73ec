// The index locking the daemon relies on: one thread replays the change log into an IndexSet
// (adds, updates that tombstone old chunks, deletes) while other threads search it by keyword
// and by vector within one container. Every hit must belong to that container and searches
// must never fail. Run under TSan in CI (deploy/test.sh --tsan), where a data race fails it.

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/embedding/hash_embedder.h"
#include "common/index/index_set.h"
#include "common/index/replayer.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "tests/testutil/temp_dir.h"

namespace tide::index {
namespace {

constexpr int kDim = 32;

TEST(IndexConcurrencyTest, SearchesDuringCatchUpSeeOnlyTheirContainerAndNeverFail) {
  testutil::TempDir dir;
  embedding::HashEmbedder embedder(embedding::HashEmbedder::Options{kDim});
  auto store = storage::Store::OpenPrimary(dir.path() / "store", {.sync_writes = false});
  ASSERT_TRUE(store.ok());
  ingest::Applier applier(store->get(), &embedder, {});
  ASSERT_TRUE(applier.Init().ok());
  // 30 batches: new documents in two containers, then newer versions of some (their old
  // chunks become tombstones) and deletes of others.
  std::int64_t offset = 0;
  for (int b = 0; b < 30; ++b) {
    std::vector<ingest::BatchItem> batch;
    for (int i = 0; i < 40; ++i) {
      const int n = b * 40 + i;
      ingest::Event e;
      e.container_id = n % 2 ? "alpha" : "beta";
      e.doc_id = "doc-" + std::to_string(b % 10 < 7 ? n : n - 200);
      e.version = b % 10 < 7 ? 1 : 2;
      e.title = "문서 " + std::to_string(n);
      e.text = "본문 " + std::to_string(n) + " 피벗 테이블과 셀 서식을 설명하는 문단입니다.";
      if (b % 10 == 9 && i % 4 == 0) {
        e.type = ingest::EventType::kDocumentDelete;
        e.version = 3;
        e.title.clear();
        e.text.reset();
      }
      batch.push_back({"t", 0, offset++, e});
    }
    ASSERT_TRUE(applier.ApplyBatch(batch).ok());
  }

  IndexSet::Options options;
  options.model_id = embedder.model_id();
  options.vector.dim = kDim;
  auto indexes = IndexSet::Create(options);
  ASSERT_TRUE(indexes.ok());
  IndexSet& set = **indexes;
  std::vector<float> query;
  ASSERT_TRUE(embedder.Embed({"본문 피벗 테이블"}, embedding::InputType::kQuery, &query).ok());
  const std::vector<std::string> terms = set.analyzer().Terms("본문 피벗 테이블");

  std::atomic<bool> done{false};
  std::atomic<int> searches{0}, failures{0}, strays{0};
  auto reader = [&] {
    while (!done.load()) {
      const ContainerSet scope = set.ResolveContainers({"alpha"});
      std::vector<std::uint64_t> labels;
      for (const KeywordHit& h : set.SearchKeyword(Field::kBody, terms, 10, scope)) labels.push_back(h.label);
      Result<std::vector<VectorHit>> vectors = set.SearchVector(query, 10, scope);
      if (!vectors.ok()) {
        ++failures;
        continue;
      }
      for (const VectorHit& h : *vectors) labels.push_back(h.label);
      for (std::uint64_t label : labels) {
        auto value = (*store)->Get(storage::Cf::kChunks, storage::EncodeU64(label));
        if (!value.ok() || !value->has_value()) continue;  // replaced or deleted since
        auto chunk = storage::DecodeChunk(**value);
        if (!chunk.ok() || chunk->container_id != "alpha") ++strays;
      }
      ++searches;
    }
  };
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) readers.emplace_back(reader);
  std::size_t applied = 0;
  for (;;) {
    auto step = index::CatchUp(set, **store, 1);  // one change at a time: as many interleavings as possible
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    if (*step == 0) break;
    applied += *step;
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(applied, 30u);
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(strays.load(), 0);
  // The end state is the store's: every live chunk indexed once.
  std::size_t live = 0;
  ASSERT_TRUE((*store)->Scan(storage::Cf::kChunks, "", "", [&](std::string_view, std::string_view) {
    ++live;
    return true;
  }).ok());
  EXPECT_EQ(set.size(), live);
  EXPECT_EQ(set.vector_size(), live);
  EXPECT_EQ(set.keyword_size(), live);
}

}  // namespace
}  // namespace tide::index
