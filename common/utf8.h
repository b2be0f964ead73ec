#pragma once

#include <cstddef>
#include <string_view>

// UTF-8 by the byte, for code that counts or cuts text in code points (the chunker's offsets,
// snippets, the RAG context budget) and checks what clients send. No decoding tables: a code
// point starts at every byte that is not a continuation byte (10xxxxxx).
namespace tide::utf8 {

inline bool IsContinuation(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

// Code points in `s` (for valid UTF-8; otherwise the count of non-continuation bytes).
inline std::size_t CodePoints(std::string_view s) {
  std::size_t n = 0;
  for (char c : s) n += IsContinuation(c) ? 0 : 1;
  return n;
}

// The byte position `n` code points after / before `pos`, stopping at the ends of `s`.
inline std::size_t Forward(std::string_view s, std::size_t pos, std::size_t n) {
  while (n > 0 && pos < s.size()) {
    ++pos;
    while (pos < s.size() && IsContinuation(s[pos])) ++pos;
    --n;
  }
  return pos;
}
inline std::size_t Back(std::string_view s, std::size_t pos, std::size_t n) {
  while (n > 0 && pos > 0) {
    --pos;
    while (pos > 0 && IsContinuation(s[pos])) --pos;
    --n;
  }
  return pos;
}

// Whether `s` is well-formed in structure: every lead byte is followed by the continuation
// bytes it announces (sequences of 1 to 4 bytes).
inline bool IsValid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t j = 1; j < n; ++j) {
      if (!IsContinuation(s[i + j])) return false;
    }
    i += n;
  }
  return true;
}

}  // namespace tide::utf8
