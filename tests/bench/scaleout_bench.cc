// Ingest with 1, 2 and 3 workers in one consumer group against a real Apache Kafka broker
// (issue 15; decision 0015): each worker tide-ingest with shards = per_partition on one data
// directory. Per worker count: a fresh topic with --partitions partitions, the events published
// first (not timed), then the workers started together; timed until every event is durable
// in some shard and until every worker's indexes have caught up (searchable). CPU is the
// workers' user + system time from /proc. Prints a Markdown table on stdout.
//
//   scaleout_bench --events FILE --kafka_lib DIR --bin BUILD_DIR --source REPO
//                  [--workers 1,2,3] [--partitions 12]

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/file_util.h"
#include "common/storage/store.h"
#include "tests/testutil/http_client.h"
#include "tests/testutil/kafka_broker.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

struct Args {
  std::string events, kafka_lib, bin, source;
  std::vector<int> workers = {1, 2, 3};
  int partitions = 12;
};

// User + system CPU seconds of a process so far (/proc/<pid>/stat), 0 once it is gone.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string skip;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt: fields 3-13
  unsigned long long utime = 0, stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// A counter summed over the shards of a per-partition data directory (read as secondaries).
std::uint64_t ShardCounter(const std::filesystem::path& data, const std::filesystem::path& scratch, const char* name) {
  std::uint64_t sum = 0;
  for (const auto& [partition, dir] : storage::ListPartitionShards(data)) {
    auto store = storage::Store::OpenSecondary(dir / "store", scratch / std::to_string(partition), {});
    if (!store) continue;
    if (auto v = (*store)->GetCounter(storage::CounterKey(name))) sum += *v;
  }
  return sum;
}

// A worker's metric (the first series of that name), or -1.
double Metric(const std::filesystem::path& port_file, const std::string& name) {
  Result<std::string> port = ReadFile(port_file);
  if (!port) return -1;
  testutil::HttpResult r = testutil::HttpRequestLoopback(static_cast<std::uint16_t>(std::stoi(*port)), "GET", "/metrics");
  const std::size_t at = r.body.find("\n" + name + " ");
  if (r.status != 200 || at == std::string::npos) return -1;
  return std::stod(r.body.substr(at + name.size() + 2));
}

