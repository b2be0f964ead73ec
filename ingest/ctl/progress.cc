#include "ingest/ctl/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <vector>

namespace tide::ctl {

std::string WithThousands(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

Progress::Progress(std::ostream& out, Options options, Clock::time_point start)
    : out_(out), options_(std::move(options)), start_(start), last_(start) {}

bool Progress::IsTerminal(int fd) {
  const char* term = std::getenv("TERM");
  return ::isatty(fd) == 1 && (term == nullptr || std::strcmp(term, "dumb") != 0);
}

std::string Progress::Line(std::uint64_t done, std::uint64_t count, Clock::time_point now, bool final) const {
  const double seconds = std::chrono::duration<double>(now - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(count) / seconds : 0;
  std::optional<double> fraction;
  if (options_.total && *options_.total > 0) {
    fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(*options_.total));
  }
  std::vector<std::string> parts;
  parts.push_back(WithThousands(count) + " " + options_.what);
  if (fraction) parts.push_back(std::to_string(static_cast<int>(std::floor(*fraction * 100))) + "%");
  parts.push_back(WithThousands(static_cast<std::uint64_t>(std::llround(rate))) + "/s");
  if (final) {
    char took[32];
    std::snprintf(took, sizeof took, "in %.1f s", seconds);
    parts.push_back(took);
  } else if (fraction && *fraction > 0) {
    const double left = seconds * (1 - *fraction) / *fraction;
    parts.push_back("ETA " + std::to_string(static_cast<long long>(std::ceil(left))) + " s");
  }
  std::string line;
  if (options_.tty) {
    if (fraction) {
      const int width = 24;
      const int filled = static_cast<int>(std::floor(*fraction * width));
      line = "[" + std::string(filled, '#') + std::string(width - filled, '-') + "]";
    }
    for (const std::string& p : parts) line += (line.empty() ? "" : "  ") + p;
    return line;
  }
  line = options_.command + ":";
  for (std::size_t i = 0; i < parts.size(); ++i) line += (i == 0 ? " " : ", ") + parts[i];
  return line;
}

void Progress::Update(std::uint64_t done, std::uint64_t count, Clock::time_point now) {
  const auto every = options_.tty ? options_.redraw : options_.plain_every;
  if (now - last_ < every) return;
  last_ = now;
  if (options_.tty) {
    out_ << "\r\033[K" << Line(done, count, now, false) << std::flush;
    drawn_ = true;
  } else {
    out_ << Line(done, count, now, false) << '\n' << std::flush;
  }
}

void Progress::Finish(std::uint64_t count, Clock::time_point now) {
  const std::uint64_t done = options_.total.value_or(0);
  if (options_.tty) out_ << (drawn_ ? "\r\033[K" : "");
  out_ << Line(done, count, now, true) << '\n' << std::flush;
}

}  // namespace tide::ctl
