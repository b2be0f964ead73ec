#include "common/index/vector_segments.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>

#include "common/file_util.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/vectors.h"

namespace tide::index {
namespace {

constexpr int kDim = 16;

class VectorSegmentsTest : public ::testing::Test {
 protected:
  VectorSegmentsTest() {
    options_.dim = kDim;
    options_.initial_capacity = 16;
    options_.segment_max_chunks = 128;
    // Small graphs searched this wide are exact: with 8 graphs of 128 each is walked at
    // 400 * sqrt(1/8) = 141, more than it holds.
    options_.ef_search = 400;
    std::mt19937 rng(7);
    for (std::size_t i = 0; i < 1000; ++i) vectors_.push_back(testutil::RandomUnitVector(rng, kDim));
  }

  // Adds labels [first, last] (vector i is vectors_[i - 1]) in batches of `batch`.
  void Add(SegmentedVectorIndex& index, std::uint64_t first, std::uint64_t last, std::size_t batch = 50) {
    for (std::uint64_t begin = first; begin <= last; begin += batch) {
      std::vector<std::uint64_t> labels;
      std::vector<float> flat;
      for (std::uint64_t l = begin; l <= std::min<std::uint64_t>(last, begin + batch - 1); ++l) {
        labels.push_back(l);
        flat.insert(flat.end(), vectors_[l - 1].begin(), vectors_[l - 1].end());
      }
      ASSERT_TRUE(index.AddBatch(labels, flat).ok());
    }
  }

  // The exact top k among `live` labels by inner product, as search orders it.
  std::vector<std::uint64_t> BruteForce(const std::vector<float>& q, const std::vector<std::uint64_t>& live,
                                        std::size_t k) const {
    std::vector<VectorHit> all;
    for (std::uint64_t l : live) {
      float dot = 0;
      for (int d = 0; d < kDim; ++d) dot += q[d] * vectors_[l - 1][d];
      all.push_back({l, dot});
    }
    KeepBest(&all, k);
    std::vector<std::uint64_t> out;
    for (const VectorHit& h : all) out.push_back(h.label);
    return out;
  }

  static std::vector<std::uint64_t> Labels(const Result<std::vector<VectorHit>>& hits) {
    std::vector<std::uint64_t> out;
    for (const VectorHit& h : *hits) out.push_back(h.label);
    return out;
  }

  // Every query vector's top 10 from Search and ExactSearch equals the brute-force answer.
  void ExpectExact(const SegmentedVectorIndex& index, const std::vector<std::uint64_t>& live) {
    for (std::size_t q = 0; q < vectors_.size(); q += 97) {
      const std::vector<std::uint64_t> want = BruteForce(vectors_[q], live, 10);
      auto walked = index.Search(vectors_[q], 10, nullptr);
      ASSERT_TRUE(walked.ok()) << walked.status().ToString();
      EXPECT_EQ(Labels(walked), want) << "query " << q;
      auto scanned = index.ExactSearch(vectors_[q], 10, live);
      ASSERT_TRUE(scanned.ok());
      EXPECT_EQ(Labels(scanned), want) << "query " << q;
    }
  }

  // A snapshot's three steps into `dir`, published there once written (as IndexSet's
  // FinishSnapshot does after renaming its directory into place).
  static Result<nlohmann::json> SaveAndPublish(SegmentedVectorIndex& index, const std::filesystem::path& dir) {
    Result<SegmentedVectorIndex::PendingSave> save = index.PrepareSave(dir);
    if (!save) return save.status();
    Result<nlohmann::json> written = save->Write();
    TIDE_RETURN_IF_ERROR(index.FinishSave(*save, written.ok() ? dir : std::filesystem::path()));
    return written;
  }

  static std::vector<std::uint64_t> Range(std::uint64_t first, std::uint64_t last) {
    std::vector<std::uint64_t> out;
    for (std::uint64_t l = first; l <= last; ++l) out.push_back(l);
    return out;
  }

