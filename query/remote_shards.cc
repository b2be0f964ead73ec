#include "query/remote_shards.h"

#include <algorithm>
#include <future>
#include <set>

#include <spdlog/spdlog.h>

#include "common/placement.h"
#include "common/storage/schema.h"
#include "query/shard_wire.h"

namespace tide::query {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string BinaryOf(const json& j) {
  const std::vector<std::uint8_t>& bytes = j.get_binary();
  return std::string(bytes.begin(), bytes.end());
}

// A search over the shards of its containers, on the nodes that serve them.
class RemoteShardSearch final : public ShardSearch {
 public:
  RemoteShardSearch(const RemoteShards* remote, std::uint32_t partition_count, std::vector<std::string> containers,
                    std::set<std::uint32_t> shards, const ShardSource::SearchOptions& options)
      : remote_(remote), partition_count_(partition_count), containers_(std::move(containers)), options_(options) {
    for (std::uint32_t s : shards) live_.push_back(s);
  }

  std::size_t shards() const override { return live_.size(); }

  Result<std::vector<bool>> TermsInScope(const std::vector<std::string>& terms) override {
    std::vector<bool> in(terms.size(), false);
    TIDE_RETURN_IF_ERROR(Scatter("terms", {{"terms", terms}, {"want", "in_scope"}}, [&](const json& a) {
      const std::vector<bool> one = a.at("in_scope").get<std::vector<bool>>();
      for (std::size_t i = 0; i < in.size() && i < one.size(); ++i) in[i] = in[i] || one[i];
    }));
    return in;
  }

  Result<std::vector<std::size_t>> DocFrequencies(const std::vector<std::string>& terms) override {
    std::vector<std::size_t> df(terms.size(), 0);
    TIDE_RETURN_IF_ERROR(Scatter("terms", {{"terms", terms}, {"want", "df"}}, [&](const json& a) {
      const std::vector<std::size_t> one = a.at("df").get<std::vector<std::size_t>>();
      for (std::size_t i = 0; i < df.size() && i < one.size(); ++i) df[i] += one[i];
    }));
    return df;
  }

  Status AddKeywordStatistics(const std::vector<index::Field>& fields, const std::vector<std::string>& terms,
                              std::vector<index::KeywordStatistics>* sums) override {
    sums->assign(fields.size(), {});
    json names = json::array();
    for (index::Field f : fields) names.push_back(FieldName(f));
    return Scatter("statistics", {{"fields", names}, {"terms", terms}}, [&](const json& a) {
      const json& each = a.at("statistics");
      if (each.size() != fields.size()) throw std::invalid_argument("statistics for another number of fields");
      for (std::size_t f = 0; f < fields.size(); ++f) AddStatistics(StatisticsFromWire(each[f]), &(*sums)[f]);
    });
  }

  Result<ShardLists> SearchLists(const ListsRequest& request) override {
    json body = {{"k", request.k}, {"filter", FilterToWire(*request.filter)}};
    if (request.vector != nullptr) body["vector"] = FloatsToWire(*request.vector);
    if (!request.keyword.empty()) {
      body["terms"] = *request.terms;
      body["term_weights"] = *request.term_weights;
      json keyword = json::array();
      for (const ListsRequest::Keyword& k : request.keyword) {
        json one = {{"field", FieldName(k.field)}};
        if (k.global != nullptr) one["statistics"] = StatisticsToWire(*k.global);
        keyword.push_back(std::move(one));
      }
      body["keyword"] = std::move(keyword);
    }
    if (request.deadline != Clock::time_point::max()) {
      body["timeout_ms"] = std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(request.deadline - Clock::now()).count());
    }
    ShardLists out;
    if (request.vector != nullptr) out.vector.emplace();
    out.keyword.assign(request.keyword.size(), std::vector<index::KeywordHit>());
    TIDE_RETURN_IF_ERROR(Scatter("lists", body, [&](const json& a) {
      // A list one node skipped for the deadline is skipped for the search.
      if (a.value("timed_out", false)) out.timed_out = true;
      if (out.vector) {
        if (a.at("vector").is_null()) {
          out.vector.reset();
        } else {
          std::vector<index::VectorHit> one = VectorHitsFromWire(a.at("vector"));
          out.vector->insert(out.vector->end(), one.begin(), one.end());
        }
      }
      const json& lists = a.at("keyword");
      if (lists.size() != out.keyword.size()) throw std::invalid_argument("another number of keyword lists");
      for (std::size_t k = 0; k < out.keyword.size(); ++k) {
        if (!out.keyword[k]) continue;
        if (lists[k].is_null()) {
          out.keyword[k].reset();
          continue;
        }
        std::vector<index::KeywordHit> one = KeywordHitsFromWire(lists[k], *request.terms);
        out.keyword[k]->insert(out.keyword[k]->end(), std::make_move_iterator(one.begin()),
                               std::make_move_iterator(one.end()));
      }
    }));
    if (out.vector) MergeByScore(&*out.vector, request.k);
    for (auto& list : out.keyword) {
      if (list) MergeByScore(&*list, request.k);
    }
    return out;
  }

