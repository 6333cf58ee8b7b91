// Wall-clock time: durations and RFC 3339 timestamps. Calendar arithmetic is
// done here with the proleptic Gregorian formulas (days from civil and back)
// instead of timegm/gmtime, so that results never depend on the process's time
// zone or on the C library's range for time_t, and so that the parser can say
// exactly which field of a timestamp is wrong.
#include "lib/util/time.h"

#include <array>
#include <chrono>
#include <cstddef>
#include <limits>
#include <string>

#include "lib/util/text.h"

namespace caad {
namespace {

constexpr std::int64_t k_minute = 60;
constexpr std::int64_t k_hour = 60 * k_minute;
constexpr std::int64_t k_day = 24 * k_hour;
constexpr std::int64_t k_week = 7 * k_day;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// The seconds in one unit of a duration, or 0 for a character that is not a
// unit. Only lower case: "6H" or "6M" would be ambiguous to some readers
// (months?), so they are refused rather than guessed.
std::int64_t unit_seconds(char c) {
  switch (c) {
    case 's':
      return 1;
    case 'm':
      return k_minute;
    case 'h':
      return k_hour;
    case 'd':
      return k_day;
    case 'w':
      return k_week;
    default:
      return 0;
  }
}

Unexpected<Error> duration_error(std::string_view text, std::string_view why) {
  return fail(text::quote(text) + " is not a duration: " + std::string(why));
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil). Valid for every year an int64 day count can hold.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);                 // [0, 399]
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

// The inverse of days_from_civil.
CivilDate civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);                    // [0, 146096]
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const unsigned mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;                             // [1, 31]
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;                                // [1, 12]
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
  return {y, m, d};
}

