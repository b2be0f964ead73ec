// Freshness: how long after one event is published it can be found through tide-query's
// POST /v1/search. For each probe it produces one document.upsert (container
// "bench-fresh", a unique all-letter token in the text) with acks=all, then searches for the
// token (mode keyword, k 1) every --poll_ms until the probe's document is the top hit.
// Optionally a background load runs meanwhile: events of --load FILE produced at
// --load_rate events/s by a second producer (cycled if the file runs out).
//
//   freshness_probe --brokers B --port P --api_key_file F [--probes 100] [--gap_ms 100]
//                   [--poll_ms 5] [--timeout_ms 10000] [--run NAME] [--topic tide.documents]
//                   [--load FILE --load_rate R]
//
// Prints one line per probe on stdout: "<probe> <publish_to_ack_ms> <publish_to_visible_ms>
// <published_at>", or "<probe> <publish_to_ack_ms> lost <published_at>" for one not visible
// within --timeout_ms (published_at: local wall-clock time, HH:MM:SS.mmm, as the daemons' logs
// print it, to set a slow probe beside them), and a summary on stderr. Exits 1 on an error, kSomeLost (3) if a probe never became visible: a
// measurement (ingest_bench.sh reports it), not a failure of this program.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafkacpp.h>
#include <nlohmann/json.hpp>

#include "tests/testutil/http_client.h"

namespace {

constexpr int kSomeLost = 3;  // exit status when a probe never became visible

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct Options {
  std::string brokers;
  std::uint16_t port = 0;
  std::string api_key_file;
  std::string topic = "tide.documents";
  std::string run = "a";
  int probes = 100;
  int gap_ms = 100;
  int poll_ms = 5;
  int timeout_ms = 10000;
  std::string load_file;
  double load_rate = 0;
};

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "freshness_probe: %s\n", message.c_str());
  std::exit(1);
}

Options ParseArgs(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) Die("missing value for " + arg);
    const std::string v = argv[++i];
    if (arg == "--brokers") opt.brokers = v;
    else if (arg == "--port") opt.port = static_cast<std::uint16_t>(std::stoi(v));
    else if (arg == "--api_key_file") opt.api_key_file = v;
    else if (arg == "--topic") opt.topic = v;
    else if (arg == "--run") opt.run = v;
    else if (arg == "--probes") opt.probes = std::stoi(v);
    else if (arg == "--gap_ms") opt.gap_ms = std::stoi(v);
    else if (arg == "--poll_ms") opt.poll_ms = std::stoi(v);
    else if (arg == "--timeout_ms") opt.timeout_ms = std::stoi(v);
    else if (arg == "--load") opt.load_file = v;
    else if (arg == "--load_rate") opt.load_rate = std::stod(v);
    else Die("unknown option " + arg);
  }
  if (opt.brokers.empty() || opt.port == 0 || opt.api_key_file.empty()) {
    Die("--brokers, --port and --api_key_file are required");
  }
  return opt;
}

std::string ReadApiKey(const std::string& file) {
  std::ifstream in(file);
  json keys = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (keys.is_discarded() || !keys.contains("keys") || keys["keys"].empty()) Die("bad keys file " + file);
  return keys["keys"][0]["key"].get<std::string>();
}

std::unique_ptr<RdKafka::Producer> MakeProducer(const std::string& brokers, const std::string& linger_ms) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : {std::pair<std::string, std::string>{"bootstrap.servers", brokers},
                             {"acks", "all"}, {"enable.idempotence", "true"}, {"linger.ms", linger_ms}}) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) Die("kafka " + k + ": " + err);
  }
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
  if (!p) Die("producer: " + err);
  return p;
}

void Produce(RdKafka::Producer* p, const std::string& topic, const std::string& key, const std::string& value) {
  for (;;) {
    RdKafka::ErrorCode err = p->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                        const_cast<char*>(value.data()), value.size(), key.data(), key.size(),
                                        0, nullptr);
    if (err == RdKafka::ERR_NO_ERROR) return;
    if (err != RdKafka::ERR__QUEUE_FULL) Die("produce: " + RdKafka::err2str(err));
    p->poll(10);
  }
}

