#include "query/intent.h"

#include <array>

namespace tide::query {
namespace {

bool ContainsAny(std::string_view text, std::initializer_list<std::string_view> needles) {
  for (std::string_view n : needles) {
    if (text.find(n) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

const char* IntentName(Intent intent) {
  switch (intent) {
    case Intent::kKeywordSearch: return "keyword_search";
    case Intent::kDocumentSearch: return "document_search";
    case Intent::kQaQuestion: return "qa_question";
    case Intent::kComparison: return "comparison";
    case Intent::kSummarization: return "summarization";
  }
  return "document_search";
}

IntentGuess ClassifyIntent(std::string_view q, std::size_t word_count) {
  if (ContainsAny(q, {"비교", "차이", " vs ", "versus", "compare", "difference"})) {
    return {Intent::kComparison, 0.8f};
  }
  if (ContainsAny(q, {"요약", "정리해", "summar", "tl;dr"})) return {Intent::kSummarization, 0.8f};
  if (ContainsAny(q, {"?", "무엇", "뭐", "어떻게", "왜", "언제", "어디", "누가", "누구", "어떤", "나요",
                      "까요", "how ", "what ", "why ", "when ", "where ", "which "})) {
    return {Intent::kQaQuestion, 0.75f};
  }
  if (word_count <= 2) return {Intent::kKeywordSearch, 0.6f};
  return {Intent::kDocumentSearch, 0.55f};
}

Weights DefaultWeights(Intent intent) {
  switch (intent) {
    case Intent::kKeywordSearch: return {0.3f, 0.6f, 0.1f};
    case Intent::kDocumentSearch: return {0.5f, 0.3f, 0.2f};
    case Intent::kQaQuestion: return {0.6f, 0.2f, 0.2f};
    case Intent::kComparison: return {0.6f, 0.3f, 0.1f};
    case Intent::kSummarization: return {0.5f, 0.3f, 0.2f};
  }
  return {};
}

}  // namespace tide::query
