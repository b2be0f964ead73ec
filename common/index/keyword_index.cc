#include "common/index/keyword_index.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>

#include "common/coding.h"
#include "common/index/vector_index.h"

namespace tide::index {
namespace {


// Whether `threshold` (a k-th best score) is beyond `bound` (the most a chunk could reach).
// The margin covers float rounding in the summed scores, so pruning never changes the top k.
bool Beyond(double threshold, double bound) { return threshold > bound * (1.0 + 1e-4) + 1e-6; }

// Looking every scope chunk up in a posting list pays when that is far less work than reading
// the list: keyword_bench at 1M chunks (one field, top 10) measured the lookups ahead at a
// scope of 0.1 % of the chunks (335 against 242 q/s) and behind at 1 % (156 against 216),
// where max-score pruning reads only part of the lists.
constexpr std::size_t kLookupCost = 32;

// Posting lists are sorted by slot (a template because KeywordIndex::Posting is private).
constexpr auto BySlot = [](const auto& p, std::uint32_t s) { return p.slot < s; };

// The posting of `slot` in `list`, or null.
template <typename List>
const typename List::value_type* FindSlot(const List& list, std::uint32_t slot) {
  auto it = std::lower_bound(list.begin(), list.end(), slot, BySlot);
  return it != list.end() && it->slot == slot ? &*it : nullptr;
}

// First index at or after `from` whose slot is not below `slot`: exponential then binary
// search, so probing a long list for a few sorted slots costs O(log gap) each.
template <typename List>
std::size_t Gallop(const List& list, std::size_t from, std::uint32_t slot) {
  if (from >= list.size() || list[from].slot >= slot) return from;
  std::size_t step = 1;
  while (from + step < list.size() && list[from + step].slot < slot) {
    from += step;
    step *= 2;
  }
  auto first = list.begin() + static_cast<std::ptrdiff_t>(from + 1);
  auto last = list.begin() + static_cast<std::ptrdiff_t>(std::min(from + step + 1, list.size()));
  return static_cast<std::size_t>(std::lower_bound(first, last, slot, BySlot) - list.begin());
}

}  // namespace

KeywordIndex::KeywordIndex() = default;
KeywordIndex::~KeywordIndex() = default;

std::string KeywordIndex::TermKey(Field field, std::string_view term) {
  std::string key;
  key.reserve(term.size() + 1);
  key.push_back(static_cast<char>('0' + static_cast<int>(field)));
  key.append(term);
  return key;
}

std::uint32_t KeywordIndex::AddSlot(std::uint64_t label, std::uint32_t container, std::uint32_t postings,
                                    const std::array<std::uint32_t, kNumFields>& length) {
  const auto slot = static_cast<std::uint32_t>(slot_label_.size());
  slot_label_.push_back(label);
  slot_container_.push_back(container);
  slot_postings_.push_back(postings);
  for (int f = 0; f < kNumFields; ++f) slot_length_[f].push_back(length[f]);
  slot_of_.emplace(label, slot);
  if (container >= containers_.size()) containers_.resize(container + 1);
  ContainerStats& stats = containers_[container];
  ++stats.chunks;
  for (int f = 0; f < kNumFields; ++f) stats.total_length[f] += length[f];
  stats.slots.push_back(slot);
  live_postings_ += postings;
  return slot;
}

void KeywordIndex::AppendPosting(Term* term, std::uint32_t slot, std::uint32_t tf) {
  term->postings.push_back({slot, tf});
  term->max_tf = std::max(term->max_tf, tf);
  if (term->df != nullptr) {
    ++term->df->CountOf(slot_container_[slot]);
  } else if (Countable(*term)) {
    CountContainers(term);
  }
}

bool KeywordIndex::Countable(const Term& term) const {
  return term.postings.size() >= std::max(kCountedListLength, containers_.size());
}

void KeywordIndex::CountContainers(Term* term) {
  if (term->df == nullptr) term->df = std::make_unique<DocFrequencies>();
  DocFrequencies& df = *term->df;
  df.by_container.clear();
  for (const Posting& p : term->postings) {
    const std::uint32_t c = slot_container_[p.slot];
    if (c != kRemoved) ++df.CountOf(c);
  }
  df.settled = removed_.size();
}

void KeywordIndex::Add(std::uint64_t label, std::uint32_t container, const FieldTerms& terms) {
  std::array<std::map<std::string_view, std::uint32_t>, kNumFields> tf;
  std::array<std::uint32_t, kNumFields> length{};
  std::uint32_t postings = 0;
  for (int f = 0; f < kNumFields; ++f) {
    for (const std::string& t : terms[f]) ++tf[f][t];
    length[f] = static_cast<std::uint32_t>(terms[f].size());
    postings += static_cast<std::uint32_t>(tf[f].size());
  }
  const std::uint32_t slot = AddSlot(label, container, postings, length);
  for (int f = 0; f < kNumFields; ++f) {
    for (const auto& [term, count] : tf[f]) {
      AppendPosting(&terms_[TermKey(static_cast<Field>(f), term)], slot, count);
    }
  }
}

bool KeywordIndex::Remove(std::uint64_t label) {
  auto it = slot_of_.find(label);
  if (it == slot_of_.end()) return false;
  const std::uint32_t slot = it->second;
  const std::uint32_t container = slot_container_[slot];
  ContainerStats& stats = containers_[container];
  --stats.chunks;
  for (int f = 0; f < kNumFields; ++f) stats.total_length[f] -= slot_length_[f][slot];
  live_postings_ -= slot_postings_[slot];
  dead_postings_ += slot_postings_[slot];
  slot_container_[slot] = kRemoved;
  removed_.emplace_back(slot, container);
  slot_of_.erase(it);
  if (dead_postings_ > 1024 && dead_postings_ > live_postings_) Compact();
  return true;
}

void KeywordIndex::Compact() {
  // Old slot -> new slot, in order, so that posting lists stay sorted.
  std::vector<std::uint32_t> renumber(slot_label_.size(), kRemoved);
  std::uint32_t next = 0;
  for (std::size_t s = 0; s < slot_label_.size(); ++s) {
    if (slot_container_[s] == kRemoved) continue;
    renumber[s] = next;
    slot_label_[next] = slot_label_[s];
    slot_container_[next] = slot_container_[s];
    slot_postings_[next] = slot_postings_[s];
    for (int f = 0; f < kNumFields; ++f) slot_length_[f][next] = slot_length_[f][s];
    ++next;
  }
  slot_label_.resize(next);
  slot_container_.resize(next);
  slot_postings_.resize(next);
  for (int f = 0; f < kNumFields; ++f) slot_length_[f].resize(next);
  for (ContainerStats& stats : containers_) stats.slots.clear();
  for (std::uint32_t slot = 0; slot < next; ++slot) containers_[slot_container_[slot]].slots.push_back(slot);
  removed_.clear();
  for (auto it = terms_.begin(); it != terms_.end();) {
    Term& term = it->second;
    std::erase_if(term.postings, [&](const Posting& p) { return renumber[p.slot] == kRemoved; });
    if (term.postings.empty()) {
      it = terms_.erase(it);
      continue;
    }
    term.max_tf = 0;
    for (Posting& p : term.postings) {
      p.slot = renumber[p.slot];
      term.max_tf = std::max(term.max_tf, p.tf);
    }
    term.postings.shrink_to_fit();
    if (Countable(term)) {
      CountContainers(&term);
    } else {
      term.df.reset();
    }
    ++it;
  }
  for (std::size_t s = 0; s < slot_label_.size(); ++s) slot_of_[slot_label_[s]] = static_cast<std::uint32_t>(s);
  dead_postings_ = 0;
}

std::size_t KeywordIndex::counted_terms() const {
  return static_cast<std::size_t>(
      std::count_if(terms_.begin(), terms_.end(), [](const auto& entry) { return entry.second.df != nullptr; }));
}

std::size_t KeywordIndex::DocFrequency(Field field, std::string_view term, const ContainerSet& scope) const {
  auto it = terms_.find(TermKey(field, term));
  return it == terms_.end() ? 0 : ScopedDocFrequency(it->second, scope);
}

bool KeywordIndex::InScope(Field field, std::string_view term, const ContainerSet& scope) const {
  auto it = terms_.find(TermKey(field, term));
  if (it == terms_.end()) return false;
  if (it->second.df != nullptr) return ScopedDocFrequency(it->second, scope) > 0;
  for (const Posting& p : it->second.postings) {
    if (scope.Contains(slot_container_[p.slot])) return true;  // removed slots are in no scope
  }
  return false;
}

std::size_t KeywordIndex::ScopedDocFrequency(const Term& term, const ContainerSet& scope) const {
  std::size_t df = 0;
  if (term.df == nullptr) {
    for (const Posting& p : term.postings) df += scope.Contains(slot_container_[p.slot]) ? 1 : 0;
    return df;
  }
  DocFrequencies& counts = *term.df;
  std::lock_guard lock(counts.mu);
  // Removals since this term was last read: each is in the list or not (binary search).
  for (; counts.settled < removed_.size(); ++counts.settled) {
    const auto [slot, container] = removed_[counts.settled];
    if (FindSlot(term.postings, slot) != nullptr) --counts.CountOf(container);
  }
  const std::vector<std::uint32_t>& by_container = counts.by_container;
  if (scope.ordinals().size() < by_container.size()) {
    for (std::uint32_t c : scope.ordinals()) df += c < by_container.size() ? by_container[c] : 0;
  } else {
    for (std::uint32_t c = 0; c < by_container.size(); ++c) df += scope.Contains(c) ? by_container[c] : 0;
  }
  return df;
}

// One search's state, shared by the two strategies. The indexes searched together (the
// segments of KeywordSegments, or one index) are its parts; a chunk is known by a search slot,
// its slot in its part plus the part's base, so one accumulator serves them all.
struct KeywordIndex::Query {
  struct Part {
    const KeywordIndex* index;
    std::uint32_t base;                // the search slot of its slot 0
    bool whole_index;                  // every slot is live and in the scope: no container check
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
  double k1_plus_1, k1_base, k1_len;  // k1 + 1, k1 (1 - b), k1 b / average length
  double n;                           // live chunks in the scope, over the parts
  std::vector<Part> parts;
  std::vector<Word> words;            // the strategies drop those with df 0
  std::vector<float>* scores;         // by search slot, all 0 between searches
  std::vector<std::uint32_t>* touched;

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
  // The range of `sorted` (search slots, ascending) that lies in part `p`.
  std::pair<std::size_t, std::size_t> RangeOf(const std::vector<std::uint32_t>& sorted, std::size_t p) const {
    const std::uint32_t end = p + 1 < parts.size() ? parts[p + 1].base : UINT32_MAX;
    auto first = std::lower_bound(sorted.begin(), sorted.end(), parts[p].base);
    auto last = std::lower_bound(first, sorted.end(), end);
    return {static_cast<std::size_t>(first - sorted.begin()), static_cast<std::size_t>(last - sorted.begin())};
  }
  void SetStatistics(Word* w, double df) const {
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    w->weight = w->count * idf * k1_plus_1;
    // tf / (tf + k1_base + k1_len * length) grows with tf, and length >= tf.
    const double tf = w->max_tf;
    w->bound = w->weight * tf / (tf + k1_base + k1_len * tf);
  }
  float Contribution(const Word& w, const Part& part, const Posting& p) const {
    const double tf = p.tf;
    return static_cast<float>(w.weight * tf / (tf + k1_base + k1_len * part.length_of[p.slot]));
  }
};

std::vector<KeywordHit> KeywordIndex::Search(Field field, const std::vector<std::string>& query_terms,
                                             std::size_t k, const ContainerSet& scope,
                                             const Bm25& params, const LabelFilter* filter,
                                             const std::vector<float>* term_weights) const {
  return SearchSegments({this}, field, query_terms, k, scope, params, filter, term_weights);
}

std::vector<KeywordHit> KeywordIndex::SearchSegments(const std::vector<const KeywordIndex*>& segments, Field field,
                                                     const std::vector<std::string>& query_terms, std::size_t k,
                                                     const ContainerSet& scope, const Bm25& params,
                                                     const LabelFilter* filter,
                                                     const std::vector<float>* term_weights) {
  std::vector<KeywordHit> hits;
  if (k == 0 || scope.empty() || segments.empty()) return hits;
  Query q;
  q.field = static_cast<int>(field);
  q.k = k;
  q.scope = &scope;
  q.filter = filter;
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
    q.parts.push_back({segment, static_cast<std::uint32_t>(slots), whole, segment->slot_length_[q.field].data(),
                       segment->slot_container_.data()});
    slots += segment->slot_label_.size();
  }
  if (q.n == 0) return hits;
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
  if (scope_slots * q.words.size() * kLookupCost < postings) {
    ScoreScopeChunks(&q);
  } else {
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
  // Matched terms only for the hits returned, in query-term order: each list is galloped
  // through once for the hits' slots in ascending order.
  std::vector<std::size_t> by_slot(hits.size());
  for (std::size_t i = 0; i < by_slot.size(); ++i) by_slot[i] = i;
  std::sort(by_slot.begin(), by_slot.end(), [&](std::size_t a, std::size_t b) { return ranked[a].second < ranked[b].second; });
  std::sort(q.words.begin(), q.words.end(), [](const Query::Word& a, const Query::Word& b) { return a.text < b.text; });
  for (const Query::Word& w : q.words) {
    std::size_t part = SIZE_MAX, at = 0;
    for (std::size_t i : by_slot) {
      const std::size_t p = q.PartOf(ranked[i].second);
      if (p != part) part = p, at = 0;
      if (w.terms[p] == nullptr) continue;
      const std::vector<Posting>& list = w.terms[p]->postings;
      const std::uint32_t slot = ranked[i].second - q.parts[p].base;
      at = Gallop(list, at, slot);
      if (at < list.size() && list[at].slot == slot) hits[i].matched_terms.emplace_back(w.text);
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
  std::vector<float>& scores = *q->scores;
  thread_local std::vector<std::pair<std::size_t, const Posting*>> matches;  // (part, posting)
  for (Query::Word& w : q->words) {
    matches.clear();
    for (std::size_t p = 0; p < q->parts.size(); ++p) {
      if (w.terms[p] == nullptr) continue;
      const std::vector<Posting>& list = w.terms[p]->postings;
      const std::uint32_t base = q->parts[p].base;
      std::size_t at = 0;
      for (std::size_t i = first[p]; i < first[p + 1]; ++i) {
        const std::uint32_t slot = candidates[i] - base;
        at = Gallop(list, at, slot);
        if (at == list.size()) break;
        if (list[at].slot == slot) matches.emplace_back(p, &list[at]);
      }
    }
    if (matches.empty()) continue;  // weight stays 0: not in the scope
    q->SetStatistics(&w, static_cast<double>(matches.size()));
    for (const auto& [p, posting] : matches) {
      const Query::Part& part = q->parts[p];
      // The filter narrows what may be returned, not the statistics.
      if (q->filter != nullptr && !q->filter->Allowed(part.index->slot_label_[posting->slot])) continue;
      scores[part.base + posting->slot] += q->Contribution(w, part, *posting);
    }
  }
  std::erase_if(q->words, [](const Query::Word& w) { return w.weight == 0; });
  std::erase_if(candidates, [&](std::uint32_t s) { return scores[s] == 0.0f; });
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
  std::sort(words.begin(), words.end(), [](const Query::Word& a, const Query::Word& b) {
    return a.bound != b.bound ? a.bound > b.bound : a.postings < b.postings;
  });
  // remaining[i]: the most words i.. can still add to a chunk.
  std::vector<double> remaining(words.size() + 1, 0.0);
  for (std::size_t i = words.size(); i-- > 0;) remaining[i] = remaining[i + 1] + words[i].bound;

  const std::size_t k = q->k;
  std::vector<float>& scores = *q->scores;
  std::vector<std::uint32_t>& touched = *q->touched;
  thread_local std::vector<std::pair<float, std::uint32_t>> best;
  // The k best candidates by the score so far (the first k entries of `best`).
  // REQUIRES: touched.size() >= k.
  auto select_best = [&]() {
    best.clear();
    for (std::uint32_t s : touched) best.emplace_back(scores[s], s);
    std::nth_element(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(k - 1), best.end(),
                     std::greater<>());
  };
  // A lower bound for the final k-th best score: the k-th best exact score found so far. A
  // candidate's exact score (its score so far plus words `next`.. found by binary search)
  // never changes, so each is computed once, for the candidates leading when a check runs.
  // Far tighter than partial scores, so the switch to probing comes early.
  thread_local std::vector<std::uint8_t> exact_known;  // by search slot
  thread_local std::vector<std::uint32_t> exact_slots;  // where exact_known is set, to reset
  if (exact_known.size() < scores.size()) exact_known.resize(scores.size(), 0);
  std::vector<double> known;  // min-heap of the k best exact scores
  auto kth_exact = [&](std::size_t next) {
    select_best();
    for (std::size_t j = 0; j < k; ++j) {
      const std::uint32_t s = best[j].second;
      if (exact_known[s] != 0) continue;
      double score = best[j].first;
      const std::size_t p = q->PartOf(s);
      const Query::Part& part = q->parts[p];
      for (std::size_t t = next; t < words.size(); ++t) {
        if (words[t].terms[p] == nullptr) continue;
        if (const Posting* posting = FindSlot(words[t].terms[p]->postings, s - part.base)) {
          score += q->Contribution(words[t], part, *posting);
        }
      }
      exact_known[s] = 1;
      exact_slots.push_back(s);
      if (known.size() < k) {
        known.push_back(score);
        std::push_heap(known.begin(), known.end(), std::greater<>());
      } else if (score > known.front()) {
        std::pop_heap(known.begin(), known.end(), std::greater<>());
        known.back() = score;
        std::push_heap(known.begin(), known.end(), std::greater<>());
      }
    }
    return known.size() == k ? known.front() : 0.0;
  };
  // Drops candidates that cannot reach the k-th best score even with every remaining word.
  auto prune = [&](double threshold, double still_to_add) {
    std::erase_if(touched, [&](std::uint32_t s) {
      if (!Beyond(threshold, scores[s] + still_to_add)) return false;
      scores[s] = 0.0f;
      return true;
    });
  };

  // Phase 1 scores every permitted posting. Once the k-th best score beats what the
  // remaining words could add to a chunk not yet seen, phase 2 only probes the remaining
  // lists for the candidates (kept sorted by search slot).
  bool probing = false;
  double threshold = 0;  // never above the final k-th best score
  for (std::size_t i = 0; i < words.size(); ++i) {
    const Query::Word& w = words[i];
    // The check costs a pass over the candidates: worth it when the lists are not shorter.
    if (!probing && touched.size() >= k && w.postings * 2 >= touched.size()) {
      threshold = std::max(threshold, kth_exact(i));
      if (Beyond(threshold, remaining[i])) {
        probing = true;
        prune(threshold, remaining[i]);
        std::sort(touched.begin(), touched.end());
      }
    }
    if (!probing) {
      for (std::size_t p = 0; p < q->parts.size(); ++p) {
        if (w.terms[p] == nullptr) continue;
        const Query::Part& part = q->parts[p];
        const std::uint64_t* label_of = part.index->slot_label_.data();
        const std::uint32_t* container_of = part.container_of;
        const std::uint32_t base = part.base;
        const bool check_scope = !part.whole_index;
        for (const Posting& posting : w.terms[p]->postings) {
          if (check_scope && !q->scope->Contains(container_of[posting.slot])) continue;
          if (q->filter != nullptr && !q->filter->Allowed(label_of[posting.slot])) continue;
          const std::uint32_t s = base + posting.slot;
          if (scores[s] == 0.0f) touched.push_back(s);
          scores[s] += q->Contribution(w, part, posting);
        }
      }
      continue;
    }
    for (std::size_t p = 0; p < q->parts.size(); ++p) {
      if (w.terms[p] == nullptr) continue;
      const Query::Part& part = q->parts[p];
      const std::vector<Posting>& list = w.terms[p]->postings;
      const auto [from, to] = q->RangeOf(touched, p);
      std::size_t at = 0;
      for (std::size_t c = from; c < to; ++c) {
        at = Gallop(list, at, touched[c] - part.base);
        if (at == list.size()) break;
        if (list[at].slot == touched[c] - part.base) scores[touched[c]] += q->Contribution(w, part, list[at]);
      }
    }
    if (touched.size() > k) {
      select_best();
      threshold = std::max<double>(threshold, best[k - 1].first);
    }
    if (threshold > 0) prune(threshold, remaining[i + 1]);
  }
  for (std::uint32_t s : exact_slots) exact_known[s] = 0;
  exact_slots.clear();
}

void KeywordIndex::ScopeSlots(const ContainerSet& scope, std::vector<std::uint32_t>* out) const {
  const std::size_t first = out->size();
  for (std::uint32_t c : scope.ordinals()) {
    if (c >= containers_.size()) continue;
    for (std::uint32_t slot : containers_[c].slots) {
      if (slot_container_[slot] == c) out->push_back(slot);
    }
  }
  std::sort(out->begin() + static_cast<std::ptrdiff_t>(first), out->end());
}

std::vector<std::uint64_t> KeywordIndex::Labels() const {
  std::vector<std::uint64_t> labels;
  labels.reserve(slot_of_.size());
  for (const auto& [label, slot] : slot_of_) labels.push_back(label);
  std::sort(labels.begin(), labels.end());
  return labels;
}

}  // namespace tide::index
