#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/embedding/embedder.h"
#include "common/lru_cache.h"

namespace tide {
class Counter;
}

namespace tide::embedding {

// Remembers the vectors of recent texts in front of another embedder (the query daemon puts
// it in front of the query embedder: chat backends repeat questions, and a remote embedder
// is the slowest step of a search). A text's vector depends only on the text, its input type
// and the model, so entries never go stale; the cache is bounded by entry count (LRU).
// Thread-safe if the wrapped embedder is.
class CachingEmbedder : public Embedder {
 public:
  // `hits` / `misses` (may be null) count texts served from the cache or embedded.
  CachingEmbedder(std::unique_ptr<Embedder> inner, std::size_t capacity, Counter* hits, Counter* misses);

  const std::string& model_id() const override { return inner_->model_id(); }
  int dimension() const override { return inner_->dimension(); }
  // Texts found in the cache are not sent; the rest go to the wrapped embedder in one call.
  Status Embed(const std::vector<std::string>& texts, InputType type, std::vector<float>* out) override;
  // The texts not in the cache go to the inner embedder with the deadline.
  Status EmbedBefore(const std::vector<std::string>& texts, InputType type, Deadline deadline,
                     std::vector<float>* out) override;

  std::size_t size() const { return cache_.size(); }

 private:
  std::unique_ptr<Embedder> inner_;
  LruCache<std::string, std::vector<float>> cache_;  // key: input type byte + text
  Counter* hits_;
  Counter* misses_;
};

}  // namespace tide::embedding
