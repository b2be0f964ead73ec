// The real worker (RunWorker: consumer group, applier, dead letters, snapshots) in-process
// against librdkafka's mock cluster on loopback.

#include <sys/mount.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/http/http_server.h"
#include "common/index/index_set.h"
#include "common/storage/store.h"
#include "ingest/config.h"
#include "ingest/event.h"
#include "ingest/worker.h"
#include "common/file_util.h"
#include "tests/testutil/http_client.h"
#include "tests/testutil/mock_kafka.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide::ingest {
namespace {

using std::chrono::seconds;

std::string GoodEvent(int i, int version = 1) {
  nlohmann::json e = {{"schema_version", 1},      {"type", "document.upsert"},
                      {"container_id", "c" + std::to_string(i % 3)},
                      {"doc_id", "doc-" + std::to_string(i)},
                      {"version", version},       {"title", "문서 " + std::to_string(i)},
                      {"text", "본문 " + std::to_string(i) + " 입니다."}};
  return e.dump();
}

std::string KeyOf(int i) { return "c" + std::to_string(i % 3) + "/doc-" + std::to_string(i); }

class RunningWorker {
 public:
  explicit RunningWorker(const Config& config)
      : thread_([this, config] { result_ = RunWorker(config, stopping_); }) {}
  Status Stop() {
    stopping_ = true;
    thread_.join();
    return result_;
  }
  ~RunningWorker() {
    if (thread_.joinable()) (void)Stop();
  }

 private:
  std::atomic<bool> stopping_{false};
  Status result_;
  std::thread thread_;
};

class IngestWorkerTest : public ::testing::Test {
 protected:
  IngestWorkerTest() : kafka_({"tide.documents", "tide.documents.dlq"}, 3) {
    config_.shared.data_dir = (dir_.path() / "data").string();
    config_.shared.embedder.dimension = 64;
    config_.kafka.brokers = kafka_.bootstrap();
    config_.kafka.group_id = "it-ingest";
    config_.batch.max_batch = 64;
    config_.limits.max_text_bytes = 2048;
    config_.store.sync_writes = false;
    config_.snapshot_interval = seconds(1);
    config_.metrics_port = 0;
  }

  std::uint64_t Counter(const char* name) {
    auto store = storage::Store::OpenSecondary(dir_.path() / "data" / "store", dir_.path() / "secondary", {});
    if (!store) return 0;
    auto v = (*store)->GetCounter(storage::CounterKey(name));
    return v ? *v : 0;
  }

  testutil::TempDir dir_;
  testutil::MockKafka kafka_;
  Config config_;
};

TEST_F(IngestWorkerTest, MalformedEventsAreDeadLetteredWithReasonsAndGoodOnesApplied) {
  // 1% malformed, spread through the stream.
  const std::vector<std::pair<std::optional<std::string>, std::string>> bad = {
      {std::nullopt, "this is not json"},
      {"c0/x", R"({"schema_version":2,"type":"document.upsert"})"},
      {"c0/y", R"({"schema_version":1,"type":"document.upsert","container_id":"c0","version":1,"text":"x"})"},
      {"c0/big", R"({"schema_version":1,"type":"document.upsert","container_id":"c0","doc_id":"big","version":1,"text":")" +
                      std::string(5000, 'x') + "\"}"},
      {"c0/z", "{\"schema_version\":1,\"title\":\"\xff\xfe\"}"},
  };
  constexpr int kGood = 495;
  int next_bad = 0;
  for (int i = 0; i < kGood; ++i) {
    ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i)));
    if (i % 99 == 50 && next_bad < static_cast<int>(bad.size())) {
      ASSERT_TRUE(kafka_.Produce("tide.documents", bad[next_bad].first, bad[next_bad].second));
      ++next_bad;
    }
  }
  ASSERT_EQ(next_bad, 5);

  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") + Counter("dead_lettered") >= kGood + 5; },
                                seconds(60)));
  EXPECT_EQ(Counter("applied"), static_cast<std::uint64_t>(kGood));
  EXPECT_EQ(Counter("dead_lettered"), 5u);
  EXPECT_EQ(Counter("duplicate"), 0u);
  ASSERT_TRUE(worker.Stop().ok());

  auto dead = kafka_.ReadAll("tide.documents.dlq", 5, seconds(30));
  ASSERT_EQ(dead.size(), 5u);
  std::set<std::string> values;
  for (const auto& r : dead) {
    EXPECT_FALSE(r.headers.at("tide.reason").empty());
    EXPECT_EQ(r.headers.at("tide.error_class"), "invalid_event");
    EXPECT_EQ(r.headers.at("tide.source.topic"), "tide.documents");
    EXPECT_GE(std::stoll(r.headers.at("tide.source.offset")), 0);
    ASSERT_TRUE(r.value.has_value());
    values.insert(*r.value);
  }
  for (const auto& b : bad) EXPECT_TRUE(values.contains(b.second)) << "not dead-lettered unchanged: " << b.second.substr(0, 40);
  // The worker wrote a snapshot on the way out.
  EXPECT_FALSE(std::filesystem::is_empty(dir_.path() / "data" / "snapshots"));
}

