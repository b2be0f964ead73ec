#include "ingest/ctl/html_tokenizer.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
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

}  // namespace tide::ctl
