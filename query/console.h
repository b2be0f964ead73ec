#pragma once

#include <string_view>

namespace tide::query {

// The search console (query/console/: one page, its script and its style sheet), compiled into
// tide-query by query/console/embed.cmake. The page holds no data: everything it shows comes
// from /v1/stats, /v1/search and /v1/context, called with the API key a person types in.
struct ConsoleAsset {
  std::string_view path;          // "/console", "/console/console.js", ...
  std::string_view content_type;  // with charset
  std::string_view body;
};

// The file served at `path` ("/console/" and "/console/index.html" are the page too), or
// nullptr when there is none.
const ConsoleAsset* FindConsoleAsset(std::string_view path);

}  // namespace tide::query
