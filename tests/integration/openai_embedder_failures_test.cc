// OpenAiEmbedder against a provider that fails: retries and backoff, giving up, a rejected
// text found by splitting the batch, timeouts, malformed answers, nothing listening.
#include "common/embedding/openai_embedder.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/http/http_server.h"
#include "tests/integration/fake_embeddings_provider.h"

namespace tide::embedding {
namespace {

using namespace fake_provider;  // the fixture and its helpers

TEST_F(OpenAiEmbedderTest, RetriesTransientFailuresThenSucceeds) {
  Serve([](const Json& body, int call) {
    if (call == 1) {
      http::HttpResponse res = Answer(429, R"({"error":"slow down"})");
      res.headers.push_back({"Retry-After", "1"});  // capped at max_backoff (5 ms)
      return res;
    }
    if (call == 2) return Answer(503, R"({"error":"loading model"})");
    return Normal(body, call);
  });
  OpenAiEmbedder::Options options = BaseOptions();
  options.max_attempts = 4;
  auto embedder = Make(options);
  std::vector<float> out;
  const auto start = steady_clock::now();
  const Status s = embedder->Embed({"x", "y"}, InputType::kPassage, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(calls(), 3);
  EXPECT_EQ(out.size(), 2u * kDim);
}

TEST_F(OpenAiEmbedderTest, GivesUpAfterMaxAttemptsAsUnavailable) {
  Serve([](const Json&, int) { return Answer(503, R"({"error":"overloaded"})"); });
  OpenAiEmbedder::Options options = BaseOptions();
  options.max_attempts = 3;
  auto embedder = Make(options);
  std::vector<float> out = {1, 2, 3};
  const Status s = embedder->Embed({"x"}, InputType::kPassage, &out);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("HTTP 503"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("gave up after 3 attempts"), std::string::npos) << s.message();
  EXPECT_EQ(calls(), 3);
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3}));
}

TEST_F(OpenAiEmbedderTest, UnauthorizedIsUnavailableAtOnceAndRedactsTheKey) {
  Serve([](const Json&, int) {
    return Answer(401, R"({"error":{"message":"Incorrect API key provided: sk-secret-123"}})");
  });
  OpenAiEmbedder::Options options = BaseOptions();
  options.api_key = "sk-secret-123";
  auto embedder = Make(options);
  std::vector<float> out = {1, 2, 3};
  const Status s = embedder->Embed({"x"}, InputType::kPassage, &out);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("HTTP 401"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("API key"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("sk-secret-123"), std::string::npos) << s.message();
  EXPECT_EQ(calls(), 1);  // not retried
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3}));
}

// 400 whenever the batch holds the poison text.
http::HttpResponse RejectPoison(const Json& body, int call) {
  for (const std::string& text : Inputs(body)) {
    if (text == "POISON") return Answer(400, R"({"error":"input too long"})");
  }
  return Normal(body, call);
}

TEST_F(OpenAiEmbedderTest, RejectedSingleTextIsInvalidArgument) {
  Serve(RejectPoison);
  OpenAiEmbedder::Options options = BaseOptions();
  options.batch_size = 1;
  auto embedder = Make(options);
  std::vector<float> out = {1, 2, 3};
  const Status s = embedder->Embed({"POISON"}, InputType::kPassage, &out);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("HTTP 400"), std::string::npos) << s.message();
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(calls(), 2);  // the text, then the probe that shows the provider is fine
}

TEST_F(OpenAiEmbedderTest, RejectedBatchIsSplitToFindTheBadText) {
  Serve(RejectPoison);
  auto embedder = Make(BaseOptions());
  std::vector<float> out = {1, 2, 3};
  const Status s = embedder->Embed({"good", "fine", "POISON", "ok", "great"}, InputType::kPassage, &out);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("input 2 "), std::string::npos) << s.message();
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3}));
}

