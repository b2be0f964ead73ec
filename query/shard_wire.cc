#include "query/shard_wire.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

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

namespace {

static_assert(std::endian::native == std::endian::little, "the shard wire's columns are little-endian");

template <typename T>
json Column(const std::vector<T>& values) {
  std::vector<std::uint8_t> bytes(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
  return json::binary(std::move(bytes));
}

template <typename T>
std::vector<T> ColumnOf(const json& j) {
  const std::vector<std::uint8_t>& bytes = j.get_binary();
  if (bytes.size() % sizeof(T) != 0) throw std::invalid_argument("a column's length is not a whole number of values");
  std::vector<T> values(bytes.size() / sizeof(T));
  if (!values.empty()) std::memcpy(values.data(), bytes.data(), bytes.size());
  return values;
}

}  // namespace

json FloatsToWire(const std::vector<float>& values) { return Column(values); }
std::vector<float> FloatsFromWire(const json& j) { return ColumnOf<float>(j); }

json VectorHitsToWire(const std::vector<index::VectorHit>& hits) {
  std::vector<std::uint64_t> labels;
  std::vector<float> scores;
  for (const index::VectorHit& h : hits) {
    labels.push_back(h.label);
    scores.push_back(h.score);
  }
  return {{"labels", Column(labels)}, {"scores", Column(scores)}};
}

std::vector<index::VectorHit> VectorHitsFromWire(const json& j) {
  const std::vector<std::uint64_t> labels = ColumnOf<std::uint64_t>(j.at("labels"));
  const std::vector<float> scores = ColumnOf<float>(j.at("scores"));
  if (labels.size() != scores.size()) throw std::invalid_argument("labels and scores differ in length");
  std::vector<index::VectorHit> hits;
  hits.reserve(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) hits.push_back({labels[i], scores[i]});
  return hits;
}

json KeywordHitsToWire(const std::vector<index::KeywordHit>& hits, const std::vector<std::string>& terms) {
  std::vector<std::uint64_t> labels;
  std::vector<float> scores;
  std::vector<std::uint32_t> lengths;
  // Per hit: how many terms it matched, then their positions in `terms`.
  std::vector<std::uint16_t> matched;
  for (const index::KeywordHit& h : hits) {
    labels.push_back(h.label);
    scores.push_back(h.score);
    lengths.push_back(h.field_length);
    matched.push_back(static_cast<std::uint16_t>(h.matched_terms.size()));
    for (const std::string& t : h.matched_terms) {
      const auto at = std::find(terms.begin(), terms.end(), t);
      if (at == terms.end()) throw std::invalid_argument("a matched term that is not the request's: " + t);
      matched.push_back(static_cast<std::uint16_t>(at - terms.begin()));
    }
  }
  return {{"labels", Column(labels)}, {"scores", Column(scores)}, {"lengths", Column(lengths)},
          {"matched", Column(matched)}};
}

std::vector<index::KeywordHit> KeywordHitsFromWire(const json& j, const std::vector<std::string>& terms) {
  const std::vector<std::uint64_t> labels = ColumnOf<std::uint64_t>(j.at("labels"));
  const std::vector<float> scores = ColumnOf<float>(j.at("scores"));
  const std::vector<std::uint32_t> lengths = ColumnOf<std::uint32_t>(j.at("lengths"));
  const std::vector<std::uint16_t> matched = ColumnOf<std::uint16_t>(j.at("matched"));
  if (scores.size() != labels.size() || lengths.size() != labels.size()) {
    throw std::invalid_argument("a keyword list's columns differ in length");
  }
  std::vector<index::KeywordHit> hits;
  hits.reserve(labels.size());
  std::size_t at = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    index::KeywordHit h{labels[i], scores[i], {}, lengths[i]};
    if (at >= matched.size() || at + 1 + matched[at] > matched.size()) {
      throw std::invalid_argument("a keyword list's matched terms are cut short");
    }
    const std::size_t n = matched[at++];
    for (std::size_t k = 0; k < n; ++k, ++at) {
      if (matched[at] >= terms.size()) throw std::invalid_argument("a matched term position past the request's terms");
      h.matched_terms.push_back(terms[matched[at]]);
    }
    hits.push_back(std::move(h));
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