  VectorIndex::Options options_;
  std::vector<std::vector<float>> vectors_;
  testutil::TempDir dir_;
};

TEST_F(VectorSegmentsTest, SealsFullGraphsAndSearchesAcrossAll) {
  auto index = SegmentedVectorIndex::Create(options_);
  ASSERT_TRUE(index.ok());
  Add(**index, 1, 1000);
  EXPECT_EQ((*index)->size(), 1000u);
  // 1000 chunks in graphs of at most 128: seven full ones sealed, 104 growing.
  EXPECT_EQ((*index)->sealed_segments(), 7u);
  ExpectExact(**index, Range(1, 1000));

  // A label already live in a sealed graph is not inserted again.
  std::vector<std::uint64_t> again = {5};
  ASSERT_TRUE((*index)->AddBatch(again, vectors_[4]).ok());
  EXPECT_EQ((*index)->size(), 1000u);

  // Deletes reach whichever graph holds the label.
  for (std::uint64_t l : {1u, 200u, 999u}) ASSERT_TRUE((*index)->Remove(l).ok());
  EXPECT_EQ((*index)->Remove(200).code(), Status::Code::kNotFound);
  EXPECT_EQ((*index)->deleted(), 3u);
  std::vector<std::uint64_t> live = Range(1, 1000);
  std::erase_if(live, [](std::uint64_t l) { return l == 1 || l == 200 || l == 999; });
  ExpectExact(**index, live);
}

// The exact scan asks a sealed graph only for labels within its range, and the growing graph
// for the rest. Labels need not arrive in order: a label of the growing graph inside a sealed
// graph's range is still found, before and after a snapshot round trip.
TEST_F(VectorSegmentsTest, TheExactScanFindsAGrowingGraphsLabelInsideASealedGraphsRange) {
  auto index = SegmentedVectorIndex::Create(options_);
  ASSERT_TRUE(index.ok());
  Add(**index, 1, 100);
  Add(**index, 201, 228);  // 128 in all: the growing graph is full
  Add(**index, 150, 160);  // into a new growing graph, inside the sealed range [1, 228]
  ASSERT_EQ((*index)->sealed_segments(), 1u);
  std::vector<std::uint64_t> live;
  for (std::uint64_t l = 1; l <= 100; ++l) live.push_back(l);
  for (std::uint64_t l = 150; l <= 160; ++l) live.push_back(l);
  for (std::uint64_t l = 201; l <= 228; ++l) live.push_back(l);
  auto expect_found = [&](const SegmentedVectorIndex& searched) {
    for (std::uint64_t label : {1u, 150u, 155u, 160u, 228u}) {
      auto hits = searched.ExactSearch(vectors_[label - 1], 1, std::vector<std::uint64_t>{label});
      ASSERT_TRUE(hits.ok()) << hits.status().ToString();
      ASSERT_EQ(hits->size(), 1u) << "label " << label;
      EXPECT_EQ(hits->front().label, label);
    }
    ExpectExact(searched, live);
  };
  expect_found(**index);
  auto saved = (*index)->Save(dir_.path());
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  auto loaded = SegmentedVectorIndex::Load(dir_.path(), *saved, options_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ((*loaded)->sealed_segments(), 1u);
  expect_found(**loaded);
}

TEST_F(VectorSegmentsTest, SnapshotsWriteASealedGraphOnceAndKeepTheirOwnTombstones) {
  auto index = SegmentedVectorIndex::Create(options_);
  ASSERT_TRUE(index.ok());
  Add(**index, 1, 300);  // two sealed graphs, 44 growing
  const std::filesystem::path first = dir_.path() / "first", second = dir_.path() / "second";
  std::filesystem::create_directories(first);
  std::filesystem::create_directories(second);
  auto saved = SaveAndPublish(**index, first);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  ASSERT_EQ((*saved)["sealed"].size(), 2u);
  for (const auto& seg : (*saved)["sealed"]) {
    EXPECT_TRUE(seg["written"].get<bool>());
    EXPECT_LE(seg["slots"].get<std::size_t>(), 128u);
  }

  // After the first snapshot: deletes in both sealed graphs, and a third one sealed.
  ASSERT_TRUE((*index)->Remove(3).ok());
  ASSERT_TRUE((*index)->Remove(130).ok());
  Add(**index, 301, 400);
  auto saved2 = (*index)->Save(second);
  ASSERT_TRUE(saved2.ok());
  ASSERT_EQ((*saved2)["sealed"].size(), 3u);
  EXPECT_FALSE((*saved2)["sealed"][0]["written"].get<bool>());  // linked, not rewritten
  EXPECT_FALSE((*saved2)["sealed"][1]["written"].get<bool>());
  EXPECT_TRUE((*saved2)["sealed"][2]["written"].get<bool>());
  const std::string name = (*saved2)["sealed"][0]["file"].get<std::string>();
  struct stat a {}, b {};
  ASSERT_EQ(::stat((first / name).c_str(), &a), 0);
  ASSERT_EQ(::stat((second / name).c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "the second snapshot links the first one's file";

  // Each snapshot loads as it was at its own point, though they share the file.
  auto old = SegmentedVectorIndex::Load(first, *saved, options_);
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ((*old)->size(), 300u);
  EXPECT_EQ((*old)->deleted(), 0u);
  ExpectExact(**old, Range(1, 300));
  auto now = SegmentedVectorIndex::Load(second, *saved2, options_);
  ASSERT_TRUE(now.ok()) << now.status().ToString();
  EXPECT_EQ((*now)->size(), 398u);
  EXPECT_EQ((*now)->sealed_segments(), 3u);
  std::vector<std::uint64_t> live = Range(1, 400);
  std::erase_if(live, [](std::uint64_t l) { return l == 3 || l == 130; });
  ExpectExact(**now, live);

  // A loaded index goes on where the saved one stopped: new ids, growing graph reused.
  Add(**now, 401, 600);
  EXPECT_EQ((*now)->size(), 598u);
  const std::filesystem::path third = dir_.path() / "third";
  std::filesystem::create_directories(third);
  auto saved3 = (*now)->Save(third);
  ASSERT_TRUE(saved3.ok());
  EXPECT_GT((*saved3)["next_id"].get<std::uint64_t>(), (*saved2)["next_id"].get<std::uint64_t>());
  EXPECT_FALSE((*saved3)["sealed"][2]["written"].get<bool>());
}

// Issue 14: a snapshot is written while the writer goes on (ingest/indexer.h). What it holds is
// the index as it was when prepared, whatever the writer did meanwhile: inserts, a seal, deletes
// in the sealed graph being written, and a rebuild, which waits for the write.
TEST_F(VectorSegmentsTest, ASnapshotWrittenWhileTheWriterGoesOnHoldsTheStateItWasPreparedAt) {
  auto index = SegmentedVectorIndex::Create(options_);
  ASSERT_TRUE(index.ok());
  Add(**index, 1, 300);  // sealed: 1-128, 129-256; growing: 257-300
  for (std::uint64_t l = 1; l <= 10; ++l) ASSERT_TRUE((*index)->Remove(l).ok());
  const std::filesystem::path dir = dir_.path() / "pending";
  std::filesystem::create_directories(dir);
  auto pending = (*index)->PrepareSave(dir);
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();

  // Meanwhile: most of the first sealed graph deleted (past the rebuild ratio), a third graph
  // sealed, more inserts. The graph being written is not rebuilt until the save is finished.
  // Deletes in a graph being written are held aside (the writer does not wait for the write)
  // and count at once.
  for (std::uint64_t l = 11; l <= 100; ++l) ASSERT_TRUE((*index)->Remove(l).ok());
  EXPECT_EQ((*index)->Remove(50).code(), Status::Code::kNotFound);
  EXPECT_EQ((*index)->deleted(), 100u);
  Add(**index, 301, 450);
  auto deferred = (*index)->DropTombstones(0.3, 10);
  ASSERT_TRUE(deferred.ok());
  EXPECT_EQ(*deferred, 0u);

  // Written on another thread while the writer changes the graph's neighbours: the same
  // state either way.
  Result<nlohmann::json> written = Status::Internal("not written");
  std::thread writer([&] { written = pending->Write(); });
  const Status removed = (*index)->Remove(300);  // in the graph sealed since: not in the snapshot
  writer.join();
  ASSERT_TRUE(removed.ok()) << removed.ToString();
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  ASSERT_TRUE((*index)->FinishSave(*pending, dir).ok());
  EXPECT_EQ((*index)->deleted(), 101u);
  ASSERT_EQ((*written)["sealed"].size(), 2u);

  auto loaded = SegmentedVectorIndex::Load(dir, *written, options_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), 290u);
  EXPECT_EQ((*loaded)->deleted(), 10u);
  ExpectExact(**loaded, Range(11, 300));

  // Finished: the deferred rebuild happens now, and the live index is the writer's.
  auto rebuilt = (*index)->DropTombstones(0.3, 10);
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(*rebuilt, 1u);
  std::vector<std::uint64_t> live = Range(101, 450);
  std::erase(live, 300u);
  ExpectExact(**index, live);
}

TEST_F(VectorSegmentsTest, RebuildsOrDropsASealedGraphOfTombstonesAlone) {
  auto index = SegmentedVectorIndex::Create(options_);
  ASSERT_TRUE(index.ok());
  Add(**index, 1, 400);  // sealed: 1-128, 129-256, 257-384
  for (std::uint64_t l = 1; l <= 128; ++l) ASSERT_TRUE((*index)->Remove(l).ok());    // all of one
  for (std::uint64_t l = 129; l <= 228; ++l) ASSERT_TRUE((*index)->Remove(l).ok());  // most of another
  for (std::uint64_t l = 257; l <= 260; ++l) ASSERT_TRUE((*index)->Remove(l).ok());  // a few
  auto changed = (*index)->DropTombstones(0.3, 10);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, 2u);  // one dropped, one rebuilt; the third keeps its four tombstones
  EXPECT_EQ((*index)->sealed_segments(), 2u);
  EXPECT_EQ((*index)->deleted(), 4u);
  std::vector<std::uint64_t> live = Range(229, 256), rest = Range(261, 400);
  live.insert(live.end(), rest.begin(), rest.end());
  EXPECT_EQ((*index)->size(), live.size());
  ExpectExact(**index, live);
  auto saved = (*index)->Save(dir_.path());
  ASSERT_TRUE(saved.ok());
  // The rebuilt graph has a new id (its file would differ from any written before).
  EXPECT_GT((*saved)["sealed"][0]["id"].get<std::uint64_t>(), (*saved)["sealed"][1]["id"].get<std::uint64_t>());
}

TEST_F(VectorSegmentsTest, ADamagedSegmentIsCorruption) {
  auto index = SegmentedVectorIndex::Create(options_);
  ASSERT_TRUE(index.ok());
  Add(**index, 1, 300);
  auto saved = (*index)->Save(dir_.path());
  ASSERT_TRUE(saved.ok());

  nlohmann::json wrong_count = *saved;
  wrong_count["sealed"][0]["slots"] = 127;
  auto loaded = SegmentedVectorIndex::Load(dir_.path(), wrong_count, options_);
  EXPECT_EQ(loaded.status().code(), Status::Code::kCorruption) << loaded.status().ToString();

  ASSERT_TRUE(WriteFileAtomic(dir_.path() / "tombstones.bin", "\x01\x05").ok());
  loaded = SegmentedVectorIndex::Load(dir_.path(), *saved, options_);
  EXPECT_EQ(loaded.status().code(), Status::Code::kCorruption) << loaded.status().ToString();

  std::filesystem::remove(dir_.path() / (*saved)["sealed"][1]["file"].get<std::string>());
  loaded = SegmentedVectorIndex::Load(dir_.path(), *saved, options_);
  EXPECT_EQ(loaded.status().code(), Status::Code::kCorruption) << loaded.status().ToString();
  EXPECT_NE(loaded.status().message().find("seg-"), std::string::npos) << loaded.status().ToString();
}

TEST_F(VectorSegmentsTest, AGraphFromBeforeSegmentsIsSealedWhenFull) {
  // A snapshot written before segments: one graph, larger than a segment, no "segments".
  VectorIndex::Options whole = options_;
  whole.segment_max_chunks = 0;
  auto single = SegmentedVectorIndex::Create(whole);
  ASSERT_TRUE(single.ok());
  Add(**single, 1, 300);
  EXPECT_EQ((*single)->sealed_segments(), 0u);
  ASSERT_TRUE((*single)->Save(dir_.path()).ok());

  auto loaded = SegmentedVectorIndex::Load(dir_.path(), nlohmann::json(), options_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), 300u);
  EXPECT_EQ((*loaded)->sealed_segments(), 0u);
  Add(**loaded, 301, 310);
  EXPECT_EQ((*loaded)->sealed_segments(), 1u);
  ExpectExact(**loaded, Range(1, 310));
}

// Decision 0011: a follower keeps the writer's segments by applying its records (growing
// graph changes and seals) and the sealed graphs' deletes, never inserting, and ends every
// round with the same graphs.
TEST_F(VectorSegmentsTest, AFollowerAppliesTheWritersRecordsAcrossSeals) {
  options_.insert_threads = 2;
  auto writer = SegmentedVectorIndex::Create(options_);
  auto follower = SegmentedVectorIndex::Create(options_);
  ASSERT_TRUE(writer.ok() && follower.ok());
  (*writer)->StartTracking();
  std::vector<std::uint64_t> live;
  std::uint64_t next = 1;
  for (int round = 0; round < 6; ++round) {
    Add(**writer, next, next + 89, 30);  // 90 per round: a seal every round or two
    for (std::uint64_t l = next; l < next + 90; ++l) live.push_back(l);
    next += 90;
    // Deletes in sealed graphs and in the growing one.
    std::vector<std::uint64_t> removed;
    for (std::size_t i = round; i < live.size(); i += 9) removed.push_back(live[i]);
    for (std::uint64_t l : removed) ASSERT_TRUE((*writer)->Remove(l).ok());
    std::erase_if(live, [&](std::uint64_t l) { return std::find(removed.begin(), removed.end(), l) != removed.end(); });

    Status applied = (*follower)->ApplyChanges((*writer)->TakeChanges());
    ASSERT_TRUE(applied.ok()) << "round " << round << ": " << applied.ToString();
    for (std::uint64_t l : removed) {
      Status s = (*follower)->RemoveFromSealed(l);
      ASSERT_TRUE(s.ok() || s.code() == Status::Code::kNotFound) << s.ToString();
    }
    EXPECT_EQ((*follower)->sealed_segments(), (*writer)->sealed_segments()) << "round " << round;
    EXPECT_EQ((*follower)->ContentHash(), (*writer)->ContentHash()) << "round " << round;
    EXPECT_EQ((*follower)->size(), live.size());
    EXPECT_EQ((*follower)->deleted(), (*writer)->deleted());
  }
  EXPECT_GE((*writer)->sealed_segments(), 3u);
  ExpectExact(**follower, live);
  // A tracked growing graph is not rebuilt (its tombstones wait for reuse); sealed ones are.
  auto changed = (*writer)->DropTombstones(0.0, 1);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(*changed, (*writer)->sealed_segments());
  EXPECT_GT((*writer)->deleted(), 0u);
  // A damaged record is corruption and changes nothing.
  const std::uint64_t before = (*follower)->ContentHash();
  Add(**writer, next, next + 9);
  const std::string record = (*writer)->TakeChanges();
  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, record.size() / 2, record.size() - 1}) {
    EXPECT_EQ((*follower)->ApplyChanges(record.substr(0, cut)).code(), Status::Code::kCorruption) << cut;
  }
  EXPECT_EQ((*follower)->ContentHash(), before);
  EXPECT_TRUE((*follower)->ApplyChanges(record).ok());
}

