#include "ingest/ctl/libreoffice_help.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ingest/ctl/html_text.h"
#include "tests/testutil/temp_dir.h"

namespace tide::ctl {
namespace {

namespace fs = std::filesystem;

// A page in the layout of the LibreOffice help: chrome around <div id="DisplayArea">.
std::string HelpHtml(std::string_view title, std::string_view content) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"ko\"><head><title>";
  html.append(title);
  html.append(
      "</title><script type=\"text/javascript\" src=\"help.js\"></script></head>\n<body>"
      "<header id=\"TopLeftHeader\"><a class=\"logo\"><p>LibreOffice 7.4 Help</p></a></header>"
      "<aside class=\"leftside\"><div id=\"Index\">Index</div></aside>"
      "<div id=\"DisplayArea\" itemprop=\"softwareHelp\">\n");
  html.append(content);
  html.append(
      "\n</div><div id=\"SearchFrame\"></div>"
      "<footer><h3 class=\"bug\">Help content debug info:</h3><p>This page is: x</p></footer>"
      "</body></html>\n");
  return html;
}

HelpPage ParseOk(std::string_view html, std::string_view doc_id = "scalc/guide/test.html") {
  Result<HelpPage> page = ParseHelpPage(html, doc_id);
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  return page.ok() ? *page : HelpPage{};
}

TEST(ParseHelpPageTest, ReadsModuleTitleAndKeywords) {
  const HelpPage page = ParseOk(
      HelpHtml("  피벗 &amp;\n 테이블 ",
               "<meta itemprop=\"keywords\" content=\"데이터 파일럿 기능, 소개\">"
               "<meta itemprop=\"keywords\" content=\"피벗 테이블, 데이터 파일럿 기능 참조\">"
               "<meta itemprop=\"keywords\" content=\"데이터 파일럿 기능, 소개\">"
               "<meta itemprop='keywords' content='R&amp;D'><meta name=\"keywords\" content=\"no\">"
               "<p>본문</p>"));
  EXPECT_EQ(page.module, "scalc");
  EXPECT_EQ(page.doc_id, "scalc/guide/test.html");
  EXPECT_EQ(page.title, "피벗 & 테이블");
  EXPECT_EQ(page.keywords,
            (std::vector<std::string>{"데이터 파일럿 기능, 소개",
                                      "피벗 테이블, 데이터 파일럿 기능 참조", "R&D"}));
  EXPECT_EQ(page.text, "본문");
}

TEST(ParseHelpPageTest, HeadingsParagraphsAndCollapsedWhitespace) {
  const HelpPage page = ParseOk(HelpHtml(
      "t",
      "<h1 id=\"hd_1\">\n<a name=\"x\"></a>데이터   파일럿</h1>\n"
      "<p class=\"paragraph\"><span class=\"emph\">데이터 파일럿</span>(<span>피벗</span>)을\n"
      "   사용합니다.</p><p>  </p><p></p>\n<h3>Syntax:</h3><div><p>둘째</p></div>"));
  EXPECT_EQ(page.text,
            "# 데이터 파일럿\n\n데이터 파일럿(피벗)을 사용합니다.\n\n### Syntax:\n\n둘째");
}

TEST(ParseHelpPageTest, ListItemsArePrefixedAndNestedListsIndented) {
  const HelpPage page =
      ParseOk(HelpHtml("t",
                       "<ul><li><p>첫째</p><p>이어서</p></li>\n<li>둘째<ol><li>안쪽</li></ol></li>"
                       "<li>셋째 <ul><li>안쪽 A<li>안쪽 B</ul></ul><p>끝</p>"));
  EXPECT_EQ(page.text,
            "- 첫째 이어서\n\n- 둘째\n\n  - 안쪽\n\n- 셋째\n\n  - 안쪽 A\n\n  - 안쪽 B\n\n끝");
}

TEST(ParseHelpPageTest, TableRowsJoinCellsWithPipes) {
  const HelpPage page = ParseOk(
      HelpHtml("t",
               "<p>앞</p><table border=\"1\"><tr><th><p>Distribution</p></th><th><p>Parameters</p>"
               "</th></tr>\n<tr><td><p>Uniform</p></td><td><ul><li><p>Minimum: min</p></li>"
               "<li><p>Maximum: max</p></li></ul></td></tr>"
               "<tr><td><p> </p></td><td>128</td>"  // unclosed row and cell
               "<tr><td>a<br>b</td><td><table><tr><td>x</td><td>y</td></tr></table></td>"
               "</table><p>뒤</p>"));
  EXPECT_EQ(page.text,
            "앞\n\nDistribution | Parameters\n\nUniform | Minimum: min Maximum: max\n\n128\n\n"
            "a b | x y\n\n뒤");
}

TEST(ParseHelpPageTest, DecodesEntitiesIncludingNumericHangul) {
  const HelpPage page = ParseOk(HelpHtml(
      "&#xAC00;&#44032;",
      "<p>&lt;a href=&quot;x&quot;&gt; &amp; &#39;q&#39; a&nbsp;&nbsp;b &#xAC00;&#XAC01;&#44032;"
      " &copy; &unknown; & &amp &#; &#x110000; &#0;</p>"));
  EXPECT_EQ(page.title, "가가");
  // As browsers read it (HTML5): "&amp" without its ';' is one of the legacy references that
  // still decode; unknown and malformed ones stay as written.
  EXPECT_EQ(page.text, "<a href=\"x\"> & 'q' a b 가각가 \u00A9 &unknown; & & &#; \uFFFD \uFFFD");
}

TEST(ParseHelpPageTest, DropsScriptsStylesCommentsAndChrome) {
  const HelpPage page =
      ParseOk(HelpHtml("t",
                       "<script>var s = '<p>not text</p>';</script><style>p { color: red }</style>"
                       "<!-- <p>comment</p> --><noscript>enable js</noscript><nav>nav</nav>"
                       "<aside>aside</aside><header>header</header><footer>footer</footer>"
                       "<button>Module</button><p>보임</p><SCRIPT>x</SCRIPT>"));
  EXPECT_EQ(page.text, "보임");
}

TEST(ParseHelpPageTest, NestedInlineTagsKeepWordBoundaries) {
  const HelpPage page =
      ParseOk(HelpHtml("t",
                       "<p><span class=\"emph\"><a href=\"x\">도구</a></span> - <b>옵션</b>"
                       "<span>붙</span><i>임</i> <code>MsgBox</code><sup>2</sup></p>"));
  EXPECT_EQ(page.text, "도구 - 옵션붙임 MsgBox2");
}

TEST(ParseHelpPageTest, PreKeepsLinesWithoutCommonIndent) {
  const HelpPage page = ParseOk(
      HelpHtml("t",
               "<p>Syntax:</p><div class=\"bascode\"><pre dir=\"auto\"><code class=\"language\">\n"
               "   MsgBox prompt\n"
               "     If x &lt; 1 Then\n"
               "\n"
               "   End If\n"
               "</code></pre></div><pre> FORWARD 200<br> LEFT 90<br></pre>"));
  EXPECT_EQ(page.text,
            "Syntax:\n\nMsgBox prompt\n  If x < 1 Then\n\nEnd If\n\nFORWARD 200\nLEFT 90");
}

TEST(ParseHelpPageTest, ShowsTheVariantHelpWouldShowOnLinux) {
  const std::string content =
      "<p><span id=\"swlnsys_1\" class=\"switchinline\">"
      "<span hidden=\"true\" id=\"MACtextx_1\" class=\"MAC\">LibreOffice - 환경 설정</span>"
      "<span hidden=\"true\" id=\"defaulttextx_1\">도구 - 옵션</span></span> - 보안</p>"
      "<span id=\"swlnappl_2\" class=\"switch\">"
      "<span hidden=\"true\" id=\"WRITERtextx_2\" class=\"WRITER\"><p>Writer only</p></span>"
      "<span hidden=\"true\" id=\"CALCtextx_2\" class=\"CALC\"><p>Calc only</p></span></span>"
      "<p hidden>never</p>";
  EXPECT_EQ(ParseOk(HelpHtml("t", content), "scalc/01/x.html").text,
            "도구 - 옵션 - 보안\n\nCalc only");
  EXPECT_EQ(ParseOk(HelpHtml("t", content), "swriter/01/x.html").text,
            "도구 - 옵션 - 보안\n\nWriter only");
  // Shared pages belong to no application: the first variant rather than nothing.
  EXPECT_EQ(ParseOk(HelpHtml("t", content), "shared/01/x.html").text,
            "도구 - 옵션 - 보안\n\nWriter only");
  EXPECT_EQ(ParseOk(HelpHtml("t", content), "simpress/01/x.html").text, "도구 - 옵션 - 보안");
}

TEST(ParseHelpPageTest, ToleratesMalformedHtml) {
  const HelpPage page = ParseOk(
      "<HTML><HEAD><TITLE>Broken</TITLE></HEAD><BODY>"
      "<P CLASS=paragraph>a < b and c<d</P></span></div>"
      "<p class='single' data-x=unquoted title=\"a>b\">둘째<p>셋째 <br/>줄"
      "<div/><p>넷째 <img src=x.png alt=\"icon\"> <b>굵게</p>"
      "<!-- unterminated comment <p>hidden</p>");
  EXPECT_EQ(page.title, "Broken");
  EXPECT_EQ(page.text, "a < b and c\n\n둘째\n\n셋째 줄\n\n넷째 굵게");
}

TEST(ParseHelpPageTest, WithoutDisplayAreaTakesTheBody) {
  const HelpPage page = ParseOk(
      "<html><head><title>T</title><style>x</style></head><body><header>h</header>"
      "<h2>제목</h2><p>본문</p><footer>f</footer></body></html>");
  EXPECT_EQ(page.text, "## 제목\n\n본문");
}

TEST(ParseHelpPageTest, OnlyDisplayAreaContentCounts) {
  // The footer's debug box and the header's "LibreOffice 7.4 Help" must not leak in.
  const HelpPage page = ParseOk(HelpHtml("t", "<p>내용</p></div></div><p>after</p>"));
  EXPECT_EQ(page.text, "내용");
}

TEST(ParseHelpPageTest, ReplacesInvalidUtf8) {
  const HelpPage page = ParseOk(HelpHtml("t\xC3", "<p>a\xFF b\xED\xA0\x80 \xEA\xB0\x80</p>"));
  EXPECT_EQ(page.title, "t\uFFFD");
  EXPECT_EQ(page.text, "a\uFFFD b\uFFFD\uFFFD\uFFFD 가");
}

TEST(ParseHelpPageTest, RejectsPagesWithoutTitleOrContent) {
  Result<HelpPage> no_title = ParseHelpPage(HelpHtml("", "<p>text</p>"), "scalc/a.html");
  ASSERT_FALSE(no_title.ok());
  EXPECT_EQ(no_title.status().code(), Status::Code::kInvalidArgument);

  Result<HelpPage> blank_title = ParseHelpPage(HelpHtml(" &nbsp; ", "<p>t</p>"), "scalc/a.html");
  EXPECT_EQ(blank_title.status().code(), Status::Code::kInvalidArgument);

  Result<HelpPage> empty = ParseHelpPage(
      HelpHtml("t", "<a name=\"x\"></a><p> </p><p><img src=\"a.png\"></p>"), "scalc/a.html");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), Status::Code::kInvalidArgument);

  EXPECT_EQ(ParseHelpPage("", "scalc/a.html").status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(ParseHelpPage(HelpHtml("t", "<p>x</p>"), "a.html").status().code(),
            Status::Code::kInvalidArgument);
}

