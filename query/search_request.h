#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/http/http_server.h"
#include "query/context_builder.h"
#include "query/search_api.h"
#include "query/searcher.h"

namespace tide::query {

// The body of POST /v1/search (and /v1/context, with `context_fields`: max_chars and
// neighbors are then allowed) turned into a SearchRequest, with every rule docs/api.md lists.
// nullopt with *error set to the 4xx to send (400 with what is wrong, 403 missing_scope).
std::optional<SearchRequest> ParseSearchRequest(const std::string& body, const SearchApi::Limits& limits,
                                                http::HttpResponse* error, bool context_fields = false);

// The body of POST /v1/context: the search fields as above, then max_chars (200..200000) and
// neighbors (0..3). k defaults to 5 (documents). The scope and deadline are not resolved here.
std::optional<ContextRequest> ParseContextRequest(const std::string& body, const SearchApi::Limits& limits,
                                                  http::HttpResponse* error);

// Everything a /v1/search response depends on besides the index state: the resolved scope
// (sorted, so equal scopes share entries), every request field including the filter, and the
// rules generation. timeout_ms is left out: only answers that were not cut short are cached,
// and those do not depend on it. Fields are length-prefixed so no two requests map to one key.
std::string ResultCacheKey(const SearchRequest& request, std::uint64_t rules_generation);

}  // namespace tide::query