TEST_F(IngestWorkerTest, CleanRestartResumesFromTheStoredOffsetsExactlyOnce) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i)));
  {
    RunningWorker worker(config_);
    ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") >= 100; }, seconds(60)));
    ASSERT_TRUE(worker.Stop().ok());
  }
  // Updates, an older version and a tombstone, consumed by a fresh worker process state.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i, 2)));
  ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(20), GoodEvent(20, 0)));
  ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(30), std::nullopt));
  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") + Counter("stale") >= 112; }, seconds(60)));
  ASSERT_TRUE(worker.Stop().ok());
  EXPECT_EQ(Counter("applied"), 111u);  // 100 + 10 updates + 1 tombstone
  EXPECT_EQ(Counter("stale"), 1u);
  EXPECT_EQ(Counter("duplicate"), 0u);  // nothing was read twice

  // Issue 14: the change log keeps only what the oldest kept snapshot does not cover.
  const auto snapshots = index::IndexSet::ListSnapshotDirs(dir_.path() / "data" / "snapshots");
  ASSERT_FALSE(snapshots.empty());
  auto store = storage::Store::OpenSecondary(dir_.path() / "data" / "store", dir_.path() / "secondary-log", {});
  ASSERT_TRUE(store.ok());
  Result<std::uint64_t> first = (*store)->GetCounter(storage::kMetaFirstChangeSeq);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(*first, snapshots.back().first + 1);
  EXPECT_GT(*first, 1u);
  std::uint64_t lowest = 0;
  ASSERT_TRUE((*store)->Scan(storage::Cf::kChanges, "", "", [&](std::string_view key, std::string_view) {
    lowest = *storage::DecodeU64(key);
    return false;
  }).ok());
  if (lowest != 0) {
    EXPECT_GE(lowest, *first);
  }
}

// Issue 15: with shards = per_partition, each partition's events go to data/partitions/<n>,
// and an event that is not on its container's partition (or principal's, for an ACL) is
// dead-lettered as misplaced_event, saying which partition it belongs on; the rest is applied.
TEST_F(IngestWorkerTest, Issue15_WithShardsPerPartitionAMisplacedEventIsDeadLetteredAndTheRestApplied) {
  config_.shards = ShardLayout::kPerPartition;
  constexpr int kPartitions = 3;  // the fixture's topic
  for (int i = 0; i < 60; ++i) {
    ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i), PartitionOf(KeyOf(i), kPartitions)));
  }
  const int home = PartitionOf(KeyOf(100), kPartitions);
  ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(100), GoodEvent(100), (home + 1) % kPartitions));
  const std::string acl = R"({"schema_version":1,"type":"acl.upsert","principal":"kim","version":1,"containers":["c0"]})";
  const int acl_home = PartitionOf(AclEventKey("kim"), kPartitions);
  ASSERT_TRUE(kafka_.Produce("tide.documents", AclEventKey("kim"), acl, (acl_home + 2) % kPartitions));

  auto sum = [&](const char* name) {
    std::uint64_t total = 0;
    for (int p = 0; p < kPartitions; ++p) {
      auto store = storage::Store::OpenSecondary(dir_.path() / "data" / "partitions" / std::to_string(p) / "store",
                                                 dir_.path() / ("secondary-" + std::to_string(p)), {});
      if (!store) continue;
      auto v = (*store)->GetCounter(storage::CounterKey(name));
      if (v) total += *v;
    }
    return total;
  };
  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return sum("applied") + sum("dead_lettered") >= 62; }, seconds(60)));
  ASSERT_TRUE(worker.Stop().ok());
  EXPECT_EQ(sum("applied"), 60u);
  EXPECT_EQ(sum("dead_lettered"), 2u);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "data" / "store"));  // no single store
  // Each shard recorded the partition count it was made under.
  for (int p = 0; p < kPartitions; ++p) {
    auto store = storage::Store::OpenSecondary(dir_.path() / "data" / "partitions" / std::to_string(p) / "store",
                                               dir_.path() / ("secondary-count-" + std::to_string(p)), {});
    ASSERT_TRUE(store.ok()) << p;
    EXPECT_EQ(*(*store)->GetCounter(storage::kMetaPartitionCount), static_cast<std::uint64_t>(kPartitions)) << p;
  }

  auto dead = kafka_.ReadAll("tide.documents.dlq", 2, seconds(30));
  ASSERT_EQ(dead.size(), 2u);
  for (const auto& r : dead) {
    EXPECT_EQ(r.headers.at("tide.error_class"), "misplaced_event");
    const bool is_acl = r.key == AclEventKey("kim");
    const std::string expected = is_acl ? "principal 'kim' is placed on partition " + std::to_string(acl_home)
                                        : "container 'c1' is placed on partition " + std::to_string(home);
    EXPECT_NE(r.headers.at("tide.reason").find(expected), std::string::npos) << r.headers.at("tide.reason");
  }
}

