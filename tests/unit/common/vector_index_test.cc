#include "common/index/vector_index.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>

#include "common/file_util.h"
#include "common/index/hnswlib.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/vectors.h"

namespace tide::index {
namespace {

using testutil::RandomUnitVector;

class OddLabels : public LabelFilter {
 public:
  bool Allowed(std::uint64_t label) const override { return label % 2 == 1; }
};

TEST(VectorIndexTest, SearchReturnsExactMatchFirstAndGrowsPastCapacity) {
  VectorIndex::Options o;
  o.dim = 16;
  o.initial_capacity = 16;  // forces several resizes
  auto index = VectorIndex::Create(o);
  ASSERT_TRUE(index.ok());
  std::mt19937 rng(1);
  std::vector<std::vector<float>> data;
  for (std::uint64_t i = 0; i < 300; ++i) {
    data.push_back(RandomUnitVector(rng, 16));
    ASSERT_TRUE((*index)->Add(i + 1, data.back()).ok());
  }
  EXPECT_EQ((*index)->size(), 300u);
  auto hits = (*index)->Search(data[42], 5, nullptr);
  ASSERT_TRUE(hits.ok());
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ((*hits)[0].label, 43u);
  EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-4);
  for (std::size_t i = 1; i < hits->size(); ++i) EXPECT_GE((*hits)[i - 1].score, (*hits)[i].score);
  EXPECT_EQ((*index)->Add(43, data[42]).code(), Status::Code::kAlreadyExists);
}

TEST(VectorIndexTest, FilterActsInsideTheSearch) {
  VectorIndex::Options o;
  o.dim = 8;
  auto index = VectorIndex::Create(o);
  ASSERT_TRUE(index.ok());
  std::mt19937 rng(2);
  for (std::uint64_t i = 1; i <= 200; ++i) ASSERT_TRUE((*index)->Add(i, RandomUnitVector(rng, 8)).ok());
  OddLabels odd;
  auto hits = (*index)->Search(RandomUnitVector(rng, 8), 10, &odd);
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ(hits->size(), 10u);
  for (const VectorHit& h : *hits) EXPECT_EQ(h.label % 2, 1u);
}

TEST(VectorIndexTest, RemoveTombstonesAndAddReusesTheSlot) {
  VectorIndex::Options o;
  o.dim = 8;
  auto index = VectorIndex::Create(o);
  ASSERT_TRUE(index.ok());
  std::mt19937 rng(3);
  std::vector<float> target = RandomUnitVector(rng, 8);
  ASSERT_TRUE((*index)->Add(1, target).ok());
  for (std::uint64_t i = 2; i <= 20; ++i) ASSERT_TRUE((*index)->Add(i, RandomUnitVector(rng, 8)).ok());
  ASSERT_TRUE((*index)->Remove(1).ok());
  EXPECT_EQ((*index)->Remove(1).code(), Status::Code::kNotFound);
  EXPECT_EQ((*index)->deleted(), 1u);
  auto hits = (*index)->Search(target, 20, nullptr);
  ASSERT_TRUE(hits.ok());
  for (const VectorHit& h : *hits) EXPECT_NE(h.label, 1u);
  ASSERT_TRUE((*index)->Add(100, target).ok());
  EXPECT_EQ((*index)->deleted(), 0u);  // the tombstone's slot was reused
  EXPECT_EQ((*index)->size(), 20u);
}

TEST(VectorIndexTest, RebuildDropsTombstonesAndKeepsEveryLiveVector) {
  VectorIndex::Options o;
  o.dim = 16;
  auto index = VectorIndex::Create(o);
  ASSERT_TRUE(index.ok());
  std::mt19937 rng(4);
  std::vector<std::vector<float>> data;
  for (std::uint64_t i = 1; i <= 600; ++i) {
    data.push_back(RandomUnitVector(rng, 16));
    ASSERT_TRUE((*index)->Add(i, data.back()).ok());
  }
  for (std::uint64_t i = 1; i <= 600; ++i) {
    if (i % 4 != 0) {
      ASSERT_TRUE((*index)->Remove(i).ok());
    }
  }
  ASSERT_EQ((*index)->deleted(), 450u);
  ASSERT_TRUE((*index)->Rebuild().ok());
  EXPECT_EQ((*index)->deleted(), 0u);
  EXPECT_EQ((*index)->size(), 150u);
  // Every live vector is still there and finds itself first; no removed label comes back.
  for (std::uint64_t i = 4; i <= 600; i += 4) {
    auto hits = (*index)->Search(data[i - 1], 3, nullptr);
    ASSERT_TRUE(hits.ok());
    ASSERT_FALSE(hits->empty());
    EXPECT_EQ((*hits)[0].label, i);
    for (const VectorHit& h : *hits) EXPECT_EQ(h.label % 4, 0u);
  }
  EXPECT_EQ((*index)->Remove(5).code(), Status::Code::kNotFound);
  ASSERT_TRUE((*index)->Add(5, data[4]).ok());  // and it goes on growing
  EXPECT_EQ((*index)->size(), 151u);
}

TEST(VectorIndexTest, AddBatchOnSeveralThreadsGrowsReusesTombstonesAndSkipsLiveLabels) {
  VectorIndex::Options o;
  o.dim = 16;
  o.initial_capacity = 16;  // the batch must grow the index before its threads start
  o.insert_threads = 4;
  auto index = VectorIndex::Create(o);
  ASSERT_TRUE(index.ok());
  std::mt19937 rng(7);
  std::vector<std::uint64_t> labels;
  std::vector<float> flat;
  std::vector<std::vector<float>> data;
  for (std::uint64_t i = 1; i <= 1000; ++i) {
    data.push_back(RandomUnitVector(rng, 16));
    labels.push_back(i);
    flat.insert(flat.end(), data.back().begin(), data.back().end());
  }
  ASSERT_TRUE((*index)->AddBatch(labels, flat).ok());
  EXPECT_EQ((*index)->size(), 1000u);
  for (std::uint64_t i = 1; i <= 1000; i += 37) {
    auto hits = (*index)->Search(data[i - 1], 1, nullptr, 64);
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 1u);
    EXPECT_EQ((*hits)[0].label, i);
  }
  // Tombstones are reused; a label that is already live keeps its vector.
  for (std::uint64_t i = 1; i <= 100; ++i) ASSERT_TRUE((*index)->Remove(i).ok());
  std::vector<std::uint64_t> more;
  std::vector<float> more_flat;
  for (std::uint64_t i = 2001; i <= 2100; ++i) {
    more.push_back(i);
    std::vector<float> v = RandomUnitVector(rng, 16);
    more_flat.insert(more_flat.end(), v.begin(), v.end());
  }
  more.push_back(500);  // live: left as it is
  more_flat.insert(more_flat.end(), data[0].begin(), data[0].end());
  ASSERT_TRUE((*index)->AddBatch(more, more_flat).ok());
  EXPECT_EQ((*index)->deleted(), 0u);
  EXPECT_EQ((*index)->size(), 1000u);
  auto hits = (*index)->Search(data[499], 1, nullptr, 64);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ((*hits)[0].label, 500u);
  EXPECT_NEAR((*hits)[0].score, 1.0f, 1e-4);
  // A batch whose floats do not match its labels is refused whole.
  EXPECT_EQ((*index)->AddBatch(std::vector<std::uint64_t>{3001, 3002}, data[0]).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ((*index)->size(), 1000u);
}

TEST(VectorIndexTest, ExactSearchRanksOnlyTheGivenLabels) {
  VectorIndex::Options o;
  o.dim = 8;
  auto index = VectorIndex::Create(o);
  ASSERT_TRUE(index.ok());
  std::mt19937 rng(4);
  std::vector<std::vector<float>> data;
  for (std::uint64_t i = 1; i <= 50; ++i) {
    data.push_back(RandomUnitVector(rng, 8));
    ASSERT_TRUE((*index)->Add(i, data.back()).ok());
  }
  std::vector<std::uint64_t> allowed = {3, 7, 11, 999};
  auto hits = (*index)->ExactSearch(data[6], 10, allowed);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 3u);  // 999 is not in the index
  EXPECT_EQ((*hits)[0].label, 7u);
  std::set<std::uint64_t> got;
  for (const VectorHit& h : *hits) got.insert(h.label);
  EXPECT_EQ(got, (std::set<std::uint64_t>{3, 7, 11}));
}

