#include "common/index/postings.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace tide::index {
namespace {

// `n` postings with slots below `universe`, increasing, and term frequencies mostly 1 with
// some up to 255.
std::vector<Posting> RandomList(std::mt19937_64* rng, std::size_t n, std::uint32_t universe) {
  std::vector<std::uint32_t> slots;
  std::uniform_int_distribution<std::uint32_t> slot(0, universe - 1);
  while (slots.size() < n) {
    slots.push_back(slot(*rng));
    if (slots.size() == n) {
      std::sort(slots.begin(), slots.end());
      slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
    }
  }
  std::uniform_int_distribution<int> pick(0, 99);
  std::uniform_int_distribution<std::uint32_t> any_tf(0, Posting::kMaxTf);
  std::vector<Posting> list;
  for (std::uint32_t s : slots) list.emplace_back(s, pick(*rng) < 80 ? 1 : any_tf(*rng));
  return list;
}

void ExpectSame(const std::vector<Posting>& a, const std::vector<Posting>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].slot(), b[i].slot()) << i;
    ASSERT_EQ(a[i].tf(), b[i].tf()) << i;
  }
}

TEST(PackedPostingsTest, RoundTripsAtEveryDensityAndBlockEdge) {
  std::mt19937_64 rng(7);
  for (std::uint32_t universe : {300u, 5000u, 1u << 18, 1u << 24}) {
    for (std::size_t n : {1u, 2u, 127u, 128u, 129u, 256u, 1000u}) {
      if (n > universe) continue;
      SCOPED_TRACE(std::to_string(n) + " of " + std::to_string(universe));
      const std::vector<Posting> list = RandomList(&rng, n, universe);
      const PackedPostings packed(list);
      EXPECT_EQ(packed.size(), list.size());
      EXPECT_EQ(packed.blocks(), (list.size() + PackedPostings::kBlock - 1) / PackedPostings::kBlock);
      ExpectSame(packed.Unpack(), list);
    }
  }
  // The widest gap and the largest slot and frequency a posting holds.
  const std::vector<Posting> edges = {{0, 0}, {Posting::kSlotMask - 1, Posting::kMaxTf}, {Posting::kSlotMask, 254}};
  ExpectSame(PackedPostings(edges).Unpack(), edges);
}

TEST(PackedPostingsTest, DenseListsTakeAboutAByteAPosting) {
  std::mt19937_64 rng(8);
  // A list over a fifth of a segment's slots, every frequency 1 or 2: gaps of a few bits.
  std::vector<Posting> list;
  std::uniform_int_distribution<int> pick(0, 9);
  for (std::uint32_t s = 0; s < (1u << 18); ++s) {
    if (pick(rng) < 2) list.emplace_back(s, pick(rng) == 0 ? 2 : 1);
  }
  const PackedPostings packed(list);
  EXPECT_LT(packed.bytes(), list.size() * 3 / 2) << list.size() << " postings";
  ExpectSame(packed.Unpack(), list);
}

// The cursor over a packed list and over the same list plain (with skips every 64) stops at
// the same posting for every seek, as std::lower_bound over the plain list does.
TEST(PostingCursorTest, SeeksLandWhereLowerBoundDoesOverBothKinds) {
  std::mt19937_64 rng(9);
  for (std::uint32_t universe : {2000u, 1u << 18}) {
    for (std::size_t n : {1u, 100u, 128u, 129u, 1500u}) {
      if (n > universe) continue;
      SCOPED_TRACE(std::to_string(n) + " of " + std::to_string(universe));
      const std::vector<Posting> list = RandomList(&rng, n, universe);
      std::vector<std::uint32_t> skips;
      for (std::size_t i = 0; i < list.size(); i += 64) skips.push_back(list[i].slot());
      const PackedPostings packed(list);
      for (int round = 0; round < 40; ++round) {
        PostingCursor plain, blocks;
        plain.Reset(list, round % 2 == 0 ? &skips : nullptr, 64);
        blocks.Reset(&packed);
        // Increasing targets with gaps from one slot to most of the universe.
        std::uint32_t target = 0;
        std::uniform_int_distribution<std::uint32_t> gap(0, round % 4 == 0 ? universe / 3 : universe / 200 + 1);
        while (target < universe + 10) {
          const auto expect = static_cast<std::size_t>(
              std::lower_bound(list.begin(), list.end(), target, [](const Posting& p, std::uint32_t s) { return p.slot() < s; }) -
              list.begin());
          plain.Seek(target);
          blocks.Seek(target);
          ASSERT_EQ(plain.done(), expect == list.size()) << target;
          ASSERT_EQ(blocks.done(), expect == list.size()) << target;
          if (expect == list.size()) break;
          ASSERT_EQ(plain.slot(), list[expect].slot()) << target;
          ASSERT_EQ(blocks.slot(), list[expect].slot()) << target;
          ASSERT_EQ((*blocks).tf(), list[expect].tf()) << target;
          // Exact for a plain list: whether the posting 5 on is below target + 50.
          const bool more = expect + 5 < list.size() && list[expect + 5].slot() < target + 50;
          EXPECT_EQ(plain.MoreBelow(5, target + 50), more);
          target += gap(rng);
        }
      }
      // Reading through visits every posting in order.
      PostingCursor blocks;
      std::size_t i = 0;
      for (blocks.Reset(&packed); !blocks.done(); blocks.Next(), ++i) {
        ASSERT_LT(i, list.size());
        ASSERT_EQ(blocks.slot(), list[i].slot());
      }
      EXPECT_EQ(i, list.size());
    }
  }
}

TEST(PostingCursorTest, AnEmptyOrDefaultCursorIsDone) {
  PostingCursor none;
  EXPECT_TRUE(none.done());
  none.Seek(5);
  EXPECT_TRUE(none.done());
  PostingCursor empty;
  empty.Reset(std::span<const Posting>(), nullptr, 64);
  EXPECT_TRUE(empty.done());
  EXPECT_FALSE(empty.MoreBelow(0, 100));
}

}  // namespace
}  // namespace tide::index
