// Tests for lib/util/time: durations ("6h") and RFC 3339 timestamps as users
// write them in configuration and import files, and their formatted forms.
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "lib/util/time.h"

using caad::format_duration;
using caad::format_timestamp;
using caad::parse_duration_seconds;
using caad::parse_timestamp;
using caad::UnixSeconds;

TEST_CASE("durations with one unit parse to seconds") {
  struct Case {
    std::string text;
    std::int64_t want;
  };
  const std::vector<Case> cases = {
      {"1s", 1},
      {"90s", 90},
      {"15m", 900},
      {"6h", 21600},
      {"30d", 2592000},
      {"2w", 1209600},
      {"007m", 420},  // leading zeros change nothing
      {"9223372036854775807s", std::numeric_limits<std::int64_t>::max()},
      {"15250284452471w", 15250284452471LL * 604800},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto got = parse_duration_seconds(c.text);
    REQUIRE(got.has_value());
    CHECK(*got == c.want);
  }
}

TEST_CASE("malformed durations are rejected with the input quoted") {
  const std::string shape =
      " is not a duration: expected a whole number and one unit (s, m, h, d or w), like 90s, 15m, "
      "6h, 30d or 2w";
  struct Case {
    std::string text;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"",
       "\"\" is not a duration: it is empty; expected a whole number and one unit (s, m, h, d "
       "or w), like 90s, 15m, 6h, 30d or 2w"},
      {"0h", "\"0h\" is not a duration: it must be longer than zero"},
      {"000s", "\"000s\" is not a duration: it must be longer than zero"},
      {"-5m", "\"-5m\"" + shape},
      {"+5m", "\"+5m\"" + shape},
      {"1.5h", "\"1.5h\"" + shape},
      {"6 h", "\"6 h\"" + shape},
      {" 6h", "\" 6h\"" + shape},
      {"6h ", "\"6h \"" + shape},
      {"1h30m", "\"1h30m\"" + shape},
      {"h", "\"h\"" + shape},
      {"6hours", "\"6hours\"" + shape},
      {"6H", "\"6H\" is not a duration: the unit must be one of s, m, h, d or w (lower case)"},
      {"6M", "\"6M\" is not a duration: the unit must be one of s, m, h, d or w (lower case)"},
      {"6y", "\"6y\" is not a duration: the unit must be one of s, m, h, d or w (lower case)"},
      {"15", "\"15\" is not a duration: the number needs a unit (s, m, h, d or w), like 15m"},
      {"9223372036854775808s", "\"9223372036854775808s\" is not a duration: it is too large"},
      {"15250284452472w", "\"15250284452472w\" is not a duration: it is too large"},
      {"99999999999999999999999999h",
       "\"99999999999999999999999999h\" is not a duration: it is too large"},
      {"6\nh", "\"6\\nh\"" + shape},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto got = parse_duration_seconds(c.text);
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().message == c.want);
  }
}

TEST_CASE("durations format with at most two units, largest first") {
  struct Case {
    std::int64_t seconds;
    std::string want;
  };
  const std::vector<Case> cases = {
      {0, "0s"},
      {45, "45s"},
      {90, "1m 30s"},
      {900, "15m"},
      {3600, "1h"},
      {3660, "1h 1m"},
      {3601, "1h"},  // seconds below the second unit are dropped
      {21600, "6h"},
      {86400, "1d"},
      {90000, "1d 1h"},
      {90061, "1d 1h"},
      {86460, "1d"},
      {2592000, "30d"},
      {1209600, "14d"},
      {-90, "-1m 30s"},
      {std::numeric_limits<std::int64_t>::max(), "106751991167300d 15h"},
      {std::numeric_limits<std::int64_t>::min(), "-106751991167300d 15h"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.seconds);
    CHECK(format_duration(c.seconds) == c.want);
  }
}

TEST_CASE("single-unit durations survive format and parse") {
  for (const std::string text : {"45s", "15m", "6h", "30d"}) {
    auto seconds = parse_duration_seconds(text);
    REQUIRE(seconds.has_value());
    CHECK(format_duration(*seconds) == text);
  }
}

