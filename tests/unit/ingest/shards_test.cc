// A worker that stops flushes each shard's store, so its next start replays no write-ahead log
// (decision 0011, "The worker's restart and the write-ahead log").

#include "ingest/shards.h"

#include <cstdint>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/embedding/hash_embedder.h"
#include "common/storage/store.h"
#include "tests/testutil/store_files.h"
#include "tests/testutil/temp_dir.h"

namespace tide::ingest {
namespace {

class ShardSetTest : public ::testing::Test {
 protected:
  ShardSet::Options Options(const std::filesystem::path& data_dir) const {
    ShardSet::Options options;
    options.layout = ShardLayout::kSingle;
    options.data_dir = data_dir;
    options.store.sync_writes = false;
    options.index.model_id = embedder_.model_id();
    options.index.vector.dim = embedder_.dimension();
    return options;
  }

  // Two MiB into the shard's chunk family: far less than a memtable, so only a flush takes it
  // out of the log.
  static void Write(storage::Store* store) {
    const std::string value(64 << 10, 'v');
    for (int i = 0; i < 32; ++i) {
      storage::WriteBatch batch;
      batch.Put(storage::Cf::kChunks, "k" + std::to_string(i), value);
      ASSERT_TRUE(store->Write(&batch).ok());
    }
  }

  testutil::TempDir dir_;
  embedding::HashEmbedder embedder_{embedding::HashEmbedder::Options{64}};
};

TEST_F(ShardSetTest, StopAllFlushesEachStoreSoTheNextStartReplaysNoLog) {
  {
    ShardSet shards(Options(dir_.path() / "stopped"), &embedder_, nullptr);
    ASSERT_TRUE(shards.Init().ok());
    Result<Shard*> shard = shards.Get(0);
    ASSERT_TRUE(shard.ok()) << shard.status().ToString();
    ASSERT_NO_FATAL_FAILURE(Write((*shard)->store.get()));
    EXPECT_GE(testutil::WalBytes(dir_.path() / "stopped" / "store"), 2u << 20);  // the writes are in the log
    ASSERT_TRUE(shards.StopAll().ok());
  }
  EXPECT_LT(testutil::WalBytes(dir_.path() / "stopped" / "store"), 64u << 10);

  // A store closed without the flush keeps its writes in the log, for the next open to replay.
  {
    ShardSet shards(Options(dir_.path() / "dropped"), &embedder_, nullptr);
    ASSERT_TRUE(shards.Init().ok());
    Result<Shard*> shard = shards.Get(0);
    ASSERT_TRUE(shard.ok()) << shard.status().ToString();
    ASSERT_NO_FATAL_FAILURE(Write((*shard)->store.get()));
  }
  EXPECT_GE(testutil::WalBytes(dir_.path() / "dropped" / "store"), 2u << 20);
}

}  // namespace
}  // namespace tide::ingest
