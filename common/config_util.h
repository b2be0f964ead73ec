#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

#include "common/embedding/factory.h"
#include "common/index/vector_index.h"
#include "common/logging.h"
#include "common/status.h"

namespace tide {

// Parses the command line, then the file named by --config (if any): the command line wins,
// keys unknown to `options` are errors naming the key, and --help prints usage and returns
// NotFound (the caller exits 0). Adds --config and --help to `options`.
Result<boost::program_options::variables_map> ParseCommandLineAndConfig(
    int argc, const char* const* argv, boost::program_options::options_description& options,
    const std::string& usage);

// The items of a comma-separated list ("a, b,,c" -> a, b, c): blanks around an item are
// dropped, and so are empty items. For list-valued settings and query parameters.
std::vector<std::string> SplitList(std::string_view text);

// Settings both daemons read, so the worker and the daemon agree on them when they share a
// config file: the data directory, the embedder and the HNSW graph parameters.
struct SharedConfig {
  std::string data_dir = "./data";
  embedding::EmbedderConfig embedder;
  index::VectorIndex::Options hnsw;
  LoggingConfig logging;
};

// Registers data_dir, embedder.*, hnsw.* and log.* options writing into *config (which must
// outlive the parse).
void AddSharedOptions(boost::program_options::options_description& options, SharedConfig* config);

}  // namespace tide
