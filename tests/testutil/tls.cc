#include "tests/testutil/tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace tide::testutil {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "test PKI: %s failed\n", what);
    std::abort();
  }
}

EVP_PKEY* NewKey() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  Check(key != nullptr, "EVP_EC_gen");
  return key;
}

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  Check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// `usage`: the extended key usage of a leaf ("serverAuth" or "clientAuth").
X509* NewCert(EVP_PKEY* key, const std::string& common_name, X509* issuer, EVP_PKEY* issuer_key, long serial,
              bool ca, const char* usage = "serverAuth") {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
  X509* self_or_issuer = issuer ? issuer : cert;
  if (ca) {
    AddExtension(cert, self_or_issuer, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(cert, self_or_issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExtension(cert, self_or_issuer, NID_subject_key_identifier, "hash");
  } else {
    AddExtension(cert, self_or_issuer, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert, self_or_issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    AddExtension(cert, self_or_issuer, NID_ext_key_usage, usage);
    AddExtension(cert, self_or_issuer, NID_authority_key_identifier, "keyid");
  }
  Check(X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

void WritePem(const std::filesystem::path& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  Check(f != nullptr, "fopen");
  if (cert) Check(PEM_write_X509(f, cert) == 1, "PEM_write_X509");
  if (key) Check(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "PEM_write_PrivateKey");
  std::fclose(f);
}

}  // namespace

TestPki MakeTestPki(const std::filesystem::path& dir, const std::string& name) {
  EVP_PKEY* ca_key = NewKey();
  X509* ca = NewCert(ca_key, name + " test CA", nullptr, nullptr, 1, true);
  EVP_PKEY* server_key = NewKey();
  X509* server = NewCert(server_key, "localhost", ca, ca_key, 2, false);
  EVP_PKEY* client_key = NewKey();
  X509* client = NewCert(client_key, name + " client", ca, ca_key, 3, false, "clientAuth");
  TestPki pki{dir / (name + "-ca.pem"), dir / (name + "-server.pem"), dir / (name + "-server-key.pem"),
              dir / (name + "-client.pem"), dir / (name + "-client-key.pem")};
  WritePem(pki.ca_cert, ca, nullptr);
  WritePem(pki.server_cert, server, nullptr);
  WritePem(pki.server_key, nullptr, server_key);
  WritePem(pki.client_cert, client, nullptr);
  WritePem(pki.client_key, nullptr, client_key);
  X509_free(client);
  EVP_PKEY_free(client_key);
  X509_free(server);
  EVP_PKEY_free(server_key);
  X509_free(ca);
  EVP_PKEY_free(ca_key);
  return pki;
}

struct TlsTestServer::Impl {
  net::io_context ioc;
  ssl::context tls{ssl::context::tls_server};
  tcp::acceptor acceptor{ioc};
  Handler handler;
  std::thread accept_thread;
  std::mutex mu;
  std::vector<std::thread> connections;
  std::vector<std::shared_ptr<tcp::socket>> sockets;  // to shut them down on destruction
  std::atomic<bool> stopping{false};
};

TlsTestServer::TlsTestServer(const TestPki& pki, Handler handler) : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.handler = std::move(handler);
  s.tls.use_certificate_chain_file(pki.server_cert.string());
  s.tls.use_private_key_file(pki.server_key.string(), ssl::context::pem);
  const tcp::endpoint endpoint(net::ip::make_address("127.0.0.1"), 0);
  s.acceptor.open(endpoint.protocol());
  s.acceptor.bind(endpoint);
  s.acceptor.listen();
  port_ = s.acceptor.local_endpoint().port();
  s.accept_thread = std::thread([this] {
    Impl& s = *impl_;
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(s.ioc);
      beast::error_code ec;
      s.acceptor.accept(*socket, ec);
      if (ec || s.stopping.load()) return;
      ++connections_;
      std::lock_guard lock(s.mu);
      s.sockets.push_back(socket);
      s.connections.emplace_back([this, socket] {
        Impl& s = *impl_;
        ssl::stream<tcp::socket&> stream(*socket, s.tls);
        beast::error_code ec;
        stream.handshake(ssl::stream_base::server, ec);
        if (ec) {
          ++failed_handshakes_;
          return;
        }
        beast::flat_buffer buffer;
        for (;;) {
          bhttp::request<bhttp::string_body> req;
          bhttp::read(stream, buffer, req, ec);
          if (ec) return;
          http::HttpRequest in;
          in.method = std::string(req.method_string());
          in.target = std::string(req.target());
          in.path = in.target.substr(0, in.target.find('?'));
          for (const auto& field : req) {
            std::string name(field.name_string());
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            in.headers.emplace_back(std::move(name), std::string(field.value()));
          }
          in.body = req.body();
          const http::HttpResponse out = s.handler(in);
          bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(out.status), 11};
          res.set(bhttp::field::content_type, out.content_type);
          for (const auto& [name, value] : out.headers) res.set(name, value);
          res.body() = out.body;
          res.keep_alive(req.keep_alive());
          res.prepare_payload();
          bhttp::write(stream, res, ec);
          if (ec || !req.keep_alive()) return;
        }
      });
    }
  });
}

TlsTestServer::~TlsTestServer() {
  Impl& s = *impl_;
  s.stopping = true;
  beast::error_code ec;
  // Wake the accept loop with one last connection, then end the open ones.
  {
    tcp::socket poke(s.ioc);
    poke.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
  }
  s.accept_thread.join();
  std::lock_guard lock(s.mu);
  for (auto& socket : s.sockets) socket->shutdown(tcp::socket::shutdown_both, ec);
  for (std::thread& t : s.connections) t.join();
}

}  // namespace tide::testutil