// Issue 15: a shard records the topic's partition count when it is made, and refuses to open
// under another: more partitions place containers elsewhere, and both shards would hold them.
// The worker stops, saying so, without taking the partition.
TEST_F(IngestWorkerTest, Issue15_AShardMadeUnderAnotherPartitionCountRefusesToOpen) {
  config_.shards = ShardLayout::kPerPartition;
  config_.fatal_exit_delay = std::chrono::milliseconds(0);
  {
    // Partition 0's shard, made when the topic had 2 partitions (the fixture's has 3).
    auto store = storage::Store::OpenPrimary(dir_.path() / "data" / "partitions" / "0" / "store", {});
    ASSERT_TRUE(store.ok());
    storage::WriteBatch batch;
    batch.Put(storage::Cf::kMeta, storage::kMetaPartitionCount, storage::EncodeU64(2));
    ASSERT_TRUE((*store)->Write(&batch).ok());
  }
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i), i % 3));
  std::atomic<bool> done{false}, never{false};
  Status result;
  std::thread worker([&] {
    result = RunWorker(config_, never);
    done = true;
  });
  const bool stopped = testutil::WaitFor([&] { return done.load(); }, seconds(60));
  if (!stopped) never = true;  // stops it, so the thread can be joined
  worker.join();
  ASSERT_TRUE(stopped) << "the worker went on with a shard of another partition count";
  EXPECT_EQ(result.code(), Status::Code::kInvalidArgument) << result.ToString();
  EXPECT_NE(result.message().find("was made when the topic had 2 partitions; it has 3 now"), std::string::npos)
      << result.ToString();
  // The shard keeps what it recorded.
  auto store = storage::Store::OpenSecondary(dir_.path() / "data" / "partitions" / "0" / "store",
                                             dir_.path() / "secondary-0", {});
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(*(*store)->GetCounter(storage::kMetaPartitionCount), 2u);
}

