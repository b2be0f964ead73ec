#include "query/search_request.h"

#include <cstdio>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "common/date_util.h"
#include "common/utf8.h"

namespace tide::query {
namespace {

using nlohmann::json;

// j[field], when present, must be one of the names in `choices`; sets *out (a T or an
// optional<T>) to its value. Returns what is wrong, or "".
template <typename T, typename Out>
std::string ParseChoice(const json& j, const char* field,
                        std::initializer_list<std::pair<const char*, T>> choices, Out* out) {
  auto it = j.find(field);
  if (it == j.end()) return "";
  const std::string v = it->is_string() ? it->get<std::string>() : "";
  std::string names;
  for (const auto& [name, value] : choices) {
    if (v == name) {
      *out = value;
      return "";
    }
    names += names.empty() ? name : std::string(", ") + name;
  }
  return "'" + std::string(field) + "' must be one of " + names;
}

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();

// "filter": {"doc_type": "a" | ["a", ...], "tags": "t" | [...], "created_at": {"gte": d, "lt": d},
// "updated_at": {...}}, dates as in common/date_util.h or epoch milliseconds. Returns what is
// wrong, or "" if it parsed.
std::string ParseFilter(const json& f, index::MetadataFilter* out) {
  if (!f.is_object()) return "'filter' must be an object with doc_type, tags, created_at, updated_at";
  auto strings = [](const json& v, const std::string& name, std::vector<std::string>* dst) -> std::string {
    if (v.is_string()) {
      dst->push_back(v.get<std::string>());
      return "";
    }
    if (!v.is_array() || v.empty() || v.size() > 1024) {
      return "'filter." + name + "' must be a string or a non-empty array of at most 1024 strings";
    }
    for (const json& x : v) {
      if (!x.is_string()) return "'filter." + name + "' must hold only strings";
      dst->push_back(x.get<std::string>());
    }
    return "";
  };
  auto range = [](const json& v, const std::string& name, std::optional<std::int64_t>* min,
                  std::optional<std::int64_t>* max) -> std::string {
    if (!v.is_object() || v.empty()) return "'filter." + name + "' must be an object with gte, gt, lte or lt";
    for (const auto& [op, bound] : v.items()) {
      std::optional<std::int64_t> ms;
      // An unsigned value above int64's range is not a date.
      if (bound.is_number_integer() && !(bound.is_number_unsigned() && bound.get<std::uint64_t>() >
                                                                         static_cast<std::uint64_t>(kInt64Max))) {
        ms = bound.get<std::int64_t>();
      }
      if (bound.is_string()) ms = ParseDateMillis(bound.get<std::string>());
      if (!ms) {
        return "'filter." + name + "." + op +
               "' must be a date (2025-03-01, 2025-03-01T09:30:00Z, 2025-03-01T09:30:00+09:00) or epoch milliseconds";
      }
      // gt / lt at the ends of the int64 range saturate instead of overflowing.
      if (op == "gte") {
        *min = *ms;
      } else if (op == "gt") {
        *min = *ms == kInt64Max ? kInt64Max : *ms + 1;
      } else if (op == "lte") {
        *max = *ms;
      } else if (op == "lt") {
        *max = *ms == kInt64Min ? kInt64Min : *ms - 1;
      } else {
        return "unknown operator 'filter." + name + "." + op + "' (gte, gt, lte, lt)";
      }
    }
    return "";
  };
  for (const auto& [key, value] : f.items()) {
    std::string reason;
    if (key == "doc_type") {
      reason = strings(value, key, &out->doc_types);
    } else if (key == "tags") {
      reason = strings(value, key, &out->tags);
    } else if (key == "created_at") {
      reason = range(value, key, &out->created_min, &out->created_max);
    } else if (key == "updated_at") {
      reason = range(value, key, &out->updated_min, &out->updated_max);
    } else {
      reason = "unknown filter '" + key + "' (doc_type, tags, created_at, updated_at)";
    }
    if (!reason.empty()) return reason;
  }
  return "";
}

}  // namespace

std::optional<SearchRequest> ParseSearchRequest(const std::string& body, const SearchApi::Limits& limits,
                                                http::HttpResponse* error, bool context_fields) {
  auto bad = [&](std::string reason) {
    *error = http::JsonError(400, "invalid_request", reason);
    return std::nullopt;
  };
  if (!utf8::IsValid(body)) return bad("request body is not valid UTF-8");
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad("request body is not valid JSON");
  if (!j.is_object()) return bad("request body must be a JSON object");
  // An optional field given as null is the same as leaving it out (clients often send every
  // field of their request type); `query` stays required.
  for (auto it = j.begin(); it != j.end();) {
    it = it.value().is_null() && it.key() != "query" ? j.erase(it) : std::next(it);
  }
  static const std::set<std::string> kKnown = {
      "query",       "container_ids", "principal",           "k",         "mode",   "weights",
      "search_type", "group_by",      "chunks_per_document", "threshold", "min_relevance", "fusion", "filter",
      "timeout_ms",  "allow_partial_search_results"};
  static const std::set<std::string> kContext = {"max_chars", "neighbors"};
  for (const auto& [key, value] : j.items()) {
    if (!kKnown.contains(key) && !(context_fields && kContext.contains(key))) {
      return bad("unknown field '" + key + "'");
    }
  }
  SearchRequest req;
  auto query = j.find("query");
  if (query == j.end() || !query->is_string()) return bad("'query' (string) is required");
  req.query = query->get<std::string>();
  if (req.query.find_first_not_of(" \t\n\v\f\r") == std::string::npos)
    return bad("'query' must not be empty");
  if (req.query.size() > limits.max_query_bytes) {
    return bad("'query' is " + std::to_string(req.query.size()) + " bytes, limit " +
               std::to_string(limits.max_query_bytes));
  }
  auto principal = j.find("principal");
  if (principal != j.end() && !principal->is_null()) {
    if (!principal->is_string() || principal->get<std::string>().empty())
      return bad("'principal' must be a non-empty string");
    req.principal = principal->get<std::string>();
  }
  auto containers = j.find("container_ids");
  if ((containers == j.end() || containers->is_null()) && !req.principal) {
    *error = http::JsonError(
        403, "missing_scope",
        "every search must be scoped: give 'container_ids' (a non-empty array) or 'principal'");
    return std::nullopt;
  }
  if (containers != j.end() && !containers->is_null()) {
    if (!containers->is_array()) return bad("'container_ids' must be an array of strings");
    if (containers->empty()) {
      *error = http::JsonError(403, "missing_scope",
                               "'container_ids' is empty: nothing may be searched");
      return std::nullopt;
    }
    if (containers->size() > limits.max_containers) {
      return bad("'container_ids' has " + std::to_string(containers->size()) + " entries, limit " +
                 std::to_string(limits.max_containers));
    }
    for (const json& c : *containers) {
      if (!c.is_string() || c.get<std::string>().empty())
        return bad("'container_ids' must hold non-empty strings");
      req.container_ids.push_back(c.get<std::string>());
    }
  }
  if (auto k = j.find("k"); k != j.end()) {
    if (!k->is_number_integer()) return bad("'k' must be an integer");
    const std::int64_t v = k->get<std::int64_t>();
    if (v < 1 || static_cast<std::size_t>(v) > limits.max_k) {
      return bad("'k' must be between 1 and " + std::to_string(limits.max_k));
    }
    req.k = static_cast<std::size_t>(v);
  }
  if (std::string e = ParseChoice<SearchMode>(j, "mode", {{"hybrid", SearchMode::kHybrid},
                                                          {"vector", SearchMode::kVector},
                                                          {"keyword", SearchMode::kKeyword}}, &req.mode);
      !e.empty()) {
    return bad(e);
  }
  if (std::string e = ParseChoice<SearchType>(j, "search_type", {{"general", SearchType::kGeneral},
                                                                 {"rag", SearchType::kRag}}, &req.search_type);
      !e.empty()) {
    return bad(e);
  }
  if (std::string e = ParseChoice<GroupBy>(j, "group_by", {{"chunk", GroupBy::kChunk},
                                                           {"document", GroupBy::kDocument}}, &req.group_by);
      !e.empty()) {
    return bad(e);
  }
  if (std::string e = ParseChoice<Fusion>(j, "fusion", {{"rrf", Fusion::kRrf}, {"linear", Fusion::kLinear}},
                                          &req.fusion);
      !e.empty()) {
    return bad(e);
  }
  if (auto t = j.find("timeout_ms"); t != j.end()) {
    const auto max = limits.max_timeout.count();
    if (!t->is_number_integer() || t->get<std::int64_t>() < 1 || t->get<std::int64_t>() > max) {
      return bad("'timeout_ms' must be an integer between 1 and " + std::to_string(max) +
                 " (search.max_timeout_ms)");
    }
    req.timeout = std::chrono::milliseconds(t->get<std::int64_t>());
  }
  if (auto p = j.find("allow_partial_search_results"); p != j.end()) {
    if (!p->is_boolean()) return bad("'allow_partial_search_results' must be true or false");
    req.allow_partial_results = p->get<bool>();
  }
  if (auto c = j.find("chunks_per_document"); c != j.end()) {
    if (!c->is_number_integer() || c->get<std::int64_t>() < 1 || c->get<std::int64_t>() > 20) {
      return bad("'chunks_per_document' must be an integer between 1 and 20");
    }
    req.chunks_per_document = c->get<std::size_t>();
  }
  if (auto t = j.find("threshold"); t != j.end()) {
    if (!t->is_number() || t->get<double>() < -1 || t->get<double>() > 1) {
      return bad("'threshold' must be a number between -1 and 1 (vector similarity)");
    }
    req.threshold = t->get<float>();
  }
  if (auto t = j.find("min_relevance"); t != j.end()) {
    if (!t->is_number() || t->get<double>() < 0 || t->get<double>() > 1) {
      return bad("'min_relevance' must be a number between 0 and 1 (calibrated relevance)");
    }
    req.min_relevance = t->get<float>();
  }
  if (auto w = j.find("weights"); w != j.end()) {
    if (!w->is_object()) return bad("'weights' must be an object with vector, keyword, fulltext");
    Weights weights{0, 0, 0};
    for (const auto& [key, value] : w->items()) {
      if (!value.is_number() || value.get<double>() < 0 || value.get<double>() > 100) {
        return bad("weights." + key + " must be a number in [0, 100]");
      }
      // A positive weight stays positive as a float (5e-324 is a valid JSON number above 0).
      const double d = value.get<double>();
      const float v = d > 0 ? std::max(static_cast<float>(d), std::numeric_limits<float>::denorm_min()) : 0.0f;
      if (key == "vector") {
        weights.vector = v;
      } else if (key == "keyword") {
        weights.keyword = v;
      } else if (key == "fulltext") {
        weights.fulltext = v;
      } else {
        return bad("unknown weight '" + key + "' (vector, keyword, fulltext)");
      }
    }
    if (weights.vector + weights.keyword + weights.fulltext <= 0)
      return bad("at least one weight must be positive");
    req.weights = weights;
  }
  if (auto f = j.find("filter"); f != j.end() && !f->is_null()) {
    std::string reason = ParseFilter(*f, &req.filter);
    if (!reason.empty()) return bad(std::move(reason));
  }
  return req;
}

std::optional<ContextRequest> ParseContextRequest(const std::string& body, const SearchApi::Limits& limits,
                                                  http::HttpResponse* error) {
  std::optional<SearchRequest> search = ParseSearchRequest(body, limits, error, /*context_fields=*/true);
  if (!search) return std::nullopt;
  ContextRequest req;
  req.search = std::move(*search);
  // ParseSearchRequest accepted the body, so it is a JSON object.
  const nlohmann::json j = nlohmann::json::parse(body);
  if (!j.contains("k")) req.search.k = 5;  // documents
  if (auto m = j.find("max_chars"); m != j.end()) {
    if (!m->is_number_integer() || m->get<std::int64_t>() < 200 || m->get<std::int64_t>() > 200000) {
      *error = http::JsonError(400, "invalid_request", "'max_chars' must be an integer between 200 and 200000");
      return std::nullopt;
    }
    req.max_chars = m->get<std::size_t>();
  }
  if (auto n = j.find("neighbors"); n != j.end()) {
    if (!n->is_number_integer() || n->get<std::int64_t>() < 0 || n->get<std::int64_t>() > 3) {
      *error = http::JsonError(400, "invalid_request", "'neighbors' must be an integer between 0 and 3");
      return std::nullopt;
    }
    req.neighbors = n->get<std::size_t>();
  }
  return req;
}

std::string ResultCacheKey(const SearchRequest& r, std::uint64_t rules_generation) {
  std::string key;
  auto field = [&key](std::string_view v) {
    key += std::to_string(v.size());
    key += ':';
    key.append(v);
  };
  field(std::to_string(rules_generation));
  std::vector<std::string> scope = r.container_ids;
  std::sort(scope.begin(), scope.end());
  field(std::to_string(scope.size()));
  for (const std::string& c : scope) field(c);
  field(r.query);
  field(std::to_string(r.k));
  field(SearchModeName(r.mode));
  field(SearchTypeName(r.search_type));
  field(r.group_by == GroupBy::kDocument ? "document" : "chunk");
  field(std::to_string(r.chunks_per_document));
  field(r.weights ? std::to_string(r.weights->vector) + "," + std::to_string(r.weights->keyword) + "," +
                        std::to_string(r.weights->fulltext)
                  : "-");
  // %.9g: every float apart prints apart (std::to_string keeps 6 decimals).
  auto exact = [](float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
    return std::string(buf);
  };
  field(r.threshold ? exact(*r.threshold) : "-");
  field(r.min_relevance ? exact(*r.min_relevance) : "-");
  field(r.fusion ? FusionName(*r.fusion) : "-");
  const index::MetadataFilter& f = r.filter;
  for (const std::vector<std::string>* values : {&f.doc_types, &f.tags}) {
    field(std::to_string(values->size()));
    for (const std::string& v : *values) field(v);
  }
  for (const std::optional<std::int64_t>* bound : {&f.created_min, &f.created_max, &f.updated_min, &f.updated_max}) {
    field(*bound ? std::to_string(**bound) : "-");
  }
  return key;
}

}  // namespace tide::query
