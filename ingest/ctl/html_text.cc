#include "ingest/ctl/html_text.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

namespace tide::ctl {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

constexpr std::string_view kNbsp = "\xC2\xA0";

template <std::size_t N>
bool OneOf(std::string_view tag, const std::string_view (&set)[N]) {
  return std::find(std::begin(set), std::end(set), tag) != std::end(set);
}

bool IsVoid(std::string_view tag) {
  static constexpr std::string_view kVoid[] = {"area",  "base",   "br",    "col",  "embed",
                                               "hr",    "img",    "input", "link", "meta",
                                               "param", "source", "track", "wbr"};
  return OneOf(tag, kVoid);
}

// Elements whose whole subtree is chrome or interactive, never page content.
bool IsChrome(std::string_view tag) {
  static constexpr std::string_view kChrome[] = {
      "head",   "title", "noscript", "nav",    "aside",    "header",   "footer", "script", "style",
      "button", "label", "form",     "select", "textarea", "template", "iframe",
      "object", "svg",   "canvas",   "audio",  "video"};
  return OneOf(tag, kChrome);
}

bool IsBlock(std::string_view tag) {
  static constexpr std::string_view kBlock[] = {
      "p",       "div",     "h1",    "h2",     "h3",         "h4",      "h5",     "h6",
      "ul",      "ol",      "li",    "dl",     "dt",         "dd",      "table",  "tr",
      "td",      "th",      "thead", "tbody",  "tfoot",      "caption", "pre",    "blockquote",
      "section", "article", "main",  "figure", "figcaption", "address", "center", "hr"};
  return OneOf(tag, kBlock);
}

int HeadingLevel(std::string_view tag) {
  if (tag.size() == 2 && tag[0] == 'h' && tag[1] >= '1' && tag[1] <= '6') return tag[1] - '0';
  return 0;
}

void TrimSpaces(std::string* s) {
  const std::size_t first = s->find_first_not_of(' ');
  if (first == std::string::npos) {
    s->clear();
    return;
  }
  s->erase(s->find_last_not_of(' ') + 1);
  s->erase(0, first);
}

void AppendSpace(std::string* s) {
  if (!s->empty() && s->back() != ' ') s->push_back(' ');
}

// Appends `text` with each run of whitespace (including U+00A0) turned into one space, and
// none at the start of `s`.
void AppendCollapsed(std::string_view text, std::string* s) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (IsSpace(c)) {
      AppendSpace(s);
    } else if (text.substr(i).starts_with(kNbsp)) {
      AppendSpace(s);
      ++i;
    } else {
      s->push_back(c);
    }
  }
}

// A <pre> body: no leading or trailing blank lines, no trailing blanks, common indent removed.
std::string TidyPre(std::string_view raw) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= raw.size()) {
    std::size_t end = raw.find('\n', start);
    if (end == std::string_view::npos) end = raw.size();
    std::string line(raw.substr(start, end - start));
    std::erase(line, '\r');
    line.erase(line.find_last_not_of(" \t") + 1);  // npos + 1 == 0: all-blank lines vanish
    lines.push_back(std::move(line));
    start = end + 1;
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  auto first = std::find_if(lines.begin(), lines.end(), [](auto& l) { return !l.empty(); });
  lines.erase(lines.begin(), first);
  std::size_t indent = std::string::npos;
  for (const std::string& l : lines) {
    if (!l.empty()) indent = std::min(indent, l.find_first_not_of(" \t"));
  }
  std::string out;
  for (const std::string& l : lines) {
    if (!out.empty()) out.push_back('\n');
    if (!l.empty()) out.append(l, indent, std::string::npos);
  }
  return out;
}

// HtmlToMarkdown's state over one walk of the parsed document (HtmlDocument has already closed
// what HTML leaves implicit, so every Enter has its Leave).
class MarkdownBuilder : public HtmlVisitor {
 public:
  // `whole_document`: convert every visible element, not only the content root's subtree.
  MarkdownBuilder(const MarkdownOptions& options, bool whole_document)
      : options_(options), whole_document_(whole_document) {}