// Issue 17.1: one bad event bigger than the dead-letter producer's limit used to stop every
// partition (its dead letter was refused and the batch retried forever). Now its dead letter is
// cut to fit, marked as such, and everything after it is applied.
TEST_F(IngestWorkerTest, Issue17_AnOversizeBadEventIsDeadLetteredCutToFitAndIngestionGoesOn) {
  config_.limits.max_event_bytes = 8 << 20;
  config_.limits.max_text_bytes = 4 << 20;
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i)));
  // Over librdkafka's 1,000,000-byte message.max.bytes, and invalid ("version": "x")...
  nlohmann::json bad_version = nlohmann::json::parse(GoodEvent(1000));
  bad_version["version"] = "x";
  bad_version["text"] = std::string(1100000, 'a');
  const std::string bad1 = bad_version.dump();
  // ...and a text one byte over limits.max_text_bytes.
  nlohmann::json too_long = nlohmann::json::parse(GoodEvent(1001));
  too_long["text"] = std::string((4 << 20) + 1, 'b');
  const std::string bad2 = too_long.dump();
  // On partitions of their own: the mock broker keeps only ~5 MiB per partition.
  ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(1000), bad1, 0));
  ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(1001), bad2, 1));
  for (int i = 30; i < 60; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i + 2000), GoodEvent(i + 2000)));

  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") + Counter("dead_lettered") >= 62; }, seconds(60)));
  ASSERT_TRUE(worker.Stop().ok());
  EXPECT_EQ(Counter("applied"), 60u);
  EXPECT_EQ(Counter("dead_lettered"), 2u);

  auto dead = kafka_.ReadAll("tide.documents.dlq", 2, seconds(30));
  ASSERT_EQ(dead.size(), 2u);
  std::map<std::string, testutil::MockKafka::Record> by_key;
  for (auto& r : dead) by_key[*r.key] = r;
  for (const auto& [key, original] : {std::pair{KeyOf(1000), bad1}, std::pair{KeyOf(1001), bad2}}) {
    ASSERT_TRUE(by_key.contains(key)) << key;
    const auto& r = by_key[key];
    EXPECT_EQ(r.headers.at("tide.truncated"), "true");
    EXPECT_EQ(r.headers.at("tide.original.value_bytes"), std::to_string(original.size()));
    EXPECT_EQ(r.headers.at("tide.original.value_sha256"), Sha256Hex(original));
    EXPECT_FALSE(r.headers.at("tide.reason").empty());
    ASSERT_TRUE(r.value.has_value());
    // What fits of the original: a prefix, under the producer's limit with its headers.
    EXPECT_GT(r.value->size(), 900000u);
    EXPECT_LT(r.value->size(), 1000000u);
    EXPECT_EQ(original.compare(0, r.value->size(), *r.value), 0);
  }
  EXPECT_NE(by_key[KeyOf(1000)].headers.at("tide.reason").find("version"), std::string::npos);
  EXPECT_NE(by_key[KeyOf(1001)].headers.at("tide.reason").find("limit"), std::string::npos);
}

// The same class with a small configured limit: a key over 1 KiB is cut too, every dead letter
// fits, one that fits whole goes whole, and the cut is on a UTF-8 boundary.
TEST_F(IngestWorkerTest, Issue17_DeadLettersFitAConfiguredLimitWithLongKeysAndUtf8Cut) {
  config_.dead_letters.max_message_bytes = 4096;
  const std::string long_key = "c0/" + std::string(3000, 'k');
  const std::string korean_garbage = "{\"not\": \"an event\", \"text\": \"" + [] {
    std::string s;
    for (int i = 0; i < 2000; ++i) s += "한";  // 3 bytes each
    return s;
  }() + "\"}";
  ASSERT_TRUE(kafka_.Produce("tide.documents", long_key, korean_garbage));
  ASSERT_TRUE(kafka_.Produce("tide.documents", std::string("c0/small"), std::string("tiny and wrong")));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i)));
  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") + Counter("dead_lettered") >= 12; }, seconds(60)));
  ASSERT_TRUE(worker.Stop().ok());
  EXPECT_EQ(Counter("applied"), 10u);
  auto dead = kafka_.ReadAll("tide.documents.dlq", 2, seconds(30));
  ASSERT_EQ(dead.size(), 2u);
  for (const auto& r : dead) {
    std::size_t size = (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
    for (const auto& [k, v] : r.headers) size += k.size() + v.size();
    EXPECT_LE(size, 4096u);
    if (r.value && *r.value == "tiny and wrong") {
      EXPECT_FALSE(r.headers.contains("tide.truncated"));
      continue;
    }
    EXPECT_EQ(r.headers.at("tide.truncated"), "true");
    EXPECT_EQ(r.headers.at("tide.original.key_bytes"), std::to_string(long_key.size()));
    EXPECT_EQ(r.headers.at("tide.original.key_sha256"), Sha256Hex(long_key));
    EXPECT_EQ(r.key->size(), 1024u);
    ASSERT_TRUE(r.value.has_value());
    EXPECT_GT(r.value->size(), 0u);
    EXPECT_EQ(korean_garbage.compare(0, r.value->size(), *r.value), 0);
    // Cut between code points: the prefix is whole characters after the ASCII opening.
    const std::size_t opening = korean_garbage.find("한");
    EXPECT_EQ((r.value->size() - opening) % 3, 0u);
  }
}

