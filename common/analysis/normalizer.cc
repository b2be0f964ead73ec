#include "common/analysis/normalizer.h"

#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

namespace tide::analysis {
namespace {

// ICU string lengths are int32_t: longer input is truncated to this many bytes.
constexpr std::size_t kMaxLength = std::numeric_limits<std::int32_t>::max();

// Owned by ICU and immutable once created, so sharing it between threads is safe. A null
// result means ICU's data is missing; Normalize() then still case-folds but skips NFKC.
const icu::Normalizer2* NfkcCasefold() {
  static const icu::Normalizer2* const instance = [] {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* normalizer = icu::Normalizer2::getNFKCCasefoldInstance(status);
    return U_SUCCESS(status) ? normalizer : nullptr;
  }();
  return instance;
}

// Characters that NFKC_Casefold deletes (they are Default_Ignorable) although they sit
// *between* words: "서울\u200B부산" must stay two words, not become "서울부산".
bool IsInvisibleSeparator(UChar32 c) {
  return c == 0x200B ||                     // zero width space
         c == 0x200C || c == 0x200D ||      // zero width (non-)joiner, used inside emoji
         c == 0x2060 ||                     // word joiner
         c == 0xFEFF ||                     // zero width no-break space / BOM
         c == 0x180E ||                     // Mongolian vowel separator
         (c >= 0x180B && c <= 0x180F) ||    // Mongolian variation selectors
         (c >= 0xFE00 && c <= 0xFE0F) ||    // variation selectors (emoji/text presentation)
         (c >= 0xE0000 && c <= 0xE007F) ||  // tag characters (emoji flag sequences)
         (c >= 0xE0100 && c <= 0xE01EF);    // variation selectors supplement
}

// Checked after NFKC, because compatibility mappings turn some symbols into letters
// ("㉠" So -> "ᄀ" Lo, "™" So -> "tm") and those letters must survive.
bool BecomesSpace(UChar32 c) {
  if (u_isUWhiteSpace(c)) return true;
  switch (u_charType(c)) {
    case U_CONTROL_CHAR:
    case U_FORMAT_CHAR:
    case U_OTHER_SYMBOL:  // emoji, dingbats, U+FFFD from invalid input
    case U_SURROGATE:     // only reachable from unpaired surrogates
    case U_PRIVATE_USE_CHAR:
    case U_UNASSIGNED:
    case U_ENCLOSING_MARK:  // keycap U+20E3 and friends
      return true;
    default:
      break;
  }
  // Emoji that are not So: skin-tone modifiers (Sk), "↔" (Sm), "‼" (Po) and similar.
  return u_hasBinaryProperty(c, UCHAR_EMOJI_MODIFIER) ||
         u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC);
}

// Normalize() of text made only of ASCII and precomposed Hangul syllables, or nullopt if the
// text has anything else (or invalid UTF-8). For those code points NFKC_Casefold is the
// identity but for A-Z, and BecomesSpace holds only for ASCII controls and white space.
std::optional<std::string> NormalizeAsciiHangul(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  bool pending_space = false;
  auto keep = [&](std::string_view bytes) {
    if (pending_space && !out.empty()) out.push_back(' ');
    pending_space = false;
    out.append(bytes);
  };
  for (std::size_t i = 0; i < utf8.size();) {
    const auto b = static_cast<unsigned char>(utf8[i]);
    if (b < 0x80) {
      if (b <= 0x20 || b == 0x7F) {
        pending_space = true;  // controls and white space (Cc, or u_isUWhiteSpace)
      } else {
        const char lower = b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : static_cast<char>(b);
        keep(std::string_view(&lower, 1));
      }
      ++i;
      continue;
    }
    // U+AC00-U+D7A3 is EA B0 80 through ED 9E A3: three bytes, lead EA-ED.
    if (b < 0xEA || b > 0xED || utf8.size() - i < 3) return std::nullopt;
    const auto b1 = static_cast<unsigned char>(utf8[i + 1]);
    const auto b2 = static_cast<unsigned char>(utf8[i + 2]);
    if ((b1 & 0xC0) != 0x80 || (b2 & 0xC0) != 0x80) return std::nullopt;
    const std::uint32_t c = ((b & 0x0Fu) << 12) | ((b1 & 0x3Fu) << 6) | (b2 & 0x3Fu);
    if (c < 0xAC00 || c > 0xD7A3) return std::nullopt;
    keep(utf8.substr(i, 3));
    i += 3;
  }
  return out;
}

}  // namespace

std::string Normalize(std::string_view utf8) {
  if (utf8.size() <= kMaxLength) {
    if (std::optional<std::string> fast = NormalizeAsciiHangul(utf8)) return std::move(*fast);
  }
  return NormalizeThroughIcu(utf8);
}

std::string NormalizeThroughIcu(std::string_view utf8) {
  if (utf8.size() > kMaxLength) utf8 = utf8.substr(0, kMaxLength);

  // fromUTF8 substitutes U+FFFD for every ill-formed sequence.
  const icu::UnicodeString decoded = icu::UnicodeString::fromUTF8(
      icu::StringPiece(utf8.data(), static_cast<std::int32_t>(utf8.size())));

  icu::UnicodeString separated;
  for (std::int32_t i = 0; i < decoded.length(); i = decoded.moveIndex32(i, 1)) {
    const UChar32 c = decoded.char32At(i);
    separated.append(IsInvisibleSeparator(c) ? UChar32{0x20} : c);
  }

  icu::UnicodeString folded;
  if (const icu::Normalizer2* normalizer = NfkcCasefold(); normalizer != nullptr) {
    UErrorCode status = U_ZERO_ERROR;
    folded = normalizer->normalize(separated, status);
    if (U_FAILURE(status)) folded = separated.foldCase();
  } else {
    folded = separated.foldCase();
  }

  icu::UnicodeString collapsed;
  bool pending_space = false;
  for (std::int32_t i = 0; i < folded.length(); i = folded.moveIndex32(i, 1)) {
    const UChar32 c = folded.char32At(i);
    if (BecomesSpace(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space && !collapsed.isEmpty()) collapsed.append(UChar32{0x20});
    pending_space = false;
    collapsed.append(c);
  }

  std::string out;
  collapsed.toUTF8String(out);
  return out;
}

}  // namespace tide::analysis
