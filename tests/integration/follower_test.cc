// The query daemon's follower: far behind the worker, it loads the worker's newer snapshot
// instead of inserting every chunk of the gap into its own graph; a little behind, it replays.

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/embedding/hash_embedder.h"
#include "common/file_util.h"
#include "common/index/index_set.h"
#include "common/index/replayer.h"
#include "common/index/snapshot_files.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "query/follower.h"
#include "tests/testutil/temp_dir.h"

namespace tide::query {
namespace {

using std::chrono::seconds;

constexpr int kDim = 32;

std::vector<ingest::BatchItem> Docs(int first, int count, std::int64_t version = 1) {
  std::vector<ingest::BatchItem> batch;
  for (int i = first; i < first + count; ++i) {
    ingest::Event e;
    e.container_id = i % 2 ? "alpha" : "beta";
    e.doc_id = "doc-" + std::to_string(i);
    e.version = version;
    e.title = "문서 " + std::to_string(i);
    e.text = "본문 " + std::to_string(i) + " 번째 문서의 내용입니다.";
    batch.push_back({"t", 0, i, e});
  }
  return batch;
}

class FollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::Store::OpenPrimary(dir_.path() / "store", {.sync_writes = false});
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    applier_ = std::make_unique<ingest::Applier>(store_.get(), &embedder_, ingest::Applier::Options{});
    ASSERT_TRUE(applier_->Init().ok());
    index_options_.model_id = embedder_.model_id();
    index_options_.vector.dim = kDim;
  }

  // What the worker does: apply a batch, and write a snapshot of its own indexes.
  std::uint64_t Apply(int first, int count, std::int64_t version = 1) {
    auto result = applier_->ApplyBatch(Docs(first, count, version));
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? result->change_seq : 0;
  }
  void WorkerSnapshot() {
    auto set = index::IndexSet::Create(index_options_);
    ASSERT_TRUE(set.ok());
    for (;;) {
      auto applied = index::CatchUp(**set, *store_, 1000);
      ASSERT_TRUE(applied.ok());
      if (*applied == 0) break;
    }
    ASSERT_TRUE((*set)->SaveSnapshot(dir_.path() / "snapshots", 2).ok());
  }

  // Two worker snapshots (100, then 160 chunks) with vector graphs and keyword segments of 40;
  // returns the change the second covers.
  std::uint64_t TwoSegmentedSnapshots() {
    index_options_.vector.segment_max_chunks = 40;
    Apply(0, 100);
    WorkerSnapshot();
    const std::uint64_t seq = Apply(100, 60);
    WorkerSnapshot();
    EXPECT_EQ(index::IndexSet::ListSnapshotDirs(dir_.path() / "snapshots").size(), 2u);
    return seq;
  }
  // A daemon started now reports the newest snapshot as corrupt and, from the older one and
  // the change log, ends at `seq` with all 160 chunks in every index.
  void ExpectOneCorruptSnapshotSkipped(std::uint64_t seq) {
    Follower follower(FollowerOptions());
    ASSERT_TRUE(follower.WaitForSeqForTest(seq, seconds(30))) << follower.not_ready_reason();
    EXPECT_EQ(follower.corrupt_snapshots(), 1u);
    EXPECT_EQ(follower.indexes()->size(), 160u);
    EXPECT_EQ(follower.indexes()->vector_size(), 160u);
    EXPECT_EQ(follower.indexes()->keyword_size(), 160u);
    EXPECT_EQ(follower.indexes()->applied_seq(), seq);
  }

  // Flips a low bit of the first vector in the hnswlib graph file `file`, so that hnswlib still
  // loads it (checked) and only a checksum can tell. hnswlib's header: offsetData_ (the
  // vector's place in an element) is its sixth size_t, and the elements start after 96 bytes.
  // `in_place` writes through the file (every snapshot linking it sees the damage); otherwise
  // the file is replaced, and other snapshots' links keep the intact one.
  void FlipABitOfTheFirstVector(const std::filesystem::path& file, bool in_place) {
    Result<std::string> graph = ReadFile(file);
    ASSERT_TRUE(graph.ok());
    std::uint64_t offset_data = 0;
    ASSERT_GT(graph->size(), 200u);
    std::memcpy(&offset_data, graph->data() + 40, sizeof(offset_data));
    ASSERT_LT(96 + offset_data, graph->size());
    (*graph)[96 + offset_data] ^= 0x01;
    if (in_place) {
      std::ofstream out(file, std::ios::binary | std::ios::in | std::ios::out);
      out.write(graph->data(), static_cast<std::streamsize>(graph->size()));
      ASSERT_TRUE(out.good());
    } else {
      std::filesystem::remove(file);
      ASSERT_TRUE(WriteFileAtomic(file, *graph).ok());
    }
    ASSERT_TRUE(index::VectorIndex::Load(file, index_options_.vector).ok()) << "the damage should still decode";
  }

