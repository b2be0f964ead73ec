// The worker is SIGKILLed at random moments while a stream of 20k events (new documents,
// updates, out-of-order and repeated versions, deletes, tombstones) is produced. At the end
// the store must equal the state computed from the event log: nothing lost, nothing applied
// twice, no orphan chunk, vector or posting. A query daemon's follower runs beside it all
// along, copying the worker's vector graph from its records: after each kill its graph equals
// the one the restarted worker goes on from (its snapshot and its own records).

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/embedding/hash_embedder.h"
#include "common/file_util.h"
#include "common/index/index_set.h"
#include "common/index/replayer.h"
#include "common/storage/store.h"
#include "query/follower.h"
#include "tests/testutil/http_client.h"
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

constexpr int kRounds = 20;
constexpr int kEventsPerRound = 1000;
constexpr int kDocs = 3000;

// The event log's meaning, modelled independently of the worker: per document the newest
// version wins; a delete at or above the stored version deletes; a tombstone deletes
// whatever is stored.
struct DocState {
  std::int64_t version = -1;
  bool deleted = false;
};

struct Event {
  std::string key;
  std::optional<std::string> value;  // nullopt: tombstone
};

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = testutil::StartDevBroker(kBin + "/ingest/tidectl", dir_.path(), 4, &brokers_);
    ASSERT_FALSE(brokers_.empty()) << broker_->Log();
  }

  // The dev broker (librdkafka's mock cluster) ignores group.instance.id: a restarted worker
  // waits about twice the killed one's session timeout, so these tests use a short one.
  void StartWorker(const std::vector<std::string>& extra = {"--kafka.property", "session.timeout.ms=3000",
                                                            "--kafka.property", "heartbeat.interval.ms=500"}) {
    std::filesystem::remove(dir_.path() / "metrics-port");
    std::vector<std::string> argv{kBin + "/ingest/tide-ingest", "--config", kSource + "/configs/ingest.conf",
                                 "--data_dir", (dir_.path() / "data").string(), "--kafka.brokers", brokers_,
                                 "--batch.max_events", "100", "--snapshot.interval_s", "1", "--store.sync", "false",
                                 "--embedder.dimension", "64", "--hnsw.segment_max_chunks", "500",
                                 "--metrics.port", "0", "--metrics.port_file",
                                 (dir_.path() / "metrics-port").string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    worker_ = std::make_unique<Process>(argv, dir_.path() / "worker.log");
  }

  // Events consumed by the running worker process (its own counter, from /metrics).
  std::int64_t Consumed() {
    Result<std::string> port = ReadFile(dir_.path() / "metrics-port");
    if (!port) return -1;
    auto r = testutil::HttpRequestLoopback(static_cast<std::uint16_t>(std::stoi(*port)), "GET", "/metrics");
    const std::string name = "tide_ingest_events_consumed_total ";
    std::size_t at = r.body.find("\n" + name);
    if (r.status != 200 || at == std::string::npos) return -1;
    return std::stoll(r.body.substr(at + 1 + name.size()));
  }

  void Publish(const std::vector<Event>& events) {
    const auto file = dir_.path() / "round.jsonl";
    std::ofstream out(file);
    std::vector<std::string> args{kBin + "/ingest/tidectl", "publish", "--brokers", brokers_};
    bool any_line = false;
    for (const Event& e : events) {
      if (e.value) {
        out << *e.value << "\n";
        any_line = true;
      } else {
        // Tombstones go through --tombstone and are sent after the file: publish each batch
        // of lines first, then the tombstone, to keep the per-key order of the log.
        out.close();
        if (any_line) RunPublish(args, file);
        auto r = testutil::RunCommand({kBin + "/ingest/tidectl", "publish", "--brokers", brokers_, "--tombstone", e.key},
                                      seconds(60));
        ASSERT_EQ(r.exit_code, 0) << r.output;
        out.open(file, std::ios::trunc);
        any_line = false;
      }
    }
    out.close();
    if (any_line) RunPublish(args, file);
  }

  void RunPublish(const std::vector<std::string>& base, const std::filesystem::path& file) {
    std::vector<std::string> args = base;
    args.push_back("--file");
    args.push_back(file.string());
    auto r = testutil::RunCommand(args, seconds(60));
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  testutil::TempDir dir_;
  std::unique_ptr<Process> broker_, worker_;
  std::string brokers_;
};

TEST_F(CrashTest, Issue3_TwentyKillNinesLoseNothingAndApplyNothingTwice) {
  std::mt19937 rng(20261122);
  std::map<std::string, DocState> model;
  std::map<std::string, std::int64_t> last_version;  // per doc, the newest version published
  auto doc_event = [&](int doc) -> Event {
    const std::string id = "doc-" + std::to_string(doc);
    const std::string container = "c" + std::to_string(doc % 5);
    const std::string key = container + "/" + id;
    DocState& state = model[key];
    std::int64_t& newest = last_version[key];
    const int roll = static_cast<int>(rng() % 100);
    json e = {{"schema_version", 1}, {"container_id", container}, {"doc_id", id}};
    std::int64_t version = 0;
    if (roll < 60 || newest == 0) {
      version = ++newest;  // a new version
    } else if (roll < 75) {
      version = std::max<std::int64_t>(1, newest - 1 - static_cast<std::int64_t>(rng() % 3));  // stale
    } else if (roll < 85) {
      version = newest;  // a redelivered version
    } else if (roll < 95) {
      version = ++newest;
      e["type"] = "document.delete";
      e["version"] = version;
      if (version > state.version) state = {version, true};
      return {key, e.dump()};
    } else {
      if (state.version >= 0) state.deleted = true;  // tombstone: delete at the stored version
      return {key, std::nullopt};
    }
    e["type"] = "document.upsert";
    e["version"] = version;
    e["title"] = "문서 " + id;
    e["text"] = "본문 " + id + " 판 v" + std::to_string(version) + " 입니다.";
    if (version > state.version) state = {version, false};
    return {key, e.dump()};
  };

  StartWorker();
  // The query daemon's view, following the worker's graph records through every kill.
  index::IndexSet::Options index_options;
  index_options.model_id = embedding::HashEmbedder(embedding::HashEmbedder::Options{64}).model_id();
  index_options.vector.dim = 64;
  index_options.vector.segment_max_chunks = 500;
  query::Follower::Options follow;
  follow.data_dir = dir_.path() / "data";
  follow.secondary_dir = dir_.path() / "follower";
  follow.interval = std::chrono::milliseconds(50);
  follow.index = index_options;
  // Started once the worker's first snapshot (of its first graph generation) is there.
  ASSERT_TRUE(WaitFor([&] { return !index::IndexSet::ListSnapshotDirs(dir_.path() / "data" / "snapshots").empty(); },
                      seconds(60)))
      << worker_->Log();
  query::Follower follower(follow);
  // What a restarted worker's graph will be: its newest snapshot and its own records after it.
  auto restarted_worker_graph = [&](int round) -> std::pair<std::uint64_t, std::uint64_t> {
    auto store = storage::Store::OpenSecondary(dir_.path() / "data" / "store",
                                               dir_.path() / ("restart-" + std::to_string(round)), {});
    if (!store.ok()) return {0, 0};
    auto set = index::IndexSet::LoadLatestSnapshot(dir_.path() / "data" / "snapshots", index_options);
    if (!set.ok()) return {0, 0};
    auto followed = index::FollowGraphRecords(**set, **store, SIZE_MAX);
    EXPECT_TRUE(followed.ok()) << followed.status().ToString();
    return {(*set)->applied_seq(), (*set)->VectorContentHash()};
  };
  int total = 0;
  int rounds_with_records = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Event> events;
    for (int i = 0; i < kEventsPerRound; ++i) events.push_back(doc_event(static_cast<int>(rng() % kDocs)));
    total += static_cast<int>(events.size());
    Publish(events);
    // Kill -9 once this worker process has consumed a random part of what is outstanding.
    const std::int64_t target = 50 + static_cast<std::int64_t>(rng() % 600);
    ASSERT_TRUE(WaitFor([&] { return Consumed() >= target; }, seconds(60))) << "round " << round << "\n"
                                                                            << worker_->Log();
    worker_->Signal(SIGKILL);
    ASSERT_EQ(worker_->Wait(seconds(10)), std::optional<int>(128 + SIGKILL));
    // (A worker killed before its indexer's first record leaves the graph at the snapshot.)
    const auto [recorded_seq, worker_hash] = restarted_worker_graph(round);
    if (recorded_seq > 0) ++rounds_with_records;
    follower.Refresh();
    ASSERT_TRUE(follower.WaitForSeqForTest(recorded_seq, seconds(60))) << follower.not_ready_reason();
    EXPECT_EQ(follower.indexes()->applied_seq(), recorded_seq) << "round " << round;
    EXPECT_EQ(follower.indexes()->VectorContentHash(), worker_hash) << "round " << round;
    EXPECT_TRUE(follower.corruption().ok()) << follower.corruption().ToString();
    StartWorker();
  }

  // Let the last worker drain everything.
  auto counters = [&]() {
    std::map<std::string, std::uint64_t> c;
    auto store = storage::Store::OpenSecondary(dir_.path() / "data" / "store", dir_.path() / "secondary", {});
    if (!store) return c;
    for (const char* name : {"applied", "stale", "duplicate", "dead_lettered"}) {
      auto v = (*store)->GetCounter(storage::CounterKey(name));
      c[name] = v ? *v : 0;
    }
    return c;
  };
  std::map<std::string, std::uint64_t> c;
  ASSERT_TRUE(WaitFor([&] {
    c = counters();
    return c["applied"] + c["stale"] + c["duplicate"] >= static_cast<std::uint64_t>(total);
  }, seconds(180))) << worker_->Log();
  // Exactly once: every event was counted once, so the outcomes add up to the log exactly.
  EXPECT_EQ(c["applied"] + c["stale"] + c["duplicate"], static_cast<std::uint64_t>(total));
  EXPECT_EQ(c["dead_lettered"], 0u);
  worker_->Signal(SIGTERM);
  EXPECT_EQ(worker_->Wait(seconds(30)), std::optional<int>(0)) << worker_->Log();
  // Issue 14: snapshots a killed worker was writing are removed when the next one starts, and
  // a clean stop leaves none of its own.
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path() / "data" / "snapshots")) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp-")) << "left behind: " << entry.path();
  }

  // The store equals the model, document by document.
  auto store = storage::Store::OpenSecondary(dir_.path() / "data" / "store", dir_.path() / "secondary2", {});
  ASSERT_TRUE(store.ok());
  std::map<std::string, DocState> stored;
  std::size_t mismatched_text = 0;
  ASSERT_TRUE((*store)->Scan(storage::Cf::kDocs, "", "", [&](std::string_view key, std::string_view value) {
    std::string container, doc;
    EXPECT_TRUE(storage::SplitDocKey(key, &container, &doc).ok());
    auto record = storage::DecodeDoc(value);
    EXPECT_TRUE(record.ok());
    stored[container + "/" + doc] = {record->version, record->deleted};
    for (std::uint64_t label : record->labels) {
      auto chunk = (*store)->Get(storage::Cf::kChunks, storage::EncodeU64(label));
      if (!chunk.ok() || !chunk->has_value() ||
          storage::DecodeChunk(**chunk)->text.find(" v" + std::to_string(record->version) + " ") == std::string::npos) {
        ++mismatched_text;
      }
    }
    return true;
  }).ok());
  std::size_t differences = 0;
  for (const auto& [key, want] : model) {
    auto it = stored.find(key);
    const bool exists = it != stored.end();
    // A tombstone for a document never stored leaves nothing behind.
    if (want.version < 0) {
      if (exists) ++differences;
      continue;
    }
    if (!exists || it->second.version != want.version || it->second.deleted != want.deleted) {
      if (++differences <= 5) {
        ADD_FAILURE() << key << ": want v" << want.version << (want.deleted ? " deleted" : "") << ", stored "
                      << (exists ? "v" + std::to_string(it->second.version) + (it->second.deleted ? " deleted" : "")
                                 : std::string("nothing"));
      }
    }
  }
  EXPECT_EQ(differences, 0u);
  EXPECT_EQ(stored.size(), model.size() - std::count_if(model.begin(), model.end(), [](const auto& kv) {
                             return kv.second.version < 0;
                           }));
  EXPECT_EQ(mismatched_text, 0u);

  auto fsck = testutil::RunCommand({kBin + "/ingest/tidectl", "fsck", "--data_dir", (dir_.path() / "data").string(),
                                    "--embedder.dimension", "64"},
                                   seconds(120));
  EXPECT_EQ(fsck.exit_code, 0) << fsck.output;
  // The rounds ran with vector segments of 500 chunks: the newest snapshot (which fsck just
  // loaded and checked against the store) has sealed ones.
  const auto snapshots = index::IndexSet::ListSnapshotDirs(dir_.path() / "data" / "snapshots");
  ASSERT_FALSE(snapshots.empty());
  Result<std::string> manifest = ReadFile(snapshots.front().second / "MANIFEST.json");
  ASSERT_TRUE(manifest.ok());
  EXPECT_GE(json::parse(*manifest)["segments"]["sealed"].size(), 1u) << *manifest;
  EXPECT_GE(rounds_with_records, kRounds / 2);
  // One graph generation all along: every restarted worker went on from its own records. (The
  // follower may have loaded a snapshot if it fell behind the trimmed log: not counted.)
  EXPECT_EQ(json::parse(*manifest)["graph_generation"].get<std::uint64_t>(), 1u);
  EXPECT_EQ(follower.corrupt_snapshots(), 0u);
}