TEST(VectorIndexTest, SaveAndLoadPreserveResultsAndCheckDimension) {
  testutil::TempDir dir;
  VectorIndex::Options o;
  o.dim = 8;
  auto index = VectorIndex::Create(o);
  ASSERT_TRUE(index.ok());
  std::mt19937 rng(5);
  std::vector<float> q = RandomUnitVector(rng, 8);
  for (std::uint64_t i = 1; i <= 100; ++i) ASSERT_TRUE((*index)->Add(i, RandomUnitVector(rng, 8)).ok());
  ASSERT_TRUE((*index)->Remove(5).ok());
  const auto file = dir.path() / "v.hnsw";
  ASSERT_TRUE((*index)->Save(file).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "v.hnsw.tmp"));
  auto loaded = VectorIndex::Load(file, o);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), 99u);
  auto a = (*index)->Search(q, 10, nullptr);
  auto b = (*loaded)->Search(q, 10, nullptr);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  for (std::size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].label, (*b)[i].label);
  VectorIndex::Options wrong = o;
  wrong.dim = 16;
  auto mismatch = VectorIndex::Load(file, wrong);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().code(), Status::Code::kInvalidArgument);
}

// A snapshot copies the growing graph out with ImageTo() and writes those bytes itself: they must
// be exactly what Save() writes, for a graph with upper levels, delete marks, a reused slot
// and a capacity grown past its start.
TEST(VectorIndexTest, ImageIsTheBytesSaveWritesAndLoads) {
  testutil::TempDir dir;
  VectorIndex::Options o;
  o.dim = 8;
  o.initial_capacity = 64;
  auto index = VectorIndex::Create(o);
  ASSERT_TRUE(index.ok());
  std::mt19937 rng(6);
  for (std::uint64_t i = 1; i <= 1000; ++i) ASSERT_TRUE((*index)->Add(i, RandomUnitVector(rng, 8)).ok());
  for (std::uint64_t i = 10; i <= 1000; i += 97) ASSERT_TRUE((*index)->Remove(i).ok());
  ASSERT_TRUE((*index)->Add(5000, RandomUnitVector(rng, 8)).ok());
  std::string image(3 << 20, 'x');  // a buffer larger than the image, with other bytes in it
  const char* buffer = image.data();
  (*index)->ImageTo(&image);
  EXPECT_EQ(image.data(), buffer) << "the buffer's room was not used";
  EXPECT_EQ(image.size(), (*index)->ImageBytes());
  const auto file = dir.path() / "saved.hnsw";
  ASSERT_TRUE((*index)->Save(file).ok());
  Result<std::string> saved = ReadFile(file);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  ASSERT_EQ(image.size(), saved->size());
  EXPECT_TRUE(image == *saved) << "the image differs from the saved file";

  const auto from_image = dir.path() / "image.hnsw";
  ASSERT_TRUE(WriteFileAtomic(from_image, image).ok());
  auto loaded = VectorIndex::Load(from_image, o);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->ContentHash(), (*index)->ContentHash());
  EXPECT_EQ((*loaded)->size(), (*index)->size());
  EXPECT_EQ((*loaded)->deleted(), (*index)->deleted());
}

