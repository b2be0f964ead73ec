// `tidectl fsck`: checks the store's invariants and that snapshot + change log rebuild
// indexes holding exactly the store's chunks. Read-only (a RocksDB secondary), so it runs
// beside a live worker. Exit 0 when every invariant holds, 1 otherwise.

#include <unistd.h>

#include <iostream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "common/config_util.h"
#include "common/embedding/embedder.h"
#include "common/storage/store.h"
#include "ingest/ctl/commands.h"
#include "ingest/fsck.h"

namespace tide::ctl {

namespace po = boost::program_options;

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
  const std::filesystem::path secondary =
      std::filesystem::temp_directory_path() / ("tidectl-fsck-" + std::to_string(::getpid()));
  int rc = 1;
  {
    Result<std::unique_ptr<storage::Store>> store =
        storage::Store::OpenSecondary(data_dir / "store", secondary, {});
    if (!store) {
      std::cerr << "tidectl fsck: " << store.status().message() << '\n';
    } else {
      const std::filesystem::path snapshots = data_dir / "snapshots";
      Result<ingest::FsckReport> report = ingest::CheckStore(**store, &snapshots, index_options);
      if (!report) {
        std::cerr << "tidectl fsck: " << report.status().ToString() << '\n';
      } else {
        nlohmann::json out = {{"ok", report->ok()},
                              {"documents", report->documents},
                              {"deleted_documents", report->deleted_documents},
                              {"chunks", report->chunks},
                              {"vectors", report->vectors},
                              {"changes", report->changes},
                              {"problems", report->problems}};
        std::cout << out.dump(2) << std::endl;
        rc = report->ok() ? 0 : 1;
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(secondary, ec);
  return rc;
}

}  // namespace tide::ctl
