#include "tests/bench/bench_corpus.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string_view>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

namespace tide::bench {
namespace {

// Sentences shorter than this are headings like "축소" or "Expand": kept out of the pool.
constexpr std::size_t kMinSentenceBytes = 12;
constexpr std::size_t kMaxSentenceBytes = 600;
constexpr double kOnTopic = 0.85;
constexpr double kExtraSentence = 0.30;

struct Document {
  std::string name;
  std::vector<std::string> sentences;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits one markdown-ish help page into sentences: one paragraph per line, markers ("#",
// "-", "*", "|") dropped, paragraphs cut after ". ", "? " and "! ".
std::vector<std::string> SplitSentences(std::string_view text) {
  std::vector<std::string> out;
  auto keep = [&out](std::string_view s) {
    s = Trim(s);
    if (s.size() >= kMinSentenceBytes && s.size() <= kMaxSentenceBytes) out.emplace_back(s);
  };
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = Trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    while (!line.empty() && (line.front() == '#' || line.front() == '-' || line.front() == '*' ||
                             line.front() == '|' || line.front() == ' ')) {
      line.remove_prefix(1);
    }
    std::size_t start = 0;
    for (std::size_t i = 0; i + 1 < line.size(); ++i) {
      if ((line[i] == '.' || line[i] == '?' || line[i] == '!') && line[i + 1] == ' ') {
        keep(line.substr(start, i + 1 - start));
        start = i + 2;
      }
    }
    if (start < line.size()) keep(line.substr(start));
  }
  return out;
}

std::vector<std::string> SplitWords(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream in(text);
  for (std::string w; in >> w;) words.push_back(std::move(w));
  return words;
}

Status ReadJsonLines(const std::filesystem::path& file,
                     const std::function<void(const nlohmann::json&)>& each) {
  std::ifstream in(file);
  if (!in) return Status::NotFound("cannot read " + file.string());
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return Status::InvalidArgument(file.string() + ":" + std::to_string(number) + ": not JSON");
    }
    each(j);
  }
  return Status();
}

std::uint64_t HashText(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: only used to spot duplicate chunks
  for (char c : s) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Zipf (exponent 1) sizes for `n` containers summing to `total`, largest first, each >= 1.
std::vector<std::size_t> ZipfSizes(std::size_t n, std::size_t total) {
  double h = 0;
  for (std::size_t r = 1; r <= n; ++r) h += 1.0 / static_cast<double>(r);
  std::vector<std::size_t> sizes(n);
  std::size_t sum = 0;
  for (std::size_t r = 1; r <= n; ++r) {
    sizes[r - 1] = std::max<std::size_t>(
        1, static_cast<std::size_t>(static_cast<double>(total) / (h * static_cast<double>(r))));
    sum += sizes[r - 1];
  }
  // Rounding leaves a remainder (or, with many size-1 containers, an excess): settle it on
  // the largest container so the small ones keep their shape.
  if (sum < total) sizes[0] += total - sum;
  if (sum > total) sizes[0] -= std::min(sizes[0] - 1, sum - total);
  return sizes;
}

}  // namespace

std::string Corpus::Describe() const {
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "%zu chunks (%.1f MB of text, %zu containers, largest %zu, smallest %zu) "
                "from %zu sentences of %zu documents; %zu queries (%zu KLUE)",
                texts.size(), static_cast<double>(text_bytes) / 1e6, container_size.size(),
                container_size.empty() ? 0 : container_size.front(),
                container_size.empty() ? 0 : container_size.back(), source_sentences,
                source_documents, queries.size(), klue_queries);
  return buf;
}

