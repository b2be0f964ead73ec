#pragma once

#include <cstdint>
#include <string>

namespace tide::testutil {

struct HttpResult {
  int status = 0;  // 0: could not connect or no response
  std::string body;
};

// One blocking HTTP/1.1 request to 127.0.0.1:port with Connection: close.
// `api_key`, if not empty, goes in "Authorization: Bearer <api_key>".
HttpResult HttpRequestLoopback(std::uint16_t port, const std::string& method, const std::string& target,
                               const std::string& body = "", const std::string& api_key = "");

}  // namespace tide::testutil
