// The query daemon copies the worker's vector graph instead of building its own (decision
// 0011): the worker records what each catch-up round did to its growing graph, the daemon
// applies the records, and both graphs stay equal (content hash) across seals, deletes in
// sealed graphs, a worker restart that goes on from its own records, and a new generation.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/embedding/hash_embedder.h"
#include "common/file_util.h"
#include "common/index/index_set.h"
#include "common/index/replayer.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "ingest/fsck.h"
#include "ingest/indexer.h"
#include "query/follower.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide {
namespace {

using std::chrono::seconds;

constexpr int kDim = 32;

std::vector<ingest::BatchItem> Docs(int first, int count, std::int64_t version) {
  std::vector<ingest::BatchItem> batch;
  for (int i = first; i < first + count; ++i) {
    ingest::Event e;
    e.container_id = i % 2 ? "alpha" : "beta";
    e.doc_id = "doc-" + std::to_string(i);
    e.version = version;
    e.title = "문서 " + std::to_string(i);
    e.text = "본문 " + std::to_string(i) + " 번째 문서, 판 " + std::to_string(version) + "의 내용입니다.";
    batch.push_back({"t", 0, i, e});
  }
  return batch;
}

class GraphRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = storage::Store::OpenPrimary(dir_.path() / "store", {.sync_writes = false});
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    applier_ = std::make_unique<ingest::Applier>(store_.get(), &embedder_, ingest::Applier::Options{});
    ASSERT_TRUE(applier_->Init().ok());
    options_.model_id = embedder_.model_id();
    options_.vector.dim = kDim;
    options_.vector.segment_max_chunks = 40;  // seals every 40 chunks
    options_.keep_sealed_segments = true;       // so the worker's hash covers its sealed graphs too
  }

  // The worker's start (ingest::OpenIndexes) and its indexer, writing records per round; by
  // default it snapshots only when a test asks (Stop), with 0 after every round that changed
  // something.
  void StartWorker(std::chrono::seconds snapshot_interval = std::chrono::hours(1)) {
    auto indexes = ingest::OpenIndexes(options_, store_.get(), snapshots(), 2);
    ASSERT_TRUE(indexes.ok()) << indexes.status().ToString();
    worker_ = std::move(*indexes);
    ingest::Indexer::Options o;
    o.snapshot_dir = snapshots();
    o.snapshot_interval = snapshot_interval;
    indexer_ = std::make_unique<ingest::Indexer>(o, store_.get(), worker_.get(), nullptr);
  }
  // A worker killed -9: its indexes are gone and nothing written after the kill survives. The
  // indexer's Stop writes a final snapshot, so the snapshots it wrote are removed again.
  // `unindexed` runs after the worker's last record: what the store got that it never indexed.
  void KillWorker(const std::function<void()>& unindexed = {}) {
    const auto before = index::IndexSet::ListSnapshotDirs(snapshots());
    indexer_.reset();
    if (unindexed) unindexed();
    worker_.reset();
    for (const auto& [seq, dir] : index::IndexSet::ListSnapshotDirs(snapshots())) {
      if (before.empty() || seq > before.front().first) std::filesystem::remove_all(dir);
    }
  }

  // Applies a batch and lets the worker's indexer index and record it.
  std::uint64_t Apply(int first, int count, std::int64_t version = 1) {
    auto result = applier_->ApplyBatch(Docs(first, count, version));
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    if (!result.ok()) return 0;
    indexer_->Notify(result->change_seq);
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (worker_->applied_seq() < result->change_seq && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    EXPECT_EQ(worker_->applied_seq(), result->change_seq);
    return result->change_seq;
  }

  // The newest graph record's change, polled until the indexer wrote one through `seq`.
  bool WaitForRecord(std::uint64_t seq) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      std::uint64_t last = 0;
      EXPECT_TRUE(store_->Scan(storage::Cf::kGraph, "", "", [&](std::string_view key, std::string_view) {
        last = *storage::DecodeU64(key);
        return true;
      }).ok());
      if (last >= seq) return true;
      std::this_thread::yield();
    }
    return false;
  }

  // `interval`: how often it follows the store; an hour for rounds only at start and on
  // Refresh().
  std::unique_ptr<query::Follower> StartFollower(std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
    query::Follower::Options o;
    o.data_dir = dir_.path();
    o.secondary_dir = dir_.path() / "secondary";
    o.interval = interval;
    o.index = options_;
    return std::make_unique<query::Follower>(o);
  }

  // tidectl fsck over the store and its snapshots finds nothing wrong.
  void ExpectFsckClean() {
    const std::filesystem::path dir = snapshots();
    auto report = ingest::CheckStore(*store_, &dir, options_);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->ok()) << (report->problems.empty() ? "" : report->problems.front());
  }

  std::filesystem::path snapshots() const { return dir_.path() / "snapshots"; }

  testutil::TempDir dir_;
  embedding::HashEmbedder embedder_{embedding::HashEmbedder::Options{kDim}};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ingest::Applier> applier_;
  index::IndexSet::Options options_;
  std::unique_ptr<index::IndexSet> worker_;
  std::unique_ptr<ingest::Indexer> indexer_;
};

