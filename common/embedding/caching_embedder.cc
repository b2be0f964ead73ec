#include "common/embedding/caching_embedder.h"

#include <algorithm>

#include "common/embedding/cache_fill.h"

namespace tide::embedding {

CachingEmbedder::CachingEmbedder(std::unique_ptr<Embedder> inner, std::size_t capacity, Counter* hits,
                                 Counter* misses)
    : inner_(std::move(inner)), cache_(capacity), hits_(hits), misses_(misses) {}

Status CachingEmbedder::Embed(const std::vector<std::string>& texts, InputType type, std::vector<float>* out) {
  return EmbedBefore(texts, type, Deadline::max(), out);
}

Status CachingEmbedder::EmbedBefore(const std::vector<std::string>& texts, InputType type, Deadline deadline,
                                    std::vector<float>* out) {
  const char tag = type == InputType::kQuery ? 'q' : 'p';
  std::vector<std::optional<std::vector<float>>> found(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) found[i] = cache_.Get(tag + texts[i]);
  TIDE_RETURN_IF_ERROR(EmbedMissing(*inner_, texts, type, deadline, &found, hits_, misses_,
                                    [&](std::size_t i, const std::vector<float>& v) { cache_.Put(tag + texts[i], v); }));
  AppendFound(found, out);
  return Status();
}

}  // namespace tide::embedding
