#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace tide::ctl {

// Progress of a long tidectl command, written to `out` (stderr): on a terminal one line redrawn
// in place at most every 200 ms ("[#####-----]  45%  1,234 events  812/s  ETA 2s"); otherwise
// (piped into a log or CI) a plain line every 10 s ("publish: 1,234 events, 45%, 812/s, ETA
// 2 s"). The fraction done comes from units the command knows the total of (bytes of an input
// file); without a total only the count and the rate are shown. Finish() writes the last line
// either way. Not thread-safe.
class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::string command;                  // "publish"
    std::string what = "events";          // what `count` counts
    std::optional<std::uint64_t> total;   // of the `done` units; nullopt: unknown
    bool tty = false;                     // redraw in place (see IsTerminal)
    std::chrono::milliseconds redraw{200};
    std::chrono::milliseconds plain_every{10000};
  };

  Progress(std::ostream& out, Options options, Clock::time_point start = Clock::now());

  // `done`: units of the total so far; `count`: items so far. Writes when a line is due.
  void Update(std::uint64_t done, std::uint64_t count, Clock::time_point now = Clock::now());
  void Finish(std::uint64_t count, Clock::time_point now = Clock::now());

  // The text of one line (no terminal control characters).
  std::string Line(std::uint64_t done, std::uint64_t count, Clock::time_point now, bool final) const;

  // Whether the file descriptor is a terminal that can redraw a line (not TERM=dumb).
  static bool IsTerminal(int fd);

 private:
  std::ostream& out_;
  const Options options_;
  const Clock::time_point start_;
  Clock::time_point last_;
  bool drawn_ = false;
};

// 1234567 -> "1,234,567".
std::string WithThousands(std::uint64_t n);

}  // namespace tide::ctl