  Result<std::vector<std::optional<storage::ChunkRecord>>> Chunks(const std::vector<std::uint64_t>& labels) override {
    std::vector<std::optional<storage::ChunkRecord>> out(labels.size());
    // Each shard's labels to the copy that answered for it so far (the same store).
    std::map<std::uint32_t, std::vector<std::size_t>> by_shard;
    for (std::size_t i = 0; i < labels.size(); ++i) by_shard[ShardOfLabel(labels[i])].push_back(i);
    for (const auto& [shard, positions] : by_shard) {
      if (std::find(live_.begin(), live_.end(), shard) == live_.end()) continue;  // left out: its hits too
      std::vector<std::uint64_t> asked;
      for (std::size_t i : positions) asked.push_back(labels[i]);
      Result<json> answer = CallShard(shard, "chunks", {{"labels", asked}});
      if (!answer) {
        if (answer.status().code() == Status::Code::kNotFound) continue;  // left out just now
        return answer.status();
      }
      try {
        const json& records = answer->at("chunks");
        if (records.size() != positions.size()) return Status::Internal("a node answered a different number of chunks");
        for (std::size_t j = 0; j < positions.size(); ++j) {
          if (records[j].is_null()) continue;
          Result<storage::ChunkRecord> chunk = storage::DecodeChunk(BinaryOf(records[j]));
          if (!chunk) return chunk.status().WithContext("a chunk from shard " + std::to_string(shard));
          out[positions[j]] = std::move(*chunk);
        }
      } catch (const std::exception& e) {
        return Status::Internal(std::string("a malformed chunks answer: ") + e.what());
      }
    }
    return out;
  }

  Result<std::optional<ShardDocument>> Document(const std::string& container_id, const std::string& doc_id) override {
    const std::uint32_t shard =
        static_cast<std::uint32_t>(PartitionOf(container_id, static_cast<std::int32_t>(partition_count_)));
    if (std::find(live_.begin(), live_.end(), shard) == live_.end()) return std::optional<ShardDocument>();
    Result<json> answer = CallShard(shard, "document", {{"container_id", container_id}, {"doc_id", doc_id}});
    if (!answer) {
      if (answer.status().code() == Status::Code::kNotFound) return std::optional<ShardDocument>();
      return answer.status();
    }
    try {
      if (answer->at("record").is_null()) return std::optional<ShardDocument>();
      Result<storage::DocRecord> record = storage::DecodeDoc(BinaryOf(answer->at("record")));
      if (!record) return record.status().WithContext("a document from shard " + std::to_string(shard));
      return std::optional<ShardDocument>(ShardDocument{answer->at("shard").get<std::uint32_t>(), std::move(*record)});
    } catch (const std::exception& e) {
      return Status::Internal(std::string("a malformed document answer: ") + e.what());
    }
  }

  Result<std::map<std::string, std::size_t>> ChunksPerContainer() override {
    std::map<std::string, std::size_t> counts;
    TIDE_RETURN_IF_ERROR(Scatter("counts", json::object(), [&](const json& a) {
      for (const auto& [c, n] : a.at("chunks").items()) counts[c] += n.get<std::size_t>();
    }));
    return counts;
  }

