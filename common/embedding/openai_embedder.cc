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

#include <numeric>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

namespace tide::embedding {
namespace {

using Json = nlohmann::json;

constexpr int kMaxConcurrency = 64;
// Response bodies are JSON floats, about 20 bytes each; pretty-printing providers use more.
constexpr std::size_t kResponseBytesPerFloat = 64;
constexpr std::size_t kResponseOverheadBytes = 1 << 20;
// How much of a provider's error body goes into our messages.
constexpr std::size_t kSnippetBytes = 300;
// Sent when a single text is rejected, to tell a bad input from a bad configuration.
constexpr std::string_view kProbeText = "probe";

// How query or passage texts are presented, for model_id(): "" when nothing is.
std::string Presentation(const std::string& prefix, const std::string& field, const std::string& value) {
  std::vector<std::string> parts;
  if (!prefix.empty()) parts.push_back("prefix=" + Json(prefix).dump());
  if (!field.empty()) parts.push_back(field + "=" + value);
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
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
    kDeadline,   // the caller's deadline (EmbedBefore) cut the request or its retries
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
  if (options.provider != "openai" && options.provider != "azure") {
    return Status::InvalidArgument("embedder.provider must be openai or azure, got '" + options.provider + "'");
  }
  if (options.model.empty()) return Status::InvalidArgument("embedder.model is required");
  if (options.provider == "azure" && options.api_version.empty()) {
    return Status::InvalidArgument("embedder.api_version is required for provider azure (e.g. 2024-10-21)");
  }
  if (options.dimension <= 0) return Status::InvalidArgument("embedder.dimension must be positive");
  if (options.batch_size < 1) {
    return Status::InvalidArgument("embedder.batch_size must be at least 1");
  }
  if (options.max_batch_chars < 1) {
    return Status::InvalidArgument("embedder.max_batch_chars must be at least 1");
  }
  if (options.concurrency < 1 || options.concurrency > kMaxConcurrency) {
    return Status::InvalidArgument("embedder.concurrency must be in [1, 64]");
  }
  if (options.timeout.count() <= 0 || options.connect_timeout.count() <= 0) {
    return Status::InvalidArgument("embedder.timeout_ms and embedder.connect_timeout_ms must be positive");
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
  if (!options.input_type_field.empty() &&
      (options.query_input_type.empty() || options.passage_input_type.empty())) {
    return Status::InvalidArgument("embedder.query_input_type and passage_input_type must be set with input_type_field");
  }
  TIDE_RETURN_IF_ERROR(http::ValidateUrl(options.base_url, "embedder.base_url"));
  http::HttpClient::Options transport;
  transport.ca_file = options.ca_file;
  transport.proxy = options.proxy;
  transport.timeout = options.timeout;
  transport.connect_timeout = options.connect_timeout;
  transport.max_response_bytes = kResponseOverheadBytes + options.batch_size * kResponseBytesPerFloat *
                                                              static_cast<std::size_t>(options.dimension);
  transport.user_agent = "tidesearch-embedder";
  Result<std::unique_ptr<http::HttpClient>> client = http::HttpClient::Create(transport);
  if (!client) return client.status();
  std::unique_ptr<OpenAiEmbedder> embedder(new OpenAiEmbedder(std::move(options)));
  embedder->client_ = std::move(*client);
  const Options& o = embedder->options_;
  std::string base = o.base_url;
  std::string query;
  if (std::size_t q = base.find('?'); q != std::string::npos) {
    query = base.substr(q + 1);
    base.resize(q);
  }
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (o.provider == "azure") {
    query += (query.empty() ? "" : "&") + std::string("api-version=") + o.api_version;
  }
  embedder->url_ = base + "/embeddings" + (query.empty() ? "" : "?" + query);
  embedder->headers_ = {"Content-Type: application/json", "Accept: application/json"};
  if (!o.api_key.empty()) {
    embedder->headers_.push_back(o.provider == "azure" ? "api-key: " + o.api_key : "Authorization: Bearer " + o.api_key);
  }
  spdlog::info(
      "embedder: {} POST {} model={} dimension={} send_dimensions={} batch_size={} max_batch_chars={} "
      "concurrency={} timeout={}ms max_attempts={} api_key={} ca_file={} proxy={} model_id={}",
      o.provider, embedder->url_, o.model, o.dimension, o.send_dimensions, o.batch_size, o.max_batch_chars,
      o.concurrency, o.timeout.count(), o.max_attempts, o.api_key.empty() ? "none" : "set",
      o.ca_file.empty() ? "system" : o.ca_file, o.proxy.empty() ? "environment" : o.proxy, embedder->model_id_);
  return embedder;
}

OpenAiEmbedder::OpenAiEmbedder(Options options) : options_(std::move(options)) {
  model_id_ = "openai:" + options_.model + ":d" + std::to_string(options_.dimension);
  const std::string query =
      Presentation(options_.query_prefix, options_.input_type_field, options_.query_input_type);
  const std::string passage =
      Presentation(options_.passage_prefix, options_.input_type_field, options_.passage_input_type);
  if (!query.empty() || !passage.empty()) model_id_ += ":query{" + query + "}:passage{" + passage + "}";
}

OpenAiEmbedder::~OpenAiEmbedder() = default;

Status OpenAiEmbedder::Embed(const std::vector<std::string>& texts, InputType type, std::vector<float>* out) {
  return EmbedBefore(texts, type, Deadline::max(), out);
}

Status OpenAiEmbedder::EmbedBefore(const std::vector<std::string>& texts, InputType type, Deadline deadline,
                                   std::vector<float>* out) {
  assert(out != nullptr);
  if (texts.empty()) return Status();
  // Shortest first: each request holds texts of similar length, which pads least, and its
  // size in characters is bounded.
  std::vector<std::size_t> order(texts.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return texts[a].size() < texts[b].size(); });
  std::vector<std::string> sorted;
  sorted.reserve(texts.size());
  for (std::size_t i : order) sorted.push_back(texts[i]);
  std::vector<std::pair<std::size_t, std::size_t>> requests;  // [begin, end) of `sorted`
  for (std::size_t begin = 0; begin < sorted.size();) {
    std::size_t end = begin, chars = 0;
    while (end < sorted.size() && end - begin < options_.batch_size &&
           (end == begin || chars + sorted[end].size() <= options_.max_batch_chars)) {
      chars += sorted[end].size();
      ++end;
    }
    requests.emplace_back(begin, end);
    begin = end;
  }
  std::vector<std::vector<float>> parts(requests.size());
  std::vector<Status> failures(requests.size());  // each written only by the thread that ran it
  std::atomic<std::size_t> next{0};
  std::atomic<bool> abandon{false};
  auto work = [&] {
    while (!abandon.load()) {
      const std::size_t r = next.fetch_add(1);
      if (r >= requests.size()) return;
      Status s = EmbedRange(sorted, order, requests[r].first, requests[r].second, type, abandon, deadline,
                            &parts[r]);
      if (!s.ok()) {
        failures[r] = std::move(s);
        abandon.store(true);
      }
    }
  };
  {
    // The calling thread is one of the workers; helpers are joined at the end of this scope.
    std::vector<std::jthread> helpers;
    const std::size_t wanted = std::min<std::size_t>(options_.concurrency, requests.size()) - 1;
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
  const auto dim = static_cast<std::size_t>(options_.dimension);
  const std::size_t start = out->size();
  out->resize(start + texts.size() * dim);
  std::size_t at = 0;  // position in `sorted`
  for (const std::vector<float>& part : parts) {
    for (std::size_t k = 0; k + dim <= part.size(); k += dim, ++at) {
      std::copy(part.begin() + static_cast<std::ptrdiff_t>(k), part.begin() + static_cast<std::ptrdiff_t>(k + dim),
                out->begin() + static_cast<std::ptrdiff_t>(start + order[at] * dim));
    }
  }
  return Status();
}

Status OpenAiEmbedder::EmbedRange(const std::vector<std::string>& texts, const std::vector<std::size_t>& order,
                                  std::size_t begin, std::size_t end, InputType type,
                                  const std::atomic<bool>& abandon, Deadline deadline,
                                  std::vector<float>* out) const {
  Reply reply = PostWithRetries(texts, begin, end, type, abandon, deadline);
  switch (reply.kind) {
    case Reply::Kind::kOk:
      out->insert(out->end(), reply.vectors.begin(), reply.vectors.end());
      return Status();
    case Reply::Kind::kAbandoned:
      return Status();
    case Reply::Kind::kTransient:
    case Reply::Kind::kFailed:
      return Status::Unavailable(std::move(reply.error));
    case Reply::Kind::kDeadline:
      return Status::DeadlineExceeded(std::move(reply.error));
    case Reply::Kind::kRejected:
      break;
  }
  if (end - begin > 1) {
    // The provider blames the input but not which text; halve until it is one text. This
    // also finds the batch size a provider with a lower limit than batch_size accepts.
    const std::size_t mid = begin + (end - begin) / 2;
    spdlog::debug("embedder: inputs [{}, {}) rejected, splitting: {}", begin, end, reply.error);
    TIDE_RETURN_IF_ERROR(EmbedRange(texts, order, begin, mid, type, abandon, deadline, out));
    return EmbedRange(texts, order, mid, end, type, abandon, deadline, out);
  }
  // One text rejected. A 400 also comes from configuration the provider dislikes (a model
  // without "dimensions" support, say), which would reject every text alike. Only when a
  // harmless text is accepted is this text the problem, and safe to give up on for good.
  const std::vector<std::string> probe{std::string(kProbeText)};
  Reply check = PostWithRetries(probe, 0, 1, type, abandon, deadline);
  if (check.kind == Reply::Kind::kAbandoned) return Status();
  if (check.kind == Reply::Kind::kDeadline) return Status::DeadlineExceeded(check.error);
  if (check.kind == Reply::Kind::kOk) {
    return Status::InvalidArgument("input " + std::to_string(order[begin]) +
                                   " can never be embedded: " + reply.error);
  }
  return Status::Unavailable(reply.error + "; a one-word probe fails too (" + check.error +
                             "), so the configuration is at fault, not the input");
}

OpenAiEmbedder::Reply OpenAiEmbedder::PostWithRetries(const std::vector<std::string>& texts,
                                                      std::size_t begin, std::size_t end, InputType type,
                                                      const std::atomic<bool>& abandon,
                                                      Deadline deadline) const {
  thread_local std::minstd_rand rng{std::random_device{}()};
  for (int attempt = 1;; ++attempt) {
    if (abandon.load()) return Reply::Error(Reply::Kind::kAbandoned, "");
    Reply reply = Post(texts, begin, end, type, deadline);
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
    if (std::chrono::steady_clock::now() + delay >= deadline) {
      reply.error += " (no retry: the caller's deadline comes first)";
      reply.kind = Reply::Kind::kDeadline;
      return reply;
    }
    spdlog::debug("embedder: attempt {} of {} failed, retrying in {} ms: {}", attempt,
                  options_.max_attempts, delay.count(), reply.error);
    std::this_thread::sleep_for(delay);
  }
}

OpenAiEmbedder::Reply OpenAiEmbedder::Post(const std::vector<std::string>& texts, std::size_t begin,
                                           std::size_t end, InputType type, Deadline deadline) const {
  std::chrono::milliseconds timeout(0);  // the client's own
  if (deadline != Deadline::max()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return Reply::Error(Reply::Kind::kDeadline, "POST " + url_ + ": the caller's deadline passed before the request");
    }
    // Passed only when shorter than the client's own: then running out of it is the deadline.
    if (left < options_.timeout) timeout = left;
  }
  const bool query = type == InputType::kQuery;
  const std::string& prefix = query ? options_.query_prefix : options_.passage_prefix;
  Json input = Json::array();
  for (std::size_t i = begin; i < end; ++i) {
    const std::string text = prefix + texts[i];
    input.push_back(text.empty() ? " " : text);
  }
  Json body = {{"input", std::move(input)}};
  if (options_.provider != "azure") body["model"] = options_.model;
  if (options_.send_dimensions) body["dimensions"] = options_.dimension;
  if (!options_.input_type_field.empty()) {
    body[options_.input_type_field] = query ? options_.query_input_type : options_.passage_input_type;
  }
  const std::string where = "POST " + url_;
  // Invalid UTF-8 becomes U+FFFD rather than an exception.
  Result<http::HttpClient::Response> posted =
      client_->Post(url_, headers_, body.dump(-1, ' ', false, Json::error_handler_t::replace), timeout);
  if (!posted) {
    const bool cut = posted.status().code() == Status::Code::kDeadlineExceeded;
    return Reply::Error(cut ? Reply::Kind::kDeadline : Reply::Kind::kTransient, where + ": " + posted.status().message());
  }
  const http::HttpClient::Response& res = *posted;
  const int code = static_cast<int>(res.status);
  const std::string error =
      where + ": HTTP " + std::to_string(code) + ": " + Snippet(res.body, options_.api_key);
  if (code / 100 == 2) {
    Reply reply;
    const std::string problem =
        ParseEmbeddings(res.body, end - begin, options_.dimension, &reply.vectors);
    if (problem.empty()) return reply;
    // Quote the body when its shape is wrong; for a bad vector it is just a list of floats.
    const bool quote = problem.starts_with("the response");
    return Reply::Error(Reply::Kind::kFailed,
                        where + ": malformed response: " + problem +
                            (quote ? ": " + Snippet(res.body, options_.api_key) : ""));
  }
  if (code == 408 || code == 429 || code >= 500) {
    Reply reply = Reply::Error(Reply::Kind::kTransient, error);
    if (!res.retry_after.empty()) reply.retry_after = RetryAfter(res.retry_after);
    return reply;
  }
  if (code == 400 || code == 413 || code == 422) {
    return Reply::Error(Reply::Kind::kRejected, error);
  }
  std::string hint;
  if (code == 401 || code == 403) {
    hint = " (check the API key: embedder.api_key_env / api_key_file, and embedder.provider for its header)";
  }
  if (code == 404) hint = " (check embedder.base_url, embedder.model and, for azure, the deployment in the URL)";
  if (code / 100 == 3) hint = " (redirects are not followed: set embedder.base_url to the target)";
  return Reply::Error(Reply::Kind::kFailed, error + hint);
}

}  // namespace tide::embedding
