// Tests for lib/schedule: the cadence band at every boundary, past renewals,
// failure backoff and its caps, jitter bounds and spread, and the renewal
// time from renew_at or not_after.
#include "lib/schedule/schedule.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>

using namespace caad;

namespace {

constexpr UnixSeconds k_now = 1'800'000'000;
constexpr std::int64_t k_day = 86400;

// No jitter, so that the band and backoff arithmetic shows exactly.
config::ScheduleConfig steady() {
  config::ScheduleConfig s;
  s.jitter = 0;
  return s;
}

// A random value that makes the jitter factor exactly 1 (u = 0).
constexpr std::uint64_t k_middle = std::uint64_t{1} << 63;

store::DomainSpec spec(std::optional<UnixSeconds> not_after, std::optional<UnixSeconds> renew_at) {
  return store::DomainSpec{*dns::parse_domain("shop.example.com"), {}, not_after, renew_at, true};
}

// A simple, deterministic spread of 64-bit values (splitmix64).
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

TEST_CASE("the cadence follows the time left to renewal, at every boundary") {
  const config::ScheduleConfig s = steady();
  CHECK(schedule::interval(k_now, std::nullopt, s) == s.interval_far);

  CHECK(schedule::interval(k_now, k_now + s.window_near + 1, s) == s.interval_far);
  CHECK(schedule::interval(k_now, k_now + s.window_near, s) == s.interval_near);
  CHECK(schedule::interval(k_now, k_now + s.window_week + 1, s) == s.interval_near);
  CHECK(schedule::interval(k_now, k_now + s.window_week, s) == s.interval_week);
  CHECK(schedule::interval(k_now, k_now + s.window_day + 1, s) == s.interval_week);
  CHECK(schedule::interval(k_now, k_now + s.window_day, s) == s.interval_day);
  CHECK(schedule::interval(k_now, k_now + 1, s) == s.interval_day);
  CHECK(schedule::interval(k_now, k_now, s) == s.interval_day);

  // The defaults the daemon issue asks for.
  CHECK(s.interval_far == k_day);
  CHECK(s.interval_near == 6 * 3600);
  CHECK(s.interval_week == 3600);
  CHECK(s.interval_day == 15 * 60);
}

TEST_CASE("a renewal in the past keeps the tightest cadence") {
  const config::ScheduleConfig s = steady();
  CHECK(schedule::interval(k_now, k_now - 1, s) == s.interval_day);
  CHECK(schedule::interval(k_now, k_now - 400 * k_day, s) == s.interval_day);
  CHECK(schedule::next_check(k_now, k_now - 3 * k_day, 0, s, k_middle) == k_now + s.interval_day);
}

TEST_CASE("next_check without failures is now plus the cadence") {
  const config::ScheduleConfig s = steady();
  CHECK(schedule::next_check(k_now, std::nullopt, 0, s, k_middle) == k_now + s.interval_far);
  CHECK(schedule::next_check(k_now, k_now + 10 * k_day, 0, s, k_middle) == k_now + s.interval_near);
  // The random value does not matter when jitter is off.
  CHECK(schedule::next_check(k_now, k_now + 2 * k_day, 0, s, 0) == k_now + s.interval_week);
  CHECK(schedule::next_check(k_now, k_now + 2 * k_day, 0, s, ~std::uint64_t{0}) ==
        k_now + s.interval_week);
}

TEST_CASE("lookup failures back off by doubling, capped by failure_retry_max and by the cadence") {
  const config::ScheduleConfig s = steady();  // retry 5 min, cap 1 h
  auto wait = [&](int failures, std::optional<UnixSeconds> renewal) {
    return schedule::next_check(k_now, renewal, failures, s, k_middle) - k_now;
  };
  CHECK(wait(1, std::nullopt) == 300);
  CHECK(wait(2, std::nullopt) == 600);
  CHECK(wait(3, std::nullopt) == 1200);
  CHECK(wait(4, std::nullopt) == 2400);
  CHECK(wait(5, std::nullopt) == 3600);  // 4800 capped at failure_retry_max
  CHECK(wait(6, std::nullopt) == 3600);
  CHECK(wait(1000, std::nullopt) == 3600);
  CHECK(wait(std::numeric_limits<int>::max(), std::nullopt) == 3600);

  // Never later than the cadence: within a day of renewal, 15 minutes.
  CHECK(wait(1, k_now + 3600) == 300);
  CHECK(wait(2, k_now + 3600) == 600);
  CHECK(wait(3, k_now + 3600) == 900);
  CHECK(wait(10, k_now + 3600) == 900);

  // Zero or negative failure counts mean "no failure".
  CHECK(wait(0, std::nullopt) == s.interval_far);
  CHECK(wait(-3, std::nullopt) == s.interval_far);

  // An odd configuration: a cap below the first retry wins.
  config::ScheduleConfig odd = s;
  odd.failure_retry_min = 900;
  odd.failure_retry_max = 600;
  CHECK(schedule::next_check(k_now, std::nullopt, 1, odd, k_middle) == k_now + 600);
}

TEST_CASE("jitter stays within +/- the configured fraction") {
  config::ScheduleConfig s;  // jitter 0.1
  const std::int64_t base = s.interval_far;
  const std::int64_t low = std::llround(static_cast<double>(base) * (1 - s.jitter));
  const std::int64_t high = std::llround(static_cast<double>(base) * (1 + s.jitter));

  // The extremes of the random value.
  CHECK(schedule::next_check(k_now, std::nullopt, 0, s, 0) - k_now == low);
  CHECK(schedule::next_check(k_now, std::nullopt, 0, s, ~std::uint64_t{0}) - k_now ==
        high);  // rounds up to 1 + jitter
  CHECK(schedule::next_check(k_now, std::nullopt, 0, s, k_middle) - k_now == base);

  for (std::uint64_t i = 0; i < 10'000; ++i) {
    const std::int64_t w = schedule::next_check(k_now, std::nullopt, 0, s, mix(i)) - k_now;
    REQUIRE(w >= low);
    REQUIRE(w <= high);
    const std::int64_t f = schedule::next_check(k_now, std::nullopt, 3, s, mix(i)) - k_now;
    REQUIRE(f >= 1080);  // 1200 s retry, -10%
    REQUIRE(f <= 1320);
  }
}

TEST_CASE("jitter spreads domains checked in the same second") {
  config::ScheduleConfig s;
  std::set<UnixSeconds> times;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    times.insert(schedule::next_check(k_now, std::nullopt, 0, s, mix(i)));
  }
  // 1,000 values over a 17,280 s window: almost all distinct.
  CHECK(times.size() > 950);
  CHECK(*times.rbegin() - *times.begin() > 15'000);
}

TEST_CASE("the next check is at least one second away, whatever the configuration") {
  config::ScheduleConfig s;
  s.interval_far = 0;
  CHECK(schedule::next_check(k_now, std::nullopt, 0, s, 0) == k_now + 1);
  s.interval_far = 1;
  s.jitter = 1.0;
  CHECK(schedule::next_check(k_now, std::nullopt, 0, s, 0) == k_now + 1);
  s.jitter = 5.0;  // clamped to 1
  CHECK(schedule::next_check(k_now, std::nullopt, 0, s, 0) == k_now + 1);
  s.interval_far = 1000;
  s.jitter = -0.5;  // clamped to 0
  CHECK(schedule::next_check(k_now, std::nullopt, 0, s, 0) == k_now + 1000);
}

TEST_CASE("renewal_time: renew_at wins, else not_after minus the renewal lead, else unknown") {
  const config::ScheduleConfig s;  // 90 days, a third left
  const UnixSeconds not_after = k_now + 60 * k_day;
  CHECK(schedule::renewal_time(spec(not_after, std::nullopt), s) == not_after - 30 * k_day);
  CHECK(schedule::renewal_time(spec(not_after, k_now + 5 * k_day), s) == k_now + 5 * k_day);
  CHECK(schedule::renewal_time(spec(std::nullopt, k_now + 5 * k_day), s) == k_now + 5 * k_day);
  CHECK_FALSE(schedule::renewal_time(spec(std::nullopt, std::nullopt), s));

  // The lead is rounded to whole seconds.
  config::ScheduleConfig odd = s;
  odd.assumed_lifetime = 10;
  odd.renew_fraction = 0.25;  // 2.5 s
  CHECK(schedule::renewal_time(spec(1000, std::nullopt), odd) == 1000 - 3);

  // Together: a certificate expiring in 35 days renews in 5, so the cadence is hourly.
  config::ScheduleConfig st = steady();
  auto renewal = schedule::renewal_time(spec(k_now + 35 * k_day, std::nullopt), st);
  CHECK(schedule::next_check(k_now, renewal, 0, st, k_middle) == k_now + st.interval_week);
}