  ShardsOutcome outcome() const override {
    std::lock_guard lock(mu_);
    return outcome_;
  }

 private:
  // Sends `step` for every live shard, one request per node holding some (in parallel), and
  // gives each answer to `take` (on this thread). A node that fails is marked down and its
  // shards go to other copies; a shard with none left fails the search, or is left out.
  Status Scatter(const std::string& step, const json& fields, const std::function<void(const json&)>& take) {
    std::vector<std::uint32_t> pending = live_;
    std::map<std::uint32_t, std::vector<std::size_t>> tried;
    std::map<std::uint32_t, std::string> last_error;
    while (!pending.empty()) {
      // Group the pending shards by the copy to ask.
      std::map<std::size_t, std::vector<std::uint32_t>> by_node;
      for (std::uint32_t shard : pending) {
        std::optional<std::size_t> node = Copy(shard, tried[shard]);
        if (!node) {
          TIDE_RETURN_IF_ERROR(LeaveOut(shard, last_error.contains(shard) ? last_error[shard] : "no copy is up and loaded"));
          continue;
        }
        by_node[*node].push_back(shard);
      }
      pending.clear();
      std::vector<std::pair<std::size_t, std::vector<std::uint32_t>>> calls(by_node.begin(), by_node.end());
      std::vector<Result<json>> answers;
      auto call = [&](std::size_t i) {
        json body = fields;
        body["shards"] = calls[i].second;
        body["containers"] = containers_;
        return remote_->Call(calls[i].first, "/v1/shards/" + step, body, options_.deadline);
      };
      if (calls.size() == 1) {
        answers.push_back(call(0));
      } else {
        std::vector<std::future<Result<json>>> futures;
        for (std::size_t i = 0; i < calls.size(); ++i) futures.push_back(std::async(std::launch::async, call, i));
        for (auto& f : futures) answers.push_back(f.get());
      }
      for (std::size_t i = 0; i < calls.size(); ++i) {
        const auto& [node, shards] = calls[i];
        if (!answers[i]) {
          if (!FailsOver(answers[i].status())) return answers[i].status();
          remote_->MarkDown(node, answers[i].status().message());
          for (std::uint32_t shard : shards) {
            tried[shard].push_back(node);
            last_error[shard] = remote_->node_url(node) + ": " + answers[i].status().message();
            pending.push_back(shard);
          }
          continue;
        }
        try {
          take(*answers[i]);
          Record(node, shards, *answers[i]);
        } catch (const std::exception& e) {
          return Status::Internal("a malformed " + step + " answer from " + remote_->node_url(node) + ": " + e.what());
        }
      }
    }
    return Status();
  }

  // One shard's step, to its copy (another if that one fails). NotFound when the shard was
  // left out on the way.
  Result<json> CallShard(std::uint32_t shard, const std::string& step, json body) {
    body["shards"] = {shard};
    body["containers"] = containers_;
    std::vector<std::size_t> tried;
    std::string last_error = "no copy is up and loaded";
    while (true) {
      std::optional<std::size_t> node = Copy(shard, tried);
      if (!node) {
        TIDE_RETURN_IF_ERROR(LeaveOut(shard, last_error));
        return Status::NotFound("left out");
      }
      Result<json> answer = remote_->Call(*node, "/v1/shards/" + step, body, options_.deadline);
      if (answer) {
        try {
          Record(*node, {shard}, *answer);
        } catch (const std::exception& e) {
          return Status::Internal("a malformed " + step + " answer from " + remote_->node_url(*node) + ": " + e.what());
        }
        return answer;
      }
      if (!FailsOver(answer.status())) return answer.status();
      remote_->MarkDown(*node, answer.status().message());
      tried.push_back(*node);
      last_error = remote_->node_url(*node) + ": " + answer.status().message();
    }
  }

  // Whether a failed step goes to another copy: the node is gone, not loaded, overloaded or
  // too slow for its own timeout. The search's time running out, or an answer that says the
  // request was wrong, ends the search instead.
  bool FailsOver(const Status& s) const {
    if (s.code() == Status::Code::kDeadlineExceeded) {
      return options_.deadline == Clock::time_point::max() || Clock::now() < options_.deadline;
    }
    return s.code() == Status::Code::kUnavailable;
  }

