// The HTTP server over TLS, against libcurl as the client: the configured certificate is
// served and plain HTTP is refused; a renewed certificate is picked up without a restart and a
// broken one is not; mutual TLS admits only clients with a certificate from the configured CA.

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "common/file_util.h"
#include "common/http/http_server.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/tls.h"

namespace tide::http {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

struct Fetched {
  long status = 0;  // 0: no HTTP answer (see error)
  std::string body;
  std::string error;
};

std::size_t Append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One GET on a fresh connection, trusting only `ca`, presenting `cert`/`key` if given.
Fetched Get(const std::string& url, const fs::path& ca, const fs::path& cert = {}, const fs::path& key = {}) {
  Fetched out;
  CURL* curl = curl_easy_init();
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(curl, CURLOPT_PROXY, "");
  if (!ca.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca.c_str());
  if (!cert.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, cert.c_str());
  if (!key.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, key.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  if (curl_easy_perform(curl) == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
  } else {
    out.error = error;
  }
  curl_easy_cleanup(curl);
  return out;
}

HttpResponse Hello(const HttpRequest&) { return {200, "text/plain", "hello over tls", {}}; }

bool PollUntil(const std::function<bool()>& done, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
  }
  return done();
}

// Copies a file's bytes over another (what a certificate renewal tool does, minus atomicity).
void CopyOver(const fs::path& from, const fs::path& to) {
  Result<std::string> bytes = ReadFile(from);
  ASSERT_TRUE(bytes.ok());
  std::ofstream(to, std::ios::binary | std::ios::trunc) << *bytes;
}

class HttpsServerTest : public ::testing::Test {
 protected:
  HttpsServerTest() : a_(testutil::MakeTestPki(dir_.path(), "a")), b_(testutil::MakeTestPki(dir_.path(), "b")) {
    // The server reads its own copies, so a test can rewrite them.
    fs::copy_file(a_.server_cert, cert_);
    fs::copy_file(a_.server_key, key_);
  }

  HttpServerOptions Options() const {
    HttpServerOptions o;
    o.tls.cert_file = cert_;
    o.tls.key_file = key_;
    o.tls.reload_interval = milliseconds(20);
    return o;
  }
  std::string Url(const HttpServer& server) const {
    return "https://127.0.0.1:" + std::to_string(server.port()) + "/hello";
  }

  testutil::TempDir dir_;
  testutil::TestPki a_, b_;
  fs::path cert_ = dir_.path() / "served-cert.pem";
  fs::path key_ = dir_.path() / "served-key.pem";
};

TEST_F(HttpsServerTest, ServesTheConfiguredCertificateAndRefusesPlainHttp) {
  auto server = HttpServer::Start(Options(), Hello);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_TRUE((*server)->tls());
  Fetched ok = Get(Url(**server), a_.ca_cert);
  EXPECT_EQ(ok.status, 200) << ok.error;
  EXPECT_EQ(ok.body, "hello over tls");
  // A client that trusts another CA refuses the certificate.
  Fetched distrusted = Get(Url(**server), b_.ca_cert);
  EXPECT_EQ(distrusted.status, 0);
  EXPECT_FALSE(distrusted.error.empty());
  // Plain HTTP on the TLS port gets no HTTP answer; the server counts the failed handshake.
  Fetched plain = Get("http://127.0.0.1:" + std::to_string((*server)->port()) + "/hello", {});
  EXPECT_NE(plain.status, 200);
  EXPECT_TRUE(PollUntil([&] { return (*server)->tls_handshake_failures() >= 2; }, seconds(10)))
      << (*server)->tls_handshake_failures();
}

TEST_F(HttpsServerTest, ARenewedCertificateIsServedWithoutARestartAndABrokenOneIsNot) {
  std::atomic<int> reloaded{0}, failed{0};
  HttpServerOptions options = Options();
  options.tls.on_reload = [&](const Status& s) { (s.ok() ? reloaded : failed).fetch_add(1); };
  auto server = HttpServer::Start(options, Hello);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_EQ(Get(Url(**server), a_.ca_cert).status, 200);

  // Renewal: the key first, then the certificate. In between the pair does not match; that
  // look fails to load and the old pair stays in force until both are new.
  CopyOver(b_.server_key, key_);
  CopyOver(b_.server_cert, cert_);
  ASSERT_TRUE(PollUntil([&] { return Get(Url(**server), b_.ca_cert).status == 200; }, seconds(20)))
      << "the renewed certificate was never served";
  EXPECT_GE(reloaded.load(), 1);
  EXPECT_EQ(Get(Url(**server), a_.ca_cert).status, 0);  // the old certificate is gone

  // A broken key: the reload fails and the renewed certificate goes on being served.
  const int failed_before = failed.load();
  std::ofstream(key_, std::ios::trunc) << "-----BEGIN PRIVATE KEY-----\nnot a key\n";
  ASSERT_TRUE(PollUntil([&] { return failed.load() > failed_before; }, seconds(20)));
  Fetched still = Get(Url(**server), b_.ca_cert);
  EXPECT_EQ(still.status, 200) << still.error;
}

TEST_F(HttpsServerTest, MutualTlsAdmitsOnlyClientsWithACertificateFromTheConfiguredCa) {
  HttpServerOptions options = Options();
  options.tls.client_ca_file = a_.ca_cert;
  auto server = HttpServer::Start(options, Hello);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  Fetched without = Get(Url(**server), a_.ca_cert);
  EXPECT_EQ(without.status, 0) << "a client without a certificate was let in";
  Fetched other_ca = Get(Url(**server), a_.ca_cert, b_.client_cert, b_.client_key);
  EXPECT_EQ(other_ca.status, 0) << "a client certificate from another CA was let in";
  Fetched with = Get(Url(**server), a_.ca_cert, a_.client_cert, a_.client_key);
  EXPECT_EQ(with.status, 200) << with.error;
  EXPECT_EQ(with.body, "hello over tls");
}

TEST_F(HttpsServerTest, StartSaysWhichTlsFileIsWrong) {
  HttpServerOptions options = Options();
  options.tls.cert_file = dir_.path() / "missing.pem";
  auto missing = HttpServer::Start(options, Hello);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("missing.pem"), std::string::npos) << missing.status().ToString();

  options = Options();
  options.tls.key_file = b_.server_key;  // not the certificate's key
  auto mismatch = HttpServer::Start(options, Hello);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("does not match the certificate"), std::string::npos)
      << mismatch.status().ToString();
}

}  // namespace
}  // namespace tide::http
