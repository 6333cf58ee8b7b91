// Time as the lookup engine and the scheduler see it: a monotonic clock for
// timeouts and TTLs, injected so that tests drive time by hand.
#pragma once

#include <chrono>

namespace caad {

using Duration = std::chrono::milliseconds;
using Instant = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Instant now() const = 0;
};

// The real monotonic clock.
class SteadyClock final : public Clock {
 public:
  Instant now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

// A clock that moves only when told to; for tests.
class ManualClock final : public Clock {
 public:
  Instant now() const override { return m_now; }
  void advance(Duration d) { m_now += d; }

 private:
  Instant m_now{Duration{1'000'000}};
};

}  // namespace caad
