// KeywordIndex's search (the header comment says how it works): the two strategies and
// the ranking of what they score, over one index or the segments of KeywordSegments.
#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>

#include "common/index/keyword_index.h"
#include "common/index/vector_index.h"

namespace tide::index {
namespace {

// Whether `threshold` (a k-th best score) is beyond `bound` (the most a chunk could reach).
// The margin covers float rounding in the summed scores, so pruning never changes the top k.
bool Beyond(double threshold, double bound) { return threshold > bound * (1.0 + 1e-4) + 1e-6; }

// Looking every scope chunk up in a posting list pays when that is far less work than reading
// the list: keyword_bench at 1M chunks (one field, top 10) measured the lookups ahead at a
// scope of 0.1 % of the chunks (335 against 242 q/s) and behind at 1 % (156 against 216),
// where pruning reads only part of the lists (measured before the windowed search; the same
// ratio decides which long lists ScoreByPostings looks a small scope's slots up in).
constexpr std::size_t kLookupCost = 32;

// ScoreByPostings reads the lists a window of slots at a time: its accumulator (64 KiB of
// scores and a bitmap) stays in cache, and the threshold it learns in one window decides
// which lists the next one reads.
constexpr std::uint32_t kWindow = 8192;

// A non-essential word is read through in a window, not probed for each candidate there,
// while it has at most this many postings in the window per candidate.
constexpr std::size_t kReadThrough = 4;

// Up to this many query words (of a field), a search notes which of them each candidate holds
// as it scores, and a hit's matched terms come from there; beyond, from a lookup per word.
constexpr std::size_t kMaskWords = 64;

}  // namespace

// One search's state, shared by the two strategies. The indexes searched together (the
// segments of KeywordSegments, or one index) are its parts; a chunk is known by a search slot,
// its slot in its part plus the part's base, so one accumulator serves them all.
struct KeywordIndex::Query {
  struct Part {
    const KeywordIndex* index;
    std::uint32_t base;                // the search slot of its slot 0
    bool whole_index;                  // every slot is live and in the scope: no container check
    std::size_t scope_slots;           // slots of the scope's containers, removed ones included
    const std::uint32_t* length_of;    // the field's length by slot
    const std::uint32_t* container_of; // by slot
  };
  struct Word {  // a distinct query term one of the parts holds
    std::string_view text;
    std::vector<const Term*> terms;  // by part, null where the part lacks it
    double count;         // its query weight: how often the query repeats it (as in Lucene), times weights
    std::uint32_t max_tf = 0;       // over the parts
    std::size_t postings = 0;       // over the parts
    double weight = 0;    // count * idf * (k1 + 1), once the scope's df is known
    double bound = 0;     // the most it can add to one chunk's score
  };
  int field;
  std::size_t k;
  const ContainerSet* scope;
  const LabelFilter* filter;
  const KeywordStatistics* global;  // the whole's statistics, or null: the parts' own
  double k1_plus_1, k1_base, k1_len;  // k1 + 1, k1 (1 - b), k1 b / average length
  double n;                           // live chunks in the scope, over the parts
  std::vector<Part> parts;
  std::vector<Word> words;            // the strategies drop those with df 0
  std::vector<float>* scores;         // by search slot, all 0 between searches
  std::vector<std::uint32_t>* touched;
  // ScoreByPostings, with at most kMaskWords words: the words each slot of `touched` matched,
  // as bits by the words' order when it returned, sorted by slot.
  std::vector<std::pair<std::uint32_t, std::uint64_t>>* matched = nullptr;