// The parser behind the converter: attributes in every quoting style, character references,
// implicit end tags and unknown tags, as a browser would read them.
TEST(HtmlDocumentTest, ParsesAsABrowserDoes) {
  class Recorder : public HtmlVisitor {
   public:
    bool Enter(const HtmlElement& e) override {
      log += "<" + std::string(e.tag());
      for (const char* name : {"href", "id", "data-n", "hidden"}) {
        if (auto v = e.Attribute(name)) log += " " + std::string(name) + "=" + std::string(*v);
      }
      log += ">";
      return e.tag() != "skip-me";
    }
    void Leave(const HtmlElement& e) override { log += "</" + std::string(e.tag()) + ">"; }
    void Text(std::string_view text) override { log += text; }
    std::string log;
  };
  const HtmlDocument document(
      "<A HREF='x.html' id=\"i&amp;d\" data-n=3 hidden>tail</a><P>one<p>two&#44032;"
      "<skip-me>gone</skip-me><!-- c --><custom-tag>k</custom-tag>");
  Recorder recorder;
  document.Walk(recorder);
  EXPECT_EQ(recorder.log,
            "<html><head></head><body><a href=x.html id=i&d data-n=3 hidden=>tail</a><p>one</p>"
            "<p>two\uAC00<skip-me><custom-tag>k</custom-tag></p></body></html>");
}

