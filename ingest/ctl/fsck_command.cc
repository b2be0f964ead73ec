// `tidectl fsck`: checks the store's invariants and that snapshot + change log rebuild
// indexes holding exactly the store's chunks. Exit 0 when every invariant holds, 1 otherwise.
// `tidectl checksum`: the store's logical digest (ingest/fsck.h), to compare two stores or
// a store before and after a replay. A per-partition worker's data_dir is taken as one: fsck
// checks each partition's shard, checksum digests their union.
// Both are read-only (a RocksDB secondary), so they run beside a live worker.

#include <unistd.h>

#include <functional>
#include <iostream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "common/config_util.h"
#include "common/embedding/embedder.h"
#include "common/storage/store.h"
#include "ingest/ctl/commands.h"
#include "ingest/ctl/shard_stores.h"
#include "ingest/fsck.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;

}  // namespace

int RunChecksum(int argc, const char* const* argv) {
  SharedConfig shared;
  po::options_description options("tidectl checksum options");
  AddSharedOptions(options, &shared);
  Result<po::variables_map> vm = ParseCommandLineAndConfig(
      argc, argv, options, "tidectl checksum [--data_dir DIR] [--config configs/ingest.conf]");
  if (!vm) {
    if (vm.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl checksum: " << vm.status().message() << '\n';
    return 2;
  }
  return WithSecondaryStores(shared.data_dir, "checksum", [](std::vector<ShardStore>& shards) {
    std::vector<const storage::Store*> stores;
    for (const ShardStore& s : shards) stores.push_back(s.store.get());
    Result<ingest::LogicalDigest> digest = ingest::ComputeLogicalDigest(stores);
    if (!digest) {
      std::cerr << "tidectl checksum: " << digest.status().ToString() << '\n';
      return 1;
    }
    nlohmann::json out = {{"checksum", digest->checksum},
                          {"documents", digest->documents},
                          {"deleted_documents", digest->deleted_documents},
                          {"chunks", digest->chunks},
                          {"stores", shards.size()}};
    std::cout << out.dump(2) << std::endl;
    return 0;
  });
}

int RunFsck(int argc, const char* const* argv) {
  SharedConfig shared;
  po::options_description options("tidectl fsck options");
  AddSharedOptions(options, &shared);
  Result<po::variables_map> vm = ParseCommandLineAndConfig(
      argc, argv, options, "tidectl fsck [--data_dir DIR] [--config configs/ingest.conf]");
  if (!vm) {
    if (vm.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl fsck: " << vm.status().message() << '\n';
    return 2;
  }
  Result<std::unique_ptr<embedding::Embedder>> embedder = embedding::MakeEmbedder(shared.embedder);
  if (!embedder) {
    std::cerr << "tidectl fsck: " << embedder.status().message() << '\n';
    return 2;
  }
  index::IndexSet::Options index_options;
  index_options.model_id = (*embedder)->model_id();
  index_options.vector = shared.hnsw;
  index_options.vector.dim = (*embedder)->dimension();
  const std::filesystem::path data_dir(shared.data_dir);
  return WithSecondaryStores(data_dir, "fsck", [&](std::vector<ShardStore>& shards) {
    // Each shard is checked on its own (its snapshots against its store); the counts add up
    // and a problem names its shard.
    ingest::FsckReport total;
    for (const ShardStore& shard : shards) {
      const std::filesystem::path snapshots = shard.dir / "snapshots";
      Result<ingest::FsckReport> report = ingest::CheckStore(*shard.store, &snapshots, index_options);
      if (!report) {
        std::cerr << "tidectl fsck: " << (shard.name.empty() ? "" : shard.name + ": ") << report.status().ToString()
                  << '\n';
        return 1;
      }
      total.documents += report->documents;
      total.deleted_documents += report->deleted_documents;
      total.chunks += report->chunks;
      total.vectors += report->vectors;
      total.changes += report->changes;
      for (const std::string& p : report->problems) {
        total.problems.push_back(shard.name.empty() ? p : shard.name + ": " + p);
      }
    }
    nlohmann::json out = {{"ok", total.ok()},
                          {"documents", total.documents},
                          {"deleted_documents", total.deleted_documents},
                          {"chunks", total.chunks},
                          {"vectors", total.vectors},
                          {"changes", total.changes},
                          {"problems", total.problems},
                          {"stores", shards.size()}};
    std::cout << out.dump(2) << std::endl;
    return total.ok() ? 0 : 1;
  });
}

}  // namespace tide::ctl