  // A follower of this store that runs rounds only at start and on Refresh().
  Follower::Options FollowerOptions() const {
    Follower::Options o;
    o.data_dir = dir_.path();
    o.secondary_dir = dir_.path() / "secondary";
    o.interval = std::chrono::hours(1);
    o.index = index_options_;
    return o;
  }

  std::unique_ptr<Follower> StartFollower() {
    Follower::Options o = FollowerOptions();
    o.snapshot_jump_min = 50;
    return std::make_unique<Follower>(o);
  }

  testutil::TempDir dir_;
  embedding::HashEmbedder embedder_{embedding::HashEmbedder::Options{kDim}};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ingest::Applier> applier_;
  index::IndexSet::Options index_options_;
};

TEST_F(FollowerTest, FarBehindLoadsTheWorkersNewerSnapshotInsteadOfReplaying) {
  Apply(0, 100);
  WorkerSnapshot();
  auto follower = StartFollower();
  ASSERT_TRUE(follower->WaitForSeqForTest(1, seconds(30)));
  EXPECT_EQ(follower->snapshot_jumps(), 0u);  // the first load is not a jump
  ASSERT_EQ(follower->indexes()->size(), 100u);

  // A little behind (10 chunks, under snapshot_jump_min): replayed.
  std::uint64_t seq = Apply(100, 10);
  WorkerSnapshot();
  follower->Refresh();
  ASSERT_TRUE(follower->WaitForSeqForTest(seq, seconds(30)));
  EXPECT_EQ(follower->snapshot_jumps(), 0u);
  EXPECT_EQ(follower->indexes()->size(), 110u);

  // Far behind (400 chunks, and a snapshot that covers them): loaded, not replayed; the
  // change written after that snapshot is replayed on top of it.
  seq = Apply(110, 400);
  WorkerSnapshot();
  const std::uint64_t tail = Apply(510, 8);
  ASSERT_GT(tail, seq);
  follower->Refresh();
  ASSERT_TRUE(follower->WaitForSeqForTest(tail, seconds(30)));
  EXPECT_EQ(follower->snapshot_jumps(), 1u);
  std::shared_ptr<const index::IndexSet> indexes = follower->indexes();
  EXPECT_EQ(indexes->size(), 518u);
  EXPECT_EQ(indexes->vector_size(), 518u);
  EXPECT_EQ(indexes->keyword_size(), 518u);
  EXPECT_EQ(indexes->applied_seq(), tail);
  // The jumped-to indexes answer like the worker's: every document finds itself.
  auto scope = indexes->ResolveContainers({"alpha", "beta"});
  auto hits = indexes->SearchKeyword(index::Field::kBody, indexes->analyzer().Terms("본문 517 번째"), 1, scope);
  ASSERT_FALSE(hits.empty());
}

TEST_F(FollowerTest, RatioZeroAlwaysReplays) {
  Apply(0, 20);
  WorkerSnapshot();
  Follower::Options o = FollowerOptions();
  o.snapshot_jump_ratio = 0;
  o.snapshot_jump_min = 1;
  Follower follower(o);
  ASSERT_TRUE(follower.WaitForSeqForTest(1, seconds(30)));
  std::uint64_t seq = Apply(20, 300);
  WorkerSnapshot();
  follower.Refresh();
  ASSERT_TRUE(follower.WaitForSeqForTest(seq, seconds(30)));
  EXPECT_EQ(follower.snapshot_jumps(), 0u);
  EXPECT_EQ(follower.indexes()->size(), 320u);
}

