// embed_texts: prints, one JSON string per line, the text tide-ingest gave its embedder for
// every chunk of a store (Applier::EmbeddingText with the default options: title, heading
// path, text). semantic_bench.sh feeds them to the model directly, to measure the model's own
// throughput on exactly what the worker embedded.
//
//   embed_texts --data_dir DIR > texts.jsonl

#include <unistd.h>

#include <cstring>
#include <iostream>

#include <nlohmann/json.hpp>

#include "common/storage/schema.h"
#include "common/storage/store.h"
#include "ingest/applier.h"

int main(int argc, char** argv) {
  if (argc != 3 || std::strcmp(argv[1], "--data_dir") != 0) {
    std::cerr << "usage: embed_texts --data_dir DIR\n";
    return 2;
  }
  const std::filesystem::path data = argv[2];
  const std::filesystem::path secondary =
      std::filesystem::temp_directory_path() / ("embed-texts-" + std::to_string(::getpid()));
  auto store = tide::storage::Store::OpenSecondary(data / "store", secondary, {});
  if (!store) {
    std::cerr << "embed_texts: " << store.status().ToString() << "\n";
    return 1;
  }
  const tide::ingest::Applier::Options options;
  std::size_t n = 0;
  tide::Status s = (*store)->Scan(tide::storage::Cf::kChunks, "", "", [&](std::string_view, std::string_view value) {
    tide::Result<tide::storage::ChunkRecord> chunk = tide::storage::DecodeChunk(value);
    if (!chunk) return false;
    std::cout << nlohmann::json(tide::ingest::Applier::EmbeddingText(*chunk, options)).dump() << "\n";
    ++n;
    return true;
  });
  store->reset();
  std::filesystem::remove_all(secondary);
  if (!s.ok()) {
    std::cerr << "embed_texts: " << s.ToString() << "\n";
    return 1;
  }
  std::cerr << "embed_texts: " << n << " chunks\n";
  return 0;
}