int Run(const Args& args) {
  testutil::TempDir dir;
  std::string error;
  std::unique_ptr<testutil::KafkaBroker> broker =
      testutil::KafkaBroker::Start(args.kafka_lib, dir.path() / "kafka", &error);
  if (!broker) {
    std::cerr << "scaleout_bench: " << error << '\n';
    return 1;
  }
  std::size_t events = 0;
  {
    std::ifstream in(args.events);
    for (std::string line; std::getline(in, line);) events += line.empty() ? 0 : 1;
  }
  const std::string tidectl = args.bin + "/ingest/tidectl";
  std::cout << "| workers | events | chunks | durable (s) | searchable (s) | chunks/s | workers' CPU (s) | CPU per chunk (ms) |\n"
            << "|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (int workers : args.workers) {
    const std::string topic = "scaleout-" + std::to_string(workers);
    const std::vector<std::string> kafka = {"--config", args.source + "/configs/ingest.conf", "--kafka.brokers",
                                            broker->bootstrap(), "--kafka.topic", topic, "--kafka.dead_letter_topic",
                                            topic + ".dlq", "--kafka.group_id", "group-" + topic};
    std::vector<std::string> create = {tidectl, "topics", "create", "--partitions", std::to_string(args.partitions)};
    create.insert(create.end(), kafka.begin(), kafka.end());
    testutil::CommandResult created = testutil::RunCommand(create, seconds(120));
    if (created.exit_code != 0) {
      std::cerr << "scaleout_bench: topics create: " << created.output << '\n';
      return 1;
    }
    testutil::CommandResult published = testutil::RunCommand(
        {tidectl, "publish", "--brokers", broker->bootstrap(), "--topic", topic, "--file", args.events}, seconds(600));
    if (published.exit_code != 0) {
      std::cerr << "scaleout_bench: publish: " << published.output << '\n';
      return 1;
    }
    const std::filesystem::path data = dir.path() / topic;
    std::vector<std::unique_ptr<testutil::Process>> procs;
    std::vector<std::filesystem::path> ports;
    const Clock::time_point start = Clock::now();
    for (int w = 0; w < workers; ++w) {
      ports.push_back(dir.path() / (topic + "-w" + std::to_string(w) + ".port"));
      std::vector<std::string> argv = {args.bin + "/ingest/tide-ingest"};
      argv.insert(argv.end(), kafka.begin(), kafka.end());
      for (const std::string& a : {std::string("--data_dir"), data.string(), std::string("--shards"),
                                   std::string("per_partition"), std::string("--store.sync"), std::string("false"),
                                   std::string("--metrics.port"), std::string("0"), std::string("--metrics.port_file"),
                                   ports.back().string()}) {
        argv.push_back(a);
      }
      procs.push_back(std::make_unique<testutil::Process>(argv, dir.path() / (topic + "-w" + std::to_string(w) + ".log")));
    }
    const std::filesystem::path scratch = dir.path() / (topic + "-secondary");
    auto settled = [&] {
      return ShardCounter(data, scratch, "applied") + ShardCounter(data, scratch, "dead_lettered") +
                 ShardCounter(data, scratch, "stale") + ShardCounter(data, scratch, "duplicate") >=
             events;
    };
    if (!testutil::WaitFor(settled, std::chrono::minutes(30))) {
      std::cerr << "scaleout_bench: " << workers << " worker(s) did not finish\n" << procs[0]->Log();
      return 1;
    }
    const double durable = std::chrono::duration<double>(Clock::now() - start).count();
    auto indexed = [&] {
      for (const auto& port : ports) {
        if (Metric(port, "tide_ingest_index_lag_changes") != 0) return false;
      }
      return true;
    };
    if (!testutil::WaitFor(indexed, std::chrono::minutes(10))) {
      std::cerr << "scaleout_bench: the indexes of " << workers << " worker(s) did not catch up\n";
      return 1;
    }
    const double searchable = std::chrono::duration<double>(Clock::now() - start).count();
    double cpu = 0;
    for (const auto& p : procs) cpu += CpuSeconds(p->pid());
    const std::uint64_t chunks = ShardCounter(data, scratch, "chunks_written");
    for (const auto& p : procs) p->Signal(SIGTERM);
    for (const auto& p : procs) p->Wait(seconds(120));
    char row[256];
    std::snprintf(row, sizeof(row), "| %d | %zu | %llu | %.1f | %.1f | %.0f | %.1f | %.2f |\n", workers, events,
                  static_cast<unsigned long long>(chunks), durable, searchable,
                  static_cast<double>(chunks) / searchable, cpu, 1000.0 * cpu / static_cast<double>(chunks));
    std::cout << row << std::flush;
    std::error_code ec;
    std::filesystem::remove_all(data, ec);
  }
  return 0;
}

}  // namespace
}  // namespace tide

int main(int argc, char** argv) {
  tide::Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--events") {
      args.events = value;
    } else if (flag == "--kafka_lib") {
      args.kafka_lib = value;
    } else if (flag == "--bin") {
      args.bin = value;
    } else if (flag == "--source") {
      args.source = value;
    } else if (flag == "--partitions") {
      args.partitions = std::stoi(value);
    } else if (flag == "--workers") {
      args.workers.clear();
      std::stringstream list(value);
      for (std::string w; std::getline(list, w, ',');) args.workers.push_back(std::stoi(w));
    } else {
      std::cerr << "scaleout_bench: unknown flag " << flag << '\n';
      return 2;
    }
  }
  if (args.events.empty() || args.kafka_lib.empty() || args.bin.empty() || args.source.empty()) {
    std::cerr << "usage: scaleout_bench --events FILE --kafka_lib DIR --bin BUILD_DIR --source REPO "
                 "[--workers 1,2,3] [--partitions 12]\n";
    return 2;
  }
  return tide::Run(args);
}
