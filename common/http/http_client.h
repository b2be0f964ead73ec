#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace tide::http {

// Outbound HTTP and HTTPS on libcurl, for calls to providers we do not run (embedding
// services). TLS peers are verified against the system's CA store or `ca_file`; connections
// are kept alive and reused; proxies come from `proxy` or, when it is empty, from the usual
// environment variables (https_proxy, http_proxy, no_proxy); every request is bounded in time
// (DNS included: libcurl resolves asynchronously).
//
// Thread-safe: Post() may run on several threads at once. Each call borrows an easy handle
// (with its live connection) from a pool and returns it, so N threads keep N connections open.
class HttpClient {
 public:
  struct Options {
    std::string ca_file;  // PEM bundle of trusted CAs; empty: the system's store
    // "http://proxy:3128" or "socks5h://..."; empty: libcurl's environment variables; "none":
    // never a proxy, whatever the environment says.
    std::string proxy;
    std::chrono::milliseconds connect_timeout{5000};  // DNS, TCP and TLS handshake
    std::chrono::milliseconds timeout{10000};         // the whole request
    // A larger response body fails the request (what happens: Unavailable, "response over").
    std::size_t max_response_bytes = 64 << 20;
    std::string user_agent = "tidesearch";
  };

  struct Response {
    long status = 0;
    std::string body;
    std::string retry_after;  // the Retry-After header's value, if any
  };

  // InvalidArgument when libcurl cannot be initialised or `ca_file` is not readable.
  static Result<std::unique_ptr<HttpClient>> Create(Options options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // POSTs `body` to `url` with `headers` ("Name: value" each). Any HTTP status is a Response;
  // a request that got no response (DNS, connect, TLS handshake or verification, timeout,
  // response too large) is Unavailable with libcurl's description and, for TLS, what to check.
  // `timeout` (when positive) replaces Options::timeout for this request: a caller with a
  // deadline passes what is left of it, and a request that runs out of it is DeadlineExceeded
  // (not Unavailable).
  Result<Response> Post(const std::string& url, const std::vector<std::string>& headers,
                        const std::string& body,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) const;

 private:
  explicit HttpClient(Options options) : options_(std::move(options)) {}
  void* Borrow() const;
  void Return(void* handle) const;

  Options options_;
  mutable std::mutex mu_;
  mutable std::vector<void*> idle_;  // CURL* easy handles, each keeping its connection
};

// Checks an http:// or https:// URL the way libcurl reads it: scheme, host, no credentials.
// InvalidArgument names `what` and the problem.
Status ValidateUrl(const std::string& url, const std::string& what);

}  // namespace tide::http