  // The part holding search slot `s`.
  std::size_t PartOf(std::uint32_t s) const {
    std::size_t p = parts.size() - 1;
    while (parts[p].base > s) --p;
    return p;
  }
  std::uint64_t LabelOf(std::uint32_t s) const {
    const Part& part = parts[PartOf(s)];
    return part.index->slot_label_[s - part.base];
  }
  // `df` is the parts' own; with global statistics the whole's replaces it (at least the
  // parts' own: the whole was counted a moment before, and the parts may have grown since).
  void SetStatistics(Word* w, double df) const {
    if (global != nullptr) {
      auto it = global->df.find(w->text);
      df = std::max(df, it == global->df.end() ? 0.0 : it->second);
    }
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    w->weight = w->count * idf * k1_plus_1;
    // tf / (tf + k1_base + k1_len * length) grows with tf, and length >= tf.
    const double tf = w->max_tf;
    w->bound = w->weight * tf / (tf + k1_base + k1_len * tf);
  }
  // `part` is one of `parts` (its position picks the word's term there, for a wide tf).
  float Contribution(const Word& w, const Part& part, Posting p) const {
    const double tf = p.tf() != kWideTf ? p.tf() : TfOf(*w.terms[static_cast<std::size_t>(&part - parts.data())], p);
    return static_cast<float>(w.weight * tf / (tf + k1_base + k1_len * part.length_of[p.slot()]));
  }
};

std::vector<KeywordHit> KeywordIndex::Search(Field field, const std::vector<std::string>& query_terms,
                                             std::size_t k, const ContainerSet& scope,
                                             const Bm25& params, const LabelFilter* filter,
                                             const std::vector<float>* term_weights) const {
  return SearchSegments({this}, field, query_terms, k, scope, params, filter, term_weights);
}

void KeywordIndex::AddStatistics(const std::vector<const KeywordIndex*>& segments, Field field,
                                 const std::vector<std::string>& query_terms, const ContainerSet& scope,
                                 KeywordStatistics* into) {
  const int f = static_cast<int>(field);
  for (const KeywordIndex* segment : segments) {
    for (std::uint32_t c : scope.ordinals()) {
      if (c >= segment->containers_.size()) continue;
      into->chunks += static_cast<double>(segment->containers_[c].chunks);
      into->total_length += static_cast<double>(segment->containers_[c].total_length[f]);
    }
  }
  // A repeated term is counted once.
  for (std::string_view term : std::set<std::string_view>(query_terms.begin(), query_terms.end())) {
    double df = 0;
    for (const KeywordIndex* segment : segments) df += static_cast<double>(segment->DocFrequency(field, term, scope));
    into->df[std::string(term)] += df;
  }
}

std::vector<KeywordHit> KeywordIndex::SearchSegments(const std::vector<const KeywordIndex*>& segments, Field field,
                                                     const std::vector<std::string>& query_terms, std::size_t k,
                                                     const ContainerSet& scope, const Bm25& params,
                                                     const LabelFilter* filter,
                                                     const std::vector<float>* term_weights,
                                                     const KeywordStatistics* global) {
  std::vector<KeywordHit> hits;
  if (k == 0 || scope.empty() || segments.empty()) return hits;
  Query q;
  q.field = static_cast<int>(field);
  q.k = k;
  q.scope = &scope;
  q.filter = filter;
  q.global = global;
  double total_length = 0;
  q.n = 0;
  std::size_t scope_slots = 0;
  std::size_t slots = 0;
  for (const KeywordIndex* segment : segments) {
    std::size_t part_slots = 0;
    for (std::uint32_t c : scope.ordinals()) {
      if (c >= segment->containers_.size()) continue;
      const ContainerStats& stats = segment->containers_[c];
      q.n += static_cast<double>(stats.chunks);
      total_length += static_cast<double>(stats.total_length[q.field]);
      part_slots += stats.slots.size();
    }
    scope_slots += part_slots;
    // Container slot lists hold removed slots until compaction, which is when removed_ empties.
    const bool whole = segment->removed_.empty() && part_slots == segment->slot_label_.size();
    // Search slots are 32-bit: the segments together hold fewer than 2^32 - kWindow slots.
    assert(slots + segment->slot_label_.size() <= UINT32_MAX - kWindow);
    q.parts.push_back({segment, static_cast<std::uint32_t>(slots), whole, part_slots,
                       segment->slot_length_[q.field].data(), segment->slot_container_.data()});
    slots += segment->slot_label_.size();
  }
  if (q.n == 0) return hits;
  if (global != nullptr) {
    // The whole includes these parts (see SetStatistics for why "at least").
    q.n = std::max(q.n, global->chunks);
    total_length = std::max(total_length, global->total_length);
  }
  q.k1_plus_1 = params.k1 + 1.0;
  q.k1_base = params.k1 * (1.0 - params.b);
  q.k1_len = params.k1 * params.b / std::max(total_length / q.n, 1.0);
  std::map<std::string_view, double> qtf;
  for (std::size_t i = 0; i < query_terms.size(); ++i) {
    qtf[query_terms[i]] += term_weights != nullptr && i < term_weights->size() ? (*term_weights)[i] : 1.0;
  }
  std::size_t postings = 0;
  for (const auto& [text, count] : qtf) {
    if (count <= 0) continue;
    Query::Word w{text, std::vector<const Term*>(segments.size(), nullptr), count};
    const std::string key = TermKey(field, text);
    for (std::size_t p = 0; p < segments.size(); ++p) {
      auto it = segments[p]->terms_.find(key);
      if (it == segments[p]->terms_.end()) continue;
      w.terms[p] = &it->second;
      w.max_tf = std::max(w.max_tf, it->second.max_tf);
      w.postings += it->second.postings.size();
    }
    if (w.postings == 0) continue;
    postings += w.postings;
    q.words.push_back(std::move(w));
  }
  if (q.words.empty()) return hits;

  // Per-thread score accumulator over search slots, reset through the list of touched slots,
  // so a search costs what it reads and not the size of the index.
  thread_local std::vector<float> scores;
  thread_local std::vector<std::uint32_t> touched;
  if (scores.size() < slots) scores.resize(slots, 0.0f);
  touched.clear();
  q.scores = &scores;
  q.touched = &touched;
  thread_local std::vector<std::pair<std::uint32_t, std::uint64_t>> matched;
  matched.clear();
  if (scope_slots * q.words.size() * kLookupCost < postings) {
    ScoreScopeChunks(&q);
  } else {
    if (q.words.size() <= kMaskWords) q.matched = &matched;
    ScoreByPostings(&q);
  }

  // The top k by score, ties by label; each hit's search slot is kept beside it for the
  // matched terms.
  thread_local std::vector<std::pair<float, std::uint32_t>> ranked;
  ranked.clear();
  for (std::uint32_t s : touched) {
    ranked.emplace_back(scores[s], s);
    scores[s] = 0.0f;
  }
  auto better = [&](const std::pair<float, std::uint32_t>& a, const std::pair<float, std::uint32_t>& b) {
    return a.first != b.first ? a.first > b.first : q.LabelOf(a.second) < q.LabelOf(b.second);
  };
  const auto top = static_cast<std::ptrdiff_t>(std::min(k, ranked.size()));
  std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end(), better);
  ranked.resize(static_cast<std::size_t>(top));
  hits.reserve(ranked.size());
  for (const auto& [score, s] : ranked) {
    const Query::Part& part = q.parts[q.PartOf(s)];
    hits.push_back({part.index->slot_label_[s - part.base], score, {}, part.length_of[s - part.base]});
  }
  // Matched terms only for the hits returned, in the words' text order: noted by the scoring
  // (ScoreByPostings, at most kMaskWords words), or else each word's list is searched once
  // for the hits' slots in ascending order.
  if (q.matched != nullptr) {
    // Known from the scoring: the bits of each hit's words, in the words' text order.
    std::vector<std::size_t> by_text(q.words.size());
    for (std::size_t t = 0; t < by_text.size(); ++t) by_text[t] = t;
    std::sort(by_text.begin(), by_text.end(), [&](std::size_t a, std::size_t b) { return q.words[a].text < q.words[b].text; });
    for (std::size_t i = 0; i < hits.size(); ++i) {
      const auto it = std::lower_bound(matched.begin(), matched.end(), ranked[i].second,
                                       [](const auto& entry, std::uint32_t s) { return entry.first < s; });
      assert(it != matched.end() && it->first == ranked[i].second);
      for (std::size_t t : by_text) {
        if ((it->second >> t & 1) != 0) hits[i].matched_terms.emplace_back(q.words[t].text);
      }
    }
    return hits;
  }
  std::vector<std::size_t> by_slot(hits.size());
  for (std::size_t i = 0; i < by_slot.size(); ++i) by_slot[i] = i;
  std::sort(by_slot.begin(), by_slot.end(), [&](std::size_t a, std::size_t b) { return ranked[a].second < ranked[b].second; });
  std::sort(q.words.begin(), q.words.end(), [](const Query::Word& a, const Query::Word& b) { return a.text < b.text; });
  PostingCursor cursor;
  for (const Query::Word& w : q.words) {
    std::size_t part = SIZE_MAX;
    for (std::size_t i : by_slot) {
      const std::size_t p = q.PartOf(ranked[i].second);
      if (w.terms[p] == nullptr) continue;
      if (p != part) part = p, cursor.Reset(w.terms[p]->postings);
      const std::uint32_t slot = ranked[i].second - q.parts[p].base;
      cursor.Seek(slot);
      if (!cursor.done() && cursor.slot() == slot) hits[i].matched_terms.emplace_back(w.text);
    }
  }
  return hits;
}

