// The event contract is written twice: as a JSON Schema for the pipelines that publish events
// (docs/events/event.schema.json) and as the worker's decoder (ingest/event.cc). This test holds
// them to each other: every example in docs/events/examples/ and every case in
// tests/contract/event_cases.json goes to both, and each must give the case's verdict.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "ingest/event.h"
#include "tests/testutil/process.h"
#include "tests/testutil/temp_dir.h"

namespace tide::ingest {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kSource = TIDE_SOURCE_DIR;
const fs::path kPyTools = TIDE_PYTOOLS_VENV;

struct Case {
  std::string name;
  bool valid = false;
  json event;
};

json ReadJson(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return json::parse(buffer.str());
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const auto& entry : fs::directory_iterator(kSource / "docs/events/examples")) {
    const std::string file = entry.path().filename().string();
    // The examples say what they are by name: invalid-*.json must be rejected.
    cases.push_back({"docs/events/examples/" + file, file.rfind("invalid-", 0) != 0, ReadJson(entry.path())});
  }
  const json file = ReadJson(kSource / "tests/contract/event_cases.json");
  for (const json& c : file.at("cases")) {
    cases.push_back({c.at("name").get<std::string>(), c.at("valid").get<bool>(), c.at("event")});
  }
  return cases;
}

// The schema's verdict on each event, from the Python `jsonschema` package that deploy/setup.sh
// pins into the build tree.
std::vector<json> SchemaVerdicts(const std::vector<Case>& cases) {
  testutil::TempDir dir;
  json events = json::array();
  for (const Case& c : cases) events.push_back(c.event);
  std::ofstream(dir.path() / "events.json") << events.dump();
  testutil::CommandResult r = testutil::RunCommand(
      {(kPyTools / "bin/python").string(), (kSource / "tests/contract/validate_events.py").string(),
       (kSource / "docs/events/event.schema.json").string(), (dir.path() / "events.json").string()},
      std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  json verdicts = json::parse(r.output, nullptr, /*allow_exceptions=*/false);
  if (!verdicts.is_array() || verdicts.size() != cases.size()) {
    ADD_FAILURE() << "validate_events.py answered: " << r.output;
    return {};
  }
  return std::vector<json>(verdicts.begin(), verdicts.end());
}

TEST(EventContractTest, SchemaAndDecoderGiveEveryCaseItsVerdict) {
  ASSERT_TRUE(fs::exists(kPyTools / "bin/python"))
      << "the Python tools are not installed in " << kPyTools << ": run deploy/setup.sh";
  const std::vector<Case> cases = AllCases();
  ASSERT_GE(cases.size(), 80u);
  const std::vector<json> schema = SchemaVerdicts(cases);
  ASSERT_EQ(schema.size(), cases.size());
  int valid = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    valid += c.valid ? 1 : 0;
    Result<Event> decoded = DecodeEvent(std::nullopt, c.event.dump(), DecodeLimits());
    EXPECT_EQ(decoded.ok(), c.valid) << c.name << ": the decoder says "
                                     << (decoded.ok() ? "valid" : decoded.status().ToString()) << "\n  "
                                     << c.event.dump();
    EXPECT_EQ(schema[i].at("valid").get<bool>(), c.valid)
        << c.name << ": the schema says " << (schema[i].at("valid").get<bool>() ? "valid" : schema[i].value("error", ""))
        << "\n  " << c.event.dump();
  }
  // Both verdicts are exercised, so neither side can pass by accepting or refusing everything.
  EXPECT_GE(valid, 20);
  EXPECT_GE(static_cast<int>(cases.size()) - valid, 50);
}

}  // namespace
}  // namespace tide::ingest
