#include "query/result_cache.h"

#include <gtest/gtest.h>

#include "common/metrics.h"

namespace tide::query {
namespace {

TEST(ResultCacheTest, EntriesLiveForOneWatermark) {
  Counter hits, misses;
  ResultCache cache(4, &hits, &misses);
  EXPECT_EQ(cache.Get("q", 5), std::nullopt);
  cache.Put("q", 5, nlohmann::json{{"hits", 1}});
  ASSERT_TRUE(cache.Get("q", 5));
  EXPECT_EQ((*cache.Get("q", 5))["hits"], 1);
  // The index moved: every entry is gone.
  EXPECT_EQ(cache.Get("q", 6), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
  // A response computed at an older watermark than the cache has seen is not kept.
  cache.Put("q", 5, nlohmann::json{{"hits", 1}});
  EXPECT_EQ(cache.Get("q", 6), std::nullopt);
  EXPECT_EQ(hits.value(), 2u);
  EXPECT_EQ(misses.value(), 3u);
}

TEST(ResultCacheTest, IsBoundedAndCanBeOff) {
  ResultCache cache(2, nullptr, nullptr);
  for (int i = 0; i < 5; ++i) cache.Put("q" + std::to_string(i), 0, nlohmann::json(i));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.Get("q4", 0));
  EXPECT_EQ(cache.Get("q0", 0), std::nullopt);
  ResultCache off(0, nullptr, nullptr);
  off.Put("q", 0, nlohmann::json(1));
  EXPECT_EQ(off.Get("q", 0), std::nullopt);
}

}  // namespace
}  // namespace tide::query
