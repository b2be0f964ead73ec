#include "query/auth.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/file_util.h"

namespace tide::query {
namespace {

using nlohmann::json;

// Compares without an early exit, so response timing says nothing about how much of a key
// an attacker guessed right.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

Result<json> ReadJson(const std::filesystem::path& path) {
  Result<std::string> text = ReadFile(path);
  if (!text) return text.status();
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::InvalidArgument(path.string() + " is not a JSON object");
  return j;
}

}  // namespace

Authorizer::Authorizer(std::vector<ApiKey> keys, std::map<std::string, std::vector<std::string>> acl)
    : keys_(std::move(keys)), acl_(std::move(acl)) {}

Result<std::unique_ptr<Authorizer>> Authorizer::Load(const std::filesystem::path& api_keys_file,
                                                     const std::filesystem::path& acl_file) {
  if (api_keys_file.empty()) {
    return Status::InvalidArgument(
        "auth.api_keys_file is required: every route but /healthz needs an API key (see docs/api.md)");
  }
  Result<json> keys_json = ReadJson(api_keys_file);
  if (!keys_json) return keys_json.status().WithContext("auth.api_keys_file");
  std::vector<ApiKey> keys;
  try {
    for (const json& k : keys_json->at("keys")) {
      ApiKey key{k.at("name").get<std::string>(), k.at("key").get<std::string>(), {}};
      for (const json& c : k.at("containers")) key.containers.insert(c.get<std::string>());
      const std::string role = k.value("role", "search");
      if (role != "search" && role != "admin") {
        return Status::InvalidArgument("API key '" + key.name + "': role must be \"search\" or \"admin\", got \"" +
                                       role + "\"");
      }
      key.admin = role == "admin";
      if (auto rl = k.find("rate_limit"); rl != k.end() && !rl->is_null()) {
        const double rps = rl->at("requests_per_second").get<double>();
        const double burst = rl->value("burst", rps);
        if (!(rps > 0) || !(burst >= 1)) {
          return Status::InvalidArgument("API key '" + key.name +
                                         "': rate_limit needs requests_per_second > 0 and burst >= 1");
        }
        key.rate_limit = {rps, burst};
      }
      if (key.key.size() < 16) {
        return Status::InvalidArgument("API key '" + key.name + "' is shorter than 16 characters");
      }
      keys.push_back(std::move(key));
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(api_keys_file.string() + ": " + e.what());
  }
  if (keys.empty()) return Status::InvalidArgument(api_keys_file.string() + " defines no keys");
  std::map<std::string, std::vector<std::string>> acl;
  if (!acl_file.empty()) {
    Result<json> acl_json = ReadJson(acl_file);
    if (!acl_json) return acl_json.status().WithContext("auth.acl_file");
    try {
      for (const auto& [principal, containers] : acl_json->at("principals").items()) {
        acl[principal] = containers.get<std::vector<std::string>>();
      }
    } catch (const json::exception& e) {
      return Status::InvalidArgument(acl_file.string() + ": " + e.what());
    }
  }
  return std::make_unique<Authorizer>(std::move(keys), std::move(acl));
}

const Authorizer::ApiKey* Authorizer::Authenticate(std::string_view authorization, std::string_view api_key) const {
  std::string_view presented = api_key;
  if (presented.empty() && authorization.size() > 7) {
    std::string scheme(authorization.substr(0, 7));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(), ::tolower);
    if (scheme == "bearer ") presented = authorization.substr(7);
  }
  if (presented.empty()) return nullptr;
  const ApiKey* found = nullptr;
  for (const ApiKey& k : keys_) {
    if (ConstantTimeEquals(k.key, presented)) found = &k;  // no break: same time for every key
  }
  return found;
}

Result<std::vector<std::string>> Authorizer::Scope(const ApiKey& key, const std::vector<std::string>& container_ids,
                                                   const std::optional<std::string>& principal,
                                                   const AclLookup& store_acl) const {
  // Containers the request names must all be inside the key's scope.
  if (!key.all_containers()) {
    for (const std::string& c : container_ids) {
      if (!key.containers.contains(c)) {
        return Status::PermissionDenied("container '" + c + "' is outside this API key's scope");
      }
    }
  }
  std::vector<std::string> scope = container_ids;
  if (principal) {
    std::optional<std::vector<std::string>> readable;
    if (store_acl) {
      Result<std::optional<std::vector<std::string>>> fed = store_acl(*principal);
      if (!fed) return fed.status();
      readable = std::move(*fed);
    }
    if (!readable) {
      auto it = acl_.find(*principal);
      if (it != acl_.end()) readable = it->second;
    }
    // Every principal denial reads the same, so a caller cannot tell an unknown principal from
    // one with no grants, grants outside the key's scope, or grants to other containers.
    const Status denied =
        Status::PermissionDenied("principal '" + *principal + "' may not read the requested containers");
    if (!readable || readable->empty()) return denied;
    if (scope.empty()) {
      // The key's scope narrows what the principal may read.
      for (const std::string& c : *readable) {
        if (key.all_containers() || key.containers.contains(c)) scope.push_back(c);
      }
      if (scope.empty()) return denied;
    } else {
      for (const std::string& c : scope) {
        if (std::find(readable->begin(), readable->end(), c) == readable->end()) return denied;
      }
    }
  }
  if (scope.empty()) {
    return Status::PermissionDenied("every search must be scoped: give 'container_ids' or 'principal'");
  }
  std::sort(scope.begin(), scope.end());
  scope.erase(std::unique(scope.begin(), scope.end()), scope.end());
  return scope;
}

}  // namespace tide::query
