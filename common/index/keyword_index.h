#pragma once

#include <array>
#include <cassert>
#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "common/index/container_set.h"
#include "common/index/postings.h"
#include "common/status.h"

namespace tide::index {

class LabelFilter;

enum class Field : std::uint8_t { kTitle = 0, kBody = 1 };
inline constexpr int kNumFields = 2;

struct KeywordHit {
  std::uint64_t label;
  float score;                            // BM25, summed over matched query terms
  std::vector<std::string> matched_terms; // distinct query terms this chunk contains
  std::uint32_t field_length = 0;         // terms in the searched field of this chunk
};

// BM25 statistics of one field in a scope, summed over the indexes that hold its chunks. A
// daemon serving several shards (each a store with indexes of its own) sums theirs, and each
// shard then scores with the sums, as one index holding every shard's chunks would.
struct KeywordStatistics {
  double chunks = 0;        // live chunks in the scope
  double total_length = 0;  // the field's terms over them
  std::map<std::string, double, std::less<>> df;  // live chunks with the term, by query term
};

// An in-memory BM25 inverted index over chunk fields, keyed by chunk label.
//
// Statistics are scoped: document frequency, chunk count and average field length are
// computed over the containers a search may read, never over the whole index, so scores
// reveal nothing about other containers. Removal is lazy: postings of removed labels are
// skipped at search time and dropped when they outnumber the live ones.
//
// Search is MaxScore over windows of slots: the k best exact scores so far are a threshold,
// and the query terms that together cannot lift a chunk past it (the common ones, of low
// weight) are non-essential. Only chunks in the essential terms' lists are candidates; the
// non-essential lists are probed for them, strongest first, while a candidate can still win.
// The lists are read a window at a time, so what one window learns narrows what the next
// reads. In a window, a non-essential list with few postings against the candidates is read
// through rather than probed for each. Up to 64 query words, the words each candidate holds
// are noted as it is scored, which gives a hit its matched terms; beyond, they are looked up.
// A scope with few chunks is searched the other way round: each of its chunks is looked up in
// every query term's list. Either way the top k is an exhaustive scoring's.
//
// Thread safety: Add and Remove need exclusive access (IndexSet serialises writers against
// readers); any number of Search calls may run at once.
class KeywordIndex {
 public:
  struct Bm25 {
    float k1 = 1.2f;
    float b = 0.75f;
  };
  using FieldTerms = std::array<std::vector<std::string>, kNumFields>;

  KeywordIndex();
  ~KeywordIndex();
  KeywordIndex(const KeywordIndex&) = delete;
  KeywordIndex& operator=(const KeywordIndex&) = delete;

  // An index holds at most this many slots (live chunks and removed ones not yet compacted
  // away): a posting keeps its slot in 24 bits. KeywordSegments seals its growing segment
  // before it gets there.
  static constexpr std::size_t kMaxSlots = std::size_t{1} << 24;

  // Terms as the Analyzer emits them, duplicates included (they are term frequency).
  // REQUIRES: `label` is not live. With kMaxSlots slots taken, Add compacts first, and throws
  // std::length_error if that frees none (kMaxSlots live chunks).
  void Add(std::uint64_t label, std::uint32_t container, const FieldTerms& terms);
  // Returns false if `label` is not live.
  bool Remove(std::uint64_t label);