// Writes `content` to root/text/`doc_id`, creating directories.
void WritePage(const fs::path& root, const std::string& doc_id, const std::string& content) {
  const fs::path path = root / "text" / doc_id;
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

std::vector<nlohmann::json> ParseLines(const std::string& jsonl) {
  std::vector<nlohmann::json> events;
  std::istringstream in(jsonl);
  std::string line;
  while (std::getline(in, line)) {
    EXPECT_TRUE(nlohmann::json::accept(line)) << line;
    events.push_back(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false));
  }
  return events;
}

class ConvertHelpTreeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Written out of order on purpose: the output must not depend on directory order.
    WritePage(root(), "swriter/main0000.html",
              HelpHtml("Writer 도움말",
                       "<meta itemprop=\"keywords\" content=\"글꼴\">"
                       "<h1>환영</h1><p>Writer 본문</p>"));
    WritePage(root(), "scalc/guide/datapilot.html",
              HelpHtml("피벗 테이블", "<p>데이터 파일럿</p>"));
    WritePage(root(), "scalc/01/02140700.html", HelpHtml("Fill", "<p>Random \xFF</p>"));
    WritePage(root(), "swriter/broken.html", "<html><body><p>no title</p></body></html>");
    WritePage(root(), "swriter/notes.txt", "not a page");
  }

  fs::path root() const { return dir_.path() / "ko"; }

  testutil::TempDir dir_;
};

