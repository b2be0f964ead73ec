#include "common/embedding/cache_fill.h"

#include "common/metrics.h"

namespace tide::embedding {

Status EmbedMissing(Embedder& inner, const std::vector<std::string>& texts, InputType type,
                    Embedder::Deadline deadline,
                    std::vector<std::optional<std::vector<float>>>* found, Counter* hits, Counter* misses,
                    const std::function<void(std::size_t, const std::vector<float>&)>& keep) {
  const auto dim = static_cast<std::size_t>(inner.dimension());
  std::vector<std::string> missing;
  std::vector<std::size_t> missing_at;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    if ((*found)[i]) continue;
    missing.push_back(texts[i]);
    missing_at.push_back(i);
  }
  if (hits != nullptr) hits->Inc(texts.size() - missing.size());
  if (misses != nullptr) misses->Inc(missing.size());
  if (missing.empty()) return Status();
  std::vector<float> fresh;
  TIDE_RETURN_IF_ERROR(inner.EmbedBefore(missing, type, deadline, &fresh));
  if (fresh.size() != missing.size() * dim) {
    return Status::Internal("embedder returned " + std::to_string(fresh.size()) + " floats for " +
                            std::to_string(missing.size()) + " texts");
  }
  for (std::size_t j = 0; j < missing.size(); ++j) {
    std::vector<float> v(fresh.begin() + static_cast<std::ptrdiff_t>(j * dim),
                         fresh.begin() + static_cast<std::ptrdiff_t>((j + 1) * dim));
    keep(missing_at[j], v);
    (*found)[missing_at[j]] = std::move(v);
  }
  return Status();
}

void AppendFound(const std::vector<std::optional<std::vector<float>>>& found, std::vector<float>* out) {
  std::size_t total = 0;
  for (const auto& v : found) total += v->size();
  out->reserve(out->size() + total);
  for (const auto& v : found) out->insert(out->end(), v->begin(), v->end());
}

}  // namespace tide::embedding