  // Top-k chunks by BM25 on one field among containers in `scope`, best first. `filter`
  // (may be null) narrows which chunks may be returned; statistics stay those of the scope.
  // `term_weights` (may be null: 1 each) weighs each entry of `query_terms`; a distinct term
  // weighs the sum of its entries (a repeated term counts more, as in Lucene), and its BM25
  // contribution is multiplied by that.
  std::vector<KeywordHit> Search(Field field, const std::vector<std::string>& query_terms,
                                 std::size_t k, const ContainerSet& scope,
                                 const Bm25& params, const LabelFilter* filter = nullptr,
                                 const std::vector<float>* term_weights = nullptr) const;
  // As Search, over several indexes (the segments of KeywordSegments; none may be changed
  // meanwhile) as one index holding all their chunks: the scope's statistics are summed over
  // them, and one pass reads the segments in turn, a window of slots at a time, with one
  // threshold, so the k-th best score found in any segment prunes the rest. Ties go to the
  // lower label, in whichever segment it is.
  // `global` (may be null) replaces the scope's statistics with those of a larger whole that
  // these segments are part of (the scope over every shard): scores are then that whole's.
  static std::vector<KeywordHit> SearchSegments(const std::vector<const KeywordIndex*>& segments, Field field,
                                                const std::vector<std::string>& query_terms, std::size_t k,
                                                const ContainerSet& scope, const Bm25& params,
                                                const LabelFilter* filter = nullptr,
                                                const std::vector<float>* term_weights = nullptr,
                                                const KeywordStatistics* global = nullptr);
  // Adds the segments' statistics of `field` in `scope` for each distinct query term to
  // `into`: what SearchSegments would compute for itself.
  static void AddStatistics(const std::vector<const KeywordIndex*>& segments, Field field,
                            const std::vector<std::string>& query_terms, const ContainerSet& scope,
                            KeywordStatistics* into);

  // Live chunks in `scope` whose `field` has `term` (0 for a term the index does not have).
  // Scoped like every statistic here: nothing of other containers shows.
  std::size_t DocFrequency(Field field, std::string_view term, const ContainerSet& scope) const;
  // Whether any live chunk in `scope` has `term` in `field`: DocFrequency() > 0, but a short
  // posting list is read only up to its first chunk in the scope.
  bool InScope(Field field, std::string_view term, const ContainerSet& scope) const;

  std::size_t size() const { return slot_of_.size(); }
  // Chunks added and not yet compacted away (live or removed).
  std::size_t slots() const { return slot_label_.size(); }
  // Every live label, ascending.
  std::vector<std::uint64_t> Labels() const;
  std::size_t dead_postings() const { return dead_postings_; }
  // Posting lists long enough to keep per-container document frequencies (see Term).
  std::size_t counted_terms() const;

  void AppendTo(std::string* out) const;
  Status ParseFrom(std::string_view in);
  // The labels of what AppendTo wrote, ascending, without reading its postings.
  static Result<std::vector<std::uint64_t>> ParseLabels(std::string_view in);

  // A posting list reaching this length, and at least as long as there are containers, gets
  // per-container document frequencies, so that a search does not count its scope's share by
  // reading the whole list (4 bytes a container, for a list holding at least a posting a
  // container and 4,096 at least).
  static constexpr std::size_t kCountedListLength = 4096;

  // Frees the room posting lists keep for adds: for an index that takes no more (a sealed
  // segment). Adds still work after it.
  void ShrinkToFit();

 private:
  // Chunks live in dense slots, numbered in the order they were added, so that a search
  // reaches a posting's chunk by index rather than by hash lookup. Posting lists are sorted
  // by slot (adds append increasing slots; compaction renumbers in order). Slot data is kept
  // column-wise: a search reads only the container and one field's length of each posting.
  // Posting lists are packed in blocks (PostingList), about a byte and a half a posting:
  // postings are the largest part of a daemon's memory after the vector graphs (about 210 a
  // chunk over both fields). A term frequency from kWideTf up (rare in a chunk of a few hundred
  // terms, but a chunk.upsert may carry 4 MiB of text) is kept in its term's wide_tf.
  static constexpr std::uint32_t kWideTf = Posting::kMaxTf;  // 255
  static_assert(kMaxSlots == std::size_t{Posting::kSlotMask} + 1);
  using WideTfs = absl::flat_hash_map<std::uint32_t, std::uint32_t>;  // slot -> tf
  // What a long posting list (see kCountedListLength) keeps beside its postings:
  // per-container document frequencies. Adds keep them current; removals are subtracted lazily
  // by the first search that reads the term afterwards, from KeywordIndex::removed_, which is
  // why searches (running concurrently) take `mu`.
  struct LongList {
    std::mutex mu;
    std::vector<std::uint32_t> by_container;  // indexed by container ordinal
    std::size_t settled = 0;                  // entries of removed_ already subtracted

