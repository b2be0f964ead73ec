#pragma once

#include <memory>

#include <boost/asio/ssl/context.hpp>

#include "common/http/http_server.h"
#include "common/status.h"

namespace tide::http {

// One loaded certificate set for the HTTP server's TLS connections. A session holds it while it
// lives; a reload of the files makes a new one. Private to the server (Asio stays out of
// http_server.h).
struct TlsContext {
  mutable boost::asio::ssl::context ctx{boost::asio::ssl::context::tls_server};
};

// Loads options.cert_file, key_file and (when set) client_ca_file into a TLS 1.2+ server
// context. InvalidArgument names the file and OpenSSL's reason ("TLS key <file> does not match
// the certificate <file>").
Result<std::shared_ptr<const TlsContext>> LoadTlsContext(const HttpTlsOptions& options);

}  // namespace tide::http
