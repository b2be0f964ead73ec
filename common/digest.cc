#include "common/digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <vector>

namespace tide {

namespace {

std::string Hex(const unsigned char* digest, unsigned int length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

std::string Hex64(XXH64_hash_t hash) {
  unsigned char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<unsigned char>(hash >> (56 - 8 * i));
  return Hex(bytes, 8);
}

// Reads the file at `path` in pieces of `piece` bytes, handing each to `consume`. Unavailable
// if it cannot be opened or read; `bytes`, when given, receives the number of bytes read.
Status ReadInPieces(const std::filesystem::path& path, std::size_t piece,
                    const std::function<void(const char*, std::size_t)>& consume, std::uint64_t* bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Unavailable("cannot read " + path.string() + ": " + std::strerror(errno));
  std::vector<char> buffer(piece);
  std::uint64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Status::Unavailable("error reading " + path.string() + ": " + std::strerror(err));
    }
    consume(buffer.data(), static_cast<std::size_t>(n));
    total += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  if (bytes != nullptr) *bytes = total;
  return Status();
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // Fails only when OpenSSL cannot allocate or has no SHA-256: nothing to recover from.
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1) std::abort();
  return Hex(digest, length);
}

Result<std::string> Sha256FileHex(const std::filesystem::path& path) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) std::abort();
  TIDE_RETURN_IF_ERROR(ReadInPieces(path, 1 << 20, [&](const char* data, std::size_t n) {
    if (EVP_DigestUpdate(ctx.get(), data, n) != 1) std::abort();
  }, nullptr));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1) std::abort();
  return Hex(digest, length);
}

std::string Xxh3Hex(std::string_view data) { return Hex64(XXH3_64bits(data.data(), data.size())); }

struct Xxh3Stream::State {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> xxh{XXH3_createState(), XXH3_freeState};
};

Xxh3Stream::Xxh3Stream() : state_(std::make_unique<State>()) {
  // Fails only when it cannot allocate: nothing to recover from.
  if (!state_->xxh || XXH3_64bits_reset(state_->xxh.get()) != XXH_OK) std::abort();
}

Xxh3Stream::~Xxh3Stream() = default;

void Xxh3Stream::Update(const void* data, std::size_t n) { XXH3_64bits_update(state_->xxh.get(), data, n); }

std::string Xxh3Stream::Hex() const { return Hex64(XXH3_64bits_digest(state_->xxh.get())); }

Result<std::string> Xxh3FileHex(const std::filesystem::path& path, std::uint64_t* bytes) {
  Xxh3Stream stream;
  TIDE_RETURN_IF_ERROR(ReadInPieces(path, 4 << 20, [&](const char* data, std::size_t n) { stream.Update(data, n); }, bytes));
  return stream.Hex();
}

}  // namespace tide
