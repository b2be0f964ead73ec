#include "query/intent.h"

#include <gtest/gtest.h>

namespace tide::query {
namespace {

TEST(IntentTest, ClassifiesByRules) {
  struct Case {
    const char* query;
    std::size_t words;
    Intent want;
  };
  const Case cases[] = {
      {"매크로 보안 설정은 어떻게 하나요?", 5, Intent::kQaQuestion},
      {"how do i make a pivot table", 7, Intent::kQaQuestion},
      {"calc와 writer의 차이", 3, Intent::kComparison},
      {"회의록 요약", 2, Intent::kSummarization},
      {"vlookup", 1, Intent::kKeywordSearch},
      {"피벗 테이블 만들기 단계별 안내", 5, Intent::kDocumentSearch},
  };
  for (const Case& c : cases) EXPECT_EQ(ClassifyIntent(c.query, c.words).intent, c.want) << c.query;
}

TEST(IntentTest, DefaultWeightsFollowTheDesignTable) {
  Weights w = DefaultWeights(Intent::kKeywordSearch);
  EXPECT_FLOAT_EQ(w.keyword, 0.6f);
  EXPECT_FLOAT_EQ(w.vector, 0.3f);
  EXPECT_FLOAT_EQ(DefaultWeights(Intent::kQaQuestion).vector, 0.6f);
}

}  // namespace
}  // namespace tide::query
