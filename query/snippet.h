#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tide::query {

// A window of about `max_chars` code points of `text` around the first occurrence of any of
// `words` (ASCII case-insensitive), HTML-escaped, with every occurrence wrapped in <em></em>.
// Without an occurrence, the start of the text. "…" marks a cut.
std::string MakeSnippet(std::string_view text, const std::vector<std::string>& words,
                        std::size_t max_chars);

}  // namespace tide::query
