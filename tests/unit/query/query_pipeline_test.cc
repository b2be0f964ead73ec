#include "query/query_pipeline.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/index/keyword_index.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide::query {
namespace {

const std::string kConfigs = std::string(TIDE_SOURCE_DIR) + "/configs/";

std::shared_ptr<const QueryRules> ShippedRules() {
  auto rules = LoadQueryRules({kConfigs + "search_rules.json", kConfigs + "stopwords.txt", kConfigs + "synonyms.txt",
                               kConfigs + "spelling.txt"});
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
      {"피벗 테이블", "피벗 테이블", Language::kKorean, Intent::kKeywordSearch, {"피벗", "테이블"}},
      // A short sentence is not a keyword search (klue_reading.md: 34 KLUE queries were).
      {"백사장이 넓다.", "백사장이 넓다.", Language::kKorean, Intent::kDocumentSearch, {"백사장", "넓다"}},
      {"날씨가 더웠습니다", "날씨가 더웠습니다", Language::kKorean, Intent::kDocumentSearch, {"날씨", "더웠습니다"}},
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

// Issue 12.5: "셀 서식 바꾸는 방법" ranked English "Tools" pages first because 서식 expands to
// format at the weight of the query's own words. A synonym's terms now weigh
// rules.synonym_weight, once each, and never replace a term the query has itself.
TEST(QueryPipelineTest, SynonymTermsWeighLessThanTheQuerysOwn) {
  auto rules = ShippedRules();
  ASSERT_TRUE(rules);
  analysis::Analyzer analyzer;
  AnalyzedQuery q = AnalyzeQuery("셀 서식 바꾸는 방법", *rules, analyzer);
  ASSERT_EQ(q.term_weights.size(), q.terms.size());
  std::map<std::string, float> weight;
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < q.terms.size(); ++i) {
    weight[q.terms[i]] += q.term_weights[i];
    ++seen[q.terms[i]];
  }
  EXPECT_FLOAT_EQ(weight["서식"], 1.0f);
  EXPECT_FLOAT_EQ(weight["format"], rules->synonym_weight);
  EXPECT_FLOAT_EQ(weight["포맷"], rules->synonym_weight);
  EXPECT_EQ(seen["format"], 1);
  EXPECT_LT(rules->synonym_weight, 1.0f);
  // Every own term comes first, with weight 1.
  const auto first_synonym = std::find_if(q.term_weights.begin(), q.term_weights.end(), [](float w) { return w < 1; });
  EXPECT_TRUE(std::all_of(first_synonym, q.term_weights.end(), [&](float w) { return w == rules->synonym_weight; }));
}

// Issue 13: a Latin word, a number or a code gives one term where a Hangul word gives its stem
// and n-grams; each word must weigh alike, or "LibreLogo 거북이" is mostly about turtles.
TEST(QueryPipelineTest, EveryWordWeighsAlikeWhateverItsScript) {
  const QueryRules rules;  // no files
  const analysis::Analyzer analyzer;
  struct WeightCase {
    const char* text;
    std::set<std::string> one_term_words;  // the words whose single term is weighed up
    float weight;                          // the mean number of terms of the query's Hangul words
  };
  const std::vector<WeightCase> cases = {
      {"librelogo 거북이 그래픽", {"librelogo"}, 6.0f},  // 거북이, 그래픽: stem + 3 unigrams + 2 bigrams
      {"jdbc 드라이버", {"jdbc"}, 8.0f},                  // 드라이버: stem + 4 + 3
      {"err 502 오류", {"err", "502"}, 4.0f},             // 오류: stem + 2 unigrams + 1 bigram
      {"vba 매크로 설정", {"vba"}, 5.0f},                 // (6 + 4) / 2
  };
  for (const WeightCase& c : cases) {
    const AnalyzedQuery q = AnalyzeQuery(c.text, rules, analyzer);
    ASSERT_EQ(q.terms.size(), q.term_weights.size());
    for (std::size_t i = 0; i < q.terms.size(); ++i) {
      const bool weighed_up = c.one_term_words.contains(q.terms[i]);
      EXPECT_FLOAT_EQ(q.term_weights[i], weighed_up ? c.weight : 1.0f) << c.text << ": " << q.terms[i];
    }
  }
  // Without Hangul words nothing changes: every word gives one term.
  const AnalyzedQuery latin = AnalyzeQuery("option vbasupport 1", rules, analyzer);
  EXPECT_TRUE(std::all_of(latin.term_weights.begin(), latin.term_weights.end(), [](float w) { return w == 1.0f; }));
}

// Issue 13: an identifier is one query word. Its whole form weighs the word; its pieces, there
// for other spellings, share a quarter of that.
TEST(QueryPipelineTest, AnIdentifierIsOneWordWeighedOnItsWholeForm) {
  const QueryRules rules;
  const analysis::Analyzer analyzer;
  const AnalyzedQuery q = AnalyzeQuery("ISO-9001 getUserName 인증", rules, analyzer);
  ASSERT_EQ(q.words.size(), 3u);
  EXPECT_EQ(q.words[0].text, "iso-9001");
  EXPECT_EQ(q.words[0].pieces, 2u);
  EXPECT_EQ(q.words[1].text, "getusername");
  EXPECT_EQ(q.terms, (std::vector<std::string>{"iso", "9001", "iso-9001", "getusername", "get", "user", "name",
                                                "인증", "#인", "#증", "#인증"}));
  // 인증 gives four terms, so a word weighs 4: iso-9001 and getusername weigh 4, and the pieces
  // of each share a quarter of that (1): 1/2 each for iso and 9001, 1/3 each for get, user, name.
  const std::vector<float> expected = {0.5f, 0.5f, 4, 4, 1.0f / 3, 1.0f / 3, 1.0f / 3, 1, 1, 1, 1};
  ASSERT_EQ(q.term_weights.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_FLOAT_EQ(q.term_weights[i], expected[i]) << q.terms[i];
  EXPECT_EQ(q.embedding_text, "iso-9001 getusername 인증");
}

// Issue 13: through the analyzer and the keyword index, an identifier's exact form ranks first
// and each of its parts finds it; written the other way (ISO 9001, get_user_name) it still
// matches by its parts.
TEST(QueryPipelineTest, IdentifiersAreFoundByTheirExactFormAndByTheirParts) {
  const QueryRules rules;
  const analysis::Analyzer analyzer;
  const std::vector<std::string> chunks = {
      "ISO-9001 인증 절차를 안내합니다",                 // 0
      "ISO 14001 심사와 9001번 양식 제출",               // 1: iso and 9001, apart
      "변수 이름은 snake_case 로 씁니다",                // 2
      "함수 getUserName 은 사용자 이름을 돌려줍니다",    // 3
      "버전 v1.2 릴리스 노트",                           // 4
      "버전 1 의 2 장",                                  // 5: 1 and 2, apart
      "report_2024-final.xlsx 파일을 여세요",            // 6
      "https://help.example.org/calc 에서 보세요",       // 7
  };
  index::KeywordIndex keyword;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    index::KeywordIndex::FieldTerms terms;
    terms[static_cast<int>(index::Field::kBody)] = analyzer.Terms(chunks[i]);
    keyword.Add(i, 0, terms);
  }
  index::ContainerSet scope;
  scope.Add(0);
  auto search = [&](const std::string& query) {
    const AnalyzedQuery q = AnalyzeQuery(query, rules, analyzer);
    std::vector<std::uint64_t> labels;
    for (const index::KeywordHit& h : keyword.Search(index::Field::kBody, q.terms, 10, scope, {}, nullptr, &q.term_weights)) {
      labels.push_back(h.label);
    }
    return labels;
  };
  struct Case {
    std::string query;
    std::uint64_t first;
  };
  for (const Case& c : std::vector<Case>{
           {"ISO-9001", 0}, {"iso-9001 인증", 0}, {"snake_case", 2}, {"snake case", 2}, {"getUserName", 3},
           {"getusername", 3}, {"get_user_name", 3}, {"user name", 3}, {"v1.2", 4}, {"report_2024-final.xlsx", 6},
           {"final xlsx", 6}, {"2024 report", 6}, {"help.example.org", 7}, {"example.org/calc", 7}}) {
    const std::vector<std::uint64_t> labels = search(c.query);
    ASSERT_FALSE(labels.empty()) << c.query;
    EXPECT_EQ(labels[0], c.first) << c.query;
  }
  // A part alone finds both spellings.
  const std::vector<std::uint64_t> parts = search("9001");
  EXPECT_TRUE(std::find(parts.begin(), parts.end(), 0u) != parts.end() && std::find(parts.begin(), parts.end(), 1u) != parts.end());
}

// Issue 13: configs/spelling.txt corrects the query before anything else reads it.
TEST(QueryPipelineTest, SpellingCorrectionsRewriteTheQueryWordByWord) {
  auto rules = ShippedRules();
  ASSERT_TRUE(rules);
  struct SpellingCase {
    const char* text;
    const char* normalized;                 // after correction
    std::vector<std::pair<std::string, std::string>> corrections;
  };
  const std::vector<SpellingCase> cases = {
      {"피봇 테이블 만들기", "피벗 테이블 만들기", {{"피봇", "피벗"}}},
      {"설정이 저장됬다", "설정이 저장됐다", {{"저장됬다", "저장됐다"}}},          // inside a word
      {"웹싸이트에서 링크 열기", "웹사이트에서 링크 열기", {{"웹싸이트에서", "웹사이트에서"}}},
      {"파일 어떻해 열어요", "파일 어떻게 열어요", {{"어떻해", "어떻게"}}},
      {"VLOOKP 함수", "vlookup 함수", {{"vlookp", "vlookup"}}},                 // case-folded first
      {"vlookpx 함수", "vlookpx 함수", {}},                                    // Latin: whole words only
      {"메세지 데이타 화일", "메시지 데이터 파일", {{"메세지", "메시지"}, {"데이타", "데이터"}, {"화일", "파일"}}},
      {"안되요", "안 돼요", {{"안되요", "안 돼요"}}},                           // the longest form wins
      {"피벗 테이블", "피벗 테이블", {}},                                       // nothing to correct
      {"화일을 열기", "파일을 열기", {{"화일을", "파일을"}}},                   // at a word's start
      {"악화일로 문화일보", "악화일로 문화일보", {}},                            // not inside without '*'
      {"금새 지금새로", "금세 지금새로", {{"금새", "금세"}}},
  };
  const analysis::Analyzer analyzer;
  for (const SpellingCase& c : cases) {
    const AnalyzedQuery q = AnalyzeQuery(c.text, *rules, analyzer);
    EXPECT_EQ(q.normalized, c.normalized) << c.text;
    std::vector<std::pair<std::string, std::string>> got;
    for (const auto& fix : q.corrections) got.emplace_back(fix.from, fix.to);
    EXPECT_EQ(got, c.corrections) << c.text;
  }
  // The corrected words are what BM25 and the embedder see.
  const AnalyzedQuery q = AnalyzeQuery("피봇 테이블", *rules, analyzer);
  EXPECT_NE(std::find(q.terms.begin(), q.terms.end(), "피벗"), q.terms.end());
  EXPECT_EQ(std::find(q.terms.begin(), q.terms.end(), "피봇"), q.terms.end());
  EXPECT_EQ(q.embedding_text, "피벗 테이블");
}

TEST(QueryRulesTest, RejectsBadSpellingLinesWithTheReason) {
  testutil::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"피봇 피벗\n", "expected 'wrong, ... => right'"},
      {"피봇 =>\n", "empty right side"},
      {" => 피벗\n", "empty left side"},
      {"# comment\n피봇 테이블 => 피벗 테이블\n", "is not one word"},
      {"피벗 => 피벗\n", "corrected to itself"},
      {"*teh => the\n", "for Hangul forms only"},
  };
  for (const auto& [text, reason] : bad) {
    std::ofstream(dir.path() / "spelling.txt") << text;
    auto rules = LoadQueryRules({{}, {}, {}, dir.path() / "spelling.txt"});
    ASSERT_FALSE(rules.ok()) << text;
    EXPECT_NE(rules.status().message().find(reason), std::string::npos) << rules.status().ToString();
  }
  std::ofstream(dir.path() / "spelling.txt") << "# comment\n\n피봇 => 피벗\n";
  EXPECT_TRUE(LoadQueryRules({{}, {}, {}, dir.path() / "spelling.txt"}).ok());
}

