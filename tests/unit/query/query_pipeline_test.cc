#include "query/query_pipeline.h"

#include <fstream>

#include <gtest/gtest.h>

#include "tests/testutil/temp_dir.h"

namespace tide::query {
namespace {

const std::string kConfigs = std::string(TIDE_SOURCE_DIR) + "/configs/";

std::shared_ptr<const QueryRules> ShippedRules() {
  auto rules = LoadQueryRules({kConfigs + "search_rules.json", kConfigs + "stopwords.txt", kConfigs + "synonyms.txt"});
  EXPECT_TRUE(rules.ok()) << rules.status().ToString();
  return rules.ok() ? *rules : nullptr;
}

std::vector<std::string> KeptKeys(const AnalyzedQuery& q) {
  std::vector<std::string> out;
  for (const auto& w : q.words) {
    if (!w.stopword) out.push_back(w.key);
  }
  return out;
}

struct Case {
  const char* text;
  const char* normalized;
  Language language;
  Intent intent;
  std::vector<std::string> kept;  // words left after stopwords, particle-stripped
};

TEST(QueryPipelineTest, NormalisesDetectsLanguageClassifiesAndDropsStopwords) {
  auto rules = ShippedRules();
  ASSERT_TRUE(rules);
  analysis::Analyzer analyzer;
  const std::vector<Case> cases = {
      {"피벗 테이블 만들기", "피벗 테이블 만들기", Language::kKorean, Intent::kDocumentSearch, {"피벗", "테이블", "만들기"}},
      {"매크로 보안 설정은 어떻게 하나요?", "매크로 보안 설정은 어떻게 하나요?", Language::kKorean, Intent::kQaQuestion,
       {"매크로", "보안", "설정"}},
      {"  ＥＸＣＥＬ   파일을\t찾아줘 😀", "excel 파일을 찾아줘", Language::kMixed, Intent::kDocumentSearch, {"excel", "파일"}},
      {"How do I export a PDF", "how do i export a pdf", Language::kEnglish, Intent::kQaQuestion, {"i", "export", "pdf"}},
      {"calc와 writer의 차이", "calc와 writer의 차이", Language::kMixed, Intent::kComparison, {"calc", "writer", "차이"}},
      {"회의록 요약해줘", "회의록 요약해줘", Language::kKorean, Intent::kSummarization, {"회의록", "요약해줘"}},
      {"vlookup", "vlookup", Language::kEnglish, Intent::kKeywordSearch, {"vlookup"}},
      {"서울에서 열리는 행사 일정 알려줘", "서울에서 열리는 행사 일정 알려줘", Language::kKorean, Intent::kDocumentSearch,
       {"서울", "열리", "행사", "일정"}},
  };
  for (const Case& c : cases) {
    AnalyzedQuery q = AnalyzeQuery(c.text, *rules, analyzer);
    EXPECT_EQ(q.normalized, c.normalized) << c.text;
    EXPECT_EQ(q.language, c.language) << c.text;
    EXPECT_EQ(q.intent.intent, c.intent) << c.text << " -> " << IntentName(q.intent.intent);
    EXPECT_EQ(KeptKeys(q), c.kept) << c.text;
  }
}

TEST(QueryPipelineTest, StopwordsLeaveTheTermsAndAnAllStopwordQueryKeepsThem) {
  auto rules = ShippedRules();
  ASSERT_TRUE(rules);
  analysis::Analyzer analyzer;
  AnalyzedQuery q = AnalyzeQuery("보안 설정 찾아줘", *rules, analyzer);
  for (const std::string& t : q.terms) EXPECT_EQ(t.find("찾아"), std::string::npos) << t;
  EXPECT_EQ(q.embedding_text.find("찾아줘"), std::string::npos);
  AnalyzedQuery only = AnalyzeQuery("어떻게", *rules, analyzer);
  EXPECT_FALSE(only.terms.empty());
}

TEST(QueryPipelineTest, SynonymsExpandBothWaysAndOneWay) {
  auto rules = ShippedRules();
  ASSERT_TRUE(rules);
  analysis::Analyzer analyzer;
  AnalyzedQuery q = AnalyzeQuery("피벗 만들기", *rules, analyzer);
  EXPECT_NE(std::find(q.synonyms.begin(), q.synonyms.end(), "데이터 파일럿"), q.synonyms.end());
  EXPECT_NE(std::find(q.terms.begin(), q.terms.end(), "datapilot"), q.terms.end());
  AnalyzedQuery back = AnalyzeQuery("datapilot", *rules, analyzer);
  EXPECT_NE(std::find(back.synonyms.begin(), back.synonyms.end(), "피벗"), back.synonyms.end());
  AnalyzedQuery one_way = AnalyzeQuery("피디에프", *rules, analyzer);
  EXPECT_TRUE(one_way.synonyms.empty());  // "pdf => 피디에프" does not go back
}

TEST(QueryRulesTest, RejectsBadFilesWithTheReason) {
  testutil::TempDir dir;
  const auto path = dir.path() / "rules.json";
  std::ofstream(path) << R"({"search_types": {"general": {"qa_question": {"vector": -1, "keyword": 0, "fulltext": 0}}}})";
  auto bad = LoadQueryRules({path, {}, {}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("qa_question"), std::string::npos);
  std::ofstream(dir.path() / "syn.txt") << "lonely\n";
  auto syn = LoadQueryRules({{}, {}, dir.path() / "syn.txt"});
  ASSERT_FALSE(syn.ok());
  EXPECT_NE(syn.status().message().find(":1:"), std::string::npos);
}

TEST(QueryRulesTest, WatcherReloadsChangedFilesAndKeepsGoodRulesOnBadEdits) {
  testutil::TempDir dir;
  const auto stop = dir.path() / "stop.txt";
  std::ofstream(stop) << "alpha\n";
  auto watcher = QueryRulesWatcher::Start({{}, stop, {}}, std::chrono::milliseconds(5));
  ASSERT_TRUE(watcher.ok());
  EXPECT_TRUE((*watcher)->current()->stopwords.contains("alpha"));
  // Make the modification time differ even on coarse-grained file systems.
  std::ofstream(stop) << "beta\n";
  std::filesystem::last_write_time(stop, std::filesystem::last_write_time(stop) + std::chrono::seconds(2));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*watcher)->reloads() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  ASSERT_EQ((*watcher)->reloads(), 1u);
  EXPECT_TRUE((*watcher)->current()->stopwords.contains("beta"));
  EXPECT_FALSE((*watcher)->current()->stopwords.contains("alpha"));
}

}  // namespace
}  // namespace tide::query
