#include "ingest/chunker.h"

#include <algorithm>

#include "common/utf8.h"

namespace tide::ingest {
namespace {

// Byte offset of every code point, plus one past the end, so code point i is
// [cp[i], cp[i+1]).
std::vector<std::size_t> CodePointOffsets(std::string_view s) {
  std::vector<std::size_t> cp;
  cp.reserve(s.size() + 1);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!utf8::IsContinuation(s[i])) cp.push_back(i);
  }
  cp.push_back(s.size());
  return cp;
}

struct Span {
  std::size_t begin;  // code points
  std::size_t end;
};

class Splitter {
 public:
  Splitter(std::string_view text, const ChunkerOptions& options)
      : text_(text), options_(options), cp_(CodePointOffsets(text)) {}

  std::vector<TextChunk> Run() {
    std::vector<TextChunk> out;
    std::vector<std::string> headings;
    std::size_t n = cp_.size() - 1;
    std::size_t line_begin = 0;
    std::size_t section_begin = 0;
    auto flush_section = [&](std::size_t end) {
      Pack(section_begin, end, Join(headings), &out);
    };
    while (line_begin < n) {
      std::size_t line_end = line_begin;
      while (line_end < n && At(line_end) != '\n') ++line_end;
      std::size_t level = 0;
      while (line_begin + level < line_end && At(line_begin + level) == '#') ++level;
      if (level > 0 && level <= 6 && line_begin + level < line_end && At(line_begin + level) == ' ') {
        flush_section(line_begin);
        std::string title = Trim(Slice(line_begin + level + 1, line_end));
        headings.resize(std::min(headings.size(), level - 1));
        while (headings.size() < level - 1) headings.emplace_back();
        headings.push_back(std::move(title));
        section_begin = std::min(line_end + 1, n);
      }
      line_begin = line_end + 1;
    }
    flush_section(n);
    return out;
  }

 private:
  char At(std::size_t i) const { return text_[cp_[i]]; }  // first byte of code point i
  bool IsSpaceAt(std::size_t i) const {
    char c = At(i);
    return c == ' ' || c == '\n' || c == '\t' || c == '\r';
  }
  std::string_view Slice(std::size_t b, std::size_t e) const {
    return text_.substr(cp_[b], cp_[e] - cp_[b]);
  }
  static std::string Trim(std::string_view s) {
    std::size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string_view::npos) return {};
    std::size_t e = s.find_last_not_of(" \t\r\n");
    return std::string(s.substr(b, e - b + 1));
  }
  static std::string Join(const std::vector<std::string>& headings) {
    std::string out;
    for (const std::string& h : headings) {
      if (h.empty()) continue;
      if (!out.empty()) out += " > ";
      out += h;
    }
    return out;
  }

  // Shrinks a span so it starts and ends on non-space characters.
  Span TrimSpan(Span s) const {
    while (s.begin < s.end && IsSpaceAt(s.begin)) ++s.begin;
    while (s.end > s.begin && IsSpaceAt(s.end - 1)) --s.end;
    return s;
  }

  // Paragraphs: split at blank lines.
  void Paragraphs(Span s, std::vector<Span>* out) const {
    std::size_t start = s.begin;
    for (std::size_t i = s.begin; i + 1 < s.end; ++i) {
      if (At(i) == '\n') {
        std::size_t j = i + 1;
        while (j < s.end && (At(j) == ' ' || At(j) == '\t' || At(j) == '\r')) ++j;
        if (j < s.end && At(j) == '\n') {
          Push(Span{start, i}, out);
          start = j + 1;
          i = j;
        }
      }
    }
    Push(Span{start, s.end}, out);
  }

  void Push(Span s, std::vector<Span>* out) const {
    s = TrimSpan(s);
    if (s.begin < s.end) out->push_back(s);
  }

  // Sentences: split after terminal punctuation followed by whitespace. Korean declaratives
  // end in 다./요. and are caught by the '.' rule; '。' and full-width '？！' need no space.
  void Sentences(Span s, std::vector<Span>* out) const {
    std::size_t start = s.begin;
    for (std::size_t i = s.begin; i < s.end; ++i) {
      std::string_view ch = Slice(i, i + 1);
      bool terminal_ascii = ch == "." || ch == "?" || ch == "!" || ch == "\n";
      bool terminal_wide = ch == "。" || ch == "？" || ch == "！";
      if ((terminal_ascii && i + 1 < s.end && IsSpaceAt(i + 1)) || terminal_wide) {
        Push(Span{start, i + 1}, out);
        start = i + 1;
      }
    }
    Push(Span{start, s.end}, out);
  }

  // Characters: cut at max_chars, moving back to a space within the last fifth if possible.
  void Characters(Span s, std::vector<Span>* out) const {
    const std::size_t max = options_.max_chars;
    while (s.end - s.begin > max) {
      std::size_t cut = s.begin + max;
      for (std::size_t i = cut; i > s.begin + max * 4 / 5; --i) {
        if (IsSpaceAt(i)) {
          cut = i;
          break;
        }
      }
      Push(Span{s.begin, cut}, out);
      s.begin = cut;
    }
    Push(s, out);
  }

  // Units no longer than max_chars, in order, covering the section's text.
  std::vector<Span> Units(Span section) const {
    std::vector<Span> paragraphs, units;
    Paragraphs(section, &paragraphs);
    for (Span p : paragraphs) {
      if (p.end - p.begin <= options_.max_chars) {
        units.push_back(p);
        continue;
      }
      std::vector<Span> sentences;
      Sentences(p, &sentences);
      for (Span sentence : sentences) {
        if (sentence.end - sentence.begin <= options_.max_chars) {
          units.push_back(sentence);
        } else {
          Characters(sentence, &units);
        }
      }
    }
    return units;
  }

  void Pack(std::size_t begin, std::size_t end, const std::string& heading,
            std::vector<TextChunk>* out) const {
    if (begin >= end) return;
    std::vector<Span> units = Units(Span{begin, end});
    std::size_t first = 0;
    while (first < units.size()) {
      std::size_t last = first;  // inclusive
      while (last + 1 < units.size() && units[last + 1].end - units[first].begin <= options_.max_chars) {
        ++last;
      }
      Span chunk{units[first].begin, units[last].end};
      out->push_back(TextChunk{std::string(Slice(chunk.begin, chunk.end)), heading,
                               static_cast<std::uint32_t>(chunk.begin),
                               static_cast<std::uint32_t>(chunk.end)});
      if (last + 1 >= units.size()) break;
      // Overlap: start the next chunk with the trailing units that fit in overlap_chars,
      // but always make progress.
      std::size_t next = last + 1;
      while (next - 1 > first && units[last].end - units[next - 1].begin <= options_.overlap_chars) {
        --next;
      }
      first = next;
    }
  }

  std::string_view text_;
  const ChunkerOptions& options_;
  std::vector<std::size_t> cp_;
};

}  // namespace

std::vector<TextChunk> ChunkText(std::string_view text, const ChunkerOptions& options) {
  ChunkerOptions o = options;
  o.max_chars = std::max<std::size_t>(o.max_chars, 16);
  o.overlap_chars = std::min(o.overlap_chars, o.max_chars / 2);
  return Splitter(text, o).Run();
}

}  // namespace tide::ingest
