#include "query/shard_wire.h"

namespace tide::query {

using nlohmann::json;

std::string ToWire(const json& message) {
  const std::vector<std::uint8_t> bytes = json::to_cbor(message);
  return std::string(bytes.begin(), bytes.end());
}

Result<json> FromWire(std::string_view body) {
  json j = json::from_cbor(body.begin(), body.end(), /*strict=*/true, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(std::string("the body is not a CBOR map (Content-Type: ") + kShardWireContentType + ")");
  }
  return j;
}

const char* FieldName(index::Field field) { return field == index::Field::kTitle ? "title" : "body"; }

Result<index::Field> FieldFromName(std::string_view name) {
  if (name == "title") return index::Field::kTitle;
  if (name == "body") return index::Field::kBody;
  return Status::InvalidArgument("unknown field '" + std::string(name) + "' (title, body)");
}

json FilterToWire(const index::MetadataFilter& f) {
  json j = json::object();
  if (!f.doc_types.empty()) j["doc_types"] = f.doc_types;
  if (!f.tags.empty()) j["tags"] = f.tags;
  if (f.created_min) j["created_min"] = *f.created_min;
  if (f.created_max) j["created_max"] = *f.created_max;
  if (f.updated_min) j["updated_min"] = *f.updated_min;
  if (f.updated_max) j["updated_max"] = *f.updated_max;
  return j;
}

index::MetadataFilter FilterFromWire(const json& j) {
  index::MetadataFilter f;
  if (j.contains("doc_types")) f.doc_types = j.at("doc_types").get<std::vector<std::string>>();
  if (j.contains("tags")) f.tags = j.at("tags").get<std::vector<std::string>>();
  if (j.contains("created_min")) f.created_min = j.at("created_min").get<std::int64_t>();
  if (j.contains("created_max")) f.created_max = j.at("created_max").get<std::int64_t>();
  if (j.contains("updated_min")) f.updated_min = j.at("updated_min").get<std::int64_t>();
  if (j.contains("updated_max")) f.updated_max = j.at("updated_max").get<std::int64_t>();
  return f;
}

json StatisticsToWire(const index::KeywordStatistics& s) {
  json df = json::object();
  for (const auto& [term, n] : s.df) df[term] = n;
  return {{"chunks", s.chunks}, {"total_length", s.total_length}, {"df", std::move(df)}};
}

index::KeywordStatistics StatisticsFromWire(const json& j) {
  index::KeywordStatistics s;
  s.chunks = j.at("chunks").get<double>();
  s.total_length = j.at("total_length").get<double>();
  for (const auto& [term, n] : j.at("df").items()) s.df[term] = n.get<double>();
  return s;
}

void AddStatistics(const index::KeywordStatistics& one, index::KeywordStatistics* sum) {
  sum->chunks += one.chunks;
  sum->total_length += one.total_length;
  for (const auto& [term, n] : one.df) sum->df[term] += n;
}

json VectorHitsToWire(const std::vector<index::VectorHit>& hits) {
  json labels = json::array(), scores = json::array();
  for (const index::VectorHit& h : hits) {
    labels.push_back(h.label);
    scores.push_back(h.score);
  }
  return {{"labels", std::move(labels)}, {"scores", std::move(scores)}};
}

std::vector<index::VectorHit> VectorHitsFromWire(const json& j) {
  const json& labels = j.at("labels");
  const json& scores = j.at("scores");
  if (labels.size() != scores.size()) throw std::invalid_argument("labels and scores differ in length");
  std::vector<index::VectorHit> hits;
  for (std::size_t i = 0; i < labels.size(); ++i) hits.push_back({labels[i].get<std::uint64_t>(), scores[i].get<float>()});
  return hits;
}

json KeywordHitsToWire(const std::vector<index::KeywordHit>& hits) {
  json out = json::array();
  for (const index::KeywordHit& h : hits) {
    out.push_back({{"label", h.label}, {"score", h.score}, {"terms", h.matched_terms}, {"length", h.field_length}});
  }
  return out;
}

std::vector<index::KeywordHit> KeywordHitsFromWire(const json& j) {
  std::vector<index::KeywordHit> hits;
  for (const json& h : j) {
    hits.push_back({h.at("label").get<std::uint64_t>(), h.at("score").get<float>(),
                    h.at("terms").get<std::vector<std::string>>(), h.at("length").get<std::uint32_t>()});
  }
  return hits;
}

json WatermarkToWire(const Watermark& w) { return {{"seq", w.seq}, {"offsets", w.offsets}}; }

Watermark WatermarkFromWire(const json& j) {
  Watermark w;
  w.seq = j.at("seq").get<std::uint64_t>();
  w.offsets = j.at("offsets").get<std::map<std::string, std::int64_t>>();
  return w;
}

}  // namespace tide::query