TEST_CASE("RFC 3339 timestamps and dates parse to Unix seconds") {
  struct Case {
    std::string text;
    UnixSeconds want;
  };
  const std::vector<Case> cases = {
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01", 0},
      {"1969-12-31T23:59:59Z", -1},
      {"1970-01-01T01:00:00+01:00", 0},
      {"1969-12-31T19:00:00-05:00", 0},
      {"1970-01-01T00:00:00-00:00", 0},  // RFC 3339 §4.3: UTC, local offset unknown
      {"2026-12-31T23:59:59Z", 1798761599},
      {"2026-12-31T23:59:59z", 1798761599},
      {"2026-12-31t23:59:59Z", 1798761599},
      {"2026-12-31 23:59:59Z", 1798761599},
      {"2026-12-31T23:59:59+02:00", 1798754399},
      {"2026-12-31T21:29:59-00:30", 1798754399},
      {"2026-12-31T23:59:59.999Z", 1798761599},  // fractions are dropped, not rounded
      {"2026-12-31T23:59:59.5+02:00", 1798754399},
      {"2026-12-31T23:59:59.000000001Z", 1798761599},
      {"2026-12-31T23:59:60Z", 1798761600},  // a leap second counts as the next second
      {"2024-06-01T12:34:56Z", 1717245296},
      {"2028-02-29", 1835395200},
      {"2028-02-29T00:00:00Z", 1835395200},
      {"2000-02-29T12:00:00Z", 951825600},
      {"1900-03-01", -2203891200},
      {"9999-12-31T23:59:59Z", 253402300799},
      {"0000-01-01", -62167219200},
      {"2026-01-01T00:00:00+23:59", 1767225600 - 23 * 3600 - 59 * 60},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto got = parse_timestamp(c.text);
    REQUIRE(got.has_value());
    CHECK(*got == c.want);
  }
}

TEST_CASE("malformed or impossible timestamps are rejected with the reason") {
  const std::string shape =
      " is not a timestamp: expected RFC 3339 like 2026-12-31T23:59:59Z, or a date like 2026-12-31";
  struct Case {
    std::string text;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"", "\"\"" + shape},
      {"2026", "\"2026\"" + shape},
      {"2026-1-01", "\"2026-1-01\"" + shape},
      {"2026/01/01", "\"2026/01/01\"" + shape},
      {"26-01-01", "\"26-01-01\"" + shape},
      {" 2026-01-01", "\" 2026-01-01\"" + shape},
      {"12026-01-01", "\"12026-01-01\"" + shape},
      {"2026-01-01x", "\"2026-01-01x\"" + shape},
      {"2026-01-01T", "\"2026-01-01T\"" + shape},
      {"2026-01-01T1:00:00Z", "\"2026-01-01T1:00:00Z\"" + shape},
      {"2026-01-01_10:00:00Z", "\"2026-01-01_10:00:00Z\"" + shape},
      {"2027-02-29", "\"2027-02-29\" is not a timestamp: 2027-02 has 28 days"},
      {"2100-02-29", "\"2100-02-29\" is not a timestamp: 2100-02 has 28 days"},
      {"2026-04-31", "\"2026-04-31\" is not a timestamp: 2026-04 has 30 days"},
      {"2026-01-00", "\"2026-01-00\" is not a timestamp: 2026-01 has 31 days"},
      {"2026-13-01", "\"2026-13-01\" is not a timestamp: there is no month 13"},
      {"2026-00-01", "\"2026-00-01\" is not a timestamp: there is no month 00"},
      {"2026-01-01T24:00:00Z", "\"2026-01-01T24:00:00Z\" is not a timestamp: there is no hour 24"},
      {"2026-01-01T23:60:00Z",
       "\"2026-01-01T23:60:00Z\" is not a timestamp: there is no minute 60"},
      {"2026-01-01T23:59:61Z",
       "\"2026-01-01T23:59:61Z\" is not a timestamp: there is no second 61"},
      {"2026-01-01T10:00Z",
       "\"2026-01-01T10:00Z\" is not a timestamp: the time needs seconds, like 23:59:00"},
      {"2026-01-01T10:00:00",
       "\"2026-01-01T10:00:00\" is not a timestamp: it needs a time zone, like Z or +02:00"},
      {"2026-01-01T10:00:00.Z",
       "\"2026-01-01T10:00:00.Z\" is not a timestamp: a '.' after the seconds needs digits"},
      {"2026-01-01T10:00:00+0200",
       "\"2026-01-01T10:00:00+0200\" is not a timestamp: the time zone offset must look like "
       "+02:00 or -05:30"},
      {"2026-01-01T10:00:00+2:00",
       "\"2026-01-01T10:00:00+2:00\" is not a timestamp: the time zone offset must look like "
       "+02:00 or -05:30"},
      {"2026-01-01T10:00:00+24:00",
       "\"2026-01-01T10:00:00+24:00\" is not a timestamp: the time zone offset is out of range"},
      {"2026-01-01T10:00:00+02:60",
       "\"2026-01-01T10:00:00+02:60\" is not a timestamp: the time zone offset is out of range"},
      {"2026-01-01T10:00:00 UTC",
       "\"2026-01-01T10:00:00 UTC\" is not a timestamp: expected Z or an offset like +02:00 after "
       "the time"},
      {"2026-01-01T10:00:00ZZ",
       "\"2026-01-01T10:00:00ZZ\" is not a timestamp: unexpected text after the time zone"},
      {"2026-01-01T10:00:00+02:00 ",
       "\"2026-01-01T10:00:00+02:00 \" is not a timestamp: unexpected text after the time zone"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto got = parse_timestamp(c.text);
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().message == c.want);
  }
}

