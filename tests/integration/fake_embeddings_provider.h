#pragma once

// The fake OpenAI-compatible embeddings provider the OpenAiEmbedder tests run against: a real
// HTTP server on port 0 that answers POST /v1/embeddings as the provider does (vectors out of
// order, "index" saying where each goes), records every request, and lets a test answer as it
// likes (errors, malformed bodies, stalls).

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/embedding/openai_embedder.h"
#include "common/http/http_server.h"
#include "common/status.h"

namespace tide::embedding::fake_provider {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

inline constexpr int kDim = 8;
// Upper bound for anything the tests wait on. Only a broken embedder reaches it.
inline constexpr std::chrono::seconds kDeadline{10};

// What the fake provider returns for a text: deterministic and deliberately not unit length.
inline std::vector<float> RawVector(const std::string& text, int dim = kDim) {
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : text) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  std::vector<float> v(dim);
  for (int k = 0; k < dim; ++k) {
    v[k] = static_cast<float>((h >> (k * 7 % 57)) % 17 + 1) * (k % 3 == 0 ? -1.0f : 1.0f);
  }
  return v;
}

inline std::vector<float> UnitVector(const std::string& text) {
  std::vector<float> v = RawVector(text);
  double norm = 0;
  for (float x : v) norm += static_cast<double>(x) * x;
  for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

// An OpenAI-style answer for `inputs`, with the "data" elements in a shuffled order so the
// embedder must sort by "index".
inline http::HttpResponse Embeddings(const std::vector<std::string>& inputs, int dim = kDim) {
  Json data = Json::array();
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    data.push_back(
        {{"object", "embedding"}, {"index", i}, {"embedding", RawVector(inputs[i], dim)}});
  }
  std::shuffle(data.begin(), data.end(), std::mt19937(42));
  http::HttpResponse res;
  res.body = Json{{"object", "list"}, {"data", data}, {"model", "test-model"}}.dump();
  return res;
}

inline std::vector<std::string> Inputs(const Json& body) {
  return body.at("input").get<std::vector<std::string>>();
}

inline http::HttpResponse Normal(const Json& body, int /*call*/) { return Embeddings(Inputs(body)); }

inline http::HttpResponse Answer(int status, std::string body) {
  http::HttpResponse res;
  res.status = status;
  res.body = std::move(body);
  return res;
}

struct Seen {
  Json body;
  bool has_authorization = false;
  std::string authorization;
};

class OpenAiEmbedderTest : public ::testing::Test {
 protected:
  // Answers POST /v1/embeddings; `call` counts requests from 1.
  using Responder = std::function<http::HttpResponse(const Json& body, int call)>;

  void TearDown() override { StopServer(); }

  void StopServer() {
    if (server_ == nullptr) return;
    release_.set_value();  // unblocks the timeout test's handlers, or Stop() would wait for them
    server_.reset();
  }

  void Serve(Responder responder) {
    http::HttpServerOptions options;
    options.io_threads = 2;
    options.worker_threads = 8;
    Result<std::unique_ptr<http::HttpServer>> server = http::HttpServer::Start(
        options,
        [this, responder](const http::HttpRequest& req) { return Handle(req, responder); });
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }

  OpenAiEmbedder::Options BaseOptions() const {
    OpenAiEmbedder::Options options;
    options.base_url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/v1";
    options.model = "test-model";
    options.dimension = kDim;
    options.timeout = kDeadline;
    options.initial_backoff = milliseconds(1);
    options.max_backoff = milliseconds(5);
    return options;
  }

  std::unique_ptr<OpenAiEmbedder> Make(OpenAiEmbedder::Options options) {
    Result<std::unique_ptr<OpenAiEmbedder>> embedder = OpenAiEmbedder::Create(std::move(options));
    EXPECT_TRUE(embedder.ok()) << embedder.status().ToString();
    return embedder.ok() ? std::move(*embedder) : nullptr;
  }

  int calls() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(seen_.size());
  }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  int max_in_flight() const {
    std::lock_guard lock(mu_);
    return max_in_flight_;
  }

  // When set before Serve(), each handler waits (up to kDeadline) until two requests are in
  // flight at once, so concurrency is observed without depending on timing.
  bool rendezvous_ = false;
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();

 private:
  http::HttpResponse Handle(const http::HttpRequest& req, const Responder& responder) {
    if (req.method != "POST" || req.path != "/v1/embeddings") {
      return http::JsonError(404, "not_found", "no route " + req.method + " " + req.path);
    }
    Seen s;
    s.body = Json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    s.authorization = std::string(req.Header("authorization"));
    s.has_authorization = std::any_of(req.headers.begin(), req.headers.end(),
                                      [](const auto& h) { return h.first == "authorization"; });
    if (!s.body.is_object() || !s.body.contains("input")) {
      return http::JsonError(400, "bad_request", "not an embeddings request");
    }
    int call = 0;
    {
      std::unique_lock lock(mu_);
      seen_.push_back(s);
      call = static_cast<int>(seen_.size());
      max_in_flight_ = std::max(max_in_flight_, ++in_flight_);
      cv_.notify_all();
      if (rendezvous_) cv_.wait_for(lock, kDeadline, [this] { return max_in_flight_ >= 2; });
    }
    http::HttpResponse res = responder(s.body, call);
    std::lock_guard lock(mu_);
    --in_flight_;
    return res;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
  int max_in_flight_ = 0;
  std::vector<Seen> seen_;
  std::unique_ptr<http::HttpServer> server_;
};

}  // namespace tide::embedding::fake_provider