void KeywordIndex::ScoreScopeChunks(Query* q) {
  // The scope's live chunks, ascending: each is looked up in every list, which also counts
  // the scope's document frequency exactly.
  std::vector<std::uint32_t>& candidates = *q->touched;
  std::vector<std::size_t> first(q->parts.size() + 1);  // each part's candidates begin here
  for (std::size_t p = 0; p < q->parts.size(); ++p) {
    first[p] = candidates.size();
    const Query::Part& part = q->parts[p];
    part.index->ScopeSlots(*q->scope, &candidates);
    for (std::size_t i = first[p]; i < candidates.size(); ++i) candidates[i] += part.base;
  }
  first.back() = candidates.size();
  // Each candidate's score summed exactly, as ScoreByPostings does.
  thread_local std::vector<double> sums;
  sums.assign(candidates.size(), 0.0);
  struct Match {
    std::size_t candidate;
    std::size_t part;
    Posting posting;
  };
  thread_local std::vector<Match> matches;
  PostingCursor cursor;
  for (Query::Word& w : q->words) {
    matches.clear();
    for (std::size_t p = 0; p < q->parts.size(); ++p) {
      if (w.terms[p] == nullptr) continue;
      cursor.Reset(w.terms[p]->postings);
      const std::uint32_t base = q->parts[p].base;
      for (std::size_t i = first[p]; i < first[p + 1]; ++i) {
        const std::uint32_t slot = candidates[i] - base;
        cursor.Seek(slot);
        if (cursor.done()) break;
        if (cursor.slot() == slot) matches.push_back({i, p, *cursor});
      }
    }
    if (matches.empty()) continue;  // weight stays 0: not in the scope
    q->SetStatistics(&w, static_cast<double>(matches.size()));
    for (const Match& match : matches) {
      const Query::Part& part = q->parts[match.part];
      // The filter narrows what may be returned, not the statistics.
      if (q->filter != nullptr && !q->filter->Allowed(part.index->slot_label_[match.posting.slot()])) continue;
      sums[match.candidate] += q->Contribution(w, part, match.posting);
    }
  }
  std::erase_if(q->words, [](const Query::Word& w) { return w.weight == 0; });
  std::vector<float>& scores = *q->scores;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (sums[i] == 0) continue;
    scores[candidates[i]] = static_cast<float>(sums[i]);
    candidates[kept++] = candidates[i];
  }
  candidates.resize(kept);
}

