#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
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

// XXH3-64 (libxxhash) as 16 lowercase hex digits: the checksum of index snapshot files, which
// guards against damage, not tampering, and is read at several GB/s.
std::string Xxh3Hex(std::string_view data);

// XXH3-64 of bytes handed over in pieces, in order: for a reader that hashes what it reads
// as it goes, instead of reading a file a second time for its checksum.
class Xxh3Stream {
 public:
  Xxh3Stream();
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;

  void Update(const void* data, std::size_t n);
  // The XXH3-64 of everything so far, as Xxh3Hex gives it. Update may go on after.
  std::string Hex() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// XXH3-64 of a file's contents, read in 4 MiB pieces. Unavailable if it cannot be read;
// `bytes`, when given, receives the number of bytes hashed.
Result<std::string> Xxh3FileHex(const std::filesystem::path& path, std::uint64_t* bytes = nullptr);

}  // namespace tide
