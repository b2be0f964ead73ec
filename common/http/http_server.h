#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tide::http {

// One parsed HTTP request, as a handler sees it. Beast stays inside http_server.cc.
struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string target;  // raw request-target, e.g. "/v1/analyze?text=%ED%95%9C"
  std::string path;    // target up to the first '?', not percent-decoded
  // In order of appearance, percent-decoded, '+' read as a space. A malformed
  // escape ("%G1") is kept literally. "?a&b=" gives {"a",""} and {"b",""}.
  std::vector<std::pair<std::string, std::string>> query_params;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  // The first header with this (lower-case) name, or "" if absent.
  std::string_view Header(std::string_view lowercase_name) const;
  // The first query parameter with this name, or nullopt if absent.
  std::optional<std::string_view> QueryParam(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;  // outside 100..599 is a handler bug and is answered as 500
  std::string content_type = "application/json";
  std::string body;
  // Extra headers, e.g. {"Retry-After", "1"}. Names and values containing CR, LF
  // or NUL are a handler bug and are answered as 500 (no response splitting).
  std::vector<std::pair<std::string, std::string>> headers;
};

// The JSON error body every 4xx/5xx uses, Elasticsearch-style:
// {"error":{"type":"<type>","reason":"<reason>"},"status":<status>}.
// Invalid UTF-8 in `reason` is replaced with U+FFFD rather than failing.
HttpResponse JsonError(int status, std::string_view type, std::string_view reason);

// Runs on the worker pool, concurrently from several threads: must be
// thread-safe and should not throw. If it throws anyway, the client gets a 500
// "internal_error" and the server keeps serving.
using Handler = std::function<HttpResponse(const HttpRequest&)>;

// HTTPS: the server speaks TLS (1.2 or newer) on its port instead of plain HTTP.
struct HttpTlsOptions {
  std::filesystem::path cert_file;  // PEM certificate chain, leaf first; empty: plain HTTP
  std::filesystem::path key_file;   // PEM private key of the leaf certificate
  // PEM CA certificates. When set, every client must present a certificate one of them
  // signed (mutual TLS); a client without one fails the handshake.
  std::filesystem::path client_ca_file;
  // The files are checked this often and, when changed, loaded for new connections (a
  // renewed certificate needs no restart); connections already open keep theirs. A set that
  // fails to load (a key that does not match, a half-written file) is logged and the previous
  // one stays in force. Must be positive.
  std::chrono::milliseconds reload_interval{60000};
  // Hears every reload's outcome (for metrics); may be empty. Called on the watcher's thread.
  std::function<void(const Status&)> on_reload;
};

struct HttpServerOptions {
  std::string address = "127.0.0.1";        // an IP literal, v4 or v6
  std::uint16_t port = 0;                   // 0: the kernel picks; HttpServer::port() tells which
  int io_threads = 1;                       // run the sockets; never the handler
  int worker_threads = 2;                   // run the handler
  std::size_t max_body_bytes = 1 << 20;     // larger bodies are answered 413 and closed
  std::size_t max_header_bytes = 16 << 10;  // larger headers are answered 431 and closed
  // Whole-request deadline, including an idle keep-alive connection waiting for
  // its next request. On expiry the connection is closed without an answer.
  std::chrono::milliseconds read_timeout{30000};
  std::chrono::milliseconds write_timeout{30000};  // per response
  // Requests whose handler is queued or running, server-wide. One more is
  // answered at once with 503 "overloaded" and Retry-After: 1, never queued.
  std::size_t max_in_flight = 64;
  // How long Stop() waits for admitted requests to be answered.
  std::chrono::milliseconds shutdown_grace{10000};
  HttpTlsOptions tls;  // cert_file empty: plain HTTP
};

// An HTTP/1.1 server: keep-alive, one request in flight per connection, no
// pipelining; plain or over TLS (HttpTlsOptions). It knows sockets, not search:
// every request that parses goes to the handler, whatever its method or path.
// A TLS handshake must finish within read_timeout; one that fails (a client that
// distrusts the certificate, speaks plain HTTP, or has no client certificate
// under mutual TLS) closes the connection and counts in tls_handshake_failures().
//
// Thread safety: port() and Stop() may be called from any thread except the
// server's own (a handler must not call Stop(): it would wait for itself).
class HttpServer {
 public:
  // Binds, listens and starts the threads. Returns InvalidArgument for bad
  // options or TLS files that do not load (naming the file and OpenSSL's reason)
  // and Unavailable (with the address and the OS error) if the address cannot
  // be bound.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   Handler handler);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  std::uint16_t port() const;  // the bound port, also after Stop()
  bool tls() const;
  std::uint64_t tls_handshake_failures() const;

  // Graceful and idempotent: stops accepting, answers requests that arrive on
  // open connections with 503 "shutting_down", waits up to shutdown_grace for
  // admitted requests to be answered, then closes every connection and joins
  // every thread. A handler still running after the grace is waited for: the
  // server cannot abandon a thread it owns.
  void Stop();

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tide::http