// /readyz's lag rule: a daemon that has not caught up for longer than max_lag says so, with the
// number of change records it is behind, and is ready again once it has caught up.
TEST_F(FollowerTest, BehindForLongerThanMaxLagIsNotReadyUntilCaughtUp) {
  Apply(0, 10);
  Follower::Options o = FollowerOptions();
  o.snapshot_jump_ratio = 0;  // replay the gap, which takes long enough to be seen
  o.max_lag = std::chrono::milliseconds(1);
  Follower follower(o);
  ASSERT_TRUE(follower.WaitForSeqForTest(1, seconds(30)));
  EXPECT_EQ(follower.not_ready_reason(), "");
  EXPECT_EQ(follower.lag().changes, 0u);

  // 40 changes of 200 chunks: the follower learns the store's sequence, then inserts 8,000
  // chunks into its graph while this thread watches.
  std::uint64_t seq = 0;
  for (int i = 0; i < 40; ++i) seq = Apply(10 + i * 200, 200);
  follower.Refresh();
  std::string seen;
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  while (seen.empty() && std::chrono::steady_clock::now() < deadline) {
    if (follower.indexes()->applied_seq() >= seq) break;  // caught up before it was seen
    std::string reason = follower.not_ready_reason();
    if (reason.find("behind the worker by") != std::string::npos) {
      seen = reason;
      EXPECT_GT(follower.lag().changes, 0u);
      EXPECT_TRUE(follower.ready());  // still serving meanwhile
    }
    // Poll, not spin: on 2 cores under ThreadSanitizer a spinning watcher starved the replay it
    // watches past the deadline below.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_NE(seen, "") << "the follower never reported its lag while replaying 8,000 chunks";
  EXPECT_NE(seen.find("follow.max_lag_ms=1"), std::string::npos) << seen;
  ASSERT_TRUE(follower.WaitForSeqForTest(seq, seconds(240)));  // 8,000 inserts under TSan
  // WaitForSeq wakes as the last batch applies; the round's end marks it caught up.
  const auto until = std::chrono::steady_clock::now() + seconds(30);
  while (!follower.not_ready_reason().empty() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(follower.not_ready_reason(), "");
  EXPECT_EQ(follower.lag().changes, 0u);
  EXPECT_EQ(follower.lag().behind_for.count(), 0);
}

// Issue 14: a change record that does not decode is corruption, reported as such: /readyz says
// so, tide_query_corruption's source is set, and the indexes stay at the record before it while
// searches go on. Catch-up no longer stops silently there. Once the store holds a good record
// at that sequence, the follower gets past it and the report clears.
TEST_F(FollowerTest, Issue14_ACorruptChangeRecordIsReportedAndTheIndexesStayServing) {
  ASSERT_EQ(Apply(0, 10), 1u);
  {
    storage::WriteBatch wb;
    wb.Put(storage::Cf::kChanges, storage::EncodeU64(2), "\x01{not a change record");
    wb.Put(storage::Cf::kMeta, storage::kMetaNextChangeSeq, storage::EncodeU64(3));
    ASSERT_TRUE(store_->Write(&wb).ok());
  }
  std::unique_ptr<Follower> follower = StartFollower();
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (follower->corruption().ok() && std::chrono::steady_clock::now() < deadline) {
  }
  ASSERT_FALSE(follower->corruption().ok()) << "a corrupt change record was not reported";
  EXPECT_EQ(follower->corruption().code(), Status::Code::kCorruption);
  EXPECT_NE(follower->corruption().message().find("change record 2 does not decode"), std::string::npos)
      << follower->corruption().ToString();
  EXPECT_NE(follower->not_ready_reason().find("change log is corrupt"), std::string::npos)
      << follower->not_ready_reason();

  // The worker writes change 2 again (its own counter never moved past it): a good record.
  ASSERT_EQ(Apply(10, 5), 2u);
  follower->Refresh();
  ASSERT_TRUE(follower->WaitForSeqForTest(2, seconds(30))) << follower->not_ready_reason();
  // The report clears, and the daemon turns ready, when the round that got past it ends.
  const auto until = std::chrono::steady_clock::now() + seconds(30);
  while (!follower->not_ready_reason().empty() && std::chrono::steady_clock::now() < until) {
  }
  EXPECT_TRUE(follower->corruption().ok());
  EXPECT_EQ(follower->not_ready_reason(), "");
  ASSERT_NE(follower->indexes(), nullptr);
  EXPECT_EQ(follower->indexes()->size(), 15u);
}

// Issue 14: a worker killed while writing a snapshot leaves its temporary directory; the next
// worker removes such leftovers before it loads, and complete snapshots stay loadable.
TEST_F(FollowerTest, Issue14_UnfinishedSnapshotsAreRemovedAndCompleteOnesKept) {
  Apply(0, 20);
  WorkerSnapshot();
  const std::filesystem::path root = dir_.path() / "snapshots";
  std::filesystem::create_directories(root / ".tmp-snap-00000000000000000009-4242");
  ASSERT_TRUE(WriteFileAtomic(root / ".tmp-snap-00000000000000000009-4242" / "vectors.hnsw", "half a graph").ok());
  Result<std::size_t> removed = index::IndexSet::RemoveUnfinishedSnapshots(root);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(std::filesystem::exists(root / ".tmp-snap-00000000000000000009-4242"));
  EXPECT_EQ(index::IndexSet::ListSnapshotDirs(root).size(), 1u);
  auto loaded = index::IndexSet::LoadLatestSnapshot(root, index_options_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), 20u);
  EXPECT_EQ(*index::IndexSet::RemoveUnfinishedSnapshots(dir_.path() / "nowhere"), 0u);
}

// Issue 14: finishing a snapshot (under the apply lock) removes nothing; the ones it replaces
// are removed after, by RemoveOldSnapshots, on whatever thread the writer picks (the worker's
// indexer: one of its own). The newest keeps loading, its sealed files linked from the removed.
TEST_F(FollowerTest, Issue14_OldSnapshotsAreRemovedAfterTheNewOneIsFinishedNotByTheFinish) {
  index_options_.vector.segment_max_chunks = 40;
  auto set = index::IndexSet::Create(index_options_);
  ASSERT_TRUE(set.ok());
  const std::filesystem::path root = dir_.path() / "snapshots";
  for (int i = 0; i < 3; ++i) {
    Apply(i * 50, 50);
    ASSERT_TRUE(index::CatchUp(**set, *store_, SIZE_MAX).ok());
    ASSERT_TRUE((*set)->SaveSnapshot(root, /*keep=*/3).ok());
  }
  const std::uint64_t last = Apply(150, 50);
  ASSERT_TRUE(index::CatchUp(**set, *store_, SIZE_MAX).ok());
  {
    const index::IndexSet::ApplyLock lock = (*set)->LockForApply();
    auto pending = (*set)->PrepareSnapshot(lock, root);
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    ASSERT_NE(*pending, nullptr);
    ASSERT_TRUE((*pending)->Write().ok());
    ASSERT_TRUE((*set)->FinishSnapshot(lock, **pending).ok());
  }
  EXPECT_EQ(index::IndexSet::ListSnapshotDirs(root).size(), 4u);

  EXPECT_EQ(index::IndexSet::RemoveOldSnapshots(root, /*keep=*/2), 2u);
  auto dirs = index::IndexSet::ListSnapshotDirs(root);
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(dirs.front().first, last);
  EXPECT_EQ(index::IndexSet::RemoveOldSnapshots(root, /*keep=*/0), 1u);  // at least one stays
  dirs = index::IndexSet::ListSnapshotDirs(root);
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(dirs.front().first, last);
  auto loaded = index::IndexSet::LoadLatestSnapshot(root, index_options_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->size(), 200u);
  EXPECT_EQ((*loaded)->VectorContentHash(), (*set)->VectorContentHash());
  EXPECT_EQ(index::IndexSet::RemoveOldSnapshots(dir_.path() / "nowhere", 2), 0u);
}

// Issue 14: the worker writes a snapshot while its indexes go on taking changes (the state is
// copied out under the apply lock, the rest written after it). The snapshot is the state it was
// prepared at, not a mix, and a daemon loading it replays the rest from the change log.
TEST_F(FollowerTest, Issue14_ASnapshotWrittenWhileChangesGoOnHoldsTheStateItWasPreparedAt) {
  auto set = index::IndexSet::Create(index_options_);
  ASSERT_TRUE(set.ok());
  const std::uint64_t prepared_at = Apply(0, 30);
  ASSERT_TRUE(index::CatchUp(**set, *store_, SIZE_MAX).ok());
  const std::filesystem::path root = dir_.path() / "snapshots";
  auto pending = [&] {
    const index::IndexSet::ApplyLock lock = (*set)->LockForApply();
    return (*set)->PrepareSnapshot(lock, root);
  }();
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_NE(*pending, nullptr);
  EXPECT_EQ((*pending)->seq(), prepared_at);

  // Changes go on: new documents, and new versions of some in the snapshot.
  Apply(30, 20);
  const std::uint64_t last = Apply(0, 10, /*version=*/2);
  ASSERT_TRUE(index::CatchUp(**set, *store_, SIZE_MAX).ok());
  ASSERT_EQ((*set)->applied_seq(), last);

  ASSERT_TRUE((*pending)->Write().ok());
  {
    const index::IndexSet::ApplyLock lock = (*set)->LockForApply();
    ASSERT_TRUE((*set)->FinishSnapshot(lock, **pending).ok());
  }
  auto loaded = index::IndexSet::LoadLatestSnapshot(root, index_options_);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->applied_seq(), prepared_at);
  EXPECT_EQ((*loaded)->size(), 30u);
  // The change log after it brings it to the live set.
  ASSERT_TRUE(index::CatchUp(**loaded, *store_, SIZE_MAX).ok());
  EXPECT_EQ((*loaded)->applied_seq(), last);
  EXPECT_EQ((*loaded)->Labels(), (*set)->Labels());
  EXPECT_EQ((*loaded)->size(), 50u);
  // Nothing of the write is left aside.
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp-")) << entry.path();
  }
  EXPECT_EQ(index::IndexSet::ListSnapshotDirs(root).size(), 1u);
}

