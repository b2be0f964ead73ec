// `tidectl fsck`: checks the store's invariants and that snapshot + change log rebuild
// indexes holding exactly the store's chunks. Exit 0 when every invariant holds, 1 otherwise.
// `tidectl checksum`: the store's logical digest (ingest/fsck.h), to compare two stores or
// a store before and after a replay.
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
#include "ingest/fsck.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;

// Opens <data_dir>/store as a secondary in a private temporary directory, runs `fn` on it and
// removes the directory again. Returns fn's exit code, or 1 if the store does not open.
int WithSecondaryStore(const std::filesystem::path& data_dir, const char* command,
                       const std::function<int(const storage::Store&)>& fn) {
  const std::filesystem::path secondary =
      std::filesystem::temp_directory_path() / (std::string("tidectl-") + command + "-" + std::to_string(::getpid()));
  int rc = 1;
  {
    Result<std::unique_ptr<storage::Store>> store = storage::Store::OpenSecondary(data_dir / "store", secondary, {});
    if (!store) {
      std::cerr << "tidectl " << command << ": " << store.status().message() << '\n';
    } else {
      rc = fn(**store);
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(secondary, ec);
  return rc;
}

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
  return WithSecondaryStore(shared.data_dir, "checksum", [](const storage::Store& store) {
    Result<ingest::LogicalDigest> digest = ingest::ComputeLogicalDigest(store);
    if (!digest) {
      std::cerr << "tidectl checksum: " << digest.status().ToString() << '\n';
      return 1;
    }
    nlohmann::json out = {{"checksum", digest->checksum},
                          {"documents", digest->documents},
                          {"deleted_documents", digest->deleted_documents},
                          {"chunks", digest->chunks}};
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
  return WithSecondaryStore(data_dir, "fsck", [&](const storage::Store& store) {
    const std::filesystem::path snapshots = data_dir / "snapshots";
    Result<ingest::FsckReport> report = ingest::CheckStore(store, &snapshots, index_options);
    if (!report) {
      std::cerr << "tidectl fsck: " << report.status().ToString() << '\n';
      return 1;
    }
    nlohmann::json out = {{"ok", report->ok()},
                          {"documents", report->documents},
                          {"deleted_documents", report->deleted_documents},
                          {"chunks", report->chunks},
                          {"vectors", report->vectors},
                          {"changes", report->changes},
                          {"problems", report->problems}};
    std::cout << out.dump(2) << std::endl;
    return report->ok() ? 0 : 1;
  });
}

}  // namespace tide::ctl
