#include "common/http/http_server.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tide::http {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;
using std::chrono::steady_clock;

// Upper bound for anything the tests wait on. Only a broken server reaches it.
constexpr std::chrono::seconds kDeadline{10};

// A blocking HTTP/1.1 client. Each call runs async operations on a private
// io_context under a deadline, so a server bug fails the test instead of hanging it.
class TestClient {
 public:
  explicit TestClient(std::uint16_t port) : stream_(ioc_) {
    connect_error_ = RunOp([&](auto done) {
      stream_.async_connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), done);
    });
  }

  beast::error_code connect_error() const { return connect_error_; }

  beast::error_code Send(Request req) {
    req.prepare_payload();
    return RunOp([&](auto done) { bhttp::async_write(stream_, req, done); });
  }

  beast::error_code SendRaw(const std::string& bytes) {
    return RunOp([&](auto done) { net::async_write(stream_, net::buffer(bytes), done); });
  }

  beast::error_code Read(Response* res) {
    return RunOp([&](auto done) { bhttp::async_read(stream_, buffer_, *res, done); });
  }

  // Send + Read; a transport error fails the test and yields an empty response.
  Response RoundTrip(Request req) {
    Response res;
    beast::error_code ec = Send(std::move(req));
    EXPECT_FALSE(ec) << "send: " << ec.message();
    if (!ec) {
      ec = Read(&res);
      EXPECT_FALSE(ec) << "read: " << ec.message();
    }
    return res;
  }

 private:
  template <typename Start>
  beast::error_code RunOp(Start start) {
    beast::error_code result;
    stream_.expires_after(kDeadline);
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  net::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  beast::error_code connect_error_;
};

Request Get(std::string target) {
  Request req{bhttp::verb::get, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  return req;
}

Request Post(std::string target, std::string body) {
  Request req{bhttp::verb::post, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  req.set(bhttp::field::content_type, "application/octet-stream");
  req.body() = std::move(body);
  return req;
}

std::string HeaderOf(const Response& res, beast::string_view name) {
  return std::string(res[name]);
}

// Checks that `res` is the JSON error body JsonError() documents.
void ExpectJsonError(const Response& res, int status, const std::string& type) {
  EXPECT_EQ(res.result_int(), static_cast<unsigned>(status));
  EXPECT_EQ(HeaderOf(res, "Content-Type"), "application/json");
  nlohmann::json body = nlohmann::json::parse(res.body(), nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(body.is_object()) << res.body();
  EXPECT_EQ(body["error"]["type"], type) << res.body();
  EXPECT_TRUE(body["error"]["reason"].is_string()) << res.body();
  EXPECT_EQ(body["status"], status) << res.body();
}

HttpResponse Ok(std::string body) {
  HttpResponse res;
  res.body = std::move(body);
  return res;
}

// Holds handlers inside the server until the test opens it. Shared with the
// handler by shared_ptr, because a handler may still be returning from Pass()
// when the test's reference goes away.
class Gate {
 public:
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++arrived_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  bool WaitForArrivals(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return arrived_ >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  bool open_ = false;
};

// Declared after the server, so a failing test opens the gate before the
// server's destructor waits for the blocked handler.
struct OpenOnExit {
  std::shared_ptr<Gate> gate;
  ~OpenOnExit() { gate->Open(); }
};

std::unique_ptr<HttpServer> StartOrDie(const HttpServerOptions& options, Handler handler) {
  Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, std::move(handler));
  if (!server.ok()) {
    ADD_FAILURE() << server.status().ToString();
    return nullptr;
  }
  return *std::move(server);
}

// Polls `done` until it holds or kDeadline passes.
bool Eventually(const std::function<bool()>& done) {
  const auto deadline = steady_clock::now() + kDeadline;
  while (steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::yield();
  }
  return done();
}

TEST(JsonErrorTest, BuildsElasticsearchStyleBody) {
  const HttpResponse res = JsonError(400, "bad_query", "unexpected \"}\" at 3");
  EXPECT_EQ(res.status, 400);
  EXPECT_EQ(res.content_type, "application/json");
  EXPECT_EQ(res.body,
            R"({"error":{"type":"bad_query","reason":"unexpected \"}\" at 3"},"status":400})");
}

TEST(JsonErrorTest, ReplacesInvalidUtf8InsteadOfThrowing) {
  const HttpResponse res = JsonError(400, "bad_query", std::string("bad \xff byte"));
  EXPECT_EQ(nlohmann::json::parse(res.body)["error"]["reason"], "bad \xEF\xBF\xBD byte");
}

TEST(HttpServerTest, StartRejectsBadOptions) {
  HttpServerOptions options;
  options.worker_threads = 0;
  Result<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(options, [](const HttpRequest&) { return Ok(""); });
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), Status::Code::kInvalidArgument);
}