// Issue 14: the worker trims the change records its kept snapshots cover. A daemon behind that
// point loads the newest snapshot even when it would otherwise replay (ratio 0); with every
// snapshot gone, a process starting empty builds from the store's chunks. Both end equal to
// the store.
TEST_F(FollowerTest, Issue14_BehindATrimmedChangeLogLoadsASnapshotOrBuildsFromTheStore) {
  Apply(0, 10);
  Follower::Options o = FollowerOptions();
  o.snapshot_jump_ratio = 0;  // would always replay, but cannot: the changes are gone
  Follower follower(o);
  ASSERT_TRUE(follower.WaitForSeqForTest(1, seconds(30)));

  // A set of this process that stays at change 1 (it holds 10 chunks).
  auto partial = index::IndexSet::Create(index_options_);
  ASSERT_TRUE(partial.ok());
  ASSERT_TRUE(index::CatchUp(**partial, *store_, 1).ok());
  std::uint64_t seq = 0;
  for (int i = 0; i < 5; ++i) seq = Apply(10 + i * 10, 10);
  WorkerSnapshot();  // covers every change
  {
    // What Indexer::TrimChanges writes after it.
    storage::WriteBatch wb;
    wb.DeleteRange(storage::Cf::kChanges, storage::EncodeU64(0), storage::EncodeU64(seq + 1));
    wb.Put(storage::Cf::kMeta, storage::kMetaFirstChangeSeq, storage::EncodeU64(seq + 1));
    ASSERT_TRUE(store_->Write(&wb).ok());
  }
  const std::uint64_t after = Apply(60, 10);  // the log now holds only this change
  follower.Refresh();
  ASSERT_TRUE(follower.WaitForSeqForTest(after, seconds(30))) << follower.not_ready_reason();
  EXPECT_EQ(follower.snapshot_jumps(), 1u);
  EXPECT_EQ(follower.indexes()->size(), 70u);

  // Without snapshots an empty set is built from the store, and replays what follows.
  std::filesystem::remove_all(dir_.path() / "snapshots");
  auto fresh = index::IndexSet::Create(index_options_);
  ASSERT_TRUE(fresh.ok());
  Result<std::size_t> built = index::CatchUp(**fresh, *store_, 1000);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  EXPECT_EQ((*fresh)->applied_seq(), after);
  EXPECT_EQ((*fresh)->size(), 70u);
  EXPECT_EQ((*fresh)->Labels(), follower.indexes()->Labels());
  EXPECT_EQ((*fresh)->applied_offsets(), follower.indexes()->applied_offsets());
  // A set that holds something cannot skip trimmed changes: it is told so, and stays usable.
  Result<std::size_t> behind = index::CatchUp(**partial, *store_, 1000);
  ASSERT_FALSE(behind.ok());
  EXPECT_EQ(behind.status().code(), Status::Code::kNotFound);
  EXPECT_NE(behind.status().message().find("were trimmed from the log"), std::string::npos) << behind.status().ToString();
  EXPECT_EQ((*partial)->applied_seq(), 1u);
  EXPECT_EQ((*partial)->size(), 10u);
}

