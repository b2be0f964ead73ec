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

// One search's state, shared by the two strategies.
struct KeywordIndex::Query {
  struct Word {  // a distinct query term the index holds
    std::string_view text;
    const Term* term;
    double count;       // its query weight: how often the query repeats it (as in Lucene), times weights
    double df;          // in the scope over every segment (Across), or -1: counted here
    double weight = 0;  // count * idf * (k1 + 1), once the scope's df is known
    double bound = 0;   // the most it can add to one chunk's score
  };
  int field;
  std::size_t k;
  const ContainerSet* scope;
  bool whole_index;  // every slot is live and in the scope: no container check per posting
  const LabelFilter* filter;
  double k1_plus_1, k1_base, k1_len;  // k1 + 1, k1 (1 - b), k1 b / average length
  double n;                           // live chunks in the scope
  double floor;                       // Across::floor: a lower bound of the k-th best score
  std::vector<Word> words;            // the strategies drop those with df 0
  const std::uint32_t* length_of;     // the field's length by slot
  std::vector<float>* scores;         // by slot, all 0 between searches
  std::vector<std::uint32_t>* touched;

  void SetStatistics(Word* w, double df) const {
    const double idf = std::log(1.0 + (n - df + 0.5) / (df + 0.5));
    w->weight = w->count * idf * k1_plus_1;
    // tf / (tf + k1_base + k1_len * length) grows with tf, and length >= tf.
    const double tf = w->term->max_tf;
    w->bound = w->weight * tf / (tf + k1_base + k1_len * tf);
  }
  float Contribution(const Word& w, const Posting& p) const {
    const double tf = p.tf;
    return static_cast<float>(w.weight * tf / (tf + k1_base + k1_len * length_of[p.slot]));
  }
};

std::vector<KeywordHit> KeywordIndex::Search(Field field, const std::vector<std::string>& query_terms,
                                             std::size_t k, const ContainerSet& scope,
                                             const Bm25& params, const LabelFilter* filter,
                                             const std::vector<float>* term_weights,
                                             const Across* across) const {
  std::vector<KeywordHit> hits;
  if (k == 0 || scope.empty()) return hits;
  Query q;
  q.field = static_cast<int>(field);
  q.k = k;
  q.scope = &scope;
  q.filter = filter;
  q.floor = across != nullptr ? across->floor : 0.0;
  const Statistics* statistics = across != nullptr ? across->statistics : nullptr;
  double total_length = 0;
  q.n = 0;
  std::size_t scope_slots = 0;
  for (std::uint32_t c : scope.ordinals()) {
    if (c >= containers_.size()) continue;
    q.n += static_cast<double>(containers_[c].chunks);
    total_length += static_cast<double>(containers_[c].total_length[q.field]);
    scope_slots += containers_[c].slots.size();
  }
  if (q.n == 0) return hits;
  if (statistics != nullptr) {  // those of every segment
    q.n = statistics->chunks;
    total_length = statistics->total_length;
  }
  // Container slot lists hold removed slots until compaction, which is when removed_ empties.
  q.whole_index = removed_.empty() && scope_slots == slot_label_.size();
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
    auto it = terms_.find(TermKey(field, text));
    if (it == terms_.end()) continue;
    double df = -1;
    if (statistics != nullptr) {
      auto found = statistics->doc_frequency.find(text);
      df = found != statistics->doc_frequency.end() ? found->second : 0.0;
    }
    q.words.push_back({text, &it->second, count, df});
    postings += it->second.postings.size();
  }
  if (q.words.empty()) return hits;

  // Per-thread score accumulator over slots, reset through the list of touched slots, so a
  // search costs what it reads and not the size of the index.
  thread_local std::vector<float> scores;
  thread_local std::vector<std::uint32_t> touched;
  if (scores.size() < slot_label_.size()) scores.resize(slot_label_.size(), 0.0f);
  touched.clear();
  q.scores = &scores;
  q.touched = &touched;
  q.length_of = slot_length_[q.field].data();
  if (scope_slots * q.words.size() * kLookupCost < postings) {
    ScoreScopeChunks(&q);
  } else {
    ScoreByPostings(&q);
  }

  // The top k by score, ties by label; each hit's slot is kept beside it for the matched terms.
  thread_local std::vector<std::pair<float, std::uint32_t>> ranked;
  ranked.clear();
  for (std::uint32_t slot : touched) {
    ranked.emplace_back(scores[slot], slot);
    scores[slot] = 0.0f;
  }
  auto better = [&](const std::pair<float, std::uint32_t>& a, const std::pair<float, std::uint32_t>& b) {
    return a.first != b.first ? a.first > b.first : slot_label_[a.second] < slot_label_[b.second];
  };
  const auto top = static_cast<std::ptrdiff_t>(std::min(k, ranked.size()));
  std::partial_sort(ranked.begin(), ranked.begin() + top, ranked.end(), better);
  ranked.resize(static_cast<std::size_t>(top));
  hits.reserve(ranked.size());
  for (const auto& [score, slot] : ranked) hits.push_back({slot_label_[slot], score, {}, slot_length_[q.field][slot]});
  // Matched terms only for the hits returned, in query-term order: each list is galloped
  // through once for the hits' slots in ascending order.
  std::vector<std::size_t> by_slot(hits.size());
  for (std::size_t i = 0; i < by_slot.size(); ++i) by_slot[i] = i;
  std::sort(by_slot.begin(), by_slot.end(), [&](std::size_t a, std::size_t b) { return ranked[a].second < ranked[b].second; });
  std::sort(q.words.begin(), q.words.end(), [](const Query::Word& a, const Query::Word& b) { return a.text < b.text; });
  for (const Query::Word& w : q.words) {
    const std::vector<Posting>& list = w.term->postings;
    std::size_t at = 0;
    for (std::size_t i : by_slot) {
      at = Gallop(list, at, ranked[i].second);
      if (at == list.size()) break;
      if (list[at].slot == ranked[i].second) hits[i].matched_terms.emplace_back(w.text);
    }
  }
  return hits;
}

