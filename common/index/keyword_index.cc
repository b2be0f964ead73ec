#include "common/index/keyword_index.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <map>

#include "common/coding.h"
#include "common/index/vector_index.h"

namespace tide::index {
namespace {

constexpr std::uint64_t kFormat = 1;

}  // namespace

std::string KeywordIndex::TermKey(Field field, std::string_view term) {
  std::string key;
  key.reserve(term.size() + 1);
  key.push_back(static_cast<char>('0' + static_cast<int>(field)));
  key.append(term);
  return key;
}

std::uint32_t KeywordIndex::AddSlot(std::uint64_t label, std::uint32_t container, std::uint32_t postings,
                                    const std::array<std::uint32_t, kNumFields>& length) {
  const auto slot = static_cast<std::uint32_t>(slots_.size());
  slots_.push_back({label, container, postings, length, true});
  slot_of_.emplace(label, slot);
  if (container >= containers_.size()) containers_.resize(container + 1);
  ContainerStats& stats = containers_[container];
  ++stats.chunks;
  for (int f = 0; f < kNumFields; ++f) stats.total_length[f] += length[f];
  live_postings_ += postings;
  return slot;
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
    for (const auto& [term, count] : tf[f]) postings_[TermKey(static_cast<Field>(f), term)].push_back({slot, count});
  }
}

bool KeywordIndex::Remove(std::uint64_t label) {
  auto it = slot_of_.find(label);
  if (it == slot_of_.end()) return false;
  Slot& slot = slots_[it->second];
  ContainerStats& stats = containers_[slot.container];
  --stats.chunks;
  for (int f = 0; f < kNumFields; ++f) stats.total_length[f] -= slot.length[f];
  live_postings_ -= slot.postings;
  dead_postings_ += slot.postings;
  slot.live = false;
  slot_of_.erase(it);
  if (dead_postings_ > 1024 && dead_postings_ > live_postings_) Compact();
  return true;
}

void KeywordIndex::Compact() {
  // Old slot -> new slot, in order, so that posting lists stay sorted.
  std::vector<std::uint32_t> renumber(slots_.size(), UINT32_MAX);
  std::vector<Slot> live;
  live.reserve(slot_of_.size());
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    if (!slots_[s].live) continue;
    renumber[s] = static_cast<std::uint32_t>(live.size());
    live.push_back(slots_[s]);
  }
  for (auto it = postings_.begin(); it != postings_.end();) {
    std::vector<Posting>& list = it->second;
    std::erase_if(list, [&](const Posting& p) { return renumber[p.slot] == UINT32_MAX; });
    if (list.empty()) {
      it = postings_.erase(it);
      continue;
    }
    for (Posting& p : list) p.slot = renumber[p.slot];
    list.shrink_to_fit();
    ++it;
  }
  slots_ = std::move(live);
  for (std::size_t s = 0; s < slots_.size(); ++s) slot_of_[slots_[s].label] = static_cast<std::uint32_t>(s);
  dead_postings_ = 0;
}

std::vector<KeywordHit> KeywordIndex::Search(Field field, const std::vector<std::string>& query_terms,
                                             std::size_t k, const ContainerSet& scope,
                                             const Bm25& params, const LabelFilter* filter) const {
  std::vector<KeywordHit> hits;
  if (k == 0 || scope.empty()) return hits;
  const int f = static_cast<int>(field);
  double n = 0;
  double total_length = 0;
  for (std::uint32_t c : scope.ordinals()) {
    if (c >= containers_.size()) continue;
    n += static_cast<double>(containers_[c].chunks);
    total_length += static_cast<double>(containers_[c].total_length[f]);
  }
  if (n == 0) return hits;
  const double avg_length = std::max(total_length / n, 1.0);
  auto permitted = [&](const Slot& s) { return s.live && scope.Contains(s.container); };

  // Query term frequency: a term repeated in the query counts more, as in Lucene.
  std::map<std::string_view, int> qtf;
  for (const std::string& t : query_terms) ++qtf[t];
  struct QueryTerm {
    std::string_view term;
    const std::vector<Posting>* list;
  };
  std::vector<QueryTerm> found;

  // Per-thread score accumulator over slots, reset through the list of touched slots, so a
  // search costs what its postings cost and not the size of the index.
  thread_local std::vector<float> scores;
  thread_local std::vector<std::uint32_t> touched;
  if (scores.size() < slots_.size()) scores.resize(slots_.size(), 0.0f);
  touched.clear();
  for (const auto& [term, count] : qtf) {
    auto it = postings_.find(TermKey(field, term));
    if (it == postings_.end()) continue;
    const std::vector<Posting>& list = it->second;
    // Document frequency within the scope: the statistics never see other containers.
    std::size_t df = 0;
    for (const Posting& p : list) df += permitted(slots_[p.slot]) ? 1 : 0;
    if (df == 0) continue;
    found.push_back({term, &list});
    const double idf = std::log(1.0 + (n - static_cast<double>(df) + 0.5) / (static_cast<double>(df) + 0.5));
    const double weight = count * idf * (params.k1 + 1.0);
    const double k1_base = params.k1 * (1.0 - params.b);
    const double k1_len = params.k1 * params.b / avg_length;
    for (const Posting& p : list) {
      const Slot& s = slots_[p.slot];
      if (!permitted(s)) continue;
      if (filter != nullptr && !filter->Allowed(s.label)) continue;
      const double tf = p.tf;
      if (scores[p.slot] == 0.0f) touched.push_back(p.slot);
      scores[p.slot] += static_cast<float>(weight * tf / (tf + k1_base + k1_len * s.length[f]));
    }
  }
  hits.reserve(touched.size());
  for (std::uint32_t slot : touched) {
    hits.push_back({slots_[slot].label, scores[slot], {}});
    scores[slot] = 0.0f;
  }
  auto better = [](const KeywordHit& a, const KeywordHit& b) {
    return a.score != b.score ? a.score > b.score : a.label < b.label;
  };
  if (hits.size() > k) {
    std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(k), hits.end(), better);
    hits.resize(k);
  } else {
    std::sort(hits.begin(), hits.end(), better);
  }
  // Matched terms only for the hits returned: a binary search in each term's sorted list.
  for (KeywordHit& h : hits) {
    const std::uint32_t slot = slot_of_.at(h.label);
    for (const QueryTerm& q : found) {
      auto it = std::lower_bound(q.list->begin(), q.list->end(), slot,
                                 [](const Posting& p, std::uint32_t s) { return p.slot < s; });
      if (it != q.list->end() && it->slot == slot) h.matched_terms.emplace_back(q.term);
    }
  }
  return hits;
}

