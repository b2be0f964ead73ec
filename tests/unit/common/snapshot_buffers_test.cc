// The memory a snapshot's copy-out goes into is made before the copy (IndexSet::SnapshotBuffers),
// sized from the last snapshot: one written by this process or, after a restart, the one it
// loaded.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/index/index_set.h"
#include "tests/testutil/index_options.h"
#include "tests/testutil/temp_dir.h"

namespace tide::index {
namespace {

using testutil::SmallIndexOptions;

TEST(SnapshotBuffersTest, ALoadedSetSizesItsNextSnapshotsBuffersFromTheSnapshotItLoaded) {
  testutil::TempDir dir;
  const auto first = dir.path() / "first";
  auto set = IndexSet::Create(SmallIndexOptions());
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_TRUE((*set)->SaveSnapshot(first, 2).ok());

  auto loaded = IndexSet::LoadLatestSnapshot(first, SmallIndexOptions());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const IndexSet::ApplyLock lock = (*loaded)->LockForApply();
  const IndexSet::SnapshotSizes sizes = (*loaded)->SnapshotBytes(lock);
  const auto snapshots = IndexSet::ListSnapshotDirs(first);
  ASSERT_EQ(snapshots.size(), 1u);
  const std::uintmax_t tables_file = std::filesystem::file_size(snapshots.front().second / "tables.bin");
  EXPECT_GT(sizes.tables, tables_file) << "no room made for the tables of a restarted process's first snapshot";
  EXPECT_GT(sizes.graph, 0u);

  IndexSet::SnapshotBuffers buffers = IndexSet::SnapshotBuffers::Touched(sizes);
  EXPECT_TRUE(buffers.tables.empty());
  EXPECT_GE(buffers.tables.capacity(), sizes.tables);
  EXPECT_GE(buffers.graph.capacity(), sizes.graph);

  // A snapshot copied into them is written and loads.
  const auto second = dir.path() / "second";
  auto pending = (*loaded)->PrepareSnapshot(lock, second, std::move(buffers));
  ASSERT_TRUE(pending.ok()) << pending.status().ToString();
  ASSERT_NE(*pending, nullptr);
  ASSERT_TRUE((*pending)->Write().ok());
  ASSERT_TRUE((*loaded)->FinishSnapshot(lock, **pending).ok());
  auto again = IndexSet::LoadLatestSnapshot(second, SmallIndexOptions());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->applied_seq(), (*loaded)->applied_seq());
}

}  // namespace
}  // namespace tide::index
