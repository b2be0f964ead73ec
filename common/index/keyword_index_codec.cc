// KeywordIndex's file format (docs/storage-format.md, "Keyword index"): what a snapshot's
// tables.bin ends with and each sealed segment's kw-<id>.bin holds.
#include <algorithm>

#include "common/coding.h"
#include "common/index/keyword_index.h"

namespace tide::index {
namespace {

// 1: postings name chunk labels. 2: postings name chunk positions in the file's chunk
// table, delta-coded (no label lookups on load).
constexpr std::uint64_t kFormatLabels = 1;
constexpr std::uint64_t kFormat = 2;

// Appends varints through a raw pointer into room made beforehand: the snapshot's copy-out
// encodes tens of millions of postings while the indexer waits, so no per-byte capacity check.
char* RawVarint(char* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

}  // namespace

void KeywordIndex::AppendTo(std::string* out) const {
  constexpr std::size_t kMaxVarint32 = 5;
  PutVarint(out, kFormat);
  PutVarint(out, slot_of_.size());
  // Only live chunks and postings are written: a loaded index starts compacted, and a
  // posting names its chunk by position in this table. With nothing removed since the last
  // compaction the positions are the slots.
  const bool compacted = removed_.empty() && slot_of_.size() == slot_label_.size();
  std::vector<std::uint32_t> position;
  if (!compacted) position.assign(slot_label_.size(), kRemoved);
  auto position_of = [&](std::uint32_t slot) { return compacted ? slot : position[slot]; };
  out->reserve(out->size() + slot_of_.size() * 8 + live_postings_ * 3 + terms_.size() * 16);
  std::uint32_t next = 0;
  for (std::size_t s = 0; s < slot_label_.size(); ++s) {
    if (slot_container_[s] == kRemoved) continue;
    if (!compacted) position[s] = next;
    ++next;
    PutVarint(out, slot_label_[s]);
    PutVarint(out, slot_container_[s]);
    PutVarint(out, slot_postings_[s]);
    for (int f = 0; f < kNumFields; ++f) PutVarint(out, slot_length_[f][s]);
  }
  // The number of terms with a live posting comes first.
  PostingCursor cursor;
  auto live_postings = [&](const Term& term) -> std::size_t {
    if (compacted) return term.postings.size();
    std::size_t live = 0;
    for (cursor.Reset(term.postings); !cursor.done(); cursor.Next()) live += position[cursor.slot()] != kRemoved ? 1 : 0;
    return live;
  };
  std::vector<std::pair<const std::string*, const Term*>> written;
  written.reserve(terms_.size());
  for (const auto& [key, term] : terms_) {
    if (live_postings(term) > 0) written.emplace_back(&key, &term);
  }
  PutVarint(out, written.size());
  for (const auto& [key, term] : written) {
    PutBytes(out, *key);
    PutVarint(out, live_postings(*term));
    // Room for every posting at its longest, trimmed after.
    const std::size_t at = out->size();
    out->resize(at + term->postings.size() * 2 * kMaxVarint32);
    char* p = out->data() + at;
    std::uint32_t previous = 0;
    for (cursor.Reset(term->postings); !cursor.done(); cursor.Next()) {
      const Posting& posting = *cursor;
      const std::uint32_t pos = position_of(posting.slot());
      if (pos == kRemoved) continue;
      p = RawVarint(p, pos - previous);  // increasing: the first is itself
      previous = pos;
      p = RawVarint(p, TfOf(*term, posting));
    }
    out->resize(static_cast<std::size_t>(p - out->data()));
  }
}

Status KeywordIndex::ParseFrom(std::string_view in) {
  Reader r(in);
  auto bad = [](const char* what) { return Status::Corruption(std::string("keyword index: ") + what); };
  std::uint64_t format = 0, nchunks = 0;
  if (!r.GetVarint(&format) || (format != kFormat && format != kFormatLabels)) return bad("unknown format");
  // A chunk's entry takes a byte at least for each of its label, container, postings count
  // and field lengths: a count beyond that is damage, and must not size the tables.
  if (!r.GetVarint(&nchunks) || nchunks > in.size() / (3 + kNumFields)) return bad("truncated chunk table");
  // Not damage: a segment written without the limit (segment_max_chunks 0 before it). The
  // snapshot is skipped, not counted as corrupt, and the indexes come from the store.
  if (nchunks > kMaxSlots) {
    return Status::InvalidArgument("keyword index: " + std::to_string(nchunks) + " chunks in one segment, more than " +
                                   std::to_string(kMaxSlots) + " (a segment written before the limit)");
  }
  terms_.clear();
  slot_label_.clear();
  slot_container_.clear();
  slot_postings_.clear();
  for (auto& lengths : slot_length_) lengths.clear();
  slot_of_.clear();
  containers_.clear();
  removed_.clear();
  live_postings_ = dead_postings_ = 0;
  // Sized once: growing them a doubling at a time rehashed the label table a dozen times.
  slot_label_.reserve(nchunks);
  slot_container_.reserve(nchunks);
  slot_postings_.reserve(nchunks);
  for (auto& lengths : slot_length_) lengths.reserve(nchunks);
  slot_of_.reserve(nchunks);
  for (std::uint64_t i = 0; i < nchunks; ++i) {
    std::uint64_t label = 0, container = 0, postings = 0;
    std::array<std::uint32_t, kNumFields> length{};
    if (!r.GetVarint(&label) || !r.GetVarint(&container) || !r.GetVarint(&postings)) {
      return bad("truncated chunk");
    }
    if (container >= kRemoved) return bad("container ordinal out of range");
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
  // Each term takes at least two bytes (its key's length and its postings count): a count
  // beyond that is damage, and must not size the table.
  if (nterms > in.size() / 2) return bad("more terms than the bytes can hold");
  terms_.reserve(nterms);
  auto by_slot = [](const Posting& a, const Posting& b) { return a.slot() < b.slot(); };
  std::vector<Posting> postings;  // each term's, decoded here, then packed into the term
  for (std::uint64_t i = 0; i < nterms; ++i) {
    std::string_view key;
    std::uint64_t count = 0;
    if (!r.GetBytes(&key) || !r.GetVarint(&count)) return bad("truncated term");
    if (count > nchunks) return bad("more postings than chunks");
    auto [entry, inserted] = terms_.try_emplace(std::string(key));
    if (!inserted) return bad("duplicate term");
    Term& term = entry->second;
    postings.clear();
    postings.reserve(count);
    std::uint64_t position = 0;
    for (std::uint64_t j = 0; j < count; ++j) {
      std::uint64_t ref = 0, tf = 0;
      if (!r.GetVarint(&ref) || !r.GetVarint(&tf)) return bad("truncated postings");
      std::uint32_t slot = 0;
      if (format == kFormatLabels) {
        auto found = slot_of_.find(ref);
        if (found == slot_of_.end()) return bad("posting of an unknown chunk");
        slot = found->second;
      } else {
        if (j > 0 && ref == 0) return bad("postings out of order");
        if (ref >= nchunks || (position += ref) >= nchunks) return bad("posting of an unknown chunk");
        slot = static_cast<std::uint32_t>(position);
      }
      const auto kept = static_cast<std::uint32_t>(std::min<std::uint64_t>(tf, UINT32_MAX));
      postings.push_back(NewPosting(&term, slot, kept));
      term.max_tf = std::max(term.max_tf, kept);
    }
    // Format 1 files written before slots existed list postings in another order; format 2
    // positions are checked increasing above.
    if (format == kFormatLabels) {
      if (!std::is_sorted(postings.begin(), postings.end(), by_slot)) std::sort(postings.begin(), postings.end(), by_slot);
      auto same = [](const Posting& a, const Posting& b) { return a.slot() == b.slot(); };
      if (std::adjacent_find(postings.begin(), postings.end(), same) != postings.end()) {
        return bad("a chunk listed twice in a term's postings");
      }
    }
    term.postings.Assign(postings);
    if (Countable(term)) CountContainers(&term);
  }
  if (!r.empty()) return bad("trailing bytes");
  return Status();
}

Result<std::vector<std::uint64_t>> KeywordIndex::ParseLabels(std::string_view in) {
  Reader r(in);
  auto bad = [](const char* what) { return Status::Corruption(std::string("keyword index: ") + what); };
  std::uint64_t format = 0, nchunks = 0;
  if (!r.GetVarint(&format) || (format != kFormat && format != kFormatLabels)) return bad("unknown format");
  if (!r.GetVarint(&nchunks) || nchunks > in.size()) return bad("truncated chunk table");
  std::vector<std::uint64_t> labels;
  labels.reserve(nchunks);
  for (std::uint64_t i = 0; i < nchunks; ++i) {
    std::uint64_t label = 0, skip = 0;
    if (!r.GetVarint(&label)) return bad("truncated chunk");
    for (int v = 0; v < 2 + kNumFields; ++v) {  // container, postings, the field lengths
      if (!r.GetVarint(&skip)) return bad("truncated chunk");
    }
    labels.push_back(label);
  }
  std::sort(labels.begin(), labels.end());
  if (std::adjacent_find(labels.begin(), labels.end()) != labels.end()) return bad("duplicate chunk");
  return labels;
}

}  // namespace tide::index