void KeywordIndex::AppendTo(std::string* out) const {
  PutVarint(out, kFormat);
  PutVarint(out, slot_of_.size());
  for (const Slot& s : slots_) {
    if (!s.live) continue;
    PutVarint(out, s.label);
    PutVarint(out, s.container);
    PutVarint(out, s.postings);
    for (std::uint32_t len : s.length) PutVarint(out, len);
  }
  // Only live postings are written: a loaded index starts compacted. Postings name labels.
  std::size_t terms = 0;
  std::string body;
  for (const auto& [key, list] : postings_) {
    std::size_t live = 0;
    for (const Posting& p : list) live += slots_[p.slot].live ? 1 : 0;
    if (live == 0) continue;
    ++terms;
    PutBytes(&body, key);
    PutVarint(&body, live);
    for (const Posting& p : list) {
      if (!slots_[p.slot].live) continue;
      PutVarint(&body, slots_[p.slot].label);
      PutVarint(&body, p.tf);
    }
  }
  PutVarint(out, terms);
  out->append(body);
}

Status KeywordIndex::ParseFrom(std::string_view in) {
  Reader r(in);
  auto bad = [](const char* what) { return Status::Corruption(std::string("keyword index: ") + what); };
  std::uint64_t format = 0, nchunks = 0;
  if (!r.GetVarint(&format) || format != kFormat) return bad("unknown format");
  if (!r.GetVarint(&nchunks)) return bad("truncated chunk table");
  postings_.clear();
  slots_.clear();
  slot_of_.clear();
  containers_.clear();
  live_postings_ = dead_postings_ = 0;
  for (std::uint64_t i = 0; i < nchunks; ++i) {
    std::uint64_t label = 0, container = 0, postings = 0;
    std::array<std::uint32_t, kNumFields> length{};
    if (!r.GetVarint(&label) || !r.GetVarint(&container) || !r.GetVarint(&postings)) {
      return bad("truncated chunk");
    }
    for (std::uint32_t& len : length) {
      std::uint64_t v = 0;
      if (!r.GetVarint(&v)) return bad("truncated chunk lengths");
      len = static_cast<std::uint32_t>(v);
    }
    if (slot_of_.contains(label)) return bad("duplicate chunk");
    AddSlot(label, static_cast<std::uint32_t>(container), static_cast<std::uint32_t>(postings), length);
  }
  std::uint64_t nterms = 0;
  if (!r.GetVarint(&nterms)) return bad("truncated term count");
  for (std::uint64_t i = 0; i < nterms; ++i) {
    std::string_view key;
    std::uint64_t count = 0;
    if (!r.GetBytes(&key) || !r.GetVarint(&count)) return bad("truncated term");
    std::vector<Posting>& list = postings_[std::string(key)];
    list.reserve(count);
    for (std::uint64_t j = 0; j < count; ++j) {
      std::uint64_t label = 0, tf = 0;
      if (!r.GetVarint(&label) || !r.GetVarint(&tf)) return bad("truncated postings");
      auto slot = slot_of_.find(label);
      if (slot == slot_of_.end()) return bad("posting of an unknown chunk");
      list.push_back({slot->second, static_cast<std::uint32_t>(tf)});
    }
    // Files written before slots existed list postings in another order.
    if (!std::is_sorted(list.begin(), list.end(), [](const Posting& a, const Posting& b) { return a.slot < b.slot; })) {
      std::sort(list.begin(), list.end(), [](const Posting& a, const Posting& b) { return a.slot < b.slot; });
    }
  }
  if (!r.empty()) return bad("trailing bytes");
  return Status();
}

}  // namespace tide::index
