#pragma once

// KeywordIndex's posting lists: a posting (a slot and a term frequency in one word), a list
// kept packed in blocks but for its last few postings, and a cursor that reads a list in slot
// order.

#include <array>
#include <cassert>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

namespace tide::index {

// Four bytes: a slot in the low 24 bits, a term frequency in the high 8. A frequency from
// kMaxTf up is kept beside the list (KeywordIndex::Term::wide_tf) and the posting says kMaxTf.
// One word, set whole: a bit-field set in place is read first, and on a page not yet written
// that read maps the zero page, so the write after it faults again and flushes every core's
// TLB (decoding a snapshot's postings took twice as long that way).
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

// A posting list, sorted by slot, in about a byte and a half a posting instead of four. Every
// kBlock postings make a block, which holds its slot gaps and its term frequencies bit-packed
// at the narrowest widths that fit that block (frame of reference, the scheme of Lucene's block
// postings); the postings after the last block stay plain in a tail, where adds go: up to
// kBlock of them, packed when the next one comes, so the last posting added can still change. Beside the blocks, each one's first
// slot and where its bytes start: a cursor finds the block holding a slot without decoding the
// ones before, and decodes one block at a time.
class PostingList {
 public:
  static constexpr std::size_t kBlock = 128;

  PostingList() = default;
  PostingList(PostingList&&) noexcept = default;
  PostingList& operator=(PostingList&&) noexcept = default;

  std::size_t size() const { return blocks() * kBlock + tail_.size(); }
  bool empty() const { return tail_.empty() && blocks() == 0; }
  // The last posting if it is in the tail, else null (the tail is empty after Assign of a
  // multiple of kBlock). Whatever Append added last is there: adds set its frequency.
  Posting* last_in_tail() { return tail_.empty() ? nullptr : &tail_.back(); }
  // REQUIRES: `p`'s slot is above every slot in the list.
  void Append(Posting p) {
    if (tail_.size() == kBlock) PackTail();
    tail_.push_back(p);
  }
  // Replaces the postings with `list` (sorted by slot, slots distinct).
  void Assign(std::span<const Posting> list);
  std::vector<Posting> ToVector() const;
  // Frees the room kept for adds (for a list that takes no more: a sealed segment's).
  void ShrinkToFit();
  // Heap bytes it holds.
  std::size_t bytes() const;

 private:
  friend class PostingCursor;
  struct Blocks {
    std::vector<std::uint32_t> first;   // each block's first slot
    std::vector<std::uint32_t> offset;  // where each block's bytes start in `data`
    // Each block: its gap width, its frequency width and its smallest frequency (a byte each),
    // then its 127 gaps less one and its 128 frequencies less the smallest, packed back to
    // back. Then kPadding zero bytes, so that a 64-bit load at any bit of a block stays inside.
    std::vector<std::uint8_t> data;
  };
  static constexpr std::size_t kPadding = 8;

  std::size_t blocks() const { return blocks_ == nullptr ? 0 : blocks_->first.size(); }
  // Encodes the tail (kBlock postings) as a block and empties it.
  void PackTail();
  // Encodes `block` (kBlock postings) at the end of blocks_.
  void AppendBlock(std::span<const Posting> block);

  std::unique_ptr<Blocks> blocks_;  // null while there are none
  std::vector<Posting> tail_;
};

namespace postings_internal {
// The `width`-bit value at bit `bit` of `in`. REQUIRES: width <= 24, and 8 readable bytes from
// in + bit / 8 (PostingList keeps padding after its last block).
inline std::uint32_t GetBits(const std::uint8_t* in, std::size_t bit, unsigned width) {
  std::uint64_t word;
  std::memcpy(&word, in + bit / 8, sizeof(word));
  return static_cast<std::uint32_t>((word >> (bit % 8)) & ((std::uint64_t{1} << width) - 1));
}
}  // namespace postings_internal

// Reads a PostingList in slot order, forward only. A block's slots are decoded as far as the
// reader goes, a few at a time, and a frequency only when asked for: a seek that lands in a
// block decodes the gaps up to it, not the whole block. Not copyable.
class PostingCursor {
 public:
  PostingCursor() = default;  // at the end of nothing
  PostingCursor(const PostingCursor&) = delete;
  PostingCursor& operator=(const PostingCursor&) = delete;

  // At the start of `list`, which must outlive the cursor's use and not change meanwhile.
  void Reset(const PostingList& list);

  bool done() const { return pos_ == end_; }
  // REQUIRES: !done().
  std::uint32_t slot() const { return slots_[pos_]; }
  std::uint32_t tf() const {
    if (tail_ != nullptr) return tail_[pos_].tf();
    return min_tf_ + postings_internal::GetBits(bits_, tf_bit_ + pos_ * tf_width_, tf_width_);
  }
  Posting operator*() const { return Posting(slot(), tf()); }
  void Next() {
    if (++pos_ == decoded_) Advance();
  }
  // Moves to the first posting from here on whose slot is not below `slot` (stays if this
  // one's is not).
  void Seek(std::uint32_t slot) {
    if (pos_ != end_ && slots_[pos_] < slot) SeekAhead(slot);
  }
  // Whether the list has more than `n` postings from here on below slot `hi`: exact within
  // the block in hand and the tail; past them, whether the block holding the n-th from here
  // starts below `hi` (a guess for deciding how to read the list, never for what it holds).
  bool MoreBelow(std::size_t n, std::uint32_t hi);

 private:
  static constexpr std::size_t kBlock = PostingList::kBlock;
  void SeekAhead(std::uint32_t slot);
  // pos_ reached decoded_: decodes more of the block, or moves to the next run, or is done.
  void Advance();
  // Decodes the block's slots up to `count` (<= kBlock).
  void DecodeTo(std::size_t count);
  // The next block, or the tail after the last; done after the tail.
  void NextRun();
  // Stands at the start of block `b`, or of the tail.
  void Load(std::size_t b);
  void EnterTail();

  std::size_t pos_ = 0;      // in the run in hand (a block or the tail)
  std::size_t decoded_ = 0;  // slots_[0, decoded_) are known
  std::size_t end_ = 0;      // the run's length
  const PostingList* list_ = nullptr;
  std::size_t block_ = 0;    // the block in hand; blocks() once in the tail
  // The block in hand: its bits, widths and smallest frequency; null in the tail.
  const std::uint8_t* bits_ = nullptr;
  unsigned gap_width_ = 0;
  unsigned tf_width_ = 0;
  std::uint32_t min_tf_ = 0;
  std::size_t tf_bit_ = 0;  // where its frequencies start
  const Posting* tail_ = nullptr;  // in the tail: its postings (their slots copied to slots_)
  std::array<std::uint32_t, kBlock> slots_;
};

}  // namespace tide::index