// A token the analyzer keeps as one Latin word: letters only (digits would split it).
std::string Token(const std::string& run, int probe) {
  std::string letters;
  int n = probe;
  do {
    letters.push_back(static_cast<char>('a' + n % 26));
    n /= 26;
  } while (n > 0);
  return "zfresh" + run + letters;
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Now, local time, as HH:MM:SS.mmm (the daemons' logs use the same clock and zone).
std::string WallClock() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03d", local.tm_hour, local.tm_min, local.tm_sec, static_cast<int>(ms));
  return buf;
}

// The background load: events of `file` at `rate` per second until `stop`.
void RunLoad(const Options& opt, const std::atomic<bool>& stop, std::atomic<long>* sent) {
  std::ifstream in(opt.load_file);
  std::vector<std::pair<std::string, std::string>> events;  // key, value
  for (std::string line; std::getline(in, line);) {
    json e = json::parse(line, nullptr, false);
    if (e.is_discarded()) continue;
    events.emplace_back(e["container_id"].get<std::string>() + "/" + e["doc_id"].get<std::string>(), line);
  }
  if (events.empty()) Die("no events in " + opt.load_file);
  auto producer = MakeProducer(opt.brokers, "5");
  const auto start = Clock::now();
  long i = 0;
  while (!stop.load()) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(i / opt.load_rate));
    if (Clock::now() < due) {
      producer->poll(0);
      std::this_thread::sleep_until(std::min(due, Clock::now() + std::chrono::milliseconds(5)));
      continue;
    }
    const auto& [key, value] = events[static_cast<std::size_t>(i) % events.size()];
    Produce(producer.get(), opt.topic, key, value);
    ++i;
    sent->store(i);
  }
  producer->flush(10000);
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = ParseArgs(argc, argv);
  const std::string api_key = ReadApiKey(opt.api_key_file);
  auto producer = MakeProducer(opt.brokers, "0");
  // The topic's partitions and leaders known before the first probe, as a long-lived client
  // has them: a producer learning them at its first message held that message about a second
  // (librdkafka's scan of unknown topics), which was the slowest probe of a run.
  {
    std::string err;
    std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(producer.get(), opt.topic, nullptr, err));
    if (!topic) Die("topic " + opt.topic + ": " + err);
    RdKafka::Metadata* raw = nullptr;
    if (producer->metadata(false, topic.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR) Die("no metadata for " + opt.topic);
    delete raw;
  }

  std::atomic<bool> stop_load{false};
  std::atomic<long> load_sent{0};
  std::thread load;
  if (!opt.load_file.empty() && opt.load_rate > 0) {
    load = std::thread(RunLoad, std::cref(opt), std::cref(stop_load), &load_sent);
    std::this_thread::sleep_for(std::chrono::seconds(2));  // let the load reach its rate
  }

  std::vector<double> visible;
  int lost = 0;
  for (int i = 0; i < opt.probes; ++i) {
    const std::string token = Token(opt.run, i);
    const std::string doc_id = "probe-" + opt.run + "-" + std::to_string(i);
    const json event = {{"schema_version", 1}, {"type", "document.upsert"}, {"container_id", "bench-fresh"},
                        {"doc_id", doc_id}, {"version", 1}, {"title", "신선도 측정"},
                        {"text", "신선도 측정 문서 " + token + " 입니다."}};
    const json query = {{"query", token}, {"container_ids", {"bench-fresh"}}, {"k", 1}, {"mode", "keyword"}};
    const std::string body = query.dump();

    const std::string published_at = WallClock();
    const auto t0 = Clock::now();
    Produce(producer.get(), opt.topic, "bench-fresh/" + doc_id, event.dump());
    if (producer->flush(10000) != RdKafka::ERR_NO_ERROR) Die("probe not acknowledged");
    const auto t_ack = Clock::now();
    bool found = false;
    while (Clock::now() - t0 < std::chrono::milliseconds(opt.timeout_ms)) {
      tide::testutil::HttpResult r =
          tide::testutil::HttpRequestLoopback(opt.port, "POST", "/v1/search", body, api_key);
      if (r.status == 200) {
        json res = json::parse(r.body, nullptr, false);
        if (!res.is_discarded() && !res["hits"].empty() && res["hits"][0]["doc_id"] == doc_id) {
          found = true;
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(opt.poll_ms));
    }
    const auto t_vis = Clock::now();
    if (!found) {
      ++lost;
      std::fprintf(stderr, "freshness_probe: probe %d not visible after %d ms\n", i, opt.timeout_ms);
      std::printf("%d %.2f lost %s\n", i, Ms(t_ack - t0), published_at.c_str());
      std::fflush(stdout);
      continue;
    }
    visible.push_back(Ms(t_vis - t0));
    std::printf("%d %.2f %.2f %s\n", i, Ms(t_ack - t0), Ms(t_vis - t0), published_at.c_str());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(opt.gap_ms));
  }
  stop_load.store(true);
  if (load.joinable()) load.join();

  std::sort(visible.begin(), visible.end());
  auto pct = [&](double p) {
    return visible.empty() ? 0.0 : visible[std::min(visible.size() - 1, static_cast<std::size_t>(p * visible.size()))];
  };
  std::fprintf(stderr, "freshness_probe: %zu probes visible, %d lost; p50 %.1f ms, p99 %.1f ms; load events sent %ld\n",
               visible.size(), lost, pct(0.5), pct(0.99), load_sent.load());
  return lost == 0 ? 0 : kSomeLost;
}
