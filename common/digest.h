#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tide {

// SHA-256 of `data` as 64 lowercase hex digits (OpenSSL). For identities of content that
// must not collide by accident: a dead letter's original value, cached embeddings' texts.
std::string Sha256Hex(std::string_view data);

// SHA-256 of a file's contents, read in 1 MiB pieces (files larger than memory). Unavailable
// if the file cannot be read.
Result<std::string> Sha256FileHex(const std::filesystem::path& path);

}  // namespace tide
