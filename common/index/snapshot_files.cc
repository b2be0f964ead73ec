#include "common/index/snapshot_files.h"

#include "common/digest.h"

namespace tide::index {
namespace {

constexpr const char* kManifest = "MANIFEST.json";

// The regular files of `dir` but the manifest, with their sizes and link counts.
struct Listed {
  std::uint64_t bytes = 0;
  std::uintmax_t links = 0;
};
Result<std::map<std::string, Listed>> ListFiles(const std::filesystem::path& dir) {
  std::map<std::string, Listed> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code entry_ec;
    if (!it->is_regular_file(entry_ec)) continue;
    const std::string name = it->path().filename().string();
    if (name == kManifest) continue;
    Listed& listed = out[name];
    listed.bytes = it->file_size(entry_ec);
    listed.links = it->hard_link_count(entry_ec);
    if (entry_ec) return Status::Unavailable("reading " + it->path().string() + ": " + entry_ec.message());
  }
  if (ec) return Status::Unavailable("listing " + dir.string() + ": " + ec.message());
  return out;
}

}  // namespace

Result<FileChecksums> ChecksumSnapshotFiles(const std::filesystem::path& dir, const FileChecksums& known) {
  Result<std::map<std::string, Listed>> listed = ListFiles(dir);
  if (!listed) return listed.status();
  FileChecksums out;
  for (const auto& [name, file] : *listed) {
    auto it = known.find(name);
    if (file.links > 1 && it != known.end()) {
      // A sealed file's name belongs to one content: another size can only be damage, which a
      // checksum taken now would hide from every later load.
      if (it->second.bytes != file.bytes) {
        return Status::Corruption(name + " has " + std::to_string(file.bytes) + " bytes, " +
                                  std::to_string(it->second.bytes) + " when its checksum was taken");
      }
      out[name] = it->second;
      continue;
    }
    FileChecksum& sum = out[name];
    Result<std::string> hash = Xxh3FileHex(dir / name, &sum.bytes);
    if (!hash) return hash.status();
    sum.xxh3 = std::move(*hash);
  }
  return out;
}

Status VerifySnapshotFile(const std::filesystem::path& file, const FileChecksum& want) {
  std::uint64_t bytes = 0;
  Result<std::string> hash = Xxh3FileHex(file, &bytes);
  if (!hash) return hash.status();
  if (bytes != want.bytes) {
    return Status::Corruption(file.filename().string() + " has " + std::to_string(bytes) +
                              " bytes, the manifest says " + std::to_string(want.bytes));
  }
  if (*hash != want.xxh3) {
    return Status::Corruption(file.filename().string() + " does not match its checksum (xxh3 " + *hash +
                              ", the manifest says " + want.xxh3 + ")");
  }
  return Status();
}

Status VerifySnapshotFiles(const std::filesystem::path& dir, const FileChecksums& files) {
  Result<std::map<std::string, Listed>> listed = ListFiles(dir);
  if (!listed) return listed.status();
  for (const auto& [name, file] : *listed) {
    if (!files.contains(name)) return Status::Corruption(name + " is not listed in the manifest");
  }
  for (const auto& [name, want] : files) {
    if (listed->find(name) == listed->end()) return Status::Corruption(name + " is missing");
    TIDE_RETURN_IF_ERROR(VerifySnapshotFile(dir / name, want));
  }
  return Status();
}

nlohmann::json FileChecksumsToJson(const FileChecksums& files) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, sum] : files) out[name] = {{"bytes", sum.bytes}, {"xxh3", sum.xxh3}};
  return out;
}

Result<FileChecksums> FileChecksumsFromJson(const nlohmann::json& json) {
  auto bad = [](const std::string& what) { return Status::Corruption("the manifest's \"files\": " + what); };
  if (!json.is_object()) return bad("not an object");
  FileChecksums out;
  for (const auto& [name, entry] : json.items()) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
      return bad("a file name that is not a plain name");
    }
    if (!entry.is_object() || !entry.contains("bytes") || !entry["bytes"].is_number_unsigned() ||
        !entry.contains("xxh3") || !entry["xxh3"].is_string()) {
      return bad("a malformed entry for " + name);
    }
    FileChecksum& sum = out[name];
    sum.bytes = entry["bytes"].get<std::uint64_t>();
    sum.xxh3 = entry["xxh3"].get<std::string>();
    if (sum.xxh3.size() != 16 || sum.xxh3.find_first_not_of("0123456789abcdef") != std::string::npos) {
      return bad("a malformed checksum for " + name);
    }
  }
  return out;
}

}  // namespace tide::index