// Load reads hnswlib's file format itself (one pass, no seeking). What it builds must search
// exactly as the graph hnswlib's own loadIndex builds from the same file, take inserts after
// (the capacity, locks and lookup it set up), and refuse a damaged file without crashing.
TEST(VectorIndexTest, LoadBuildsWhatHnswlibLoadsAndRefusesDamage) {
  testutil::TempDir dir;
  VectorIndex::Options o;
  o.dim = 8;
  o.initial_capacity = 64;
  auto index = VectorIndex::Create(o);
  ASSERT_TRUE(index.ok());
  std::mt19937 rng(7);
  for (std::uint64_t i = 1; i <= 3000; ++i) ASSERT_TRUE((*index)->Add(i, RandomUnitVector(rng, 8)).ok());
  for (std::uint64_t i = 5; i <= 3000; i += 31) ASSERT_TRUE((*index)->Remove(i).ok());
  const auto file = dir.path() / "v.hnsw";
  ASSERT_TRUE((*index)->Save(file).ok());

  auto loaded = VectorIndex::Load(file, o);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->ContentHash(), (*index)->ContentHash());
  EXPECT_EQ((*loaded)->size(), (*index)->size());
  EXPECT_EQ((*loaded)->deleted(), (*index)->deleted());
  hnswlib::InnerProductSpace space(8);
  hnswlib::HierarchicalNSW<float> theirs(&space, file.string(), false, 0, /*allow_replace_deleted=*/true);
  theirs.setEf(o.ef_search);
  for (int q = 0; q < 50; ++q) {
    const std::vector<float> query = RandomUnitVector(rng, 8);
    auto ours = (*loaded)->Search(query, 10, nullptr);
    ASSERT_TRUE(ours.ok());
    auto top = theirs.searchKnnCloserFirst(query.data(), 10);
    ASSERT_EQ(ours->size(), top.size());
    for (std::size_t i = 0; i < top.size(); ++i) EXPECT_EQ((*ours)[i].label, top[i].second) << "query " << q;
  }
  // Inserts after the load: new labels, and a deleted slot taken again.
  for (std::uint64_t i = 5001; i <= 5200; ++i) ASSERT_TRUE((*loaded)->Add(i, RandomUnitVector(rng, 8)).ok());
  const std::vector<float> v = RandomUnitVector(rng, 8);
  ASSERT_TRUE((*loaded)->Add(6000, v).ok());
  auto found = (*loaded)->Search(v, 1, nullptr);
  ASSERT_TRUE(found.ok() && found->size() == 1);
  EXPECT_EQ((*found)[0].label, 6000u);
  EXPECT_EQ((*loaded)->size(), (*index)->size() + 201);
  EXPECT_EQ((*loaded)->slots(), 3000u + 201 - 97) << "the 97 deleted slots were not taken again";
  // Past the capacity the file gave (4,096): the loaded graph grows.
  for (std::uint64_t i = 7001; i <= 8500; ++i) ASSERT_TRUE((*loaded)->Add(i, RandomUnitVector(rng, 8)).ok());
  EXPECT_EQ((*loaded)->slots(), 3104u + 1500);
  found = (*loaded)->Search(v, 1, nullptr);
  ASSERT_TRUE(found.ok() && found->size() == 1);
  EXPECT_EQ((*found)[0].label, 6000u);

  // Damage: cut anywhere (in the header, the level-0 records, the upper links), a byte more,
  // a slot count or upper-link length no file could hold.
  Result<std::string> bytes = ReadFile(file);
  ASSERT_TRUE(bytes.ok());
  const std::size_t header = 6 * 8 + 4 + 4 + 5 * 8;  // hnswlib's header: 96 bytes
  for (std::size_t cut : {std::size_t{0}, std::size_t{20}, header - 1, header + 500, bytes->size() / 2,
                          bytes->size() - 5, bytes->size() - 1}) {
    ASSERT_TRUE(WriteFileAtomic(file, bytes->substr(0, cut)).ok());
    auto cut_load = VectorIndex::Load(file, o);
    ASSERT_FALSE(cut_load.ok()) << "cut at " << cut;
    EXPECT_EQ(cut_load.status().code(), Status::Code::kCorruption) << "cut at " << cut << ": " << cut_load.status().ToString();
  }
  ASSERT_TRUE(WriteFileAtomic(file, *bytes + "x").ok());
  EXPECT_EQ(VectorIndex::Load(file, o).status().code(), Status::Code::kCorruption);
  std::string huge = *bytes;
  const std::size_t slots = std::size_t{1} << 40;
  std::memcpy(huge.data() + 16, &slots, sizeof slots);  // cur_element_count
  std::memcpy(huge.data() + 8, &slots, sizeof slots);   // and a capacity to match
  ASSERT_TRUE(WriteFileAtomic(file, huge).ok());
  EXPECT_EQ(VectorIndex::Load(file, o).status().code(), Status::Code::kCorruption);
  // The last slot with upper links: its length is the 4 bytes before them. Find one by
  // walking the records as the format lays them out.
  std::size_t size_data = 0;
  std::memcpy(&size_data, bytes->data() + 24, sizeof size_data);
  std::size_t at = header + (*index)->slots() * size_data;  // the first slot's length
  std::size_t with_links = 0;
  while (at < bytes->size()) {
    unsigned int length = 0;
    std::memcpy(&length, bytes->data() + at, sizeof length);
    if (length > 0) with_links = at;
    at += sizeof length + length;
  }
  ASSERT_EQ(at, bytes->size());
  ASSERT_GT(with_links, 0u) << "no slot above level 0 in 3,000";
  std::string odd = *bytes;
  unsigned int length = 0;
  std::memcpy(&length, odd.data() + with_links, sizeof length);
  length += 1;
  std::memcpy(odd.data() + with_links, &length, sizeof length);
  ASSERT_TRUE(WriteFileAtomic(file, odd).ok());
  EXPECT_EQ(VectorIndex::Load(file, o).status().code(), Status::Code::kCorruption);
}

