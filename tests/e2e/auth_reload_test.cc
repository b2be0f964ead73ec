// Issue 16: API keys and the ACL file change without a restart. The real tide-query, with no
// store yet (it answers every authorised request with 503 "not ready", so 401 and 403 against
// 503 tell what the keys and the ACL allowed), watching files the test rewrites.

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "tests/testutil/http_client.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using testutil::WaitFor;

const std::string kBin = TIDE_BIN_DIR;
const std::string kSource = TIDE_SOURCE_DIR;
const std::string kOldKey = "auth-reload-old-key-0123456789";
const std::string kNewKey = "auth-reload-new-key-0123456789";

std::string Keys(const std::string& key) {
  return json{{"keys", {{{"name", "ops"}, {"key", key}, {"containers", {"*"}}, {"role", "admin"}}}}}.dump();
}

class AuthReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(WriteFileAtomic(keys(), Keys(kOldKey)).ok());
    ASSERT_TRUE(WriteFileAtomic(acl(), R"({"principals": {"alice": ["hr"]}})").ok());
    std::filesystem::create_directories(dir_.path() / "data");
    query_ = std::make_unique<testutil::Process>(
        std::vector<std::string>{kBin + "/query/tide-query", "--config", kSource + "/configs/query.conf", "--data_dir",
                                 (dir_.path() / "data").string(), "--http.port", "0", "--http.port_file",
                                 (dir_.path() / "port").string(), "--auth.api_keys_file", keys().string(),
                                 "--auth.acl_file", acl().string(), "--auth.reload_ms", "100"},
        dir_.path() / "query.log");
    ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(dir_.path() / "port"); }, seconds(20))) << query_->Log();
    port_ = static_cast<std::uint16_t>(std::stoi(*ReadFile(dir_.path() / "port")));
  }

  std::filesystem::path keys() const { return dir_.path() / "keys.json"; }
  std::filesystem::path acl() const { return dir_.path() / "acl.json"; }
  int Ready(const std::string& key) { return testutil::HttpRequestLoopback(port_, "GET", "/readyz", "", key).status; }
  int SearchAs(const std::string& principal, const std::string& key) {
    return testutil::HttpRequestLoopback(port_, "POST", "/v1/search",
                                         json{{"query", "휴가"}, {"principal", principal}}.dump(), key)
        .status;
  }
  std::string Metrics(const std::string& key) {
    return testutil::HttpRequestLoopback(port_, "GET", "/metrics", "", key).body;
  }

  testutil::TempDir dir_;
  std::unique_ptr<testutil::Process> query_;
  std::uint16_t port_ = 0;
};

TEST_F(AuthReloadTest, KeysAndAclChangeWithoutARestartAndABadFileKeepsThePreviousOnes) {
  EXPECT_EQ(Ready(kOldKey), 503);  // authorised; no store yet
  EXPECT_EQ(Ready(kNewKey), 401);
  EXPECT_EQ(SearchAs("alice", kOldKey), 503);  // alice may read hr: past authorisation
  EXPECT_EQ(SearchAs("carol", kOldKey), 403);

  // Rotate: the new key replaces the old one.
  ASSERT_TRUE(WriteFileAtomic(keys(), Keys(kNewKey)).ok());
  ASSERT_TRUE(WaitFor([&] { return Ready(kNewKey) == 503; }, seconds(10))) << query_->Log();
  EXPECT_EQ(Ready(kOldKey), 401);

  // Grant carol, revoke alice.
  ASSERT_TRUE(WriteFileAtomic(acl(), R"({"principals": {"carol": ["hr"]}})").ok());
  ASSERT_TRUE(WaitFor([&] { return SearchAs("carol", kNewKey) == 503; }, seconds(10))) << query_->Log();
  EXPECT_EQ(SearchAs("alice", kNewKey), 403);

  // A broken keys file is refused; the keys in force stay, and the failure is counted and logged.
  ASSERT_TRUE(WriteFileAtomic(keys(), R"({"keys": [{"name": "x", "key": "short"}]})").ok());
  ASSERT_TRUE(WaitFor([&] {
    return Metrics(kNewKey).find("tide_query_reloads_total{files=\"auth\",outcome=\"failed\"} 1") != std::string::npos;
  }, seconds(10))) << Metrics(kNewKey);
  EXPECT_EQ(Ready(kNewKey), 503);
  EXPECT_NE(Metrics(kNewKey).find("tide_query_reloads_total{files=\"auth\",outcome=\"ok\"} 2"), std::string::npos)
      << Metrics(kNewKey);
  EXPECT_NE(query_->Log().find("API keys and ACL not reloaded, keeping the previous ones"), std::string::npos)
      << query_->Log();
  EXPECT_TRUE(query_->running());
}

}  // namespace
}  // namespace tide
