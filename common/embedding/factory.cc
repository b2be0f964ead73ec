#include "common/embedding/factory.h"

#include <cstdlib>

#include "common/embedding/hash_embedder.h"
#include "common/embedding/openai_embedder.h"
#include "common/file_util.h"

namespace tide::embedding {
namespace {

Result<std::string> ReadApiKey(const EmbedderConfig& config) {
  if (!config.api_key_file.empty()) {
    Result<std::string> contents = ReadFile(config.api_key_file);
    if (!contents) {
      return Status::InvalidArgument("embedder.api_key_file: " + contents.status().message());
    }
    constexpr const char* kSpace = " \t\r\n\f\v";
    std::string& key = *contents;
    key.erase(key.find_last_not_of(kSpace) + 1);  // npos + 1 == 0: all blank
    key.erase(0, key.find_first_not_of(kSpace));
    // Someone asked for a key from this file; an empty one is a mistake (an unmounted
    // secret, a directory), not a keyless local server.
    if (key.empty()) {
      return Status::InvalidArgument("embedder.api_key_file " + config.api_key_file +
                                     " holds no key");
    }
    return std::move(key);
  }
  const char* env = config.api_key_env.empty() ? nullptr : std::getenv(config.api_key_env.c_str());
  return std::string(env == nullptr ? "" : env);
}

Result<std::unique_ptr<Embedder>> MakeOpenAi(const EmbedderConfig& config) {
  // OpenAiEmbedder::Create() validates the rest; a negative count must not wrap to size_t.
  if (config.batch_size < 1) {
    return Status::InvalidArgument("embedder.batch_size must be at least 1");
  }
  Result<std::string> key = ReadApiKey(config);
  if (!key) return key.status();
  OpenAiEmbedder::Options options;
  options.base_url = config.base_url;
  options.model = config.model;
  options.dimension = config.dimension;
  options.send_dimensions = config.send_dimensions;
  options.api_key = std::move(*key);
  options.batch_size = static_cast<std::size_t>(config.batch_size);
  options.concurrency = config.concurrency;
  options.timeout = std::chrono::milliseconds(config.timeout_ms);
  options.max_attempts = config.max_attempts;
  Result<std::unique_ptr<OpenAiEmbedder>> embedder = OpenAiEmbedder::Create(std::move(options));
  if (!embedder) return embedder.status();
  return std::unique_ptr<Embedder>(std::move(*embedder));
}

}  // namespace

Result<std::unique_ptr<Embedder>> MakeEmbedder(const EmbedderConfig& config) {
  if (config.kind == "hash") {
    if (config.dimension < 8 || config.dimension > 4096) {
      return Status::InvalidArgument("embedder.dimension must be in [8, 4096], got " +
                                     std::to_string(config.dimension));
    }
    HashEmbedder::Options options;
    options.dimension = config.dimension;
    return std::unique_ptr<Embedder>(std::make_unique<HashEmbedder>(options));
  }
  if (config.kind == "openai") return MakeOpenAi(config);
  return Status::InvalidArgument("unknown embedder.kind '" + config.kind +
                                 "' (supported: hash, openai)");
}

}  // namespace tide::embedding
