// Physical replication of an HNSW graph (VectorIndex::TakeChanges / ApplyChanges, decision
// 0011): a follower that copies the writer's changed bytes ends every round with the very same
// graph, without inserting, and stays a valid graph that can itself be written to.

#include <gtest/gtest.h>

#include <random>

#include "common/index/vector_index.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/vectors.h"

namespace tide::index {
namespace {

constexpr int kDim = 24;

class GraphReplicationTest : public ::testing::Test {
 protected:
  GraphReplicationTest() {
    options_.dim = kDim;
    options_.initial_capacity = 64;  // the writer resizes several times
    options_.m = 8;
    options_.ef_construction = 64;
    options_.insert_threads = 2;  // parallel inserts: the changes must not depend on the order
  }

  // Label L's vector, the same wherever it is asked for.
  std::vector<float> Vector(std::uint64_t label) const {
    std::mt19937 rng(static_cast<unsigned>(label));
    return testutil::RandomUnitVector(rng, kDim);
  }

  void Add(VectorIndex& index, std::uint64_t first, std::uint64_t count) {
    std::vector<std::uint64_t> labels;
    std::vector<float> flat;
    for (std::uint64_t l = first; l < first + count; ++l) {
      labels.push_back(l);
      const std::vector<float> v = Vector(l);
      flat.insert(flat.end(), v.begin(), v.end());
    }
    ASSERT_TRUE(index.AddBatch(labels, flat).ok());
  }

  static std::vector<std::uint64_t> Top(const VectorIndex& index, const std::vector<float>& q) {
    auto hits = index.Search(q, 10, nullptr, 64);
    EXPECT_TRUE(hits.ok());
    std::vector<std::uint64_t> out;
    for (const VectorHit& h : *hits) out.push_back(h.label);
    return out;
  }

  void ExpectSame(const VectorIndex& writer, const VectorIndex& follower) {
    EXPECT_EQ(follower.ContentHash(), writer.ContentHash());
    EXPECT_EQ(follower.size(), writer.size());
    EXPECT_EQ(follower.deleted(), writer.deleted());
    EXPECT_EQ(follower.slots(), writer.slots());
    EXPECT_EQ(follower.DeletedLabels(), writer.DeletedLabels());
    for (std::uint64_t q = 1; q < 2000; q += 191) EXPECT_EQ(Top(follower, Vector(q)), Top(writer, Vector(q)));
  }

  VectorIndex::Options options_;
  testutil::TempDir dir_;
};

TEST_F(GraphReplicationTest, AFollowerCopyingTheChangesEndsEachRoundWithTheSameGraph) {
  auto writer = VectorIndex::Create(options_);
  auto follower = VectorIndex::Create(options_);
  ASSERT_TRUE(writer.ok() && follower.ok());
  (*writer)->StartTracking();
  ASSERT_TRUE((*writer)->tracking());
  std::uint64_t next = 1;
  std::size_t bytes = 0;
  for (int round = 0; round < 8; ++round) {
    Add(**writer, next, 150);
    next += 150;
    // Deletes (tombstones), which the next round's inserts reuse.
    for (std::uint64_t l = next - 150; l < next; l += 7) ASSERT_TRUE((*writer)->Remove(l).ok());
    const std::string changes = (*writer)->TakeChanges();
    bytes += changes.size();
    Status applied = (*follower)->ApplyChanges(changes);
    ASSERT_TRUE(applied.ok()) << "round " << round << ": " << applied.ToString();
    ExpectSame(**writer, **follower);
  }
  EXPECT_GT((*writer)->deleted(), 0u);
  // A round of deletes only: marks, no slots.
  ASSERT_TRUE((*writer)->Remove(2).ok());
  const std::string marks = (*writer)->TakeChanges();
  ASSERT_TRUE((*follower)->ApplyChanges(marks).ok());
  ExpectSame(**writer, **follower);
  EXPECT_LT(marks.size(), 1024u);  // one element's links, not the graph
  std::cout << "[ changes ] " << (next - 1) << " inserts: " << bytes << " bytes of changes ("
            << bytes / (next - 1) << " per insert)\n";

  // The follower is a whole graph: saved and loaded it is the same, and it takes inserts of
  // its own (a worker restarted from the changes goes on indexing).
  ASSERT_TRUE((*follower)->Save(dir_.path() / "follower.hnsw").ok());
  auto loaded = VectorIndex::Load(dir_.path() / "follower.hnsw", options_);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ((*loaded)->ContentHash(), (*follower)->ContentHash());
  const std::size_t tombstones = (*follower)->deleted();
  Add(**follower, next, 40);  // reuses tombstones first
  EXPECT_EQ((*follower)->deleted(), tombstones > 40 ? tombstones - 40 : 0);
  auto hits = (*follower)->Search(Vector(next + 3), 1, nullptr, 64);
  ASSERT_TRUE(hits.ok() && !hits->empty());
  EXPECT_EQ((*hits)[0].label, next + 3);
}

TEST_F(GraphReplicationTest, AFollowerStartsFromTheWritersSavedGraph) {
  auto writer = VectorIndex::Create(options_);
  ASSERT_TRUE(writer.ok());
  Add(**writer, 1, 300);
  ASSERT_TRUE((*writer)->Remove(5).ok());
  ASSERT_TRUE((*writer)->Save(dir_.path() / "snapshot.hnsw").ok());
  (*writer)->StartTracking();
  auto follower = VectorIndex::Load(dir_.path() / "snapshot.hnsw", options_);
  ASSERT_TRUE(follower.ok());
  Add(**writer, 301, 200);
  ASSERT_TRUE((*follower)->ApplyChanges((*writer)->TakeChanges()).ok());
  ExpectSame(**writer, **follower);
}

TEST_F(GraphReplicationTest, ChangesForAnotherGraphOrDamagedOnesAreCorruptionAndChangeNothing) {
  auto writer = VectorIndex::Create(options_);
  auto follower = VectorIndex::Create(options_);
  ASSERT_TRUE(writer.ok() && follower.ok());
  (*writer)->StartTracking();
  Add(**writer, 1, 100);
  const std::string first = (*writer)->TakeChanges();
  Add(**writer, 101, 100);
  const std::string second = (*writer)->TakeChanges();

  const std::uint64_t empty = (*follower)->ContentHash();
  Status skipped = (*follower)->ApplyChanges(second);  // missed the first round
  EXPECT_EQ(skipped.code(), Status::Code::kCorruption);
  EXPECT_NE(skipped.message().find("follow a graph of 100 slots, this one has 0"), std::string::npos)
      << skipped.ToString();
  EXPECT_EQ((*follower)->ContentHash(), empty);
  for (std::size_t cut : {std::size_t{0}, std::size_t{3}, first.size() / 2, first.size() - 1}) {
    EXPECT_EQ((*follower)->ApplyChanges(first.substr(0, cut)).code(), Status::Code::kCorruption) << cut;
    EXPECT_EQ((*follower)->ContentHash(), empty) << cut;
  }
  EXPECT_EQ((*follower)->ApplyChanges(first + "x").code(), Status::Code::kCorruption);
  ASSERT_TRUE((*follower)->ApplyChanges(first).ok());
  ASSERT_TRUE((*follower)->ApplyChanges(second).ok());
  ExpectSame(**writer, **follower);
}

}  // namespace
}  // namespace tide::index
