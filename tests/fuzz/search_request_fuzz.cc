// libFuzzer target: the body parsers of POST /v1/search and POST /v1/context.
//
// Checks besides the sanitizers: every rejection is a 4xx in the API's JSON error shape; an
// accepted request is within the limits and its result-cache key is computable.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "query/search_request.h"

namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "search_request_fuzz: %s\n", what);
    std::abort();
  }
}

void CheckError(const tide::http::HttpResponse& error) {
  Check(error.status >= 400 && error.status < 500, "a rejection that is not a 4xx");
  const nlohmann::json body = nlohmann::json::parse(error.body, nullptr, /*allow_exceptions=*/false);
  Check(body.is_object() && body.contains("error") && body["error"]["reason"].is_string() &&
            !body["error"]["reason"].get<std::string>().empty(),
        "a rejection without a JSON reason");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace tide::query;
  const std::string body(reinterpret_cast<const char*>(data), size);
  SearchApi::Limits limits;
  tide::http::HttpResponse error;
  if (std::optional<SearchRequest> search = ParseSearchRequest(body, limits, &error)) {
    Check(search->k >= 1 && search->k <= limits.max_k, "k out of range");
    Check(!search->query.empty() && search->query.size() <= limits.max_query_bytes, "query out of range");
    Check(!ResultCacheKey(*search, 1).empty(), "an empty cache key");
  } else {
    CheckError(error);
  }
  error = {};
  if (std::optional<ContextRequest> context = ParseContextRequest(body, limits, &error)) {
    Check(context->max_chars >= 200 && context->max_chars <= 200000, "max_chars out of range");
    Check(context->neighbors <= 3, "neighbors out of range");
  } else {
    CheckError(error);
  }
  return 0;
}