bool is_leap_year(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> k_days = {31, 28, 31, 30, 31, 30,
                                                      31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap_year(y) ? 29 : k_days[m - 1];
}

// Reads exactly `count` decimal digits at `pos`; false when any is missing.
bool read_digits(std::string_view s, std::size_t pos, std::size_t count, unsigned& out) {
  if (pos + count > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (!is_digit(s[i])) return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  out = v;
  return true;
}

std::string two_digits(std::int64_t v) {
  std::string s = std::to_string(v);
  return s.size() < 2 ? "0" + s : s;
}

class TimestampParser {
 public:
  explicit TimestampParser(std::string_view text) : m_text(text) {}

  Result<UnixSeconds> parse() {
    unsigned year = 0, month = 0, day = 0;
    if (!read_digits(m_text, 0, 4, year) || !at(4, '-') || !read_digits(m_text, 5, 2, month) ||
        !at(7, '-') || !read_digits(m_text, 8, 2, day)) {
      return shape_error();
    }
    if (month < 1 || month > 12) return error("there is no month " + two_digits(month));
    if (day < 1 || day > days_in_month(year, month)) {
      return error(std::to_string(year) + "-" + two_digits(month) + " has " +
                   std::to_string(days_in_month(year, month)) + " days");
    }
    const std::int64_t days = days_from_civil(year, month, day);
    if (m_text.size() == 10) return days * k_day;

    // RFC 3339 §5.6 allows a space for readability and lower-case t/z.
    if (!at(10, 'T') && !at(10, 't') && !at(10, ' ')) return shape_error();
    unsigned hour = 0, minute = 0, second = 0;
    if (!read_digits(m_text, 11, 2, hour) || !at(13, ':') || !read_digits(m_text, 14, 2, minute)) {
      return shape_error();
    }
    if (!at(16, ':') || !read_digits(m_text, 17, 2, second)) {
      return error("the time needs seconds, like 23:59:00");
    }
    if (hour > 23) return error("there is no hour " + two_digits(hour));
    if (minute > 59) return error("there is no minute " + two_digits(minute));
    // 60 is a leap second (RFC 3339 allows it); Unix time has none, so it
    // counts as the first second of the next minute, as timegm() does.
    if (second > 60) return error("there is no second " + two_digits(second));

    std::size_t pos = 19;
    if (at(pos, '.')) {
      // Fractional seconds are dropped: caad keeps whole seconds.
      std::size_t digits = 0;
      for (++pos; pos < m_text.size() && is_digit(m_text[pos]); ++pos) ++digits;
      if (digits == 0) return error("a '.' after the seconds needs digits");
    }

    std::int64_t offset = 0;
    if (pos >= m_text.size()) return error("it needs a time zone, like Z or +02:00");
    if (at(pos, 'Z') || at(pos, 'z')) {
      ++pos;
    } else if (at(pos, '+') || at(pos, '-')) {
      const bool east = at(pos, '+');
      unsigned off_hour = 0, off_minute = 0;
      if (!read_digits(m_text, pos + 1, 2, off_hour) || !at(pos + 3, ':') ||
          !read_digits(m_text, pos + 4, 2, off_minute)) {
        return error("the time zone offset must look like +02:00 or -05:30");
      }
      if (off_hour > 23 || off_minute > 59) return error("the time zone offset is out of range");
      // A local time east of UTC is ahead of it: subtract to get UTC.
      offset = (east ? 1 : -1) * (off_hour * k_hour + off_minute * k_minute);
      pos += 6;
    } else {
      return error("expected Z or an offset like +02:00 after the time");
    }
    if (pos != m_text.size()) return error("unexpected text after the time zone");

    return days * k_day + hour * k_hour + minute * k_minute + second - offset;
  }

 private:
  bool at(std::size_t pos, char c) const { return pos < m_text.size() && m_text[pos] == c; }

  Unexpected<Error> error(const std::string& why) const {
    return fail(text::quote(m_text) + " is not a timestamp: " + why);
  }
  Unexpected<Error> shape_error() const {
    return error("expected RFC 3339 like 2026-12-31T23:59:59Z, or a date like 2026-12-31");
  }

  std::string_view m_text;
};

}  // namespace

UnixSeconds unix_now() {
  // Since C++20 system_clock's epoch is the Unix epoch, so no conversion is needed.
  const auto now = std::chrono::system_clock::now();
  return std::chrono::floor<std::chrono::seconds>(now.time_since_epoch()).count();
}

Result<std::int64_t> parse_duration_seconds(std::string_view text) {
  static constexpr std::string_view k_shape =
      "expected a whole number and one unit (s, m, h, d or w), like 90s, 15m, 6h, 30d or 2w";
  if (text.empty()) return duration_error(text, "it is empty; " + std::string(k_shape));

  std::size_t pos = 0;
  std::int64_t number = 0;
  bool too_large = false;
  for (; pos < text.size() && is_digit(text[pos]); ++pos) {
    const int digit = text[pos] - '0';
    if (number > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
      too_large = true;
    } else {
      number = number * 10 + digit;
    }
  }
  if (pos == 0) return duration_error(text, k_shape);
  if (pos == text.size()) {
    return duration_error(text, "the number needs a unit (s, m, h, d or w), like 15m");
  }
  if (pos + 1 != text.size()) return duration_error(text, k_shape);
  const std::int64_t unit = unit_seconds(text[pos]);
  if (unit == 0) {
    return duration_error(text, "the unit must be one of s, m, h, d or w (lower case)");
  }
  if (number == 0 && !too_large) return duration_error(text, "it must be longer than zero");
  if (too_large || number > std::numeric_limits<std::int64_t>::max() / unit) {
    return duration_error(text, "it is too large");
  }
  return number * unit;
}

std::string format_duration(std::int64_t seconds) {
  // The magnitude as unsigned, so that the most negative value has one.
  auto rest = static_cast<std::uint64_t>(seconds);
  std::string out;
  if (seconds < 0) {
    out = "-";
    rest = ~rest + 1;
  }
  struct Unit {
    std::uint64_t seconds;
    char suffix;
  };
  static constexpr std::array<Unit, 4> k_units = {{{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}};
  // The largest unit and, when it is not zero, the one after it: "1d 1h"
  // rather than "1d 1h 1m 1s". Smaller parts are dropped (not rounded), which
  // keeps the form short enough for log lines; weeks are not used because
  // "30d" reads better than "4w 2d".
  for (std::size_t i = 0; i < k_units.size(); ++i) {
    const std::uint64_t count = rest / k_units[i].seconds;
    if (count == 0 && i + 1 < k_units.size()) continue;
    out += std::to_string(count) + k_units[i].suffix;
    if (i + 1 < k_units.size()) {
      const std::uint64_t next = rest % k_units[i].seconds / k_units[i + 1].seconds;
      if (next != 0) out += " " + std::to_string(next) + k_units[i + 1].suffix;
    }
    break;
  }
  return out;
}

Result<UnixSeconds> parse_timestamp(std::string_view text) {
  return TimestampParser(text).parse();
}

std::string format_timestamp(UnixSeconds t) {
  // Floor division, so that times before 1970 land on the right day.
  std::int64_t days = t / k_day;
  std::int64_t secs = t % k_day;
  if (secs < 0) {
    secs += k_day;
    --days;
  }
  const CivilDate date = civil_from_days(days);
  std::string year = std::to_string(date.year);
  if (date.year >= 0 && year.size() < 4) year.insert(0, 4 - year.size(), '0');
  return year + "-" + two_digits(date.month) + "-" + two_digits(date.day) + "T" +
         two_digits(secs / k_hour) + ":" + two_digits(secs % k_hour / k_minute) + ":" +
         two_digits(secs % k_minute) + "Z";
}

}  // namespace caad
