#include "ingest/ctl/html_text.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <utility>

namespace tide::ctl {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), Lower);
  return out;
}

// Case-insensitive search for `needle` (lower-case) in `hay` from `from`.
std::size_t FindNoCase(std::string_view hay, std::string_view needle, std::size_t from) {
  for (std::size_t i = from; i + needle.size() <= hay.size(); ++i) {
    std::size_t k = 0;
    while (k < needle.size() && Lower(hay[i + k]) == needle[k]) ++k;
    if (k == needle.size()) return i;
  }
  return std::string_view::npos;
}

struct NamedEntity {
  std::string_view name;
  char32_t code_point;
};

// The references help pages and hand-written HTML actually use; HTML5 defines ~2,200 more,
// which stay literal.
constexpr std::array<NamedEntity, 40> kNamedEntities = {{
    {"amp", '&'},       {"lt", '<'},       {"gt", '>'},       {"quot", '"'},     {"apos", '\''},
    {"nbsp", 0xA0},     {"shy", 0xAD},     {"copy", 0xA9},    {"reg", 0xAE},     {"trade", 0x2122},
    {"hellip", 0x2026}, {"mdash", 0x2014}, {"ndash", 0x2013}, {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"ldquo", 0x201C},  {"rdquo", 0x201D}, {"laquo", 0xAB},   {"raquo", 0xBB},   {"bull", 0x2022},
    {"middot", 0xB7},   {"times", 0xD7},   {"divide", 0xF7},  {"deg", 0xB0},     {"plusmn", 0xB1},
    {"minus", 0x2212},  {"le", 0x2264},    {"ge", 0x2265},    {"ne", 0x2260},    {"infin", 0x221E},
    {"larr", 0x2190},   {"rarr", 0x2192},  {"uarr", 0x2191},  {"darr", 0x2193},  {"harr", 0x2194},
    {"rArr", 0x21D2},   {"euro", 0x20AC},  {"sect", 0xA7},    {"para", 0xB6},    {"ensp", 0x2002},
}};

// Decodes the reference starting at text[i] == '&'. On success appends it and returns the
// number of bytes consumed; returns 0 if it is not a reference we decode.
std::size_t DecodeOne(std::string_view text, std::size_t i, std::string* out) {
  std::size_t j = i + 1;
  if (j < text.size() && text[j] == '#') {
    ++j;
    const bool hex = j < text.size() && (text[j] == 'x' || text[j] == 'X');
    if (hex) ++j;
    const std::size_t digits_start = j;
    std::uint32_t value = 0;
    bool too_big = false;
    for (; j < text.size(); ++j) {
      const char c = text[j];
      int digit;
      if (IsDigit(c)) {
        digit = c - '0';
      } else if (hex && Lower(c) >= 'a' && Lower(c) <= 'f') {
        digit = Lower(c) - 'a' + 10;
      } else {
        break;
      }
      value = value * (hex ? 16 : 10) + static_cast<std::uint32_t>(digit);
      if (value > 0x10FFFF) {
        too_big = true;
        value = 0x110000;  // keeps accumulating from here without overflowing
      }
    }
    if (j == digits_start) return 0;
    if (j < text.size() && text[j] == ';') ++j;
    AppendUtf8(too_big || value == 0 ? kReplacement : static_cast<char32_t>(value), out);
    return j - i;
  }
  while (j < text.size() && j - i <= 8 && (IsAlpha(text[j]) || IsDigit(text[j]))) ++j;
  if (j >= text.size() || text[j] != ';') return 0;
  const std::string_view name = text.substr(i + 1, j - i - 1);
  for (const NamedEntity& e : kNamedEntities) {
    if (e.name == name) {
      AppendUtf8(e.code_point, out);
      return j + 1 - i;
    }
  }
  return 0;
}

// True if html[i] is a '<' that opens a tag, end tag, comment, doctype or processing
// instruction.
bool StartsMarkup(std::string_view html, std::size_t i) {
  if (html[i] != '<' || i + 1 >= html.size()) return false;
  const char next = html[i + 1];
  return IsAlpha(next) || next == '/' || next == '!' || next == '?';
}

bool IsRawTextTag(std::string_view tag) {
  return tag == "script" || tag == "style" || tag == "title" || tag == "textarea";
}

}  // namespace

const std::string* HtmlToken::Attribute(std::string_view attribute) const {
  for (const auto& [key, value] : attributes) {
    if (key == attribute) return &value;
  }
  return nullptr;
}

bool HtmlTokenizer::Next(HtmlToken* token) {
  while (pos_ < html_.size()) {
    if (!raw_text_tag_.empty()) {
      if (ReadRawText(token)) return true;
      continue;
    }
    if (StartsMarkup(html_, pos_)) {
      if (ReadMarkup(token)) return true;
      continue;  // a comment or doctype: nothing to report
    }
    // Text runs to the next '<' that can start markup; a lone '<' is part of the text.
    std::size_t end = pos_ + 1;
    while (end < html_.size() && !StartsMarkup(html_, end)) {
      end = html_.find('<', end + 1);
      if (end == std::string_view::npos) end = html_.size();
    }
    token->kind = HtmlToken::Kind::kText;
    token->name.clear();
    token->attributes.clear();
    token->self_closing = false;
    token->text = DecodeHtmlEntities(html_.substr(pos_, end - pos_));
    pos_ = end;
    return true;
  }
  return false;
}

