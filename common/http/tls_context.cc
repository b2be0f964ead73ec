#include "common/http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <string>

namespace tide::http {
namespace {

namespace ssl = boost::asio::ssl;

// OpenSSL's reasons for the last failure, first to last ("bad base64 decode; PEM lib"), for
// messages that say what to fix.
std::string OpenSslReason(const boost::system::error_code& ec) {
  std::string reason;
  while (const unsigned long err = ERR_get_error()) {
    const char* text = ERR_reason_error_string(err);
    if (text == nullptr || reason.find(text) != std::string::npos) continue;
    if (!reason.empty()) reason += "; ";
    reason += text;
  }
  return reason.empty() ? ec.message() : reason;
}

}  // namespace

Result<std::shared_ptr<const TlsContext>> LoadTlsContext(const HttpTlsOptions& o) {
  auto tls = std::make_shared<TlsContext>();
  ssl::context& ctx = tls->ctx;
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::single_dh_use);
  const auto mismatch = [&o] {
    return Status::InvalidArgument("TLS key " + o.key_file.string() + " does not match the certificate " +
                                   o.cert_file.string());
  };
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(o.cert_file.string(), ec);
  if (ec) return Status::InvalidArgument("TLS certificate " + o.cert_file.string() + ": " + OpenSslReason(ec));
  ctx.use_private_key_file(o.key_file.string(), ssl::context::pem, ec);
  if (ec) {
    const std::string reason = OpenSslReason(ec);
    if (reason.find("key values mismatch") != std::string::npos) return mismatch();
    return Status::InvalidArgument("TLS key " + o.key_file.string() + ": " + reason +
                                   (reason == "PEM lib" ? " (not a readable PEM private key)" : ""));
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return mismatch();
  }
  if (!o.client_ca_file.empty()) {
    ctx.load_verify_file(o.client_ca_file.string(), ec);
    if (ec) return Status::InvalidArgument("TLS client CA " + o.client_ca_file.string() + ": " + OpenSslReason(ec));
    // Tell clients which CAs we accept, so one with several certificates picks the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
    }
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return std::shared_ptr<const TlsContext>(std::move(tls));
}

}  // namespace tide::http