// An OpenAI-compatible provider that refuses any text containing "REJECT" (as providers do
// with over-long or otherwise unacceptable inputs) and embeds everything else.
http::HttpResponse FakeProvider(const http::HttpRequest& r) {
  nlohmann::json req = nlohmann::json::parse(r.body, nullptr, false);
  if (!req.is_object() || !req.contains("input")) return http::JsonError(400, "bad", "no input");
  nlohmann::json data = nlohmann::json::array();
  int i = 0;
  for (const auto& text : req["input"]) {
    if (text.get<std::string>().find("REJECT") != std::string::npos) {
      return http::JsonError(400, "invalid_request_error", "input is not acceptable");
    }
    std::vector<float> v(8, 0.1f);
    v[text.get<std::string>().size() % 8] = 1.0f;
    data.push_back({{"index", i++}, {"embedding", v}});
  }
  return {200, "application/json", nlohmann::json{{"data", data}, {"model", "fake"}}.dump(), {}};
}

TEST_F(IngestWorkerTest, ATextTheEmbedderRejectsIsDeadLetteredAndTheRestApplied) {
  auto provider = http::HttpServer::Start({}, FakeProvider);
  ASSERT_TRUE(provider.ok());
  config_.shared.embedder.kind = "openai";
  config_.shared.embedder.base_url = "http://127.0.0.1:" + std::to_string((*provider)->port()) + "/v1";
  config_.shared.embedder.model = "fake";
  config_.shared.embedder.dimension = 8;
  for (int i = 0; i < 30; ++i) {
    nlohmann::json e = nlohmann::json::parse(GoodEvent(i));
    if (i == 17) e["text"] = "this text REJECTs the provider";
    ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), e.dump()));
  }
  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") + Counter("dead_lettered") >= 30; }, seconds(60)));
  ASSERT_TRUE(worker.Stop().ok());
  EXPECT_EQ(Counter("applied"), 29u);
  EXPECT_EQ(Counter("dead_lettered"), 1u);
  EXPECT_EQ(Counter("duplicate"), 0u);
  auto dead = kafka_.ReadAll("tide.documents.dlq", 1, seconds(30));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers.at("tide.error_class"), "embedding_rejected");
  EXPECT_EQ(*dead[0].key, KeyOf(17));
}

TEST_F(IngestWorkerTest, AnEmbedderOutageDeadLettersNothingAndIngestionResumesByItself) {
  std::atomic<bool> down{true};
  std::atomic<int> refused{0};
  auto provider = http::HttpServer::Start({}, [&](const http::HttpRequest& r) {
    if (down) {
      ++refused;
      return http::JsonError(503, "unavailable", "the provider is down");
    }
    return FakeProvider(r);
  });
  ASSERT_TRUE(provider.ok());
  config_.shared.embedder.kind = "openai";
  config_.shared.embedder.base_url = "http://127.0.0.1:" + std::to_string((*provider)->port()) + "/v1";
  config_.shared.embedder.model = "fake";
  config_.shared.embedder.dimension = 8;
  config_.shared.embedder.max_attempts = 1;
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i)));
  RunningWorker worker(config_);
  // The worker keeps trying (with backoff, partitions paused) while the provider is down...
  ASSERT_TRUE(testutil::WaitFor([&] { return refused >= 3; }, seconds(60)));
  EXPECT_EQ(Counter("applied"), 0u);
  EXPECT_EQ(Counter("dead_lettered"), 0u);
  // ...and catches up by itself when it is back.
  down = false;
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") >= 40; }, seconds(60)));
  ASSERT_TRUE(worker.Stop().ok());
  EXPECT_EQ(Counter("applied"), 40u);
  EXPECT_EQ(Counter("dead_lettered"), 0u);
  EXPECT_EQ(Counter("duplicate"), 0u);
}