  // The copy of `shard` this search reads: the one that answered before, while it answers.
  std::optional<std::size_t> Copy(std::uint32_t shard, const std::vector<std::size_t>& tried) {
    auto it = chosen_.find(shard);
    if (it != chosen_.end() && std::find(tried.begin(), tried.end(), it->second) == tried.end()) return it->second;
    std::optional<std::size_t> node = remote_->Pick(shard, tried);
    if (node) chosen_[shard] = *node;
    return node;
  }

  // `reason` names nodes and their errors: it goes to the log, and the client is told only
  // that no copy answered.
  Status LeaveOut(std::uint32_t shard, const std::string& reason) {
    spdlog::warn("router: no copy of shard {} answered: {}", shard, reason);
    const std::string told = "no copy of shard " + std::to_string(shard) + " answered (the router's log says why)";
    if (!options_.allow_partial_results) return Status::Unavailable(told);
    live_.erase(std::remove(live_.begin(), live_.end(), shard), live_.end());
    std::lock_guard lock(mu_);
    outcome_.watermarks.erase(shard);
    outcome_.failures.push_back({shard, told});
    return Status();
  }

  void Record(std::size_t, const std::vector<std::uint32_t>&, const json& answer) {
    std::lock_guard lock(mu_);
    for (const auto& [shard, w] : answer.at("watermarks").items()) {
      outcome_.watermarks[static_cast<std::uint32_t>(std::stoul(shard))] = WatermarkFromWire(w);
    }
  }

  const RemoteShards* remote_;
  const std::uint32_t partition_count_;  // as the search began
  const std::vector<std::string> containers_;
  const ShardSource::SearchOptions options_;
  std::vector<std::uint32_t> live_;                 // shards still taking part
  std::map<std::uint32_t, std::size_t> chosen_;     // shard -> the node that answers for it
  mutable std::mutex mu_;
  ShardsOutcome outcome_;  // GUARDED_BY(mu_)
};

}  // namespace

Result<std::unique_ptr<RemoteShards>> RemoteShards::Create(const Options& options, MetricsRegistry* metrics) {
  if (options.nodes.empty()) return Status::InvalidArgument("remote.nodes names no node");
  for (const std::string& url : options.nodes) TIDE_RETURN_IF_ERROR(http::ValidateUrl(url, "remote.nodes"));
  if (options.api_key.empty()) return Status::InvalidArgument("remote.api_key is empty (the key the nodes know the router by)");
  Result<std::unique_ptr<http::HttpClient>> client = http::HttpClient::Create(options.http);
  if (!client) return client.status();
  return std::unique_ptr<RemoteShards>(new RemoteShards(options, std::move(*client), metrics));
}

RemoteShards::RemoteShards(const Options& options, std::unique_ptr<http::HttpClient> client, MetricsRegistry* metrics)
    : options_(options), client_(std::move(client)), metrics_(metrics), nodes_(options.nodes.size()) {
  for (NodeState& n : nodes_) n.reason = "not polled yet";
  Poll();
  poller_ = std::thread([this] {
    std::unique_lock lock(stop_mu_);
    while (!stop_.load()) {
      // Not synchronisation: the shard map is polled from the nodes on a period.
      stop_cv_.wait_for(lock, options_.refresh, [this] { return stop_.load(); });
      if (stop_.load()) break;
      lock.unlock();
      Poll();
      lock.lock();
    }
  });
  for (std::size_t i = 0; i < options_.nodes.size(); ++i) {
    metrics_->AddCallbackGauge("tide_router_node_up", "1 while a node answers the router's polls and steps.",
                               {{"node", options_.nodes[i]}}, [this, i] {
                                 std::lock_guard lock(mu_);
                                 return nodes_[i].up ? 1.0 : 0.0;
                               });
  }
}