TEST(QueryRulesTest, FusionSettingsDependOnTheEmbedderProfile) {
  auto rules = ShippedRules();
  ASSERT_TRUE(rules);
  EXPECT_EQ(EmbedderProfile("hash-v1-d384"), "hash");
  EXPECT_EQ(EmbedderProfile("openai:text-embedding-3-small:1536"), "semantic");
  // Semantic: linear fusion, DESIGN's vector and title weights, full-text so that vector:full-text
  // is 60:40 (docs/decisions/0009).
  for (SearchType type : {SearchType::kGeneral, SearchType::kRag}) {
    for (Intent intent : {Intent::kKeywordSearch, Intent::kDocumentSearch, Intent::kQaQuestion, Intent::kComparison,
                          Intent::kSummarization}) {
      const FusionSettings semantic = rules->Settings(type, intent, "semantic");
      EXPECT_EQ(semantic.fusion, Fusion::kLinear) << IntentName(intent);
      EXPECT_NEAR(semantic.weights.vector / (semantic.weights.vector + semantic.weights.fulltext), 0.6, 2e-3);
      EXPECT_NEAR(semantic.weights.vector + semantic.weights.keyword + semantic.weights.fulltext, 1.0f, 2e-3);
    }
  }
  EXPECT_NEAR(rules->Settings(SearchType::kGeneral, Intent::kDocumentSearch, "semantic").weights.keyword, 0.265f, 1e-3);
  // Hash: linear fusion over the two BM25 lists, no vector vote (docs/decisions/0008, 0009).
  for (SearchType type : {SearchType::kGeneral, SearchType::kRag}) {
    for (Intent intent : {Intent::kKeywordSearch, Intent::kDocumentSearch, Intent::kQaQuestion, Intent::kComparison,
                          Intent::kSummarization}) {
      const FusionSettings hash = rules->Settings(type, intent, "hash");
      EXPECT_EQ(hash.fusion, Fusion::kLinear) << IntentName(intent);
      EXPECT_FLOAT_EQ(hash.weights.vector, 0.0f) << IntentName(intent);
      EXPECT_NEAR(hash.weights.vector + hash.weights.keyword + hash.weights.fulltext, 1.0f, 1e-3) << IntentName(intent);
    }
  }
  EXPECT_EQ(rules->Settings(SearchType::kRag, Intent::kComparison, "hash").max_chunks, 15u);
  // A profile the file does not name uses the top-level tables.
  EXPECT_EQ(rules->Settings(SearchType::kGeneral, Intent::kQaQuestion, "other").fusion, Fusion::kLinear);
}