  bool Enter(const HtmlElement& element) override;
  void Leave(const HtmlElement& element) override;
  void Text(std::string_view text) override;
  // Closes what is still open and returns the blocks joined by blank lines.
  std::string Finish();
  bool saw_content_root() const { return saw_content_root_; }

 private:
  struct Element {
    std::string tag;
    bool structural = false;  // was visible when opened, so its open/close shape the output
    bool suppresses = false;  // hides its subtree
    bool content_root = false;
    bool emitted = false;  // <li>: its "- " line has been written
  };

  bool Visible() const { return (whole_document_ || in_content_root_ > 0) && suppressing_ == 0; }
  void Open(const std::string& tag);
  void Close(const std::string& tag);
  void Pop();
  bool InListItem() const;
  void Break();  // a block boundary outside tables
  void Flush();
  void EndCell();
  void EndRow();

  const MarkdownOptions& options_;
  const bool whole_document_;
  std::vector<Element> stack_;
  std::vector<std::string> blocks_;
  std::string line_;  // the block being built
  std::string cell_;
  std::vector<std::string> row_;
  bool in_cell_ = false;
  bool saw_content_root_ = false;
  int in_content_root_ = 0;
  int suppressing_ = 0;
  int heading_level_ = 0;
  int table_depth_ = 0;
  int pre_depth_ = 0;
  int list_depth_ = 0;
};

bool MarkdownBuilder::Enter(const HtmlElement& element) {
  const std::string_view tag = element.tag();
  if (tag == "br") {
    if (!Visible()) return false;
    if (table_depth_ > 0) {
      AppendSpace(&cell_);
    } else if (pre_depth_ > 0) {
      line_.push_back('\n');
    } else {
      AppendSpace(&line_);
    }
    return false;
  }
  if (IsVoid(tag)) {
    if (tag == "hr" && Visible() && table_depth_ == 0) Break();
    return false;
  }

  Element e;
  e.tag = std::string(tag);
  e.structural = Visible();
  const std::optional<std::string_view> id = element.Attribute("id");
  const bool hidden = element.Attribute("hidden").has_value() &&
                      (!id || !options_.keep_hidden || !options_.keep_hidden(*id));
  e.suppresses = hidden || IsChrome(tag);
  if (!whole_document_ && in_content_root_ == 0 && id && *id == options_.content_root_id) {
    e.content_root = true;
    saw_content_root_ = true;
    ++in_content_root_;
  }
  if (e.suppresses) ++suppressing_;
  if (e.structural && !e.suppresses) Open(e.tag);
  stack_.push_back(std::move(e));
  return true;
}

void MarkdownBuilder::Leave(const HtmlElement&) { Pop(); }

void MarkdownBuilder::Text(std::string_view text) {
  if (!Visible()) return;
  if (table_depth_ > 0) {
    in_cell_ = true;  // text outside <td> becomes a cell of its own
    AppendCollapsed(text, &cell_);
  } else if (pre_depth_ > 0) {
    line_.append(text);
  } else {
    AppendCollapsed(text, &line_);
  }
}

std::string MarkdownBuilder::Finish() {
  while (!stack_.empty()) Pop();
  EndRow();
  Flush();
  std::string out;
  for (const std::string& block : blocks_) {
    if (!out.empty()) out.append("\n\n");
    out.append(block);
  }
  return out;
}

void MarkdownBuilder::Pop() {
  const Element& e = stack_.back();
  if (e.structural && !e.suppresses) Close(e.tag);
  if (e.suppresses) --suppressing_;
  if (e.content_root) {
    --in_content_root_;
    EndRow();
    Flush();
  }
  stack_.pop_back();
}

// Structure of an element that opens while visible. Inside a table everything collapses into
// the current cell, since a row must stay on one line.
void MarkdownBuilder::Open(const std::string& tag) {
  if (table_depth_ > 0) {
    if (tag == "table") {
      ++table_depth_;
      AppendSpace(&cell_);
    } else if (table_depth_ == 1 && tag == "tr") {
      EndRow();
    } else if (table_depth_ == 1 && (tag == "td" || tag == "th")) {
      EndCell();
      in_cell_ = true;
    } else if (IsBlock(tag)) {
      AppendSpace(&cell_);
    }
    return;
  }
  if (tag == "table") {
    Flush();
    table_depth_ = 1;
  } else if (const int level = HeadingLevel(tag); level > 0) {
    Flush();
    heading_level_ = level;
  } else if (tag == "pre") {
    if (pre_depth_++ == 0) Flush();
  } else if (tag == "ul" || tag == "ol") {
    Flush();
    ++list_depth_;
  } else if (tag == "li") {
    Flush();
  } else if (IsBlock(tag)) {
    Break();
  }
}

