#include "common/http/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

namespace tide::http {
namespace {

std::once_flag curl_init_once;
CURLcode curl_init_result = CURLE_OK;

struct Sink {
  std::string* body;
  std::size_t limit;
  bool over = false;
};

std::size_t WriteBody(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t n = size * count;
  if (sink->body->size() + n > sink->limit) {
    sink->over = true;
    return 0;  // libcurl stops with CURLE_WRITE_ERROR
  }
  sink->body->append(data, n);
  return n;
}

std::size_t ReadHeader(char* data, std::size_t size, std::size_t count, void* user) {
  auto* retry_after = static_cast<std::string*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string head(line.substr(0, kName.size()));
    std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
    if (head == kName) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      *retry_after = std::string(value);
    }
  }
  return n;
}

// What an operator should check after a transport failure.
std::string Hint(CURLcode code) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
      return " (the provider's TLS certificate is not trusted or does not match the host: set embedder.ca_file to "
             "the CA that signed it, or fix embedder.base_url)";
    case CURLE_SSL_CONNECT_ERROR:
      return " (TLS handshake failed: is it an https endpoint?)";
    case CURLE_SSL_CACERT_BADFILE:
      return " (embedder.ca_file cannot be read as PEM)";
    case CURLE_COULDNT_RESOLVE_HOST:
      return " (check the host in embedder.base_url)";
    case CURLE_COULDNT_RESOLVE_PROXY:
      return " (check embedder.proxy or the *_proxy environment variables)";
    default:
      return "";
  }
}

}  // namespace

Status ValidateUrl(const std::string& url, const std::string& what) {
  CURLU* handle = curl_url();
  if (handle == nullptr) return Status::Internal("curl_url: out of memory");
  const std::string prefix = what + " '" + url + "': ";
  Status result;
  if (CURLUcode rc = curl_url_set(handle, CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK) {
    result = Status::InvalidArgument(prefix + curl_url_strerror(rc));
  } else {
    char* scheme = nullptr;
    char* user = nullptr;
    char* host = nullptr;
    curl_url_get(handle, CURLUPART_SCHEME, &scheme, 0);
    const bool has_user = curl_url_get(handle, CURLUPART_USER, &user, 0) == CURLUE_OK;
    const bool has_host = curl_url_get(handle, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && *host;
    const std::string s = scheme ? scheme : "";
    if (s != "http" && s != "https") {
      result = Status::InvalidArgument(prefix + "must start with http:// or https://");
    } else if (has_user) {
      result = Status::InvalidArgument(prefix + "credentials do not belong in the URL; use embedder.api_key_env");
    } else if (!has_host) {
      result = Status::InvalidArgument(prefix + "no host");
    }
    curl_free(scheme);
    curl_free(user);
    curl_free(host);
  }
  curl_url_cleanup(handle);
  return result;
}

Result<std::unique_ptr<HttpClient>> HttpClient::Create(Options options) {
  // Before any other thread may use libcurl (it is not thread-safe itself).
  std::call_once(curl_init_once, [] { curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (curl_init_result != CURLE_OK) {
    return Status::InvalidArgument(std::string("libcurl: ") + curl_easy_strerror(curl_init_result));
  }
  if (!options.ca_file.empty()) {
    std::ifstream in(options.ca_file);
    if (!in) return Status::InvalidArgument("embedder.ca_file " + options.ca_file + " cannot be read");
  }
  if (options.timeout.count() <= 0 || options.connect_timeout.count() <= 0) {
    return Status::InvalidArgument("HTTP client timeouts must be positive");
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(options)));
}

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::Borrow() const {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpClient::Return(void* handle) const {
  std::lock_guard lock(mu_);
  idle_.push_back(handle);
}

Result<HttpClient::Response> HttpClient::Post(const std::string& url, const std::vector<std::string>& headers,
                                              const std::string& body, std::chrono::milliseconds timeout) const {
  const bool callers_deadline = timeout.count() > 0;
  if (!callers_deadline) timeout = options_.timeout;
  auto* curl = static_cast<CURL*>(Borrow());
  if (curl == nullptr) return Status::Unavailable("curl_easy_init failed");
  // Options are set afresh on every request; a reset keeps the live connection.
  curl_easy_reset(curl);
  Response response;
  Sink sink{&response.body, options_.max_response_bytes};
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip for large bodies
  char error[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM-based DNS timeouts
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl can decode
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min(options_.connect_timeout, timeout).count()));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  if (options_.proxy == "none") {
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
  } else if (!options_.proxy.empty()) {
    curl_easy_setopt(curl, CURLOPT_PROXY, options_.proxy.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, ReadHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.retry_after);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(list);
  Return(curl);
  if (sink.over) {
    return Status::Unavailable("response over " + std::to_string(options_.max_response_bytes) + " bytes");
  }
  if (rc != CURLE_OK) {
    std::string what = error[0] != '\0' ? std::string(error) : std::string(curl_easy_strerror(rc));
    while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      what = "timed out after " + std::to_string(timeout.count()) + " ms (" + what + ")";
      if (callers_deadline) return Status::DeadlineExceeded(what);
    }
    return Status::Unavailable(what + Hint(rc));
  }
  return response;
}

}  // namespace tide::http