    std::uint32_t& CountOf(std::uint32_t container) {
      if (container >= by_container.size()) by_container.resize(container + 1, 0);
      return by_container[container];
    }
  };
  struct Term {
    PostingList postings;
    std::uint32_t max_tf = 0;  // an upper bound (removals do not lower it)
    // The frequencies of its postings whose tf is kWideTf, by slot; null while there are none.
    std::unique_ptr<WideTfs> wide_tf;
    // For long lists (see kCountedListLength), else null.
    std::unique_ptr<LongList> long_list;
  };
  struct ContainerStats {
    std::uint64_t chunks = 0;
    std::array<std::uint64_t, kNumFields> total_length{};
    std::vector<std::uint32_t> slots;  // ascending, removed ones included until compaction
  };
  struct Query;  // one search's terms, statistics and score accumulator (keyword_index.cc)
  // slot_container_ of a removed chunk.
  static constexpr std::uint32_t kRemoved = UINT32_MAX;

  static std::string TermKey(Field field, std::string_view term);
  // The byte TermKey puts before a term of `field`.
  static char FieldPrefix(Field field) { return static_cast<char>('0' + static_cast<int>(field)); }
  std::uint32_t AddSlot(std::uint64_t label, std::uint32_t container, std::uint32_t postings,
                        const std::array<std::uint32_t, kNumFields>& length);
  void AppendPosting(Term* term, std::uint32_t slot, std::uint32_t tf);
  // A posting's term frequency, and setting it (into the term's wide_tf from kWideTf up).
  static std::uint32_t TfOf(const Term& term, const Posting& p) {
    if (p.tf() != kWideTf) return p.tf();
    return term.wide_tf->at(p.slot());
  }
  // A new posting for `tf` (kept in wide_tf from kWideTf up).
  static Posting NewPosting(Term* term, std::uint32_t slot, std::uint32_t tf) {
    if (tf < kWideTf) return Posting{slot, tf};
    KeepWideTf(term, slot, tf);
    return Posting{slot, kWideTf};
  }
  static void SetTf(Term* term, Posting* p, std::uint32_t tf) { *p = NewPosting(term, p->slot(), tf); }
  // Records `tf` (kWideTf or more) in `term`'s wide_tf for `slot`.
  static void KeepWideTf(Term* term, std::uint32_t slot, std::uint32_t tf);
  bool Countable(const Term& term) const;
  // Builds `term`'s LongList: per-container counts of its live postings.
  void CountContainers(Term* term);
  // Live postings of `term` in the containers of `scope`.
  std::size_t ScopedDocFrequency(const Term& term, const ContainerSet& scope) const;
  // Appends the live slots of `scope`'s containers to `out`, ascending.
  void ScopeSlots(const ContainerSet& scope, std::vector<std::uint32_t>* out) const;
  // The two search strategies; each leaves search slots and their scores in Query::touched
  // and Query::scores: ScoreByPostings its top k, ScoreScopeChunks every chunk it scored.
  static void ScoreByPostings(Query* query);
  static void ScoreScopeChunks(Query* query);
  // Drops the postings of removed chunks and renumbers the slots densely.
  void Compact();

  // TermKey -> postings. Open addressing (a Swiss table): adding a chunk looks up each of its
  // terms, and with a node per term (std::unordered_map) those lookups, each a chain of cache
  // misses, were most of the daemon's CPU during an ingest.
  absl::flat_hash_map<std::string, Term> terms_;
  std::vector<std::uint64_t> slot_label_;                     // live and removed slots
  std::vector<std::uint32_t> slot_container_;                 // kRemoved once removed
  std::vector<std::uint32_t> slot_postings_;                  // entries owned, for lazy removal
  std::array<std::vector<std::uint32_t>, kNumFields> slot_length_;
  absl::flat_hash_map<std::uint64_t, std::uint32_t> slot_of_;  // live labels only
  std::vector<ContainerStats> containers_;                    // by container ordinal
  // Slots removed since the last compaction, with the container each was in. Counted
  // terms subtract them lazily (LongList::settled), only when a search reads them.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> removed_;
  std::size_t live_postings_ = 0;
  std::size_t dead_postings_ = 0;
};

}  // namespace tide::index
