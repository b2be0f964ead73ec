#include "common/index/keyword_index.h"

#include <algorithm>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>

namespace tide::index {

KeywordIndex::KeywordIndex() = default;
KeywordIndex::~KeywordIndex() = default;

std::string KeywordIndex::TermKey(Field field, std::string_view term) {
  std::string key;
  key.reserve(term.size() + 1);
  key.push_back(FieldPrefix(field));
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

void KeywordIndex::KeepWideTf(Term* term, std::uint32_t slot, std::uint32_t tf) {
  if (term->wide_tf == nullptr) term->wide_tf = std::make_unique<WideTfs>();
  (*term->wide_tf)[slot] = tf;
}

void KeywordIndex::AppendPosting(Term* term, std::uint32_t slot, std::uint32_t tf) {
  term->postings.Append(NewPosting(term, slot, tf));
  term->max_tf = std::max(term->max_tf, tf);
  if (term->long_list != nullptr) {
    ++term->long_list->CountOf(slot_container_[slot]);
  } else if (Countable(*term)) {
    CountContainers(term);
  }
}

bool KeywordIndex::Countable(const Term& term) const {
  return term.postings.size() >= std::max(kCountedListLength, containers_.size());
}

void KeywordIndex::CountContainers(Term* term) {
  if (term->long_list == nullptr) term->long_list = std::make_unique<LongList>();
  LongList& list = *term->long_list;
  list.by_container.clear();
  PostingCursor cursor;
  for (cursor.Reset(term->postings); !cursor.done(); cursor.Next()) {
    const std::uint32_t c = slot_container_[cursor.slot()];
    if (c != kRemoved) ++list.CountOf(c);
  }
  list.settled = removed_.size();
}

void KeywordIndex::ShrinkToFit() {
  for (auto& [key, term] : terms_) term.postings.ShrinkToFit();
}

void KeywordIndex::Add(std::uint64_t label, std::uint32_t container, const FieldTerms& terms) {
  if (slot_label_.size() >= kMaxSlots) {
    if (!removed_.empty()) Compact();
    if (slot_label_.size() >= kMaxSlots) {
      throw std::length_error("keyword index: " + std::to_string(kMaxSlots) + " live chunks, the most an index holds");
    }
  }
  std::array<std::uint32_t, kNumFields> length{};
  for (int f = 0; f < kNumFields; ++f) length[f] = static_cast<std::uint32_t>(terms[f].size());
  const std::uint32_t slot = AddSlot(label, container, /*postings=*/0, length);  // counted below
  // Each occurrence is looked up: a term whose list already ends at this slot was seen before
  // in this field, so its frequency goes up, else it gets a posting. (Sorting the terms to
  // count runs cost more than the repeated lookups, which find the table's slot in cache.)
  std::uint32_t postings = 0;
  std::string key;  // TermKey's form, built in place: one buffer for every lookup
  for (int f = 0; f < kNumFields; ++f) {
    for (const std::string& text : terms[f]) {
      key.assign(1, FieldPrefix(static_cast<Field>(f)));
      key.append(text);
      Term& term = terms_[key];
      // A posting of this slot was appended by this call, so it is in the list's tail.
      if (Posting* last = term.postings.last_in_tail(); last != nullptr && last->slot() == slot) {
        const std::uint32_t tf = TfOf(term, *last) + 1;
        SetTf(&term, last, tf);
        term.max_tf = std::max(term.max_tf, tf);
      } else {
        AppendPosting(&term, slot, 1);
        ++postings;
      }
    }
  }
  slot_postings_[slot] = postings;
  live_postings_ += postings;
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
    std::vector<Posting> list = term.postings.ToVector();
    std::erase_if(list, [&](const Posting& p) { return renumber[p.slot()] == kRemoved; });
    if (list.empty()) {
      terms_.erase(it++);  // a Swiss table's erase moves nothing
      continue;
    }
    term.max_tf = 0;
    const std::unique_ptr<WideTfs> wide = std::move(term.wide_tf);  // by the old slots
    for (Posting& p : list) {
      const std::uint32_t old_slot = p.slot();
      const std::uint32_t tf = p.tf() != kWideTf ? p.tf() : wide->at(old_slot);
      p.set_slot(renumber[p.slot()]);
      if (p.tf() == kWideTf) SetTf(&term, &p, tf);  // by the new
      term.max_tf = std::max(term.max_tf, tf);
    }
    term.postings.Assign(list);
    if (Countable(term)) {
      CountContainers(&term);
    } else {
      term.long_list.reset();
    }
    ++it;
  }
  for (std::size_t s = 0; s < slot_label_.size(); ++s) slot_of_[slot_label_[s]] = static_cast<std::uint32_t>(s);
  dead_postings_ = 0;
}

std::size_t KeywordIndex::counted_terms() const {
  return static_cast<std::size_t>(
      std::count_if(terms_.begin(), terms_.end(), [](const auto& entry) { return entry.second.long_list != nullptr; }));
}

std::size_t KeywordIndex::DocFrequency(Field field, std::string_view term, const ContainerSet& scope) const {
  auto it = terms_.find(TermKey(field, term));
  return it == terms_.end() ? 0 : ScopedDocFrequency(it->second, scope);
}

bool KeywordIndex::InScope(Field field, std::string_view term, const ContainerSet& scope) const {
  auto it = terms_.find(TermKey(field, term));
  if (it == terms_.end()) return false;
  if (it->second.long_list != nullptr) return ScopedDocFrequency(it->second, scope) > 0;
  PostingCursor cursor;
  for (cursor.Reset(it->second.postings); !cursor.done(); cursor.Next()) {
    if (scope.Contains(slot_container_[cursor.slot()])) return true;  // removed slots are in no scope
  }
  return false;
}

std::size_t KeywordIndex::ScopedDocFrequency(const Term& term, const ContainerSet& scope) const {
  std::size_t df = 0;
  PostingCursor cursor;
  if (term.long_list == nullptr) {
    for (cursor.Reset(term.postings); !cursor.done(); cursor.Next()) df += scope.Contains(slot_container_[cursor.slot()]) ? 1 : 0;
    return df;
  }
  LongList& counts = *term.long_list;
  std::lock_guard lock(counts.mu);
  // Removals since this term was last read: each is in the list or not. They are in the order
  // they were removed, so the cursor starts over for each one below the last.
  for (std::uint32_t last = UINT32_MAX; counts.settled < removed_.size(); ++counts.settled) {
    const auto [slot, container] = removed_[counts.settled];
    if (slot < last) cursor.Reset(term.postings);
    last = slot;
    cursor.Seek(slot);
    if (!cursor.done() && cursor.slot() == slot) --counts.CountOf(container);
  }
  const std::vector<std::uint32_t>& by_container = counts.by_container;
  if (scope.ordinals().size() < by_container.size()) {
    for (std::uint32_t c : scope.ordinals()) df += c < by_container.size() ? by_container[c] : 0;
  } else {
    for (std::uint32_t c = 0; c < by_container.size(); ++c) df += scope.Contains(c) ? by_container[c] : 0;
  }
  return df;
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
