// The query daemon's follower: far behind the worker, it loads the worker's newer snapshot
// instead of inserting every chunk of the gap into its own graph; a little behind, it replays.

#include <chrono>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/embedding/hash_embedder.h"
#include "common/index/index_set.h"
#include "common/storage/store.h"
#include "ingest/applier.h"
#include "query/follower.h"
#include "tests/testutil/temp_dir.h"

namespace tide::query {
namespace {

using std::chrono::seconds;

constexpr int kDim = 32;

std::vector<ingest::BatchItem> Docs(int first, int count) {
  std::vector<ingest::BatchItem> batch;
  for (int i = first; i < first + count; ++i) {
    ingest::Event e;
    e.container_id = i % 2 ? "alpha" : "beta";
    e.doc_id = "doc-" + std::to_string(i);
    e.version = 1;
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
  std::uint64_t Apply(int first, int count) {
    auto result = applier_->ApplyBatch(Docs(first, count));
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? result->change_seq : 0;
  }
  void WorkerSnapshot() {
    auto set = index::IndexSet::Create(index_options_);
    ASSERT_TRUE(set.ok());
    for (;;) {
      auto applied = (*set)->CatchUp(*store_, 1000);
      ASSERT_TRUE(applied.ok());
      if (*applied == 0) break;
    }
    ASSERT_TRUE((*set)->SaveSnapshot(dir_.path() / "snapshots", 2).ok());
  }

  std::unique_ptr<Follower> StartFollower() {
    Follower::Options o;
    o.data_dir = dir_.path();
    o.secondary_dir = dir_.path() / "secondary";
    o.interval = std::chrono::hours(1);  // rounds only at start and on Refresh()
    o.index = index_options_;
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
  Follower::Options o;
  o.data_dir = dir_.path();
  o.secondary_dir = dir_.path() / "secondary";
  o.interval = std::chrono::hours(1);
  o.index = index_options_;
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
  Follower::Options o;
  o.data_dir = dir_.path();
  o.secondary_dir = dir_.path() / "secondary";
  o.interval = std::chrono::hours(1);
  o.index = index_options_;
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
  }
  EXPECT_NE(seen, "") << "the follower never reported its lag while replaying 8,000 chunks";
  EXPECT_NE(seen.find("follow.max_lag_ms=1"), std::string::npos) << seen;
  ASSERT_TRUE(follower.WaitForSeqForTest(seq, seconds(60)));
  // WaitForSeq wakes as the last batch applies; the round's end marks it caught up.
  const auto until = std::chrono::steady_clock::now() + seconds(30);
  while (!follower.not_ready_reason().empty() && std::chrono::steady_clock::now() < until) {
  }
  EXPECT_EQ(follower.not_ready_reason(), "");
  EXPECT_EQ(follower.lag().changes, 0u);
  EXPECT_EQ(follower.lag().behind_for.count(), 0);
}

}  // namespace
}  // namespace tide::query