TEST_F(GraphRecordsTest, Issue14_TheDaemonCopiesTheWorkersGraphAcrossSealsDeletesAndARestart) {
  StartWorker();
  EXPECT_EQ(worker_->graph_generation(), 1u);  // a first start begins generation 1 ...
  EXPECT_EQ(index::IndexSet::ListSnapshotDirs(snapshots()).size(), 1u);  // ... with its snapshot

  auto follower = StartFollower();
  std::uint64_t seq = 0;
  for (int round = 0; round < 4; ++round) seq = Apply(round * 25, 25);
  seq = Apply(0, 30, /*version=*/2);  // replaces chunks of sealed graphs and of the growing one
  ASSERT_TRUE(WaitForRecord(seq));
  ASSERT_TRUE(follower->WaitForSeqForTest(seq, seconds(30))) << follower->not_ready_reason();
  std::shared_ptr<const index::IndexSet> served = follower->indexes();
  EXPECT_GE(served->sealed_vector_segments(), 2u);
  EXPECT_EQ(served->VectorContentHash(), worker_->VectorContentHash());
  EXPECT_EQ(served->Labels(), worker_->Labels());
  EXPECT_EQ(served->vector_size(), 100u);
  EXPECT_EQ(served->graph_generation(), 1u);

  // A worker killed after its records but before a snapshot covers them: restarted, it applies
  // its own records (it inserts nothing the daemon copied), then inserts and records the rest.
  KillWorker();
  StartWorker();
  EXPECT_EQ(worker_->graph_generation(), 1u);
  EXPECT_EQ(worker_->VectorContentHash(), served->VectorContentHash());
  seq = Apply(100, 40);
  seq = Apply(40, 20, /*version=*/3);
  ASSERT_TRUE(WaitForRecord(seq));
  ASSERT_TRUE(follower->WaitForSeqForTest(seq, seconds(30)));
  EXPECT_EQ(follower->indexes()->VectorContentHash(), worker_->VectorContentHash());
  EXPECT_EQ(follower->indexes()->vector_size(), 140u);
  EXPECT_EQ(follower->snapshot_jumps(), 0u);  // followed records, never reloaded

  ExpectFsckClean();
}

TEST_F(GraphRecordsTest, Issue14_AChunkCopiedByARecordAndDeletedAfterItLeavesTheRestartedWorkersGraph) {
  StartWorker();
  auto follower = StartFollower();
  const std::uint64_t recorded = Apply(0, 20);
  ASSERT_TRUE(WaitForRecord(recorded));
  // Replaced in the store, but the worker is killed before it indexes (and records) that.
  KillWorker([&] { ASSERT_TRUE(applier_->ApplyBatch(Docs(0, 20, /*version=*/2)).ok()); });
  // Restarted, the worker copies the 20 vectors from its record while their chunks are gone
  // from the store, then replays the change that deletes them: they must leave its graph.
  StartWorker();
  EXPECT_EQ(worker_->size(), 20u);
  EXPECT_EQ(worker_->vector_size(), 20u);
  const std::uint64_t next = Apply(20, 5);
  ASSERT_TRUE(WaitForRecord(next));
  ASSERT_TRUE(follower->WaitForSeqForTest(next, seconds(30))) << follower->not_ready_reason();
  EXPECT_EQ(follower->indexes()->vector_size(), 25u);
  EXPECT_EQ(follower->indexes()->VectorContentHash(), worker_->VectorContentHash());
}

