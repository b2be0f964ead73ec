#include "ingest/ctl/shard_stores.h"

#include <unistd.h>

#include <iostream>
#include <map>

#include "common/storage/schema.h"

namespace tide::ctl {

int WithSecondaryStores(const std::filesystem::path& data_dir, const char* command,
                        const std::function<int(std::vector<ShardStore>&)>& fn) {
  const std::filesystem::path secondary =
      std::filesystem::temp_directory_path() / (std::string("tidectl-") + command + "-" + std::to_string(::getpid()));
  std::vector<ShardStore> shards;
  std::error_code ec;
  if (!std::filesystem::exists(data_dir / "store" / "CURRENT") &&
      std::filesystem::is_directory(data_dir / "partitions", ec)) {
    for (const auto& [partition, dir] : storage::ListPartitionShards(data_dir)) {
      shards.push_back({dir, "partition " + std::to_string(partition), partition, {}});
    }
  } else {
    shards.push_back({data_dir, "", -1, {}});
  }
  int rc = 0;
  for (std::size_t i = 0; i < shards.size() && rc == 0; ++i) {
    Result<std::unique_ptr<storage::Store>> store =
        storage::Store::OpenSecondary(shards[i].dir / "store", secondary / std::to_string(i), {});
    if (!store) {
      std::cerr << "tidectl " << command << ": " << store.status().message() << '\n';
      rc = 1;
    } else {
      shards[i].store = std::move(*store);
    }
  }
  if (rc == 0) rc = fn(shards);
  shards.clear();
  std::filesystem::remove_all(secondary, ec);
  return rc;
}

}  // namespace tide::ctl
