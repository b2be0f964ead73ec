#pragma once

// KeywordIndex's posting lists: a posting (a slot and a term frequency in one word), a list
// that no longer changes packed in blocks, and a cursor that reads either kind in slot order.

#include <array>
#include <cassert>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace tide::index {

// Four bytes: a slot in the low 24 bits, a term frequency in the high 8. A frequency from
// kWideTf up is kept beside the list (KeywordIndex::Term::wide_tf) and the posting says
// kWideTf. One word, set whole: a bit-field set in place is read first, and on a page not yet
// written that read maps the zero page, so the write after it faults again and flushes every
// core's TLB (decoding a snapshot's postings took twice as long that way).
class Posting {
 public:
  Posting() = default;
  // REQUIRES: slot <= kSlotMask, tf <= kMaxTf (callers keep both).
  Posting(std::uint32_t slot, std::uint32_t tf) : word_(slot | tf << kSlotBits) {
    assert(slot <= kSlotMask && tf <= kMaxTf);
  }
  std::uint32_t slot() const { return word_ & kSlotMask; }
  std::uint32_t tf() const { return word_ >> kSlotBits; }
  void set_slot(std::uint32_t slot) {
    assert(slot <= kSlotMask);
    word_ = (word_ & ~kSlotMask) | slot;
  }

  static constexpr int kSlotBits = 24;
  static constexpr std::uint32_t kSlotMask = (std::uint32_t{1} << kSlotBits) - 1;
  static constexpr std::uint32_t kMaxTf = UINT32_MAX >> kSlotBits;  // 255

 private:
  std::uint32_t word_;
};
static_assert(sizeof(Posting) == 4);

// A posting list that no longer changes (a sealed segment's), in about a byte and a half a
// posting instead of four. Blocks of kBlock postings, each holding its slot gaps and its
// term frequencies bit-packed at the narrowest width that fits that block (frame of reference,
// the scheme of Lucene's block postings). Each block's first slot and where its bytes start are
// kept beside the blocks, so a cursor finds the block holding a slot without decoding the
// ones before, and decodes one block at a time. One allocation; empty() when default-made.
class PackedPostings {
 public:
  static constexpr std::size_t kBlock = 128;

  PackedPostings() = default;
  // REQUIRES: `list` is not empty, and its slots are increasing.
  explicit PackedPostings(std::span<const Posting> list);

  bool empty() const { return words_ == nullptr; }
  std::size_t size() const { return words_[0]; }
  std::size_t blocks() const { return words_[1]; }
  // The first slot of each block, blocks() of them, increasing.
  const std::uint32_t* first_slots() const { return words_.get() + kHeaderWords; }
  // Decodes block `b` (< blocks()) into `out`, which has room for kBlock; returns how many
  // postings it holds (kBlock, but the last block may hold fewer).
  std::size_t Decode(std::size_t b, Posting* out) const;
  std::vector<Posting> Unpack() const;
  // Heap bytes it holds.
  std::size_t bytes() const;

 private:
  static constexpr std::size_t kHeaderWords = 2;  // size, blocks
  // Where block `b`'s bytes start, from data().
  std::uint32_t offset(std::size_t b) const { return words_[kHeaderWords + blocks() + b]; }
  const std::uint8_t* data() const {
    return reinterpret_cast<const std::uint8_t*>(words_.get() + kHeaderWords + 2 * blocks());
  }

  // [size][blocks][first slot x blocks][offset x blocks][the blocks' bytes, then 8 bytes of
  // padding so that a 64-bit load at any bit of them stays inside]. A block's bytes: its gap
  // width, its frequency width, its smallest frequency (a byte each), then the gaps less one
  // (n - 1 of them), then each frequency less the smallest, packed back to back.
  std::unique_ptr<std::uint32_t[]> words_;
};

// Reads a posting list in slot order, forward only: a plain vector of postings (the growing
// segment's, with the skips KeywordIndex keeps for long lists) or a packed list, a block at a
// time. Not copyable: it may point into its own block buffer.
class PostingCursor {
 public:
  PostingCursor() = default;  // at the end of nothing
  PostingCursor(const PostingCursor&) = delete;
  PostingCursor& operator=(const PostingCursor&) = delete;

  // Over `list`; `skips` (may be null) holds the slot of every `skip_every`-th posting.
  void Reset(std::span<const Posting> list, const std::vector<std::uint32_t>* skips, std::size_t skip_every);
  void Reset(const PackedPostings* packed);

  bool done() const { return cur_ == end_; }
  // REQUIRES: !done().
  const Posting& operator*() const { return *cur_; }
  std::uint32_t slot() const { return cur_->slot(); }
  void Next() {
    if (++cur_ == end_ && packed_ != nullptr) NextBlock();
  }
  // Moves to the first posting from here on whose slot is not below `slot` (stays if this
  // one's is not).
  void Seek(std::uint32_t slot) {
    if (cur_ != end_ && cur_->slot() < slot) SeekAhead(slot);
  }
  // Whether the list has more than `n` postings from here on below slot `hi`: exact for a
  // plain list; for a packed one, whether the block holding the n-th from here starts below
  // `hi` (a guess for deciding how to read the list, never for what it holds).
  bool MoreBelow(std::size_t n, std::uint32_t hi) const;

 private:
  void SeekAhead(std::uint32_t slot);
  void NextBlock();
  // Decodes block `b` and stands at its start.
  void Load(std::size_t b);

  const Posting* cur_ = nullptr;
  const Posting* end_ = nullptr;
  // A plain list.
  const Posting* begin_ = nullptr;
  const std::vector<std::uint32_t>* skips_ = nullptr;
  std::size_t skip_every_ = 0;
  // A packed one.
  const PackedPostings* packed_ = nullptr;
  std::size_t block_ = 0;
  std::array<Posting, PackedPostings::kBlock> buffer_;
};

}  // namespace tide::index
