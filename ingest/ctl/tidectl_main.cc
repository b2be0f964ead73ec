#include <cstring>
#include <iostream>

#include "ingest/ctl/commands.h"

namespace {

constexpr const char* kUsage =
    "usage: tidectl <command> [options]   (tidectl <command> --help for its options)\n"
    "\n"
    "commands:\n"
    "  dev-broker    run a Kafka-protocol broker on loopback (librdkafka mock cluster)\n"
    "  publish       send a file of JSON events to the topic\n"
    "  stats         show what the store holds (counters, offsets, documents per container)\n"
    "  fsck          check the store's invariants and that the indexes match it\n"
    "  checksum      a digest of the store's logical content (to compare stores, or before/after a replay)\n"
    "  replay        move the worker's stored offsets back (to an offset, a timestamp, the beginning)\n"
    "  rebuild       build a fresh store from the topic into a new directory, beside the serving one\n"
    "  dlq           list the dead-letter topic, or send its events back to their topic after a fix\n"
    "  topics        create or describe the worker's topics (partitions, retention, size limits)\n"
    "  backup        copy the store, its newest snapshot and offsets while the worker runs (or --verify one)\n"
    "  restore       a backup into a new data directory, checked; the worker then resumes from its offsets\n"
    "  import-help   convert the LibreOffice Korean help into document.upsert events\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  // Each subcommand sees itself as argv[0].
  const int sub_argc = argc - 1;
  const char* const* sub_argv = argv + 1;
  if (command == "dev-broker") return tide::ctl::RunDevBroker(sub_argc, sub_argv);
  if (command == "publish") return tide::ctl::RunPublish(sub_argc, sub_argv);
  if (command == "stats") return tide::ctl::RunStats(sub_argc, sub_argv);
  if (command == "fsck") return tide::ctl::RunFsck(sub_argc, sub_argv);
  if (command == "checksum") return tide::ctl::RunChecksum(sub_argc, sub_argv);
  if (command == "replay") return tide::ctl::RunReplay(sub_argc, sub_argv);
  if (command == "rebuild") return tide::ctl::RunRebuild(sub_argc, sub_argv);
  if (command == "dlq") return tide::ctl::RunDlq(sub_argc, sub_argv);
  if (command == "topics") return tide::ctl::RunTopics(sub_argc, sub_argv);
  if (command == "backup") return tide::ctl::RunBackup(sub_argc, sub_argv);
  if (command == "restore") return tide::ctl::RunRestore(sub_argc, sub_argv);
  if (command == "import-help") return tide::ctl::RunImportHelp(sub_argc, sub_argv);
  std::cerr << "tidectl: unknown command '" << command << "'\n\n" << kUsage;
  return 2;
}
