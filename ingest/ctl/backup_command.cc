// `tidectl backup`: a consistent copy of a data directory's store, newest usable snapshot and
// Kafka offsets, taken beside a running worker; `tidectl backup --verify` checks one.
// `tidectl restore`: a backup into a new data directory, checked, for tide-ingest to resume
// from. The format and the point-in-time rule are in ingest/backup.h and docs/operations.md.

#include <unistd.h>

#include <iostream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "common/config_util.h"
#include "ingest/backup.h"
#include "ingest/ctl/commands.h"
#include "ingest/ctl/progress.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;

nlohmann::json Report(const char* action, const ingest::BackupInfo& info) {
  return {{action, info.dir.string()},
          {"change_seq", info.change_seq},
          {"offsets", info.offsets},
          {"snapshot_seq", info.snapshot_seq ? nlohmann::json(*info.snapshot_seq) : nlohmann::json(nullptr)},
          {"keys", info.keys},
          {"bytes", info.bytes},
          {"checksum", info.digest.checksum},
          {"documents", info.digest.documents},
          {"chunks", info.digest.chunks}};
}

// Runs `fn` with a progress display on stderr and prints its report (or error) for `command`.
int RunWithProgress(const char* command, const char* action, const char* what, std::optional<std::uint64_t> total,
                    const std::function<Result<ingest::BackupInfo>(const ingest::BackupProgressFn&)>& fn) {
  Progress progress(std::cerr, {.command = command, .what = what, .total = total,
                                .tty = Progress::IsTerminal(STDERR_FILENO)});
  std::uint64_t last = 0;
  Result<ingest::BackupInfo> info = fn([&](std::uint64_t done, std::uint64_t count) {
    last = count;
    progress.Update(done, count);
  });
  progress.Finish(last);
  if (!info) {
    std::cerr << "tidectl " << command << ": " << info.status().ToString() << '\n';
    return 1;
  }
  std::cout << Report(action, *info).dump(2) << std::endl;
  return 0;
}

}  // namespace

int RunBackup(int argc, const char* const* argv) {
  SharedConfig shared;
  std::string to, verify;
  po::options_description options("tidectl backup options");
  AddSharedOptions(options, &shared);
  options.add_options()("to", po::value(&to), "the new directory to write the backup into (must not exist)")(
      "verify", po::value(&verify), "check an existing backup's files against its manifest instead");
  Result<po::variables_map> vm = ParseCommandLineAndConfig(
      argc, argv, options,
      "tidectl backup --to DIR [--data_dir DIR] [--config configs/ingest.conf]\n"
      "tidectl backup --verify DIR");
  if (!vm) {
    if (vm.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl backup: " << vm.status().message() << '\n';
    return 2;
  }
  if (to.empty() == verify.empty()) {
    std::cerr << "tidectl backup: give either --to DIR (take a backup) or --verify DIR (check one)\n";
    return 2;
  }
  if (!verify.empty()) {
    return RunWithProgress("backup --verify", "verified", "files", std::nullopt,
                           [&](const ingest::BackupProgressFn& p) { return ingest::VerifyBackup(verify, p); });
  }
  return RunWithProgress("backup", "backup", "keys", std::nullopt, [&](const ingest::BackupProgressFn& p) {
    return ingest::CreateBackup(shared.data_dir, to, p);
  });
}

int RunRestore(int argc, const char* const* argv) {
  SharedConfig shared;
  std::string from;
  po::options_description options("tidectl restore options");
  AddSharedOptions(options, &shared);
  options.add_options()("from", po::value(&from), "the backup directory (tidectl backup --to)");
  Result<po::variables_map> vm = ParseCommandLineAndConfig(
      argc, argv, options, "tidectl restore --from BACKUP --data_dir NEW_DIR [--config configs/ingest.conf]");
  if (!vm) {
    if (vm.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl restore: " << vm.status().message() << '\n';
    return 2;
  }
  if (from.empty()) {
    std::cerr << "tidectl restore: --from BACKUP is required\n";
    return 2;
  }
  return RunWithProgress("restore", "restored", "files", std::nullopt, [&](const ingest::BackupProgressFn& p) {
    return ingest::RestoreBackup(from, shared.data_dir, p);
  });
}

}  // namespace tide::ctl