// Searches run while the single writer inserts, seals, deletes and rebuilds (run under TSan in
// CI): every answer is a sorted top-k of live-or-recently-live labels, never an error.
TEST_F(VectorSegmentsTest, SearchesRunWhileTheWriterSealsAndRebuilds) {
  options_.segment_max_chunks = 64;
  auto index = SegmentedVectorIndex::Create(options_);
  ASSERT_TRUE(index.ok());
  Add(**index, 1, 64);
  std::atomic<bool> done{false};
  std::atomic<int> searches{0};
  std::thread reader([&] {
    std::vector<std::uint64_t> some = Range(1, 1000);
    while (!done) {
      auto walked = (*index)->Search(vectors_[searches % 1000], 5, nullptr);
      auto scanned = (*index)->ExactSearch(vectors_[searches % 1000], 5, some);
      if (!walked.ok() || !scanned.ok() || walked->empty() || scanned->empty()) ADD_FAILURE() << "search failed";
      for (std::size_t i = 1; walked.ok() && i < walked->size(); ++i) {
        if ((*walked)[i - 1].score < (*walked)[i].score) ADD_FAILURE() << "unsorted";
      }
      ++searches;
    }
  });
  for (std::uint64_t first = 65; first < 1000; first += 50) {
    Add(**index, first, std::min<std::uint64_t>(999, first + 49), 25);
    for (std::uint64_t l = first - 60; l < first - 20; ++l) (void)(*index)->Remove(l);
    ASSERT_TRUE((*index)->DropTombstones(0.3, 8).ok());
  }
  done = true;
  reader.join();
  EXPECT_GT(searches.load(), 0);
  EXPECT_GT((*index)->sealed_segments(), 3u);
}