TEST(HttpServerTest, BindFailureIsUnavailableAndNamesTheAddress) {
  std::unique_ptr<HttpServer> first = StartOrDie({}, [](const HttpRequest&) { return Ok(""); });
  ASSERT_NE(first, nullptr);
  HttpServerOptions options;
  options.port = first->port();
  Result<std::unique_ptr<HttpServer>> second =
      HttpServer::Start(options, [](const HttpRequest&) { return Ok(""); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(second.status().message().find("127.0.0.1:" + std::to_string(first->port())),
            std::string::npos)
      << second.status().message();
}

TEST(HttpServerTest, GetReachesHandlerWithPathAndDecodedQuery) {
  std::mutex mu;
  HttpRequest seen;  // guarded by mu
  std::unique_ptr<HttpServer> server = StartOrDie({}, [&](const HttpRequest& req) {
    std::lock_guard<std::mutex> lock(mu);
    seen = req;
    return Ok(R"({"ok":true})");
  });
  ASSERT_NE(server, nullptr);

  TestClient client(server->port());
  ASSERT_FALSE(client.connect_error()) << client.connect_error().message();
  // text = "한국어 검색", with '+' for the space.
  Request req =
      Get("/v1/analyze?text=%ED%95%9C%EA%B5%AD%EC%96%B4+%EA%B2%80%EC%83%89&lang=ko"
          "&empty=&flag&bad=%G1");
  req.set("X-Trace-Id", "abc-123");
  const Response res = client.RoundTrip(req);

  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), R"({"ok":true})");
  EXPECT_EQ(HeaderOf(res, "Server"), "tidesearch");
  EXPECT_EQ(HeaderOf(res, "Content-Type"), "application/json");

  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/v1/analyze");
  EXPECT_EQ(seen.target.rfind("/v1/analyze?text=%ED%95%9C", 0), 0u) << seen.target;
  EXPECT_EQ(seen.QueryParam("text"), "한국어 검색");
  EXPECT_EQ(seen.QueryParam("lang"), "ko");
  EXPECT_EQ(seen.QueryParam("empty"), "");
  EXPECT_EQ(seen.QueryParam("flag"), "");
  EXPECT_EQ(seen.QueryParam("bad"), "%G1");
  EXPECT_EQ(seen.QueryParam("missing"), std::nullopt);
  EXPECT_EQ(seen.Header("x-trace-id"), "abc-123");
  EXPECT_EQ(seen.Header("host"), "127.0.0.1");
  EXPECT_EQ(seen.Header("absent"), "");
}

