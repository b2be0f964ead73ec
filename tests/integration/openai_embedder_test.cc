#include "common/embedding/openai_embedder.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/embedding/factory.h"
#include "common/http/http_server.h"
#include "tests/integration/fake_embeddings_provider.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"
#include "tests/testutil/tls.h"

namespace tide::embedding {
namespace {

using namespace fake_provider;  // the fixture and its helpers

TEST_F(OpenAiEmbedderTest, EmbedsInInputOrderWithUnitVectors) {
  Serve(Normal);
  auto embedder = Make(BaseOptions());
  ASSERT_NE(embedder, nullptr);
  EXPECT_EQ(embedder->model_id(), "openai:test-model:d8");
  EXPECT_EQ(embedder->dimension(), kDim);

  const std::vector<std::string> texts = {"서울 맛집", "excel pivot", "", "third", "fourth"};
  std::vector<float> out = {42.0f};  // appended to, not replaced
  ASSERT_TRUE(embedder->Embed(texts, InputType::kPassage, &out).ok());
  ASSERT_EQ(out.size(), 1 + texts.size() * kDim);
  EXPECT_EQ(out[0], 42.0f);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    // An empty text is sent, and so embedded, as a single space.
    const std::vector<float> want = UnitVector(texts[i].empty() ? " " : texts[i]);
    double norm = 0;
    for (int k = 0; k < kDim; ++k) {
      const float got = out[1 + i * kDim + k];
      EXPECT_NEAR(got, want[k], 1e-6) << "text " << i << " component " << k;
      norm += static_cast<double>(got) * got;
    }
    EXPECT_NEAR(norm, 1.0, 1e-5) << "text " << i;
  }
  ASSERT_EQ(calls(), 1);
  const Json body = seen()[0].body;
  EXPECT_EQ(body["model"], "test-model");
  // Sent shortest first (similar lengths pad least); answered in input order above.
  EXPECT_EQ(Inputs(body),
            (std::vector<std::string>{" ", "third", "fourth", "excel pivot", "서울 맛집"}));
  EXPECT_FALSE(body.contains("dimensions"));

