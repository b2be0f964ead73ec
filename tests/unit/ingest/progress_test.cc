#include "ingest/ctl/progress.h"

#include <sstream>

#include <gtest/gtest.h>

namespace tide::ctl {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = Progress::Clock;

TEST(ProgressTest, PipedOutputIsAPlainLineEveryTenSecondsThenAFinalOne) {
  std::ostringstream out;
  const Clock::time_point t0{};
  Progress p(out, {.command = "publish", .what = "events", .total = 1000, .tty = false}, t0);
  p.Update(100, 1234, t0 + seconds(5));
  EXPECT_EQ(out.str(), "");  // not due yet
  p.Update(250, 2468, t0 + seconds(10));
  EXPECT_EQ(out.str(), "publish: 2,468 events, 25%, 247/s, ETA 30 s\n");
  p.Update(300, 2500, t0 + seconds(12));
  EXPECT_EQ(out.str(), "publish: 2,468 events, 25%, 247/s, ETA 30 s\n");  // 10 s apart
  p.Finish(9872, t0 + seconds(40));
  EXPECT_EQ(out.str(), "publish: 2,468 events, 25%, 247/s, ETA 30 s\npublish: 9,872 events, 100%, 247/s, in 40.0 s\n");
}

TEST(ProgressTest, ATerminalGetsOneRedrawnLineWithABar) {
  std::ostringstream out;
  const Clock::time_point t0{};
  Progress p(out, {.command = "publish", .what = "events", .total = 200, .tty = true}, t0);
  p.Update(100, 500, t0 + milliseconds(100));
  EXPECT_EQ(out.str(), "");  // the first redraw after 200 ms
  p.Update(100, 500, t0 + seconds(1));
  EXPECT_EQ(out.str(), "\r\033[K[############------------]  500 events  50%  500/s  ETA 1 s");
  p.Finish(1000, t0 + seconds(2));
  EXPECT_EQ(out.str().substr(out.str().rfind('\r')),
            "\r\033[K[########################]  1,000 events  100%  500/s  in 2.0 s\n");
}

TEST(ProgressTest, WithoutATotalOnlyTheCountAndTheRate) {
  const Clock::time_point t0{};
  std::ostringstream out;
  Progress p(out, {.command = "publish", .what = "events", .total = std::nullopt, .tty = false}, t0);
  EXPECT_EQ(p.Line(0, 42, t0 + seconds(2), false), "publish: 42 events, 21/s");
  EXPECT_EQ(WithThousands(0), "0");
  EXPECT_EQ(WithThousands(999), "999");
  EXPECT_EQ(WithThousands(1000), "1,000");
  EXPECT_EQ(WithThousands(1234567), "1,234,567");
}

}  // namespace
}  // namespace tide::ctl
