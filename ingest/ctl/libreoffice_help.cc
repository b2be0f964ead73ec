#include "ingest/ctl/libreoffice_help.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <ostream>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "ingest/ctl/html_text.h"

namespace tide::ctl {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kContentRootId = "DisplayArea";

// Variant names that help pages prefix to the ids of their hidden, per-context spans.
constexpr std::string_view kDefault = "default";
constexpr std::string_view kSystems[] = {"MAC", "WIN", "UNIX"};
constexpr std::string_view kApps[] = {"WRITER", "CALC", "IMPRESS", "DRAW",
                                      "CHART",  "MATH", "BASE",    "BASIC"};

// The application whose variants a page of `module` shows; empty for "shared".
std::string_view AppOfModule(std::string_view module) {
  static constexpr std::pair<std::string_view, std::string_view> kModuleApps[] = {
      {"swriter", "WRITER"}, {"scalc", "CALC"}, {"simpress", "IMPRESS"}, {"sdraw", "DRAW"},
      {"schart", "CHART"},   {"smath", "MATH"}, {"sdatabase", "BASE"},   {"sbasic", "BASIC"}};
  for (const auto& [m, app] : kModuleApps) {
    if (m == module) return app;
  }
  return {};
}

// The variant name an id starts with ("MAC" for "MACtextshared..._1"), or empty.
std::string_view VariantOf(std::string_view id) {
  if (id.starts_with(kDefault)) return kDefault;
  for (std::string_view v : kSystems) {
    if (id.starts_with(v)) return v;
  }
  for (std::string_view v : kApps) {
    if (id.starts_with(v)) return v;
  }
  return {};
}

// A <switch> of a help page: sibling spans, all `hidden`, whose ids share a suffix
// ("MAC…_1", "default…_1"). help.js unhides the one for the reader's system and application.
struct Switch {
  std::string suffix;
  std::vector<std::string_view> variants;  // in document order
};

// Picks the variant help.js would show a Linux reader of `module`'s help, or "" for none:
//  - system switches: UNIX, else default ("도구 - 옵션", not "LibreOffice - 환경 설정");
//  - application switches: the module's application, else default. Shared pages, which any
//    application opens, fall back to the first variant, so Writer-only pages aren't empty.
std::string_view PickVariant(const Switch& s, std::string_view module) {
  auto has = [&s](std::string_view v) {
    return std::find(s.variants.begin(), s.variants.end(), v) != s.variants.end();
  };
  const bool system = std::any_of(s.variants.begin(), s.variants.end(), [](std::string_view v) {
    return std::find(std::begin(kSystems), std::end(kSystems), v) != std::end(kSystems);
  });
  if (system) return has("UNIX") ? "UNIX" : has(kDefault) ? kDefault : "";
  const std::string_view app = AppOfModule(module);
  if (!app.empty() && has(app)) return app;
  if (has(kDefault)) return kDefault;
  return app.empty() ? s.variants.front() : "";
}

// What one pass over the page's tags yields before its text is converted.
struct PageScan {
  std::string title;
  std::vector<std::string> keywords;
  std::vector<Switch> switches;
};

// Collects the title, the keywords and the variant switches in one walk.
class PageScanner : public HtmlVisitor {
 public:
  bool Enter(const HtmlElement& element) override {
    if (element.tag() == "title") {
      in_title_ = !saw_title_;
      saw_title_ = true;
    }
    const std::optional<std::string_view> itemprop = element.Attribute("itemprop");
    const std::optional<std::string_view> content = element.Attribute("content");
    if (element.tag() == "meta" && itemprop == "keywords" && content) {
      std::string keyword = CollapseWhitespace(*content);
      if (!keyword.empty() &&
          std::find(scan.keywords.begin(), scan.keywords.end(), keyword) == scan.keywords.end()) {
        scan.keywords.push_back(std::move(keyword));
      }
    }
    const std::optional<std::string_view> id = element.Attribute("id");
    if (!element.Attribute("hidden") || !id) return true;
    const std::string_view variant = VariantOf(*id);
    if (variant.empty()) return true;
    const std::string_view suffix = id->substr(variant.size());
    auto s = std::find_if(scan.switches.begin(), scan.switches.end(),
                          [suffix](const Switch& x) { return x.suffix == suffix; });
    if (s == scan.switches.end()) s = scan.switches.insert(scan.switches.end(), Switch{std::string(suffix), {}});
    s->variants.push_back(variant);
    return true;
  }
  void Leave(const HtmlElement& element) override {
    if (element.tag() == "title") in_title_ = false;
  }
  void Text(std::string_view text) override {
    if (in_title_) scan.title.append(text);
  }

  PageScan scan;

