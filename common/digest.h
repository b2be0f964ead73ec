#pragma once

#include <string>
#include <string_view>

namespace tide {

// SHA-256 of `data` as 64 lowercase hex digits (OpenSSL). For identities of content that
// must not collide by accident: a dead letter's original value, cached embeddings' texts.
std::string Sha256Hex(std::string_view data);

}  // namespace tide
