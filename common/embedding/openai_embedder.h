#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/embedding/embedder.h"
#include "common/status.h"

namespace tide::embedding {

// An Embedder backed by any OpenAI-compatible `POST {base_url}/embeddings` endpoint (OpenAI,
// Hugging Face TEI, vLLM, Ollama, LiteLLM; Azure OpenAI through a proxy, see below).
//
// Embed() splits the texts into batches of batch_size, sends up to `concurrency` of them at
// once (threads owned by the call, joined before it returns) and appends the vectors in input
// order, each L2-normalised. A response must carry every index 0..n-1 exactly once with
// `dimension` finite floats; anything else is the provider misbehaving.
//
// Errors. Embed() is bounded in time: each request has `timeout` and each batch at most
// max_attempts requests (plus the splits below), so one call with the defaults can take about
// 40 s while a provider hangs; the query daemon should configure less. The worker retries
// Unavailable with backoff and never dead-letters it, so Unavailable is the answer whenever the
// event is not to blame:
//   * refused/reset connections, timeouts, 408, 429 and 5xx: retried here with exponential
//     backoff and jitter (Retry-After honoured, capped), then Unavailable;
//   * 401/403/404 and other unexpected statuses: Unavailable at once. A bad key or model
//     name does not fix itself within seconds, but dead-lettering every event because a key
//     expired would lose data; operators see the message in the logs and the retry metrics;
//   * malformed bodies (not JSON, wrong shape, wrong dimension, missing index): Unavailable.
//   * 400/413/422 blame the input. A batch of several texts is split in halves and retried
//     (this also adapts to providers with a smaller batch limit, such as TEI's
//     max_client_batch_size); a single rejected text is then checked against a one-word
//     probe request: if the probe is accepted the text is at fault (InvalidArgument: it can
//     never be embedded), otherwise the configuration is (e.g. send_dimensions with a model
//     that has no "dimensions" parameter), which is Unavailable.
// Empty texts are sent as a single space: several providers reject "".
//
// Transport: plain HTTP/1.1, one connection per request. https:// is refused at Create():
// put a local TLS-terminating proxy (LiteLLM, nginx, stunnel) in front. Azure OpenAI wants
// an `api-key` header rather than a Bearer token, which a proxy also provides. Host name
// resolution is bounded by the system resolver, not by `timeout`.
//
// The API key is sent as `Authorization: Bearer` and never logged; it is redacted from any
// response body quoted in an error message.
//
// Thread-safe: concurrent Embed() calls share only immutable state.
class OpenAiEmbedder : public Embedder {
 public:
  struct Options {
    // ".../v1"; "/embeddings" is appended.
    std::string base_url = "http://127.0.0.1:8000/v1";
    std::string model;             // required, sent as "model"
    int dimension = 0;             // required, > 0; every returned vector must have it
    bool send_dimensions = false;  // send "dimensions" (OpenAI text-embedding-3 models)
    std::string api_key;           // Bearer token; empty: no Authorization header
    std::size_t batch_size = 64;   // texts per request, >= 1
    int concurrency = 4;           // requests in flight for one Embed() call, 1..64
    int max_attempts = 4;          // per request, >= 1; only transient failures retry
    // Per request: connect, send and receive.
    std::chrono::milliseconds timeout{10000};
    // Backoff before retry k (k = 1, 2, ...) is initial_backoff * 2^(k-1) plus up to 50%
    // jitter, capped at max_backoff (which also caps Retry-After). Tests shorten it.
    std::chrono::milliseconds initial_backoff{200};
    std::chrono::milliseconds max_backoff{5000};
  };

  // Validates `options` and parses base_url ("http://host[:port][/path][?query]"; IPv6 hosts
  // in brackets). InvalidArgument on bad options or an https:// URL. Logs the endpoint,
  // model and dimension (never the key).
  static Result<std::unique_ptr<OpenAiEmbedder>> Create(Options options);

  // "openai:<model>:d<dimension>".
  const std::string& model_id() const override { return model_id_; }
  int dimension() const override { return options_.dimension; }
  Status Embed(const std::vector<std::string>& texts, std::vector<float>* out) override;

 private:
  struct Reply;

  explicit OpenAiEmbedder(Options options);

  // Appends the vectors of texts[begin, end) to *out, splitting the range when the provider
  // rejects it. Gives up early (returning OK with *out incomplete) once `abandon` is set.
  Status EmbedRange(const std::vector<std::string>& texts, std::size_t begin, std::size_t end,
                    const std::atomic<bool>& abandon, std::vector<float>* out) const;
  // One request with retries for transient failures.
  Reply PostWithRetries(const std::vector<std::string>& texts, std::size_t begin, std::size_t end,
                        const std::atomic<bool>& abandon) const;
  // One request, no retries.
  Reply Post(const std::vector<std::string>& texts, std::size_t begin, std::size_t end) const;

  Options options_;
  std::string model_id_;
  // From base_url, constant after Create().
  std::string host_;  // without brackets, for the resolver
  std::string port_;
  std::string host_header_;  // "host[:port]" as written in the URL
  std::string target_;       // "/v1/embeddings[?query]"
};

}  // namespace tide::embedding