TEST_F(GraphRecordsTest, Issue14_AWorkerWithoutItsSnapshotsStartsANewGenerationAndTheDaemonLoadsIt) {
  StartWorker();
  auto follower = StartFollower();
  std::uint64_t seq = Apply(0, 50);
  ASSERT_TRUE(follower->WaitForSeqForTest(seq, seconds(30))) << follower->not_ready_reason();
  ASSERT_TRUE(indexer_->Stop().ok());
  KillWorker();
  std::filesystem::remove_all(snapshots());

  // Built by inserting every chunk again: a graph the daemon's copy cannot follow.
  StartWorker();
  EXPECT_EQ(worker_->graph_generation(), 2u);
  seq = Apply(50, 10);
  ASSERT_TRUE(WaitForRecord(seq));
  ASSERT_TRUE(follower->WaitForSeqForTest(seq, seconds(30))) << follower->not_ready_reason();
  EXPECT_EQ(follower->indexes()->graph_generation(), 2u);
  EXPECT_EQ(follower->indexes()->VectorContentHash(), worker_->VectorContentHash());
  EXPECT_EQ(follower->indexes()->size(), 60u);
  EXPECT_GE(follower->snapshot_jumps(), 1u);
}

TEST_F(GraphRecordsTest, Issue14_AnUpgradedWorkerOnAQuietStoreReplacesItsSnapshotWithOneOfTheNewGeneration) {
  // What an older worker left: changes and a snapshot at the last of them, no graph records.
  auto applied = applier_->ApplyBatch(Docs(0, 10, 1));
  ASSERT_TRUE(applied.ok());
  {
    auto old = index::IndexSet::Create(options_);
    ASSERT_TRUE(old.ok());
    ASSERT_TRUE(index::CatchUp(**old, *store_, SIZE_MAX).ok());
    ASSERT_TRUE((*old)->SaveSnapshot(snapshots(), 2).ok());
  }
  auto follower = StartFollower();  // follows by inserting, as before records existed
  ASSERT_TRUE(follower->WaitForSeqForTest(applied->change_seq, seconds(30))) << follower->not_ready_reason();
  EXPECT_EQ(follower->indexes()->graph_generation(), 0u);

  // Nothing new arrives, yet the snapshot at the same sequence is replaced by one of
  // generation 1, and the daemon, already serving, loads it.
  StartWorker();
  const auto dirs = index::IndexSet::ListSnapshotDirs(snapshots());
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(dirs.front().first, applied->change_seq);
  EXPECT_EQ(worker_->graph_generation(), 1u);
  ASSERT_TRUE(testutil::WaitFor([&] { return follower->indexes()->graph_generation() == 1u; }, seconds(30)));
  const std::uint64_t next = Apply(10, 5);
  ASSERT_TRUE(WaitForRecord(next));
  ASSERT_TRUE(follower->WaitForSeqForTest(next, seconds(30)));
  EXPECT_EQ(follower->indexes()->VectorContentHash(), worker_->VectorContentHash());
  EXPECT_EQ(follower->indexes()->size(), 15u);

  // And a restart without new changes keeps generation 1 (the snapshot is of it already).
  KillWorker();
  StartWorker();
  EXPECT_EQ(worker_->graph_generation(), 1u);
}

