#pragma once

namespace tide::query {

// What a query asks for; chooses the fusion weights (configs/search_rules.json).
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

}  // namespace tide::query