TEST(HttpServerTest, PostBodyRoundTrips) {
  std::unique_ptr<HttpServer> server = StartOrDie({}, [](const HttpRequest& req) {
    HttpResponse res = Ok(req.method + " " + req.body);
    res.content_type = "text/plain; charset=utf-8";
    res.headers.emplace_back("X-Body-Bytes", std::to_string(req.body.size()));
    return res;
  });
  ASSERT_NE(server, nullptr);

  const std::string body = std::string("한국어 본문 with \"quotes\", a NUL \0 and more", 48);
  TestClient client(server->port());
  const Response res = client.RoundTrip(Post("/v1/documents", body));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "POST " + body);
  EXPECT_EQ(HeaderOf(res, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(HeaderOf(res, "X-Body-Bytes"), std::to_string(body.size()));
}

TEST(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  std::atomic<int> calls{0};
  std::unique_ptr<HttpServer> server = StartOrDie(
      {}, [&](const HttpRequest& req) { return Ok(req.path + " #" + std::to_string(++calls)); });
  ASSERT_NE(server, nullptr);

  TestClient client(server->port());
  const Response first = client.RoundTrip(Get("/one"));
  EXPECT_EQ(first.body(), "/one #1");
  EXPECT_TRUE(first.keep_alive());
  const Response second = client.RoundTrip(Get("/two"));
  EXPECT_EQ(second.body(), "/two #2");
  EXPECT_TRUE(second.keep_alive());
}

TEST(HttpServerTest, OversizeBodyIs413AndClosesTheConnection) {
  std::atomic<int> calls{0};
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  std::unique_ptr<HttpServer> server = StartOrDie(options, [&](const HttpRequest&) {
    ++calls;
    return Ok("");
  });
  ASSERT_NE(server, nullptr);

  TestClient client(server->port());
  const Response res = client.RoundTrip(Post("/v1/documents", std::string(64 << 10, 'x')));
  ExpectJsonError(res, 413, "request_too_large");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(calls.load(), 0);

  // A body exactly at the limit is fine.
  TestClient at_limit(server->port());
  EXPECT_EQ(at_limit.RoundTrip(Post("/v1/documents", std::string(1024, 'x'))).result_int(), 200u);
}

// The client is still uploading when the server answers. Closing at once would
// reset the connection under the client's write; the server drains instead, so
// the client finishes sending and then reads its 413.
TEST(HttpServerTest, ClientStillUploadingGetsThe413) {
  HttpServerOptions options;
  options.max_body_bytes = 1024;
  std::unique_ptr<HttpServer> server =
      StartOrDie(options, [](const HttpRequest&) { return Ok(""); });
  ASSERT_NE(server, nullptr);

  TestClient client(server->port());
  const Response res = client.RoundTrip(Post("/v1/documents", std::string(8 << 20, 'x')));
  ExpectJsonError(res, 413, "request_too_large");
}

TEST(HttpServerTest, HugeHeadersAre431) {
  std::unique_ptr<HttpServer> server = StartOrDie({}, [](const HttpRequest&) { return Ok(""); });
  ASSERT_NE(server, nullptr);

  TestClient client(server->port());
  Request req = Get("/");
  req.set("X-Big", std::string(32 << 10, 'a'));
  const Response res = client.RoundTrip(req);
  ExpectJsonError(res, 431, "headers_too_large");
  EXPECT_FALSE(res.keep_alive());
}

TEST(HttpServerTest, GarbageIs400) {
  std::unique_ptr<HttpServer> server = StartOrDie({}, [](const HttpRequest&) { return Ok(""); });
  ASSERT_NE(server, nullptr);

  TestClient client(server->port());
  // Roughly what a TLS ClientHello looks like to a plain-HTTP server.
  ASSERT_FALSE(client.SendRaw(std::string("\x16\x03\x01\x02\x00 \x01\xfc\r\n\r\n", 13)));
  Response res;
  ASSERT_FALSE(client.Read(&res));
  ExpectJsonError(res, 400, "malformed_http");
  EXPECT_FALSE(res.keep_alive());
}

TEST(HttpServerTest, IdleConnectionIsClosedAfterReadTimeout) {
  HttpServerOptions options;
  options.read_timeout = std::chrono::milliseconds(100);
  std::unique_ptr<HttpServer> server =
      StartOrDie(options, [](const HttpRequest&) { return Ok(""); });
  ASSERT_NE(server, nullptr);

  TestClient client(server->port());
  ASSERT_FALSE(client.connect_error());
  Response res;
  // The server closes without answering; the client sees the end of the stream
  // well before its own 10 s deadline (which would report `timeout`).
  const beast::error_code ec = client.Read(&res);
  EXPECT_EQ(ec, bhttp::error::end_of_stream) << ec.message();
}

TEST(HttpServerTest, OverloadAnswers503WithRetryAfterWithoutQueueing) {
  auto gate = std::make_shared<Gate>();
  HttpServerOptions options;
  options.max_in_flight = 1;
  options.worker_threads = 2;
  std::unique_ptr<HttpServer> server = StartOrDie(options, [gate](const HttpRequest& req) {
    if (req.path == "/block") gate->Pass();
    return Ok(req.path);
  });
  ASSERT_NE(server, nullptr);
  OpenOnExit open_on_exit{gate};

  TestClient blocked(server->port());
  ASSERT_FALSE(blocked.Send(Get("/block")));
  ASSERT_TRUE(gate->WaitForArrivals(1));

  TestClient other(server->port());
  const Response rejected = other.RoundTrip(Get("/fast"));
  ExpectJsonError(rejected, 503, "overloaded");
  EXPECT_EQ(HeaderOf(rejected, "Retry-After"), "1");
  EXPECT_TRUE(rejected.keep_alive());

  gate->Open();
  Response res;
  ASSERT_FALSE(blocked.Read(&res));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "/block");
  // The slot is free once the blocked request is answered; same connection as the 503.
  const Response accepted = other.RoundTrip(Get("/fast"));
  EXPECT_EQ(accepted.result_int(), 200u);
  EXPECT_EQ(accepted.body(), "/fast");
}

