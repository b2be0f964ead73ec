#include "common/embedding/caching_embedder.h"

#include <algorithm>

#include "common/metrics.h"

namespace tide::embedding {

CachingEmbedder::CachingEmbedder(std::unique_ptr<Embedder> inner, std::size_t capacity, Counter* hits,
                                 Counter* misses)
    : inner_(std::move(inner)), cache_(capacity), hits_(hits), misses_(misses) {}

Status CachingEmbedder::Embed(const std::vector<std::string>& texts, InputType type, std::vector<float>* out) {
  const char tag = type == InputType::kQuery ? 'q' : 'p';
  const auto dim = static_cast<std::size_t>(inner_->dimension());
  std::vector<std::optional<std::vector<float>>> found(texts.size());
  std::vector<std::string> missing;
  std::vector<std::size_t> missing_at;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    found[i] = cache_.Get(tag + texts[i]);
    if (!found[i]) {
      missing.push_back(texts[i]);
      missing_at.push_back(i);
    }
  }
  if (hits_ != nullptr) hits_->Inc(texts.size() - missing.size());
  if (misses_ != nullptr) misses_->Inc(missing.size());
  std::vector<float> fresh;
  if (!missing.empty()) {
    TIDE_RETURN_IF_ERROR(inner_->Embed(missing, type, &fresh));
    if (fresh.size() != missing.size() * dim) {
      return Status::Internal("embedder returned " + std::to_string(fresh.size()) + " floats for " +
                              std::to_string(missing.size()) + " texts");
    }
    for (std::size_t j = 0; j < missing.size(); ++j) {
      std::vector<float> v(fresh.begin() + static_cast<std::ptrdiff_t>(j * dim),
                           fresh.begin() + static_cast<std::ptrdiff_t>((j + 1) * dim));
      cache_.Put(tag + missing[j], v);
      found[missing_at[j]] = std::move(v);
    }
  }
  out->reserve(out->size() + texts.size() * dim);
  for (const auto& v : found) out->insert(out->end(), v->begin(), v->end());
  return Status();
}

}  // namespace tide::embedding
