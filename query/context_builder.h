#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "query/searcher.h"

namespace tide::query {

struct ContextRequest {
  SearchRequest search;          // search_type rag and group_by document are forced
  std::size_t max_chars = 6000;  // budget for the assembled context (code points)
  std::size_t neighbors = 0;     // chunks before and after each selected chunk, 0..3
};

struct Citation {
  std::size_t number = 0;  // [n] in the context
  std::string doc_id;
  std::string chunk_id;  // the first chunk of the passage
  std::string container_id;
  std::string title;
  std::string heading;
  std::uint32_t char_begin = 0;  // of the passage in the document
  std::uint32_t char_end = 0;
  std::int32_t page = -1;
  float score = 0;  // the document's search score
};

struct ContextResponse {
  std::string context;  // "[1] title — heading\ntext\n\n[2] ..."
  std::vector<Citation> citations;
  std::size_t chars = 0;
  bool truncated = false;  // the budget cut a passage or left documents out
  SearchResponse search;   // what the search found (for explain and the watermark)
};

// Builds the context a RAG backend gives its LLM: the rag search's top documents, each with
// its best chunks (and neighbours) merged into contiguous passages in document order, numbered
// for citation, within a character budget. Thread-safe.
Result<ContextResponse> BuildContext(const Searcher& searcher, const ShardSource& shards,
                                     const ContextRequest& request);

}  // namespace tide::query
