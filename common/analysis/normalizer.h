#pragma once

#include <string>
#include <string_view>

namespace tide::analysis {

// Canonical form of text before it is split into words. Index time and query time both go
// through this function, so any two spellings it maps to the same string match each other.
//
// Steps, in order:
//   1. Invalid UTF-8 bytes become U+FFFD (and so, in step 3, spaces).
//   2. Zero-width joiners/spaces, variation selectors and emoji tag characters become spaces
//      *before* normalisation: NFKC_Casefold would delete them and glue neighbours together.
//   3. NFKC with Unicode case folding (full-width "ＡＢＣ" -> "abc", "ﬁ" -> "fi", "Ⅻ" -> "xii").
//   4. Control and format characters, symbols and emoji (general categories Cc, Cf, So, Cs, Co,
//      Cn, Me, emoji modifiers and pictographs) become spaces. Punctuation and math/currency
//      symbols are kept; the analyzer treats them as word separators anyway.
//   5. Runs of white space collapse to one ASCII space; leading/trailing space is trimmed.
//
// The result is valid UTF-8. Inputs longer than 2 GiB - 1 bytes are truncated to that length
// (ICU string lengths are int32_t).
//
// Text of only ASCII and precomposed Hangul syllables (U+AC00-U+D7A3), most of what is
// indexed, takes a path without ICU: NFKC leaves those code points as they are (nothing in
// the set composes with its neighbour), case folding lowers A-Z, and steps 4-5 keep the rest
// but ASCII controls and white space. Any other code point, or invalid UTF-8, sends the whole
// text through ICU.
//
// Thread-safe: the ICU normaliser is a process-wide immutable instance.
std::string Normalize(std::string_view utf8);

// Normalize() with every text through ICU, the fast path skipped: equal to Normalize() on
// every input. For tests of that path.
std::string NormalizeThroughIcu(std::string_view utf8);

}  // namespace tide::analysis
