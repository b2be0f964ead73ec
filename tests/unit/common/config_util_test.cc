#include "common/config_util.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tide {
namespace {

TEST(SplitListTest, ItemsLoseTheirBlanksAndEmptyOnesAreDropped) {
  using List = std::vector<std::string>;
  EXPECT_EQ(SplitList("a, b,,c"), (List{"a", "b", "c"}));
  EXPECT_EQ(SplitList(" http://n1:8080 ,\thttp://n2:8080\t"), (List{"http://n1:8080", "http://n2:8080"}));
  EXPECT_EQ(SplitList("팀-문서"), (List{"팀-문서"}));
  EXPECT_EQ(SplitList("a b"), (List{"a b"}));  // blanks inside an item stay
  EXPECT_EQ(SplitList(""), List{});
  EXPECT_EQ(SplitList(" , ,"), List{});
}

}  // namespace
}  // namespace tide
