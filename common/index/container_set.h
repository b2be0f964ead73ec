#pragma once

#include <cstdint>
#include <vector>

namespace tide::index {

// The containers a request may read, as dense container ordinals (IndexSet assigns them).
// Empty means nothing is permitted: deny by default.
class ContainerSet {
 public:
  ContainerSet() = default;
  void Add(std::uint32_t ordinal) {
    if (ordinal >= bits_.size()) bits_.resize(ordinal + 1, false);
    if (!bits_[ordinal]) {
      bits_[ordinal] = true;
      ordinals_.push_back(ordinal);
    }
  }
  bool Contains(std::uint32_t ordinal) const { return ordinal < bits_.size() && bits_[ordinal]; }
  const std::vector<std::uint32_t>& ordinals() const { return ordinals_; }
  bool empty() const { return ordinals_.empty(); }

 private:
  std::vector<bool> bits_;
  std::vector<std::uint32_t> ordinals_;
};

}  // namespace tide::index
