#pragma once

// HTML-to-markdown conversion of a page's visible text.

#include <functional>
#include <string>
#include <string_view>

#include "ingest/ctl/html_document.h"

namespace tide::ctl {

// How HtmlToMarkdown picks what to convert.
struct MarkdownOptions {
  // If non-empty and some element has this id, only that element's subtree is converted;
  // otherwise the whole document is.
  std::string content_root_id;
  // Elements carrying the `hidden` attribute are dropped with their subtree unless this
  // returns true for their id (pages that unhide variants with a script). Unset: all dropped.
  std::function<bool(std::string_view id)> keep_hidden;
};

// Converts the visible text of an HTML document to light markdown: blocks separated by a
// blank line; headings "# ", "## "...; list items "- " (nested lists indented two spaces per
// level, an item's paragraphs joined into one line); a table row is its non-empty cells
// joined by " | " (nested tables flattened into the cell); <pre> keeps its line breaks, minus
// blank edges and common indentation; everywhere else whitespace, &nbsp; included, is
// collapsed. Not visible, so dropped: <head>, scripts, styles, navigation chrome (header,
// aside, nav, footer, noscript), forms and embedded media. The result is empty if nothing is
// visible.
std::string HtmlToMarkdown(const HtmlDocument& document, const MarkdownOptions& options);

// `text` with each run of whitespace (U+00A0 included) turned into one space, trimmed.
std::string CollapseWhitespace(std::string_view text);

}  // namespace tide::ctl
