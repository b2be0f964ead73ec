#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace tide {

// A bounded map that forgets the least recently used entry when full. Thread-safe (one
// mutex: entries are small and lookups short). Capacity 0 disables it: nothing is kept.
template <typename Key, typename Value, typename Hash = std::hash<Key>>
class LruCache {
 public:
  explicit LruCache(std::size_t capacity) : capacity_(capacity) {}

  std::optional<Value> Get(const Key& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    entries_.splice(entries_.begin(), entries_, it->second);  // now the most recent
    return it->second->second;
  }

  void Put(const Key& key, Value value) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      it->second->second = std::move(value);
      entries_.splice(entries_.begin(), entries_, it->second);
      return;
    }
    entries_.emplace_front(key, std::move(value));
    index_.emplace(key, entries_.begin());
    if (entries_.size() > capacity_) {
      index_.erase(entries_.back().first);
      entries_.pop_back();
    }
  }

  void Clear() {
    std::lock_guard lock(mu_);
    index_.clear();
    entries_.clear();
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
  }
  std::size_t capacity() const { return capacity_; }

 private:
  using Entry = std::pair<Key, Value>;
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> entries_;  // most recent first
  std::unordered_map<Key, typename std::list<Entry>::iterator, Hash> index_;
};

}  // namespace tide
