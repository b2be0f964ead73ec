// `tidectl import-help`: turns Debian's libreoffice-help-ko pages into document.upsert events
// (one container per help module), for the demo and for benchmarks.

#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>

#include "common/config_util.h"
#include "ingest/ctl/commands.h"
#include "ingest/ctl/libreoffice_help.h"
#include "ingest/ctl/progress.h"

namespace tide::ctl {

namespace po = boost::program_options;

int RunImportHelp(int argc, const char* const* argv) {
  std::string help_root;
  std::string output = "-";
  std::int64_t version = 1;
  std::string modules;
  std::size_t limit = 0;
  po::options_description options("tidectl import-help options");
  options.add_options()
      ("help-root", po::value(&help_root)->required(),
       "the unpacked help, e.g. build/third_party/libreoffice-help-ko/usr/share/libreoffice/help/ko")
      ("output", po::value(&output)->default_value(output), "JSON lines output; '-' for stdout")
      ("version", po::value(&version)->default_value(version), "document version to stamp on every event")
      ("modules", po::value(&modules)->default_value(""), "comma-separated modules to keep (default: all)")
      ("limit", po::value(&limit)->default_value(limit), "stop after this many documents (0: all)");
  Result<po::variables_map> vm = ParseCommandLineAndConfig(
      argc, argv, options, "tidectl import-help --help-root DIR [--output events.jsonl]");
  if (!vm) {
    if (vm.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl import-help: " << vm.status().message() << '\n';
    return 2;
  }
  std::vector<std::string> keep;
  std::stringstream list(modules);
  for (std::string m; std::getline(list, m, ',');) {
    if (!m.empty()) keep.push_back(m);
  }
  std::ofstream file;
  if (output != "-") {
    file.open(output, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "tidectl import-help: cannot write " << output << '\n';
      return 1;
    }
  }
  std::ostream& out = output == "-" ? std::cout : file;
  // Progress on stderr: pages considered of the pages the tree holds, events written.
  std::optional<Progress> progress;
  Result<ConvertStats> stats = ConvertHelpTree(
      help_root, version, keep, limit, out, [&](std::size_t considered, std::size_t total, const ConvertStats& s) {
        if (!progress) {
          progress.emplace(std::cerr, Progress::Options{.command = "import-help", .what = "events", .total = total,
                                                        .tty = Progress::IsTerminal(STDERR_FILENO)});
        }
        progress->Update(considered, s.events);
      });
  out.flush();
  if (progress && stats) progress->Finish(stats->events);
  if (!stats) {
    std::cerr << "tidectl import-help: " << stats.status().message() << '\n';
    return 1;
  }
  if (!out) {
    std::cerr << "tidectl import-help: writing " << output << " failed\n";
    return 1;
  }
  std::cerr << "import-help: " << stats->events << " events from " << stats->pages << " pages ("
            << stats->skipped << " skipped)\n";
  return 0;
}

}  // namespace tide::ctl
