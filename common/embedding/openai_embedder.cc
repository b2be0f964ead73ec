#include "common/embedding/openai_embedder.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <exception>
#include <random>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace tide::embedding {
namespace {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

constexpr int kMaxConcurrency = 64;
// Response bodies are JSON floats, about 20 bytes each; pretty-printing providers use more.
constexpr std::size_t kResponseBytesPerFloat = 64;
constexpr std::size_t kResponseOverheadBytes = 1 << 20;
// How much of a provider's error body goes into our messages.
constexpr std::size_t kSnippetBytes = 300;
// Sent when a single text is rejected, to tell a bad input from a bad configuration.
constexpr std::string_view kProbeText = "probe";

// Starts one async operation on a private io_context and runs it to completion. tcp_stream's
// expiry only applies to asynchronous operations, hence async calls driven synchronously.
template <typename Start>
beast::error_code RunOp(net::io_context& ioc, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

bool IsPort(std::string_view s) {
  int port = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), port);
  return ec == std::errc() && end == s.data() + s.size() && port >= 1 && port <= 65535;
}

// Splits "http://host[:port][/path][?query]" into the parts a request needs.
Status ParseBaseUrl(const std::string& url, std::string* host, std::string* port,
                    std::string* host_header, std::string* target) {
  constexpr std::string_view kScheme = "http://";
  const std::string what = "embedder.base_url '" + url + "': ";
  if (url.starts_with("https://")) {
    return Status::InvalidArgument(what + "TLS endpoints need a local proxy (not supported yet)");
  }
  if (!url.starts_with(kScheme)) return Status::InvalidArgument(what + "must start with http://");
  const std::string rest = url.substr(kScheme.size());
  const std::size_t path_start = std::min(rest.find_first_of("/?"), rest.size());
  const std::string authority = rest.substr(0, path_start);
  std::string path = rest.substr(path_start);
  std::string query;
  if (std::size_t q = path.find('?'); q != std::string::npos) {
    query = path.substr(q);
    path.resize(q);
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  if (authority.empty()) return Status::InvalidArgument(what + "no host");
  if (authority.find('@') != std::string::npos) {
    return Status::InvalidArgument(
        what + "credentials do not belong in the URL; use embedder.api_key_env");
  }
  std::string port_part;
  if (authority.front() == '[') {  // IPv6 literal
    const std::size_t close = authority.find(']');
    if (close == std::string::npos) return Status::InvalidArgument(what + "unclosed '['");
    *host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return Status::InvalidArgument(what + "bad port");
    port_part = after.empty() ? "" : after.substr(1);
  } else {
    const std::size_t colon = authority.rfind(':');
    *host = authority.substr(0, colon);
    port_part = colon == std::string::npos ? "" : authority.substr(colon + 1);
  }
  if (host->empty()) return Status::InvalidArgument(what + "no host");
  *port = port_part.empty() ? "80" : port_part;
  if (!IsPort(*port)) return Status::InvalidArgument(what + "bad port '" + *port + "'");
  *host_header = authority;
  *target = path + "/embeddings" + query;
  return Status();
}

// The start of a provider's body for an error message: one line, bounded, key redacted.
std::string Snippet(std::string_view body, const std::string& api_key) {
  std::string s(body);
  if (!api_key.empty()) {  // before truncating, so no prefix of the key survives the cut
    for (std::size_t at = s.find(api_key); at != std::string::npos; at = s.find(api_key, at)) {
      s.replace(at, api_key.size(), "<redacted>");
    }
  }
  if (s.size() > kSnippetBytes) {
    std::size_t cut = kSnippetBytes;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
    s.resize(cut);
    s += "...";
  }
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return s;
}

// Checks a 2xx body and fills *out with n unit vectors in input order. Returns what was
// wrong, or "" on success.
std::string ParseEmbeddings(const std::string& body, std::size_t n, int dimension,
                            std::vector<float>* out) {
  const Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return "the response is not JSON";
  if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) {
    return "the response has no \"data\" array";
  }
  const auto dim = static_cast<std::size_t>(dimension);
  out->assign(n * dim, 0.0f);
  std::vector<bool> seen(n, false);
  for (const Json& item : j["data"]) {
    if (!item.is_object()) return "an element of \"data\" is not an object";
    const auto index = item.find("index");
    if (index == item.end() || !index->is_number_integer()) {
      return "an element of \"data\" has no integer \"index\"";
    }
    const auto i = index->get<std::int64_t>();
    if (i < 0 || static_cast<std::size_t>(i) >= n) {
      return "index " + std::to_string(i) + " is out of range for " + std::to_string(n) + " inputs";
    }
    if (seen[i]) return "index " + std::to_string(i) + " appears twice";
    seen[i] = true;
    const auto embedding = item.find("embedding");
    if (embedding == item.end() || !embedding->is_array()) {
      return "index " + std::to_string(i) + " has no \"embedding\" array of floats";
    }
    if (embedding->size() != dim) {
      return "index " + std::to_string(i) + " has dimension " + std::to_string(embedding->size()) +
             ", expected " + std::to_string(dim) +
             " (check embedder.dimension and embedder.send_dimensions)";
    }
    float* v = out->data() + i * dim;
    double norm = 0;
    for (std::size_t k = 0; k < dim; ++k) {
      const Json& x = (*embedding)[k];
      if (!x.is_number() || !std::isfinite(x.get<double>())) {
        return "index " + std::to_string(i) + " has a value that is not a finite number";
      }
      v[k] = x.get<float>();
      norm += static_cast<double>(v[k]) * v[k];
    }
    // A zero vector stays zero ("no signal"), as HashEmbedder's are for texts without words.
    if (norm > 0) {
      const auto scale = static_cast<float>(1.0 / std::sqrt(norm));
      for (std::size_t k = 0; k < dim; ++k) v[k] *= scale;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (!seen[i]) return "index " + std::to_string(i) + " is missing";
  }
  return "";
}

std::chrono::milliseconds RetryAfter(std::string_view value) {
  int seconds = 0;  // the HTTP-date form is rare for APIs and ignored
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || seconds < 0) return {};
  return std::chrono::seconds(std::min(seconds, 3600));
}

}  // namespace