  EXPECT_TRUE(embedder->Embed({}, InputType::kPassage, &out).ok());
  EXPECT_EQ(calls(), 1);  // nothing to embed: no request
}

// Issue 12.3: queries and passages are presented as the model wants them, and how is part of
// the embedder's identity.
TEST_F(OpenAiEmbedderTest, QueriesAndPassagesCarryTheirPrefixAndInputType) {
  Serve(Normal);
  OpenAiEmbedder::Options options = BaseOptions();
  options.query_prefix = "query: ";
  options.passage_prefix = "passage: ";
  auto e5 = Make(options);
  EXPECT_EQ(e5->model_id(), R"(openai:test-model:d8:query{prefix="query: "}:passage{prefix="passage: "})");
  std::vector<float> q, p;
  ASSERT_TRUE(e5->Embed({"연차 며칠"}, InputType::kQuery, &q).ok());
  ASSERT_TRUE(e5->Embed({"연차 며칠"}, InputType::kPassage, &p).ok());
  ASSERT_EQ(calls(), 2);
  EXPECT_EQ(Inputs(seen()[0].body), std::vector<std::string>{"query: 연차 며칠"});
  EXPECT_EQ(Inputs(seen()[1].body), std::vector<std::string>{"passage: 연차 며칠"});
  EXPECT_FALSE(seen()[0].body.contains("input_type"));
  EXPECT_NE(q, p);  // the provider saw different texts

  OpenAiEmbedder::Options typed = BaseOptions();
  typed.input_type_field = "input_type";
  auto nano = Make(typed);
  EXPECT_EQ(nano->model_id(), "openai:test-model:d8:query{input_type=query}:passage{input_type=passage}");
  ASSERT_TRUE(nano->Embed({"a"}, InputType::kQuery, &q).ok());
  ASSERT_TRUE(nano->Embed({"a"}, InputType::kPassage, &p).ok());
  EXPECT_EQ(seen()[2].body["input_type"], "query");
  EXPECT_EQ(seen()[3].body["input_type"], "passage");
  EXPECT_EQ(Inputs(seen()[2].body), std::vector<std::string>{"a"});
}

// Issue 12.2: Azure OpenAI's deployment URL, api-version and api-key header.
TEST_F(OpenAiEmbedderTest, AzureGetsItsUrlAndKeyHeader) {
  std::string target, api_key, authorization;
  http::HttpServerOptions server_options;
  auto server = http::HttpServer::Start(server_options, [&](const http::HttpRequest& r) {
    target = r.target;
    api_key = std::string(r.Header("api-key"));
    authorization = std::string(r.Header("authorization"));
    Json body = Json::parse(r.body);
    EXPECT_FALSE(body.contains("model"));
    return Embeddings(Inputs(body));
  });
  ASSERT_TRUE(server.ok());
  OpenAiEmbedder::Options options;
  options.provider = "azure";
  options.base_url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/openai/deployments/emb-3/";
  options.api_version = "2024-10-21";
  options.model = "text-embedding-3-small";
  options.dimension = kDim;
  options.api_key = "azure-secret";
  auto embedder = Make(options);
  std::vector<float> out;
  ASSERT_TRUE(embedder->Embed({"a"}, InputType::kPassage, &out).ok());
  EXPECT_EQ(target, "/openai/deployments/emb-3/embeddings?api-version=2024-10-21");
  EXPECT_EQ(api_key, "azure-secret");
  EXPECT_TRUE(authorization.empty());
}

// Issue 12.4: requests are sized by text length as well as by count.
TEST_F(OpenAiEmbedderTest, RequestsAreBoundedByCharactersAsWellAsTexts) {
  Serve(Normal);
  OpenAiEmbedder::Options options = BaseOptions();
  options.batch_size = 64;
  options.max_batch_chars = 100;
  auto embedder = Make(options);
  std::vector<std::string> texts;
  for (int i = 0; i < 10; ++i) texts.push_back(std::string(30, static_cast<char>('a' + i)));
  texts.push_back(std::string(500, 'z'));  // longer than the limit: alone
  std::vector<float> out;
  ASSERT_TRUE(embedder->Embed(texts, InputType::kPassage, &out).ok());
  std::vector<std::size_t> sizes;
  for (const Seen& s : seen()) {
    std::size_t chars = 0;
    for (const std::string& t : Inputs(s.body)) chars += t.size();
    EXPECT_TRUE(chars <= 100 || Inputs(s.body).size() == 1) << chars;
    sizes.push_back(Inputs(s.body).size());
  }
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{1, 1, 3, 3, 3}));
  ASSERT_EQ(out.size(), texts.size() * kDim);
  for (std::size_t i = 0; i < texts.size(); ++i) EXPECT_NEAR(out[i * kDim], UnitVector(texts[i])[0], 1e-6);
}

// Issue 12.2: a proxy from the configuration carries the request (absolute-form target).
TEST_F(OpenAiEmbedderTest, AConfiguredProxyCarriesTheRequests) {
  std::vector<std::string> targets;
  std::mutex mu;
  auto proxy = http::HttpServer::Start({}, [&](const http::HttpRequest& r) {
    std::lock_guard lock(mu);
    targets.push_back(r.target);
    return Embeddings(Inputs(Json::parse(r.body)));
  });
  ASSERT_TRUE(proxy.ok());
  OpenAiEmbedder::Options options;
  options.base_url = "http://embeddings.invalid:8000/v1";  // resolved by the proxy, not by us
  options.model = "m";
  options.dimension = kDim;
  options.proxy = "http://127.0.0.1:" + std::to_string((*proxy)->port());
  auto embedder = Make(options);
  std::vector<float> out;
  ASSERT_TRUE(embedder->Embed({"via the proxy"}, InputType::kPassage, &out).ok());
  std::lock_guard lock(mu);
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0], "http://embeddings.invalid:8000/v1/embeddings");
}