// The worker keeps only the growing graph: a published sealed graph leaves memory, and deletes,
// later snapshots and rebuilds go on from its labels, tombstones and file.
TEST_F(VectorSegmentsTest, AProcessThatDoesNotSearchUnloadsPublishedSealedGraphs) {
  auto index = SegmentedVectorIndex::Create(options_);
  ASSERT_TRUE(index.ok());
  (*index)->set_unload_published(true);
  Add(**index, 1, 300);  // sealed: 1-128, 129-256
  const std::filesystem::path first = dir_.path() / "first", second = dir_.path() / "second";
  std::filesystem::create_directories(first);
  std::filesystem::create_directories(second);
  auto first_save = (*index)->PrepareSave(first);
  ASSERT_TRUE(first_save.ok());
  ASSERT_TRUE(first_save->Write().ok());
  EXPECT_EQ((*index)->sealed_segments_in_memory(), 2u);  // not published yet
  ASSERT_TRUE((*index)->FinishSave(*first_save, first).ok());
  EXPECT_EQ((*index)->sealed_segments_in_memory(), 0u);
  EXPECT_EQ((*index)->size(), 300u);
  EXPECT_EQ((*index)->Search(vectors_[0], 5, nullptr).status().code(), Status::Code::kInternal);

  // Deletes reach the unloaded graphs; their labels are not inserted again.
  for (std::uint64_t l = 129; l <= 200; ++l) ASSERT_TRUE((*index)->Remove(l).ok());
  ASSERT_TRUE((*index)->Remove(3).ok());
  EXPECT_EQ((*index)->Remove(3).code(), Status::Code::kNotFound);
  std::vector<std::uint64_t> again = {5};
  ASSERT_TRUE((*index)->AddBatch(again, vectors_[4]).ok());
  EXPECT_EQ((*index)->size(), 227u);
  EXPECT_EQ((*index)->deleted(), 73u);
  // 72 of 128 tombstoned: the second graph is read back and rebuilt; the first keeps its one.
  auto changed = (*index)->DropTombstones(0.3, 10);
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(*changed, 1u);
  EXPECT_EQ((*index)->sealed_segments_in_memory(), 1u);
  auto saved = SaveAndPublish(**index, second);
  ASSERT_TRUE(saved.ok()) << saved.status().ToString();
  EXPECT_FALSE((*saved)["sealed"][0]["written"].get<bool>());  // linked
  EXPECT_TRUE((*saved)["sealed"][1]["written"].get<bool>());   // rebuilt: a new file
  EXPECT_EQ((*index)->sealed_segments_in_memory(), 0u);

  // A process that searches loads the snapshot whole and answers from it.
  auto loaded = SegmentedVectorIndex::Load(second, *saved, options_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  std::vector<std::uint64_t> live = Range(1, 300);
  std::erase_if(live, [](std::uint64_t l) { return l == 3 || (l >= 129 && l <= 200); });
  EXPECT_EQ((*loaded)->size(), live.size());
  ExpectExact(**loaded, live);

  // A restarted worker reads only the sealed graphs' labels and tombstones, and goes on.
  auto labels_only = SegmentedVectorIndex::Load(second, *saved, options_, /*load_sealed_graphs=*/false);
  ASSERT_TRUE(labels_only.ok()) << labels_only.status().ToString();
  EXPECT_EQ((*labels_only)->sealed_segments_in_memory(), 0u);
  EXPECT_EQ((*labels_only)->size(), live.size());
  EXPECT_EQ((*labels_only)->deleted(), (*loaded)->deleted());
  EXPECT_EQ((*labels_only)->Remove(150).code(), Status::Code::kNotFound);  // a tombstone already
  ASSERT_TRUE((*labels_only)->Remove(250).ok());
  const std::filesystem::path third = dir_.path() / "third";
  std::filesystem::create_directories(third);
  auto saved3 = (*labels_only)->Save(third);
  ASSERT_TRUE(saved3.ok()) << saved3.status().ToString();
  EXPECT_FALSE((*saved3)["sealed"][0]["written"].get<bool>());
  EXPECT_FALSE((*saved3)["sealed"][1]["written"].get<bool>());
  auto reloaded = SegmentedVectorIndex::Load(third, *saved3, options_);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  std::erase(live, 250u);
  ExpectExact(**reloaded, live);
}

}  // namespace
}  // namespace tide::index
