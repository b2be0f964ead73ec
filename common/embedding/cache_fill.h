#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/embedding/embedder.h"
#include "common/status.h"

namespace tide {
class Counter;
}

namespace tide::embedding {

// The part every cache in front of an embedder shares: `found[i]` holds texts[i]'s cached
// vector or nothing. The texts with nothing go to `inner` in one call; each fresh vector is
// put in `found` and handed to `keep(i, vector)` (to store it). `hits` / `misses` (may be null)
// count the texts. On error `found` is left as it was and nothing is kept.
// `deadline` is passed to inner.EmbedBefore().
Status EmbedMissing(Embedder& inner, const std::vector<std::string>& texts, InputType type,
                    Embedder::Deadline deadline,
                    std::vector<std::optional<std::vector<float>>>* found, Counter* hits, Counter* misses,
                    const std::function<void(std::size_t, const std::vector<float>&)>& keep);

// Appends every vector of `found` (all present) to *out, in order.
void AppendFound(const std::vector<std::optional<std::vector<float>>>& found, std::vector<float>* out);

}  // namespace tide::embedding