TEST_CASE("timestamps format as RFC 3339 in UTC") {
  struct Case {
    UnixSeconds t;
    std::string want;
  };
  const std::vector<Case> cases = {
      {0, "1970-01-01T00:00:00Z"},
      {-1, "1969-12-31T23:59:59Z"},
      {1798761599, "2026-12-31T23:59:59Z"},
      {1835395200, "2028-02-29T00:00:00Z"},
      {951825600, "2000-02-29T12:00:00Z"},
      {253402300799, "9999-12-31T23:59:59Z"},
      {-62167219200, "0000-01-01T00:00:00Z"},
      {-2203891200, "1900-03-01T00:00:00Z"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.t);
    CHECK(format_timestamp(c.t) == c.want);
    auto back = parse_timestamp(c.want);
    REQUIRE(back.has_value());
    CHECK(*back == c.t);
  }
  // Far outside the four-digit years the result is still well-defined text.
  CHECK_FALSE(format_timestamp(std::numeric_limits<UnixSeconds>::max()).empty());
  CHECK_FALSE(format_timestamp(std::numeric_limits<UnixSeconds>::min()).empty());
}

TEST_CASE("every day of a leap and a common year round-trips") {
  for (const UnixSeconds start :
       {UnixSeconds{1704067200}, UnixSeconds{1735689600}}) {  // 2024, 2025
    for (UnixSeconds day = 0; day < 366; ++day) {
      const UnixSeconds t = start + day * 86400 + 12 * 3600 + 34 * 60 + 56;
      const std::string text = format_timestamp(t);
      CAPTURE(text);
      auto back = parse_timestamp(text);
      REQUIRE(back.has_value());
      CHECK(*back == t);
      auto date = parse_timestamp(text.substr(0, 10));
      REQUIRE(date.has_value());
      CHECK(*date == t - (12 * 3600 + 34 * 60 + 56));
    }
  }
}

TEST_CASE("unix_now is the system clock in whole seconds") {
  const UnixSeconds now = caad::unix_now();
  CHECK(now > 1700000000);    // after 2023-11
  CHECK(now < 253402300799);  // before year 10000
}
