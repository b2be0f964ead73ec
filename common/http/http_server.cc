#include "common/http/http_server.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <future>
#include <limits>
#include <mutex>
#include <thread>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/err.h>
#include <spdlog/spdlog.h>

#include "common/http/tls_context.h"
#include "common/reloading.h"

namespace tide::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using BeastRequest = bhttp::request<bhttp::string_body>;
using BeastResponse = bhttp::response<bhttp::string_body>;
namespace ssl = net::ssl;


// After answering a request we could not parse, the client may still be sending
// the rest of it. Closing with unread input makes the kernel send RST, which can
// destroy our error response before the client reads it, so we drain for a
// while first (nginx's lingering_close). Bounded so a client cannot pin the
// connection with an endless upload.
constexpr std::chrono::milliseconds kMaxLinger{2000};
constexpr std::size_t kDrainChunk = 16 << 10;
// accept() fails on transient conditions such as EMFILE. Retrying at once would
// spin a core and flood the log, so the listener waits this long first.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

std::string_view ToStd(beast::string_view s) { return {s.data(), s.size()}; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding; a malformed escape stays literal.
std::string DecodeQueryComponent(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 &&
               HexValue(in[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

void ParseQuery(std::string_view query, std::vector<std::pair<std::string, std::string>>* out) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    out->emplace_back(DecodeQueryComponent(pair.substr(0, eq)), DecodeQueryComponent(value));
  }
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

HttpRequest ToHttpRequest(BeastRequest&& req) {
  HttpRequest out;
  out.method = std::string(ToStd(req.method_string()));
  out.target = std::string(ToStd(req.target()));
  const std::string_view target = out.target;
  const std::size_t question = target.find('?');
  out.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) {
    ParseQuery(target.substr(question + 1), &out.query_params);
  }
  for (const auto& field : req) {
    out.headers.emplace_back(AsciiLower(ToStd(field.name_string())), ToStd(field.value()));
  }
  out.body = std::move(req.body());
  return out;
}

bool IsSafeHeaderText(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// A response Beast would refuse (status > 999 throws) or that would split the
// header block is a handler bug, not something to put on the wire.
bool IsWellFormed(const HttpResponse& res) {
  if (res.status < 100 || res.status > 599 || !IsSafeHeaderText(res.content_type)) return false;
  return std::all_of(res.headers.begin(), res.headers.end(), [](const auto& header) {
    return !header.first.empty() && header.first.find_first_of(": \t") == std::string::npos &&
           IsSafeHeaderText(header.first) && IsSafeHeaderText(header.second);
  });
}

BeastResponse ToBeastResponse(HttpResponse&& res, unsigned version, bool keep_alive) {
  if (!IsWellFormed(res)) {
    spdlog::error("http handler returned a malformed response status={}", res.status);
    res = JsonError(500, "internal_error", "the server built a malformed response");
  }
  BeastResponse out{static_cast<bhttp::status>(res.status), version};
  out.set(bhttp::field::server, "tidesearch");
  out.set(bhttp::field::content_type, res.content_type);
  for (const auto& [name, value] : res.headers) out.insert(name, value);
  out.body() = std::move(res.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

HttpResponse CallHandler(const Handler& handler, const HttpRequest& req) {
  try {
    return handler(req);
  } catch (const std::exception& e) {
    spdlog::error("http handler threw method={} path={} what={}", req.method, req.path, e.what());
  } catch (...) {
    spdlog::error("http handler threw method={} path={} what=(not a std::exception)", req.method,
                  req.path);
  }
  // The exception text may describe internals, so the client gets a generic reason.
  return JsonError(500, "internal_error", "internal server error");
}

// What sessions share. Owned by HttpServer::Impl, which destroys every session
// (by destroying the worker pool and the io_context) before this.
struct ServerContext {
  HttpServerOptions options;
  Handler handler;
  net::thread_pool* workers = nullptr;
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> handling{0};    // admitted, handler not yet returned
  std::atomic<std::size_t> unanswered{0};  // fully read, answer not yet written
  std::atomic<std::uint64_t> tls_handshake_failures{0};
  std::mutex mu;                           // pairs with `answered`; guards no data
  std::condition_variable answered;        // Stop() waits here for unanswered == 0

  void ReleaseAnswer() {
    if (unanswered.fetch_sub(1) == 1) {
      // Taking the lock orders this notify after Stop()'s predicate check, so
      // the wake-up cannot be lost.
      std::lock_guard<std::mutex> lock(mu);
      answered.notify_all();
    }
  }
};

// One connection, plain (beast::tcp_stream) or TLS (beast::ssl_stream over it).
// Lives on its own strand, so none of its members need locks: everything below
// runs on that strand except Handle(), which runs on the worker pool and touches
// only `ctx_` and `strand_`.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

 public:
  Session(tcp::socket&& socket, ServerContext& ctx)
    requires(!kTls)
      : strand_(socket.get_executor()), stream_(std::move(socket)), ctx_(ctx) {}
  Session(tcp::socket&& socket, ServerContext& ctx, std::shared_ptr<const TlsContext> tls)
    requires(kTls)
      : strand_(socket.get_executor()), stream_(std::move(socket), tls->ctx), ctx_(ctx), tls_(std::move(tls)) {}

  ~Session() {
    if (handling_) ctx_.handling.fetch_sub(1);
    if (answering_) ctx_.ReleaseAnswer();
  }

  void Run() {
    if constexpr (kTls) {
      net::dispatch(strand_, beast::bind_front_handler(&Session::DoHandshake, shared_from_this()));
    } else {
      net::dispatch(strand_, beast::bind_front_handler(&Session::DoRead, shared_from_this()));
    }
  }

 private:
  auto& Lowest() { return beast::get_lowest_layer(stream_); }

  void DoHandshake() {
    Lowest().expires_after(ctx_.options.read_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::OnHandshake, shared_from_this()));
  }

  void OnHandshake(beast::error_code ec) {
    if (ec) {
      ctx_.tls_handshake_failures.fetch_add(1);
      ERR_clear_error();
      return Drop(ec, "tls handshake");
    }
    DoRead();
  }

  void DoRead() {
    parser_.emplace();
    parser_->body_limit(ctx_.options.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(ctx_.options.max_header_bytes));
    Lowest().expires_after(ctx_.options.read_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t /*bytes*/) {
    if (ec == bhttp::error::end_of_stream) return Close();  // closed between requests
    if (ec == bhttp::error::body_limit) {
      return Reject(JsonError(
          413, "request_too_large",
          fmt::format("request body is larger than {} bytes", ctx_.options.max_body_bytes)));
    }
    if (ec == bhttp::error::header_limit) {
      return Reject(JsonError(
          431, "headers_too_large",
          fmt::format("request headers are larger than {} bytes", ctx_.options.max_header_bytes)));
    }
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
      return Reject(JsonError(400, "malformed_http", "malformed HTTP request: " + ec.message()));
    }
    if (ec) return Drop(ec, "read");  // timeout or reset: nobody left to answer

    BeastRequest req = parser_->release();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    // Count the request before looking at `stopping`: Stop() sets `stopping`
    // before reading `unanswered`, so either it waits for us or we see it.
    ctx_.unanswered.fetch_add(1);
    answering_ = true;
    if (ctx_.stopping.load()) {
      keep_alive_ = false;
      return Write(JsonError(503, "shutting_down", "the server is shutting down"));
    }
    if (ctx_.handling.fetch_add(1) >= ctx_.options.max_in_flight) {
      ctx_.handling.fetch_sub(1);
      HttpResponse res = JsonError(503, "overloaded", "too many requests in flight");
      res.headers.emplace_back("Retry-After", "1");
      return Write(std::move(res));
    }
    handling_ = true;
    // The handler may search an index or read disk. Run here, it would stall
    // every connection on this I/O thread (STYLE 2.6).
    net::post(*ctx_.workers, [self = shared_from_this(), req = std::move(req)]() mutable {
      self->Handle(std::move(req));
    });
  }

  // On the worker pool.
  void Handle(BeastRequest&& beast_req) {
    HttpResponse res;
    try {
      const HttpRequest req = ToHttpRequest(std::move(beast_req));
      res = CallHandler(ctx_.handler, req);
      spdlog::debug("http request method={} path={} status={}", req.method, req.path, res.status);
    } catch (const std::exception& e) {  // bad_alloc while converting the request
      spdlog::error("http request conversion failed what={}", e.what());
      res = JsonError(500, "internal_error", "internal server error");
    }
    net::post(strand_, [self = shared_from_this(), res = std::move(res)]() mutable {
      self->Write(std::move(res));
    });
  }

  void Reject(HttpResponse res) {
    version_ = 11;
    keep_alive_ = false;
    linger_ = true;
    Write(std::move(res));
  }

  void Write(HttpResponse res) {
    // The handler is done, so the request stops counting against max_in_flight
    // now, before its answer is sent: a client that has the answer can rely on
    // the slot being free.
    if (handling_) {
      handling_ = false;
      ctx_.handling.fetch_sub(1);
    }
    res_ = ToBeastResponse(std::move(res), version_, keep_alive_ && !ctx_.stopping.load());
    Lowest().expires_after(ctx_.options.write_timeout);
    bhttp::async_write(stream_, res_,
                      beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t /*bytes*/) {
    if (answering_) {
      answering_ = false;
      ctx_.ReleaseAnswer();
    }
    if (ec) return Drop(ec, "write");
    if (linger_) return Linger();
    if (res_.need_eof()) return Close();
    DoRead();
  }

  // Drains the raw socket (under TLS too: the bytes are discarded unread).
  void Linger() {
    beast::error_code ec;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return;
    buffer_.clear();
    // One deadline for the whole drain: every read below waits on the same expiry.
    Lowest().expires_after(
        std::min<std::chrono::milliseconds>(ctx_.options.read_timeout, kMaxLinger));
    DoDrain();
  }

  void DoDrain() {
    Lowest().async_read_some(buffer_.prepare(kDrainChunk),
                            beast::bind_front_handler(&Session::OnDrain, shared_from_this()));
  }

  void OnDrain(beast::error_code ec, std::size_t /*bytes*/) {
    if (!ec) DoDrain();  // otherwise EOF, timeout or reset: we are done either way
  }

  void Close() {
    if constexpr (kTls) {
      // close_notify, then the socket closes when this session is gone.
      Lowest().expires_after(ctx_.options.write_timeout);
      stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ec;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
      // The socket closes when the last handler holding this session is gone.
    }
  }

  void Drop(beast::error_code ec, const char* what) {
    spdlog::debug("http connection dropped during={} error={}", what, ec.message());
  }

  const net::any_io_executor strand_;  // copied once: Handle() must not touch stream_
  Stream stream_;
  ServerContext& ctx_;
  std::shared_ptr<const TlsContext> tls_;  // TLS: the certificate set this connection uses
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  BeastResponse res_;  // must outlive async_write
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool linger_ = false;
  bool handling_ = false;   // holds one unit of ctx_.handling
  bool answering_ = false;  // holds one unit of ctx_.unanswered
};

}  // namespace

std::string_view HttpRequest::Header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return {};
}

std::optional<std::string_view> HttpRequest::QueryParam(std::string_view name) const {
  for (const auto& [key, value] : query_params) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

HttpResponse JsonError(int status, std::string_view type, std::string_view reason) {
  // ordered_json keeps the documented key order: "error" then "status", "type" then "reason".
  nlohmann::ordered_json error;
  error["type"] = std::string(type);
  error["reason"] = std::string(reason);
  nlohmann::ordered_json body;
  body["error"] = std::move(error);
  body["status"] = status;
  HttpResponse res;
  res.status = status;
  res.content_type = "application/json";
  // `replace`: a reason quoting invalid UTF-8 from a request must not make dump() throw.
  res.body = body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  return res;
}

// Members are declared in teardown order reversed: the context outlives the
// io_context and the pool, whose destruction destroys the sessions that point
// into it; the pool goes before the io_context because its queued tasks hold
// sessions whose sockets belong to the io_context.
struct HttpServer::Impl {
  ServerContext ctx;
  std::uint16_t port = 0;
  std::optional<net::io_context> ioc;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
  std::optional<net::steady_timer> accept_retry;  // on the acceptor's strand
  std::optional<net::thread_pool> workers;
  std::unique_ptr<Reloading<TlsContext>> tls;  // null: plain HTTP
  std::vector<std::jthread> io_threads;
  std::mutex stop_mu;    // serialises Stop()
  bool stopped = false;  // guarded by stop_mu

  void DoAccept() {
    acceptor->async_accept(net::make_strand(*ioc),
                           beast::bind_front_handler(&Impl::OnAccept, this));
  }

  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (!acceptor->is_open()) return;  // Stop() closed it
    if (ec) {
      spdlog::warn("http accept failed error={}", ec.message());
      accept_retry->expires_after(kAcceptRetryDelay);
      accept_retry->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && acceptor->is_open()) DoAccept();
      });
      return;
    }
    if (!ctx.stopping.load()) {
      try {
        if (tls) {
          std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(std::move(socket), ctx, tls->current())
              ->Run();
        } else {
          std::make_shared<Session<beast::tcp_stream>>(std::move(socket), ctx)->Run();
        }
      } catch (const std::exception& e) {
        spdlog::error("http session setup failed what={}", e.what());
      }
    }
    DoAccept();
  }

  void RunIo() {
    // Nothing is meant to throw out of a handler (STYLE 2.3); if something does
    // anyway, losing one connection beats losing the thread.
    for (;;) {
      try {
        ioc->run();
        return;
      } catch (const std::exception& e) {
        spdlog::error("http io thread caught an exception what={}", e.what());
      }
    }
  }

  void Stop() {
    std::lock_guard<std::mutex> stop_lock(stop_mu);
    if (stopped) return;
    stopped = true;
    ctx.stopping.store(true);

    // The acceptor is not thread-safe: close it on its own strand.
    std::promise<void> closed;
    net::post(acceptor->get_executor(), [this, &closed] {
      beast::error_code ignored;
      acceptor->close(ignored);
      accept_retry->cancel();
      closed.set_value();
    });
    closed.get_future().wait();

    {
      std::unique_lock<std::mutex> lock(ctx.mu);
      if (!ctx.answered.wait_for(lock, ctx.options.shutdown_grace,
                                 [this] { return ctx.unanswered.load() == 0; })) {
        spdlog::warn("http stop grace expired unanswered={}", ctx.unanswered.load());
      }
    }

    work.reset();
    ioc->stop();
    for (std::jthread& thread : io_threads) thread.join();
    io_threads.clear();
    workers->stop();
    workers->join();  // a handler still running is waited for; we cannot abandon it
    // Destroying these destroys the sessions they still hold, closing every connection.
    workers.reset();
    accept_retry.reset();
    acceptor.reset();
    ioc.reset();
    spdlog::info("http stopped port={}", port);
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

std::uint16_t HttpServer::port() const { return impl_->port; }

bool HttpServer::tls() const { return impl_->tls != nullptr; }

std::uint64_t HttpServer::tls_handshake_failures() const { return impl_->ctx.tls_handshake_failures.load(); }

void HttpServer::Stop() { impl_->Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      Handler handler) {
  if (!handler) return Status::InvalidArgument("http server: handler is empty");
  if (options.io_threads < 1 || options.worker_threads < 1 || options.max_in_flight < 1) {
    return Status::InvalidArgument(
        "http server: io_threads, worker_threads and max_in_flight must be at least 1");
  }
  if (options.max_header_bytes < 1 ||
      options.max_header_bytes > std::numeric_limits<std::uint32_t>::max()) {
    return Status::InvalidArgument("http server: max_header_bytes out of range");
  }
  if (options.read_timeout.count() <= 0 || options.write_timeout.count() <= 0 ||
      options.shutdown_grace.count() < 0) {
    return Status::InvalidArgument("http server: timeouts must be positive");
  }
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(options.address, ec);
  if (ec) {
    return Status::InvalidArgument(
        fmt::format("http server: bad address '{}': {}", options.address, ec.message()));
  }
  const tcp::endpoint endpoint(address, options.port);
  const std::string where = address.is_v6() ? fmt::format("[{}]:{}", options.address, options.port)
                                            : fmt::format("{}:{}", options.address, options.port);

  auto impl = std::make_unique<Impl>();
  impl->ctx.options = options;
  impl->ctx.handler = std::move(handler);
  if (!options.tls.cert_file.empty()) {
    if (options.tls.key_file.empty()) return Status::InvalidArgument("http server: TLS needs a key file too");
    const HttpTlsOptions tls = options.tls;
    if (tls.reload_interval.count() <= 0) return Status::InvalidArgument("http server: TLS reload interval must be positive");
    Result<std::unique_ptr<Reloading<TlsContext>>> loaded = Reloading<TlsContext>::Start(
        "TLS certificate", {tls.cert_file, tls.key_file, tls.client_ca_file}, [tls] { return LoadTlsContext(tls); },
        tls.reload_interval, tls.on_reload);
    if (!loaded) return loaded.status().WithContext("http server");
    impl->tls = std::move(*loaded);
  }
  try {
    impl->ioc.emplace(options.io_threads);
    impl->acceptor.emplace(net::make_strand(*impl->ioc));
    impl->accept_retry.emplace(impl->acceptor->get_executor());
    tcp::acceptor& acceptor = *impl->acceptor;
    const char* step = "open";
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
      // Lets a restarted daemon bind while old connections sit in TIME_WAIT.
      // Linux still refuses a second listener on the same port.
      step = "bind";
      acceptor.set_option(net::socket_base::reuse_address(true), ec);
    }
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) {
      step = "listen";
      acceptor.listen(net::socket_base::max_listen_connections, ec);
    }
    if (ec) {
      return Status::Unavailable(
          fmt::format("http server: {} {} failed: {}", step, where, ec.message()));
    }
    impl->port = acceptor.local_endpoint().port();

    impl->workers.emplace(static_cast<std::size_t>(options.worker_threads));
    impl->ctx.workers = &*impl->workers;
    impl->work.emplace(impl->ioc->get_executor());
    impl->DoAccept();
    for (int i = 0; i < options.io_threads; ++i) {
      impl->io_threads.emplace_back([raw = impl.get()] { raw->RunIo(); });
    }
  } catch (const std::exception& e) {
    // Only thread creation or allocation can get here. Stop the io_context so
    // the threads already started return and ~Impl can join them.
    impl->work.reset();
    if (impl->ioc) impl->ioc->stop();
    return Status::Internal(fmt::format("http server: starting on {}: {}", where, e.what()));
  }
  spdlog::info("http listening address={} port={} io_threads={} worker_threads={} tls={}{}", options.address,
               impl->port, options.io_threads, options.worker_threads, impl->tls ? "on" : "off",
               options.tls.client_ca_file.empty() ? "" : " client_certificates=required");
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

}  // namespace tide::http