struct OpenAiEmbedder::Reply {
  enum class Kind {
    kOk,
    kTransient,  // worth retrying soon: transport errors, 408, 429, 5xx
    kRejected,   // 400, 413, 422: the provider refuses this input
    kFailed,     // retrying soon will not help, but the event is not to blame
    kAbandoned,  // another batch of the same call failed first
  };
  static Reply Error(Kind kind, std::string error) {
    Reply reply;
    reply.kind = kind;
    reply.error = std::move(error);
    return reply;
  }

  Kind kind = Kind::kOk;
  std::string error;
  std::chrono::milliseconds retry_after{0};
  std::vector<float> vectors;  // kOk: one unit vector per text
};

Result<std::unique_ptr<OpenAiEmbedder>> OpenAiEmbedder::Create(Options options) {
  if (options.model.empty()) return Status::InvalidArgument("embedder.model is required");
  if (options.dimension <= 0) return Status::InvalidArgument("embedder.dimension must be positive");
  if (options.batch_size < 1) {
    return Status::InvalidArgument("embedder.batch_size must be at least 1");
  }
  if (options.concurrency < 1 || options.concurrency > kMaxConcurrency) {
    return Status::InvalidArgument("embedder.concurrency must be in [1, 64]");
  }
  if (options.timeout.count() <= 0) {
    return Status::InvalidArgument("embedder.timeout_ms must be positive");
  }
  if (options.max_attempts < 1) {
    return Status::InvalidArgument("embedder.max_attempts must be at least 1");
  }
  if (std::any_of(options.api_key.begin(), options.api_key.end(),
                  [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return Status::InvalidArgument("the embedder API key contains control characters");
  }
  if (options.initial_backoff.count() < 0 || options.max_backoff < options.initial_backoff) {
    return Status::InvalidArgument("embedder backoff must satisfy 0 <= initial <= max");
  }
  std::unique_ptr<OpenAiEmbedder> embedder(new OpenAiEmbedder(std::move(options)));
  TIDE_RETURN_IF_ERROR(ParseBaseUrl(embedder->options_.base_url, &embedder->host_, &embedder->port_,
                                    &embedder->host_header_, &embedder->target_));
  const Options& o = embedder->options_;
  spdlog::info(
      "embedder: OpenAI-compatible POST http://{}{} model={} dimension={} send_dimensions={} "
      "batch_size={} concurrency={} timeout={}ms max_attempts={} api_key={}",
      embedder->host_header_, embedder->target_, o.model, o.dimension, o.send_dimensions,
      o.batch_size, o.concurrency, o.timeout.count(), o.max_attempts,
      o.api_key.empty() ? "none" : "set");
  return embedder;
}

OpenAiEmbedder::OpenAiEmbedder(Options options)
    : options_(std::move(options)),
      model_id_("openai:" + options_.model + ":d" + std::to_string(options_.dimension)) {}

Status OpenAiEmbedder::Embed(const std::vector<std::string>& texts, std::vector<float>* out) {
  assert(out != nullptr);
  if (texts.empty()) return Status();
  const std::size_t batch = options_.batch_size;
  const std::size_t batches = (texts.size() + batch - 1) / batch;
  std::vector<std::vector<float>> parts(batches);
  std::vector<Status> failures(batches);  // each written only by the thread that ran the batch
  std::atomic<std::size_t> next{0};
  std::atomic<bool> abandon{false};
  auto work = [&] {
    while (!abandon.load()) {
      const std::size_t b = next.fetch_add(1);
      if (b >= batches) return;
      const std::size_t begin = b * batch;
      Status s =
          EmbedRange(texts, begin, std::min(begin + batch, texts.size()), abandon, &parts[b]);
      if (!s.ok()) {
        failures[b] = std::move(s);
        abandon.store(true);
      }
    }
  };
  {
    // The calling thread is one of the workers; helpers are joined at the end of this scope.
    std::vector<std::jthread> helpers;
    const std::size_t wanted = std::min<std::size_t>(options_.concurrency, batches) - 1;
    try {
      while (helpers.size() < wanted) helpers.emplace_back(work);
    } catch (const std::system_error& e) {
      // Out of threads: fewer requests in flight is slower, not wrong.
      spdlog::warn("embedder: could only start {} of {} helper threads: {}", helpers.size(), wanted,
                   e.what());
    }
    work();
  }
  for (Status& s : failures) {
    if (!s.ok()) return std::move(s);
  }
  assert(!abandon.load());
  out->reserve(out->size() + texts.size() * static_cast<std::size_t>(options_.dimension));
  for (const std::vector<float>& part : parts) out->insert(out->end(), part.begin(), part.end());
  return Status();
}

Status OpenAiEmbedder::EmbedRange(const std::vector<std::string>& texts, std::size_t begin,
                                  std::size_t end, const std::atomic<bool>& abandon,
                                  std::vector<float>* out) const {
  Reply reply = PostWithRetries(texts, begin, end, abandon);
  switch (reply.kind) {
    case Reply::Kind::kOk:
      out->insert(out->end(), reply.vectors.begin(), reply.vectors.end());
      return Status();
    case Reply::Kind::kAbandoned:
      return Status();
    case Reply::Kind::kTransient:
    case Reply::Kind::kFailed:
      return Status::Unavailable(std::move(reply.error));
    case Reply::Kind::kRejected:
      break;
  }
  if (end - begin > 1) {
    // The provider blames the input but not which text; halve until it is one text. This
    // also finds the batch size a provider with a lower limit than batch_size accepts.
    const std::size_t mid = begin + (end - begin) / 2;
    spdlog::debug("embedder: inputs [{}, {}) rejected, splitting: {}", begin, end, reply.error);
    TIDE_RETURN_IF_ERROR(EmbedRange(texts, begin, mid, abandon, out));
    return EmbedRange(texts, mid, end, abandon, out);
  }
  // One text rejected. A 400 also comes from configuration the provider dislikes (a model
  // without "dimensions" support, say), which would reject every text alike. Only when a
  // harmless text is accepted is this text the problem, and safe to give up on for good.
  const std::vector<std::string> probe{std::string(kProbeText)};
  Reply check = PostWithRetries(probe, 0, 1, abandon);
  if (check.kind == Reply::Kind::kAbandoned) return Status();
  if (check.kind == Reply::Kind::kOk) {
    return Status::InvalidArgument("input " + std::to_string(begin) +
                                   " can never be embedded: " + reply.error);
  }
  return Status::Unavailable(reply.error + "; a one-word probe fails too (" + check.error +
                             "), so the configuration is at fault, not the input");
}

OpenAiEmbedder::Reply OpenAiEmbedder::PostWithRetries(const std::vector<std::string>& texts,
                                                      std::size_t begin, std::size_t end,
                                                      const std::atomic<bool>& abandon) const {
  thread_local std::minstd_rand rng{std::random_device{}()};
  for (int attempt = 1;; ++attempt) {
    if (abandon.load()) return Reply::Error(Reply::Kind::kAbandoned, "");
    Reply reply = Post(texts, begin, end);
    if (reply.kind != Reply::Kind::kTransient) return reply;
    if (attempt >= options_.max_attempts) {
      reply.error += " (gave up after " + std::to_string(attempt) + " attempts)";
      return reply;
    }
    const int shift = std::min(attempt - 1, 20);
    auto delay =
        std::min(options_.initial_backoff * (std::int64_t{1} << shift), options_.max_backoff);
    delay += std::chrono::milliseconds(
        std::uniform_int_distribution<std::int64_t>(0, delay.count() / 2)(rng));
    delay = std::min(std::max(delay, reply.retry_after), options_.max_backoff);
    spdlog::debug("embedder: attempt {} of {} failed, retrying in {} ms: {}", attempt,
                  options_.max_attempts, delay.count(), reply.error);
    std::this_thread::sleep_for(delay);
  }
}

OpenAiEmbedder::Reply OpenAiEmbedder::Post(const std::vector<std::string>& texts, std::size_t begin,
                                           std::size_t end) const {
  Json input = Json::array();
  for (std::size_t i = begin; i < end; ++i) input.push_back(texts[i].empty() ? " " : texts[i]);
  Json body = {{"model", options_.model}, {"input", std::move(input)}};
  if (options_.send_dimensions) body["dimensions"] = options_.dimension;

  bhttp::request<bhttp::string_body> req{bhttp::verb::post, target_, 11};
  req.set(bhttp::field::host, host_header_);
  req.set(bhttp::field::content_type, "application/json");
  req.set(bhttp::field::accept, "application/json");
  req.set(bhttp::field::user_agent, "tide-embedder");
  if (!options_.api_key.empty()) req.set(bhttp::field::authorization, "Bearer " + options_.api_key);
  req.keep_alive(false);
  // Invalid UTF-8 becomes U+FFFD rather than an exception.
  req.body() = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  req.prepare_payload();

  const std::string where = "POST http://" + host_header_ + target_;
  auto transient = [&where](const std::string& what) {
    return Reply::Error(Reply::Kind::kTransient, where + ": " + what);
  };
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::error_code ec;
  const tcp::resolver::results_type endpoints = tcp::resolver(ioc).resolve(host_, port_, ec);
  if (ec) return transient("resolving " + host_ + ": " + ec.message());
  stream.expires_after(options_.timeout);  // one deadline for connect, write and read
  auto describe = [this](const beast::error_code& e) {
    return e == beast::error::timeout
               ? "timed out after " + std::to_string(options_.timeout.count()) + " ms"
               : e.message();
  };
  ec = RunOp(ioc, [&](auto done) { stream.async_connect(endpoints, done); });
  if (ec) return transient("connecting: " + describe(ec));
  const beast::error_code write_ec =
      RunOp(ioc, [&](auto done) { bhttp::async_write(stream, req, done); });
  // A server may answer (413, say) and close before reading the whole request, so read even
  // after a failed write; the write error is reported only if there is no answer.
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(kResponseOverheadBytes + (end - begin) * kResponseBytesPerFloat *
                                                 static_cast<std::size_t>(options_.dimension));
  beast::flat_buffer buffer;
  ec = RunOp(ioc, [&](auto done) { bhttp::async_read(stream, buffer, parser, done); });
  if (ec) {
    return transient(write_ec ? "sending: " + describe(write_ec) : "receiving: " + describe(ec));
  }
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);  // best effort; the answer is in

  const auto& res = parser.get();
  const int code = res.result_int();
  const std::string error =
      where + ": HTTP " + std::to_string(code) + ": " + Snippet(res.body(), options_.api_key);
  if (code / 100 == 2) {
    Reply reply;
    const std::string problem =
        ParseEmbeddings(res.body(), end - begin, options_.dimension, &reply.vectors);
    if (problem.empty()) return reply;
    // Quote the body when its shape is wrong; for a bad vector it is just a list of floats.
    const bool quote = problem.starts_with("the response");
    return Reply::Error(Reply::Kind::kFailed,
                        where + ": malformed response: " + problem +
                            (quote ? ": " + Snippet(res.body(), options_.api_key) : ""));
  }
  if (code == 408 || code == 429 || code >= 500) {
    Reply reply = Reply::Error(Reply::Kind::kTransient, error);
    if (auto it = res.find(bhttp::field::retry_after); it != res.end()) {
      reply.retry_after = RetryAfter({it->value().data(), it->value().size()});
    }
    return reply;
  }
  if (code == 400 || code == 413 || code == 422) {
    return Reply::Error(Reply::Kind::kRejected, error);
  }
  std::string hint;
  if (code == 401 || code == 403) {
    hint = " (check the API key: embedder.api_key_env / api_key_file)";
  }
  if (code == 404) hint = " (check embedder.base_url and embedder.model)";
  if (code / 100 == 3) hint = " (redirects are not followed: set embedder.base_url to the target)";
  return Reply::Error(Reply::Kind::kFailed, error + hint);
}

}  // namespace tide::embedding
