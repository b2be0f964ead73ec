// Issue 16: the real tide-query serving HTTPS from tls.* settings, with mutual TLS: a client
// with a certificate from the configured CA gets answers (API keys still apply), one without
// does not, and plain HTTP gets nothing.

#include <curl/curl.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/tls.h"

namespace tide {
namespace {

using std::chrono::seconds;
using testutil::WaitFor;

const std::string kBin = TIDE_BIN_DIR;
const std::string kSource = TIDE_SOURCE_DIR;
const std::string kKey = "tls-e2e-key-0123456789abcdef";

std::size_t Append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// GET `url` on a fresh connection: the HTTP status, or 0 when there was no HTTP answer.
long Get(const std::string& url, const testutil::TestPki* client, const std::filesystem::path& ca,
         std::string* body) {
  CURL* curl = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, ("X-API-Key: " + kKey).c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_CAINFO, ca.c_str());
  if (client != nullptr) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, client->client_cert.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, client->client_key.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, body);
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return status;
}

TEST(TlsE2eTest, TheDaemonServesHttpsAndAdmitsOnlyClientsWithACertificate) {
  testutil::TempDir dir;
  const testutil::TestPki pki = testutil::MakeTestPki(dir.path(), "daemon");
  const auto keys = dir.path() / "keys.json";
  ASSERT_TRUE(WriteFileAtomic(keys, nlohmann::json{{"keys", {{{"name", "ops"}, {"key", kKey}, {"containers", {"*"}}}}}}
                                        .dump())
                  .ok());
  std::filesystem::create_directories(dir.path() / "data");
  testutil::Process query(
      {kBin + "/query/tide-query", "--config", kSource + "/configs/query.conf", "--data_dir",
       (dir.path() / "data").string(), "--http.port", "0", "--http.port_file", (dir.path() / "port").string(),
       "--auth.api_keys_file", keys.string(), "--tls.cert_file", pki.server_cert.string(), "--tls.key_file",
       pki.server_key.string(), "--tls.client_ca_file", pki.ca_cert.string()},
      dir.path() / "query.log");
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(dir.path() / "port"); }, seconds(20))) << query.Log();
  const std::string port = *ReadFile(dir.path() / "port");
  const std::string base = "https://127.0.0.1:" + port.substr(0, port.find('\n'));

  std::string body;
  EXPECT_EQ(Get(base + "/healthz", &pki, pki.ca_cert, &body), 200) << query.Log();
  body.clear();
  // Past TLS, the API key still decides: this key may read, the store is not there yet.
  EXPECT_EQ(Get(base + "/readyz", &pki, pki.ca_cert, &body), 503);
  EXPECT_NE(body.find("\"ready\":false"), std::string::npos) << body;
  EXPECT_EQ(Get(base + "/healthz", nullptr, pki.ca_cert, &body), 0) << "no client certificate, yet answered";
  EXPECT_EQ(Get("http" + base.substr(5) + "/healthz", nullptr, pki.ca_cert, &body), 0) << "plain HTTP answered";
  EXPECT_NE(query.Log().find("tls=on client_certificates=required"), std::string::npos) << query.Log();
}

}  // namespace
}  // namespace tide
