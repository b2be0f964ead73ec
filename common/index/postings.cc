#include "common/index/postings.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace tide::index {
namespace {

// Bits needed for `v` (0 for 0).
unsigned Width(std::uint32_t v) { return static_cast<unsigned>(std::bit_width(v)); }

// Appends values of a given width, least significant bit first.
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
    acc_ = 0;
    fill_ = 0;
    return out_;
  }

 private:
  std::uint8_t* out_;
  std::uint64_t acc_ = 0;
  unsigned fill_ = 0;
};

// The `width`-bit value at bit `bit` of `in`. REQUIRES: width <= 24, and 8 readable bytes from
// in + bit / 8 (the padding after the last block).
inline std::uint32_t GetBits(const std::uint8_t* in, std::size_t bit, unsigned width) {
  std::uint64_t word;
  std::memcpy(&word, in + bit / 8, sizeof(word));
  return static_cast<std::uint32_t>((word >> (bit % 8)) & ((std::uint64_t{1} << width) - 1));
}

struct BlockShape {
  unsigned gap_width = 0;
  unsigned tf_width = 0;
  std::uint32_t min_tf = 0;
  std::size_t bytes = 0;  // header included
};

constexpr std::size_t kBlockHeader = 3;
constexpr std::size_t kPadding = 8;

BlockShape ShapeOf(std::span<const Posting> block) {
  BlockShape shape;
  std::uint32_t max_gap = 0;
  std::uint32_t min_tf = UINT32_MAX, max_tf = 0;
  for (std::size_t j = 0; j < block.size(); ++j) {
    if (j > 0) max_gap = std::max(max_gap, block[j].slot() - block[j - 1].slot() - 1);
    min_tf = std::min(min_tf, block[j].tf());
    max_tf = std::max(max_tf, block[j].tf());
  }
  shape.gap_width = Width(max_gap);
  shape.min_tf = min_tf;
  shape.tf_width = Width(max_tf - min_tf);
  const std::size_t bits = (block.size() - 1) * shape.gap_width + block.size() * shape.tf_width;
  shape.bytes = kBlockHeader + (bits + 7) / 8;
  return shape;
}

}  // namespace

PackedPostings::PackedPostings(std::span<const Posting> list) {
  assert(!list.empty());
  const std::size_t nblocks = (list.size() + kBlock - 1) / kBlock;
  auto block = [&](std::size_t b) { return list.subspan(b * kBlock, std::min(kBlock, list.size() - b * kBlock)); };
  std::vector<BlockShape> shapes(nblocks);
  std::size_t data_bytes = 0;
  for (std::size_t b = 0; b < nblocks; ++b) {
    shapes[b] = ShapeOf(block(b));
    data_bytes += shapes[b].bytes;
  }
  const std::size_t words = kHeaderWords + 2 * nblocks + (data_bytes + kPadding + 3) / 4;
  words_ = std::make_unique<std::uint32_t[]>(words);  // zeroed: the padding is defined
  words_[0] = static_cast<std::uint32_t>(list.size());
  words_[1] = static_cast<std::uint32_t>(nblocks);
  std::uint32_t* first = words_.get() + kHeaderWords;
  std::uint32_t* offsets = first + nblocks;
  auto* const data = reinterpret_cast<std::uint8_t*>(offsets + nblocks);
  std::uint8_t* out = data;
  for (std::size_t b = 0; b < nblocks; ++b) {
    const std::span<const Posting> postings = block(b);
    const BlockShape& shape = shapes[b];
    first[b] = postings[0].slot();
    offsets[b] = static_cast<std::uint32_t>(out - data);
    out[0] = static_cast<std::uint8_t>(shape.gap_width);
    out[1] = static_cast<std::uint8_t>(shape.tf_width);
    out[2] = static_cast<std::uint8_t>(shape.min_tf);
    BitWriter bits(out + kBlockHeader);
    for (std::size_t j = 1; j < postings.size(); ++j) bits.Put(postings[j].slot() - postings[j - 1].slot() - 1, shape.gap_width);
    for (const Posting& p : postings) bits.Put(p.tf() - shape.min_tf, shape.tf_width);
    out = bits.Finish();
    assert(static_cast<std::size_t>(out - data) == offsets[b] + shape.bytes);
  }
}

std::size_t PackedPostings::Decode(std::size_t b, Posting* out) const {
  assert(b < blocks());
  const std::size_t n = std::min(kBlock, size() - b * kBlock);
  const std::uint8_t* in = data() + offset(b);
  const unsigned gap_width = in[0], tf_width = in[1];
  const std::uint32_t min_tf = in[2];
  in += kBlockHeader;
  std::array<std::uint32_t, kBlock> slots;
  std::uint32_t slot = first_slots()[b];
  slots[0] = slot;
  std::size_t bit = 0;
  for (std::size_t j = 1; j < n; ++j, bit += gap_width) {
    slot += GetBits(in, bit, gap_width) + 1;
    slots[j] = slot;
  }
  for (std::size_t j = 0; j < n; ++j, bit += tf_width) out[j] = Posting(slots[j], min_tf + GetBits(in, bit, tf_width));
  return n;
}

