#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/http/http_client.h"
#include "common/metrics.h"
#include "query/shard_search.h"

namespace tide::query {

// The shards other tide-query daemons serve, searched as one index: what a router reads
// (`shards = remote` in query.conf; decision 0016). Each node serves some partitions' shards
// (`partitions = ...`); two nodes serving the same partition are replicas of it.
//
// A search goes only to the shards that hold its containers (each container's partition,
// common/placement.h), one copy of each, in the steps of the shard API (query/shard_api.h):
// BM25 statistics summed over the shards first, then the lists, merged by score, then the
// chunks of the hits. So its answer is one daemon's over every shard. Copies are taken in turn.
// A copy that fails a step is marked down (until its next successful poll) and the step goes
// to another copy; when none is left, the search fails naming the shard, or, with
// allow_partial_search_results, goes on without it and says so.
//
// The shard map (which node serves which shard, loaded or not, and the partition count) is
// polled from every node every `refresh`.
//
// Thread-safe. The poll runs on a thread this object owns.
class RemoteShards final : public ShardSource {
 public:
  struct Options {
    std::vector<std::string> nodes;  // base URLs: "http://10.0.0.5:8080"
    std::string api_key;             // presented to the nodes: role admin, containers ["*"]
    std::chrono::milliseconds refresh{1000};
    http::HttpClient::Options http;
  };

  static Result<std::unique_ptr<RemoteShards>> Create(const Options& options, MetricsRegistry* metrics);
  ~RemoteShards() override;

  Result<std::unique_ptr<ShardSearch>> Begin(const std::vector<std::string>& container_ids,
                                             const SearchOptions& options) const override;
  Result<std::optional<std::vector<std::string>>> PrincipalContainers(const std::string& principal) const override;
  Result<IndexFigures> Figures() const override;
  bool cacheable() const override { return false; }

  bool ready() const override;
  std::string not_ready_reason() const override;
  Status corruption() const override { return Status(); }
  Status fatal() const override { return Status(); }
  Follower::Lag lag() const override { return {}; }
  Watermark watermark() const override;
  std::uint64_t store_seq() const override { return watermark().seq; }
  std::uint64_t snapshot_jumps() const override { return 0; }
  std::uint64_t corrupt_snapshots() const override { return 0; }
  std::size_t size() const override;

  // One step sent to one node: the answer, or why there was none (a transport error, or the
  // node's error status and reason).
  Result<nlohmann::json> Call(std::size_t node, const std::string& step, const nlohmann::json& body,
                              std::chrono::steady_clock::time_point deadline) const;
  // A copy of `shard` to send a step to: ready, up, not in `tried`; taken in turn.
  std::optional<std::size_t> Pick(std::uint32_t shard, const std::vector<std::size_t>& tried) const;
  // Marks `node` down until its next successful poll.
  void MarkDown(std::size_t node, const std::string& reason) const;
  std::uint32_t partition_count() const;
  const std::string& node_url(std::size_t node) const { return options_.nodes[node]; }

 private:
  RemoteShards(const Options& options, std::unique_ptr<http::HttpClient> client, MetricsRegistry* metrics);
  void Poll();

  struct NodeState {
    bool up = false;
    std::string reason;  // why it is down
    std::optional<std::uint32_t> partition_count;
    std::map<std::uint32_t, bool> shards;  // served here: loaded or not
  };

  const Options options_;
  const std::unique_ptr<http::HttpClient> client_;
  MetricsRegistry* metrics_;
  mutable std::mutex mu_;
  mutable std::vector<NodeState> nodes_;  // GUARDED_BY(mu_), as options_.nodes
  mutable std::atomic<std::uint64_t> turn_{0};
  std::atomic<bool> stop_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread poller_;
};

}  // namespace tide::query
