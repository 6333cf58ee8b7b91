// When to check a domain next: dense near its renewal, sparse far from it,
// sooner (with backoff) after a lookup failure, with jitter so that a million
// domains added at once do not fall due in the same second. Pure functions.
#pragma once

#include <cstdint>
#include <optional>

#include "lib/config/config.h"
#include "lib/store/types.h"

namespace caad::schedule {

// When the provider's ACME client will next renew: renew_at when known,
// else not_after minus renew_fraction of assumed_lifetime; nullopt when
// neither is known.
std::optional<UnixSeconds> renewal_time(const store::DomainSpec& d, const config::ScheduleConfig& s);

// The cadence for a domain whose renewal is at `renewal` (unknown: the far
// cadence; past: the tightest).
std::int64_t interval(UnixSeconds now, std::optional<UnixSeconds> renewal, const config::ScheduleConfig& s);

// The next check time after a check at `now`. `consecutive_failures` > 0
// means the last check was lookup_failed: retry after failure_retry_min,
// doubling per failure up to failure_retry_max, never later than the cadence.
// `random` is a uniformly random 64-bit value (injected for tests) that picks
// the jitter.
UnixSeconds next_check(UnixSeconds now, std::optional<UnixSeconds> renewal, int consecutive_failures,
                       const config::ScheduleConfig& s, std::uint64_t random);

}  // namespace caad::schedule