// Issue 12.2: HTTPS to a provider whose CA is configured works, over one kept-alive
// connection; the same provider without that CA (the system's CAs do not know it) is refused,
// and the message says what to set.
TEST(OpenAiEmbedderTlsTest, VerifiesTheProviderAgainstTheConfiguredCaAndReusesTheConnection) {
  testutil::TempDir dir;
  const testutil::TestPki pki = testutil::MakeTestPki(dir.path(), "provider");
  testutil::TlsTestServer server(pki, [](const http::HttpRequest& r) {
    if (r.path != "/v1/embeddings") return http::JsonError(404, "not_found", r.path);
    return Embeddings(Inputs(Json::parse(r.body)));
  });
  OpenAiEmbedder::Options options;
  options.base_url = "https://127.0.0.1:" + std::to_string(server.port()) + "/v1";
  options.model = "m";
  options.dimension = kDim;
  options.concurrency = 1;
  options.ca_file = pki.ca_cert.string();
  auto trusted = OpenAiEmbedder::Create(options);
  ASSERT_TRUE(trusted.ok()) << trusted.status().ToString();
  for (int i = 0; i < 5; ++i) {
    std::vector<float> out;
    const Status s = (*trusted)->Embed({"안전한 연결 " + std::to_string(i)}, InputType::kPassage, &out);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(out.size(), static_cast<std::size_t>(kDim));
  }
  EXPECT_EQ(server.connections(), 1);  // keep-alive: five requests, one connection

  options.ca_file.clear();  // the system's CAs only
  options.max_attempts = 1;
  auto untrusting = OpenAiEmbedder::Create(options);
  ASSERT_TRUE(untrusting.ok());
  std::vector<float> out;
  const Status refused = (*untrusting)->Embed({"x"}, InputType::kPassage, &out);
  EXPECT_EQ(refused.code(), Status::Code::kUnavailable);
  EXPECT_NE(refused.message().find("embedder.ca_file"), std::string::npos) << refused.message();
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(testutil::WaitFor([&] { return server.failed_handshakes() >= 1; }, std::chrono::seconds(5)))
      << "the server saw no refused handshake";

  // A certificate from another CA is refused even with a CA file configured.
  const testutil::TestPki other = testutil::MakeTestPki(dir.path(), "other");
  options.ca_file = other.ca_cert.string();
  auto wrong_ca = OpenAiEmbedder::Create(options);
  ASSERT_TRUE(wrong_ca.ok());
  EXPECT_EQ((*wrong_ca)->Embed({"x"}, InputType::kPassage, &out).code(), Status::Code::kUnavailable);
}

TEST_F(OpenAiEmbedderTest, SendsDimensionsWhenConfigured) {
  Serve(Normal);
  OpenAiEmbedder::Options options = BaseOptions();
  options.send_dimensions = true;
  auto embedder = Make(options);
  std::vector<float> out;
  ASSERT_TRUE(embedder->Embed({"a"}, InputType::kPassage, &out).ok());
  EXPECT_EQ(seen()[0].body["dimensions"], kDim);
}

TEST_F(OpenAiEmbedderTest, BatchesRunConcurrentlyAndKeepOrder) {
  rendezvous_ = true;
  Serve(Normal);
  OpenAiEmbedder::Options options = BaseOptions();
  options.batch_size = 64;
  options.concurrency = 4;
  auto embedder = Make(options);
  std::vector<std::string> texts;
  for (int i = 0; i < 250; ++i) texts.push_back("text number " + std::to_string(i));
  std::vector<float> out;
  ASSERT_TRUE(embedder->Embed(texts, InputType::kPassage, &out).ok());

  ASSERT_EQ(calls(), 4);
  std::vector<std::size_t> sizes;
  for (const Seen& s : seen()) sizes.push_back(Inputs(s.body).size());
  std::sort(sizes.begin(), sizes.end());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{58, 64, 64, 64}));
  EXPECT_GT(max_in_flight(), 1);
  EXPECT_LE(max_in_flight(), 4);
  ASSERT_EQ(out.size(), texts.size() * kDim);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const std::vector<float> want = UnitVector(texts[i]);
    for (int k = 0; k < kDim; ++k) ASSERT_NEAR(out[i * kDim + k], want[k], 1e-6) << "text " << i;
  }
}

TEST_F(OpenAiEmbedderTest, SendsAuthorizationOnlyWithAKey) {
  Serve(Normal);
  OpenAiEmbedder::Options options = BaseOptions();
  std::vector<float> out;
  ASSERT_TRUE(Make(options)->Embed({"a"}, InputType::kPassage, &out).ok());
  options.api_key = "sk-test";
  ASSERT_TRUE(Make(options)->Embed({"a"}, InputType::kPassage, &out).ok());
  ASSERT_EQ(calls(), 2);
  EXPECT_FALSE(seen()[0].has_authorization);
  EXPECT_TRUE(seen()[1].has_authorization);
  EXPECT_EQ(seen()[1].authorization, "Bearer sk-test");
}