TEST(QueryRulesTest, RejectsBadFilesWithTheReason) {
  testutil::TempDir dir;
  const auto path = dir.path() / "rules.json";
  std::ofstream(path) << R"({"search_types": {"general": {"qa_question": {"vector": -1, "keyword": 0, "fulltext": 0}}}})";
  auto bad = LoadQueryRules({path, {}, {}, {}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("qa_question"), std::string::npos);
  std::ofstream(dir.path() / "syn.txt") << "lonely\n";
  auto syn = LoadQueryRules({{}, {}, dir.path() / "syn.txt", {}});
  ASSERT_FALSE(syn.ok());
  EXPECT_NE(syn.status().message().find(":1:"), std::string::npos);
}

// Issue 13: a calibration names a known profile and mode, says what it was fitted on and has
// sane coefficients; the shipped rules have one for the hash embedder.
TEST(QueryRulesTest, CalibrationsAreCheckedAndLookedUpByProfileAndMode) {
  testutil::TempDir dir;
  const auto path = dir.path() / "rules.json";
  struct BadCase {
    std::string json;
    std::string says;
  };
  for (const BadCase& c : std::vector<BadCase>{
           {R"({"calibration": {"gpu": {"hybrid": {"intercept": 0, "fitted_on": "x"}}}})", "unknown embedder profile 'gpu'"},
           {R"({"calibration": {"hash": {"fast": {"intercept": 0, "fitted_on": "x"}}}})", "unknown search mode 'fast'"},
           {R"({"calibration": {"hash": {"hybrid": {"intercept": 0, "fitted_on": ""}}}})", "fitted_on must say"},
           {R"({"calibration": {"hash": {"hybrid": {"intercept": 1e9, "fitted_on": "x"}}}})", "at most 100"},
           {R"({"calibration": {"hash": {"hybrid": {"score": 1, "fitted_on": "x"}}}})", "intercept"},
           {R"({"search_types": {"rag": {"qa_question": {"vector": 1, "keyword": 0, "fulltext": 0, "min_relevance": 2}}}})",
            "min_relevance must be in [0, 1]"},
       }) {
    std::ofstream(path) << c.json;
    auto bad = LoadQueryRules({path, {}, {}, {}});
    ASSERT_FALSE(bad.ok()) << c.json;
    EXPECT_NE(bad.status().message().find(c.says), std::string::npos) << bad.status().message();
  }
  std::ofstream(path) << R"({"calibration": {"hash": {"keyword": {"intercept": -2, "score": 1, "coverage": 2,
                             "cosine": 0, "reciprocal_rank": 1, "fitted_on": "a test"}}}})";
  auto rules = LoadQueryRules({path, {}, {}, {}});
  ASSERT_TRUE(rules.ok()) << rules.status().ToString();
  EXPECT_EQ((*rules)->CalibrationFor("hash", "hybrid"), nullptr);
  EXPECT_EQ((*rules)->CalibrationFor("semantic", "keyword"), nullptr);
  const Calibration* c = (*rules)->CalibrationFor("hash", "keyword");
  ASSERT_NE(c, nullptr);
  // z = -2 + 1 * 0.5 + 2 * 1 + 0 + 1 * 0.5 = 1
  EXPECT_NEAR(c->Relevance({.score = 0.5, .coverage = 1, .cosine = 0.9, .reciprocal_rank = 0.5}), 1 / (1 + std::exp(-1.0)), 1e-12);
  // More evidence never lowers relevance when the coefficients are positive.
  EXPECT_LT(c->Relevance({.score = 0.2, .coverage = 0.1}), c->Relevance({.score = 0.2, .coverage = 0.9}));
  EXPECT_NE(ShippedRules()->CalibrationFor("hash", "hybrid"), nullptr);
  EXPECT_NE(ShippedRules()->CalibrationFor("hash", "keyword"), nullptr);
  EXPECT_NE(ShippedRules()->CalibrationFor("semantic", "hybrid"), nullptr);
  EXPECT_EQ(ShippedRules()->CalibrationFor("semantic", "vector"), nullptr);  // no fit: no relevance
}

