#include "query/result_cache.h"

#include "common/metrics.h"

namespace tide::query {

ResultCache::ResultCache(std::size_t capacity, Counter* hits, Counter* misses)
    : entries_(capacity), hits_(hits), misses_(misses) {}

bool ResultCache::Advance(std::uint64_t seq) {
  std::lock_guard lock(mu_);
  if (seq < seq_) return false;
  if (seq > seq_) {
    entries_.Clear();
    seq_ = seq;
  }
  return true;
}

std::optional<nlohmann::json> ResultCache::Get(const std::string& key, std::uint64_t watermark_seq) {
  if (entries_.capacity() == 0) return std::nullopt;
  std::optional<nlohmann::json> found;
  if (Advance(watermark_seq)) found = entries_.Get(key);
  Counter* outcome = found ? hits_ : misses_;
  if (outcome != nullptr) outcome->Inc();
  return found;
}

void ResultCache::Put(const std::string& key, std::uint64_t watermark_seq, nlohmann::json response) {
  if (entries_.capacity() == 0) return;
  // Holding mu_ while inserting keeps a concurrent Advance from clearing between the check
  // and the insert, which would leave an entry of an older watermark behind.
  std::lock_guard lock(mu_);
  if (watermark_seq != seq_) return;
  entries_.Put(key, std::move(response));
}

}  // namespace tide::query
