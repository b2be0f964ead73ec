#pragma once

#include <memory>
#include <string>

#include "common/embedding/embedder.h"
#include "common/status.h"

namespace tide::embedding {

struct EmbedderConfig {
  // "hash": built-in, model-free, lexical. "openai": any OpenAI-compatible /embeddings
  // endpoint (see OpenAiEmbedder).
  std::string kind = "hash";
  int dimension = 384;  // hash: buckets, in [8, 4096]; openai: the model's output dimension

  // kind = "openai" only (see OpenAiEmbedder::Options for each).
  std::string provider = "openai";                    // openai | azure
  std::string base_url = "http://127.0.0.1:8000/v1";  // "/embeddings" is appended
  std::string api_version;                            // azure
  std::string model;                                  // required
  bool send_dimensions = false;  // send "dimensions" (OpenAI text-embedding-3 models)
  std::string query_prefix;
  std::string passage_prefix;
  std::string input_type_field;
  std::string query_input_type = "query";
  std::string passage_input_type = "passage";
  std::string ca_file;
  std::string proxy;
  // The API key never comes from the config file. api_key_file, when set, wins and must be
  // readable and non-empty (surrounding whitespace is trimmed); otherwise the environment variable named by
  // api_key_env is used if set. No key at all is fine for local servers.
  std::string api_key_env = "OPENAI_API_KEY";
  std::string api_key_file;
  int batch_size = 64;          // texts per request
  int max_batch_chars = 32768;  // bytes of text per request
  int concurrency = 4;          // requests in flight per Embed() call, 1..64
  int timeout_ms = 10000;       // per request
  int connect_timeout_ms = 5000;
  int max_attempts = 4;    // per request, transient failures only
};

// Builds the configured embedder. InvalidArgument names the offending embedder.* key.
Result<std::unique_ptr<Embedder>> MakeEmbedder(const EmbedderConfig& config);

}  // namespace tide::embedding
