#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/http/http_server.h"

namespace tide::testutil {

// Certificates for TLS tests, made with OpenSSL at run time, so nothing in the repository
// expires: a CA, a server certificate it signed for 127.0.0.1 and localhost, and a client
// certificate it signed (for mutual TLS).
struct TestPki {
  std::filesystem::path ca_cert;      // PEM
  std::filesystem::path server_cert;  // PEM
  std::filesystem::path server_key;   // PEM
  std::filesystem::path client_cert;  // PEM
  std::filesystem::path client_key;   // PEM
};
// Writes <name>-ca.pem, <name>-server.pem, <name>-server-key.pem, <name>-client.pem and
// <name>-client-key.pem under `dir`.
TestPki MakeTestPki(const std::filesystem::path& dir, const std::string& name);

// An HTTPS/1.1 server on 127.0.0.1 (a free port) for client tests: TLS with the PKI's server
// certificate, keep-alive, one handler for every request. Counts the TCP connections it
// accepted, so a test can see connections being reused. A thread per connection.
class TlsTestServer {
 public:
  using Handler = std::function<http::HttpResponse(const http::HttpRequest&)>;
  TlsTestServer(const TestPki& pki, Handler handler);
  ~TlsTestServer();
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;

  std::uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }
  // Connections whose TLS handshake failed (the client refused our certificate).
  int failed_handshakes() const { return failed_handshakes_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> failed_handshakes_{0};
};

}  // namespace tide::testutil