RemoteShards::~RemoteShards() {
  {
    std::lock_guard lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
}

void RemoteShards::Poll() {
  for (std::size_t i = 0; i < options_.nodes.size(); ++i) {
    NodeState state;
    Result<json> answer = Call(i, "/v1/shards", json::object(), Clock::now() + options_.http.timeout);
    if (!answer) {
      state.reason = answer.status().message();
    } else {
      try {
        state.up = true;
        if (!answer->at("partition_count").is_null()) state.partition_count = answer->at("partition_count").get<std::uint32_t>();
        for (const auto& [shard, s] : answer->at("shards").items()) {
          state.shards[static_cast<std::uint32_t>(std::stoul(shard))] = s.at("ready").get<bool>();
        }
      } catch (const std::exception& e) {
        state = NodeState();
        state.reason = std::string("a malformed shard map: ") + e.what();
      }
    }
    std::lock_guard lock(mu_);
    if (nodes_[i].up != state.up) {
      if (state.up) {
        spdlog::info("router: node {} is up, {} shards", options_.nodes[i], state.shards.size());
      } else {
        spdlog::warn("router: node {} is down: {}", options_.nodes[i], state.reason);
      }
    }
    nodes_[i] = std::move(state);
  }
}

Result<json> RemoteShards::Call(std::size_t node, const std::string& path, const json& body,
                                Clock::time_point deadline) const {
  std::chrono::milliseconds timeout(0);
  if (deadline != Clock::time_point::max()) {
    timeout = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (timeout.count() <= 0) return Status::DeadlineExceeded("the search's deadline passed before " + path);
  }
  Result<http::HttpClient::Response> r = client_->Post(
      options_.nodes[node] + path,
      {"Authorization: Bearer " + options_.api_key, std::string("Content-Type: ") + kShardWireContentType,
       std::string("Accept: ") + kShardWireContentType},
      ToWire(body), timeout);
  if (!r) return r.status();
  if (r->status != 200) {
    std::string reason = r->body;
    json error = json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    if (error.is_object() && error.contains("error") && error["error"].is_object() &&
        error["error"].contains("reason") && error["error"]["reason"].is_string()) {
      reason = error["error"]["reason"].get<std::string>();
    }
    const std::string what = options_.nodes[node] + path + " answered HTTP " + std::to_string(r->status) + ": " + reason;
    // Not loaded, overloaded, shutting down or rate limited: another copy may answer.
    if (r->status == 503 || r->status == 429) return Status::Unavailable(what);
    return Status::Internal(what);
  }
  Result<json> answer = FromWire(r->body);
  if (!answer) return Status::Unavailable(answer.status().message());
  return answer;
}

std::optional<std::size_t> RemoteShards::Pick(std::uint32_t shard, const std::vector<std::size_t>& tried) const {
  std::vector<std::size_t> copies;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (!nodes_[i].up || std::find(tried.begin(), tried.end(), i) != tried.end()) continue;
      auto it = nodes_[i].shards.find(shard);
      if (it != nodes_[i].shards.end() && it->second) copies.push_back(i);
    }
  }
  if (copies.empty()) return std::nullopt;
  return copies[turn_.fetch_add(1, std::memory_order_relaxed) % copies.size()];
}

void RemoteShards::MarkDown(std::size_t node, const std::string& reason) const {
  std::lock_guard lock(mu_);
  if (nodes_[node].up) spdlog::warn("router: node {} failed a step, taken out until it answers a poll: {}", options_.nodes[node], reason);
  nodes_[node].up = false;
  nodes_[node].reason = reason;
}

std::uint32_t RemoteShards::partition_count() const {
  std::lock_guard lock(mu_);
  for (const NodeState& n : nodes_) {
    if (n.up && n.partition_count) return *n.partition_count;
  }
  for (const NodeState& n : nodes_) {
    if (n.up && !n.shards.empty()) return 1;  // single stores: one shard, 0
  }
  return 0;
}

Result<std::unique_ptr<ShardSearch>> RemoteShards::Begin(const std::vector<std::string>& container_ids,
                                                         const SearchOptions& options) const {
  const std::uint32_t count = partition_count();
  if (count == 0) return Status::Unavailable("no node has answered with its shards yet");
  std::set<std::uint32_t> shards;
  for (const std::string& c : container_ids) {
    shards.insert(static_cast<std::uint32_t>(PartitionOf(c, static_cast<std::int32_t>(count))));
  }
  return std::unique_ptr<ShardSearch>(
      std::make_unique<RemoteShardSearch>(this, count, container_ids, std::move(shards), options));
}

