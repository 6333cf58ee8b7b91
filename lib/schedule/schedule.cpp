// The schedule policy: how often to check a domain, from how close its
// renewal is and whether its last lookup failed.
//
// The cadence bands count back from the renewal (far, near, week, day). A
// renewal in the past keeps the tightest band: either the provider's ACME
// client is retrying right now or the certificate is about to lapse, and in
// both cases a changed CAA record matters most. Failure backoff only ever
// shortens the wait, because a lookup failure is itself a reason the CA would
// refuse. Jitter multiplies the wait by a factor in [1 - jitter, 1 + jitter),
// picked from an injected random value so that tests are deterministic and
// a million domains imported in the same second spread out over time.
#include "lib/schedule/schedule.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace caad::schedule {
namespace {

// Nobody is checked again within the same second: a zero or negative wait
// (possible with jitter near 1) would make the daemon spin on one domain.
constexpr std::int64_t k_min_wait = 1;

// A value in [-1, 1) from 53 of the random bits (a double holds 53).
double unit_interval_signed(std::uint64_t random) {
  const double u = static_cast<double>(random >> 11) * 0x1.0p-53;  // [0, 1)
  return 2.0 * u - 1.0;
}

std::int64_t failure_wait(int consecutive_failures, const config::ScheduleConfig& s) {
  const std::int64_t cap = std::max<std::int64_t>(s.failure_retry_max, k_min_wait);
  std::int64_t wait = std::clamp<std::int64_t>(s.failure_retry_min, k_min_wait, cap);
  // Doubling stops at the cap, so the loop is short and never overflows.
  for (int i = 1; i < consecutive_failures && wait < cap; ++i) {
    wait = wait > cap / 2 ? cap : wait * 2;
  }
  return wait;
}

}  // namespace

std::optional<UnixSeconds> renewal_time(const store::DomainSpec& d,
                                        const config::ScheduleConfig& s) {
  if (d.renew_at) return d.renew_at;
  if (d.not_after) {
    const double lead = s.renew_fraction * static_cast<double>(s.assumed_lifetime);
    return *d.not_after - static_cast<std::int64_t>(std::llround(lead));
  }
  return std::nullopt;
}

std::int64_t interval(UnixSeconds now, std::optional<UnixSeconds> renewal,
                      const config::ScheduleConfig& s) {
  if (!renewal) return s.interval_far;
  const std::int64_t left = *renewal - now;
  if (left > s.window_near) return s.interval_far;
  if (left > s.window_week) return s.interval_near;
  if (left > s.window_day) return s.interval_week;
  return s.interval_day;
}

UnixSeconds next_check(UnixSeconds now, std::optional<UnixSeconds> renewal,
                       int consecutive_failures, const config::ScheduleConfig& s,
                       std::uint64_t random) {
  std::int64_t wait = interval(now, renewal, s);
  if (consecutive_failures > 0) wait = std::min(failure_wait(consecutive_failures, s), wait);

  const double jitter = std::clamp(s.jitter, 0.0, 1.0);
  const double factor = 1.0 + jitter * unit_interval_signed(random);
  const double jittered = std::round(static_cast<double>(wait) * factor);
  // The factor is at most 2, so the product fits whenever `wait` does; the
  // comparison guards against a configured interval near the int64 limit.
  const std::int64_t bounded =
      jittered >= 0x1.0p62 ? (std::int64_t{1} << 62) : static_cast<std::int64_t>(jittered);
  return now + std::max(bounded, k_min_wait);
}

}  // namespace caad::schedule