// Issue 14 / decision 0011: the worker's vector graphs are segments. A full one is sealed,
// written by the first snapshot after that, and hard-linked by every later one, so pruning an
// old snapshot loses nothing; its tombstones are the snapshot's own. A daemon loading the
// newest snapshot answers exactly as one graph built from the store does.
TEST_F(FollowerTest, Issue14_SealedVectorSegmentsAreWrittenOnceSharedAndServedAsOneIndex) {
  index_options_.vector.segment_max_chunks = 40;
  auto worker = index::IndexSet::Create(index_options_);
  ASSERT_TRUE(worker.ok());
  const std::filesystem::path root = dir_.path() / "snapshots";
  auto catch_up = [&](index::IndexSet& set) {
    for (;;) {
      auto applied = index::CatchUp(set, *store_, 1000);
      ASSERT_TRUE(applied.ok()) << applied.status().ToString();
      if (*applied == 0) break;
    }
  };
  auto newest_manifest = [&] {
    Result<std::string> text = ReadFile(index::IndexSet::ListSnapshotDirs(root).front().second / "MANIFEST.json");
    return text.ok() ? nlohmann::json::parse(*text) : nlohmann::json();
  };
  std::uint64_t seq = 0;
  for (int round = 0; round < 5; ++round) {
    seq = Apply(round * 30, 30);
    catch_up(**worker);
    ASSERT_TRUE((*worker)->SaveSnapshot(root, 1).ok());  // keeps only the newest
  }
  EXPECT_EQ((*worker)->sealed_vector_segments(), 3u);  // 150 chunks in graphs of 40
  EXPECT_EQ((*worker)->sealed_keyword_segments(), 3u);  // and BM25 segments of 40
  nlohmann::json manifest = newest_manifest();
  ASSERT_EQ(manifest["segments"]["sealed"].size(), 3u);
  ASSERT_EQ(manifest["keyword_segments"]["sealed"].size(), 3u) << manifest.dump();
  EXPECT_FALSE(manifest["keyword_segments"]["sealed"][0]["written"].get<bool>());
  EXPECT_TRUE(manifest["keyword_segments"]["sealed"][2]["written"].get<bool>());
  // The third graph was sealed in the last round; the others came from pruned snapshots.
  EXPECT_FALSE(manifest["segments"]["sealed"][0]["written"].get<bool>());
  EXPECT_FALSE(manifest["segments"]["sealed"][1]["written"].get<bool>());
  EXPECT_TRUE(manifest["segments"]["sealed"][2]["written"].get<bool>());
  EXPECT_EQ(index::IndexSet::ListSnapshotDirs(root).size(), 1u);

  // Updates tombstone chunks of the sealed graphs; a new snapshot links the graphs again and
  // records the tombstones beside them. The first graph, left with nothing live, is dropped.
  seq = Apply(0, 50, /*version=*/2);
  catch_up(**worker);
  ASSERT_TRUE((*worker)->SaveSnapshot(root, 1).ok());
  manifest = newest_manifest();
  ASSERT_EQ(manifest["segments"]["sealed"].size(), 3u) << manifest.dump();
  EXPECT_EQ(manifest["segments"]["sealed"][0]["id"].get<std::uint64_t>(), 2u) << manifest.dump();
  EXPECT_FALSE(manifest["segments"]["sealed"][0]["written"].get<bool>());
  EXPECT_EQ(manifest["segments"]["sealed"][0]["live"].get<std::size_t>(), 30u) << manifest.dump();
  const std::uint64_t tail = Apply(150, 5);  // replayed on top of the snapshot
  ASSERT_GT(tail, seq);

  auto follower = StartFollower();
  ASSERT_TRUE(follower->WaitForSeqForTest(tail, seconds(30))) << follower->not_ready_reason();
  std::shared_ptr<const index::IndexSet> served = follower->indexes();
  index::IndexSet::Options whole = index_options_;
  whole.vector.segment_max_chunks = 0;
  auto reference = index::IndexSet::Create(whole);
  ASSERT_TRUE(reference.ok());
  catch_up(**reference);
  EXPECT_EQ(served->Labels(), (*reference)->Labels());
  EXPECT_EQ(served->size(), 155u);
  EXPECT_EQ(served->vector_size(), 155u);
  EXPECT_GE(served->sealed_vector_segments(), 3u);
  const auto scope = served->ResolveContainers({"alpha", "beta"});
  const auto reference_scope = (*reference)->ResolveContainers({"alpha", "beta"});
  for (int i = 0; i < 155; i += 7) {
    std::vector<float> query;
    ASSERT_TRUE(embedder_.Embed({"본문 " + std::to_string(i) + " 번째 문서의 내용입니다."},
                                embedding::InputType::kQuery, &query).ok());
    auto got = served->SearchVector(query, 10, scope);
    auto want = (*reference)->SearchVector(query, 10, reference_scope);
    ASSERT_TRUE(got.ok() && want.ok());
    ASSERT_EQ(got->size(), want->size());
    for (std::size_t j = 0; j < got->size(); ++j) {
      EXPECT_EQ((*got)[j].label, (*want)[j].label) << "query " << i << " rank " << j;
      EXPECT_FLOAT_EQ((*got)[j].score, (*want)[j].score);
    }
    // BM25 over the keyword segments (the loaded ones, with the deletes since their files
    // were written, and those sealed while following) scores as one index does.
    const std::vector<std::string> terms = served->analyzer().Terms("본문 " + std::to_string(i) + " 번째 문서");
    for (index::Field field : {index::Field::kBody, index::Field::kTitle}) {
      const std::vector<index::KeywordHit> got_words = served->SearchKeyword(field, terms, 10, scope);
      const std::vector<index::KeywordHit> want_words = (*reference)->SearchKeyword(field, terms, 10, reference_scope);
      ASSERT_EQ(got_words.size(), want_words.size()) << "query " << i;
      for (std::size_t j = 0; j < got_words.size(); ++j) {
        EXPECT_NEAR(got_words[j].score, want_words[j].score, 1e-4 * want_words[j].score) << "query " << i << " rank " << j;
        if (j + 1 < got_words.size() && got_words[j].score != got_words[j + 1].score) {
          EXPECT_EQ(got_words[j].label, want_words[j].label) << "query " << i << " rank " << j;
        }
      }
    }
  }
  EXPECT_GE(served->sealed_keyword_segments(), 2u);
}

