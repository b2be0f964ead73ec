#include "common/date_util.h"

#include <gtest/gtest.h>

namespace tide {
namespace {

TEST(DateUtilTest, ParsesTheAcceptedFormsToEpochMillis) {
  struct Case {
    const char* text;
    std::optional<std::int64_t> ms;
  };
  const Case cases[] = {
      {"1970-01-01", 0},
      {"2025-03-01", 1740787200000},
      {"2024-02-29", 1709164800000},  // leap day
      {"2025-03-01T09:30:00Z", 1740821400000},
      {"2025-03-01T09:30:00.25Z", 1740821400250},
      {"2025-03-01T18:30:00+09:00", 1740821400000},  // the same instant in Seoul
      {"2025-03-01T18:30:00+0900", 1740821400000},
      {"2025-03-01T04:30:00-05:00", 1740821400000},
      {"1969-12-31T23:59:59Z", -1000},
      {"2025-02-29", std::nullopt},  // not a leap year
      {"2025-13-01", std::nullopt},
      {"2025-03-01T09:30:00", std::nullopt},  // a time needs a zone
      {"2025-03-01T24:00:00Z", std::nullopt},
      {"2025-3-1", std::nullopt},
      {"yesterday", std::nullopt},
      {"", std::nullopt},
      {"2025-03-01Z", std::nullopt},
  };
  for (const Case& c : cases) EXPECT_EQ(ParseDateMillis(c.text), c.ms) << c.text;
}

}  // namespace
}  // namespace tide
