// Writes the benchmark corpus of tests/bench/bench_corpus.h as JSON lines, to look at it or
// to feed it to other tools:
//   build/tests/bench/bench_corpus --klue /work/shared/data/klue-nli-retrieval
//     --help_events events.jsonl --chunks 100000 --queries 1000
//     --chunks_out chunks.jsonl --queries_out queries.jsonl
// chunks.jsonl: {"_id": "<label>", "container": "c<ordinal>", "text": ...} (corpus.jsonl's
// shape); queries.jsonl: {"_id": "q<n>", "kind": "klue"|"fragment", "text": ...}.

#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/bench/bench_corpus.h"

int main(int argc, char** argv) {
  tide::bench::CorpusOptions options;
  options.klue_dir = "/work/shared/data/klue-nli-retrieval";
  std::string chunks_out = "chunks.jsonl", queries_out = "queries.jsonl";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--chunks") options.chunks = std::stoul(value);
    else if (key == "--queries") options.queries = std::stoul(value);
    else if (key == "--seed") options.seed = std::stoull(value);
    else if (key == "--klue") options.klue_dir = value;
    else if (key == "--help_events") options.help_events = value;
    else if (key == "--chunks_out") chunks_out = value;
    else if (key == "--queries_out") queries_out = value;
    else {
      std::fprintf(stderr, "bench_corpus: unknown argument %s\n", key.c_str());
      return 2;
    }
  }
  tide::Result<tide::bench::Corpus> corpus = tide::bench::MakeCorpus(options);
  if (!corpus.ok()) {
    std::fprintf(stderr, "bench_corpus: %s\n", corpus.status().ToString().c_str());
    return 1;
  }
  std::ofstream chunks(chunks_out), queries(queries_out);
  for (std::size_t i = 0; i < corpus->texts.size(); ++i) {
    chunks << nlohmann::json{{"_id", std::to_string(i + 1)},
                             {"container", "c" + std::to_string(corpus->container_of[i])},
                             {"text", corpus->texts[i]}}
                  .dump()
           << '\n';
  }
  for (std::size_t i = 0; i < corpus->queries.size(); ++i) {
    queries << nlohmann::json{{"_id", "q" + std::to_string(i)},
                              {"kind", corpus->query_is_klue[i] ? "klue" : "fragment"},
                              {"text", corpus->queries[i]}}
                   .dump()
            << '\n';
  }
  if (!chunks || !queries) {
    std::fprintf(stderr, "bench_corpus: writing the output failed\n");
    return 1;
  }
  std::fprintf(stderr, "bench_corpus: %s\n", corpus->Describe().c_str());
  return 0;
}