std::vector<Posting> PackedPostings::Unpack() const {
  std::vector<Posting> list(size());
  for (std::size_t b = 0; b < blocks(); ++b) Decode(b, list.data() + b * kBlock);
  return list;
}

std::size_t PackedPostings::bytes() const {
  if (empty()) return 0;
  const std::size_t last = blocks() - 1;
  const std::uint8_t* in = data() + offset(last);
  const std::size_t n = size() - last * kBlock;
  const std::size_t block_bytes = kBlockHeader + ((n - 1) * in[0] + n * in[1] + 7) / 8;
  return (kHeaderWords + 2 * blocks()) * 4 + offset(last) + block_bytes + kPadding;
}

void PostingCursor::Reset(std::span<const Posting> list, const std::vector<std::uint32_t>* skips,
                          std::size_t skip_every) {
  begin_ = cur_ = list.data();
  end_ = list.data() + list.size();
  skips_ = skips;
  skip_every_ = skip_every;
  packed_ = nullptr;
}

void PostingCursor::Reset(const PackedPostings* packed) {
  packed_ = packed;
  skips_ = nullptr;
  Load(0);
}

void PostingCursor::Load(std::size_t b) {
  block_ = b;
  begin_ = cur_ = buffer_.data();
  end_ = cur_ + packed_->Decode(b, buffer_.data());
}

void PostingCursor::NextBlock() {
  if (block_ + 1 < packed_->blocks()) Load(block_ + 1);
}

void PostingCursor::SeekAhead(std::uint32_t slot) {
  // cur_ is below `slot`. Short steps first, doubling: most seeks land a few postings on, in
  // the cache line already read.
  auto by_slot = [](const Posting& p, std::uint32_t s) { return p.slot() < s; };
  if (packed_ != nullptr && (end_ - 1)->slot() < slot) {
    // Past this block: the last block starting at or below `slot` holds it, or else its start
    // is the next block's first posting.
    const std::uint32_t* first = packed_->first_slots();
    const std::uint32_t* last = first + packed_->blocks();
    const std::uint32_t* from = first + block_ + 1;
    std::size_t step = 1;
    while (from + step < last && from[step] <= slot) {
      from += step;
      step *= 2;
    }
    const std::uint32_t* after = std::upper_bound(from, std::min(from + step + 1, last), slot);
    const auto b = static_cast<std::size_t>(after - first);
    if (b == block_ + 1) {
      if (b == packed_->blocks()) {  // nothing at or past `slot`
        cur_ = end_;
        return;
      }
      Load(b);  // its first posting is past `slot`
      return;
    }
    Load(b - 1);
    if (cur_->slot() >= slot) return;
  }
  const Posting* from = cur_;
  std::size_t step = 1;
  while (from + step < end_ && from[step].slot() < slot) {
    from += step;
    if (step >= skip_every_ && skips_ != nullptr) {
      // Far ahead in a plain list: the first skip at or past `slot` ends the run of
      // skip_every_ postings holding the answer, and the skip before it, below, starts it.
      const auto at = static_cast<std::size_t>(from - begin_);
      const auto j = static_cast<std::size_t>(
          std::lower_bound(skips_->begin() + static_cast<std::ptrdiff_t>(at / skip_every_ + 1), skips_->end(), slot) -
          skips_->begin());
      const Posting* lo = std::max(begin_ + (j - 1) * skip_every_, from + 1);
      const Posting* hi = std::min(begin_ + j * skip_every_, end_);
      cur_ = std::lower_bound(lo, hi, slot, by_slot);
      return;
    }
    step *= 2;
  }
  cur_ = std::lower_bound(from + 1, std::min(from + step + 1, end_), slot, by_slot);
  if (cur_ == end_ && packed_ != nullptr) NextBlock();
}

bool PostingCursor::MoreBelow(std::size_t n, std::uint32_t hi) const {
  if (packed_ == nullptr) return n < static_cast<std::size_t>(end_ - cur_) && cur_[n].slot() < hi;
  if (n < static_cast<std::size_t>(end_ - cur_)) return cur_[n].slot() < hi;
  const std::size_t b = block_ + (static_cast<std::size_t>(cur_ - begin_) + n) / PackedPostings::kBlock;
  return b < packed_->blocks() && packed_->first_slots()[b] < hi;
}

}  // namespace tide::index