// Issue 14: a damaged snapshot file is reported as corruption (an error in the log, and
// tide_query_corrupt_snapshots) and the daemon starts from the older snapshot and the change
// log instead, ending equal to the store.
TEST_F(FollowerTest, Issue14_ADamagedSnapshotIsReportedAndAnOlderOneUsed) {
  const std::uint64_t seq = TwoSegmentedSnapshots();
  const std::filesystem::path newest = index::IndexSet::ListSnapshotDirs(dir_.path() / "snapshots").front().second;
  ASSERT_TRUE(std::filesystem::exists(newest / "seg-0000000001.hnsw"));
  ASSERT_TRUE(WriteFileAtomic(newest / "tombstones.bin", "\x01\x07garbage").ok());
  ExpectOneCorruptSnapshotSkipped(seq);
}

// The same for a sealed keyword segment's file, garbled in the newest snapshot only (replaced,
// not written through, in case the older snapshot links the same file).
TEST_F(FollowerTest, Issue14_ADamagedKeywordSegmentIsReportedAndAnOlderSnapshotUsed) {
  const std::uint64_t seq = TwoSegmentedSnapshots();
  const auto snapshots = index::IndexSet::ListSnapshotDirs(dir_.path() / "snapshots");
  const std::filesystem::path file = snapshots.front().second / "kw-0000000001.bin";
  ASSERT_TRUE(std::filesystem::exists(snapshots.back().second / "kw-0000000001.bin"));
  const std::uintmax_t size = std::filesystem::file_size(file);
  std::filesystem::remove(file);
  ASSERT_TRUE(WriteFileAtomic(file, std::string(size, '\x7f')).ok());
  ExpectOneCorruptSnapshotSkipped(seq);
}

