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

PostingList Appended(const std::vector<Posting>& list) {
  PostingList out;
  for (const Posting& p : list) out.Append(p);
  return out;
}

PostingList Assigned(const std::vector<Posting>& list) {
  PostingList out;
  out.Assign(list);
  return out;
}

void ExpectSame(const std::vector<Posting>& a, const std::vector<Posting>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].slot(), b[i].slot()) << i;
    ASSERT_EQ(a[i].tf(), b[i].tf()) << i;
  }
}

const std::vector<std::size_t>& Sizes() {
  static const std::vector<std::size_t> sizes = {1, 2, 127, 128, 129, 256, 300, 1000};
  return sizes;
}

TEST(PostingListTest, RoundTripsAtEveryDensityAndBlockEdge) {
  std::mt19937_64 rng(7);
  for (std::uint32_t universe : {1100u, 5000u, 1u << 18, 1u << 24}) {
    for (std::size_t n : Sizes()) {
      SCOPED_TRACE(std::to_string(n) + " of " + std::to_string(universe));
      const std::vector<Posting> list = RandomList(&rng, n, universe);
      PostingList appended = Appended(list);
      EXPECT_EQ(appended.size(), list.size());
      ExpectSame(appended.ToVector(), list);
      ExpectSame(Assigned(list).ToVector(), list);
      ASSERT_NE(appended.last_in_tail(), nullptr);
      EXPECT_EQ(appended.last_in_tail()->slot(), list.back().slot());
      appended.ShrinkToFit();
      ExpectSame(appended.ToVector(), list);
    }
  }
  // The widest gap and the largest slot and frequency a posting holds, in a block.
  std::vector<Posting> edges = {{0, 0}, {Posting::kSlotMask - 200, Posting::kMaxTf}};
  for (std::uint32_t s = Posting::kSlotMask - 127; s <= Posting::kSlotMask; ++s) edges.emplace_back(s, s % 2 == 0 ? 254 : 0);
  ExpectSame(Assigned(edges).ToVector(), edges);
  ExpectSame(Appended(edges).ToVector(), edges);
}

TEST(PostingListTest, DenseListsTakeAboutAByteAPosting) {
  std::mt19937_64 rng(8);
  // A list over a fifth of a segment's slots, every frequency 1 or 2: gaps of a few bits.
  std::vector<Posting> list;
  std::uniform_int_distribution<int> pick(0, 9);
  for (std::uint32_t s = 0; s < (1u << 18); ++s) {
    if (pick(rng) < 2) list.emplace_back(s, pick(rng) == 0 ? 2 : 1);
  }
  const PostingList packed = Assigned(list);
  EXPECT_LT(packed.bytes(), list.size() * 3 / 2) << list.size() << " postings";
  // Built by adds, with room kept for more, and then shrunk as a sealed segment's.
  PostingList appended = Appended(list);
  EXPECT_LT(appended.bytes(), list.size() * 3) << list.size() << " postings";
  appended.ShrinkToFit();
  EXPECT_LT(appended.bytes(), list.size() * 3 / 2) << list.size() << " postings";
}

// The cursor stops where std::lower_bound over the plain postings does, for every seek: in a
// block, across blocks, into the tail and past the end.
TEST(PostingCursorTest, SeeksLandWhereLowerBoundDoes) {
  std::mt19937_64 rng(9);
  for (std::uint32_t universe : {2000u, 1u << 18}) {
    for (std::size_t n : Sizes()) {
      SCOPED_TRACE(std::to_string(n) + " of " + std::to_string(universe));
      const std::vector<Posting> list = RandomList(&rng, n, universe);
      // Built by adds (1 to 128 plain at the end) or assigned (fewer than 128; none at 128 or 256).
      const PostingList appended = Appended(list);
      const PostingList assigned = Assigned(list);
      for (int round = 0; round < 40; ++round) {
        const PostingList& packed = round % 2 == 0 ? appended : assigned;
        PostingCursor cursor;
        cursor.Reset(packed);
        // Increasing targets with gaps from one slot to most of the universe.
        std::uint32_t target = 0;
        std::uniform_int_distribution<std::uint32_t> gap(0, round % 4 == 0 ? universe / 3 : universe / 200 + 1);
        for (;;) {
          const auto expect = static_cast<std::size_t>(
              std::lower_bound(list.begin(), list.end(), target, [](const Posting& p, std::uint32_t s) { return p.slot() < s; }) -
              list.begin());
          cursor.Seek(target);
          ASSERT_EQ(cursor.done(), expect == list.size()) << target;
          if (expect == list.size()) break;
          ASSERT_EQ(cursor.slot(), list[expect].slot()) << target;
          ASSERT_EQ((*cursor).tf(), list[expect].tf()) << target;
          // With no bound on the slot, exact: whether there are n more postings.
          for (std::size_t more : {0u, 1u, 100u, 200u}) {
            EXPECT_EQ(cursor.MoreBelow(more, UINT32_MAX), expect + more < list.size()) << target << " " << more;
          }
          EXPECT_FALSE(cursor.MoreBelow(0, cursor.slot()));
          target += gap(rng);
        }
      }
      // Reading through visits every posting in order.
      for (const PostingList* packed : {&appended, &assigned}) {
        PostingCursor cursor;
        std::size_t i = 0;
        for (cursor.Reset(*packed); !cursor.done(); cursor.Next(), ++i) {
          ASSERT_LT(i, list.size());
          ASSERT_EQ(cursor.slot(), list[i].slot());
          ASSERT_EQ(cursor.tf(), list[i].tf());
        }
        EXPECT_EQ(i, list.size());
      }
    }
  }
}

TEST(PostingCursorTest, AnEmptyOrDefaultCursorIsDone) {
  PostingCursor none;
  EXPECT_TRUE(none.done());
  none.Seek(5);
  EXPECT_TRUE(none.done());
  EXPECT_FALSE(none.MoreBelow(0, 100));
  const PostingList empty;
  PostingCursor cursor;
  cursor.Reset(empty);
  EXPECT_TRUE(cursor.done());
  cursor.Seek(5);
  EXPECT_TRUE(cursor.done());
}

}  // namespace
}  // namespace tide::index