// A persistent error that is neither transient nor the event's own (here: the stored record of
// the document it updates has rotted) stops nothing: the batch is retried batch.max_attempts
// times, then applied event by event, and the one event that still fails is dead-lettered
// with the reason; every other event of its partition is applied.
TEST_F(IngestWorkerTest, APersistentlyFailingEventIsDeadLetteredAfterItsAttemptsAndThePartitionGoesOn) {
  {
    auto store = storage::Store::OpenPrimary(dir_.path() / "data" / "store", {.sync_writes = false});
    ASSERT_TRUE(store.ok());
    storage::WriteBatch rot;
    rot.Put(storage::Cf::kDocs, storage::DocKey("c1", "doc-7"), std::string("\x09not a doc record"));
    ASSERT_TRUE((*store)->Write(&rot).ok());
  }
  config_.max_apply_attempts = 3;
  constexpr int kEvents = 30;
  for (int i = 0; i < kEvents; ++i) ASSERT_TRUE(kafka_.Produce("tide.documents", KeyOf(i), GoodEvent(i)));
  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") + Counter("dead_lettered") >= kEvents; },
                                seconds(60)));
  EXPECT_EQ(Counter("applied"), static_cast<std::uint64_t>(kEvents - 1));
  EXPECT_EQ(Counter("dead_lettered"), 1u);
  ASSERT_TRUE(worker.Stop().ok());
  auto dead = kafka_.ReadAll("tide.documents.dlq", 1, seconds(30));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].headers.at("tide.error_class"), "apply_failed");
  const std::string& reason = dead[0].headers.at("tide.reason");
  EXPECT_NE(reason.find("could not be applied after 3 attempts"), std::string::npos) << reason;
  EXPECT_NE(reason.find("Corruption"), std::string::npos) << reason;
  ASSERT_TRUE(dead[0].value.has_value());
  EXPECT_EQ(*dead[0].value, GoodEvent(7));
}

// A real full disk: the data directory on a 3 MiB tmpfs and 2,000 events of ~1.8 KB. The
// worker does not exit and loses nothing: RocksDB's write fails with ENOSPC, consumption
// pauses (the batch is retried with backoff), /readyz says "disk full"; once the file system
// has room again (here: remounted larger), the store is resumed and every event is applied
// exactly once.
TEST_F(IngestWorkerTest, ADiskFullPausesIngestionUntilThereIsRoomAndLosesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a size-limited tmpfs as the data directory";
  const std::filesystem::path mnt = dir_.path() / "data";
  std::filesystem::create_directories(mnt);
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=3m"), 0) << std::strerror(errno);
  struct Unmount {
    std::filesystem::path path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{mnt};
  config_.metrics_port_file = (dir_.path() / "metrics-port").string();
  constexpr int kEvents = 2000;
  std::string text;
  while (text.size() < 1800) text += "디스크가 가득 차도 이벤트는 사라지지 않는다. ";
  for (int i = 0; i < kEvents; ++i) {
    nlohmann::json e = {{"schema_version", 1}, {"type", "document.upsert"}, {"container_id", "full"},
                        {"doc_id", "doc-" + std::to_string(i)}, {"version", 1}, {"text", text + std::to_string(i)}};
    ASSERT_TRUE(kafka_.Produce("tide.documents", "full/doc-" + std::to_string(i), e.dump()));
  }
  RunningWorker worker(config_);
  ASSERT_TRUE(testutil::WaitFor([&] { return std::filesystem::exists(dir_.path() / "metrics-port"); }, seconds(30)));
  const auto port = static_cast<std::uint16_t>(std::stoi(*ReadFile(dir_.path() / "metrics-port")));
  testutil::HttpResult ready;
  ASSERT_TRUE(testutil::WaitFor(
      [&] {
        ready = testutil::HttpRequestLoopback(port, "GET", "/readyz", "", "");
        return ready.body.find("disk full") != std::string::npos;
      },
      seconds(120)))
      << "the worker never reported a full disk; last /readyz: " << ready.status << " " << ready.body;
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(testutil::HttpRequestLoopback(port, "GET", "/metrics", "", "").body.find("tide_ingest_paused 1"),
            std::string::npos);
  const std::uint64_t applied_while_full = Counter("applied");
  EXPECT_LT(applied_while_full, static_cast<std::uint64_t>(kEvents));

  // Room again: the worker resumes by itself.
  ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", MS_REMOUNT, "size=256m"), 0) << std::strerror(errno);
  ASSERT_TRUE(testutil::WaitFor([&] { return Counter("applied") >= kEvents; }, seconds(120)))
      << "applied " << Counter("applied") << " of " << kEvents;
  ASSERT_TRUE(testutil::WaitFor(
      [&] { return testutil::HttpRequestLoopback(port, "GET", "/readyz", "", "").status == 200; }, seconds(30)));
  ASSERT_TRUE(worker.Stop().ok());
  EXPECT_EQ(Counter("applied"), static_cast<std::uint64_t>(kEvents));
  EXPECT_EQ(Counter("dead_lettered"), 0u);
  EXPECT_EQ(Counter("duplicate"), 0u);
}

}  // namespace
}  // namespace tide::ingest
