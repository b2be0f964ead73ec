#include "query/intent.h"

namespace tide::query {

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

}  // namespace tide::query