void KeywordIndex::ScoreByPostings(Query* q) {
  // Document frequency within the scope: the statistics never see other containers.
  for (Query::Word& w : q->words) {
    std::size_t df = 0;
    for (std::size_t p = 0; p < q->parts.size(); ++p) {
      if (w.terms[p] == nullptr) continue;
      // A part wholly in the scope with nothing removed: its every posting counts.
      const Query::Part& part = q->parts[p];
      df += part.whole_index ? w.terms[p]->postings.size() : part.index->ScopedDocFrequency(*w.terms[p], *q->scope);
    }
    if (df > 0) q->SetStatistics(&w, static_cast<double>(df));  // else weight stays 0
  }
  std::erase_if(q->words, [](const Query::Word& w) { return w.weight == 0; });
  std::vector<Query::Word>& words = q->words;
  const std::size_t m = words.size();
  std::sort(words.begin(), words.end(), [](const Query::Word& a, const Query::Word& b) {
    return a.bound != b.bound ? a.bound < b.bound : a.postings > b.postings;
  });
  // below[t]: the most words 0..t-1, the weakest, can add to a chunk together.
  std::vector<double> below(m + 1, 0.0);
  for (std::size_t t = 0; t < m; ++t) below[t + 1] = below[t] + words[t].bound;

  // The k best chunks so far with their exact scores, the worst on top; its score is the
  // threshold a chunk must beat (ties go to the lower label, as in the final ranking).
  struct Entry {
    float score;
    std::uint32_t s;  // search slot
    std::uint64_t label;
    std::uint64_t matched;  // the words it holds, as bits (with Query::matched)
  };
  auto better = [](const Entry& a, const Entry& b) {
    return a.score != b.score ? a.score > b.score : a.label < b.label;
  };
  const std::size_t k = q->k;
  std::vector<Entry> heap;
  heap.reserve(k + 1);
  double threshold = 0;
  // Words 0..essential-1 are non-essential: together they cannot lift a chunk past the
  // threshold, so only chunks found in the essential words' lists are candidates.
  std::size_t essential = 0;

  // Scores are sums of float contributions kept in a double, which holds such a sum exactly
  // while the contributions span fewer than about 24 binary orders (a term in all but one
  // chunk in 10^7 would span more; rounded to float, the score would still almost never
  // differ), so the order in which words are added, which the threshold decides, does not
  // show in a score.
  thread_local std::vector<double> window(kWindow, 0.0);
  thread_local std::vector<std::uint64_t> present(kWindow / 64, 0);
  // By window slot, the words found there (bit t for words[t]), when the caller wants them.
  thread_local std::vector<std::uint64_t> found(kWindow, 0);
  const bool masks = q->matched != nullptr;
  // Each word's place in its list of the current part.
  std::vector<PostingCursor> at(m);
  thread_local std::vector<std::uint32_t> scope_slots;
  for (std::size_t p = 0; p < q->parts.size() && essential < m; ++p) {
    const Query::Part& part = q->parts[p];
    const std::uint64_t* label_of = part.index->slot_label_.data();
    const std::uint32_t* container_of = part.container_of;
    const bool check_scope = !part.whole_index;
    const auto part_slots = static_cast<std::uint32_t>(part.index->slot_label_.size());
    for (std::size_t t = 0; t < m; ++t) {
      if (words[t].terms[p] != nullptr) at[t].Reset(words[t].terms[p]->postings);
    }
    // A scope holding a small share of the part: its slots, ascending, to look up in a list
    // far longer than they are instead of reading the list (decided per list below).
    std::size_t longest = 0;
    for (const Query::Word& w : words) longest = std::max(longest, w.terms[p] != nullptr ? w.terms[p]->postings.size() : 0);
    const bool lookups = check_scope && part.scope_slots * kLookupCost < longest;
    scope_slots.clear();
    if (lookups) part.index->ScopeSlots(*q->scope, &scope_slots);
    std::size_t next_scope_slot = 0;
    auto add = [&](std::size_t t, Posting posting, std::uint32_t lo) {
      if (q->filter != nullptr && !q->filter->Allowed(label_of[posting.slot()])) return;
      const std::uint32_t w = posting.slot() - lo;
      window[w] += q->Contribution(words[t], part, posting);
      present[w >> 6] |= std::uint64_t{1} << (w & 63);
      if (masks) found[w] |= std::uint64_t{1} << t;
    };
    // Once every term is non-essential, no chunk not yet in the heap can enter it.
    for (std::uint32_t lo = 0; lo < part_slots && essential < m; lo += kWindow) {
      const std::uint32_t hi = std::min<std::uint32_t>(lo + kWindow, part_slots);
      // The scope's slots in [lo, hi).
      const std::size_t scope_from = next_scope_slot;
      while (next_scope_slot < scope_slots.size() && scope_slots[next_scope_slot] < hi) ++next_scope_slot;
      if (lookups && scope_from == next_scope_slot) continue;  // nothing of the scope here
      // The essential words' postings in [lo, hi), permitted ones only, summed per slot.
      const std::size_t window_essential = essential;
      for (std::size_t t = window_essential; t < m; ++t) {
        if (words[t].terms[p] == nullptr) continue;
        PostingCursor& c = at[t];
        if (lookups && scope_slots.size() * kLookupCost < words[t].terms[p]->postings.size()) {
          for (std::size_t j = scope_from; j < next_scope_slot; ++j) {
            c.Seek(scope_slots[j]);
            if (c.done()) break;
            if (c.slot() == scope_slots[j]) add(t, *c, lo);
          }
        } else {
          for (c.Seek(lo); !c.done() && c.slot() < hi; c.Next()) {
            if (!check_scope || q->scope->Contains(container_of[c.slot()])) add(t, *c, lo);
          }
        }
      }
      bool any = false;
      for (std::size_t b = 0; b < (hi - lo + 63) / 64 && !any; ++b) any = present[b] != 0;
      if (!any) continue;
      const std::size_t bitmap_words = (hi - lo + 63) / 64;
      // The strongest non-essential words first, while each has few postings here against the
      // candidates: its postings in the window are read through and added to the candidates
      // among them, since reading a posting costs a fraction of probing the list for one
      // candidate. After each, the candidates that can no longer win are dropped.
      std::size_t probed = window_essential;  // words below this are probed per candidate
      std::size_t candidates = 0;
      for (std::size_t b = 0; b < bitmap_words; ++b) candidates += static_cast<std::size_t>(std::popcount(present[b]));
      while (probed > 0 && candidates > 0) {
        const std::size_t t = probed - 1;
        if (words[t].terms[p] != nullptr) {
          PostingCursor& c = at[t];
          c.Seek(lo);
          // More postings in the window than that: one look tells, without searching for the end.
          if (c.MoreBelow(kReadThrough * candidates, hi)) break;
          for (; !c.done() && c.slot() < hi; c.Next()) {
            const std::uint32_t w = c.slot() - lo;
            if ((present[w >> 6] >> (w & 63) & 1) != 0) {
              window[w] += q->Contribution(words[t], part, *c);
              if (masks) found[w] |= std::uint64_t{1} << t;
            }
          }
        }
        probed = t;
        if (heap.size() < k) continue;
        candidates = 0;
        for (std::size_t b = 0; b < bitmap_words; ++b) {
          for (std::uint64_t bits = present[b]; bits != 0; bits &= bits - 1) {
            const std::size_t w = b * 64 + static_cast<std::size_t>(std::countr_zero(bits));
            if (Beyond(threshold, window[w] + below[probed])) {
              present[b] &= ~(std::uint64_t{1} << (w & 63));
              window[w] = 0.0;
              found[w] = 0;
            } else {
              ++candidates;
            }
          }
        }
      }
      // Each candidate in slot order: the other non-essential words are probed, strongest
      // first, while the chunk can still beat the threshold.
      for (std::size_t b = 0; b < bitmap_words; ++b) {
        for (std::uint64_t bits = present[b]; bits != 0; bits &= bits - 1) {
          const auto w = static_cast<std::uint32_t>(b * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
          double score = window[w];
          window[w] = 0.0;
          std::uint64_t holds = found[w];
          found[w] = 0;
          const std::uint32_t slot = lo + w;
          bool out = false;
          for (std::size_t t = probed; t-- > 0;) {
            if (heap.size() == k && Beyond(threshold, score + below[t + 1])) {
              out = true;
              break;
            }
            if (words[t].terms[p] == nullptr) continue;
            PostingCursor& c = at[t];
            c.Seek(slot);
            if (!c.done() && c.slot() == slot) {
              score += q->Contribution(words[t], part, *c);
              if (masks) holds |= std::uint64_t{1} << t;
            }
          }
          if (out) continue;
          const Entry entry{static_cast<float>(score), part.base + slot, label_of[slot], holds};
          if (heap.size() < k) {
            heap.push_back(entry);
            std::push_heap(heap.begin(), heap.end(), better);
          } else if (better(entry, heap.front())) {
            std::pop_heap(heap.begin(), heap.end(), better);
            heap.back() = entry;
            std::push_heap(heap.begin(), heap.end(), better);
          } else {
            continue;
          }
          if (heap.size() == k) {
            threshold = heap.front().score;
            while (essential < m && Beyond(threshold, below[essential + 1])) ++essential;
          }
        }
        present[b] = 0;
      }
    }
  }
  std::vector<float>& scores = *q->scores;
  std::vector<std::uint32_t>& touched = *q->touched;
  for (const Entry& e : heap) {
    scores[e.s] = e.score;
    touched.push_back(e.s);
    if (masks) q->matched->emplace_back(e.s, e.matched);
  }
  if (masks) std::sort(q->matched->begin(), q->matched->end());
}

}  // namespace tide::index