// An empty graph, and one whose file reserves far more room than it holds: the loader does
// not reserve that room up front, and inserts grow the graph from what it did reserve.
TEST(VectorIndexTest, LoadsAnEmptyGraphAndOneWithRoomToSpare) {
  testutil::TempDir dir;
  VectorIndex::Options o;
  o.dim = 8;
  o.initial_capacity = 64;
  auto empty = VectorIndex::Create(o);
  ASSERT_TRUE(empty.ok());
  ASSERT_TRUE((*empty)->Save(dir.path() / "empty.hnsw").ok());
  auto loaded = VectorIndex::Load(dir.path() / "empty.hnsw", o);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->slots(), 0u);
  std::mt19937 rng(8);
  const std::vector<float> v = RandomUnitVector(rng, 8);
  ASSERT_TRUE((*loaded)->Add(1, v).ok());
  auto found = (*loaded)->Search(v, 1, nullptr);
  ASSERT_TRUE(found.ok() && found->size() == 1);
  EXPECT_EQ((*found)[0].label, 1u);

  VectorIndex::Options roomy = o;
  roomy.initial_capacity = 100000;
  auto big = VectorIndex::Create(roomy);
  ASSERT_TRUE(big.ok());
  for (std::uint64_t i = 1; i <= 10; ++i) ASSERT_TRUE((*big)->Add(i, RandomUnitVector(rng, 8)).ok());
  ASSERT_TRUE((*big)->Save(dir.path() / "roomy.hnsw").ok());
  loaded = VectorIndex::Load(dir.path() / "roomy.hnsw", o);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->ContentHash(), (*big)->ContentHash());
  for (std::uint64_t i = 11; i <= 300; ++i) ASSERT_TRUE((*loaded)->Add(i, RandomUnitVector(rng, 8)).ok());
  EXPECT_EQ((*loaded)->size(), 300u);
  // The image of the loaded graph names the room it reserved (64), not the file's 100,000.
  std::string image;
  (*loaded)->ImageTo(&image);
  std::size_t capacity = 0;
  std::memcpy(&capacity, image.data() + 8, sizeof capacity);
  EXPECT_LT(capacity, 100000u);
  EXPECT_GE(capacity, 300u);
}

}  // namespace
}  // namespace tide::index
