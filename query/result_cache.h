#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/lru_cache.h"

namespace tide {
class Counter;
}

namespace tide::query {

// Recent search responses, for repeated questions. A response is only valid for the index
// state it was computed on, so every entry belongs to one watermark: the first lookup at a
// newer watermark empties the cache, and a response computed at an older one is not kept.
//
// The key must hold everything the response depends on besides the index state, in
// particular the resolved container scope, so that one scope never reads another's entry
// (SearchApi builds it). Bounded by entry count (LRU). Thread-safe.
class ResultCache {
 public:
  // `hits` / `misses` may be null. Capacity 0 disables the cache.
  ResultCache(std::size_t capacity, Counter* hits, Counter* misses);

  std::optional<nlohmann::json> Get(const std::string& key, std::uint64_t watermark_seq);
  void Put(const std::string& key, std::uint64_t watermark_seq, nlohmann::json response);

  std::size_t size() const { return entries_.size(); }

 private:
  // Empties the cache if `seq` is newer than its entries; false if `seq` is older.
  bool Advance(std::uint64_t seq);

  LruCache<std::string, nlohmann::json> entries_;
  Counter* hits_;
  Counter* misses_;
  std::mutex mu_;
  std::uint64_t seq_ = 0;  // GUARDED_BY(mu_): the watermark every entry was computed at
};

}  // namespace tide::query