TEST(OpenAiEmbedderOptionsTest, RejectsBadOptionsAndTls) {
  auto create = [](auto edit) {
    OpenAiEmbedder::Options options;
    options.model = "m";
    options.dimension = 4;
    edit(options);
    return OpenAiEmbedder::Create(options).status();
  };
  EXPECT_TRUE(create([](auto& o) { o.base_url = "https://api.openai.com/v1"; }).ok());
  const Status credentials = create([](auto& o) { o.base_url = "https://user:secret@api.openai.com/v1"; });
  EXPECT_EQ(credentials.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(credentials.message().find("credentials do not belong in the URL"), std::string::npos);
  EXPECT_FALSE(create([](auto& o) { o.provider = "bedrock"; }).ok());
  EXPECT_FALSE(create([](auto& o) { o.provider = "azure"; }).ok());  // no api_version
  EXPECT_FALSE(create([](auto& o) { o.ca_file = "/nonexistent/ca.pem"; }).ok());
  EXPECT_FALSE(create([](auto& o) { o.max_batch_chars = 0; }).ok());
  EXPECT_FALSE(create([](auto& o) { o.model = ""; }).ok());
  EXPECT_FALSE(create([](auto& o) { o.dimension = 0; }).ok());
  EXPECT_FALSE(create([](auto& o) { o.batch_size = 0; }).ok());
  EXPECT_FALSE(create([](auto& o) { o.concurrency = 65; }).ok());
  EXPECT_FALSE(create([](auto& o) { o.timeout = milliseconds(0); }).ok());
  EXPECT_FALSE(create([](auto& o) { o.base_url = "http://host:notaport/v1"; }).ok());
  EXPECT_FALSE(create([](auto& o) { o.base_url = "ftp://host/v1"; }).ok());
  EXPECT_FALSE(create([](auto& o) { o.api_key = "sk\r\nX-Evil: 1"; }).ok());
  EXPECT_TRUE(create([](auto& o) { o.base_url = "http://[::1]:8080/v1/?api-version=1"; }).ok());
  EXPECT_TRUE(create([](auto&) {}).ok());
}

TEST_F(OpenAiEmbedderTest, FactoryReadsTheKeyFromAFileOrTheEnvironment) {
  Serve(Normal);
  EmbedderConfig config;
  config.kind = "openai";
  config.base_url = BaseOptions().base_url;
  config.model = "test-model";
  config.dimension = kDim;
  config.api_key_env = "TIDE_OPENAI_EMBEDDER_TEST_KEY";
  ASSERT_EQ(setenv(config.api_key_env.c_str(), "from-env", 1), 0);
  std::vector<float> out;
  Result<std::unique_ptr<Embedder>> embedder = MakeEmbedder(config);
  ASSERT_TRUE(embedder.ok()) << embedder.status().ToString();
  EXPECT_EQ((*embedder)->model_id(), "openai:test-model:d8");
  ASSERT_TRUE((*embedder)->Embed({"a"}, InputType::kPassage, &out).ok());

  const std::filesystem::path file =
      std::filesystem::path(::testing::TempDir()) / ("openai_key_" + std::to_string(::getpid()));
  std::ofstream(file) << "  from-file\n";
  config.api_key_file = file.string();
  embedder = MakeEmbedder(config);
  ASSERT_TRUE(embedder.ok()) << embedder.status().ToString();
  ASSERT_TRUE((*embedder)->Embed({"a"}, InputType::kPassage, &out).ok());
  std::filesystem::remove(file);
  unsetenv(config.api_key_env.c_str());

  ASSERT_EQ(calls(), 2);
  EXPECT_EQ(seen()[0].authorization, "Bearer from-env");
  EXPECT_EQ(seen()[1].authorization, "Bearer from-file");

  // A quoted prefix keeps its trailing space (config files trim unquoted values).
  config.api_key_file.clear();
  config.query_prefix = "\"query: \"";
  config.passage_prefix = "passage: ";
  embedder = MakeEmbedder(config);
  ASSERT_TRUE(embedder.ok()) << embedder.status().ToString();
  EXPECT_EQ((*embedder)->model_id(), R"(openai:test-model:d8:query{prefix="query: "}:passage{prefix="passage: "})");
  config.query_prefix = "\"unterminated";
  config.passage_prefix.clear();
  EXPECT_TRUE(MakeEmbedder(config).ok());  // not quoted at both ends: taken as written
  config.query_prefix = "\"bad \\q\"";
  EXPECT_EQ(MakeEmbedder(config).status().code(), Status::Code::kInvalidArgument);
  config.query_prefix.clear();

  config.api_key_file = file.string() + ".missing";
  EXPECT_EQ(MakeEmbedder(config).status().code(), Status::Code::kInvalidArgument);
  config.api_key_file.clear();
  config.model.clear();
  EXPECT_EQ(MakeEmbedder(config).status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace tide::embedding