void KeywordIndex::ScoreScopeChunks(Query* q) const {
  // The scope's live chunks, ascending: each is looked up in every list, which also counts
  // the scope's document frequency exactly.
  std::vector<std::uint32_t>& candidates = *q->touched;
  ScopeSlots(*q->scope, &candidates);
  std::vector<float>& scores = *q->scores;
  thread_local std::vector<const Posting*> matches;
  for (Query::Word& w : q->words) {
    const std::vector<Posting>& list = w.term->postings;
    matches.clear();
    std::size_t at = 0;
    for (std::uint32_t slot : candidates) {
      at = Gallop(list, at, slot);
      if (at == list.size()) break;
      if (list[at].slot == slot) matches.push_back(&list[at]);
    }
    if (matches.empty()) continue;  // weight stays 0: not in the scope
    q->SetStatistics(&w, w.df >= 0 ? w.df : static_cast<double>(matches.size()));
    for (const Posting* p : matches) {
      // The filter narrows what may be returned, not the statistics.
      if (q->filter != nullptr && !q->filter->Allowed(slot_label_[p->slot])) continue;
      scores[p->slot] += q->Contribution(w, *p);
    }
  }
  std::erase_if(q->words, [](const Query::Word& w) { return w.weight == 0; });
  std::erase_if(candidates, [&](std::uint32_t slot) { return scores[slot] == 0.0f; });
}