void MarkdownBuilder::Close(const std::string& tag) {
  if (table_depth_ > 0) {
    if (tag == "table") {
      if (--table_depth_ == 0) EndRow();
    } else if (table_depth_ == 1 && tag == "tr") {
      EndRow();
    } else if (table_depth_ == 1 && (tag == "td" || tag == "th")) {
      EndCell();
    } else if (IsBlock(tag)) {
      AppendSpace(&cell_);
    }
    return;
  }
  if (HeadingLevel(tag) > 0) {
    Flush();
    heading_level_ = 0;
  } else if (tag == "pre") {
    if (--pre_depth_ == 0) {
      std::string code = TidyPre(line_);
      line_.clear();
      if (!code.empty()) blocks_.push_back(std::move(code));
    }
  } else if (tag == "ul" || tag == "ol") {
    Flush();
    --list_depth_;
  } else if (tag == "li") {
    Flush();
  } else if (IsBlock(tag)) {
    Break();
  }
}

// True if the innermost list-ish element is an item, so its paragraphs join into one line.
bool MarkdownBuilder::InListItem() const {
  for (std::size_t i = stack_.size(); i-- > 0;) {
    const std::string& tag = stack_[i].tag;
    if (tag == "li") return true;
    if (tag == "ul" || tag == "ol" || tag == "table") return false;
  }
  return false;
}

void MarkdownBuilder::Break() {
  if (pre_depth_ > 0) return;
  if (heading_level_ > 0 || InListItem()) {
    AppendSpace(&line_);
    return;
  }
  Flush();
}

void MarkdownBuilder::Flush() {
  TrimSpaces(&line_);
  if (line_.empty()) return;
  std::string prefix;
  if (heading_level_ > 0) {
    prefix.assign(static_cast<std::size_t>(heading_level_), '#').push_back(' ');
  } else if (InListItem()) {
    auto li = std::find_if(stack_.rbegin(), stack_.rend(), [](auto& e) { return e.tag == "li"; });
    prefix.assign(2 * static_cast<std::size_t>(std::max(list_depth_ - 1, 0)), ' ');
    prefix.append(li->emitted ? "  " : "- ");
    li->emitted = true;
  }
  blocks_.push_back(prefix + line_);
  line_.clear();
}

void MarkdownBuilder::EndCell() {
  if (!in_cell_) return;
  TrimSpaces(&cell_);
  if (!cell_.empty()) row_.push_back(std::move(cell_));
  cell_.clear();
  in_cell_ = false;
}

void MarkdownBuilder::EndRow() {
  EndCell();
  if (row_.empty()) return;
  std::string line = row_[0];
  for (std::size_t i = 1; i < row_.size(); ++i) line.append(" | ").append(row_[i]);
  blocks_.push_back(std::move(line));
  row_.clear();
}

std::string Convert(const HtmlDocument& document, const MarkdownOptions& options, bool whole_document,
                    bool* saw_content_root) {
  MarkdownBuilder builder(options, whole_document);
  document.Walk(builder);
  std::string text = builder.Finish();
  *saw_content_root = builder.saw_content_root();
  return text;
}

}  // namespace

std::string HtmlToMarkdown(const HtmlDocument& document, const MarkdownOptions& options) {
  bool saw_root = false;
  if (!options.content_root_id.empty()) {
    std::string text = Convert(document, options, /*whole_document=*/false, &saw_root);
    if (saw_root) return text;
  }
  return Convert(document, options, /*whole_document=*/true, &saw_root);
}

std::string CollapseWhitespace(std::string_view text) {
  std::string out;
  AppendCollapsed(text, &out);
  TrimSpaces(&out);
  return out;
}

}  // namespace tide::ctl