bool HtmlTokenizer::ReadRawText(HtmlToken* token) {
  const std::string closing = "</" + raw_text_tag_;
  std::size_t end = FindNoCase(html_, closing, pos_);
  if (end == std::string_view::npos) end = html_.size();
  const std::string_view body = html_.substr(pos_, end - pos_);
  const bool keep = raw_text_tag_ == "title" || raw_text_tag_ == "textarea";
  raw_text_tag_.clear();
  pos_ = end;
  if (!keep || body.empty()) return false;
  token->kind = HtmlToken::Kind::kText;
  token->name.clear();
  token->attributes.clear();
  token->self_closing = false;
  token->text = DecodeHtmlEntities(body);
  return true;
}

bool HtmlTokenizer::ReadMarkup(HtmlToken* token) {
  const std::string_view rest = html_.substr(pos_);
  if (rest.starts_with("<!--")) {
    const std::size_t end = html_.find("-->", pos_ + 4);
    pos_ = end == std::string_view::npos ? html_.size() : end + 3;
    return false;
  }
  const char next = rest.size() > 1 ? rest[1] : '\0';
  const bool end_tag = next == '/' && rest.size() > 2 && IsAlpha(rest[2]);
  if (next == '!' || next == '?' || (next == '/' && !end_tag)) {
    // Doctype, processing instruction or "</ 3>": dropped up to the next '>'.
    const std::size_t end = html_.find('>', pos_);
    pos_ = end == std::string_view::npos ? html_.size() : end + 1;
    return false;
  }
  assert(IsAlpha(next) || end_tag);  // guaranteed by StartsMarkup()

  std::size_t i = pos_ + (end_tag ? 2 : 1);
  const std::size_t name_start = i;
  while (i < html_.size() && !IsSpace(html_[i]) && html_[i] != '/' && html_[i] != '>') ++i;
  token->kind = end_tag ? HtmlToken::Kind::kEndTag : HtmlToken::Kind::kStartTag;
  token->name = ToLower(html_.substr(name_start, i - name_start));
  token->text.clear();
  token->attributes.clear();
  token->self_closing = false;
  pos_ = i;
  ReadAttributes(token);
  if (end_tag) {
    token->attributes.clear();
    token->self_closing = false;
  } else if (IsRawTextTag(token->name) && !token->self_closing) {
    raw_text_tag_ = token->name;
  }
  return true;
}

void HtmlTokenizer::ReadAttributes(HtmlToken* token) {
  const std::size_t n = html_.size();
  while (pos_ < n) {
    const char c = html_[pos_];
    if (c == '>') {
      ++pos_;
      return;
    }
    if (IsSpace(c)) {
      ++pos_;
      continue;
    }
    if (c == '/') {
      ++pos_;
      if (pos_ < n && html_[pos_] == '>') token->self_closing = true;
      continue;
    }
    const std::size_t name_start = pos_;
    while (pos_ < n && !IsSpace(html_[pos_]) && html_[pos_] != '/' && html_[pos_] != '>' &&
           (html_[pos_] != '=' || pos_ == name_start)) {
      ++pos_;
    }
    std::string name = ToLower(html_.substr(name_start, pos_ - name_start));
    std::size_t j = pos_;
    while (j < n && IsSpace(html_[j])) ++j;
    std::string value;
    if (j < n && html_[j] == '=') {
      ++j;
      while (j < n && IsSpace(html_[j])) ++j;
      std::size_t value_start = j;
      std::size_t value_end;
      if (j < n && (html_[j] == '"' || html_[j] == '\'')) {
        const std::size_t close = html_.find(html_[j], j + 1);
        value_start = j + 1;
        value_end = close == std::string_view::npos ? n : close;
        j = close == std::string_view::npos ? n : close + 1;
      } else {
        while (j < n && !IsSpace(html_[j]) && html_[j] != '>') ++j;
        value_end = j;
      }
      value = DecodeHtmlEntities(html_.substr(value_start, value_end - value_start));
      pos_ = j;
    }
    // HTML keeps the first of duplicated attributes.
    if (token->Attribute(name) == nullptr) {
      token->attributes.emplace_back(std::move(name), std::move(value));
    }
  }
}

std::string DecodeHtmlEntities(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t amp = text.find('&', i);
    if (amp == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, amp - i));
    const std::size_t used = DecodeOne(text, amp, &out);
    if (used == 0) {
      out.push_back('&');
      i = amp + 1;
    } else {
      i = amp + used;
    }
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacement;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string SanitizeUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    char32_t cp = 0;
    if (b0 < 0x80) {
      len = 1;
      cp = b0;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      len = 2;
      cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      len = 3;
      cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      len = 4;
      cp = b0 & 0x07;
    }
    bool valid = len > 0 && i + len <= text.size();
    for (std::size_t k = 1; valid && k < len; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      valid = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not well-formed UTF-8.
    if (valid && ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
                  (cp >= 0xD800 && cp <= 0xDFFF))) {
      valid = false;
    }
    if (valid) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      AppendUtf8(kReplacement, &out);
      ++i;
    }
  }
  return out;
}

