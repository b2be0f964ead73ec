#include "common/embedding/factory.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

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

// Config files trim the spaces around a value, and a prefix usually ends with one: a value in
// double quotes is read as a JSON string ("\"query: \"" -> "query: ").
Result<std::string> Unquote(const std::string& value, const char* key) {
  if (value.size() < 2 || value.front() != '"' || value.back() != '"') return value;
  nlohmann::json j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_string()) return Status::InvalidArgument(std::string(key) + " " + value + " is not a valid quoted string");
  return j.get<std::string>();
}

Result<std::unique_ptr<Embedder>> MakeOpenAi(const EmbedderConfig& config) {
  // OpenAiEmbedder::Create() validates the rest; a negative count must not wrap to size_t.
  if (config.batch_size < 1) {
    return Status::InvalidArgument("embedder.batch_size must be at least 1");
  }
  if (config.max_batch_chars < 1) {
    return Status::InvalidArgument("embedder.max_batch_chars must be at least 1");
  }
  Result<std::string> key = ReadApiKey(config);
  if (!key) return key.status();
  OpenAiEmbedder::Options options;
  options.provider = config.provider;
  options.base_url = config.base_url;
  options.api_version = config.api_version;
  options.model = config.model;
  Result<std::string> query_prefix = Unquote(config.query_prefix, "embedder.query_prefix");
  if (!query_prefix) return query_prefix.status();
  Result<std::string> passage_prefix = Unquote(config.passage_prefix, "embedder.passage_prefix");
  if (!passage_prefix) return passage_prefix.status();
  options.query_prefix = std::move(*query_prefix);
  options.passage_prefix = std::move(*passage_prefix);
  options.input_type_field = config.input_type_field;
  options.query_input_type = config.query_input_type;
  options.passage_input_type = config.passage_input_type;
  options.ca_file = config.ca_file;
  options.proxy = config.proxy;
  options.max_batch_chars = static_cast<std::size_t>(config.max_batch_chars);
  options.connect_timeout = std::chrono::milliseconds(config.connect_timeout_ms);
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
