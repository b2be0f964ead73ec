#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/index/chunk_table.h"
#include "common/index/keyword_index.h"
#include "common/index/vector_index.h"
#include "common/status.h"
#include "query/follower.h"

namespace tide::query {

// The messages of the shard API (query/shard_api.h serves them, query/remote_shards.h sends
// them), defined once for both sides. Bodies are CBOR (RFC 8949), not JSON text: scores and
// vectors cross as IEEE floats, bit for bit, so a router's merged lists equal one daemon's,
// and records cross as the store's own bytes.
inline constexpr char kShardWireContentType[] = "application/cbor";

std::string ToWire(const nlohmann::json& message);
// InvalidArgument when `body` is not a CBOR map.
Result<nlohmann::json> FromWire(std::string_view body);

const char* FieldName(index::Field field);
Result<index::Field> FieldFromName(std::string_view name);

nlohmann::json FilterToWire(const index::MetadataFilter& filter);
index::MetadataFilter FilterFromWire(const nlohmann::json& j);  // throws nlohmann's type errors

nlohmann::json StatisticsToWire(const index::KeywordStatistics& s);
index::KeywordStatistics StatisticsFromWire(const nlohmann::json& j);
void AddStatistics(const index::KeywordStatistics& one, index::KeywordStatistics* sum);

// Lists and vectors cross as columns of little-endian numbers in CBOR byte strings (labels,
// scores, field lengths), not as a map per hit: decoding is a copy, not a tree of values. A
// keyword hit's matched terms cross as positions in the request's `terms`.
nlohmann::json FloatsToWire(const std::vector<float>& values);
std::vector<float> FloatsFromWire(const nlohmann::json& j);
nlohmann::json VectorHitsToWire(const std::vector<index::VectorHit>& hits);
std::vector<index::VectorHit> VectorHitsFromWire(const nlohmann::json& j);
nlohmann::json KeywordHitsToWire(const std::vector<index::KeywordHit>& hits, const std::vector<std::string>& terms);
std::vector<index::KeywordHit> KeywordHitsFromWire(const nlohmann::json& j, const std::vector<std::string>& terms);

nlohmann::json WatermarkToWire(const Watermark& w);
Watermark WatermarkFromWire(const nlohmann::json& j);

}  // namespace tide::query
