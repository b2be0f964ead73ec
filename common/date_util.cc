#include "common/date_util.h"

namespace tide {
namespace {

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, std::size_t at, std::size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<std::int64_t> ParseDateMillis(std::string_view s) {
  int year = 0, month = 0, day = 0;
  if (!Digits(s, 0, 4, &year) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &month) || s[7] != '-' ||
      !Digits(s, 8, 2, &day)) {
    return std::nullopt;
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDays[month - 1] + (month == 2 && leap ? 1 : 0)) {
    return std::nullopt;
  }
  std::int64_t ms = DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * 86400000;
  if (s.size() == 10) return ms;
  int hour = 0, minute = 0, second = 0;
  if (s[10] != 'T' || !Digits(s, 11, 2, &hour) || s.size() < 19 || s[13] != ':' || !Digits(s, 14, 2, &minute) ||
      s[16] != ':' || !Digits(s, 17, 2, &second) || hour > 23 || minute > 59 || second > 59) {
    return std::nullopt;
  }
  ms += (hour * 3600 + minute * 60 + second) * 1000LL;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    std::size_t digits = 0;
    std::int64_t fraction = 0;
    for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits) {
      if (digits < 3) fraction = fraction * 10 + (s[i] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (std::size_t d = digits; d < 3; ++d) fraction *= 10;
    ms += fraction;
  }
  if (i == s.size()) return std::nullopt;  // a time needs a zone
  if (s[i] == 'Z' && i + 1 == s.size()) return ms;
  if (s[i] != '+' && s[i] != '-') return std::nullopt;
  const int sign = s[i] == '+' ? 1 : -1;
  int oh = 0, om = 0;
  if (!Digits(s, i + 1, 2, &oh)) return std::nullopt;
  std::size_t j = i + 3;
  if (j < s.size() && s[j] == ':') ++j;
  if (!Digits(s, j, 2, &om) || j + 2 != s.size() || oh > 23 || om > 59) return std::nullopt;
  return ms - sign * (oh * 3600 + om * 60) * 1000LL;
}

}  // namespace tide