TEST(QueryRulesTest, WatcherReloadsChangedFilesAndKeepsGoodRulesOnBadEdits) {
  testutil::TempDir dir;
  const auto stop = dir.path() / "stop.txt";
  std::ofstream(stop) << "alpha\n";
  auto watcher = QueryRulesWatcher::Start({{}, stop, {}, {}}, std::chrono::milliseconds(5));
  ASSERT_TRUE(watcher.ok());
  EXPECT_TRUE((*watcher)->current()->stopwords.contains("alpha"));
  // Replaced whole (as an editor or a config tool does), so the watcher never reads half of it.
  // The same size as before: the modification time alone must give the change away.
  std::ofstream(dir.path() / "stop.new") << "gamma\n";
  std::filesystem::last_write_time(dir.path() / "stop.new",
                                   std::filesystem::last_write_time(stop) + std::chrono::seconds(2));
  std::filesystem::rename(dir.path() / "stop.new", stop);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(*watcher)->current()->stopwords.contains("gamma") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_TRUE((*watcher)->current()->stopwords.contains("gamma"));
  EXPECT_FALSE((*watcher)->current()->stopwords.contains("alpha"));
  EXPECT_EQ((*watcher)->reloads(), 1u);
  // A bad edit is refused, the observer hears why, and the rules in force stay.
  std::ofstream(dir.path() / "stop.new") << "gamma\n";  // unchanged content, new time
  std::filesystem::last_write_time(dir.path() / "stop.new",
                                   std::filesystem::last_write_time(stop) + std::chrono::seconds(2));
  std::filesystem::rename(dir.path() / "stop.new", stop);
  while ((*watcher)->reloads() < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  ASSERT_EQ((*watcher)->reloads(), 2u);
}

TEST(QueryRulesTest, WatcherKeepsTheRulesInForceWhenAnEditFailsAndSaysWhy) {
  testutil::TempDir dir;
  const auto rules = dir.path() / "rules.json";
  std::ofstream(rules) << R"({"synonym_weight": 0.25})";
  std::mutex mu;
  std::vector<Status> outcomes;
  auto watcher = QueryRulesWatcher::Start({rules, {}, {}, {}}, std::chrono::milliseconds(5), [&](const Status& s) {
    std::lock_guard lock(mu);
    outcomes.push_back(s);
  });
  ASSERT_TRUE(watcher.ok()) << watcher.status().ToString();
  EXPECT_FLOAT_EQ((*watcher)->current()->synonym_weight, 0.25f);
  std::ofstream(dir.path() / "rules.new") << R"({"synonym_weight": 7})";
  std::filesystem::rename(dir.path() / "rules.new", rules);
  ASSERT_TRUE(testutil::WaitFor([&] {
    std::lock_guard lock(mu);
    return !outcomes.empty();
  }, std::chrono::seconds(10)));
  std::lock_guard lock(mu);
  EXPECT_FALSE(outcomes[0].ok());
  EXPECT_NE(outcomes[0].message().find("synonym_weight"), std::string::npos) << outcomes[0].ToString();
  EXPECT_FLOAT_EQ((*watcher)->current()->synonym_weight, 0.25f);
  EXPECT_EQ((*watcher)->reloads(), 0u);
}

}  // namespace
}  // namespace tide::query
