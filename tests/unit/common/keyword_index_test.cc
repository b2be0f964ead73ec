#include "common/index/keyword_index.h"

#include <gtest/gtest.h>

namespace tide::index {
namespace {

KeywordIndex::FieldTerms Body(std::vector<std::string> terms) {
  KeywordIndex::FieldTerms t;
  t[static_cast<int>(Field::kBody)] = std::move(terms);
  return t;
}

ContainerSet Scope(std::initializer_list<std::uint32_t> ordinals) {
  ContainerSet s;
  for (auto o : ordinals) s.Add(o);
  return s;
}

TEST(KeywordIndexTest, RanksByBm25AndReportsMatchedTerms) {
  KeywordIndex index;
  index.Add(1, 0, Body({"pivot", "table", "pivot"}));
  index.Add(2, 0, Body({"table", "format"}));
  index.Add(3, 0, Body({"macro", "security"}));
  auto hits = index.Search(Field::kBody, {"pivot", "table"}, 10, Scope({0}), {});
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].label, 1u);
  EXPECT_EQ(hits[1].label, 2u);
  EXPECT_GT(hits[0].score, hits[1].score);
  EXPECT_EQ(hits[0].matched_terms.size(), 2u);
  EXPECT_TRUE(index.Search(Field::kTitle, {"pivot"}, 10, Scope({0}), {}).empty());
}

TEST(KeywordIndexTest, EmptyScopeDeniesEverything) {
  KeywordIndex index;
  index.Add(1, 0, Body({"pivot"}));
  EXPECT_TRUE(index.Search(Field::kBody, {"pivot"}, 10, ContainerSet(), {}).empty());
}

TEST(KeywordIndexTest, ScoresDependOnlyOnThePermittedContainers) {
  // Container 0 holds the same chunk in both indexes; container 1 differs. Scores in scope
  // {0} must be identical: another container's term statistics must not leak into them.
  KeywordIndex a, b;
  a.Add(1, 0, Body({"secret", "plan"}));
  b.Add(1, 0, Body({"secret", "plan"}));
  for (std::uint64_t i = 0; i < 50; ++i) a.Add(100 + i, 1, Body({"secret", "x"}));
  b.Add(100, 1, Body({"other"}));
  auto ha = a.Search(Field::kBody, {"secret"}, 10, Scope({0}), {});
  auto hb = b.Search(Field::kBody, {"secret"}, 10, Scope({0}), {});
  ASSERT_EQ(ha.size(), 1u);
  ASSERT_EQ(hb.size(), 1u);
  EXPECT_FLOAT_EQ(ha[0].score, hb[0].score);
}

TEST(KeywordIndexTest, RemovedChunksDisappearAndCompactionKeepsTheRest) {
  KeywordIndex index;
  for (std::uint64_t i = 1; i <= 3000; ++i) index.Add(i, 0, Body({"common", "t" + std::to_string(i)}));
  for (std::uint64_t i = 1; i <= 2500; ++i) ASSERT_TRUE(index.Remove(i));
  EXPECT_FALSE(index.Remove(1));
  EXPECT_EQ(index.size(), 500u);
  EXPECT_LT(index.dead_postings(), 5000u);  // compaction ran
  auto hits = index.Search(Field::kBody, {"common"}, 10000, Scope({0}), {});
  EXPECT_EQ(hits.size(), 500u);
  for (const KeywordHit& h : hits) EXPECT_GT(h.label, 2500u);
  EXPECT_TRUE(index.Search(Field::kBody, {"t7"}, 10, Scope({0}), {}).empty());
}

TEST(KeywordIndexTest, SerialisationRoundTrips) {
  KeywordIndex index;
  index.Add(1, 0, Body({"피벗", "#피벗", "테이블"}));
  index.Add(2, 1, Body({"테이블"}));
  index.Remove(2);
  std::string bytes;
  index.AppendTo(&bytes);
  KeywordIndex back;
  ASSERT_TRUE(back.ParseFrom(bytes).ok());
  EXPECT_EQ(back.size(), 1u);
  auto a = index.Search(Field::kBody, {"테이블"}, 10, Scope({0, 1}), {});
  auto b = back.Search(Field::kBody, {"테이블"}, 10, Scope({0, 1}), {});
  ASSERT_EQ(a.size(), 1u);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_FLOAT_EQ(a[0].score, b[0].score);
  EXPECT_FALSE(back.ParseFrom(bytes.substr(0, bytes.size() / 2)).ok());
}

}  // namespace
}  // namespace tide::index