TEST_F(GraphRecordsTest, Issue14_WithGraphRecordsTheDaemonWaitsForTheWorkersSnapshot) {
  // A store whose worker records its graph but whose snapshot is not there (yet): the daemon
  // does not build a graph of its own; it is not ready and says why.
  StartWorker();
  const std::uint64_t seq = Apply(0, 10);
  ASSERT_TRUE(WaitForRecord(seq));
  KillWorker();
  std::filesystem::rename(snapshots(), dir_.path() / "hidden");
  auto follower = StartFollower();
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (follower->not_ready_reason().find("generation") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_FALSE(follower->ready());
  EXPECT_NE(follower->not_ready_reason().find("waiting for the worker's index snapshot of vector graph generation 1"),
            std::string::npos)
      << follower->not_ready_reason();
  std::filesystem::rename(dir_.path() / "hidden", snapshots());
  follower->Refresh();
  ASSERT_TRUE(follower->WaitForSeqForTest(seq, seconds(30))) << follower->not_ready_reason();
  EXPECT_EQ(follower->indexes()->size(), 10u);  // the snapshot at seq 0, then the record
}

TEST_F(GraphRecordsTest, Issue14_ACorruptGraphRecordIsReportedAndANewGenerationRepairsIt) {
  StartWorker();
  const std::uint64_t good = Apply(0, 20);
  ASSERT_TRUE(WaitForRecord(good));
  // A daemon serving the first record, which follows the store only when told (no race with
  // the damage below).
  auto follower = StartFollower(std::chrono::hours(1));
  ASSERT_TRUE(follower->WaitForSeqForTest(good, seconds(30))) << follower->not_ready_reason();
  const std::uint64_t bad = Apply(20, 20);
  ASSERT_TRUE(WaitForRecord(bad));
  KillWorker();
  // The record's graph bytes damaged (its header still decodes).
  storage::WriteBatch wb;
  wb.Put(storage::Cf::kGraph, storage::EncodeU64(bad),
         storage::EncodeGraphRecord({1, good, std::string("\x01\x05garbage", 9)}));
  ASSERT_TRUE(store_->Write(&wb).ok());
  follower->Refresh();
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (follower->corruption().ok() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_EQ(follower->corruption().code(), Status::Code::kCorruption) << follower->corruption().ToString();
  EXPECT_NE(follower->corruption().message().find("vector graph record"), std::string::npos)
      << follower->corruption().message();
  EXPECT_EQ(follower->indexes()->applied_seq(), good);  // still serving what it had
  EXPECT_EQ(follower->indexes()->size(), 20u);
  EXPECT_NE(follower->not_ready_reason().find("corrupt"), std::string::npos);
  const std::filesystem::path newest = snapshots();
  auto report = ingest::CheckStore(*store_, &newest, options_);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_FALSE(report->ok());
  EXPECT_NE(report->problems.front().find("vector graph records"), std::string::npos) << report->problems.front();

  // The worker meets the same record at start: it builds its graph anew in generation 2, and
  // the daemon replaces its indexes by that generation's snapshot.
  StartWorker();
  EXPECT_EQ(worker_->graph_generation(), 2u);
  EXPECT_EQ(worker_->size(), 40u);
  const std::uint64_t next = Apply(40, 5);
  ASSERT_TRUE(WaitForRecord(next));
  follower->Refresh();
  ASSERT_TRUE(follower->WaitForSeqForTest(next, seconds(30))) << follower->not_ready_reason();
  EXPECT_TRUE(testutil::WaitFor([&] { return follower->corruption().ok(); }, seconds(30)))
      << follower->corruption().ToString();
  EXPECT_EQ(follower->indexes()->VectorContentHash(), worker_->VectorContentHash());
  EXPECT_EQ(follower->indexes()->size(), 45u);
}

// A sealed graph's file damaged in place, so every snapshot that links it holds the damage:
// the worker's start finds it by the checksum (hnswlib would load it), builds its indexes
// from the store in a new generation, and a daemon started after it serves that generation.
TEST_F(GraphRecordsTest, Issue14_ASealedGraphDamagedInEverySnapshotIsFoundAndTheWorkerBuildsANewGeneration) {
  StartWorker();
  std::uint64_t seq = Apply(0, 100);  // two sealed graphs of 40
  ASSERT_TRUE(WaitForRecord(seq));
  ASSERT_TRUE(indexer_->Stop().ok());  // its last snapshot
  KillWorker();
  // Only the newest snapshot kept (the older one, from before the seal, with the records
  // after it would rebuild the same graph: a repair of its own).
  const auto dirs = index::IndexSet::ListSnapshotDirs(snapshots());
  for (std::size_t i = 1; i < dirs.size(); ++i) std::filesystem::remove_all(dirs[i].second);
  const std::filesystem::path newest = dirs.front().second;
  const std::filesystem::path file = newest / "seg-0000000001.hnsw";
  ASSERT_TRUE(std::filesystem::exists(file));
  {
    // Written through: one byte in the middle of the elements, the file's size unchanged.
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    const std::streamoff middle = static_cast<std::streamoff>(std::filesystem::file_size(file) / 2);
    f.seekg(middle);
    char byte = 0;
    f.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x10);
    f.seekp(middle);
    f.write(&byte, 1);
    ASSERT_TRUE(f.good());
  }

  StartWorker();
  EXPECT_EQ(worker_->graph_generation(), 2u);
  EXPECT_EQ(worker_->size(), 100u);
  seq = Apply(100, 5);
  ASSERT_TRUE(WaitForRecord(seq));
  auto follower = StartFollower();
  ASSERT_TRUE(follower->WaitForSeqForTest(seq, seconds(30))) << follower->not_ready_reason();
  EXPECT_EQ(follower->indexes()->graph_generation(), 2u);
  EXPECT_EQ(follower->indexes()->size(), 105u);
  EXPECT_EQ(follower->indexes()->VectorContentHash(), worker_->VectorContentHash());
  ExpectFsckClean();
}

// The newest snapshot damaged (its own copy of a sealed file), the older one intact: the
// worker starts from the older one and the graph records after it. Its next snapshot, at the
// same sequence and with nothing new to index, replaces the damaged one instead of counting
// it as written, so daemons started later find nothing damaged.
TEST_F(GraphRecordsTest, Issue14_ADamagedNewestSnapshotIsReplacedByTheWorkersNextOne) {
  StartWorker();
  ASSERT_TRUE(WaitForRecord(Apply(0, 50)));
  ASSERT_TRUE(indexer_->Stop().ok());
  KillWorker();
  StartWorker();
  const std::uint64_t seq = Apply(50, 50);
  ASSERT_TRUE(WaitForRecord(seq));
  ASSERT_TRUE(indexer_->Stop().ok());
  KillWorker();
  const auto dirs = index::IndexSet::ListSnapshotDirs(snapshots());
  ASSERT_EQ(dirs.size(), 2u);
  ASSERT_EQ(dirs.front().first, seq);
  const std::filesystem::path file = dirs.front().second / "seg-0000000001.hnsw";
  ASSERT_TRUE(std::filesystem::exists(dirs.back().second / "seg-0000000001.hnsw"));
  Result<std::string> graph = ReadFile(file);
  ASSERT_TRUE(graph.ok());
  (*graph)[graph->size() / 2] ^= 0x10;
  std::filesystem::remove(file);  // replaced, not written through: the older snapshot keeps its link
  ASSERT_TRUE(WriteFileAtomic(file, *graph).ok());

  StartWorker();
  EXPECT_EQ(worker_->graph_generation(), 1u);  // the older snapshot and the records after it
  EXPECT_EQ(worker_->applied_seq(), seq);
  ASSERT_TRUE(indexer_->Stop().ok());  // a snapshot at the same sequence
  auto follower = StartFollower();
  ASSERT_TRUE(follower->WaitForSeqForTest(seq, seconds(30))) << follower->not_ready_reason();
  EXPECT_EQ(follower->corrupt_snapshots(), 0u);
  EXPECT_EQ(follower->indexes()->size(), 100u);
  EXPECT_EQ(follower->indexes()->VectorContentHash(), worker_->VectorContentHash());
  ExpectFsckClean();
}

// The indexer's own snapshots: after each, its remover thread removes all but the newest two,
// and the change log is trimmed only through the older of those, so a daemon that finds the
// newest damaged loads the older one and catches up from the log.
TEST_F(GraphRecordsTest, Issue14_TheIndexerKeepsTwoSnapshotsAndTrimsOnlyWhatTheOlderCovers) {
  StartWorker(seconds(0));
  // The first change the log keeps when trimmed through a snapshot of `seq` (the start's
  // snapshot, of seq 0, covers no change: nothing is trimmed, and the store has no mark).
  auto FirstKept = [](std::uint64_t seq) -> std::uint64_t { return seq == 0 ? 0 : seq + 1; };
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> dirs;
  std::uint64_t seq = 0;
  for (int round = 0; round < 4; ++round) {
    seq = Apply(round * 10, 10);
    // Polled: this round's snapshot finished, the ones it replaces removed, the log trimmed.
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    std::uint64_t first_change = 0;
    do {
      dirs = index::IndexSet::ListSnapshotDirs(snapshots());
      auto meta = store_->Get(storage::Cf::kMeta, storage::kMetaFirstChangeSeq);
      ASSERT_TRUE(meta.ok());
      first_change = meta->has_value() ? *storage::DecodeU64(**meta) : 0;
      if (dirs.size() == 2 && dirs.front().first == seq && first_change == FirstKept(dirs.back().first)) break;
      std::this_thread::yield();
    } while (std::chrono::steady_clock::now() < deadline);
    ASSERT_EQ(dirs.size(), 2u) << "round " << round;
    EXPECT_EQ(dirs.front().first, seq) << "round " << round;
    // Trimmed through the older snapshot, not the newest.
    EXPECT_EQ(first_change, FirstKept(dirs.back().first)) << "round " << round;
  }
  // What the older snapshot does not cover is all still in the log.
  std::vector<std::uint64_t> changes;
  ASSERT_TRUE(store_->Scan(storage::Cf::kChanges, "", "", [&](std::string_view key, std::string_view) {
    changes.push_back(*storage::DecodeU64(key));
    return true;
  }).ok());
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes.front(), dirs.back().first + 1);
  EXPECT_EQ(changes.back(), seq);

  // The newest snapshot lost: a daemon starts from the older one and replays the rest.
  std::filesystem::remove_all(dirs.front().second);
  auto follower = StartFollower();
  ASSERT_TRUE(follower->WaitForSeqForTest(seq, seconds(30))) << follower->not_ready_reason();
  EXPECT_EQ(follower->indexes()->Labels(), worker_->Labels());
  EXPECT_EQ(follower->indexes()->VectorContentHash(), worker_->VectorContentHash());
  EXPECT_EQ(follower->indexes()->vector_size(), 40u);
}

}  // namespace
}  // namespace tide