TEST_F(ConvertHelpTreeTest, WritesOneSortedEventPerPageAndSkipsBrokenOnes) {
  std::ostringstream out;
  Result<ConvertStats> stats = ConvertHelpTree(root(), 42, {}, 0, out);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->pages, 4u);
  EXPECT_EQ(stats->skipped, 1u);
  EXPECT_EQ(stats->events, 3u);

  const std::vector<nlohmann::json> events = ParseLines(out.str());
  ASSERT_EQ(events.size(), 3u);
  std::vector<std::string> doc_ids;
  for (const nlohmann::json& e : events) doc_ids.push_back(e.value("doc_id", ""));
  EXPECT_EQ(doc_ids,
            (std::vector<std::string>{"scalc/01/02140700.html", "scalc/guide/datapilot.html",
                                      "swriter/main0000.html"}));

  const nlohmann::json& writer = events[2];
  EXPECT_EQ(writer["schema_version"], 1);
  EXPECT_EQ(writer["type"], "document.upsert");
  EXPECT_EQ(writer["container_id"], "swriter");
  EXPECT_EQ(writer["version"], 42);
  EXPECT_EQ(writer["title"], "Writer 도움말");
  EXPECT_EQ(writer["text"], "# 환영\n\nWriter 본문");
  EXPECT_EQ(writer["source"]["uri"], "libreoffice-help:ko/text/swriter/main0000.html");
  EXPECT_EQ(writer["source"]["mime"], "text/html");
  EXPECT_EQ(writer["metadata"]["doc_type"], "help");
  EXPECT_EQ(writer["metadata"]["lang"], "ko");
  EXPECT_EQ(writer["metadata"]["tags"], nlohmann::json::array({"글꼴"}));
  EXPECT_EQ(events[0]["container_id"], "scalc");
  EXPECT_EQ(events[0]["text"], "Random \uFFFD");
  // Hangul is written as UTF-8, not as \u escapes.
  EXPECT_NE(out.str().find("피벗 테이블"), std::string::npos);
}