 private:
  bool saw_title_ = false;
  bool in_title_ = false;
};

PageScan ScanPage(const HtmlDocument& document) {
  PageScanner scanner;
  document.Walk(scanner);
  scanner.scan.title = CollapseWhitespace(scanner.scan.title);
  return std::move(scanner.scan);
}

}  // namespace

Result<HelpPage> ParseHelpPage(std::string_view html, std::string_view doc_id) {
  const std::size_t slash = doc_id.find('/');
  if (slash == 0 || slash == std::string_view::npos) {
    return Status::InvalidArgument("help page id '" + SanitizeUtf8(doc_id) +
                                   "' is not <module>/<path>");
  }
  HelpPage page;
  page.module = SanitizeUtf8(doc_id.substr(0, slash));
  page.doc_id = SanitizeUtf8(doc_id);
  // Sanitised once up front, so every string taken from the page is valid UTF-8.
  const HtmlDocument document(SanitizeUtf8(html));

  PageScan scan = ScanPage(document);
  if (scan.title.empty()) {
    return Status::InvalidArgument("help page " + page.doc_id + " has no <title>");
  }
  page.title = std::move(scan.title);
  page.keywords = std::move(scan.keywords);

  std::vector<std::string> shown;
  for (const Switch& s : scan.switches) {
    const std::string_view variant = PickVariant(s, page.module);
    if (!variant.empty()) shown.push_back(std::string(variant) + s.suffix);
  }
  MarkdownOptions options;
  options.content_root_id = kContentRootId;  // without one (hand-written HTML): the body
  options.keep_hidden = [&shown](std::string_view id) {
    return std::find(shown.begin(), shown.end(), id) != shown.end();
  };
  page.text = HtmlToMarkdown(document, options);
  if (page.text.empty()) {
    return Status::InvalidArgument("help page " + page.doc_id + " has no visible content");
  }
  return page;
}

Result<ConvertStats> ConvertHelpTree(const fs::path& help_root, std::int64_t version,
                                     const std::vector<std::string>& modules, std::size_t limit,
                                     std::ostream& out, const ConvertProgress& on_page) {
  const fs::path text_root = help_root / "text";
  std::error_code ec;
  if (!fs::is_directory(text_root, ec)) {
    return Status::NotFound("no help pages: " + text_root.string() + " is not a directory");
  }
  std::vector<std::string> doc_ids;
  for (fs::recursive_directory_iterator it(text_root, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code file_ec;
    if (!it->is_regular_file(file_ec) || it->path().extension() != ".html") continue;
    doc_ids.push_back(it->path().lexically_relative(text_root).generic_string());
  }
  if (ec) return Status::Internal("listing " + text_root.string() + ": " + ec.message());
  // Byte order of the relative path; directory iteration order is unspecified.
  std::sort(doc_ids.begin(), doc_ids.end());

  ConvertStats stats;
  std::size_t considered = 0;
  for (const std::string& doc_id : doc_ids) {
    if (limit != 0 && stats.events >= limit) break;
    if (on_page) on_page(considered, doc_ids.size(), stats);
    ++considered;
    const std::string module = doc_id.substr(0, doc_id.find('/'));
    if (!modules.empty() && std::find(modules.begin(), modules.end(), module) == modules.end()) {
      continue;
    }
    ++stats.pages;
    std::ifstream in(text_root / doc_id, std::ios::binary);
    if (!in) {
      ++stats.skipped;
      spdlog::debug("help page unreadable doc_id={}", doc_id);
      continue;
    }
    const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Result<HelpPage> page = ParseHelpPage(html, doc_id);
    if (!page.ok()) {
      ++stats.skipped;
      spdlog::debug("help page skipped doc_id={} reason={}", doc_id, page.status().message());
      continue;
    }
    // ordered_json keeps the documented field order, which makes the files easy to read.
    nlohmann::ordered_json event = {
        {"schema_version", 1},
        {"type", "document.upsert"},
        {"container_id", page->module},
        {"doc_id", page->doc_id},
        {"version", version},
        {"title", page->title},
        {"text", page->text},
        {"source", {{"uri", "libreoffice-help:ko/text/" + page->doc_id}, {"mime", "text/html"}}},
        {"metadata", {{"doc_type", "help"}, {"lang", "ko"}, {"tags", page->keywords}}},
    };
    // ParseHelpPage returns valid UTF-8 only; `replace` keeps dump() from throwing regardless.
    out << event.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace)
        << '\n';
    if (!out) return Status::Internal("writing help events failed after " + doc_id);
    ++stats.events;
  }
  if (on_page) on_page(considered, doc_ids.size(), stats);
  return stats;
}

}  // namespace tide::ctl
