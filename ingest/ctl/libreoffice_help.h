#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

// Turns the LibreOffice help (Debian's libreoffice-help-<lang>, HTML pages under
// <help_root>/text/<module>/...) into document.upsert events for the demo corpus.
namespace tide::ctl {

// One help page, reduced to what the index needs. All strings are valid UTF-8.
struct HelpPage {
  std::string module;                 // first path component under text/: "scalc"
  std::string doc_id;                 // path relative to text/: "scalc/guide/datapilot.html"
  std::string title;                  // <title>, decoded and trimmed
  std::vector<std::string> keywords;  // each <meta itemprop="keywords" content>, first seen first
  // The visible content of <div id="DisplayArea"> (of <body> if a page has none) as light
  // markdown, see HtmlToMarkdown(): "# " headings, "- " list items, table rows as cells
  // joined by " | ", blocks separated by a blank line. Navigation chrome and scripts are
  // dropped. Of the per-system and per-application variants that help.js unhides at run
  // time, the one a Linux user of this module would see is kept: for system switches UNIX,
  // else "default"; for application switches the module's, else "default", else (shared
  // pages only) the first.
  std::string text;
};

// Parses one page. `doc_id` is the page's path relative to text/ and must name a module
// ("<module>/..."). Returns InvalidArgument if the page has no title or no visible content.
// Never fails on malformed HTML; invalid UTF-8 bytes become U+FFFD.
Result<HelpPage> ParseHelpPage(std::string_view html, std::string_view doc_id);

struct ConvertStats {
  std::size_t pages = 0;    // pages read (after the module filter)
  std::size_t skipped = 0;  // pages that were unreadable, failed to parse or had no text
  std::size_t events = 0;   // lines written
};

// Walks <help_root>/text/**/*.html in byte order of the relative path, so the output is
// deterministic, and writes one JSON event per line to `out`:
//   {"schema_version":1,"type":"document.upsert","container_id":<module>,"doc_id":<doc_id>,
//    "version":<version>,"title":..,"text":..,
//    "source":{"uri":"libreoffice-help:ko/text/<doc_id>","mime":"text/html"},
//    "metadata":{"doc_type":"help","lang":"ko","tags":[<keywords>...]}}
// Bad pages are counted in `skipped` and logged at debug, never fatal. `modules` (empty =
// all) keeps only pages of those modules; `limit` (0 = no limit) stops after that many
// events. Returns NotFound if <help_root>/text is not a directory, Internal if the tree
// cannot be listed or `out` fails. `on_page`, if set, is called before each page and once at
// the end with the pages considered so far, the pages the tree holds and the counts so far.
using ConvertProgress = std::function<void(std::size_t considered, std::size_t total, const ConvertStats&)>;
Result<ConvertStats> ConvertHelpTree(const std::filesystem::path& help_root, std::int64_t version,
                                     const std::vector<std::string>& modules, std::size_t limit,
                                     std::ostream& out, const ConvertProgress& on_page = nullptr);

}  // namespace tide::ctl
