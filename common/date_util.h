#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tide {

// Dates in document metadata and in search filters, as milliseconds since the Unix epoch
// (UTC). Accepted text forms (Elasticsearch's strict_date_optional_time, minus week dates):
//   2025-03-01                      midnight UTC of that day
//   2025-03-01T09:30:00Z            a UTC time; seconds may carry a fraction (.123)
//   2025-03-01T09:30:00+09:00       an offset from UTC ("+0900" too)
// nullopt for anything else, including impossible dates (2025-02-30).
std::optional<std::int64_t> ParseDateMillis(std::string_view text);

}  // namespace tide