void KeywordIndex::ScoreByPostings(Query* q) const {
  // Document frequency within the scope: the statistics never see other containers.
  for (Query::Word& w : q->words) {
    const double df = w.df >= 0 ? w.df : static_cast<double>(ScopedDocFrequency(*w.term, *q->scope));
    if (df > 0) q->SetStatistics(&w, df);  // else weight stays 0
  }
  std::erase_if(q->words, [](const Query::Word& w) { return w.weight == 0; });
  std::vector<Query::Word>& words = q->words;
  std::sort(words.begin(), words.end(), [](const Query::Word& a, const Query::Word& b) {
    return a.bound != b.bound ? a.bound > b.bound : a.term->postings.size() < b.term->postings.size();
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
    for (std::uint32_t slot : touched) best.emplace_back(scores[slot], slot);
    std::nth_element(best.begin(), best.begin() + static_cast<std::ptrdiff_t>(k - 1), best.end(),
                     std::greater<>());
  };
  // A lower bound for the final k-th best score: the k-th best exact score found so far. A
  // candidate's exact score (its score so far plus words `next`.. found by binary search)
  // never changes, so each is computed once, for the candidates leading when a check runs.
  // Far tighter than partial scores, so the switch to probing comes early.
  thread_local std::vector<std::uint8_t> exact_known;  // by slot
  thread_local std::vector<std::uint32_t> exact_slots;  // where exact_known is set, to reset
  if (exact_known.size() < scores.size()) exact_known.resize(scores.size(), 0);
  std::vector<double> known;  // min-heap of the k best exact scores
  auto kth_exact = [&](std::size_t next) {
    select_best();
    for (std::size_t j = 0; j < k; ++j) {
      const std::uint32_t slot = best[j].second;
      if (exact_known[slot] != 0) continue;
      double score = best[j].first;
      for (std::size_t t = next; t < words.size(); ++t) {
        if (const Posting* p = FindSlot(words[t].term->postings, slot)) score += q->Contribution(words[t], *p);
      }
      exact_known[slot] = 1;
      exact_slots.push_back(slot);
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
    std::erase_if(touched, [&](std::uint32_t slot) {
      if (!Beyond(threshold, scores[slot] + still_to_add)) return false;
      scores[slot] = 0.0f;
      return true;
    });
  };

  // Phase 1 scores every permitted posting. Once the k-th best score beats what the
  // remaining words could add to a chunk not yet seen, phase 2 only probes the remaining
  // lists for the candidates (kept sorted by slot).
  const std::uint32_t* container_of = slot_container_.data();
  bool probing = false;
  double threshold = q->floor;  // never above the final k-th best score
  for (std::size_t i = 0; i < words.size(); ++i) {
    const Query::Word& w = words[i];
    const std::vector<Posting>& list = w.term->postings;
    // The check costs a pass over the candidates: worth it when the list is not shorter.
    if (!probing && (touched.size() >= k || threshold > 0) && list.size() * 2 >= touched.size()) {
      if (touched.size() >= k) threshold = std::max(threshold, kth_exact(i));
      if (Beyond(threshold, remaining[i])) {
        probing = true;
        prune(threshold, remaining[i]);
        std::sort(touched.begin(), touched.end());
      }
    }
    if (!probing) {
      for (const Posting& p : list) {
        if (!q->whole_index && !q->scope->Contains(container_of[p.slot])) continue;
        if (q->filter != nullptr && !q->filter->Allowed(slot_label_[p.slot])) continue;
        if (scores[p.slot] == 0.0f) touched.push_back(p.slot);
        scores[p.slot] += q->Contribution(w, p);
      }
      continue;
    }
    std::size_t at = 0;
    for (std::uint32_t slot : touched) {
      at = Gallop(list, at, slot);
      if (at == list.size()) break;
      if (list[at].slot == slot) scores[slot] += q->Contribution(w, list[at]);
    }
    if (touched.size() > k) {
      select_best();
      threshold = std::max<double>(threshold, best[k - 1].first);
    }
    if (threshold > 0) prune(threshold, remaining[i + 1]);
  }
  for (std::uint32_t slot : exact_slots) exact_known[slot] = 0;
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

void KeywordIndex::AddStatistics(Field field, const std::vector<std::string>& query_terms,
                                 const ContainerSet& scope, Statistics* statistics) const {
  const int f = static_cast<int>(field);
  double n = 0, total_length = 0;
  std::size_t scope_slots = 0;
  for (std::uint32_t c : scope.ordinals()) {
    if (c >= containers_.size()) continue;
    n += static_cast<double>(containers_[c].chunks);
    total_length += static_cast<double>(containers_[c].total_length[f]);
    scope_slots += containers_[c].slots.size();
  }
  statistics->chunks += n;
  statistics->total_length += total_length;
  std::vector<std::uint32_t> slots;  // the scope's, once a term is counted by looking them up
  bool have_slots = false;
  std::vector<std::string_view> seen;
  for (const std::string& text : query_terms) {
    if (std::find(seen.begin(), seen.end(), text) != seen.end()) continue;  // a repeated term counts once
    seen.push_back(text);
    auto entry = statistics->doc_frequency.try_emplace(text, 0.0).first;
    if (n == 0) continue;
    auto it = terms_.find(TermKey(field, text));
    if (it == terms_.end()) continue;
    const Term& term = it->second;
    if (term.df != nullptr || scope_slots * kLookupCost >= term.postings.size()) {
      entry->second += static_cast<double>(ScopedDocFrequency(term, scope));
      continue;
    }
    if (!have_slots) {
      ScopeSlots(scope, &slots);
      have_slots = true;
    }
    std::size_t at = 0, df = 0;
    for (std::uint32_t slot : slots) {
      at = Gallop(term.postings, at, slot);
      if (at == term.postings.size()) break;
      df += term.postings[at].slot == slot ? 1 : 0;
    }
    entry->second += static_cast<double>(df);
  }
}

std::vector<std::uint64_t> KeywordIndex::Labels() const {
  std::vector<std::uint64_t> labels;
  labels.reserve(slot_of_.size());
  for (const auto& [label, slot] : slot_of_) labels.push_back(label);
  std::sort(labels.begin(), labels.end());
  return labels;
}

}  // namespace tide::index