// The manifest itself damaged so that it still parses and names what a loader checks (the
// keyword segments' next id one higher: the snapshot would load, and a later seal would skip
// an id): its own checksum tells.
TEST_F(FollowerTest, Issue14_AManifestDamagedButStillReadableIsCaughtByItsOwnChecksum) {
  const std::uint64_t seq = TwoSegmentedSnapshots();
  const std::filesystem::path newest = index::IndexSet::ListSnapshotDirs(dir_.path() / "snapshots").front().second;
  Result<std::string> text = ReadFile(newest / "MANIFEST.json");
  ASSERT_TRUE(text.ok());
  nlohmann::json manifest = nlohmann::json::parse(*text);
  ASSERT_TRUE(manifest.contains("manifest_xxh3"));
  ASSERT_TRUE(index::CheckManifest(manifest).ok());
  manifest["keyword_segments"]["next_id"] = manifest["keyword_segments"]["next_id"].get<std::uint64_t>() + 1;
  ASSERT_EQ(index::CheckManifest(manifest).code(), Status::Code::kCorruption);
  ASSERT_TRUE(WriteFileAtomic(newest / "MANIFEST.json", manifest.dump(2)).ok());
  ExpectOneCorruptSnapshotSkipped(seq);
}

// A bit flipped in one vector of a sealed graph: hnswlib still loads the file, so only the
// manifest's checksum tells the snapshot is damaged. Replaced, not written through, so the
// older snapshot's link to the same file stays intact.
TEST_F(FollowerTest, Issue14_AFlippedBitThatStillLoadsIsCaughtByTheChecksum) {
  const std::uint64_t seq = TwoSegmentedSnapshots();
  const std::filesystem::path newest = index::IndexSet::ListSnapshotDirs(dir_.path() / "snapshots").front().second;
  ASSERT_NO_FATAL_FAILURE(FlipABitOfTheFirstVector(newest / "seg-0000000001.hnsw", /*in_place=*/false));
  ExpectOneCorruptSnapshotSkipped(seq);
}