TEST_F(OpenAiEmbedderTest, TooLargeBatchesAreSplitUntilAccepted) {
  // Like TEI with max_client_batch_size = 2.
  Serve([](const Json& body, int call) {
    if (Inputs(body).size() > 2) return Answer(413, R"({"error":"batch size 5 > 2"})");
    return Normal(body, call);
  });
  auto embedder = Make(BaseOptions());
  const std::vector<std::string> texts = {"a", "b", "c", "d", "e"};
  std::vector<float> out;
  const Status s = embedder->Embed(texts, InputType::kPassage, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(out.size(), texts.size() * kDim);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    EXPECT_NEAR(out[i * kDim], UnitVector(texts[i])[0], 1e-6) << "text " << i;
  }
}

TEST_F(OpenAiEmbedderTest, RejectingEverythingIsAConfigurationProblem) {
  Serve([](const Json&, int) {
    return Answer(400, R"({"error":"model does not support dimensions"})");
  });
  OpenAiEmbedder::Options options = BaseOptions();
  options.send_dimensions = true;
  auto embedder = Make(options);
  std::vector<float> out;
  const Status s = embedder->Embed({"x"}, InputType::kPassage, &out);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("configuration"), std::string::npos) << s.message();
  EXPECT_TRUE(out.empty());
}

TEST_F(OpenAiEmbedderTest, TimeoutIsUnavailableQuickly) {
  Serve([this](const Json& body, int call) {
    released_.wait();  // until TearDown
    return Normal(body, call);
  });
  OpenAiEmbedder::Options options = BaseOptions();
  options.timeout = milliseconds(100);
  options.max_attempts = 2;
  auto embedder = Make(options);
  std::vector<float> out = {1, 2, 3};
  const auto start = steady_clock::now();
  const Status s = embedder->Embed({"x"}, InputType::kPassage, &out);
  EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(3));
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("timed out after 100 ms"), std::string::npos) << s.message();
  EXPECT_EQ(out, (std::vector<float>{1, 2, 3}));
}

struct MalformedCase {
  const char* name;
  std::function<http::HttpResponse(const Json& body)> respond;
  const char* expected;  // in the message
};

TEST_F(OpenAiEmbedderTest, MalformedResponsesAreUnavailableAndSayWhy) {
  const std::vector<MalformedCase> cases = {
      {"not json", [](const Json&) { return Answer(200, "<html>oops</html>"); }, "not JSON"},
      {"no data", [](const Json&) { return Answer(200, R"({"object":"list"})"); },
       "no \"data\" array"},
      {"wrong dimension", [](const Json& b) { return Embeddings(Inputs(b), kDim - 1); },
       "has dimension 7, expected 8"},
      {"missing index",
       [](const Json& b) {
         std::vector<std::string> inputs = Inputs(b);
         inputs.pop_back();
         return Embeddings(inputs);
       },
       "index 2 is missing"},
      {"duplicate index",
       [](const Json& b) {
         http::HttpResponse res = Embeddings(Inputs(b));
         Json j = Json::parse(res.body);
         for (Json& item : j["data"]) item["index"] = 0;
         res.body = j.dump();
         return res;
       },
       "index 0 appears twice"},
      {"base64",
       [](const Json&) { return Answer(200, R"({"data":[{"index":0,"embedding":"AAAA"}]})"); },
       "no \"embedding\" array"},
  };
  std::atomic<std::size_t> which{0};
  Serve([&cases, &which](const Json& body, int) { return cases[which.load()].respond(body); });
  auto embedder = Make(BaseOptions());
  for (; which < cases.size(); ++which) {
    SCOPED_TRACE(cases[which].name);
    const int before = calls();
    std::vector<float> out = {1, 2, 3};
    const Status s = embedder->Embed({"a", "b", "c"}, InputType::kPassage, &out);
    EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
    EXPECT_NE(s.message().find(cases[which].expected), std::string::npos) << s.message();
    EXPECT_EQ(out, (std::vector<float>{1, 2, 3}));
    EXPECT_EQ(calls(), before + 1);  // a misbehaving provider is not retried at once
  }
}

TEST_F(OpenAiEmbedderTest, ConnectionRefusedIsUnavailable) {
  Serve(Normal);
  OpenAiEmbedder::Options options = BaseOptions();
  options.max_attempts = 2;
  StopServer();  // nothing listens on the port any more
  auto embedder = Make(options);
  std::vector<float> out;
  const Status s = embedder->Embed({"x"}, InputType::kPassage, &out);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("connect"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tide::embedding