TEST(HttpServerTest, ThrowingHandlerGets500AndServerKeepsServing) {
  std::unique_ptr<HttpServer> server = StartOrDie({}, [](const HttpRequest& req) {
    if (req.path == "/throw") throw std::runtime_error("secret internal detail");
    if (req.path == "/throw-int") throw 42;
    return Ok("fine");
  });
  ASSERT_NE(server, nullptr);

  TestClient client(server->port());
  const Response failed = client.RoundTrip(Get("/throw"));
  ExpectJsonError(failed, 500, "internal_error");
  EXPECT_EQ(failed.body().find("secret"), std::string::npos) << failed.body();
  ExpectJsonError(client.RoundTrip(Get("/throw-int")), 500, "internal_error");
  EXPECT_EQ(client.RoundTrip(Get("/ok")).body(), "fine");

  TestClient fresh(server->port());
  EXPECT_EQ(fresh.RoundTrip(Get("/ok")).body(), "fine");
}

TEST(HttpServerTest, MalformedHandlerResponseBecomes500) {
  std::unique_ptr<HttpServer> server = StartOrDie({}, [](const HttpRequest& req) {
    HttpResponse res = Ok("");
    if (req.path == "/split") res.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: x=1");
    if (req.path == "/status") res.status = 1000;
    return res;
  });
  ASSERT_NE(server, nullptr);

  TestClient client(server->port());
  const Response split = client.RoundTrip(Get("/split"));
  ExpectJsonError(split, 500, "internal_error");
  EXPECT_EQ(HeaderOf(split, "Set-Cookie"), "");
  ExpectJsonError(client.RoundTrip(Get("/status")), 500, "internal_error");
}

TEST(HttpServerTest, StopLetsTheInFlightRequestFinish) {
  auto gate = std::make_shared<Gate>();
  HttpServerOptions options;
  options.shutdown_grace = std::chrono::seconds(30);  // far beyond the test's own deadline
  std::unique_ptr<HttpServer> server = StartOrDie(options, [gate](const HttpRequest& req) {
    if (req.path == "/block") gate->Pass();
    return Ok(req.path);
  });
  ASSERT_NE(server, nullptr);
  OpenOnExit open_on_exit{gate};
  const std::uint16_t port = server->port();

  TestClient idle(port);  // a keep-alive connection open before Stop()
  EXPECT_EQ(idle.RoundTrip(Get("/warmup")).result_int(), 200u);

  TestClient in_flight(port);
  ASSERT_FALSE(in_flight.Send(Get("/block")));
  ASSERT_TRUE(gate->WaitForArrivals(1));

  std::atomic<bool> stop_returned{false};
  std::thread stopper([&] {
    server->Stop();
    stop_returned = true;
  });
  struct JoinOnExit {
    std::thread& thread;
    ~JoinOnExit() { thread.join(); }
  } join_on_exit{stopper};

  // Stop() has closed the listener once new connections are refused.
  EXPECT_TRUE(Eventually([port] { return TestClient(port).connect_error().failed(); }));
  EXPECT_FALSE(stop_returned.load());

  // A request on a connection that was already open is turned away, not dropped.
  const Response late = idle.RoundTrip(Get("/late"));
  ExpectJsonError(late, 503, "shutting_down");
  EXPECT_FALSE(late.keep_alive());

  gate->Open();
  Response res;
  ASSERT_FALSE(in_flight.Read(&res));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "/block");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(Eventually([&] { return stop_returned.load(); }));
}

}  // namespace
}  // namespace tide::http
