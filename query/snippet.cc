#include "query/snippet.h"

#include <algorithm>
#include <cctype>

#include "common/utf8.h"

namespace tide::query {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool MatchAt(std::string_view text, std::size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (Lower(text[pos + i]) != word[i]) return false;
  }
  return true;
}

void AppendEscaped(std::string* out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&': *out += "&amp;"; break;
      case '<': *out += "&lt;"; break;
      case '>': *out += "&gt;"; break;
      case '\n': *out += ' '; break;
      default: *out += c;
    }
  }
}

}  // namespace

std::string MakeSnippet(std::string_view text, const std::vector<std::string>& words,
                        std::size_t max_chars) {
  std::vector<std::string> needles;
  for (const std::string& w : words) {
    if (w.empty()) continue;
    std::string lower(w);
    std::transform(lower.begin(), lower.end(), lower.begin(), Lower);
    needles.push_back(std::move(lower));
  }
  // Longest first, so "피벗 테이블" style overlaps highlight the longer word.
  std::sort(needles.begin(), needles.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });

  std::size_t first = std::string_view::npos;
  for (std::size_t pos = 0; pos < text.size() && first == std::string_view::npos; ++pos) {
    for (const std::string& n : needles) {
      if (MatchAt(text, pos, n)) {
        first = pos;
        break;
      }
    }
  }
  std::size_t begin = first == std::string_view::npos ? 0 : utf8::Back(text, first, max_chars / 5);
  std::size_t end = utf8::Forward(text, begin, max_chars);
  std::string out;
  if (begin > 0) out += "…";
  for (std::size_t pos = begin; pos < end;) {
    std::size_t matched = 0;
    for (const std::string& n : needles) {
      if (pos + n.size() <= end && MatchAt(text, pos, n)) {
        matched = n.size();
        break;
      }
    }
    if (matched > 0) {
      out += "<em>";
      AppendEscaped(&out, text.substr(pos, matched));
      out += "</em>";
      pos += matched;
    } else {
      std::size_t next = utf8::Forward(text, pos, 1);
      AppendEscaped(&out, text.substr(pos, next - pos));
      pos = next;
    }
  }
  if (end < text.size()) out += "…";
  return out;
}

}  // namespace tide::query
