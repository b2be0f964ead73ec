#include "common/index/postings.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

namespace tide::index {
namespace {

using postings_internal::GetBits;

constexpr std::size_t kBlockHeader = 3;  // gap width, frequency width, smallest frequency

// Bits needed for `v` (0 for 0).
unsigned Width(std::uint32_t v) { return static_cast<unsigned>(std::bit_width(v)); }

// Writes values of a given width into room made beforehand, least significant bit first.
class BitWriter {
 public:
  explicit BitWriter(std::uint8_t* out) : out_(out) {}
  // REQUIRES: width <= 24, v < 2^width.
  void Put(std::uint32_t v, unsigned width) {
    acc_ |= std::uint64_t{v} << fill_;
    fill_ += width;
    while (fill_ >= 8) {
      *out_++ = static_cast<std::uint8_t>(acc_);
      acc_ >>= 8;
      fill_ -= 8;
    }
  }
  // Writes the last partial byte; returns the end.
  std::uint8_t* Finish() {
    if (fill_ > 0) *out_++ = static_cast<std::uint8_t>(acc_);
    return out_;
  }

 private:
  std::uint8_t* out_;
  std::uint64_t acc_ = 0;
  unsigned fill_ = 0;
};

struct BlockShape {
  unsigned gap_width = 0;
  unsigned tf_width = 0;
  std::uint32_t min_tf = 0;
  std::size_t bytes = 0;  // header included
};

BlockShape ShapeOf(std::span<const Posting> block) {
  std::uint32_t max_gap = 0;
  std::uint32_t min_tf = block[0].tf(), max_tf = block[0].tf();
  for (std::size_t j = 1; j < block.size(); ++j) {
    max_gap = std::max(max_gap, block[j].slot() - block[j - 1].slot() - 1);
    min_tf = std::min(min_tf, block[j].tf());
    max_tf = std::max(max_tf, block[j].tf());
  }
  BlockShape shape;
  shape.gap_width = Width(max_gap);
  shape.min_tf = min_tf;
  shape.tf_width = Width(max_tf - min_tf);
  const std::size_t bits = (block.size() - 1) * shape.gap_width + block.size() * shape.tf_width;
  shape.bytes = kBlockHeader + (bits + 7) / 8;
  return shape;
}

// Slots [from, to) of a block, from slots[from - 1] and the gaps (less one) of W bits at `in`
// (gap j at bit (j - 1) * W). The width is a template argument so that the shift and mask are
// constants.
template <unsigned W>
void UnpackSlots(const std::uint8_t* in, std::size_t from, std::size_t to, std::uint32_t* slots) {
  std::uint32_t slot = slots[from - 1];
  for (std::size_t j = from; j < to; ++j) {
    if constexpr (W == 0) {  // consecutive slots: a common word in every chunk of a run
      slot += 1;
    } else {
      slot += GetBits(in, (j - 1) * W, W) + 1;
    }
    slots[j] = slot;
  }
}

template <std::size_t... W>
constexpr auto SlotUnpackers(std::index_sequence<W...>) {
  return std::array<void (*)(const std::uint8_t*, std::size_t, std::size_t, std::uint32_t*), sizeof...(W)>{
      &UnpackSlots<W>...};
}
// By width, up to the 24 bits of a slot.
constexpr auto kUnpackSlots = SlotUnpackers(std::make_index_sequence<Posting::kSlotBits + 1>());

// Slots a cursor decodes at a time: a seek decodes about half this past where it lands.
constexpr std::size_t kDecodeStep = 16;

}  // namespace

void PostingList::AppendBlock(std::span<const Posting> block) {
  assert(block.size() == kBlock);
  if (blocks_ == nullptr) blocks_ = std::make_unique<Blocks>();
  Blocks& b = *blocks_;
  const BlockShape shape = ShapeOf(block);
  if (!b.data.empty()) b.data.resize(b.data.size() - kPadding);  // the new block goes there
  const std::size_t at = b.data.size();
  b.first.push_back(block[0].slot());
  b.offset.push_back(static_cast<std::uint32_t>(at));
  b.data.resize(at + shape.bytes + kPadding, 0);
  std::uint8_t* out = b.data.data() + at;
  out[0] = static_cast<std::uint8_t>(shape.gap_width);
  out[1] = static_cast<std::uint8_t>(shape.tf_width);
  out[2] = static_cast<std::uint8_t>(shape.min_tf);
  BitWriter bits(out + kBlockHeader);
  for (std::size_t j = 1; j < block.size(); ++j) bits.Put(block[j].slot() - block[j - 1].slot() - 1, shape.gap_width);
  for (const Posting& p : block) bits.Put(p.tf() - shape.min_tf, shape.tf_width);
  [[maybe_unused]] const std::uint8_t* end = bits.Finish();
  assert(static_cast<std::size_t>(end - out) == shape.bytes);
}

void PostingList::PackTail() {
  AppendBlock(tail_);
  tail_.clear();
}

void PostingList::Assign(std::span<const Posting> list) {
  assert(std::adjacent_find(list.begin(), list.end(), [](const Posting& a, const Posting& b) {
           return a.slot() >= b.slot();
         }) == list.end());
  blocks_.reset();
  const std::size_t full = list.size() / kBlock;
  if (full > 0) {
    // Sized once, exactly.
    std::size_t data = kPadding;
    for (std::size_t b = 0; b < full; ++b) data += ShapeOf(list.subspan(b * kBlock, kBlock)).bytes;
    blocks_ = std::make_unique<Blocks>();
    blocks_->first.reserve(full);
    blocks_->offset.reserve(full);
    blocks_->data.reserve(data);
    for (std::size_t b = 0; b < full; ++b) AppendBlock(list.subspan(b * kBlock, kBlock));
  }
  const std::span<const Posting> rest = list.subspan(full * kBlock);
  std::vector<Posting>(rest.begin(), rest.end()).swap(tail_);
}

std::vector<Posting> PostingList::ToVector() const {
  std::vector<Posting> list;
  list.reserve(size());
  PostingCursor cursor;
  for (cursor.Reset(*this); !cursor.done(); cursor.Next()) list.push_back(*cursor);
  return list;
}

void PostingList::ShrinkToFit() {
  tail_.shrink_to_fit();
  if (blocks_ == nullptr) return;
  blocks_->first.shrink_to_fit();
  blocks_->offset.shrink_to_fit();
  blocks_->data.shrink_to_fit();
}

std::size_t PostingList::bytes() const {
  std::size_t bytes = tail_.capacity() * sizeof(Posting);
  if (blocks_ != nullptr) {
    bytes += sizeof(Blocks) + (blocks_->first.capacity() + blocks_->offset.capacity()) * sizeof(std::uint32_t) +
             blocks_->data.capacity();
  }
  return bytes;
}

void PostingCursor::Reset(const PostingList& list) {
  list_ = &list;
  if (list.blocks() > 0) {
    Load(0);
  } else {
    EnterTail();
  }
}

void PostingCursor::Load(std::size_t b) {
  const PostingList::Blocks& blocks = *list_->blocks_;
  block_ = b;
  const std::uint8_t* in = blocks.data.data() + blocks.offset[b];
  gap_width_ = in[0];
  tf_width_ = in[1];
  min_tf_ = in[2];
  assert(gap_width_ < kUnpackSlots.size() && tf_width_ <= 32 - Posting::kSlotBits);
  bits_ = in + kBlockHeader;
  tf_bit_ = (kBlock - 1) * gap_width_;
  tail_ = nullptr;
  slots_[0] = blocks.first[b];
  pos_ = 0;
  decoded_ = 1;
  end_ = kBlock;
}

void PostingCursor::EnterTail() {
  block_ = list_->blocks();
  bits_ = nullptr;
  tail_ = list_->tail_.data();
  end_ = decoded_ = list_->tail_.size();
  for (std::size_t j = 0; j < end_; ++j) slots_[j] = tail_[j].slot();
  pos_ = 0;
}

void PostingCursor::DecodeTo(std::size_t count) {
  assert(tail_ == nullptr && decoded_ < count && count <= kBlock);
  kUnpackSlots[gap_width_](bits_, decoded_, count, slots_.data());
  decoded_ = count;
}

void PostingCursor::Advance() {
  if (decoded_ < end_) {
    DecodeTo(end_);  // read through: the rest of the block at once
  } else if (tail_ == nullptr) {
    NextRun();
  }  // else past the tail: done
}

void PostingCursor::NextRun() {
  if (block_ + 1 < list_->blocks()) {
    Load(block_ + 1);
  } else {
    EnterTail();
  }
}

void PostingCursor::SeekAhead(std::uint32_t slot) {
  for (;;) {
    // slots_[pos_] is below `slot`.
    if (tail_ == nullptr) {
      // The slot the run after this block starts at, if there is one; this block's are below it.
      const std::size_t blocks = list_->blocks();
      std::uint32_t next = UINT32_MAX;
      if (block_ + 1 < blocks) {
        next = list_->blocks_->first[block_ + 1];
      } else if (!list_->tail_.empty()) {
        next = list_->tail_.front().slot();
      }
      if (next > slot) {
        // This block holds it, or else the next run's first posting is the answer.
        while (slots_[decoded_ - 1] < slot && decoded_ < end_) DecodeTo(std::min(decoded_ + kDecodeStep, end_));
        if (slots_[decoded_ - 1] < slot) {
          NextRun();
          return;
        }
      } else if (block_ + 1 < blocks) {
        // Past this block: the last block starting at or below `slot` may hold it (found by
        // the blocks' first slots, short steps first).
        const std::uint32_t* first = list_->blocks_->first.data();
        const std::uint32_t* from = first + block_ + 1;  // at or below `slot`
        const std::uint32_t* last = first + blocks;
        std::size_t step = 1;
        while (from + step < last && from[step] <= slot) {
          from += step;
          step *= 2;
        }
        Load(static_cast<std::size_t>(std::upper_bound(from, std::min(from + step + 1, last), slot) - first) - 1);
        if (slots_[0] >= slot) return;
        continue;
      } else {
        EnterTail();
        if (done() || slots_[0] >= slot) return;
        continue;
      }
    } else if (slots_[end_ - 1] < slot) {  // the tail, all of it below `slot`
      pos_ = end_;
      return;
    }
    // In slots_[pos_, decoded_): short steps first, doubling (most seeks land a few postings
    // on), then a binary search.
    const std::uint32_t* at = slots_.data() + pos_;
    const std::uint32_t* last = slots_.data() + decoded_;
    std::size_t step = 1;
    while (at + step < last && at[step] < slot) {
      at += step;
      step *= 2;
    }
    pos_ = static_cast<std::size_t>(std::lower_bound(at + 1, std::min(at + step + 1, last), slot) - slots_.data());
    return;
  }
}

bool PostingCursor::MoreBelow(std::size_t n, std::uint32_t hi) {
  const std::size_t target = pos_ + n;
  if (target < end_ && target >= decoded_) DecodeTo(std::min(std::max(target + 1, decoded_ + kDecodeStep), end_));
  if (target < end_) return slots_[target] < hi;
  if (tail_ != nullptr || list_ == nullptr) return false;  // fewer than n left
  const std::size_t blocks = list_->blocks();
  const std::size_t at = block_ * kBlock + target;
  if (at / kBlock < blocks) return list_->blocks_->first[at / kBlock] < hi;
  const std::size_t t = at - blocks * kBlock;
  return t < list_->tail_.size() && list_->tail_[t].slot() < hi;
}

}  // namespace tide::index
