#include "query/shard_api.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/storage/schema.h"
#include "common/storage/store.h"
#include "query/shard_wire.h"

namespace tide::query {
namespace {

using nlohmann::json;

http::HttpResponse Wire(const json& message) {
  http::HttpResponse r;
  r.content_type = kShardWireContentType;
  r.body = ToWire(message);
  return r;
}

http::HttpResponse Failure(const Status& s) {
  if (s.code() == Status::Code::kInvalidArgument) return http::JsonError(400, "invalid_request", s.message());
  if (s.code() == Status::Code::kUnavailable) return http::JsonError(503, "unavailable", s.message());
  return http::JsonError(500, "internal_error", s.ToString());
}

json Watermarks(const ShardSearch& search) {
  json out = json::object();
  for (const auto& [shard, w] : search.outcome().watermarks) out[std::to_string(shard)] = WatermarkToWire(w);
  return out;
}

const std::vector<std::string>& Steps() {
  static const std::vector<std::string> steps = {"terms",    "statistics", "lists", "chunks",
                                                 "document", "counts",     "acl",   "figures"};
  return steps;
}

}  // namespace

http::HttpResponse ShardApi::Handle(const http::HttpRequest& request, std::string* route) const {
  if (request.path == "/v1/shards") {
    *route = "/v1/shards";
    if (request.method != "GET" && request.method != "POST") return http::JsonError(405, "method_not_allowed", "use GET /v1/shards");
    Result<std::optional<std::uint32_t>> count = shards_->PartitionCount();
    if (!count) return Failure(count.status());
    json shards = json::object();
    for (const auto& [number, ready] : shards_->ShardMap()) shards[std::to_string(number)] = {{"ready", ready}};
    json body = {{"partition_count", *count ? json(**count) : json(nullptr)}, {"shards", std::move(shards)}};
    if (request.method == "POST") return Wire(body);
    http::HttpResponse r;
    r.body = body.dump();
    return r;
  }
  const std::string step = request.path.substr(std::string("/v1/shards/").size());
  if (!request.path.starts_with("/v1/shards/") || std::find(Steps().begin(), Steps().end(), step) == Steps().end()) {
    *route = "unknown";
    return http::JsonError(404, "not_found", "no shard API step " + request.path);
  }
  *route = request.path;
  if (request.method != "POST") return http::JsonError(405, "method_not_allowed", "use POST " + request.path);
  Result<json> body = FromWire(request.body);
  if (!body) return Failure(body.status());
  try {
    const json& j = *body;
    const std::vector<std::uint32_t> numbers = j.at("shards").get<std::vector<std::uint32_t>>();
    const std::vector<std::string> containers = j.value("containers", std::vector<std::string>());
    Result<std::unique_ptr<ShardSearch>> begun = shards_->BeginOn(containers, numbers);
    if (!begun) return Failure(begun.status());
    ShardSearch& search = **begun;
    for (std::uint32_t number : numbers) {
      metrics_
          ->AddCounter("tide_query_shard_requests_total", "Shard API steps served, by shard and step.",
                       {{"shard", std::to_string(number)}, {"step", step}})
          ->Inc();
    }
    json out;
    if (step == "terms") {
      const std::vector<std::string> terms = j.at("terms").get<std::vector<std::string>>();
      if (j.at("want") == "df") {
        Result<std::vector<std::size_t>> df = search.DocFrequencies(terms);
        if (!df) return Failure(df.status());
        out["df"] = *df;
      } else {
        Result<std::vector<bool>> in = search.TermsInScope(terms);
        if (!in) return Failure(in.status());
        out["in_scope"] = *in;
      }
    } else if (step == "statistics") {
      std::vector<index::Field> fields;
      for (const json& name : j.at("fields")) {
        Result<index::Field> field = FieldFromName(name.get<std::string>());
        if (!field) return Failure(field.status());
        fields.push_back(*field);
      }
      std::vector<index::KeywordStatistics> sums;
      if (Status s = search.AddKeywordStatistics(fields, j.at("terms").get<std::vector<std::string>>(), &sums); !s.ok()) {
        return Failure(s);
      }
      json each = json::array();
      for (const index::KeywordStatistics& sum : sums) each.push_back(StatisticsToWire(sum));
      out["statistics"] = std::move(each);
    } else if (step == "lists") {
      const index::MetadataFilter filter = FilterFromWire(j.at("filter"));
      std::vector<float> vector;
      std::vector<std::string> terms;
      std::vector<float> term_weights;
      std::vector<index::KeywordStatistics> globals;
      ListsRequest ask;
      ask.k = j.at("k").get<std::size_t>();
      ask.filter = &filter;
      if (j.contains("vector")) {
        vector = FloatsFromWire(j.at("vector"));
        ask.vector = &vector;
      }
      if (j.contains("keyword")) {
        terms = j.at("terms").get<std::vector<std::string>>();
        term_weights = j.at("term_weights").get<std::vector<float>>();
        const json& lists = j.at("keyword");
        globals.reserve(lists.size());  // stable addresses for the pointers below
        for (const json& list : lists) {
          Result<index::Field> field = FieldFromName(list.at("field").get<std::string>());
          if (!field) return Failure(field.status());
          ListsRequest::Keyword k{*field};
          if (list.contains("statistics")) {
            globals.push_back(StatisticsFromWire(list.at("statistics")));
            k.global = &globals.back();
          }
          ask.keyword.push_back(k);
        }
      }
      ask.terms = &terms;
      ask.term_weights = &term_weights;
      if (j.contains("timeout_ms")) {
        ask.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(j.at("timeout_ms").get<std::int64_t>());
      }
      Result<ShardLists> found = search.SearchLists(ask);
      if (!found) return Failure(found.status());
      out["vector"] = found->vector ? VectorHitsToWire(*found->vector) : json(nullptr);
      json keyword = json::array();
      for (const auto& list : found->keyword) keyword.push_back(list ? KeywordHitsToWire(*list, terms) : json(nullptr));
      out["keyword"] = std::move(keyword);
      out["timed_out"] = found->timed_out;
    } else if (step == "chunks") {
      Result<std::vector<std::optional<storage::ChunkRecord>>> chunks =
          search.Chunks(j.at("labels").get<std::vector<std::uint64_t>>());
      if (!chunks) return Failure(chunks.status());
      json records = json::array();
      for (const std::optional<storage::ChunkRecord>& c : *chunks) {
        if (!c) {
          records.push_back(nullptr);
          continue;
        }
        const std::string bytes = storage::EncodeChunk(*c);
        records.push_back(json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end())));
      }
      out["chunks"] = std::move(records);
    } else if (step == "document") {
      Result<std::optional<ShardDocument>> doc =
          search.Document(j.at("container_id").get<std::string>(), j.at("doc_id").get<std::string>());
      if (!doc) return Failure(doc.status());
      if (doc->has_value()) {
        const std::string bytes = storage::EncodeDoc((*doc)->record);
        out["shard"] = (*doc)->shard;
        out["record"] = json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
      } else {
        out["record"] = nullptr;
      }
    } else if (step == "counts") {
      Result<std::map<std::string, std::size_t>> counts = search.ChunksPerContainer();
      if (!counts) return Failure(counts.status());
      out["chunks"] = *counts;
    } else if (step == "acl") {
      // The principal's record is in one shard of those named (its key's partition).
      Result<std::optional<std::vector<std::string>>> acl =
          shards_->PrincipalContainersOn(j.at("principal").get<std::string>(), numbers);
      if (!acl) return Failure(acl.status());
      out["containers"] = *acl ? json(**acl) : json(nullptr);
    } else if (step == "figures") {
      Result<IndexFigures> f = shards_->FiguresOn(numbers);
      if (!f) return Failure(f.status());
      out["figures"] = {{"container_ids", f->container_ids},
                        {"chunks", f->chunks},
                        {"vector_tombstones", f->vector_tombstones},
                        {"sealed_vector_segments", f->sealed_vector_segments},
                        {"sealed_keyword_segments", f->sealed_keyword_segments}};
    }
    out["watermarks"] = Watermarks(search);
    return Wire(out);
  } catch (const json::exception& e) {
    return http::JsonError(400, "invalid_request", std::string("malformed shard API body: ") + e.what());
  } catch (const std::invalid_argument& e) {
    return http::JsonError(400, "invalid_request", std::string("malformed shard API body: ") + e.what());
  }
}

}  // namespace tide::query
