// The database most caad-status tests read: a handful of domains in every
// state, written through the daemon's own path by status_fixture.h's
// Fixture.
#pragma once

#include <cstdint>

#include "tests/unit/status_fixture.h"

namespace caad::status::testing {

inline constexpr std::int64_t k_hour = 3600;
inline constexpr std::int64_t k_days = 86400;

// The scenario most tests read, as of `now`:
//   shop.customer.test    renew_at now+2d1h; permitted 2 days ago, denied
//                         3 hours ago (digicert only at customer.test):
//                         regression + renewal_at_risk
//   api.customer.test     not_after now+40d (renewal now+10d by the default
//                         schedule); lookup failed 1 hour ago:
//                         lookup_failure + renewal_at_risk
//   *.customer.test       renew_at now+60d; denied 2 days ago: regression
//   ok.customer.test      renew_at now+5d; permitted 30 minutes ago
//   pinned.customer.test  no renewal date; pinned to t.provider.test, which
//                         allows letsencrypt; ca = [letsencrypt]
//   new.customer.test     never checked; ca = [digicert]
//   off.customer.test     disabled
//   t.provider.test       provider target, permitted 1 minute ago
//   daemon heartbeat 10 s ago. Outbox: 5 rows (route "ops"); the first
//   (*.customer.test's regression) delivered, the second (shop's
//   regression) dead, 3 pending.
inline void build_scenario(Fixture& f, UnixSeconds now) {
  f.add("shop.customer.test", now - 3 * k_days, now + 2 * k_days + k_hour);
  f.add("api.customer.test", now - 3 * k_days, std::nullopt, now + 40 * k_days);
  f.add("*.customer.test", now - 3 * k_days, now + 60 * k_days);
  f.add("ok.customer.test", now - 3 * k_days, now + 5 * k_days);
  f.add("pinned.customer.test", now - 3 * k_days, std::nullopt, std::nullopt, {"letsencrypt"});
  f.add("new.customer.test", now - 3 * k_days, std::nullopt, std::nullopt, {"digicert"});
  f.add("off.customer.test", now - 3 * k_days, std::nullopt, std::nullopt, {}, false);

  f.check("*.customer.test", Lookups::exposed("*.customer.test", {k_allows_digicert}),
          now - 2 * k_days);
  f.check("shop.customer.test", Lookups::exposed("shop.customer.test", {}), now - 2 * k_days);
  f.check("shop.customer.test", Lookups::exposed("shop.customer.test", {k_allows_digicert}),
          now - 3 * k_hour);
  f.check("api.customer.test", Lookups::failed("api.customer.test"), now - k_hour);
  f.check("ok.customer.test", Lookups::exposed("ok.customer.test", {}), now - 1800);
  f.check("pinned.customer.test", Lookups::pinned("pinned.customer.test", {k_allows_letsencrypt}),
          now - 1200);
  f.check_target(k_target, Lookups::own(k_target, {k_allows_letsencrypt, k_allows_digicert}),
                 now - 60);
  f.heartbeat(now - 10);
  f.set_outbox_state(1, "delivered", now - 2 * k_days + 5);
  f.set_outbox_state(2, "dead", now - 3 * k_hour);
}

}  // namespace caad::status::testing
