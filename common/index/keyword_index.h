#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/index/container_set.h"
#include "common/status.h"

namespace tide::index {

class LabelFilter;

enum class Field : std::uint8_t { kTitle = 0, kBody = 1 };
inline constexpr int kNumFields = 2;

struct KeywordHit {
  std::uint64_t label;
  float score;                            // BM25, summed over matched query terms
  std::vector<std::string> matched_terms; // query terms this chunk contains
};

// An in-memory BM25 inverted index over chunk fields, keyed by chunk label.
//
// Statistics are scoped: document frequency, chunk count and average field length are
// computed over the containers a search may read, never over the whole index, so scores
// reveal nothing about other containers. Removal is lazy: postings of removed labels are
// skipped at search time and dropped when they outnumber the live ones.
//
// Thread safety: none; IndexSet serialises writers against readers.
class KeywordIndex {
 public:
  struct Bm25 {
    float k1 = 1.2f;
    float b = 0.75f;
  };
  using FieldTerms = std::array<std::vector<std::string>, kNumFields>;

  KeywordIndex() = default;

  // Terms as the Analyzer emits them, duplicates included (they are term frequency).
  // REQUIRES: `label` is not live.
  void Add(std::uint64_t label, std::uint32_t container, const FieldTerms& terms);
  // Returns false if `label` is not live.
  bool Remove(std::uint64_t label);

  // Top-k chunks by BM25 on one field among containers in `scope`, best first. `filter`
  // (may be null) narrows which chunks may be returned; statistics stay those of the scope.
  std::vector<KeywordHit> Search(Field field, const std::vector<std::string>& query_terms,
                                 std::size_t k, const ContainerSet& scope,
                                 const Bm25& params, const LabelFilter* filter = nullptr) const;

  std::size_t size() const { return slot_of_.size(); }
  std::size_t dead_postings() const { return dead_postings_; }

  void AppendTo(std::string* out) const;
  Status ParseFrom(std::string_view in);

 private:
  // Chunks live in dense slots, numbered in the order they were added, so that a search
  // reaches a posting's chunk by index rather than by hash lookup. Posting lists are sorted
  // by slot (adds append increasing slots; compaction renumbers in order).
  struct Posting {
    std::uint32_t slot;
    std::uint32_t tf;
  };
  struct Slot {
    std::uint64_t label;
    std::uint32_t container;
    std::uint32_t postings;  // how many posting entries this chunk owns, for lazy removal
    std::array<std::uint32_t, kNumFields> length;
    bool live;
  };
  struct ContainerStats {
    std::uint64_t chunks = 0;
    std::array<std::uint64_t, kNumFields> total_length{};
  };

  static std::string TermKey(Field field, std::string_view term);
  std::uint32_t AddSlot(std::uint64_t label, std::uint32_t container, std::uint32_t postings,
                        const std::array<std::uint32_t, kNumFields>& length);
  // Drops the postings of removed chunks and renumbers the slots densely.
  void Compact();

  std::unordered_map<std::string, std::vector<Posting>> postings_;  // TermKey -> postings
  std::vector<Slot> slots_;                                          // live and removed
  std::unordered_map<std::uint64_t, std::uint32_t> slot_of_;         // live labels only
  std::vector<ContainerStats> containers_;                           // by container ordinal
  std::size_t live_postings_ = 0;
  std::size_t dead_postings_ = 0;
};

}  // namespace tide::index
