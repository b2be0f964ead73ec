#include "query/snippet.h"

#include <gtest/gtest.h>

namespace tide::query {
namespace {

TEST(SnippetTest, HighlightsEveryOccurrenceAndEscapesHtml) {
  EXPECT_EQ(MakeSnippet("Use <b>Pivot</b> tables; pivot!", {"pivot"}, 100),
            "Use &lt;b&gt;<em>Pivot</em>&lt;/b&gt; tables; <em>pivot</em>!");
}

TEST(SnippetTest, WindowsAroundTheFirstMatchInKorean) {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "가나다라 ";
  text += "피벗 테이블 만들기";
  std::string s = MakeSnippet(text, {"피벗"}, 40);
  EXPECT_EQ(s.rfind("…", 0), 0u);
  EXPECT_NE(s.find("<em>피벗</em>"), std::string::npos);
}

TEST(SnippetTest, WithoutAMatchShowsTheStart) {
  EXPECT_EQ(MakeSnippet("abc def", {"zzz"}, 3), "abc…");
  EXPECT_EQ(MakeSnippet("", {"a"}, 10), "");
}

}  // namespace
}  // namespace tide::query