// Issue 17.2: a worker restarted after kill -9 used to wait for the killed member's session
// to expire (p50 10.8 s, up to 132 s) before it consumed again. With the default static
// membership (a group.instance.id derived from the host and data_dir) a real broker hands the
// restarted worker its partitions at once (tests/kafka/real_broker_test.cc: well under a
// second). librdkafka's mock cluster, the dev broker, ignores group.instance.id and waits for
// the dead member's session, about twice session.timeout.ms: this test measures that bound
// with the session timeout the dev broker allows (3 s; a real broker's minimum is 6 s).
TEST_F(CrashTest, Issue17_AKilledWorkerConsumesAgainWithinSecondsOfItsRestart) {
  int next = 0;
  auto publish = [&](int n) {
    std::vector<Event> events;
    for (int i = 0; i < n; ++i, ++next) {
      json e = {{"schema_version", 1}, {"type", "document.upsert"}, {"container_id", "c0"},
                {"doc_id", "d" + std::to_string(next)}, {"version", 1}, {"text", "본문 " + std::to_string(next)}};
      events.push_back({"c0/d" + std::to_string(next), e.dump()});
    }
    Publish(events);
  };
  publish(10);
  StartWorker();
  ASSERT_TRUE(WaitFor([&] { return Consumed() >= 10; }, seconds(60))) << worker_->Log();
  std::vector<double> resume_s;
  for (int round = 0; round < 10; ++round) {
    worker_->Signal(SIGKILL);
    ASSERT_EQ(worker_->Wait(seconds(10)), std::optional<int>(128 + SIGKILL));
    publish(5);
    const auto start = std::chrono::steady_clock::now();
    StartWorker();
    ASSERT_TRUE(WaitFor([&] { return Consumed() >= 1; }, seconds(120))) << worker_->Log();
    resume_s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(resume_s.begin(), resume_s.end());
  const double p50 = resume_s[resume_s.size() / 2], max = resume_s.back();
  std::cout << "[ resume  ] dev broker, session.timeout.ms=3000, 10 kill -9 restarts: p50 " << p50 << " s, max "
            << max << " s\n";
  EXPECT_LE(max, 2.5 * 3.0);
  worker_->Signal(SIGTERM);
  EXPECT_EQ(worker_->Wait(seconds(30)), std::optional<int>(0)) << worker_->Log();
}

}  // namespace
}  // namespace tide