Result<std::optional<std::vector<std::string>>> RemoteShards::PrincipalContainers(const std::string& principal) const {
  const std::uint32_t count = partition_count();
  if (count == 0) return Status::Unavailable("no node has answered with its shards yet");
  const auto shard = static_cast<std::uint32_t>(PartitionOf(AclEventKey(principal), static_cast<std::int32_t>(count)));
  std::vector<std::size_t> tried;
  std::string last_error = "no copy is up and loaded";
  while (std::optional<std::size_t> node = Pick(shard, tried)) {
    Result<json> answer = Call(*node, "/v1/shards/acl", {{"shards", {shard}}, {"principal", principal}},
                               Clock::now() + options_.http.timeout);
    if (answer) {
      try {
        const json& c = answer->at("containers");
        if (c.is_null()) return std::optional<std::vector<std::string>>();
        return std::optional<std::vector<std::string>>(c.get<std::vector<std::string>>());
      } catch (const std::exception& e) {
        return Status::Internal(std::string("a malformed acl answer: ") + e.what());
      }
    }
    if (answer.status().code() != Status::Code::kUnavailable &&
        answer.status().code() != Status::Code::kDeadlineExceeded) {
      return answer.status();
    }
    MarkDown(*node, answer.status().message());
    tried.push_back(*node);
    last_error = answer.status().message();
  }
  // Deny by default: a principal's record unread is not "no record".
  spdlog::warn("router: no copy of shard {} answered for a principal's ACL record: {}", shard, last_error);
  return Status::Unavailable("no copy of shard " + std::to_string(shard) +
                             " (the principal's ACL record) answered (the router's log says why)");
}

Result<IndexFigures> RemoteShards::Figures() const {
  const std::uint32_t count = partition_count();
  if (count == 0) return Status::Unavailable("no node has answered with its shards yet");
  IndexFigures sum;
  for (std::uint32_t shard = 0; shard < count; ++shard) {
    std::optional<std::size_t> node = Pick(shard, {});
    if (!node) return Status::Unavailable("shard " + std::to_string(shard) + " has no copy up and loaded");
    Result<json> answer = Call(*node, "/v1/shards/figures", {{"shards", {shard}}}, Clock::now() + options_.http.timeout);
    if (!answer) return answer.status().WithContext("shard " + std::to_string(shard));
    try {
      const json& f = answer->at("figures");
      for (const std::string& c : f.at("container_ids").get<std::vector<std::string>>()) sum.container_ids.push_back(c);
      sum.chunks += f.at("chunks").get<std::size_t>();
      sum.vector_tombstones += f.at("vector_tombstones").get<std::size_t>();
      sum.sealed_vector_segments += f.at("sealed_vector_segments").get<std::size_t>();
      sum.sealed_keyword_segments += f.at("sealed_keyword_segments").get<std::size_t>();
    } catch (const std::exception& e) {
      return Status::Internal(std::string("a malformed figures answer: ") + e.what());
    }
  }
  std::sort(sum.container_ids.begin(), sum.container_ids.end());
  sum.container_ids.erase(std::unique(sum.container_ids.begin(), sum.container_ids.end()), sum.container_ids.end());
  sum.shards = count;
  return sum;
}

bool RemoteShards::ready() const { return not_ready_reason().empty(); }

std::string RemoteShards::not_ready_reason() const {
  const std::uint32_t count = partition_count();
  if (count == 0) {
    std::lock_guard lock(mu_);
    std::string reasons;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      reasons += (reasons.empty() ? "" : "; ") + options_.nodes[i] + ": " + nodes_[i].reason;
    }
    return "no node serves a shard yet (" + reasons + ")";
  }
  for (std::uint32_t shard = 0; shard < count; ++shard) {
    if (!Pick(shard, {})) return "shard " + std::to_string(shard) + " has no copy up and loaded";
  }
  return "";
}

Watermark RemoteShards::watermark() const { return Watermark(); }

std::size_t RemoteShards::size() const { return partition_count(); }

}  // namespace tide::query
