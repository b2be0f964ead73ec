#pragma once

#include <string>
#include <string_view>

namespace tide::query {

enum class Intent { kKeywordSearch, kDocumentSearch, kQaQuestion, kComparison, kSummarization };
const char* IntentName(Intent intent);

struct Weights {
  float vector = 0.5f;
  float keyword = 0.3f;
  float fulltext = 0.2f;
};

struct IntentGuess {
  Intent intent = Intent::kDocumentSearch;
  float confidence = 0.5f;
};

// Rule-based intent from the normalised query: interrogatives and question marks -> QA,
// "비교"/"차이"/"vs" -> comparison, "요약"/"summar" -> summarization, one or two short terms
// or an identifier -> keyword search, anything else -> document search.
IntentGuess ClassifyIntent(std::string_view normalized_query, std::size_t word_count);

// The general-search weights of DESIGN.md's starting table.
Weights DefaultWeights(Intent intent);

}  // namespace tide::query
