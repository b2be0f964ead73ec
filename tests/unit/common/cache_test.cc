#include <gtest/gtest.h>

#include "common/embedding/caching_embedder.h"
#include "common/embedding/disk_cache_embedder.h"
#include "common/embedding/hash_embedder.h"
#include "common/lru_cache.h"
#include "common/metrics.h"
#include "tests/testutil/temp_dir.h"

namespace tide {
namespace {

using embedding::InputType;

TEST(LruCacheTest, ForgetsTheLeastRecentlyUsedEntry) {
  LruCache<std::string, int> cache(2);
  cache.Put("a", 1);
  cache.Put("b", 2);
  EXPECT_EQ(cache.Get("a"), 1);  // "a" is now the most recent
  cache.Put("c", 3);             // so "b" goes
  EXPECT_EQ(cache.Get("b"), std::nullopt);
  EXPECT_EQ(cache.Get("a"), 1);
  EXPECT_EQ(cache.Get("c"), 3);
  cache.Put("a", 10);  // replacing keeps the size
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.Get("a"), 10);
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
  LruCache<std::string, int> off(0);
  off.Put("a", 1);
  EXPECT_EQ(off.Get("a"), std::nullopt);
}

// Counts the texts that reach the real embedder.
class CountingEmbedder : public embedding::Embedder {
 public:
  const std::string& model_id() const override { return inner_.model_id(); }
  int dimension() const override { return inner_.dimension(); }
  Status Embed(const std::vector<std::string>& texts, InputType type, std::vector<float>* out) override {
    embedded += texts.size();
    if (fail) return Status::Unavailable("provider down");
    return inner_.Embed(texts, type, out);
  }
  std::size_t embedded = 0;
  bool fail = false;

 private:
  embedding::HashEmbedder inner_{embedding::HashEmbedder::Options{32}};
};

TEST(CachingEmbedderTest, SendsOnlyUnseenTextsAndReturnsTheSameVectors) {
  auto owned = std::make_unique<CountingEmbedder>();
  CountingEmbedder* inner = owned.get();
  Counter hits, misses;
  embedding::CachingEmbedder cached(std::move(owned), 8, &hits, &misses);
  std::vector<float> first;
  ASSERT_TRUE(cached.Embed({"연차 휴가", "피벗 테이블"}, InputType::kQuery, &first).ok());
  EXPECT_EQ(inner->embedded, 2u);
  std::vector<float> second = {42.0f};  // appended to, not replaced
  ASSERT_TRUE(cached.Embed({"피벗 테이블", "새 질문", "연차 휴가"}, InputType::kQuery, &second).ok());
  EXPECT_EQ(inner->embedded, 3u);  // only "새 질문" was sent
  EXPECT_EQ(hits.value(), 2u);
  EXPECT_EQ(misses.value(), 3u);
  ASSERT_EQ(second.size(), 1u + 3u * 32u);
  // Order is the request's: the cached vectors land where their texts are.
  EXPECT_TRUE(std::equal(first.begin() + 32, first.begin() + 64, second.begin() + 1));
  EXPECT_TRUE(std::equal(first.begin(), first.begin() + 32, second.begin() + 1 + 64));
  // A provider error leaves the output untouched and caches nothing.
  inner->fail = true;
  std::vector<float> failed = {1.0f};
  EXPECT_FALSE(cached.Embed({"연차 휴가", "또 다른 질문"}, InputType::kQuery, &failed).ok());
  EXPECT_EQ(failed.size(), 1u);
  inner->fail = false;
  std::vector<float> again;
  ASSERT_TRUE(cached.Embed({"또 다른 질문"}, InputType::kQuery, &again).ok());
  EXPECT_EQ(again.size(), 32u);
  // The same text as a passage is another entry: models embed the two differently.
  const std::size_t before = inner->embedded;
  std::vector<float> passage;
  ASSERT_TRUE(cached.Embed({"또 다른 질문"}, InputType::kPassage, &passage).ok());
  EXPECT_EQ(inner->embedded, before + 1);
}

// Vectors survive the process: a second cache on the same directory embeds nothing it has
// seen, returns the same bits, and keeps queries, passages and models apart.
TEST(DiskCacheEmbedderTest, KeepsVectorsAcrossOpensAndApartByTypeAndModel) {
  testutil::TempDir dir;
  const std::vector<std::string> texts = {"연차 휴가 규정", "피벗 테이블", ""};
  std::vector<float> first;
  {
    auto owned = std::make_unique<CountingEmbedder>();
    CountingEmbedder* inner = owned.get();
    auto cache = embedding::DiskCacheEmbedder::Open(std::move(owned), dir.path() / "cache", nullptr, nullptr);
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    ASSERT_TRUE((*cache)->Embed(texts, InputType::kPassage, &first).ok());
    EXPECT_EQ(inner->embedded, 3u);
    // A second process cannot open it while this one has it.
    EXPECT_FALSE(embedding::DiskCacheEmbedder::Open(std::make_unique<CountingEmbedder>(), dir.path() / "cache",
                                                    nullptr, nullptr)
                     .ok());
  }
  auto owned = std::make_unique<CountingEmbedder>();
  CountingEmbedder* inner = owned.get();
  Counter hits, misses;
  auto cache = embedding::DiskCacheEmbedder::Open(std::move(owned), dir.path() / "cache", &hits, &misses);
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  std::vector<float> again = {7.0f};
  ASSERT_TRUE((*cache)->Embed({"피벗 테이블", "새 문장", "연차 휴가 규정"}, InputType::kPassage, &again).ok());
  EXPECT_EQ(inner->embedded, 1u);  // only "새 문장"
  EXPECT_EQ(hits.value(), 2u);
  EXPECT_EQ(misses.value(), 1u);
  ASSERT_EQ(again.size(), 1u + 3 * 32u);
  EXPECT_TRUE(std::equal(first.begin() + 32, first.begin() + 64, again.begin() + 1));
  EXPECT_TRUE(std::equal(first.begin(), first.begin() + 32, again.begin() + 1 + 64));
  std::vector<float> query;
  ASSERT_TRUE((*cache)->Embed({"피벗 테이블"}, InputType::kQuery, &query).ok());
  EXPECT_EQ(inner->embedded, 2u);  // the same text as a query is another entry
  // A provider error caches nothing and leaves the output alone.
  inner->fail = true;
  std::vector<float> failed = {1.0f};
  EXPECT_FALSE((*cache)->Embed({"또 다른 문장"}, InputType::kPassage, &failed).ok());
  EXPECT_EQ(failed.size(), 1u);
}

}  // namespace
}  // namespace tide
