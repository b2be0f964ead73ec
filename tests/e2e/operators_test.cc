// End to end, the operator commands against real processes: tidectl replay (from the
// beginning, from a timestamp), tidectl rebuild into a fresh store beside the serving one,
// tidectl checksum comparing the logical state of stores, and tidectl dlq listing and
// re-driving dead letters after the cause was fixed.
//
// One topic partition order matters here: container.delete is unordered relative to document
// events (docs/events.md), so the event stream below has none, and a rebuild must then reach
// exactly the state of the worker that applied the events as they came.

#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using testutil::Process;
using testutil::WaitFor;

const std::string kBin = TIDE_BIN_DIR;
const std::string kSource = TIDE_SOURCE_DIR;
const std::string kTidectl = kBin + "/ingest/tidectl";

json Upsert(const std::string& doc, int version, const std::string& text) {
  return {{"schema_version", 1}, {"type", "document.upsert"}, {"container_id", "ops"},
          {"doc_id", doc},       {"version", version},         {"title", "문서 " + doc},
          {"text", text}};
}

json ChunkEvent(const std::string& type, const std::string& doc, int version, int ordinal, const std::string& text = "") {
  json e = {{"schema_version", 1}, {"type", type}, {"container_id", "ops"}, {"doc_id", doc},
            {"version", version},  {"ordinal", ordinal}};
  if (type == "chunk.upsert") e["text"] = text;
  return e;
}

// A stream with every kind of document change: new documents (text and pre-chunked), newer
// versions with fewer chunks, stale and duplicate versions, deletes, chunk events, and three
// messages the worker must dead-letter (two not JSON, one over the text limit of the test).
std::vector<std::string> EventStream(int docs) {
  std::vector<std::string> lines;
  for (int i = 0; i < docs; ++i) {
    const std::string id = "doc-" + std::to_string(i);
    std::string text;
    for (int p = 0; p < 1 + i % 4; ++p) {
      text += "문서 " + std::to_string(i) + "의 " + std::to_string(p) + "번째 문단은 피벗 테이블과 셀 서식을 설명합니다.\n\n";
    }
    if (i % 5 == 0) {
      lines.push_back(json{{"schema_version", 1}, {"type", "document.upsert"}, {"container_id", "ops"},
                           {"doc_id", id}, {"version", 1},
                           {"chunks", {{{"text", "미리 나눈 첫 청크 " + id}, {"page", 1}},
                                       {{"text", "미리 나눈 둘째 청크 " + id}, {"page", 2}}}}}
                          .dump());
    } else {
      lines.push_back(Upsert(id, 1, text).dump());
    }
  }
  for (int i = 0; i < docs; i += 3) lines.push_back(Upsert("doc-" + std::to_string(i), 3, "새 판 " + std::to_string(i)).dump());
  for (int i = 0; i < docs; i += 6) lines.push_back(Upsert("doc-" + std::to_string(i), 2, "옛 판은 무시").dump());  // stale
  for (int i = 1; i < docs; i += 7) lines.push_back(ChunkEvent("chunk.upsert", "doc-" + std::to_string(i), 4, 9, "덧붙인 청크").dump());
  for (int i = 2; i < docs; i += 7) lines.push_back(ChunkEvent("chunk.delete", "doc-" + std::to_string(i), 4, 0).dump());
  for (int i = 4; i < docs; i += 9) {
    lines.push_back(json{{"schema_version", 1}, {"type", "document.delete"}, {"container_id", "ops"},
                         {"doc_id", "doc-" + std::to_string(i)}, {"version", 5}}
                        .dump());
  }
  lines.push_back("{this is not json");
  lines.push_back(R"({"schema_version":1,"type":"document.upsert","container_id":"ops"})");
  lines.push_back(Upsert("too-long", 1, std::string(3000, 'x')).dump());
  return lines;
}

class OperatorsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testutil::StartDevBroker(kTidectl, dir_.path(), 2, &brokers_);
    ASSERT_FALSE(brokers_.empty()) << broker_->Log();
  }

  void TearDown() override {
    if (HasFailure()) {
      for (auto& [name, p] : workers_) std::cerr << "--- worker " << name << " ---\n" << (p ? p->Log() : "");
      std::cerr << "--- broker ---\n" << broker_->Log();
    }
  }

  std::string DataDir(const std::string& name) const { return (dir_.path() / ("data-" + name)).string(); }

  // The options every command shares with the worker: config file, store and broker.
  std::vector<std::string> Common(const std::string& name) const {
    return {"--config", kSource + "/configs/ingest.conf", "--data_dir", DataDir(name), "--kafka.brokers", brokers_};
  }

  void StartWorker(const std::string& name, const std::string& group, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{kBin + "/ingest/tide-ingest"};
    for (const std::string& a : Common(name)) argv.push_back(a);
    for (const std::string& a : {std::string("--kafka.group_id"), group, std::string("--metrics.port"), std::string("-1"),
                                 std::string("--kafka.property"), std::string("session.timeout.ms=6000")}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    workers_[name] = std::make_unique<Process>(argv, dir_.path() / ("worker-" + name + ".log"));
  }

  void StopWorker(const std::string& name) {
    workers_[name]->Signal(SIGTERM);
    ASSERT_EQ(workers_[name]->Wait(seconds(60)), std::optional<int>(0)) << workers_[name]->Log();
  }

  void Publish(const std::vector<std::string>& lines) {
    const auto file = dir_.path() / ("events-" + std::to_string(published_) + ".jsonl");
    std::ofstream out(file);
    for (const std::string& l : lines) out << l << "\n";
    out.close();
    auto r = testutil::RunCommand({kTidectl, "publish", "--brokers", brokers_, "--file", file.string()}, seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    published_ += lines.size();
  }

  // Runs tidectl and parses the JSON document it prints (from the first line that starts
  // one); an empty object if there is none. expected_exit < 0: any exit code.
  json Tool(std::vector<std::string> argv, int expected_exit = 0) {
    argv.insert(argv.begin(), kTidectl);
    auto r = testutil::RunCommand(argv, seconds(120));
    if (expected_exit >= 0) {
      EXPECT_EQ(r.exit_code, expected_exit) << r.output;
    }
    std::size_t start = r.output.starts_with("{") ? 0 : r.output.find("\n{");
    if (start == std::string::npos) return json::object();
    if (r.output[start] == '\n') ++start;
    const std::size_t end = r.output.rfind("\n}");
    if (end == std::string::npos || end < start) return json::object();
    json j = json::parse(r.output.substr(start, end + 2 - start), nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.output;
    return j.is_discarded() ? json::object() : j;
  }

  // While the worker is starting, the store may not be readable yet: any exit code.
  json Stats(const std::string& name) { return Tool({"stats", "--data_dir", DataDir(name)}, -1); }

  // Messages consumed into the store: the sum of the stored next offsets (every partition
  // starts at 0 on the dev broker).
  std::uint64_t Consumed(const std::string& name) {
    json stats = Stats(name);
    std::uint64_t sum = 0;
    if (stats.is_object() && stats["offsets"].is_object()) {
      for (const auto& [k, v] : stats["offsets"].items()) sum += v.get<std::uint64_t>();
    }
    return sum;
  }

  // A counter (0 if the store has none yet); the stats are read again until they answer.
  std::uint64_t Counter(const std::string& name, const char* counter) {
    json stats;
    EXPECT_TRUE(WaitFor([&] {
      stats = Stats(name);
      return stats.is_object() && stats.contains("counters");
    }, seconds(30))) << "tidectl stats gave no counters: " << stats.dump();
    return stats.is_object() && stats.contains("counters") && stats["counters"].contains(counter)
               ? stats["counters"][counter].get<std::uint64_t>()
               : 0;
  }

  std::string Checksum(const std::string& name) {
    json c = Tool({"checksum", "--data_dir", DataDir(name)});
    return c.is_object() ? c.value("checksum", "") : "";
  }

  testutil::TempDir dir_;
  std::unique_ptr<Process> broker_;
  std::map<std::string, std::unique_ptr<Process>> workers_;
  std::string brokers_;
  std::size_t published_ = 0;
};

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST_F(OperatorsE2eTest, ReplayRebuildAndDeadLetterRedrive) {
  // Worker "a" rejects texts over 2,000 bytes: the "too-long" event is a dead letter until
  // the limit is raised.
  const std::vector<std::string> limit = {"--limits.max_text_bytes", "2000"};
  StartWorker("a", "group-a", limit);
  const std::vector<std::string> stream = EventStream(60);
  Publish(stream);
  ASSERT_TRUE(WaitFor([&] { return Consumed("a") == published_; }, seconds(120))) << Stats("a").dump();
  EXPECT_EQ(Counter("a", "dead_lettered"), 3u);
  const std::uint64_t applied = Counter("a", "applied");
  const std::string original = Checksum("a");
  ASSERT_EQ(original.size(), 32u);
  EXPECT_EQ(Tool({"fsck", "--data_dir", DataDir("a")}).value("ok", false), true);

  // The dead letters, with their reasons and where they came from.
  {
    std::vector<std::string> argv{kTidectl, "dlq"};
    for (const std::string& a : Common("a")) argv.push_back(a);
    auto r = testutil::RunCommand(argv, seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    int lines = 0, over_limit = 0;
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line, nullptr, false);
      if (!j.is_object() || !j.contains("reason")) continue;
      ++lines;
      EXPECT_FALSE(j["reason"].get<std::string>().empty());
      EXPECT_EQ(j["source"]["topic"], "tide.documents");
      if (j["reason"].get<std::string>().find("limit") != std::string::npos) ++over_limit;
    }
    EXPECT_EQ(lines, 3) << r.output;
    EXPECT_EQ(over_limit, 1) << r.output;
  }

  // Replay from the beginning into the same store: every event is re-read, none changes the
  // logical state. A running worker holds the store: the command refuses.
  std::vector<std::string> replay{"replay"};
  for (const std::string& a : Common("a")) replay.push_back(a);
  {
    std::vector<std::string> busy = replay;
    busy.push_back("--from-beginning");
    Tool(busy, 1);
  }
  StopWorker("a");
  {
    std::vector<std::string> argv = replay;
    argv.push_back("--from-beginning");
    json report = Tool(argv);
    ASSERT_EQ(report["partitions"].size(), 2u) << report.dump();
    std::uint64_t rereads = 0;
    for (const json& p : report["partitions"]) {
      EXPECT_EQ(p["to"], 0);
      rereads += p["events_to_reread"].get<std::uint64_t>();
    }
    EXPECT_EQ(rereads, published_);
  }
  EXPECT_EQ(Consumed("a"), 0u);
  const std::uint64_t skipped_before = Counter("a", "stale") + Counter("a", "duplicate");
  StartWorker("a", "group-a", limit);
  // Both the offsets and the counters: a secondary opened while the restarted worker recovers
  // its store may still show the offsets from before the replay (seen once, 2026-12-06).
  auto skipped = [&] {
    return static_cast<std::int64_t>(Counter("a", "stale") + Counter("a", "duplicate")) -
           static_cast<std::int64_t>(skipped_before);
  };
  const auto expected_skips = static_cast<std::int64_t>(published_) - 3;
  ASSERT_TRUE(WaitFor([&] { return Consumed("a") == published_ && skipped() >= expected_skips; }, seconds(120)))
      << "skipped before the replay: " << skipped_before << "; now: " << Stats("a").dump();
  EXPECT_EQ(Counter("a", "applied"), applied);  // nothing applied twice
  EXPECT_EQ(skipped(), expected_skips) << "skipped before the replay: " << skipped_before << "; now: " << Stats("a").dump();
  EXPECT_EQ(Checksum("a"), original);

  // A rebuild: a fresh store from the topic, with a consumer group of its own, while "a"
  // keeps running; it stops by itself at the end of the topic and reaches the same state.
  {
    std::vector<std::string> argv{"rebuild"};
    for (const std::string& a : Common("a")) argv.push_back(a);
    argv.insert(argv.end(), {"--into", DataDir("b"), "--kafka.property", "session.timeout.ms=6000"});
    argv.insert(argv.end(), limit.begin(), limit.end());
    json report = Tool(argv);
    EXPECT_EQ(report.value("checksum", ""), original) << report.dump();
    EXPECT_EQ(report.value("events", 0ull), published_) << report.dump();
  }
  EXPECT_EQ(Consumed("b"), published_);
  EXPECT_EQ(Checksum("b"), original);
  EXPECT_EQ(Tool({"fsck", "--data_dir", DataDir("b")}).value("ok", false), true);

  // Replay from a timestamp: everything published after it, nothing before.
  const std::uint64_t first_phase = published_;
  const std::int64_t since = NowMs() + 1;
  ASSERT_TRUE(WaitFor([&] { return NowMs() > since; }, seconds(5)));
  Publish({Upsert("late-1", 1, "나중에 온 문서 하나").dump(), Upsert("late-2", 1, "나중에 온 문서 둘").dump()});
  ASSERT_TRUE(WaitFor([&] { return Consumed("a") == published_; }, seconds(60)));
  StopWorker("a");
  int rewound = -1;
  std::int64_t rewound_end = 0;
  {
    std::vector<std::string> argv = replay;
    argv.insert(argv.end(), {"--from-timestamp", std::to_string(since)});
    json report = Tool(argv);
    std::uint64_t rereads = 0, start = 0;
    for (const json& p : report["partitions"]) {
      rereads += p["events_to_reread"].get<std::uint64_t>();
      start += p["to"].get<std::uint64_t>();
      // The dev broker has no time index (its offsetsForTimes answers -1): searched.
      EXPECT_EQ(p.value("found_by", ""), p["log_start"] == p["log_end"] ? "empty" : "search") << report.dump();
      if (p["events_to_reread"].get<std::uint64_t>() > 0) {
        rewound = p["partition"].get<int>();
        rewound_end = p["log_end"].get<std::int64_t>();
      }
    }
    EXPECT_EQ(rereads, 2u) << report.dump();
    EXPECT_EQ(start, first_phase) << report.dump();
  }
  // Moving an offset forward (here: back to the end of a partition the replay rewound)
  // would skip events: refused, and nothing changes.
  {
    std::vector<std::string> argv = replay;
    argv.insert(argv.end(), {"--from-offset", std::to_string(rewound_end), "--partition", std::to_string(rewound)});
    json report = Tool(argv, 1);
    ASSERT_EQ(report["partitions"].size(), 1u) << report.dump();
    EXPECT_TRUE(report["partitions"][0].contains("refused")) << report.dump();
    EXPECT_EQ(Consumed("a"), first_phase);
  }

  // The fix: restart without the low limit, re-drive the dead letter that hit it.
  StartWorker("a", "group-a");
  ASSERT_TRUE(WaitFor([&] { return Consumed("a") == published_; }, seconds(60)));
  const std::uint64_t documents = Stats("a").value("documents", 0ull);
  {
    std::vector<std::string> argv{kTidectl, "dlq"};
    for (const std::string& a : Common("a")) argv.push_back(a);
    argv.insert(argv.end(), {"--redrive", "--reason-contains", "limit"});
    auto r = testutil::RunCommand(argv, seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    // Three copies of the over-limit event are in the dead-letter topic: the first read, the
    // replay from the beginning and the rebuild each dead-lettered it. All go back, as new
    // messages on the topic; the first re-creates the document, the others are duplicates.
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.output, m, std::regex(R"(, (\d+) re-driven)"))) << r.output;
    EXPECT_EQ(std::stoul(m[1].str()), 3u) << r.output;
    published_ += std::stoul(m[1].str());
  }
  ASSERT_TRUE(WaitFor([&] { return Consumed("a") == published_; }, seconds(60))) << Stats("a").dump();
  EXPECT_EQ(Stats("a").value("documents", 0ull), documents + 1);
  EXPECT_EQ(Tool({"fsck", "--data_dir", DataDir("a")}).value("ok", false), true);
  StopWorker("a");
}

