// `tidectl stats`: what the store holds, read through a RocksDB secondary instance, so it
// works while tide-ingest is running (and without it). For a per-partition worker's data
// directory: each shard's stats under "shards" (by partition), and their sums. With
// --brokers, each partition's lag behind the topic's end and how long its oldest unapplied
// message has waited.

#include <unistd.h>

#include <chrono>
#include <climits>
#include <iostream>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "common/config_util.h"
#include "common/storage/store.h"
#include "ingest/ctl/broker.h"
#include "ingest/ctl/commands.h"
#include "ingest/ctl/shard_stores.h"

namespace tide::ctl {
namespace {

namespace po = boost::program_options;
using storage::Cf;

Result<nlohmann::json> CollectStats(const storage::Store& store) {
  nlohmann::json out;
  nlohmann::json counters = nlohmann::json::object();
  nlohmann::json offsets = nlohmann::json::object();
  Status s = store.Scan(Cf::kMeta, "", "", [&](std::string_view key, std::string_view value) {
    Result<std::uint64_t> v = storage::DecodeU64(value);
    if (key.starts_with(storage::kCounterKeyPrefix) && v) {
      counters[std::string(key.substr(storage::kCounterKeyPrefix.size()))] = *v;
    } else if (key.starts_with(storage::kOffsetKeyPrefix) && v) {
      offsets[std::string(key.substr(storage::kOffsetKeyPrefix.size()))] = *v;
    } else if (key == storage::kMetaNextChangeSeq && v) {
      out["change_seq"] = *v - 1;
    } else if (key == storage::kMetaFirstChangeSeq && v) {
      out["first_change_seq"] = *v;
    } else if (key == storage::kMetaPartitionCount && v) {
      out["partition_count"] = *v;  // a per-partition shard: the topic's count it was made under
    } else if (key == storage::kMetaGraphGeneration && v) {
      out["graph_records"]["generation"] = *v;
    } else if (key == storage::kMetaEmbedder) {
      if (auto id = storage::DecodeEmbedderIdentity(value)) {
        out["embedder"] = {{"model_id", id->model_id}, {"dimension", id->dimension}};
      }
    }
    return true;
  });
  TIDE_RETURN_IF_ERROR(s);
  std::uint64_t docs = 0, deleted = 0, chunks = 0, text_bytes = 0;
  std::map<std::string, std::uint64_t> per_container;
  TIDE_RETURN_IF_ERROR(store.Scan(Cf::kDocs, "", "", [&](std::string_view key, std::string_view value) {
    Result<storage::DocRecord> doc = storage::DecodeDoc(value);
    if (!doc) return true;
    if (doc->deleted) {
      ++deleted;
      return true;
    }
    ++docs;
    std::string container, doc_id;
    if (storage::SplitDocKey(key, &container, &doc_id).ok()) ++per_container[container];
    return true;
  }));
  TIDE_RETURN_IF_ERROR(store.Scan(Cf::kChunks, "", "", [&](std::string_view, std::string_view value) {
    ++chunks;
    if (Result<storage::ChunkRecord> chunk = storage::DecodeChunk(value)) text_bytes += chunk->text.size();
    return true;
  }));
  // The worker's vector graph records that the query daemons copy (decision 0011).
  std::uint64_t records = 0, record_bytes = 0, last_record = 0;
  TIDE_RETURN_IF_ERROR(store.Scan(Cf::kGraph, "", "", [&](std::string_view key, std::string_view value) {
    ++records;
    record_bytes += value.size();
    if (Result<std::uint64_t> seq = storage::DecodeU64(key)) last_record = *seq;
    return true;
  }));
  if (out.contains("graph_records") || records > 0) {
    out["graph_records"]["records"] = records;
    out["graph_records"]["bytes"] = record_bytes;
    out["graph_records"]["through_change_seq"] = last_record;  // what the daemons can reach
  }
  out["counters"] = counters;
  out["offsets"] = offsets;
  out["documents"] = docs;
  out["deleted_documents"] = deleted;
  out["chunks"] = chunks;
  out["chunk_text_bytes"] = text_bytes;  // UTF-8 bytes of the chunk texts (the raw text size)
  out["documents_per_container"] = per_container;
  return out;
}

}  // namespace

// With a broker: how far each partition the store has offsets for is behind the topic's end
// ("lag": messages not yet applied) and, when it is, how long the oldest of them has waited
// ("waiting_ms", from its timestamp): the store's freshness. Adds both to `stats`.
Status AddLag(Broker* broker, nlohmann::json* stats) {
  nlohmann::json lag = nlohmann::json::object(), waiting = nlohmann::json::object();
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  for (const auto& [key, next] : (*stats)["offsets"].items()) {
    const std::size_t slash = key.rfind('/');
    if (slash == std::string::npos) continue;
    const std::string topic = key.substr(0, slash);
    const std::int32_t partition = std::stoi(key.substr(slash + 1));
    Result<std::pair<std::int64_t, std::int64_t>> marks = broker->Watermarks(topic, partition);
    if (!marks) return marks.status().WithContext(key);
    const std::int64_t behind = std::max<std::int64_t>(0, marks->second - next.get<std::int64_t>());
    lag[key] = behind;
    if (behind > 0) {
      Result<std::int64_t> ts = broker->TimestampAt(topic, partition, next.get<std::int64_t>());
      if (ts && *ts != INT64_MAX) waiting[key] = std::max<std::int64_t>(0, now - *ts);
    }
  }
  (*stats)["lag"] = lag;
  (*stats)["waiting_ms"] = waiting;
  return Status();
}

int RunStats(int argc, const char* const* argv) {
  std::string data_dir = "./data";
  ingest::KafkaConfig kafka;
  kafka.brokers.clear();
  po::options_description options("tidectl stats options");
  options.add_options()("data_dir", po::value(&data_dir)->default_value(data_dir), "the worker's data directory")
      ("brokers", po::value(&kafka.brokers)->default_value(""),
       "bootstrap servers: also report each partition's lag behind the topic's end and how long its oldest "
       "unapplied message has waited")
      ("kafka.property", po::value(&kafka.properties)->composing(), "librdkafka property key=value");
  Result<po::variables_map> vm =
      ParseCommandLineAndConfig(argc, argv, options, "tidectl stats [--data_dir DIR] [--brokers HOST:PORT]");
  if (!vm) {
    if (vm.status().code() == Status::Code::kNotFound) return 0;
    std::cerr << "tidectl stats: " << vm.status().message() << '\n';
    return 2;
  }
  std::unique_ptr<Broker> broker;
  if (!kafka.brokers.empty()) {
    Result<std::unique_ptr<Broker>> connected = Broker::Connect(kafka);
    if (!connected) {
      std::cerr << "tidectl stats: " << connected.status().message() << '\n';
      return 1;
    }
    broker = std::move(*connected);
  }
  return WithSecondaryStores(data_dir, "stats", [&broker](std::vector<ShardStore>& shards) {
    std::vector<nlohmann::json> each;
    for (const ShardStore& shard : shards) {
      Result<nlohmann::json> stats = CollectStats(*shard.store);
      Status lag = stats && broker ? AddLag(broker.get(), &*stats) : Status();
      if (!stats || !lag.ok()) {
        std::cerr << "tidectl stats: " << (shard.name.empty() ? "" : shard.name + ": ")
                  << (stats ? lag.message() : stats.status().message()) << '\n';
        return 1;
      }
      each.push_back(std::move(*stats));
    }
    if (shards.size() == 1 && shards[0].partition < 0) {
      std::cout << each[0].dump(2) << std::endl;
      return 0;
    }
    // A per-partition data directory: the shard map (each partition's store, as above), and
    // the sums over the shards.
    nlohmann::json out = {{"stores", shards.size()}, {"documents", 0}, {"deleted_documents", 0}, {"chunks", 0},
                          {"chunk_text_bytes", 0}, {"counters", nlohmann::json::object()},
                          {"offsets", nlohmann::json::object()}, {"documents_per_container", nlohmann::json::object()},
                          {"shards", nlohmann::json::object()}};
    for (std::size_t i = 0; i < shards.size(); ++i) {
      const nlohmann::json& one = each[i];
      for (const char* key : {"documents", "deleted_documents", "chunks", "chunk_text_bytes"}) {
        out[key] = out[key].get<std::uint64_t>() + one.value(key, std::uint64_t{0});
      }
      for (const auto& [name, value] : one["counters"].items()) {
        out["counters"][name] = out["counters"].value(name, std::uint64_t{0}) + value.get<std::uint64_t>();
      }
      for (const auto& [name, value] : one["offsets"].items()) out["offsets"][name] = value;
      if (one.contains("lag")) {
        for (const auto& [name, value] : one["lag"].items()) out["lag"][name] = value;
        for (const auto& [name, value] : one["waiting_ms"].items()) out["waiting_ms"][name] = value;
      }
      for (const auto& [name, value] : one["documents_per_container"].items()) {
        out["documents_per_container"][name] =
            out["documents_per_container"].value(name, std::uint64_t{0}) + value.get<std::uint64_t>();
      }
      out["shards"][std::to_string(shards[i].partition)] = one;
    }
    std::cout << out.dump(2) << std::endl;
    return 0;
  });
}

}  // namespace tide::ctl