namespace {

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
      "head",   "title", "noscript", "nav",    "aside",    "header",   "footer",
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

// HtmlToMarkdown's state over one token stream. It keeps its own element stack and closes
// the elements HTML leaves implicit (<p>, <li>, <td>, <tr>), so that an unclosed tag doesn't
// swallow what follows it.
class MarkdownBuilder {
 public:
  // `whole_document`: convert every visible element, not only the content root's subtree.
  MarkdownBuilder(const MarkdownOptions& options, bool whole_document)
      : options_(options), whole_document_(whole_document) {}

  void StartTag(const HtmlToken& token);
  void EndTag(std::string_view tag);
  void Text(std::string_view text);
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
  // Pops up to and including the innermost element in `targets`, unless an element in
  // `boundaries` (or the content root) comes first.
  void CloseUpTo(std::initializer_list<std::string_view> targets,
                 std::initializer_list<std::string_view> boundaries);
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

void MarkdownBuilder::StartTag(const HtmlToken& token) {
  const std::string& tag = token.name;
  if (tag == "br") {
    if (!Visible()) return;
    if (table_depth_ > 0) {
      AppendSpace(&cell_);
    } else if (pre_depth_ > 0) {
      line_.push_back('\n');
    } else {
      AppendSpace(&line_);
    }
    return;
  }
  if (IsBlock(tag) && !stack_.empty() && stack_.back().tag == "p") Pop();
  if (tag == "li") CloseUpTo({"li"}, {"ul", "ol", "table"});
  if (tag == "td" || tag == "th") CloseUpTo({"td", "th"}, {"tr", "table"});
  if (tag == "tr") CloseUpTo({"tr"}, {"table"});
  if (tag == "dt" || tag == "dd") CloseUpTo({"dt", "dd"}, {"dl"});
  if (IsVoid(tag)) {
    if (tag == "hr" && Visible() && table_depth_ == 0) Break();
    return;
  }

  Element e;
  e.tag = tag;
  e.structural = Visible();
  const std::string* id = token.Attribute("id");
  const bool hidden = token.Attribute("hidden") != nullptr &&
                      (id == nullptr || !options_.keep_hidden || !options_.keep_hidden(*id));
  e.suppresses = hidden || IsChrome(tag);
  if (!whole_document_ && in_content_root_ == 0 && id != nullptr &&
      *id == options_.content_root_id) {
    e.content_root = true;
    saw_content_root_ = true;
    ++in_content_root_;
  }
  if (e.suppresses) ++suppressing_;
  if (e.structural && !e.suppresses) Open(tag);
  stack_.push_back(std::move(e));
  if (token.self_closing) Pop();
}

void MarkdownBuilder::EndTag(std::string_view tag) {
  for (std::size_t i = stack_.size(); i-- > 0;) {
    if (stack_[i].tag == tag) {
      while (stack_.size() > i) Pop();
      return;
    }
    if (stack_[i].content_root) return;  // a stray end tag must not close the content root
  }
}

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

void MarkdownBuilder::CloseUpTo(std::initializer_list<std::string_view> targets,
                                std::initializer_list<std::string_view> boundaries) {
  auto in = [](std::initializer_list<std::string_view> set, std::string_view tag) {
    return std::find(set.begin(), set.end(), tag) != set.end();
  };
  for (std::size_t i = stack_.size(); i-- > 0;) {
    if (in(targets, stack_[i].tag)) {
      while (stack_.size() > i) Pop();
      return;
    }
    if (in(boundaries, stack_[i].tag) || stack_[i].content_root) return;
  }
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

std::string Convert(std::string_view html, const MarkdownOptions& options, bool whole_document,
                    bool* saw_content_root) {
  MarkdownBuilder builder(options, whole_document);
  HtmlTokenizer tokenizer(html);
  HtmlToken token;
  while (tokenizer.Next(&token)) {
    switch (token.kind) {
      case HtmlToken::Kind::kStartTag:
        builder.StartTag(token);
        break;
      case HtmlToken::Kind::kEndTag:
        builder.EndTag(token.name);
        break;
      case HtmlToken::Kind::kText:
        builder.Text(token.text);
        break;
    }
  }
  std::string text = builder.Finish();
  *saw_content_root = builder.saw_content_root();
  return text;
}

}  // namespace

std::string HtmlToMarkdown(std::string_view html, const MarkdownOptions& options) {
  bool saw_root = false;
  if (!options.content_root_id.empty()) {
    std::string text = Convert(html, options, /*whole_document=*/false, &saw_root);
    if (saw_root) return text;
  }
  return Convert(html, options, /*whole_document=*/true, &saw_root);
}

std::string CollapseWhitespace(std::string_view text) {
  std::string out;
  AppendCollapsed(text, &out);
  TrimSpaces(&out);
  return out;
}

}  // namespace tide::ctl