// The worker keeps only the labels of a sealed graph a snapshot holds, and reads the file back
// to rebuild the graph without its tombstones: that read is checked against the checksum, so a
// file damaged since the worker verified it stops the indexing instead of being rebuilt into
// the worker's graphs.
TEST_F(FollowerTest, Issue14_ASealedGraphReadBackForARebuildIsCheckedAgainstItsChecksum) {
  index_options_.vector.segment_max_chunks = 40;
  index_options_.keep_sealed_segments = false;
  index_options_.rebuild_tombstone_ratio = 0.1;
  index_options_.rebuild_min_tombstones = 1;
  Apply(0, 100);
  auto set = index::IndexSet::Create(index_options_);
  ASSERT_TRUE(set.ok());
  ASSERT_TRUE(index::CatchUp(**set, *store_, SIZE_MAX).ok());
  ASSERT_TRUE((*set)->SaveSnapshot(dir_.path() / "snapshots", 2).ok());
  const std::filesystem::path newest = index::IndexSet::ListSnapshotDirs(dir_.path() / "snapshots").front().second;
  ASSERT_NO_FATAL_FAILURE(FlipABitOfTheFirstVector(newest / "seg-0000000001.hnsw", /*in_place=*/true));
  Apply(0, 20, 2);  // new versions: 20 of the first sealed graph's chunks become tombstones
  Result<std::size_t> applied = index::CatchUp(**set, *store_, SIZE_MAX);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.status().code(), Status::Code::kCorruption) << applied.status().ToString();
  EXPECT_NE(applied.status().message().find("seg-0000000001.hnsw does not match its checksum"), std::string::npos)
      << applied.status().message();
}

}  // namespace
}  // namespace tide::query