// Issue 16: import-help's progress comes from these calls: pages considered out of the tree's
// pages, rising to the total, with the events written so far.
TEST_F(ConvertHelpTreeTest, ReportsProgressPageByPage) {
  std::ostringstream out;
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  std::size_t last_events = 0;
  Result<ConvertStats> stats =
      ConvertHelpTree(root(), 1, {}, 0, out, [&](std::size_t considered, std::size_t total, const ConvertStats& s) {
        calls.emplace_back(considered, total);
        EXPECT_GE(s.events, last_events);
        last_events = s.events;
      });
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(calls, (std::vector<std::pair<std::size_t, std::size_t>>{{0, 4}, {1, 4}, {2, 4}, {3, 4}, {4, 4}}));
  EXPECT_EQ(last_events, 3u);
}

TEST_F(ConvertHelpTreeTest, HonoursLimitAndModules) {
  std::ostringstream limited;
  Result<ConvertStats> stats = ConvertHelpTree(root(), 1, {}, 2, limited);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->events, 2u);
  const std::vector<nlohmann::json> first_two = ParseLines(limited.str());
  ASSERT_EQ(first_two.size(), 2u);
  EXPECT_EQ(first_two[1]["doc_id"], "scalc/guide/datapilot.html");

  std::ostringstream writer_only;
  stats = ConvertHelpTree(root(), 1, {"swriter"}, 0, writer_only);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pages, 2u);
  EXPECT_EQ(stats->skipped, 1u);
  EXPECT_EQ(stats->events, 1u);
  const std::vector<nlohmann::json> events = ParseLines(writer_only.str());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["container_id"], "swriter");

  std::ostringstream none;
  stats = ConvertHelpTree(root(), 1, {"smath"}, 0, none);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->events, 0u);
  EXPECT_TRUE(none.str().empty());
}

TEST_F(ConvertHelpTreeTest, MissingTreeIsNotFound) {
  std::ostringstream out;
  Result<ConvertStats> stats = ConvertHelpTree(dir_.path() / "nowhere", 1, {}, 0, out);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), Status::Code::kNotFound);
}

// The real package, when deploy/fetch_corpus.sh (or a manual dpkg -x) has unpacked it:
// TIDE_HELP_ROOT=<DEST>/usr/share/libreoffice/help/ko. Skipped otherwise.
TEST(ConvertHelpTreeCorpusTest, RealCorpusPagesConvert) {
  const char* env = std::getenv("TIDE_HELP_ROOT");
  const fs::path root =
      env != nullptr ? fs::path(env) : fs::path("/tmp/lohelp/usr/share/libreoffice/help/ko");
  if (!fs::is_directory(root / "text")) GTEST_SKIP() << "no help corpus at " << root;
  std::ostringstream out;
  Result<ConvertStats> stats = ConvertHelpTree(root, 1, {"scalc"}, 50, out);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->events, 50u);
  for (const nlohmann::json& e : ParseLines(out.str())) {
    EXPECT_EQ(e["container_id"], "scalc");
    EXPECT_FALSE(e["text"].get<std::string>().empty());
    EXPECT_EQ(e["text"].get<std::string>().find("Help content debug info"), std::string::npos);
  }
}

}  // namespace
}  // namespace tide::ctl