// The restore drill: back up a running worker mid-stream, keep ingesting, restore into a new
// directory and resume there. The restored worker re-reads exactly what came after the backup
// and ends equal to a worker that was never interrupted; a damaged backup is refused.
TEST_F(OperatorsE2eTest, RestoreDrillEndsEqualToANeverInterruptedRun) {
  StartWorker("a", "group-a", {"--snapshot.interval_s", "1"});
  StartWorker("ref", "group-ref");  // the never-interrupted run
  const std::vector<std::string> stream = EventStream(90);
  const std::size_t third = stream.size() / 3;
  Publish({stream.begin(), stream.begin() + static_cast<std::ptrdiff_t>(third)});
  ASSERT_TRUE(WaitFor([&] { return Consumed("a") == published_; }, seconds(120))) << Stats("a").dump();
  // An index snapshot exists, so the backup carries one.
  const std::filesystem::path snapshots = std::filesystem::path(DataDir("a")) / "snapshots";
  ASSERT_TRUE(WaitFor(
      [&] {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(snapshots, ec)) {
          if (e.path().filename().string().starts_with("snap-")) return true;
        }
        return false;
      },
      seconds(60)));
  // The second third goes out and the backup is taken while "a" consumes it.
  Publish({stream.begin() + static_cast<std::ptrdiff_t>(third), stream.begin() + static_cast<std::ptrdiff_t>(2 * third)});
  const std::string backup = (dir_.path() / "backup-1").string();
  json taken = Tool({"backup", "--data_dir", DataDir("a"), "--to", backup});
  ASSERT_EQ(taken.value("backup", ""), backup) << taken.dump();
  std::uint64_t at_backup = 0;
  for (const auto& [tp, offset] : taken["offsets"].items()) at_backup += offset.get<std::uint64_t>();
  EXPECT_GE(at_backup, third);
  EXPECT_LE(at_backup, published_);
  EXPECT_EQ(taken["checksum"].get<std::string>().size(), 32u);
  ASSERT_TRUE(taken["snapshot_seq"].is_number()) << taken.dump();
  EXPECT_LE(taken["snapshot_seq"].get<std::uint64_t>(), taken["change_seq"].get<std::uint64_t>());
  EXPECT_EQ(Tool({"backup", "--verify", backup}).value("checksum", ""), taken["checksum"]);
  // A backup never overwrites: the same target again is refused.
  Tool({"backup", "--data_dir", DataDir("a"), "--to", backup}, 1);

  Publish({stream.begin() + static_cast<std::ptrdiff_t>(2 * third), stream.end()});
  ASSERT_TRUE(WaitFor([&] { return Consumed("a") == published_ && Consumed("ref") == published_; }, seconds(120)));
  const std::string final_checksum = Checksum("ref");
  ASSERT_EQ(final_checksum.size(), 32u);
  EXPECT_EQ(Checksum("a"), final_checksum);
  StopWorker("a");  // the machine is lost

  json restored = Tool({"restore", "--from", backup, "--data_dir", DataDir("c")});
  EXPECT_EQ(restored.value("checksum", ""), taken["checksum"]) << restored.dump();
  EXPECT_EQ(Consumed("c"), at_backup);  // the backup's offsets, nothing later
  EXPECT_EQ(Checksum("c"), taken["checksum"]);
  // Restoring over a data directory that holds something is refused.
  Tool({"restore", "--from", backup, "--data_dir", DataDir("c")}, 1);

  StartWorker("c", "group-c");
  ASSERT_TRUE(WaitFor([&] { return Consumed("c") == published_; }, seconds(120))) << Stats("c").dump();
  EXPECT_EQ(Checksum("c"), final_checksum);
  // Nothing lost, nothing applied twice: the restored counters continue from the backup's and
  // end where the uninterrupted run's are.
  for (const char* counter : {"applied", "dead_lettered", "stale", "duplicate"}) {
    EXPECT_EQ(Counter("c", counter), Counter("ref", counter)) << counter;
  }
  EXPECT_EQ(Tool({"fsck", "--data_dir", DataDir("c")}).value("ok", false), true);
  StopWorker("c");
  StopWorker("ref");

  // One flipped byte in a table file: verify and restore name it and restore writes nothing.
  std::filesystem::path victim;
  for (const auto& e : std::filesystem::recursive_directory_iterator(backup)) {
    if (e.path().extension() == ".sst" && e.file_size() > 0) victim = e.path();
  }
  ASSERT_FALSE(victim.empty());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(0);
    char c = 0;
    f.read(&c, 1);
    f.seekp(0);
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  auto r = testutil::RunCommand({kTidectl, "backup", "--verify", backup}, seconds(60));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("Corruption"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(victim.filename().string()), std::string::npos) << r.output;
  r = testutil::RunCommand({kTidectl, "restore", "--from", backup, "--data_dir", DataDir("d")}, seconds(60));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_FALSE(std::filesystem::exists(DataDir("d")));
}

}  // namespace
}  // namespace tide
