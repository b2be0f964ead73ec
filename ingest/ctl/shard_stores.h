#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/storage/store.h"

namespace tide::ctl {

// One store of a data directory: the whole of a single-layout worker's, or one partition's
// shard (ingest/shards.h).
struct ShardStore {
  std::filesystem::path dir;  // holds store/ and snapshots/
  std::string name;           // "" for a single store, else "partition <n>"
  int partition = -1;         // -1 for a single store
  std::unique_ptr<storage::Store> store;
};

// Opens the stores of `data_dir` as secondaries in a private temporary directory: its store/,
// or, for a per-partition worker's directory, every partitions/<n>/store in partition order.
// Runs `fn` on them and removes the directory again. Returns fn's exit code, or 1 (after a
// line on stderr naming `command`) if a store does not open.
int WithSecondaryStores(const std::filesystem::path& data_dir, const char* command,
                        const std::function<int(std::vector<ShardStore>&)>& fn);

}  // namespace tide::ctl
