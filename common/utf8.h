#pragma once

#include <unicode/utf8.h>

#include <cstddef>
#include <cstdint>
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

// Whether `s` is well-formed UTF-8 as Unicode defines it (ICU's U8_NEXT): no overlong
// encodings, no UTF-8-encoded surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no
// truncated sequence. What JSON parsers and the rest of the world accept, so that text we call
// valid here is never refused later as "not JSON".
inline bool IsValid(std::string_view s) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(s.data());
  const auto length = static_cast<int32_t>(s.size());
  if (static_cast<std::size_t>(length) != s.size()) return false;  // over 2 GiB: not ours to check
  int32_t i = 0;
  while (i < length) {
    UChar32 c;
    U8_NEXT(bytes, i, length, c);
    if (c < 0) return false;
  }
  return true;
}

}  // namespace tide::utf8
