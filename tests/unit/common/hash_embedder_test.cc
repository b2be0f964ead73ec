#include "common/embedding/hash_embedder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

namespace tide::embedding {
namespace {

std::vector<float> EmbedAll(HashEmbedder& embedder, const std::vector<std::string>& texts) {
  std::vector<float> out;
  const Status status = embedder.Embed(texts, InputType::kQuery, &out);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return out;
}

std::vector<float> EmbedOne(HashEmbedder& embedder, const std::string& text) {
  return EmbedAll(embedder, {text});
}

double Dot(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

TEST(HashEmbedderTest, ReportsDimensionAndModelId) {
  HashEmbedder default_embedder;
  EXPECT_EQ(default_embedder.dimension(), 384);
  EXPECT_EQ(default_embedder.model_id(), "hash-v1-d384");
  HashEmbedder small(HashEmbedder::Options{.dimension = 64});
  EXPECT_EQ(small.dimension(), 64);
  EXPECT_EQ(small.model_id(), "hash-v1-d64");
}

TEST(HashEmbedderTest, AppendsOneVectorOfDimensionFloatsPerText) {
  HashEmbedder embedder(HashEmbedder::Options{.dimension = 64});
  std::vector<float> out = {42.0f};
  ASSERT_TRUE(embedder.Embed({"서울 맛집", "", "excel pivot"}, InputType::kQuery, &out).ok());
  ASSERT_EQ(out.size(), 1u + 3u * 64u);
  EXPECT_EQ(out[0], 42.0f);
  ASSERT_TRUE(embedder.Embed({}, InputType::kQuery, &out).ok());
  EXPECT_EQ(out.size(), 1u + 3u * 64u);
}

TEST(HashEmbedderTest, IsDeterministicAcrossInstances) {
  HashEmbedder a;
  HashEmbedder b;
  const std::vector<std::string> texts = {"서울에서 맛집", "Excel 피벗 테이블 2024", "漢字"};
  EXPECT_EQ(EmbedAll(a, texts), EmbedAll(b, texts));
}

TEST(HashEmbedderTest, ProducesUnitVectors) {
  HashEmbedder embedder;
  for (const std::string text :
       {"서울에서 맛집", "a", "2024", "漢字", "привет", "서울 서울 서울"}) {
    const std::vector<float> v = EmbedOne(embedder, text);
    EXPECT_NEAR(std::sqrt(Dot(v, v)), 1.0, 1e-5) << text;
  }
}

TEST(HashEmbedderTest, TextWithoutWordsGivesTheZeroVector) {
  HashEmbedder embedder(HashEmbedder::Options{.dimension = 32});
  for (const std::string text : {"", "   ", "!!! ...", "😀👍"}) {
    EXPECT_EQ(EmbedOne(embedder, text), std::vector<float>(32, 0.0f)) << text;
  }
}

TEST(HashEmbedderTest, SharedStemsAndNgramsAreCloserThanUnrelatedText) {
  HashEmbedder embedder;
  const std::vector<float> query = EmbedOne(embedder, "서울에서 맛집");
  const double related = Dot(query, EmbedOne(embedder, "서울 맛집"));
  const double unrelated = Dot(query, EmbedOne(embedder, "엑셀 피벗 테이블"));
  EXPECT_GT(related, unrelated);
  EXPECT_GT(related, 0.5);
  EXPECT_LT(std::abs(unrelated), 0.3);
}

TEST(HashEmbedderTest, LatinTrigramsMakeTyposClose) {
  HashEmbedder embedder;
  const std::vector<float> word = EmbedOne(embedder, "spreadsheet");
  EXPECT_GT(Dot(word, EmbedOne(embedder, "spreadshet")), Dot(word, EmbedOne(embedder, "database")));
}

TEST(HashEmbedderTest, EmbedsTheNormalizedText) {
  HashEmbedder embedder;
  EXPECT_EQ(EmbedOne(embedder, "ＥＸＣＥＬ  파일"), EmbedOne(embedder, "excel 파일"));
  EXPECT_NE(EmbedOne(embedder, "excel"), EmbedOne(embedder, "excels"));
}

// Pins the hash scheme: if this changes, stored vectors are incompatible and model_id must
// change with it. "a" has two features, the word (1.0) and the trigram "<a>" (0.5).
TEST(HashEmbedderTest, HashSchemeIsStable) {
  HashEmbedder embedder(HashEmbedder::Options{.dimension = 64});
  const std::vector<float> v = EmbedOne(embedder, "a");
  std::string nonzero;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != 0.0f) nonzero += std::to_string(i) + (v[i] > 0 ? "+ " : "- ");
  }
  EXPECT_EQ(nonzero, "20+ 50- ");
  const float big = 1.0f / std::sqrt(1.25f);
  const float small = 0.5f / std::sqrt(1.25f);
  int seen_big = 0;
  int seen_small = 0;
  for (float x : v) {
    if (std::abs(std::abs(x) - big) < 1e-6f) ++seen_big;
    if (std::abs(std::abs(x) - small) < 1e-6f) ++seen_small;
  }
  EXPECT_EQ(seen_big, 1);
  EXPECT_EQ(seen_small, 1);
}

TEST(HashEmbedderTest, ConcurrentEmbedsMatchSequentialOnes) {
  HashEmbedder embedder;
  const std::vector<std::string> texts = {"서울에서 맛집", "엑셀 피벗 테이블", "Excel pivot 2024"};
  const std::vector<float> expected = EmbedAll(embedder, texts);
  std::vector<std::vector<float>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&embedder, &texts, &result] {
      for (int i = 0; i < 20; ++i) {
        result.clear();
        if (!embedder.Embed(texts, InputType::kQuery, &result).ok()) return;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
}

}  // namespace
}  // namespace tide::embedding