Result<Corpus> MakeCorpus(const CorpusOptions& options) {
  if (options.chunks == 0) return Status::InvalidArgument("chunks must be > 0");
  std::vector<Document> docs;

  // Help pages sorted by doc_id ("scalc/01/...", "swriter/guide/..."): neighbours in this
  // order are about the same module, which is what makes a container's topic a topic.
  if (!options.help_events.empty()) {
    std::vector<std::pair<std::string, std::string>> pages;
    TIDE_RETURN_IF_ERROR(ReadJsonLines(options.help_events, [&](const nlohmann::json& j) {
      if (j.contains("doc_id") && j.contains("text") && j["text"].is_string()) {
        pages.emplace_back(j["doc_id"].get<std::string>(), j["text"].get<std::string>());
      }
    }));
    std::sort(pages.begin(), pages.end());
    for (const auto& [name, text] : pages) {
      Document d{name, SplitSentences(text)};
      if (!d.sentences.empty()) docs.push_back(std::move(d));
    }
  }
  // KLUE: one document per source domain.
  std::map<std::string, std::vector<std::string>> domains;
  TIDE_RETURN_IF_ERROR(
      ReadJsonLines(options.klue_dir / "corpus.jsonl", [&](const nlohmann::json& j) {
        domains[j.value("container", "klue")].push_back(j.value("text", ""));
      }));
  for (auto& [domain, sentences] : domains) docs.push_back({"klue/" + domain, std::move(sentences)});
  std::vector<std::string> klue_queries;
  TIDE_RETURN_IF_ERROR(
      ReadJsonLines(options.klue_dir / "queries.jsonl", [&](const nlohmann::json& j) {
        klue_queries.push_back(j.value("text", ""));
      }));
  if (docs.empty()) return Status::InvalidArgument("no source sentences");

  Corpus corpus;
  corpus.source_documents = docs.size();
  for (const Document& d : docs) corpus.source_sentences += d.sentences.size();

  std::mt19937_64 rng(options.seed);
  auto uniform = [&rng](std::size_t n) {
    return static_cast<std::size_t>(std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng));
  };
  std::uniform_real_distribution<double> coin(0.0, 1.0);

  const std::size_t n_containers =
      std::min(options.chunks, options.containers != 0 ? options.containers
                                                       : std::max<std::size_t>(1, options.chunks / 100));
  corpus.container_size = ZipfSizes(n_containers, options.chunks);
  const std::size_t topic_width = std::max<std::size_t>(3, docs.size() / 50);

  std::unordered_set<std::uint64_t> seen;
  seen.reserve(options.chunks * 2);
  corpus.texts.reserve(options.chunks);
  corpus.container_of.reserve(options.chunks);
  for (std::size_t c = 0; c < n_containers; ++c) {
    const std::size_t topic = uniform(docs.size());
    int redraws = 0;
    for (std::size_t made = 0; made < corpus.container_size[c];) {
      const std::size_t d = coin(rng) < kOnTopic ? (topic + uniform(topic_width)) % docs.size()
                                                 : uniform(docs.size());
      const std::vector<std::string>& s = docs[d].sentences;
      const std::size_t start = uniform(s.size());
      const std::size_t len = 2 + uniform(5);
      std::string text;
      for (std::size_t i = start; i < std::min(s.size(), start + len); ++i) {
        if (!text.empty()) text += ' ';
        text += s[i];
      }
      if (coin(rng) < kExtraSentence) {
        const std::vector<std::string>& other =
            docs[(topic + uniform(topic_width)) % docs.size()].sentences;
        text += ' ';
        text += other[uniform(other.size())];
      }
      // Duplicates would be exact ties for every retriever; draw again. Small pools repeat
      // often, so after a few redraws append random sentences until the text is new.
      if (!seen.insert(HashText(text)).second) {
        if (++redraws < 8) continue;
        do {
          const Document& any = docs[uniform(docs.size())];
          text += ' ';
          text += any.sentences[uniform(any.sentences.size())];
        } while (!seen.insert(HashText(text)).second);
      }
      redraws = 0;
      corpus.text_bytes += text.size();
      corpus.texts.push_back(std::move(text));
      corpus.container_of.push_back(static_cast<std::uint32_t>(c));
      ++made;
    }
  }
  // Labels in a random order, as chunks arrive from many documents: insertion order shapes a
  // graph index, and container-by-container insertion would flatter nobody in particular.
  std::vector<std::size_t> order(corpus.texts.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<std::string> texts(order.size());
  std::vector<std::uint32_t> container_of(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) {
    texts[i] = std::move(corpus.texts[order[i]]);
    container_of[i] = corpus.container_of[order[i]];
  }
  corpus.texts = std::move(texts);
  corpus.container_of = std::move(container_of);

  // Queries: KLUE hypotheses first (real questions whose paraphrase is in the corpus), then
  // fragments of corpus sentences: 3-10 consecutive words with one of them dropped, as a user
  // half-remembering a passage would type.
  const std::size_t n_klue = std::min({klue_queries.size(), options.queries / 2, std::size_t{1000}});
  std::vector<std::string> fragments;
  while (n_klue + fragments.size() < options.queries) {
    const Document& d = docs[uniform(docs.size())];
    const std::vector<std::string> words = SplitWords(d.sentences[uniform(d.sentences.size())]);
    if (words.size() < 3) continue;
    const std::size_t len = std::min(words.size(), 3 + uniform(8));
    const std::size_t start = uniform(words.size() - len + 1);
    const std::size_t drop = len >= 4 ? start + uniform(len) : words.size();
    std::string q;
    for (std::size_t i = start; i < start + len; ++i) {
      if (i == drop) continue;
      if (!q.empty()) q += ' ';
      q += words[i];
    }
    fragments.push_back(std::move(q));
  }
  for (std::size_t i = 0; i < std::max(n_klue, fragments.size()); ++i) {
    if (i < n_klue) {
      corpus.queries.push_back(klue_queries[i]);
      corpus.query_is_klue.push_back(true);
    }
    if (i < fragments.size()) {
      corpus.queries.push_back(std::move(fragments[i]));
      corpus.query_is_klue.push_back(false);
    }
  }
  corpus.klue_queries = n_klue;
  return corpus;
}

std::vector<std::uint32_t> PickContainers(const Corpus& corpus, double fraction,
                                          std::uint64_t seed) {
  const std::size_t n = corpus.container_size.size();
  std::vector<std::uint32_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
  if (fraction >= 1.0) return order;
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  const auto target = static_cast<std::size_t>(
      std::llround(fraction * static_cast<double>(corpus.texts.size())));
  std::vector<std::uint32_t> picked;
  std::size_t sum = 0;
  for (std::uint32_t c : order) {
    if (sum + corpus.container_size[c] <= target) {
      picked.push_back(c);
      sum += corpus.container_size[c];
    }
  }
  if (picked.empty()) {
    // Even the smallest container is larger than the target: take the smallest.
    picked.push_back(static_cast<std::uint32_t>(n - 1));
  }
  std::sort(picked.begin(), picked.end());
  return picked;
}

}  // namespace tide::bench
